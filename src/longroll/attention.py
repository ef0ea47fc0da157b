"""Attention over a query chunk and a window of cached frames, and over the frames of an uncached forward.

Every path of a rollout is mask-free, so that the fused kernels (flash-attn 3, then 2, then PyTorch
SDPA) apply: the cached rollout attends to the window as it is read; a temporal bias that depends on
(query frame, key) is folded into extra key channels (``frame_biased_attention``); an uncached
forward over several chunks (FIFO's and MIGA's windows, training) attends chunk by chunk over the keys
up to each chunk's end (``chunk_causal_attention``). ``windowed_attention`` (an additive bias and a
boolean mask, dense) and ``chunk_causal_mask`` are the dense forms the tests compare them with. Which
frames a window holds and where they sit in time comes from ``longroll.cache`` and ``longroll.rope``.

Legend: B batch, H heads, Nq query tokens, Nk key tokens, D head dim, F frames, T tokens per frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from longroll.cache import KVCache
    from longroll.rope.bias import TemporalBias
    from longroll.rope.rotator import FrameRotator


def windowed_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``softmax(q k^T / sqrt(D) + bias) v`` over allowed keys: q (B, H, Nq, D), k/v (B, H, Nk, D).

    ``bias`` broadcasts to (B, H, Nq, Nk) and is added to the logits; ``mask`` (bool, True = may
    attend) broadcasts likewise. Both are optional; with neither this is plain full attention.
    """
    attn_mask = None
    if mask is not None:
        attn_mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(~mask, float("-inf"))
    if bias is not None:
        bias = bias.to(q.dtype)
        attn_mask = bias if attn_mask is None else attn_mask + bias
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


def fast_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """``windowed_attention``, through flash-attn when it is installed, on GPU, in half precision,
    with neither bias nor mask (the cached rollout's case); PyTorch SDPA otherwise. ``scale``: the
    logits' scale (None: 1 / sqrt(D))."""
    if bias is None and mask is None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        flash = _flash_attn()
        if flash is not None:
            out = flash(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),  # (B, N, H, D) layout
                        softmax_scale=scale)
            out = out[0] if isinstance(out, tuple) else out  # flash-attn 3 also returns the log-sum-exp
            return out.transpose(1, 2)
    if scale is not None:
        if bias is not None or mask is not None:
            raise ValueError("A scale other than 1 / sqrt(D) is taken only without a bias or a mask.")
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    return windowed_attention(q, k, v, bias=bias, mask=mask)


