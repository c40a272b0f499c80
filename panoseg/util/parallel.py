"""Ordered, bounded thread-parallel map: the streaming engine behind the per-image loops."""
from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, TypeVar

if TYPE_CHECKING:  # numpy is imported where a buffer is made: ordered_map's users need none
    import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: Optional[int] = None) -> Iterator[R]:
    """Yields ``fn(item)`` for each item, in input order, computed by ``workers`` threads.

    At most ``2 * workers`` items are in flight, so memory does not grow with the number of
    items. The kernels release the GIL, which is what makes threads pay off. The first exception
    is re-raised in the caller and the items not yet started are cancelled.
    """
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="panoseg")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


_local = threading.local()


def thread_buffer(name: str, shape, dtype) -> np.ndarray:
    """A scratch array owned by the calling thread, reused across calls with the same name.

    Per-image buffers of megabytes, freshly allocated each time, cost page faults that serialize
    the threads on the process' memory map; reusing them keeps the threads independent. The
    contents are whatever the previous user left: callers overwrite them completely.
    """
    import numpy as np

    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    shape = tuple(shape)
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    flat = buffers.get(name)
    if flat is None or flat.nbytes < size:
        flat = buffers[name] = np.empty(size, np.uint8)
    return flat[:size].view(dtype).reshape(shape)
