"""The one progress bar of panoseg: tqdm on stderr (stdout stays for results and tables)."""
from __future__ import annotations

import sys


def progress_bar(total: int, enabled: bool = True, desc: str = "", *, unit: str = "img",
                 initial: int = 0, leave: bool = True):
    """A tqdm bar on stderr, or a silent one when ``enabled`` is false (same interface)."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, file=sys.stderr, unit=unit,
                desc=desc or None, dynamic_ncols=True, leave=leave)


def progress_write(message: str) -> None:
    """A line on stderr that does not break a progress bar being drawn."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
