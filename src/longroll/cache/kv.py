"""A frame-granular KV cache with an attention sink and a sliding window, in fixed memory.

The window holds ``W`` latent frames in total: ``N`` sink frames (the first frames of the video,
kept for the whole rollout, FLEX §3.4 / LongLive) plus a ring of ``R = W - N`` slots for the most
recent frames, the chunk being denoised included. Frame ``j`` lives in slot ``j`` if ``j < N``,
else in slot ``N + (j - N) mod R``; writing a new frame therefore evicts the frame ``R`` earlier in
O(1), with no copy of the cache (LongLive clones the whole cache on every forward instead).

Every slot also records its frame's *timeline* position (the frame index plus the gaps of every
RoPE Cut before it) and the temporal RoPE position of a key or query is given by the configured
policy (``longroll.rope.positions``): ``absolute`` (the timeline, as the released models) or
``relative`` (positions inside the window: StreamingLLM / Deep Sink / Infinity-RoPE).

Keys are stored either rotated at their absolute positions (Self Forcing's policy: cheapest) or
un-rotated and rotated on every read with the caller's current frequencies (needed for a dynamic
RoPE scale and for any position policy but ``absolute``). Both go through one
``rotate(x, positions)`` callback supplied by the model, so the model's attention code is the same
for every policy.

Verbs: ``begin(start_frame, num_frames)`` claims slots for frames about to be written (a chunk, or
frames of the window recomputed after a prompt switch); ``write(layer, k, v)`` stores that chunk
(few-step denoising calls it once per step, overwriting); ``read(layer)`` returns the window;
``flush(keep)`` drops every recent frame but the last ``keep`` (Infinity-RoPE's KV Flush);
``cut(gap)`` makes the frames written from now on ``gap`` positions later (RoPE Cut); ``reset()``
empties it.

What the extenders below do with the frames leaving the ring lives in ``longroll.cache.leaving`` (the
cache's eviction policies, a mixin); the rules they apply in ``compression``, ``future``, ``history`` and
``memory``.

Relax Forcing (arXiv 2603.21366; ``history = H``): H slots between the sink and the ring hold history
frames chosen, whenever frames leave the ring, among them and the history held (``longroll.cache.history``:
relevance minus redundancy); under ``relative`` positions they sit with the sink right before the tail.
RECAP-Forcing (arXiv 2608.26671; ``history_rule = "novelty"``): the same slots hold a novelty bank, the
frames whose content no kept frame explains.
FadeMem (arXiv 2606.10671; ``fade = p``): the same slots hold entries, span-weighted means of adjacent frames
(keys un-rotated), a leaving frame entering as a fine entry and adjacent entries merged by a power law.

PackForcing, zero-shot (arXiv 2603.25730; ``pack = p``): Participative Compression's released frames are
packed first (``longroll.cache.compression.pack_tokens``: frame pairs x p x p blocks of the ``grid`` averaged),
and under relative positions the kept packs spread over the middle's positions by their timeline.

Future Forcing (arXiv 2605.30083; ``future``): the compression scores its candidates by a proxy of the
future queries (the running moments of the clean pre-RoPE queries so far, ``longroll.cache.future``) and merges
the redundant ones into their nearest kept token instead of dropping them.

EMA-Sink (Reward Forcing, arXiv 2512.04678; ``sink_ema = a``): when frames leave the ring, the sink
becomes ``a sink + (1 - a) leaving``, keys and values alike, frame by frame when as many frames leave
as the sink holds (the released model: chunk 3, sink 3, a = 0.999); otherwise (our reading) the mean
of the leaving frames is folded into every sink frame. Keys are cached un-rotated, since averaging
keys rotated at different positions would mix their phases.

Legend: L layers, B batch, H heads, W window frames, T tokens per frame, D head dim.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from longroll._validate import check_int
from longroll.cache.compression import CompressedTokens
from longroll.cache.config import CacheConfig
from longroll.cache.future import QueryStats
from longroll.cache.leaving import LeavingFrames
from longroll.cache.memory import MemoryTokens
from longroll.devices import on_device
from longroll.rope.positions import window_positions

# rotate(x (B, H, n*T, D), frame_positions (n,)) -> rotated x
KeyRotation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class KVCache(LeavingFrames):
    """Preallocated per-layer keys and values for a window of latent frames, with their positions."""

    reuse_rotated = True  # rotate un-rotated keys once per chunk (False: on every read, the way it was before)

    def __init__(
        self,
        config: CacheConfig,
        *,
        num_layers: int,
        batch_size: int,
        num_heads: int,
        tokens_per_frame: int,
        head_dim: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        grid: tuple[int, int] | None = None,
    ) -> None:
        if config.pack is not None and (grid is None or grid[0] * grid[1] != tokens_per_frame):
            raise ValueError(f"PackForcing packs blocks of a frame's token grid: this cache needs grid = (rows, cols) "
                             f"holding its {tokens_per_frame} tokens, got {grid}.")
        self.grid = grid  # (rows, cols) of a frame's tokens, row-major (PackForcing's blocks)
        for name, value in (("num_layers", num_layers), ("batch_size", batch_size), ("num_heads", num_heads),
                            ("tokens_per_frame", tokens_per_frame), ("head_dim", head_dim)):
            check_int(name, value, low=1)
        self.config = config
        self.tokens_per_frame = tokens_per_frame
        shape = (num_layers, batch_size, num_heads, config.slots, tokens_per_frame, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, S, T, D), S = sink + ring slots
        self.v = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, S, T, D)
        self.positions = torch.full((config.slots,), -1, dtype=torch.long, device=device)  # (S,) frame per slot
        self.timeline = torch.zeros((config.slots,), dtype=torch.long, device=device)  # (S,) timeline per slot
        # Participative Compression: the Top-C token store and the queries of the newest R frames.
        self.compressed: CompressedTokens | None = None
        self.q: torch.Tensor | None = None
        if config.budget is not None:
            self.compressed = CompressedTokens(num_layers, batch_size, num_heads, config.compressed * tokens_per_frame,
                                               head_dim, device=device, dtype=dtype)
            self.q = torch.zeros(num_layers, batch_size, num_heads, config.recent, tokens_per_frame, head_dim,
                                 device=device, dtype=dtype)  # (L, B, H, R, T, D), frame j in row j mod R
        # Future Forcing: the running moments of the clean pre-RoPE queries, the proxy of the future ones.
        self.query_stats = QueryStats(num_layers, num_heads, head_dim, device=device) if config.future else None
        self._queries_to = 0  # Future Forcing: frames before this one are in the proxy
        self.memory: MemoryTokens | None = None
        if config.memory:
            self.memory = MemoryTokens(num_layers, batch_size, num_heads, tokens_per_frame, head_dim,
                                       config.memory_rates, config.memory_pool, device=device, dtype=dtype)
        # Rolling Sink: the un-rotated keys and values of the first window of frames, replayed later.
        self.archive: tuple[torch.Tensor, torch.Tensor] | None = None
        if config.rolling:
            archive_shape = (num_layers, batch_size, num_heads, config.window, tokens_per_frame, head_dim)
            self.archive = (torch.zeros(archive_shape, device=device, dtype=dtype),
                            torch.zeros(archive_shape, device=device, dtype=dtype))
        # Host-side bookkeeping (no device sync on the hot path): which slots hold a frame.
        self._frames: list[int | None] = [None] * config.slots  # frame held by each slot
        self._history: dict[int, int] = {}  # Relax Forcing: frame -> history slot, for the history frames held
        self._spans: dict[int, int] = {}  # FadeMem: history slot -> frames merged into its entry (its newest: its id)
        self._times: dict[int, float] = {}  # FadeMem: history slot -> its frames' mean timeline, unrounded
        # Slots whose frames take positions with the sink's under a relative policy: the sink's and the history's.
        self._anchored = torch.arange(config.slots, device=device) < config.sink + config.history
        self._end = 0  # one past the newest frame ever written
        self._offset = 0  # timeline - frame for frames written from now on (sum of RoPE Cut gaps)
        self._chunk: tuple[int, int] | None = None  # (start_frame, num_frames) claimed by begin()
        self._chunk_slots: torch.Tensor | None = None  # (f,) slots of that chunk
        self._chunk_slot_list: list[int] = []  # the same slots on the host
        self._chunk_positions: torch.Tensor | None = None  # (f,) frames of that chunk
        self._read_slots: torch.Tensor | None = None  # (n,) slots to read when they are not a prefix
        self._rope: tuple[torch.Tensor, torch.Tensor] | None = None  # (key positions, query positions) memo
        # Un-rotated keys, rotated once per chunk: per layer (key positions, rotator, rotated window keys); valid
        # while the keys were changed only by ``write`` (whose claimed chunk is then rotated again on its own).
        self._rotated: dict[int, tuple] = {}
        self._written_version: int | None = None  # self.k's version counter after the last ``write``
        self._signature: tuple | None = None  # what the read order and positions were last computed from
        self._refresh()

    # ------------------------------------------------------------------ queries
    @property
    def end_frame(self) -> int:
        """One past the newest frame written so far (the next chunk's start)."""
        return self._end

    @property
    def num_frames(self) -> int:
        """Frames currently in the window (at most W)."""
        return self._count

    @property
    def num_compressed(self) -> int:
        """Tokens in the window that are not frames: kept by Participative Compression or the memory streams."""
        if self.compressed is not None:
            return self.compressed.count
        return 0 if self.memory is None else self.memory.count

    @property
    def nbytes(self) -> int:
        extra = sum(memo[2].nbytes for memo in self._rotated.values())  # the rotated keys kept for the chunk
        extra += 0 if self.compressed is None else self.compressed.nbytes + self.q.nbytes
        extra += 0 if self.query_stats is None else self.query_stats.nbytes
        extra += 0 if self.memory is None else self.memory.nbytes
        extra += 0 if self.archive is None else self.archive[0].nbytes + self.archive[1].nbytes
        return self.k.nbytes + self.v.nbytes + self.positions.nbytes + self.timeline.nbytes + extra

    def slot(self, frame: int) -> int:
        """The slot that holds (or will hold) ``frame``."""
        n, r = self.config.sink, self.config.ring
        if frame < n:
            return frame
        held = self._history.get(frame)
        return held if held is not None else n + self.config.history + (frame - n) % r

    def holds(self, frame: int) -> bool:
        """Whether ``frame`` is still in the window."""
        return 0 <= frame < self._end and self._frames[self.slot(frame)] == frame

    def held_frames(self) -> list[int]:
        """The frames in the window, in time order."""
        return sorted(f for f in self._frames if f is not None)

    def _slots(self) -> torch.Tensor | slice:
        """The slots holding frames: a prefix slice, or an index tensor after a KV Flush left holes."""
        return slice(0, self.num_frames) if self._read_slots is None else self._read_slots

    def frame_positions(self) -> torch.Tensor:
        """Absolute latent-frame index of every frame in the window, in read order: (n,)."""
        return self.positions[self._slots()]

    def key_positions(self) -> torch.Tensor:
        """Temporal RoPE position of every frame in the window under the policy, in read order: (n,) float64."""
        return self._rope_positions()[0]

    def query_positions(self) -> torch.Tensor:
        """Temporal RoPE positions of the chunk claimed by ``begin``: (f,) float64."""
        return self._rope_positions()[1]

    def _rope_positions(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._chunk_slots is None:
            raise RuntimeError("KVCache positions asked before begin(start_frame, num_frames).")
        if self._rope is None:
            slots = self._slots()
            cfg = self.config
            is_sink = (self.positions[slots] < cfg.sink) | self._anchored[slots]  # sink (and history) frames
            pseudo = self._pseudo_frames()  # (C,) pseudo-frame of each non-frame token, or None
            # Host-side counts (no device sync in the forward): pseudo-frames of the block, sink frames held.
            t = self.tokens_per_frame
            reserved = 0 if pseudo is None else 2 if self.memory is not None else -(-self.num_compressed // t)
            keys = window_positions(self.timeline[slots], is_sink, cfg.positions, reserved=reserved)
            block = None
            if cfg.positions == "relative" and pseudo is not None:
                # The kept tokens (Temporal RoPE Unification) or the memory streams right after the sink.
                sinks = sum(f is not None and f < cfg.sink for f in self._frames)
                block = sinks + pseudo.to(torch.float64)
            if cfg.anchor is not None and keys.numel():
                shift = float(cfg.anchor) - keys.max()  # the newest frame at the anchor; no host read
                keys = keys + shift
                block = None if block is None else block + shift
            query = keys[self._chunk_read_index]  # the chunk's frames within the read order
            self._rope = (keys, query, block)
        return self._rope[0], self._rope[1]

    def _pseudo_frames(self) -> torch.Tensor | None:
        """Pseudo-frame after the sink of each non-frame token (C,), or None when there are none."""
        n = self.num_compressed
        if not n:
            return None
        if self.memory is not None:
            return self.memory.pseudo_frames(self.positions.device)
        return torch.arange(n, device=self.positions.device).div(self.tokens_per_frame, rounding_mode="floor")

    def compressed_positions(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Temporal positions (float64) and grid indices of the non-frame tokens of ``layer``: (C,) each."""
        self._rope_positions()
        n = self.num_compressed
        if self.memory is not None:
            return self._rope[2], self.memory.space(self.positions.device)
        space = self.compressed.space[layer, :n]
        if self._rope[2] is not None and self.config.pack is not None:
            # PackForcing: the packs spread over the middle's positions by their timeline, continuously.
            time = self.compressed.time[layer, :n].to(torch.float64)
            first, last = time.min(), time.max()
            start = self._rope[2][0]  # where the middle starts: its first token's pseudo-frame is 0
            return start + self.config.compressed * (time - first) / (last - first + 1), space
        if self._rope[2] is not None:
            return self._rope[2], space
        return self.compressed.time[layer, :n].to(torch.float64), space

    def _extra_tokens(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the non-frame tokens of ``layer``: (B, H, C, D) each."""
        if self.memory is not None:
            return self.memory.tokens(layer)
        ck, cv, _, _ = self.compressed.candidates()
        return ck[layer], cv[layer]

    # ------------------------------------------------------------------ verbs
    def begin(self, start_frame: int, num_frames: int) -> None:
        """Claim slots for frames ``[start_frame, start_frame + num_frames)`` before writing them.

        Either the next frames (``start_frame == end_frame``; evicts the oldest non-sink frames) or
        frames still in the window (a recompute, e.g. re-caching under a new prompt; they keep the
        timeline they were written with).
        """
        check_int("num_frames", num_frames, low=1, high=self.config.ring)
        check_int("start_frame", start_frame, low=0)
        end = start_frame + num_frames
        if start_frame < self._end:
            # Recompute: every frame must still be in the window and the chunk may not run past the end
            # unless it starts exactly at it.
            missing = [f for f in range(start_frame, min(end, self._end)) if not self.holds(f)]
            if missing or end > self._end:
                raise ValueError(
                    f"Cannot rewrite frames [{start_frame}, {end}): the window holds frames "
                    f"{self.held_frames()} and new frames must start at {self._end}."
                )
        elif start_frame > self._end:
            raise ValueError(f"Frames must be written in order: the next frame is {self._end}, got {start_frame}.")
        frames = list(range(start_frame, end))
        slots = [self.slot(f) for f in frames]
        evicted = [self._frames[s] for f, s in zip(frames, slots)
                   if f >= self._end and self._frames[s] is not None and self._frames[s] >= self.config.sink]
        if self.config.history and evicted and self.config.fade is not None:
            self._fade_history(evicted)  # FadeMem: the frames about to leave enter as fine entries, the old merge
        elif self.config.history and evicted:
            self._keep_history(evicted)  # Relax Forcing: the frames about to leave compete for the history slots
        if self.query_stats is not None and self._chunk is not None and start_frame == self._end:
            self._count_queries()  # Future Forcing: the finished chunk's clean queries join the proxy
        if self.compressed is not None and evicted:
            self._compress()  # the window is full: keep the Top-C tokens of the candidates before evicting
        if self.memory is not None and evicted:
            self._remember(evicted)  # fold the frames about to leave into the memory streams
        if self.config.sink_ema is not None and evicted:
            self._fold_into_sink(evicted)  # EMA-Sink: the frames about to leave update the sink
        if self.archive is not None and start_frame == self._end and start_frame >= self.config.window:
            self._roll(start_frame - num_frames, num_frames)
        device = self.positions.device
        if (start_frame, num_frames) != self._chunk or slots != self._chunk_slot_list:  # else: its next step
            self._chunk_slots = on_device(slots, device)
            self._chunk_positions = on_device(frames, device)
        self._chunk = (start_frame, num_frames)
        self._chunk_slot_list = slots
        new = [(f, s) for f, s in zip(frames, slots) if f >= self._end]
        if new:
            new_slots = on_device([s for _, s in new], device)
            self.positions.index_copy_(0, new_slots, on_device([f for f, _ in new], device))
            self.timeline.index_copy_(0, new_slots, on_device([f + self._offset for f, _ in new], device))
            for f, s in new:
                self._frames[s] = f
        self._end = max(self._end, end)
        self._refresh()

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor, rotate: KeyRotation | None = None,
              q: torch.Tensor | None = None) -> None:
        """Store the claimed chunk's keys and values for ``layer``: ``k, v (B, H, f*T, D)``, keys un-rotated.

        With the rotated policy ``rotate`` is applied here at the chunk's timeline positions. ``q`` (same
        shape, un-rotated): the chunk's queries, kept for the newest frames when Participative
        Compression scores candidates.
        """
        if self._chunk is None or self._chunk_slots is None or self._chunk_positions is None:
            raise RuntimeError("KVCache.write called before begin(start_frame, num_frames).")
        b, h, _, t, d = self.k.shape[1:]
        f = self._chunk[1]
        if k.shape != (b, h, f * t, d) or v.shape != k.shape:
            raise ValueError(f"KVCache.write expects k and v of shape {(b, h, f * t, d)}, got {tuple(k.shape)} "
                             f"and {tuple(v.shape)}.")
        if self.config.rotated and rotate is not None:
            k = rotate(k, self.query_positions())
            q = None if q is None else rotate(q, self.query_positions())
        self._check_rotated()
        self.k[layer].index_copy_(2, self._chunk_slots, k.reshape(b, h, f, t, d).to(self.k.dtype))
        self._written_version = self.k._version
        self.v[layer].index_copy_(2, self._chunk_slots, v.reshape(b, h, f, t, d).to(self.v.dtype))
        if self.archive is not None:  # Rolling Sink: keep the first window's content, un-rotated
            rows = [i for i in range(f) if self._chunk[0] + i < self.config.window]
            if rows:
                index = on_device(rows, self.k.device)
                where = index + self._chunk[0]
                self.archive[0][layer].index_copy_(2, where, k.reshape(b, h, f, t, d)[:, :, index].to(self.k.dtype))
                self.archive[1][layer].index_copy_(2, where, v.reshape(b, h, f, t, d)[:, :, index].to(self.v.dtype))
        if self.q is not None and q is not None:
            r = self.config.recent
            start = self._chunk[0]
            keep = [i for i in range(f) if start + i >= self._end - r]  # only the newest R frames
            if keep:
                rows = on_device([(start + i) % r for i in keep], self.q.device)
                q = q.reshape(b, h, f, t, d)[:, :, keep]
                self.q[layer].index_copy_(2, rows, q.to(self.q.dtype))

    def read(self, layer: int, rotate: KeyRotation | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the whole window for ``layer``: (B, H, n*T, D) each, read order.

        Use ``frame_positions()`` for the frame of each slot. With un-rotated keys they are rotated
        here by ``rotate`` at the policy's positions (``key_positions()``) with the caller's frequencies.
        """
        n = self.num_frames
        b, h, _, t, d = self.k.shape[1:]
        slots = self._slots()
        k = self.k[layer, :, :, slots].reshape(b, h, n * t, d)
        v = self.v[layer, :, :, slots].reshape(b, h, n * t, d)
        if not self.config.rotated and rotate is not None:
            k = self._rotated_keys(layer, k, rotate)
        if self.num_compressed:
            ck, cv = self._extra_tokens(layer)
            if not self.config.rotated and rotate is not None:
                ck = rotate.tokens(ck, *self.compressed_positions(layer))
            k, v = torch.cat([k, ck.to(k.dtype)], dim=2), torch.cat([v, cv.to(v.dtype)], dim=2)
        return k, v

    def _check_rotated(self) -> None:
        """Forget the rotated keys if anything but ``write`` changed the keys since (a fold into the sink, a
        Rolling Sink replay, an init, a flush): seen from the keys' version counter, whatever changed them."""
        if self._rotated and self.k._version != self._written_version:
            self._rotated.clear()

    def _rotated_keys(self, layer: int, k: torch.Tensor, rotate: KeyRotation) -> torch.Tensor:
        """``rotate(k, key_positions())``, computed whole once per chunk: while the positions, the rotation and
        every key but the claimed chunk's stay the same (the chunk's denoising steps and its context pass),
        only the chunk's tokens are rotated again, with the rows of the same cos / sin tables, so the result
        has the same bits. A rotation without ``rows`` (a plain function) rotates everything, as before."""
        positions = self.key_positions()
        rows = getattr(rotate, "rows", None)
        if rows is None or not self.reuse_rotated:
            return rotate(k, positions)
        self._check_rotated()
        memo = self._rotated.get(layer)
        if memo is not None and memo[0] is positions and memo[1].same_as(rotate) and memo[2].shape == k.shape:
            rotated, index = memo[2], self._chunk_token_index
            rotated.index_copy_(2, index, rows(k.index_select(2, index), positions, index))
            return rotated
        rotated = rotate(k, positions)
        self._rotated[layer] = (positions, rotate, rotated)
        return rotated

    def key_token_positions(self, layer: int) -> torch.Tensor:
        """Temporal position of every key token ``read(layer)`` returns: (n*T + C,) float64."""
        frames = self.key_positions().repeat_interleave(self.tokens_per_frame)
        if not self.num_compressed:
            return frames
        return torch.cat([frames, self.compressed_positions(layer)[0]])

    def flush(self, keep: int) -> None:
        """KV Flush (Infinity-RoPE §3.2): keep the sink and the last ``keep`` frames, drop the rest.

        Nothing is copied: the dropped slots are only marked empty, and the next frames fill them.
        """
        check_int("keep", keep, low=0, high=self.config.ring - 1)
        last = [f for f in self.held_frames() if f >= self.config.sink][-keep:] if keep else []
        for s, f in enumerate(self._frames):
            if f is not None and f >= self.config.sink and f not in last:
                self._frames[s] = None
                self.positions[s] = -1
        self._history = {f: s for f, s in self._history.items() if self._frames[s] == f}
        self._spans = {s: n for s, n in self._spans.items() if s in self._history.values()}
        self._times = {s: t for s, t in self._times.items() if s in self._history.values()}
        if self.compressed is not None:
            self.compressed.clear()
        if self.memory is not None:
            self.memory.clear()
        self._chunk = self._chunk_slots = self._chunk_positions = None
        self._refresh()

    def frames_kv(self, frames: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of held ``frames`` over every layer, as stored: (L, B, H, n, T, D) each."""
        missing = [f for f in frames if not self.holds(f)]
        if missing:
            raise ValueError(f"Frames {missing} are not in the window (it holds {self.held_frames()}).")
        slots = on_device([self.slot(f) for f in frames], self.k.device)
        return self.k.index_select(3, slots), self.v.index_select(3, slots)

    def load(self, frames: list[int], k: torch.Tensor, v: torch.Tensor, *, end: int | None = None) -> None:
        """Put given keys and values ``(L, B, H, n, T, D)`` in as ``frames`` (increasing, from the current
        end on; gaps allowed), as if they had been written there: for a window assembled from other
        caches' frames (Rolling Forcing's anchor and recent frames). Keys as ``frames_kv`` gives them.
        ``end``: the next frame to write, when it is not right after the last one loaded."""
        if any(b <= a for a, b in zip(frames, frames[1:])) or (frames and frames[0] < self._end):
            raise ValueError(f"Frames to load must increase from the window's end ({self._end}), got {frames}.")
        if len(frames) > self.config.slots or k.shape[3] != len(frames) or v.shape != k.shape:
            raise ValueError(f"Cannot load {len(frames)} frames ({tuple(k.shape)}) into a window of "
                             f"{self.config.slots} slots.")
        slots = [self.slot(f) for f in frames]
        if len(set(slots)) != len(slots):
            raise ValueError(f"Frames {frames} would share slots of the ring of {self.config.ring}.")
        device = self.k.device
        index = on_device(slots, device)
        self.k.index_copy_(3, index, k.to(self.k.dtype))
        self.v.index_copy_(3, index, v.to(self.v.dtype))
        self.positions.index_copy_(0, index, on_device(frames, device))
        self.timeline.index_copy_(0, index, on_device([f + self._offset for f in frames], device))
        for f, slot in zip(frames, slots):
            self._frames[slot] = f
        self._end = max(frames[-1] + 1 if frames else self._end, end if end is not None else 0)
        self._refresh()

    def cut(self, gap: int) -> None:
        """RoPE Cut (Infinity-RoPE §3.3): frames written from now on sit ``gap`` timeline positions later."""
        check_int("gap", gap, low=0)
        self._offset += gap

    def reset(self) -> None:
        """Empty the window (e.g. before a new video); storage is kept, not reallocated."""
        self.k.zero_()
        self.v.zero_()
        self.positions.fill_(-1)
        self.timeline.zero_()
        self._frames = [None] * self.config.slots
        self._history.clear()
        self._spans.clear()
        self._times.clear()
        if self.query_stats is not None:
            self.query_stats.clear()
            self._queries_to = 0
        if self.compressed is not None:
            self.compressed.clear()
        if self.memory is not None:
            self.memory.clear()
        self._end = self._offset = 0
        self._chunk = self._chunk_slots = self._chunk_positions = None
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the read order after the set of held slots changed. Nothing is recomputed when nothing it
        depends on changed (a chunk claimed again for its next denoising step): its positions stay the same
        tensors, which is what lets ``_rotated_keys`` rotate the window once per chunk."""
        signature = (tuple(self._frames), self._chunk, self._offset, self.positions._version, self.timeline._version,
                     self.num_compressed)
        if signature == self._signature:
            return
        self._signature = signature
        held = [s for s, f in enumerate(self._frames) if f is not None]
        self._count = len(held)
        prefix = held == list(range(len(held)))
        device = self.positions.device
        self._read_slots = None if prefix else on_device(held, device)
        # Where the claimed chunk's slots stand in the read order (computed here, on the host, once per begin).
        order = {s: i for i, s in enumerate(held)}
        chunk = [] if self._chunk_slots is None else self._chunk_slot_list
        read = [order[s] for s in chunk if s in order]
        self._chunk_read_index = on_device(read, device)
        t = self.tokens_per_frame  # the chunk's tokens within the read order's n * T
        self._chunk_token_index = on_device([i * t + j for i in read for j in range(t)], device)
        self._rope = None


__all__ = ["KVCache", "KeyRotation"]
