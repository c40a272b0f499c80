"""The one progress bar of panoseg: tqdm on stderr (stdout stays for results and tables)."""
from __future__ import annotations

import sys


class _NoBar:
    """A disabled bar: tqdm's interface as panoseg uses it, without importing tqdm (~25 ms of
    a command's start-up)."""

    def __init__(self, total: int, initial: int = 0):
        self.total, self.n = total, initial

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(total: int, enabled: bool = True, desc: str = "", *, unit: str = "img",
                 initial: int = 0, leave: bool = True):
    """A tqdm bar on stderr, or a silent one when ``enabled`` is false (same interface)."""
    if not enabled:
        return _NoBar(total, initial)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, file=sys.stderr, unit=unit,
                desc=desc or None, dynamic_ncols=True, leave=leave)


def progress_write(message: str) -> None:
    """A line on stderr that does not break a progress bar being drawn."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
