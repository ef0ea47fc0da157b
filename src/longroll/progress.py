"""Progress bars: tqdm when it is installed and wanted, a silent stand-in otherwise."""

from __future__ import annotations


class NoBar:
    """The tqdm methods the project calls, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, *, desc: str, unit: str, enabled: bool = True):
    """A tqdm bar over ``total`` units, or a ``NoBar`` when disabled or tqdm is missing."""
    if not enabled:
        return NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with every extra that shows bars
        return NoBar()
    return tqdm(total=total, desc=desc, unit=unit, smoothing=0.1)


__all__ = ["NoBar", "progress_bar"]
