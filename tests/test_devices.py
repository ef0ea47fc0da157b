"""``longroll.devices.on_device``: host values as a device tensor, copied without waiting."""

import pytest
import torch


def test_on_device_holds_the_values_in_the_dtype_asked():
    from longroll.devices import on_device

    t = on_device([3, 1, 2], "cpu")
    assert t.dtype == torch.long and t.tolist() == [3, 1, 2]
    f = on_device([0.25, 0.5], torch.device("cpu"), torch.bfloat16)
    assert f.dtype == torch.bfloat16 and torch.equal(f, torch.tensor([0.25, 0.5], dtype=torch.bfloat16))
    assert on_device([], "cpu").numel() == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the asynchronous copy needs a CUDA device")
def test_on_device_does_not_synchronise_with_the_gpu():
    from longroll.devices import on_device

    torch.cuda.set_sync_debug_mode("error")  # a synchronising call raises
    try:
        t = on_device(list(range(8)), "cuda")
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert t.device.type == "cuda" and t.cpu().tolist() == list(range(8))
