"""Ordered, bounded thread-parallel map: the streaming engine behind the per-image loops."""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from queue import Empty, SimpleQueue

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


def start_thread(fn: Callable[[], R], name: str = "panoseg_thread") -> Callable[[], tuple]:
    """Starts ``fn()`` on a new thread; returns its join: a function that waits for the thread
    and returns ``(True, fn's value)`` or ``(False, the exception it raised)``."""
    box = []

    def run():
        try:
            box.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the joining thread
            box.append((False, e))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def join() -> tuple:
        thread.join()
        return box[0]
    return join


def run_both(first: Callable[[], R], second: Callable[[], T]) -> tuple:
    """``(first(), second())``, ``second`` on a new thread while ``first`` runs on this one: for
    two calls into the core that release the GIL (a thread costs ~0.1 ms: for work of at least
    a millisecond). An exception from either is raised here, ``first``'s before ``second``'s,
    once both have ended."""
    join = start_thread(second, "panoseg_second")
    try:
        result = first()
    finally:
        ok, value = join()
    if not ok:
        raise value
    return result, value


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: Optional[int] = None,
                batch: int = 1, total: Optional[int] = None,
                caller_helps: bool = True, batched: bool = False,
                on_last_wait: Optional[Callable[[], None]] = None) -> Iterator[R]:
    """Yields ``fn(item)`` for each item, in input order, computed by ``workers`` threads.

    ``batch`` items go to a thread as one task (for items that take a millisecond or less, a
    task per item costs two thread hand-offs each). With ``total``, the number of items, the
    tasks shrink towards the end (at most a ``2 * workers``-th of the items left each, down to
    one item), so that the threads finish together instead of one running a whole batch alone
    while the others idle. At most ``2 * workers`` tasks are in
    flight, so memory does not grow with the number of items. The kernels release the GIL,
    which is what makes threads pay off. The first exception (in input order) is re-raised in
    the caller and the tasks not yet started are cancelled.

    ``batched``: ``fn(items, out)`` takes a task's items at once and appends their results to
    ``out``, in order (those before a failing item are yielded before its exception).

    ``caller_helps``: the calling thread is one of the ``workers`` (``workers - 1`` threads are
    started): while the next result is not ready, it runs tasks not yet started instead of
    sleeping. With a thread per worker and the caller waking for every result, ``workers + 1``
    threads took turns on ``workers`` cores (~70 preemptions per 200-image evaluation on two
    cores; measured, the two-thread evaluation is ~5% faster this way). False where the caller
    has work of its own between results (the inference loop's model), so that the threads work
    ahead meanwhile.

    ``on_last_wait``: called once by the caller (with ``caller_helps`` and several workers),
    once the items have ended, the first time the next result is not ready: before the caller
    runs any task left or waits, so that work which would otherwise follow the last result is
    done while the threads finish theirs (done after the caller's own last task, it left the
    other cores idle: ~0.7 ms of sums after 200 images at 640x480, measured).
    """
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    batch = int(batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if workers == 1:
        if not batched:
            yield from map(fn, items)
            return
        for chunk in _chunks(items, batch):
            task = _Task(fn, chunk, batched)
            task.run()
            yield from task.results()
        return
    tasks: SimpleQueue = SimpleQueue()
    n_threads = workers - 1 if caller_helps else workers
    threads = []
    pending: deque = deque()
    marks = 0  # the threads' end marks (None) queued so far: one per thread

    def stop_threads():
        # Counted one by one, so that an interrupt between two puts leaves the rest to the
        # ``finally`` (a spare mark, for a thread whose start failed, is harmless).
        nonlocal marks
        while marks < len(threads):
            tasks.put(None)
            marks += 1

    try:
        for chunk in _chunks(items, batch, total, workers):
            task = _Task(fn, chunk, batched)
            tasks.put(task)
            pending.append(task)
            if len(threads) < n_threads:  # one thread per task until there are enough
                thread = threading.Thread(target=_work, args=(tasks,), daemon=True,
                                          name=f"panoseg_{len(threads)}")
                # Listed before it starts: an interrupt inside start() may come once the thread
                # runs, and it must get an end mark of its own. A failed start is the error
                # raised (that thread is not joined).
                threads.append(thread)
                thread.start()
                # Hand it the GIL now, so that it takes its task at once: else it waits until
                # this thread next lets go (0.8 ms at 640x480, making the next tasks' tables).
                time.sleep(0)
            if len(pending) >= 2 * workers:
                yield from _next_results(pending, tasks, caller_helps)
        # Every task is queued (the items have ended: ``total`` is not trusted here): the end
        # marks go behind them now, so that each thread ends once there is no task left, while
        # the caller still works (joining a thread that must first wake up to take its mark
        # cost ~0.2 ms after the last result).
        stop_threads()
        once = [on_last_wait] if on_last_wait is not None else []
        while pending:
            yield from _next_results(pending, tasks, caller_helps, once)
    finally:
        for task in pending:
            task.cancelled = True
        stop_threads()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join()


class _Task:
    """A batch of :func:`ordered_map`'s calls, run by one of its threads. A lock says when it
    is done: ``concurrent.futures``' Future and pool cost a command's start-up ~10 ms of imports
    (logging, traceback)."""

    __slots__ = ("fn", "chunk", "batched", "values", "error", "cancelled", "_done")

    def __init__(self, fn, chunk: list, batched: bool = False):
        self.fn, self.chunk, self.batched = fn, chunk, batched
        self.values, self.error = [], None
        self.cancelled = False
        self._done = threading.Lock()
        self._done.acquire()  # released when the task is over (or skipped)

    def run(self) -> None:
        if not self.cancelled:
            try:
                if self.batched:
                    self.fn(self.chunk, self.values)
                else:
                    for item in self.chunk:
                        self.values.append(self.fn(item))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller, in order
                self.error = e
        self.fn = self.chunk = None
        self._done.release()

    def done(self) -> bool:
        if self._done.acquire(blocking=False):
            self._done.release()
            return True
        return False

    def results(self) -> Iterator:
        """The values of the items before a failing one, then its exception."""
        self._done.acquire()
        values, error = self.values, self.error
        self.values = self.error = None
        yield from values
        if error is not None:
            raise error


def _next_results(pending: deque, tasks: SimpleQueue, caller_helps: bool,
                  on_wait: Optional[list] = None) -> Iterator:
    """The oldest pending task's results; meanwhile, with ``caller_helps``, the caller runs
    tasks no thread has taken (their results wait in their task, so the order holds).
    ``on_wait``: a list of at most one function, taken out and called first if the oldest is
    not done (before the caller runs a task or waits)."""
    oldest = pending.popleft()
    while caller_helps and not oldest.done():
        if on_wait:
            try:
                on_wait.pop()()
            except BaseException:
                oldest.cancelled = True  # out of ``pending``: the caller's cleanup misses it
                raise
            continue  # the oldest may be done by now
        try:
            task = tasks.get_nowait()
        except Empty:
            break  # all taken: wait for the oldest
        if task is None:  # a thread's end mark: every task is taken
            tasks.put(None)
            break
        task.run()
        if task.error is not None and not isinstance(task.error, Exception):
            raise task.error  # Ctrl-C in the caller: now, not when the task's turn comes
    return oldest.results()


def _work(tasks: SimpleQueue) -> None:
    """A worker thread of :func:`ordered_map`: runs tasks until it gets None."""
    while True:
        task = tasks.get()
        if task is None:
            return
        task.run()


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
