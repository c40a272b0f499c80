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


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: Optional[int] = None,
                batch: int = 1, total: Optional[int] = None) -> Iterator[R]:
    """Yields ``fn(item)`` for each item, in input order, computed by ``workers`` threads.

    ``batch`` items go to a thread as one task (for items that take a millisecond or less, a
    task per item costs two thread hand-offs each). With ``total``, the number of items, the
    tasks shrink towards the end (at most a ``2 * workers``-th of the items left each, down to
    one item), so that the threads finish together instead of one running a whole batch alone
    while the others idle. At most ``2 * workers`` tasks are in
    flight, so memory does not grow with the number of items. The kernels release the GIL,
    which is what makes threads pay off. The first exception (in input order) is re-raised in
    the caller and the tasks not yet started are cancelled.

    The threads are pooled: when the map ends (exhausted, failed or closed) every one of them
    has finished its last task, and they wait, idle, for the next map (at most
    ``2 * default_workers()`` wait; more threads end). A thread started afresh costs a call
    ~0.5 ms at 2 threads, with its first image's allocations and page faults; repeated
    evaluations in one process (tuning, benchmarks, a service) no longer pay it.
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
    tasks: SimpleQueue = SimpleQueue()
    finished = threading.Semaphore(0)  # released by each thread once it is done with `tasks`
    n_threads = 0
    pending: deque = deque()
    try:
        for chunk in _chunks(items, batch, total, workers):
            task = _Task(fn, chunk)
            if n_threads < workers:  # one thread per task until there are ``workers``
                _hire(n_threads).inbox.put((tasks, finished))  # a failed start is raised
                n_threads += 1
            tasks.put(task)
            pending.append(task)
            if len(pending) >= 2 * workers:
                yield from pending.popleft().results()
        while pending:
            yield from pending.popleft().results()
    finally:
        for task in pending:
            task.cancelled = True
        for _ in range(n_threads):
            tasks.put(None)
        for _ in range(n_threads):
            finished.acquire()


class _Task:
    """A batch of :func:`ordered_map`'s calls, run by one of its threads. A lock says when it
    is done: ``concurrent.futures``' Future and pool cost a command's start-up ~10 ms of imports
    (logging, traceback)."""

    __slots__ = ("fn", "chunk", "values", "error", "cancelled", "_done")

    def __init__(self, fn, chunk: list):
        self.fn, self.chunk = fn, chunk
        self.values, self.error = [], None
        self.cancelled = False
        self._done = threading.Lock()
        self._done.acquire()  # released when the task is over (or skipped)

    def run(self) -> None:
        if not self.cancelled:
            try:
                for item in self.chunk:
                    self.values.append(self.fn(item))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller, in order
                self.error = e
        self.fn = self.chunk = None
        self._done.release()

    def results(self) -> Iterator:
        """The values of the items before a failing one, then its exception."""
        self._done.acquire()
        values, error = self.values, self.error
        self.values = self.error = None
        yield from values
        if error is not None:
            raise error


def _work(tasks: SimpleQueue) -> None:
    """Runs one map's tasks until it gets None."""
    while True:
        task = tasks.get()
        if task is None:
            return
        task.run()


class _Worker:
    """A pooled thread: serves one map at a time (its task queue), then waits in ``_idle``."""

    __slots__ = ("inbox",)

    def __init__(self, name: str):
        self.inbox: SimpleQueue = SimpleQueue()  # (tasks, finished) of the next map
        threading.Thread(target=self._serve, daemon=True, name=name).start()

    def _serve(self) -> None:
        while True:
            tasks, finished = self.inbox.get()
            try:
                _work(tasks)
            finally:
                _local.__dict__.pop("buffers", None)  # thread_buffer's scratch: not kept idle
                parked = _park(self)  # before `finished`: the next map may hire it at once
                finished.release()
            if not parked:
                return


_idle: list = []  # idle _Workers, the most recently parked last
_idle_lock = threading.Lock()


def _hire(k: int) -> _Worker:
    """An idle pooled thread, or a new one (named panoseg_k)."""
    with _idle_lock:
        if _idle:
            return _idle.pop()
    return _Worker(f"panoseg_{k}")


def _park(worker: _Worker) -> bool:
    """Puts a thread done with its map back into the pool; False when the pool is full."""
    with _idle_lock:
        if len(_idle) >= 2 * default_workers():
            return False
        _idle.append(worker)
        return True


def _forget_idle() -> None:
    """In a forked child: the parent's pooled threads do not exist there."""
    global _idle_lock
    _idle_lock = threading.Lock()  # (it may have been held by a parent thread at the fork)
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_idle)


def _chunks(items: Iterable[T], size: int, total: Optional[int] = None,
            workers: int = 1) -> Iterator[list]:
    """Lists of ``size`` items; with ``total`` (items in all), of at most a ``2 * workers``-th
    of the items left (guided scheduling: the last tasks are single items)."""
    left = total
    chunk, limit = [], _chunk_size(size, left, workers)
    for item in items:
        chunk.append(item)
        if len(chunk) >= limit:
            yield chunk
            if left is not None:
                left -= len(chunk)
                limit = _chunk_size(size, left, workers)
            chunk = []
    if chunk:
        yield chunk


def _chunk_size(size: int, left: Optional[int], workers: int) -> int:
    return size if left is None else max(1, min(size, left // (2 * workers)))


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