def frame_biased_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
    """``softmax(q k^T / sqrt(D) + bias) v`` for a bias that depends on the query's frame and the key
    only, without a (Nq, Nk) bias tensor, so that the fused kernels (flash) still apply.

    q ``(B, H, Fq*T, D)`` (frame-major queries), k, v ``(B, H, Nk, D)``, ``key_bias (1 or H, Fq, Nk)``
    (FlexRoPE, ALiBi: a frame bias repeated over each key frame's tokens). For the queries of frame
    i the bias is a constant per key, and ``q.k / sqrt(D) + c = [q, e_i].[k, c_i sqrt(D)] / sqrt(D)``:
    the keys carry ``c_i`` of every query frame in extra channels, each query a 1 in its own frame's
    channel; the logits' scale stays 1 / sqrt(D). In half precision each ``c_i`` is two channels, a
    high and a low half, so the bias reaches the logits to about 2^-16 of itself (one bf16 channel
    would round it to 2^-8). The width is padded to a multiple of 8 (what flash kernels take).
    """
    b, h, nq, d = q.shape
    fq, nk = key_bias.shape[-2], k.shape[2]
    if nq % fq or key_bias.shape[-1] != nk or key_bias.shape[0] not in (1, h):
        raise ValueError(f"key_bias {tuple(key_bias.shape)} does not fit q {tuple(q.shape)} and k {tuple(k.shape)}: "
                         f"expected (1 or {h}, Fq, {nk}) with Fq dividing {nq}.")
    t = nq // fq
    w = key_bias.float() * d**0.5  # (1|H, Fq, Nk): what meets the queries' 1 before the 1 / sqrt(D) scale
    high = w.to(q.dtype)
    halves = [high] if q.dtype in (torch.float32, torch.float64) else [high, (w - high.float()).to(q.dtype)]
    extra = len(halves) * fq
    pad = -(-(d + extra) // 8) * 8 - d - extra
    # Each tensor written once (one cat), the constant parts broadcast: keys [k, c of each frame (and half),
    # 0...], values [v, 0...], queries [q, a 1 in their frame's channel of each half, 0...].
    channels = [half.transpose(-1, -2).to(k.dtype).expand(b, h, nk, fq) for half in halves]  # (B, H, Nk, Fq)
    kk = torch.cat([k, *channels, k.new_zeros(1, 1, 1, 1).expand(b, h, nk, pad)], dim=-1)
    vv = torch.cat([v, v.new_zeros(1, 1, 1, 1).expand(b, h, nk, extra + pad)], dim=-1)
    ones = torch.eye(fq, dtype=q.dtype, device=q.device).repeat(1, len(halves))  # (Fq, extra): frame i's channels
    qq = torch.cat([q.unflatten(2, (fq, t)), ones[:, None].expand(b, h, fq, t, extra),
                    q.new_zeros(1, 1, 1, 1, 1).expand(b, h, fq, t, pad)], dim=-1)  # (B, H, Fq, T, width)
    out = fast_attention(qq.flatten(2, 3), kk, vv, scale=d**-0.5)  # (B, H, Nq, width)
    return out[..., :d]


def gated_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, gate: torch.Tensor, gated: int,
                    bias: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Attention in which the first ``gated`` keys carry a weight per head: q (B, H, Nq, D), k/v (B, H, Nk, D),
    ``gate (H,)`` (clamped at 0) -> (B, H, Nq, D).

    ``out = sum_j g_j e^{s_j} v_j / sum_j g_j e^{s_j}`` with ``g_j = gate[h]`` on the gated keys and 1 on
    the rest, ``s = q k^T / sqrt(D) + bias``: softmax with ``log gate`` added to the gated keys' logits,
    written without the log so that a gate of 0 is exact (the gated keys then change nothing) and has a
    gradient (the long-term keys of the built-in model's long short-term context start so); a negative
    gate acts as 0 and keeps its gradient (straight-through). ``bias`` and
    ``mask`` (True = may attend) broadcast to (B, H, Nq, Nk); every query must see at least one key that
    is not gated.
    """
    logits = (q @ k.transpose(-1, -2)).float() * q.shape[-1] ** -0.5  # (B, H, Nq, Nk)
    if bias is not None:
        logits = logits + bias.float()
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    weights = (logits - logits.amax(dim=-1, keepdim=True).detach()).exp()
    # Clamped at 0 going forward, the identity going back (straight-through): a gate that training pushed
    # below 0 acts as 0 and can still come back (a plain clamp would leave it there for good).
    g = (gate + (gate.clamp(min=0) - gate).detach()).float()[None, :, None, None]  # (1, H, 1, 1)
    weights = torch.cat([weights[..., :gated] * g, weights[..., gated:]], dim=-1)
    out = weights.to(v.dtype) @ v
    return out / weights.sum(dim=-1, keepdim=True).to(out.dtype)


_FLASH: list = []


def _flash_attn():
    """The first flash-attention that is installed and runs here, looked up once: flash-attn 3
    (``flash_attn_interface``, Hopper GPUs only), then flash-attn 2; None for neither."""
    if not _FLASH:
        func, name = None, None
        try:
            if torch.cuda.is_available() and torch.cuda.get_device_capability()[0] == 9:
                from flash_attn_interface import flash_attn_func as func
                name = "flash-attn 3"
        except ImportError:
            func = None
        if func is None:
            try:
                from flash_attn import flash_attn_func as func
                name = "flash-attn 2"
            except ImportError:
                func = None
        _FLASH.extend([func, name])
    return _FLASH[0]


def attention_backend(device: torch.device, dtype: torch.dtype) -> str:
    """The kernel ``fast_attention`` takes for a plain cached forward on ``device`` in ``dtype``: a
    flash-attn package, or PyTorch SDPA (which picks its own kernel: the benchmark's profile says which)."""
    if torch.device(device).type == "cuda" and dtype in (torch.float16, torch.bfloat16) and _flash_attn() is not None:
        return _FLASH[1]
    return "PyTorch SDPA"


# ---------------------------------------------------------------------- compiled blocks
# A compiled block sees its self-attention as one opaque operator, ``longroll::frame_attend``: the
# cache's bookkeeping (positions, eviction, compression, the rotation memo) stays eager Python, and the
# block's norms, modulation, projections, cross-attention and FFN are one graph with no break, shared
# by every block (the layer index is an argument, not a constant). The operator finds the forward's
# FrameAttention on a per-thread stack that the model's forward pushes (``attending``).
_ATTENDING = threading.local()
_OP: list = []


@contextmanager
def attending(ctx: FrameAttention) -> Iterator[None]:
    """Make ``ctx`` the FrameAttention that ``frame_attend`` uses on this thread while the block runs."""
    stack = _ATTENDING.__dict__.setdefault("stack", [])
    stack.append(ctx)
    try:
        yield
    finally:
        stack.pop()


def frame_attend_op():
    """The ``longroll::frame_attend(q, k, v, layer)`` operator (registered on first use): the current
    FrameAttention's ``attend`` for that layer, q, k, v ``(B, H, n*T, D)`` -> ``(B, n*T, H, D)``."""
    if not _OP:
        @torch.library.custom_op("longroll::frame_attend", mutates_args=())
        def frame_attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layer: int) -> torch.Tensor:
            stack = getattr(_ATTENDING, "stack", None)
            if not stack:
                raise RuntimeError("longroll::frame_attend ran outside a model forward (no FrameAttention).")
            return stack[-1].attend(layer, q, k, v).transpose(1, 2).contiguous()

        @frame_attend.register_fake
        def _(q, k, v, layer):
            b, h, n, d = q.shape
            return q.new_empty((b, n, h, d))

        _OP.append(frame_attend)
    return _OP[0]


def chunk_causal_mask(frame_chunks: torch.Tensor, tokens_per_frame: int) -> torch.Tensor:
    """Frame-chunk-causal mask: a token sees every token of its own chunk and of earlier chunks.

    ``frame_chunks (F,)`` gives each frame's chunk index; returns bool (F*T, F*T), True = may attend.
    The dense form of what ``chunk_causal_attention`` computes without it (tests compare the two).
    """
    allowed = frame_chunks[:, None] >= frame_chunks[None, :]  # (F, F)
    return allowed.repeat_interleave(tokens_per_frame, 0).repeat_interleave(tokens_per_frame, 1)


def chunk_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, chunk_tokens: int,
                           key_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Attention under the frame-chunk-causal mask without the mask: q, k, v ``(B, H, N, D)`` over the
    same N tokens, chunks of ``chunk_tokens`` (a chunk's frames times the tokens of a frame) counted
    from the first token; the queries of chunk c attend to the keys of chunks 0..c.

    One mask-free attention per chunk over the keys up to its end, so the fused kernels (flash) apply
    and the blocks a mask would hide are never computed (the dense mask computes all of them: for 7
    chunks, 49 blocks where this computes 28). ``key_bias (1 or H, Fq, N)``: a temporal bias per query
    frame and key (``frame_biased_attention``), its rows the frames of q.
    """
    n = q.shape[2]
    if k.shape[2] != n or chunk_tokens < 1:
        raise ValueError(f"chunk_causal_attention takes queries and keys over the same tokens and chunks of at "
                         f"least 1 token; got {n} queries, {k.shape[2]} keys, chunks of {chunk_tokens}.")
    tokens_per_frame = None
    if key_bias is not None:
        tokens_per_frame = n // key_bias.shape[-2]
    outs = []
    for start in range(0, n, chunk_tokens):
        end = min(start + chunk_tokens, n)
        qc, kc, vc = q[:, :, start:end], k[:, :, :end], v[:, :, :end]
        if key_bias is None:
            outs.append(fast_attention(qc, kc, vc))
        else:
            rows = key_bias[:, start // tokens_per_frame:end // tokens_per_frame, :end]  # (1|H, chunk frames, keys)
            outs.append(frame_biased_attention(qc, kc, vc, rows))
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)


class FrameAttention:
    """What every layer of one forward shares: the query frames' positions, their rotation, the
    cache (or, uncached, the frame chunks' causality) and the temporal bias over the key frames.

    Used by every denoiser of longroll; ``attend`` takes one layer's un-rotated q, k, v
    ``(B, H, n*T, D)``, writes k, v into the cache when there is one, and attends.
    """

    def __init__(self, frames: torch.Tensor, rotator: FrameRotator, *, heads: int, tokens_per_frame: int,
                 cache: KVCache | None = None, chunk_size: int | None = None,
                 bias: TemporalBias | None = None) -> None:
        self.frames, self.cache, self.rotate = frames, cache, rotator
        # Uncached over more than a chunk: chunk-causal (chunks counted from the call's first frame,
        # bidirectional inside, causal across), computed chunk by chunk without a mask.
        self.chunk_tokens = None
        if cache is None and chunk_size is not None and frames.numel() > chunk_size:
            self.chunk_tokens = chunk_size * tokens_per_frame
        # Temporal positions the rotation and the bias see: the frames themselves, or the cache's policy.
        self.query_positions = frames if cache is None else cache.query_positions()
        self.heads, self.tokens_per_frame, self.temporal_bias = heads, tokens_per_frame, bias
        self.key_bias = None  # (1 or H, Fq, Nk) bias per query frame and key token: attention stays mask-free
        self.per_layer_bias = cache is not None and cache.num_compressed > 0  # compressed tokens differ per layer
        # Where each query frame's chunk starts (a recency bias weighs the keys before it): uncached over several
        # chunks, each frame's own chunk; otherwise the queries are one chunk (None).
        self.present = None
        if self.chunk_tokens is not None:
            self.present = frames[0] + (frames - frames[0]).div(chunk_size, rounding_mode="floor") * chunk_size
        if bias is not None and not self.per_layer_bias:
            key_positions = frames if cache is None else cache.key_positions()
            frame_bias = self._frame_bias(key_positions)
            self.key_bias = None if frame_bias is None else frame_bias.repeat_interleave(tokens_per_frame, dim=-1)

    def _frame_bias(self, key_positions: torch.Tensor) -> torch.Tensor | None:
        """The temporal bias per query frame and key position (1 or H, Fq or 1, Nk): one row when it is the same
        for every query frame (a recency bias over one chunk), so that it takes one extra key channel."""
        frame_bias = self.temporal_bias.frame_bias(self.query_positions, key_positions, self.heads,
                                                   present=self.present)
        if frame_bias is not None and self.temporal_bias.kind == "recency" and self.present is None:
            frame_bias = frame_bias[:, :1]
        return frame_bias

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        key_bias = self.key_bias
        if self.cache is None:
            k = self.rotate(k, self.frames)
        else:
            self.cache.write(layer, k, v, self.rotate, q=q if self.cache.q is not None else None)
            k, v = self.cache.read(layer, self.rotate)
            if self.per_layer_bias and self.temporal_bias is not None:
                key_bias = self._frame_bias(self.cache.key_token_positions(layer))
        q = self.rotate(q, self.query_positions)
        k, v = k.to(q.dtype), v.to(q.dtype)
        if self.chunk_tokens is not None:
            return chunk_causal_attention(q, k, v, chunk_tokens=self.chunk_tokens, key_bias=key_bias)
        if key_bias is not None:
            return frame_biased_attention(q, k, v, key_bias)
        return fast_attention(q, k, v)


def frame_chunks(num_frames: int, chunk_size: int, *, device=None) -> torch.Tensor:
    """Chunk index of each of ``num_frames`` frames for chunks of ``chunk_size``: (F,)."""
    return torch.arange(num_frames, device=device) // chunk_size
