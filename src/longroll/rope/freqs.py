"""Rotary frequency tables and their application to video tokens.

- ``wan_axis_dims`` / ``wan_temporal_freqs`` / ``wan_rope_freqs``: Wan2.1's 3D split of a head
  (temporal ``d - 4*(d//6)``, height and width ``2*(d//6)`` each), one geometric table per axis.
- ``axes_rope_freqs``: the FAR / Flux layout, where the caller names every axis' dims.
- ``rope_cos_sin`` / ``apply_rotary``: angles for (frame, row, column) token grids at arbitrary
  absolute frame positions (computed, never looked up in a fixed table, so length is unbounded)
  and the rotation of interleaved pairs ``(x[2m], x[2m+1])`` as in Wan's complex view.

Frequencies are float64 (as diffusers' ``WanRotaryPosEmbed``); angles are formed in float64 and
only the cos/sin leave in the compute dtype.

Legend: F latent frames, T tokens per frame (= h*w), P rotary planes (= d/2), D head dim.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longroll._validate import check_float, check_int


def wan_axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Real dims of the (temporal, height, width) axes in Wan's split: 128 -> (44, 42, 42)."""
    check_int("head_dim", head_dim, low=1)
    spatial = 2 * (head_dim // 6)
    temporal = head_dim - 2 * spatial
    if head_dim % 2 or spatial < 2 or temporal < 2:
        raise ValueError(
            f"head_dim = {head_dim} is too small or odd for Wan's 3-axis RoPE split; it must be even "
            f"and at least 8 so that each of time, height and width gets a rotary plane (allowed range [8, inf), "
            f"even)."
        )
    return temporal, spatial, spatial


def split_head(head_dim: int, temporal_dim: int) -> tuple[int, int, int]:
    """(temporal, height, width) dims of a head whose temporal axis has ``temporal_dim`` dims and whose
    spatial axes share the rest equally: 80 with 44 temporal -> (44, 18, 18)."""
    check_int("head_dim", head_dim, low=1)
    check_int("temporal_dim", temporal_dim, low=2)
    spatial = (head_dim - temporal_dim) // 2
    if temporal_dim % 2 or spatial < 2 or spatial % 2 or head_dim != temporal_dim + 2 * spatial:
        raise ValueError(
            f"A head of {head_dim} dims cannot hold {temporal_dim} temporal RoPE dims: temporal_dim must be even and "
            f"head_dim - temporal_dim a multiple of 4 of at least 4 (each spatial axis gets an even share of at "
            f"least 2 dims); allowed temporal_dim for this head: even values in [2, {head_dim - 4}] with "
            f"head_dim - temporal_dim divisible by 4."
        )
    return temporal_dim, spatial, spatial


def axis_freqs(dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Geometric table ``theta^(-2m/dim)`` for ``m = 0..dim/2-1``, float64, shape (dim/2,)."""
    # RoFormer (Su et al. 2021), eq. 15: theta_m = b^(-2m/d).
    check_int("axis dim", dim, low=2)
    if dim % 2:
        raise ValueError(f"axis dim = {dim} must be even: RoPE rotates pairs of channels.")
    check_float("theta", theta, low=1.0, low_open=True)
    m = torch.arange(dim // 2, dtype=torch.float64)
    return theta ** (-2.0 * m / dim)


def wan_temporal_freqs(head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Temporal rotary frequencies of Wan's split: float64, shape ``(d_F/2,)`` (22 for head_dim 128)."""
    # Wan2.1 rope_params / diffusers WanRotaryPosEmbed: t_dim = d - 4*(d//6).
    d_f, _, _ = wan_axis_dims(head_dim)
    return axis_freqs(d_f, theta)


@dataclass(frozen=True)
class RopeFreqs:
    """Per-axis rotary frequencies of a video head; the temporal table is the one horizon methods scale.

    ``jitter`` > 0 gives every attention head its own temporal table (LoL's multi-head RoPE jitter,
    ``head_temporal``); the rotation then needs the number of heads.
    """

    temporal: torch.Tensor  # (P_F,) float64, frame axis
    height: torch.Tensor  # (P_H,) float64, row axis
    width: torch.Tensor  # (P_W,) float64, column axis
    jitter: float = 0.0  # LoL: per-head jitter of the temporal RoPE base, sigma in [0, 1)
    jitter_seed: int = 0  # LoL: seed of the per-head draws

    @property
    def head_dim(self) -> int:
        return 2 * (self.temporal.numel() + self.height.numel() + self.width.numel())

    def with_temporal(self, temporal: torch.Tensor) -> "RopeFreqs":
        """The same layout with the temporal planes replaced (e.g. by ``scale_temporal_freqs``)."""
        if temporal.shape != self.temporal.shape:
            raise ValueError(
                f"Replacement temporal frequencies have shape {tuple(temporal.shape)}, "
                f"expected {tuple(self.temporal.shape)}."
            )
        return RopeFreqs(temporal.to(torch.float64), self.height, self.width, self.jitter, self.jitter_seed)

    def with_jitter(self, jitter: float, seed: int = 0) -> "RopeFreqs":
        """The same tables with LoL's per-head jitter of strength ``jitter``."""
        check_float("jitter", jitter, low=0.0, high=1.0, high_open=True)
        return RopeFreqs(self.temporal, self.height, self.width, float(jitter), seed)

    def head_temporal(self, heads: int) -> torch.Tensor:
        """Per-head temporal tables (H, P_F): LoL (arXiv 2601.16914) jitters the RoPE base of each head,
        ``b_h = b (1 + sigma eps_h)`` with ``eps_h ~ U(-1, 1)``; for the plane ``theta_m = b^(-2m/d_F)`` that
        multiplies it by ``(1 + sigma eps_h)^(-2m/d_F)``, applied on top of any scaling of the table.

        The paper's statement we follow: a training-free per-head perturbation of the RoPE base frequency
        that breaks inter-head phase synchronisation, best at strength 0.8 on every head. Its exact jitter
        law was not available to us; this law (uniform draws, multiplicative on the base, seeded) is our
        reading and a field, and the benchmark measures it rather than assuming it works."""
        g = torch.Generator().manual_seed(self.jitter_seed)
        eps = torch.rand(heads, generator=g, dtype=torch.float64) * 2.0 - 1.0  # (H,)
        planes = self.temporal.numel()
        m = torch.arange(planes, dtype=torch.float64)
        factor = (1.0 + self.jitter * eps)[:, None] ** (-2.0 * m[None, :] / (2 * planes))  # (H, P_F)
        return self.temporal[None, :] * factor


def wan_rope_freqs(head_dim: int, theta: float = 10000.0) -> RopeFreqs:
    """All three axes of Wan's layout (temporal first, as in the checkpoint's complex table)."""
    d_f, d_h, d_w = wan_axis_dims(head_dim)
    return RopeFreqs(axis_freqs(d_f, theta), axis_freqs(d_h, theta), axis_freqs(d_w, theta))


def split_rope_freqs(head_dim: int, temporal_dim: int, theta: float = 10000.0) -> RopeFreqs:
    """A head with an explicit temporal share (``split_head``): the built-in model keeps Wan2.1's 44
    temporal dims (22 planes) in a head smaller than Wan's 128."""
    d_f, d_h, d_w = split_head(head_dim, temporal_dim)
    return RopeFreqs(axis_freqs(d_f, theta), axis_freqs(d_h, theta), axis_freqs(d_w, theta))


def axes_rope_freqs(axes_dims: tuple[int, int, int], theta: float = 10000.0) -> RopeFreqs:
    """FAR / Flux layout: explicit (temporal, height, width) dims, each with its own geometric table."""
    # FAR (Gu et al. 2025) uses Flux-style axes_dims_rope; any split summing to the head dim works.
    if len(axes_dims) != 3:
        raise ValueError(f"axes_dims must name 3 axes (time, height, width), got {axes_dims!r}.")
    t, h, w = (axis_freqs(d, theta) for d in axes_dims)
    return RopeFreqs(t, h, w)


def rope_cos_sin(
    freqs: RopeFreqs,
    frame_positions: torch.Tensor,
    height: int,
    width: int,
    *,
    attention_scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
    heads: int | None = None,
    stride: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos and sin for every token of frames at ``frame_positions`` on an ``height x width`` grid
    (row and column positions ``stride`` apart: FAR's coarse long-term tokens sit at every 4th).

    Tokens are ordered frame-major, then row, then column. Returns two ``(F*h*w, D/2)`` tensors on
    the device of ``frame_positions`` (``(H, F*h*w, D/2)`` when ``freqs`` has a per-head jitter and
    ``heads`` is given). ``attention_scale`` multiplies both (YaRN's temperature is applied to q and
    k this way, so it rides along with the rotation at no extra cost).
    """
    device = frame_positions.device
    pos_t = frame_positions.to(torch.float64)
    per_head = freqs.jitter > 0 and heads is not None
    temporal = (freqs.head_temporal(heads) if per_head else freqs.temporal[None]).to(device)  # (H or 1, P_F)
    ang_t = pos_t[None, :, None] * temporal[:, None, :]  # (H or 1, F, P_F)
    rows = torch.arange(height, dtype=torch.float64, device=device) * stride
    cols = torch.arange(width, dtype=torch.float64, device=device) * stride
    ang_h = torch.outer(rows, freqs.height.to(device))  # (h, P_H)
    ang_w = torch.outer(cols, freqs.width.to(device))  # (w, P_W)
    f, n = pos_t.numel(), temporal.shape[0]
    angles = torch.cat(
        [
            ang_t[:, :, None, None, :].expand(n, f, height, width, -1),
            ang_h[None, None, :, None, :].expand(n, f, height, width, -1),
            ang_w[None, None, None, :, :].expand(n, f, height, width, -1),
        ],
        dim=-1,
    ).reshape(n, f * height * width, -1)  # (H or 1, F*h*w, P)
    angles = angles if per_head else angles[0]
    cos, sin = torch.cos(angles), torch.sin(angles)
    if attention_scale != 1.0:
        cos, sin = cos * attention_scale, sin * attention_scale
    return cos.to(dtype), sin.to(dtype)


def token_cos_sin(
    freqs: RopeFreqs,
    time: torch.Tensor,
    space: torch.Tensor,
    width: int,
    *,
    attention_scale: float = 1.0,
    dtype: torch.dtype = torch.float32,
    heads: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos and sin for single tokens: temporal positions ``time (N,)`` and row-major indices ``space (N,)``
    into a grid ``width`` tokens wide. Returns two ``(N, D/2)`` tensors (as ``rope_cos_sin`` per token;
    ``(H, N, D/2)`` with a per-head jitter and ``heads``)."""
    device = time.device
    per_head = freqs.jitter > 0 and heads is not None
    temporal = (freqs.head_temporal(heads) if per_head else freqs.temporal[None]).to(device)  # (H or 1, P_F)
    rows = torch.div(space, width, rounding_mode="floor").to(torch.float64)
    cols = torch.remainder(space, width).to(torch.float64)
    n = temporal.shape[0]
    spatial = torch.cat([torch.outer(rows, freqs.height.to(device)), torch.outer(cols, freqs.width.to(device))], -1)
    angles = torch.cat([time.to(torch.float64)[None, :, None] * temporal[:, None, :],
                        spatial[None].expand(n, -1, -1)], dim=-1)  # (H or 1, N, P)
    angles = angles if per_head else angles[0]
    cos, sin = torch.cos(angles), torch.sin(angles)
    if attention_scale != 1.0:
        cos, sin = cos * attention_scale, sin * attention_scale
    return cos.to(dtype), sin.to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved channel pairs of ``x (..., N, D)`` by angles given as ``cos/sin (N, D/2)``."""
    if x.shape[-1] != 2 * cos.shape[-1] or x.shape[-2] != cos.shape[-2]:
        raise ValueError(
            f"apply_rotary: x has (tokens, dim) = {tuple(x.shape[-2:])} but cos/sin cover "
            f"{tuple(cos.shape)} (tokens, dim/2)."
        )
    compute = torch.promote_types(x.dtype, torch.float32)  # bf16/fp16 rotate in fp32, fp64 stays fp64
    pairs = x.to(compute).reshape(*x.shape[:-1], -1, 2)  # (..., N, P, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    cos, sin = cos.to(compute), sin.to(compute)
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    return out.reshape(x.shape).to(x.dtype)
