"""FAR's transformer configurations (Gu et al. 2025, "Long-Context Autoregressive Video Modeling with
Next-Frame Prediction"; showlab/FAR @e59536a ``far/models/far_model.py`` and ``far_long_model.py``).

A single-stream DiT over DC-AE latents (32 channels), one frame at a time: adaLN-zero blocks with
per-frame timesteps, per-head RMS q/k norms, Flux-style 3-axis RoPE with explicit axis dims, a
frame-causal mask (FlexRoPE's linear bias beside it when ``slope_scale`` > 0; 0 in every released
model), class or action conditioning added to the timestep embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

from longroll._validate import check_choice, check_float, check_int

CONDITIONS = (None, "label", "action")  # what FAR's condition_cfg may name ("type")


@dataclass(frozen=True)
class FarConfig:
    """One FAR transformer; the defaults are FAR-B."""

    in_channels: int = 32  # DC-AE latent channels
    out_channels: int = 32  # predicted channels (the velocity of the latents)
    num_layers: int = 12  # transformer blocks
    num_heads: int = 12  # attention heads
    head_dim: int = 64  # attention_head_dim
    patch_size: int = 1  # latent pixels per token side
    axes_dims: tuple[int, int, int] = (16, 24, 24)  # axes_dims_rope: RoPE dims of (time, row, column)
    rope_theta: float = 10000.0  # FluxPosEmbed's theta
    slope_scale: float = 0.0  # FlexRoPE's linear bias per frame of distance (released models: 0)
    condition: str | None = None  # condition_cfg["type"]: None, "label" (class) or "action"
    num_classes: int = 0  # classes or actions (the embedding table has one more row: the dropped label)
    mlp_ratio: float = 4.0  # FeedForward's hidden width over the model width
    eps: float = 1e-6  # layer and RMS norms' epsilon
    freq_dim: int = 256  # sinusoidal timestep features (Timesteps(256, flip_sin_to_cos, shift 1))
    # FAR-Long: latent pixels per long-term (coarse) token side (its context_patch_size, 4); None: a short model.
    context_patch_size: int | None = None
    short_window: int = 16  # FAR-Long: frames at full resolution, the current one included (short_term_ctx_winsize)

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "num_layers", "num_heads", "head_dim", "patch_size", "freq_dim"):
            check_int(name, getattr(self, name), low=1)
        if len(self.axes_dims) != 3 or any(d % 2 or d < 2 for d in self.axes_dims) or sum(self.axes_dims) != \
                self.head_dim:
            raise ValueError(f"axes_dims = {self.axes_dims} must be three even dims summing to head_dim = "
                             f"{self.head_dim}.")
        check_float("rope_theta", self.rope_theta, low=1.0, low_open=True)
        check_float("slope_scale", self.slope_scale, low=0.0)
        check_choice("condition", self.condition, CONDITIONS)
        check_int("num_classes", self.num_classes, low=1 if self.condition else 0)
        check_float("mlp_ratio", self.mlp_ratio, low=0.0, low_open=True)
        if self.context_patch_size is not None:
            check_int("context_patch_size", self.context_patch_size, low=self.patch_size)
            if self.context_patch_size % self.patch_size:
                raise ValueError(f"context_patch_size = {self.context_patch_size} must be a multiple of patch_size = "
                                 f"{self.patch_size}.")
        check_int("short_window", self.short_window, low=2)

    @property
    def long(self) -> bool:
        """A FAR-Long model (long short-term context)."""
        return self.context_patch_size is not None

    @property
    def dim(self) -> int:
        return self.num_heads * self.head_dim

    def tokens_per_frame(self, height: int, width: int) -> int:
        """Tokens of one latent frame of ``height x width``."""
        return (height // self.patch_size) * (width // self.patch_size)

    def context_tokens_per_frame(self, height: int, width: int) -> int:
        """Long-term (coarse) tokens of one latent frame of ``height x width`` (FAR-Long)."""
        p = self.context_patch_size or self.patch_size
        return (height // p) * (width // p)


# The model zoo's shapes (far_model.py / far_long_model.py registry: FAR_B, FAR_M, FAR_L, FAR_XL).
ZOO = {
    "FAR_B": FarConfig(num_layers=12, num_heads=12),
    "FAR_M": FarConfig(num_layers=12, num_heads=16),
    "FAR_L": FarConfig(num_layers=24, num_heads=16),
    "FAR_XL": FarConfig(num_layers=28, num_heads=18),
    "FAR_B_Long": FarConfig(num_layers=12, num_heads=12, context_patch_size=4),
    "FAR_M_Long": FarConfig(num_layers=12, num_heads=16, context_patch_size=4),
}

__all__ = ["CONDITIONS", "ZOO", "FarConfig"]
