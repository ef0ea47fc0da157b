"""Architecture of a Wan2.1 transformer, read from a checkpoint's own config, never written down twice.

Two spellings exist: the original Wan ``config.json`` (``dim``, ``num_heads``, ``in_dim``, ...; Self
Forcing, LongLive and CausVid inherit it) and diffusers' ``WanTransformer3DModel`` config
(``num_attention_heads``, ``attention_head_dim``, ``in_channels``, ...). Both map onto one frozen
``CausalWanConfig``; sizes that follow from others (head dim, RoPE split) are properties.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from longroll._validate import check_float, check_int
from longroll.rope.freqs import wan_axis_dims


@dataclass(frozen=True)
class CausalWanConfig:
    """Shapes of a Wan2.1 text-to-video transformer (defaults: Wan2.1-T2V-1.3B)."""

    dim: int = 1536  # hidden size
    ffn_dim: int = 8960  # FFN hidden size
    num_heads: int = 12  # attention heads (head dim = dim / num_heads)
    num_layers: int = 30  # transformer blocks
    in_channels: int = 16  # latent channels in
    out_channels: int = 16  # latent channels out
    text_dim: int = 4096  # text-encoder width (UMT5-XXL)
    text_len: int = 512  # text tokens the model attends to: shorter contexts are zero-padded to it (as Wan does)
    freq_dim: int = 256  # sinusoidal timestep embedding size
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (time, height, width) patch
    eps: float = 1e-6  # norm epsilon
    cross_attn_norm: bool = True  # affine LayerNorm before cross-attention
    qk_norm: bool = True  # RMSNorm on queries and keys (over all heads)
    rope_theta: float = 10000.0  # RoPE base

    def __post_init__(self) -> None:
        for name in ("dim", "ffn_dim", "num_heads", "num_layers", "in_channels", "out_channels", "text_dim",
                     "text_len", "freq_dim"):
            check_int(name, getattr(self, name), low=1)
        object.__setattr__(self, "patch_size", tuple(self.patch_size))
        if len(self.patch_size) != 3:
            raise ValueError(f"patch_size must have 3 entries (time, height, width), got {self.patch_size!r}.")
        for i, p in enumerate(self.patch_size):
            check_int(f"patch_size[{i}]", p, low=1)
        if self.patch_size[0] != 1:
            raise ValueError(f"patch_size[0] = {self.patch_size[0]}: per-frame timesteps and frame chunks need a "
                             "temporal patch of 1 (allowed: 1).")
        if self.dim % self.num_heads:
            raise ValueError(f"dim = {self.dim} must be a multiple of num_heads = {self.num_heads}.")
        if self.freq_dim % 2:
            raise ValueError(f"freq_dim = {self.freq_dim} must be even.")
        check_float("eps", self.eps, low=0.0, low_open=True)
        check_float("rope_theta", self.rope_theta, low=1.0, low_open=True)
        wan_axis_dims(self.head_dim)  # raises if the head is too small for the 3-axis split

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def tokens_per_frame(self, latent_height: int, latent_width: int) -> int:
        """Tokens of one latent frame of ``latent_height x latent_width`` (e.g. 1560 at 60 x 104)."""
        _, ph, pw = self.patch_size
        if latent_height % ph or latent_width % pw:
            raise ValueError(f"A latent frame of {latent_height} x {latent_width} does not divide into "
                             f"{ph} x {pw} patches.")
        return (latent_height // ph) * (latent_width // pw)

    def to_dict(self) -> dict:
        return asdict(self)

    # ------------------------------------------------------------------ from checkpoint configs
    @classmethod
    def from_native(cls, data: dict[str, Any]) -> CausalWanConfig:
        """From an original Wan ``config.json`` (``_class_name: WanModel``)."""
        model_type = data.get("model_type", "t2v")
        if model_type != "t2v":
            raise ValueError(f"model_type = {model_type!r}: only text-to-video Wan checkpoints are supported "
                             "(allowed: 't2v').")
        return cls(dim=data["dim"], ffn_dim=data["ffn_dim"], num_heads=data["num_heads"],
                   num_layers=data["num_layers"], in_channels=data.get("in_dim", 16),
                   out_channels=data.get("out_dim", 16), text_dim=data.get("text_dim", 4096),
                   text_len=data.get("text_len", 512),
                   freq_dim=data.get("freq_dim", 256), patch_size=tuple(data.get("patch_size", (1, 2, 2))),
                   eps=data.get("eps", 1e-6), cross_attn_norm=data.get("cross_attn_norm", True),
                   qk_norm=data.get("qk_norm", True))

    @classmethod
    def from_diffusers(cls, data: dict[str, Any]) -> CausalWanConfig:
        """From a diffusers ``WanTransformer3DModel`` config (a dict or ``transformer.config``)."""
        data = dict(data)
        for key in ("image_dim", "added_kv_proj_dim"):
            if data.get(key) is not None:
                raise ValueError(f"{key} = {data[key]!r}: image-conditioned Wan models are not supported "
                                 "(allowed: None).")
        heads = data.get("num_attention_heads", 40)
        return cls(dim=heads * data.get("attention_head_dim", 128), ffn_dim=data.get("ffn_dim", 13824),
                   num_heads=heads, num_layers=data.get("num_layers", 40), in_channels=data.get("in_channels", 16),
                   out_channels=data.get("out_channels") or data.get("in_channels", 16),
                   text_dim=data.get("text_dim", 4096), freq_dim=data.get("freq_dim", 256),
                   patch_size=tuple(data.get("patch_size", (1, 2, 2))), eps=data.get("eps", 1e-6),
                   cross_attn_norm=data.get("cross_attn_norm", True),
                   qk_norm=data.get("qk_norm", "rms_norm_across_heads") is not None)

    @classmethod
    def from_any(cls, data: dict[str, Any]) -> CausalWanConfig:
        """Either spelling, told apart by its keys; or a dict of this class's own fields."""
        if "num_attention_heads" in data or "attention_head_dim" in data:
            return cls.from_diffusers(data)
        if "num_heads" in data and "in_dim" in data:
            return cls.from_native(data)
        own = {f.name for f in fields(cls)}
        if data and set(data) <= own:
            return cls(**data)
        raise ValueError("Not a Wan transformer config: expected diffusers keys (num_attention_heads, "
                         "attention_head_dim, ...) or original Wan keys (dim, num_heads, in_dim, ...); got keys "
                         f"{sorted(data)[:12]}.")


__all__ = ["CausalWanConfig"]
