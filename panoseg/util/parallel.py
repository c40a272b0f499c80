"""Ordered, bounded thread-parallel map: the streaming engine behind the per-image loops."""
from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: Optional[int] = None,
                batch: int = 1) -> Iterator[R]:
    """Yields ``fn(item)`` for each item, in input order, computed by ``workers`` threads.

    ``batch`` items go to a thread as one task (for items that take a millisecond or less, a
    task per item costs a future and two thread hand-offs each). At most ``2 * workers`` tasks
    are in flight, so memory does not grow with the number of items. The kernels release the
    GIL, which is what makes threads pay off. The first exception (in input order) is re-raised
    in the caller and the tasks not yet started are cancelled.
    """
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    batch = int(batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if workers == 1:
        yield from map(fn, items)
        return

    def run(chunk):
        # The items before a failing one are still yielded, then its exception raised.
        results = []
        try:
            for item in chunk:
                results.append(fn(item))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller, in order
            return results, e
        return results, None

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="panoseg")
    pending: deque = deque()
    try:
        for chunk in _chunks(items, batch):
            pending.append(pool.submit(run, chunk))
            if len(pending) >= 2 * workers:
                yield from _results(pending.popleft())
        while pending:
            yield from _results(pending.popleft())
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


def _results(future) -> Iterator:
    results, error = future.result()
    yield from results
    if error is not None:
        raise error


def _chunks(items: Iterable[T], size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_local = threading.local()


def thread_buffer(name: str, shape, dtype) -> np.ndarray:
    """A scratch array owned by the calling thread, reused across calls with the same name.

    Per-image buffers of megabytes, freshly allocated each time, cost page faults that serialize
    the threads on the process' memory map; reusing them keeps the threads independent. The
    contents are whatever the previous user left: callers overwrite them completely.
    """
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    shape = tuple(shape)
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    flat = buffers.get(name)
    if flat is None or flat.nbytes < size:
        flat = buffers[name] = np.empty(size, np.uint8)
    return flat[:size].view(dtype).reshape(shape)
