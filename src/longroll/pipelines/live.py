"""Prompt switches and cuts asked for while a video is being made (the studio's, or any caller's).

A ``LiveSwitches`` is handed to ``run`` / ``stream``; another thread calls ``ask(prompt, cond, cut)``
at any moment, and the chunk-wise rollout takes everything asked so far at the start of its next
chunk (``due``), exactly as a ``--switch`` at that chunk's time would have. What took effect, and
when, is kept (``taken``), so the sidecar records the video's real prompt schedule and ``--replay``
makes the same frames.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class TakenSwitch:
    """A switch as it took effect."""

    frame: int  # latent frame of the chunk it took effect at
    prompt: str  # the new prompt
    cut: bool  # a scene cut (KV Flush + RoPE Cut) rather than a smooth switch


class LiveSwitches:
    """Switches asked for from another thread, handed to the rollout at chunk boundaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: list[tuple[str, object, bool]] = []  # (prompt, conditioning, cut), oldest first
        self.taken: list[TakenSwitch] = []

    def ask(self, prompt: str, cond, cut: bool = False) -> None:
        """Switch to ``prompt`` (already encoded as ``cond``) from the next chunk on."""
        with self._lock:
            self._asked.append((prompt, cond, bool(cut)))

    def due(self, frame: int) -> list:
        """The switches to apply at the chunk starting at latent ``frame`` (``rollout.Switch`` objects);
        of several asked at once the last prompt wins, and a cut among them makes it a cut."""
        from longroll.pipelines.rollout import Switch

        with self._lock:
            asked, self._asked = self._asked, []
        if not asked:
            return []
        prompt, cond, _ = asked[-1]
        cut = any(c for _, _, c in asked)
        self.taken.append(TakenSwitch(frame, prompt, cut))
        return [Switch(frame, cond, cut)]

    def schedule(self, frames_per_second: float) -> list[dict]:
        """What took effect, as sidecar prompt-schedule entries (``at_seconds`` on the latent grid)."""
        return [{"at_seconds": round(s.frame / frames_per_second, 6), "prompt": s.prompt, "cut": s.cut}
                for s in self.taken]


__all__ = ["LiveSwitches", "TakenSwitch"]
