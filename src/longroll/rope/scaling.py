"""Temporal frequency scalings for running a model past its training horizon.

Every method maps the temporal table ``theta (P,)`` to a new table of the same shape; the spatial
axes are never touched. ``S = max(1, L / L_train)`` with ``L`` the (planned or current) number of
latent frames, so nothing changes inside the training horizon.

- ``none``   extrapolate (the model as trained).
- ``pi``     Position Interpolation (Chen et al. 2023): theta / S on every plane.
- ``ntk``    NTK-aware base change (bloc97, 2023): b' = b * S^(d/(d-2)).
- ``flex``   FLEX eq. 8-9 (NTK-by-parts, Peng et al. 2023, on the temporal axis): gate on exposure.
- ``yarn``   YaRN (Peng et al. 2023): ``flex`` frequencies plus q/k scale ``0.1 ln S + 1``.
- ``riflex`` RIFLEx (Zhao et al. 2025): lower only the intrinsic-frequency plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from longroll._validate import check_choice, check_float, check_int
from longroll.constants import FLEX_ALPHA, FLEX_BETA

ROPE_METHODS = ("none", "pi", "ntk", "flex", "yarn", "riflex")


def length_scale(train_len: int, target_len: int) -> float:
    """``S = max(1, L / L_train)`` (FLEX §3.2)."""
    check_int("train_len", train_len, low=1)
    check_int("target_len", target_len, low=1)
    return max(1.0, target_len / train_len)


def training_exposure(freqs: torch.Tensor, train_len: int) -> torch.Tensor:
    """Completed rotations per plane over the training horizon: ``r_m = L_train * theta_m / (2 pi)`` (FLEX eq. 6)."""
    check_int("train_len", train_len, low=1)
    return train_len * freqs.to(torch.float64) / (2.0 * math.pi)


def wavelength(freqs: torch.Tensor) -> torch.Tensor:
    """Frames per full rotation of each plane: ``lambda_m = 2 pi / theta_m`` (inf for a frozen plane)."""
    return 2.0 * math.pi / freqs.to(torch.float64)


def exposure_gate(exposure: torch.Tensor, alpha: float = FLEX_ALPHA, beta: float = FLEX_BETA) -> torch.Tensor:
    """FLEX eq. 8: 0 below alpha (interpolate), 1 above beta (extrapolate), linear between."""
    _check_alpha_beta(alpha, beta)
    return ((exposure - alpha) / (beta - alpha)).clamp(0.0, 1.0)


def yarn_attention_scale(train_len: int, target_len: int) -> float:
    """YaRN's temperature as a multiplier on q and k: ``0.1 ln S + 1`` (1 when S = 1)."""
    # YaRN (Peng et al. 2023) eq. 22: sqrt(1/t) = 0.1 ln(s) + 1.
    return 0.1 * math.log(length_scale(train_len, target_len)) + 1.0


def scale_temporal_freqs(
    freqs: torch.Tensor,
    method: str,
    *,
    train_len: int,
    target_len: int,
    alpha: float = FLEX_ALPHA,
    beta: float = FLEX_BETA,
    riflex_n: int | None = None,
) -> torch.Tensor:
    """Return a new temporal frequency table (same shape, float64) for ``method`` at length ``target_len``."""
    check_choice("rope method", method, ROPE_METHODS)
    _check_freqs(freqs)
    s = length_scale(train_len, target_len)
    _check_alpha_beta(alpha, beta)
    if riflex_n is not None:
        check_int("riflex_n", riflex_n, low=1)
    theta = freqs.detach().to(torch.float64).clone()
    if method == "none" or (s == 1.0 and method != "riflex"):
        return theta  # S = 1: nothing to do inside the training horizon (exactly, not up to rounding)
    if method == "pi":
        # Position Interpolation (Chen et al. 2023): n -> n / S, i.e. theta -> theta / S on every plane.
        return theta / s
    if method == "ntk":
        # NTK-aware (bloc97 2023): b' = b S^(d/(d-2)) => theta'_m = theta_m S^(-2m/(d-2)) = theta_m S^(-m/(P-1)).
        planes = theta.numel()
        if planes < 2:
            raise ValueError(f"The ntk method needs at least 2 temporal rotary planes, got {planes}.")
        m = torch.arange(planes, dtype=torch.float64)
        return theta * s ** (-m / (planes - 1))
    if method in ("flex", "yarn"):
        # FLEX eq. 9: h(theta_m) = (1 - g(r_m)) theta_m / S + g(r_m) theta_m.
        g = exposure_gate(training_exposure(theta, train_len), alpha, beta)
        return (1.0 - g) * theta / s + g * theta
    # RIFLEx (Zhao et al. 2025): intrinsic plane k = argmin_j |N_j - N|; if L > N_k, theta_k = 0.9 * 2 pi / L.
    n = train_len if riflex_n is None else riflex_n
    k = intrinsic_plane(theta, n)
    periods = torch.round(wavelength(theta))
    if target_len > periods[k]:
        theta[k] = 0.9 * 2.0 * math.pi / target_len
    return theta


