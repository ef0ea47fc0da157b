"""Small tensors of host values (slots, frame indices, noise levels) put on a device without
making the host wait for it.

``torch.tensor(values, device="cuda")`` copies synchronously: the host waits until every kernel
already queued on the stream has run, so the GPU runs dry while the host then queues the next ones.
Built on the host and copied with ``non_blocking=True`` instead, the copy is queued like a kernel
(from pageable memory the values are staged at once, so the host list may go away; no device
synchronisation is performed). The cache's bookkeeping and the schedules' per-forward levels use
this; ``bench/bench_syncs.py`` counts what synchronisations are left on a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def on_device(values: Sequence, device: torch.device | str, dtype: torch.dtype = torch.long) -> torch.Tensor:
    """``values`` as a tensor of ``dtype`` on ``device``, copied without waiting for the device."""
    device = torch.device(device)
    t = torch.tensor(values, dtype=dtype)
    return t if device.type == "cpu" else t.to(device, non_blocking=True)


__all__ = ["on_device"]
