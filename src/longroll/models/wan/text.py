"""The UMT5 text encoder of Wan2.1 through ``transformers``, from a local directory.

Prompts are encoded as Wan's pipelines do: tokenised to ``max_length`` (512) tokens, encoded with
the attention mask, the states past each prompt's length zeroed, so every prompt is ``(1, 512,
text_dim)``. The encoder loads in bf16 on GPU (the released weights are bf16) and fp32 on CPU.

On an accelerator the encoder is *offloaded* by default: its weights (UMT5-XXL: about 11 GB in bf16)
wait in host memory and visit the device only while a prompt is encoded (a plan's prompts before the
rollout, a live switch during it), so the transformer, its cache and the VAE have the device to
themselves. Where host memory allows, the waiting weights are pinned, so the visit is one fast copy.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

MAX_TEXT_TOKENS = 512  # Wan2.1's text length


def _model_type(config: Path) -> str | None:
    try:
        return json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError):
        return None


class UMT5TextEncoder:
    """Tokeniser + UMT5 encoder; ``__call__(prompt) -> (1, max_length, text_dim)``."""

    def __init__(self, tokenizer, encoder, *, max_length: int = MAX_TEXT_TOKENS, device=None,
                 offload: bool | None = None) -> None:
        """``device``: where prompts are encoded (None: where the encoder is); ``offload``: keep the weights
        in host memory between prompts (None: on an accelerator, yes)."""
        self.tokenizer, self.encoder, self.max_length = tokenizer, encoder, max_length
        self.device = torch.device(device) if device is not None else next(encoder.parameters()).device
        self.offload = self.device.type != "cpu" if offload is None else offload
        self._host: dict[str, torch.Tensor] | None = None  # the weights' host copies, when offloaded
        self._home()

    def _tensors(self):
        return [*self.encoder.named_parameters(), *self.encoder.named_buffers()]

    def _home(self) -> None:
        """Where the weights wait: host memory (pinned where possible) when offloaded, else the device.
        Encoding does not change them, so coming home drops the device copies and points the module at
        the host copies kept from the start: nothing is copied back."""
        if not self.offload:
            self.encoder.to(self.device)
            return
        if self._host is None:
            self.encoder.to("cpu")
            if self.device.type == "cuda":
                try:
                    for _, t in self._tensors():
                        t.data = t.data.pin_memory()
                except RuntimeError:  # not enough page-locked memory: pageable copies, slower but the same
                    pass
            self._host = {name: t.data for name, t in self._tensors()}
            return
        for name, t in self._tensors():
            t.data = self._host[name]

    @property
    def resident_device(self) -> torch.device:
        """Where the weights are now."""
        return next(self.encoder.parameters()).device

    @classmethod
    def from_directory(cls, path: str | Path, *, device="cpu", dtype: torch.dtype | None = None,
                       max_length: int = MAX_TEXT_TOKENS, offload: bool | None = None) -> UMT5TextEncoder:
        """From a diffusers-layout Wan directory (``text_encoder/`` and ``tokenizer/``) or from one
        directory holding both. ``device``: where prompts are encoded; ``offload``: see the module."""
        from transformers import AutoTokenizer, UMT5EncoderModel

        path = Path(path)
        enc_dir = path / "text_encoder" if (path / "text_encoder").is_dir() else path
        tok_dir = path / "tokenizer" if (path / "tokenizer").is_dir() else path
        if _model_type(enc_dir / "config.json") not in ("umt5", "t5"):
            raise ValueError(f"{path} has no UMT5 encoder in transformers layout (expected text_encoder/config.json "
                             "with model_type umt5, as in Wan-AI/Wan2.1-T2V-1.3B-Diffusers). The original Wan .pth "
                             "text encoder is not read; use the diffusers-layout directory.")
        if dtype is None:
            dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
        encoder = UMT5EncoderModel.from_pretrained(str(enc_dir), torch_dtype=dtype, local_files_only=True)
        return cls(tokenizer, encoder.eval(), max_length=max_length, device=device, offload=offload)

    @property
    def text_dim(self) -> int:
        return self.encoder.config.d_model

    @torch.no_grad()
    def __call__(self, prompt: str) -> torch.Tensor:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"A prompt must be a non-empty string, got {prompt!r}.")
        tokens = self.tokenizer([prompt], padding="max_length", max_length=self.max_length, truncation=True,
                                add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        if self.offload:
            self.encoder.to(self.device, non_blocking=True)  # the visit
        try:
            ids, mask = tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device)
            states = self.encoder(ids, attention_mask=mask).last_hidden_state  # (1, L, text_dim)
            length = int(mask.sum())
            states[:, length:] = 0  # Wan zeroes the padding states
            return states.float()
        finally:
            if self.offload:
                self._home()


__all__ = ["MAX_TEXT_TOKENS", "UMT5TextEncoder"]
