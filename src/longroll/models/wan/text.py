"""The UMT5 text encoder of Wan2.1 through ``transformers``, from a local directory.

Prompts are encoded as Wan's pipelines do: tokenised to ``max_length`` (512) tokens, encoded with
the attention mask, the states past each prompt's length zeroed, so every prompt is ``(1, 512,
text_dim)``. The encoder loads in bf16 on GPU (the released weights are bf16) and fp32 on CPU.
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

    def __init__(self, tokenizer, encoder, *, max_length: int = MAX_TEXT_TOKENS) -> None:
        self.tokenizer, self.encoder, self.max_length = tokenizer, encoder, max_length

    @classmethod
    def from_directory(cls, path: str | Path, *, device="cpu", dtype: torch.dtype | None = None,
                       max_length: int = MAX_TEXT_TOKENS) -> UMT5TextEncoder:
        """From a diffusers-layout Wan directory (``text_encoder/`` and ``tokenizer/``) or from one
        directory holding both."""
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
        return cls(tokenizer, encoder.to(device).eval(), max_length=max_length)

    @property
    def text_dim(self) -> int:
        return self.encoder.config.d_model

    @torch.no_grad()
    def __call__(self, prompt: str) -> torch.Tensor:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"A prompt must be a non-empty string, got {prompt!r}.")
        tokens = self.tokenizer([prompt], padding="max_length", max_length=self.max_length, truncation=True,
                                add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        device = next(self.encoder.parameters()).device
        ids, mask = tokens.input_ids.to(device), tokens.attention_mask.to(device)
        states = self.encoder(ids, attention_mask=mask).last_hidden_state  # (1, L, text_dim)
        length = int(mask.sum())
        states[:, length:] = 0  # Wan zeroes the padding states
        return states.float()


__all__ = ["MAX_TEXT_TOKENS", "UMT5TextEncoder"]
