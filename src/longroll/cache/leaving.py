"""What the training-free extenders do with the frames leaving a KV cache's ring, as a part of ``KVCache``.

``longroll.cache.kv.KVCache.begin`` finds the frames a new chunk will evict and hands them to the policies
its ``CacheConfig`` turns on, each a method here over the cache's storage (``k``, ``v``, ``positions``,
``timeline``) and host-side bookkeeping (``_frames``, ``_history``): Participative Compression, with
PackForcing's packs or Future Forcing's proxy (``_compress``, ``_count_queries``); Relax Forcing's selected
history and RECAP-Forcing's novelty bank (``_keep_history``); FadeMem's merged entries (``_fade_history``);
MemRoPE's memory streams (``_remember``); Reward Forcing's EMA sink (``_fold_into_sink``); Rolling Sink's
replay (``_roll``). The rules themselves (which tokens, frames or entries) are pure functions in
``compression``, ``future``, ``history`` and ``memory``; here they meet the window.

Legend: L layers, B batch, H heads, n frames, T tokens per frame, D head dim.
"""

from __future__ import annotations

import torch

from longroll.cache.compression import pack_tokens, participation_scores, top_tokens
from longroll.cache.future import future_scores, merge_redundant
from longroll.cache.history import fade_groups, frame_descriptors, select_history, select_novel, token_descriptors
from longroll.devices import on_device


