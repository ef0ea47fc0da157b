"""Temporal RoPE for horizon extension: frequency tables, scalings, exposure report, temporal bias."""

from longroll.rope.bias import BIAS_KINDS, TemporalBias, alibi_slopes, expand_frame_bias, frame_distance
from longroll.rope.freqs import (
    RopeFreqs,
    apply_rotary,
    axes_rope_freqs,
    axis_freqs,
    rope_cos_sin,
    wan_axis_dims,
    wan_rope_freqs,
    wan_temporal_freqs,
)
from longroll.rope.rotator import FrameRotator
from longroll.rope.scaling import (
    ROPE_METHODS,
    RopeScaling,
    exposure_gate,
    intrinsic_plane,
    length_scale,
    scale_temporal_freqs,
    training_exposure,
    wavelength,
    yarn_attention_scale,
)

__all__ = [
    "BIAS_KINDS", "FrameRotator", "ROPE_METHODS", "RopeFreqs", "RopeScaling", "TemporalBias", "alibi_slopes",
    "apply_rotary", "axes_rope_freqs", "axis_freqs", "expand_frame_bias", "exposure_gate",
    "frame_distance", "intrinsic_plane", "length_scale", "rope_cos_sin", "scale_temporal_freqs",
    "training_exposure", "wan_axis_dims", "wan_rope_freqs", "wan_temporal_freqs", "wavelength",
    "yarn_attention_scale",
]