def intrinsic_plane(freqs: torch.Tensor, repeat_frame: int) -> int:
    """RIFLEx's intrinsic plane: the one whose period ``round(2 pi / theta)`` is nearest ``repeat_frame``."""
    periods = torch.round(wavelength(freqs))
    return int(torch.argmin((periods - repeat_frame).abs()))


@dataclass(frozen=True)
class RopeScaling:
    """How a rollout scales temporal RoPE; resolved against a model's ``train_len`` at run time."""

    method: str = "flex"  # one of ROPE_METHODS
    alpha: float = FLEX_ALPHA  # FLEX/YaRN: exposure below which a plane is fully interpolated
    beta: float = FLEX_BETA  # FLEX/YaRN: exposure above which a plane is kept (extrapolated)
    riflex_n: int | None = None  # RIFLEx: frame where repetition appears; None means train_len
    dynamic: bool = False  # S from the current length (needs un-rotated cached keys) instead of the planned one
    jitter: float = 0.0  # LoL: per-head jitter of the temporal RoPE base (0 = off; the paper's best: 0.8)
    jitter_seed: int = 0  # LoL: seed of the per-head draws

    def __post_init__(self) -> None:
        check_choice("rope method", self.method, ROPE_METHODS)
        _check_alpha_beta(self.alpha, self.beta)
        if self.riflex_n is not None:
            check_int("riflex_n", self.riflex_n, low=1)
        check_float("jitter", self.jitter, low=0.0, high=1.0, high_open=True)
        check_int("jitter_seed", self.jitter_seed, low=0)

    def freqs(self, base, *, train_len: int, length: int):
        """``base`` (a ``RopeFreqs``) with its temporal table scaled for ``length`` frames and the head jitter."""
        scaled = base.with_temporal(self.temporal(base.temporal, train_len=train_len, length=length))
        return scaled.with_jitter(self.jitter, self.jitter_seed) if self.jitter > 0 else scaled

    def temporal(self, freqs: torch.Tensor, *, train_len: int, length: int) -> torch.Tensor:
        """The scaled temporal table for a rollout of ``length`` latent frames."""
        return scale_temporal_freqs(
            freqs, self.method, train_len=train_len, target_len=length,
            alpha=self.alpha, beta=self.beta, riflex_n=self.riflex_n,
        )

    def attention_scale(self, *, train_len: int, length: int) -> float:
        """Multiplier on q and k: YaRN's temperature for ``yarn``, 1 otherwise."""
        return yarn_attention_scale(train_len, length) if self.method == "yarn" else 1.0


def _check_alpha_beta(alpha: float, beta: float) -> None:
    check_float("alpha", alpha, low=0.0)
    check_float("beta", beta, low=0.0)
    if alpha >= beta:
        raise ValueError(f"alpha = {alpha!r} must be smaller than beta = {beta!r} (the gate ramps from alpha to "
                         "beta).")


def _check_freqs(freqs: torch.Tensor) -> None:
    if not isinstance(freqs, torch.Tensor) or freqs.ndim != 1 or freqs.numel() == 0:
        raise ValueError("freqs must be a non-empty 1-D tensor of temporal rotary frequencies (one per plane).")
    if not torch.isfinite(freqs).all() or (freqs <= 0).any():
        raise ValueError("freqs must be finite and positive; got a table with zero, negative or non-finite entries.")