class LeavingFrames:
    """The eviction policies of ``KVCache`` (a mixin: every attribute it reads is the cache's)."""

    def _compress(self) -> None:
        """Participative Compression (``longroll.cache.compression``): candidates are every ring frame but the
        newest R, plus the tokens kept before; the Top-C are kept, the candidate frames' slots freed."""
        cfg, t = self.config, self.tokens_per_frame
        ring = [f for f in self.held_frames() if f >= cfg.sink]
        recent, cands = ring[-cfg.recent:], ring[:-cfg.recent]
        if not cands:
            return
        device = self.k.device
        num_layers, b, h, _, _, d = self.k.shape
        slots = on_device([self.slot(f) for f in cands], device)
        if cfg.pack is not None:  # PackForcing: the released frames packed before they compete
            cand_k, cand_v, time, space = pack_tokens(self.k[:, :, :, slots], self.v[:, :, :, slots],
                                                      self.timeline[slots], self.grid, cfg.pack)
        else:
            cand_k = self.k[:, :, :, slots].reshape(num_layers, b, h, len(cands) * t, d)
            cand_v = self.v[:, :, :, slots].reshape(num_layers, b, h, len(cands) * t, d)
            time = self.timeline[slots].repeat_interleave(t)[None].expand(num_layers, -1)
            space = torch.arange(t, device=device).repeat(len(cands))[None].expand(num_layers, -1)
        old_k, old_v, old_time, old_space = self.compressed.candidates()
        cand_k, cand_v = torch.cat([old_k, cand_k], dim=3), torch.cat([old_v, cand_v], dim=3)
        time, space = torch.cat([old_time, time], dim=1), torch.cat([old_space, space], dim=1)
        if cfg.future:  # Future Forcing: importance under the proxy of future queries, redundant tokens merged
            scores = future_scores(self.query_stats, cand_k)
            index = top_tokens(scores, time, space, self.compressed.capacity, t)
            merge_redundant(cand_k, cand_v, time, scores, index)
        else:
            rows = on_device([f % cfg.recent for f in recent], device)
            recent_q = self.q[:, :, :, rows].reshape(num_layers, b, h, len(recent) * t, d)
            index = top_tokens(participation_scores(recent_q, cand_k), time, space, self.compressed.capacity, t)
        self.compressed.store(cand_k, cand_v, time, space, index)
        for f in cands:
            s = self.slot(f)
            self._frames[s] = None
            self.positions[s] = -1
        self._refresh()

    def _count_queries(self) -> None:
        """Future Forcing: add the last chunk's queries (its clean-context pass wrote them last) to the proxy, each
        frame once (a chunk re-run under a new prompt is not counted again)."""
        start, num = self._chunk
        r = self.config.recent
        frames = [f for f in range(max(start, self._queries_to), start + num) if f >= self._end - r]
        if frames:
            self.query_stats.update(self.q[:, :, :, on_device([f % r for f in frames], self.q.device)])
        self._queries_to = max(self._queries_to, start + num)

    def _keep_history(self, evicted: list[int]) -> None:
        """Relax Forcing (RECAP-Forcing's novelty bank): among the history frames held and the frames about to
        leave the ring, keep the ``history`` ones ``select_history`` (``select_novel``) picks, from the middle
        layer's values; the kept leaving frames are copied into free history slots, every layer, with their
        positions."""
        cfg = self.config
        device = self.k.device
        candidates = sorted(set(self._history) | set(evicted))
        tail = [f for f in self.held_frames() if f >= cfg.sink and f not in self._history and f not in evicted]
        mid = self.v.shape[0] // 2
        values = self.v[mid][:, :, on_device([self.slot(f) for f in candidates + tail], device)]
        if cfg.history_rule == "novelty":  # RECAP-Forcing: the bank keeps what no kept frame (sink too) explains
            sink = [f for f in self.held_frames() if f < cfg.sink]
            refs = token_descriptors(self.v[mid][:, :, on_device([self.slot(f) for f in sink], device)])
            tokens = token_descriptors(values)  # (n + m, T, D)
            chosen = select_novel(tokens[:len(candidates)], torch.cat([refs, tokens[len(candidates):]]), cfg.history)
        else:
            desc = frame_descriptors(values)  # (n + m, E)
            desc, tail_desc = desc[:len(candidates)], desc[len(candidates):]
            newest = tail_desc[-1] if tail else desc[-1]
            chosen = select_history(desc, tail_desc, newest, cfg.history, cfg.history_lambda)
        keep = {candidates[i] for i in chosen}
        for frame in [f for f in self._history if f not in keep]:
            slot = self._history.pop(frame)
            self._frames[slot] = None
            self.positions[slot] = -1
        new = sorted(f for f in keep if f not in self._history)
        free = [s for s in range(cfg.sink, cfg.sink + cfg.history) if self._frames[s] is None][:len(new)]
        if not new:
            return
        src, dst = on_device([self.slot(f) for f in new], device), on_device(free, device)
        for store in (self.k, self.v):
            store.index_copy_(3, dst, store.index_select(3, src))
        self.positions.index_copy_(0, dst, self.positions.index_select(0, src))
        self.timeline.index_copy_(0, dst, self.timeline.index_select(0, src))
        for frame, slot in zip(new, free):
            self._history[frame] = slot
            self._frames[slot] = frame

    def _fade_history(self, evicted: list[int]) -> None:
        """FadeMem: the history's entries and the frames about to leave (fine entries of one frame), oldest first,
        merged into at most ``history`` entries by ``fade_groups``; each entry the span-weighted mean of its keys
        (un-rotated), values and timeline, written to the history slots in time order."""
        cfg = self.config
        device = self.k.device
        entries = sorted(self._history.items())  # (its newest frame, slot), oldest first
        leaving = sorted(evicted)
        ids = [f for f, _ in entries] + leaving
        spans = [self._spans[s] for _, s in entries] + [1] * len(leaving)
        src = on_device([s for _, s in entries] + [self.slot(f) for f in leaving], device)
        groups = fade_groups(spans, cfg.history, cfg.fade)
        weights = torch.zeros(len(groups), len(ids), dtype=torch.float32)  # (E, n): each entry's mix of sources
        for e, group in enumerate(groups):
            total = sum(spans[i] for i in group)
            for i in group:
                weights[e, i] = spans[i] / total
        exact = [self._times[s] for _, s in entries] + [float(t) for t in
                                                         self.timeline.index_select(0, src[len(entries):]).tolist()]
        times = [sum(spans[i] * exact[i] for i in g) / sum(spans[i] for i in g) for g in groups]  # (E,), the host
        weights = weights.to(device)
        dst = on_device(list(range(cfg.sink, cfg.sink + len(groups))), device)
        for store in (self.k, self.v):
            mixed = torch.einsum("en,lbhntd->lbhetd", weights, store.index_select(3, src).float())
            store.index_copy_(3, dst, mixed.to(store.dtype))
        newest = [ids[group[-1]] for group in groups]
        self.positions.index_copy_(0, dst, on_device(newest, device))
        self.timeline.index_copy_(0, dst, on_device([round(t) for t in times], device))
        for slot in range(cfg.sink, cfg.sink + cfg.history):
            self._frames[slot] = None
            if slot >= cfg.sink + len(groups):
                self.positions[slot] = -1
        self._history, self._spans, self._times = {}, {}, {}
        for e, group in enumerate(groups):
            slot = cfg.sink + e
            self._history[newest[e]] = slot
            self._spans[slot] = sum(spans[i] for i in group)
            self._times[slot] = times[e]
            self._frames[slot] = newest[e]

    def _remember(self, evicted: list[int]) -> None:
        """MemRoPE: fold the frames about to be overwritten into the memory streams (``longroll.cache.memory``)."""
        slots = on_device([self.slot(f) for f in evicted], self.k.device)
        self.memory.update(self.k[:, :, :, slots], self.v[:, :, :, slots])

    def _fold_into_sink(self, evicted: list[int]) -> None:
        """EMA-Sink: ``sink <- a sink + (1 - a) leaving`` for the sink frames held (see the module docstring)."""
        sinks = [f for f in range(self.config.sink) if self.holds(f)]
        if not sinks:
            return
        a = self.config.sink_ema
        device = self.k.device
        dst = on_device([self.slot(f) for f in sinks], device)
        src = on_device([self.slot(f) for f in evicted], device)
        for store in (self.k, self.v):
            leaving = store.index_select(3, src).float()  # (L, B, H, n, T, D)
            if len(evicted) != len(sinks):
                leaving = leaving.mean(dim=3, keepdim=True).expand(-1, -1, -1, len(sinks), -1, -1)
            folded = a * store.index_select(3, dst).float() + (1 - a) * leaving
            store.index_copy_(3, dst, folded.to(store.dtype))

    def _roll(self, start: int, length: int) -> None:
        """Rolling Sink (arXiv 2602.07775): the previous chunk's frames ``[start, start + length)`` keep their
        positions (Sliding Indices) but take the content of the first window's frames, visited forward then
        backward in chunk steps (Sliding Semantics)."""
        held = [f for f in range(start, start + length) if self.holds(f)]
        if len(held) != length:
            return
        period = self.config.window - length  # frames one sweep of the first window covers
        forward = (start // period) % 2 == 0
        offset = start % period
        left = offset if forward else max(0, period - offset - length)
        source = list(range(left, left + length))
        if not forward:
            source = source[::-1]  # the sweep back plays the frames in reverse order
        src = on_device(source, self.k.device)
        dst = on_device([self.slot(f) for f in held], self.k.device)
        self.k.index_copy_(3, dst, self.archive[0].index_select(3, src))
        self.v.index_copy_(3, dst, self.archive[1].index_select(3, src))


__all__ = ["LeavingFrames"]
