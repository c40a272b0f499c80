"""Ordered, bounded thread-parallel map: the streaming engine behind the per-image loops."""
from __future__ import annotations

import os
import threading
from collections import deque
from queue import SimpleQueue

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:  # nor numpy: it is imported where a buffer is made
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
    tasks: SimpleQueue = SimpleQueue()
    threads = []
    pending: deque = deque()
    try:
        for item in items:
            task = _Task(fn, item)
            if len(threads) < workers:  # one thread per task until there are ``workers``
                threads.append(threading.Thread(target=_work, args=(tasks,), daemon=True,
                                                name=f"panoseg_{len(threads)}"))
                threads[-1].start()
            tasks.put(task)
            pending.append(task)
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for task in pending:
            task.cancelled = True
        for _ in threads:
            tasks.put(None)
        for thread in threads:
            thread.join()


class _Task:
    """One call of :func:`ordered_map`: ``concurrent.futures``' Future and thread pool cost a
    command's start-up ~10 ms of imports (logging, traceback) for what a lock does here."""

    __slots__ = ("fn", "item", "value", "error", "cancelled", "_done")

    def __init__(self, fn, item):
        self.fn, self.item = fn, item
        self.value = self.error = None
        self.cancelled = False
        self._done = threading.Lock()
        self._done.acquire()  # released when the call is over (or skipped)

    def run(self) -> None:
        if not self.cancelled:
            try:
                self.value = self.fn(self.item)
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller, as a Future does
                self.error = e
        self.fn = self.item = None
        self._done.release()

    def result(self):
        self._done.acquire()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        value, self.value = self.value, None
        return value


def _work(tasks: SimpleQueue) -> None:
    """A worker thread of :func:`ordered_map`: runs tasks until it gets None."""
    while True:
        task = tasks.get()
        if task is None:
            return
        task.run()

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
