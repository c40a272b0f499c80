"""panoseg.util.parallel.ordered_map: order, batches, and exceptions in input order; the tasks
not yet started cancelled and its threads joined (its own threads, without concurrent.futures)."""
import threading
import time
from collections import deque
from queue import SimpleQueue

import pytest

from panoseg.util.parallel import _chunks, _next_results, _Task, ordered_map

from conftest import in_thread


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 2, 8, 100])
@pytest.mark.parametrize("total", [None, 57, 10, 1000])  # a wrong total only sizes the tasks
def test_results_in_input_order(workers, batch, total):
    assert list(ordered_map(lambda x: x * x, range(57), workers, batch, total)) == \
        [x * x for x in range(57)]


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("n,batch", [(200, 8), (40, 2), (16, 1), (7, 8)])
def test_total_shrinks_the_last_tasks_to_single_items(workers, n, batch):
    sizes = [len(chunk) for chunk in _chunks(range(n), batch, n, workers)]
    assert sum(sizes) == n
    assert sizes == sorted(sizes, reverse=True) and max(sizes) <= batch
    # The tasks of the last 2 * workers items are single items (no thread runs a batch
    # alone at the end); without ``total`` every task but the last is a full batch.
    assert sizes[-min(n, 2 * workers):] == [1] * min(n, 2 * workers)
    assert [len(chunk) for chunk in _chunks(range(n), batch)][:-1] == [batch] * (-(-n // batch) - 1)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 8])
def test_items_before_a_failure_are_yielded_then_it_raises(workers, batch):
    def f(x):
        if x in (5, 9):
            raise KeyError(x)
        return x

    got = []
    with pytest.raises(KeyError) as e:
        for r in ordered_map(f, range(20), workers, batch):
            got.append(r)
    assert got == [0, 1, 2, 3, 4] and e.value.args == (5,)


def test_uses_threads_and_bounds_the_tasks_in_flight():
    started, names = [], set()
    lock = threading.Lock()

    def f(x):
        with lock:
            started.append(x)
            names.add(threading.current_thread().name)
        return x

    it = ordered_map(f, range(1000), 2, 4, caller_helps=False)
    assert next(it) == 0
    # At most 2 * workers tasks of 4 items were submitted before the first result.
    assert len(started) <= 2 * 2 * 4
    assert list(it) == list(range(1, 1000))
    assert all(n.startswith("panoseg") for n in names)


@pytest.mark.parametrize("workers", [2, 3])
def test_the_caller_is_a_worker_while_it_waits(workers):
    # Its threads' tasks wait until the caller has run one itself: without the caller's help
    # this would time out.
    main = threading.current_thread()
    caller_ran = threading.Event()
    names = set()

    def f(x):
        names.add(threading.current_thread().name)
        if threading.current_thread() is main:
            caller_ran.set()
        else:
            assert caller_ran.wait(10)
        return x

    before = threading.active_count()
    seen = []
    for x in ordered_map(f, range(60), workers, 2):
        # workers - 1 threads of its own
        assert threading.active_count() <= before + workers - 1
        seen.append(x)
    assert seen == list(range(60))
    assert main.name in names and len(names) <= workers
    assert threading.active_count() == before


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        list(ordered_map(abs, [1], bad))
    with pytest.raises(ValueError):
        list(ordered_map(abs, [1], 2, bad))


def test_at_most_twice_the_workers_in_flight_and_threads_joined():
    started, lock = [], threading.Lock()
    before = threading.active_count()

    def record(x):
        with lock:
            started.append(x)
        return x
    seen = []
    for x in ordered_map(record, range(40), 3):
        with lock:
            assert len(started) <= x + 1 + 2 * 3
        seen.append(x)
    assert seen == list(range(40))
    assert threading.active_count() == before


def test_first_exception_is_raised_and_the_rest_cancelled():
    ran = []

    def fail_at_3(x):
        ran.append(x)
        if x == 3:
            raise KeyError(x)
        time.sleep(0.002)
        return x
    before = threading.active_count()
    out = []
    with pytest.raises(KeyError):
        for x in ordered_map(fail_at_3, range(1000), 2):
            out.append(x)
    assert out == [0, 1, 2]
    assert len(ran) <= 3 + 1 + 2 * 2  # nothing started beyond what was in flight
    assert threading.active_count() == before


def test_closing_early_joins_the_threads():
    before = threading.active_count()
    gen = ordered_map(lambda x: x, range(100), 4)
    assert next(gen) == 0
    gen.close()
    assert threading.active_count() == before


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 3, 8])
def test_batched_tasks_keep_the_order_and_the_results_before_a_failure(workers, batch):
    def squares(chunk, out):
        for x in chunk:
            if x == 41:
                raise KeyError(x)
            out.append(x * x)

    assert list(ordered_map(squares, range(40), workers, batch, 40, batched=True)) == \
        [x * x for x in range(40)]
    got = []
    with pytest.raises(KeyError):
        for r in ordered_map(squares, range(100), workers, batch, batched=True):
            got.append(r)
    assert got == [x * x for x in range(41)]


def test_ctrl_c_in_a_task_the_caller_runs_is_raised_at_once():
    # The caller's own task fails with a KeyboardInterrupt while the thread still runs the
    # oldest: it is raised now, before that task's results (or any later one) are yielded.
    main = threading.current_thread()

    def f(x):
        if threading.current_thread() is main:
            raise KeyboardInterrupt
        time.sleep(0.3)
        return x

    before = threading.active_count()
    got = []
    with pytest.raises(KeyboardInterrupt):
        for x in ordered_map(f, range(8), 2):
            got.append(x)
    assert got == []
    assert threading.active_count() == before


def test_on_last_wait_runs_at_most_once_and_only_after_the_last_item():
    # Whether the caller ever waits depends on the threads' timing; when it is called, it is
    # once, by the caller, after every item has been handed out, and the results are unchanged.
    for _ in range(5):
        handed_out, calls = [], []

        def items():
            for k in range(40):
                handed_out.append(k)
                yield k

        def slow_off_main(k):
            if threading.current_thread() is not threading.main_thread():
                time.sleep(0.002)
            return k * k

        def on_last_wait():
            calls.append((len(handed_out), threading.current_thread() is threading.main_thread()))

        out = list(ordered_map(slow_off_main, items(), workers=2, total=40,
                               on_last_wait=on_last_wait))
        assert out == [k * k for k in range(40)]
        assert calls in ([], [(40, True)])


def test_on_wait_is_called_once_before_the_caller_runs_a_task_or_waits():
    # The oldest (a thread's) is not done: the function is called first (taken from the list:
    # once), before the caller runs the task no thread took; here it lets "the thread" finish
    # the oldest.
    tasks = SimpleQueue()
    oldest, other = _Task(lambda k: k, [1]), _Task(lambda k: k + 1, [2])
    tasks.put(other)
    go, calls = threading.Event(), []

    def thread():
        assert go.wait(10)
        oldest.run()
    worker = threading.Thread(target=thread)
    worker.start()
    once = [lambda: (calls.append(other.done()), go.set())]
    assert list(_next_results(deque([oldest]), tasks, True, once)) == [1]
    worker.join()
    assert calls == [False] and once == []  # before the other task ran; used up


def test_on_wait_is_not_called_when_the_oldest_is_done():
    tasks = SimpleQueue()
    oldest, other = _Task(lambda k: k, [1]), _Task(lambda k: k + 1, [2])
    oldest.run()
    tasks.put(other)
    once = [lambda: pytest.fail("called")]
    assert list(_next_results(deque([oldest]), tasks, True, once)) == [1]
    assert len(once) == 1 and not other.done()  # kept for the next wait; nothing run


def test_an_error_in_on_last_wait_propagates_and_the_threads_are_joined():
    before = threading.active_count()

    def fn(k):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.005)  # the caller then waits for the thread's items
        return k

    def on_last_wait():
        raise MemoryError("settle")
    for _ in range(20):
        try:
            list(ordered_map(fn, range(40), workers=2, total=40, on_last_wait=on_last_wait))
        except MemoryError as e:
            assert str(e) == "settle"
    assert threading.active_count() == before


@pytest.mark.parametrize("workers, caller_helps", [(1, True), (2, False)])
def test_on_last_wait_is_not_called_without_a_caller_that_works(workers, caller_helps):
    calls = []
    out = list(ordered_map(lambda k: k + 1, range(20), workers=workers,
                           caller_helps=caller_helps, on_last_wait=lambda: calls.append(1)))
    assert out == list(range(1, 21)) and calls == []


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_threads_end_behind_the_last_task_and_the_caller_keeps_their_marks(workers):
    # The end marks are queued once the items end; a caller that finds one puts it back, so
    # every thread still gets its own and the map returns with all of them joined.
    before = threading.active_count()

    def fn(k):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.001)
        return -k
    for total in (None, 30):
        out = list(ordered_map(fn, iter(range(30)), workers=workers, total=total,
                               on_last_wait=lambda: None))
        assert out == [-k for k in range(30)]
        assert threading.active_count() == before


def test_next_results_puts_back_an_end_mark_it_takes():
    tasks = SimpleQueue()
    oldest = _Task(lambda k: k, [1])
    tasks.put(None)
    done = threading.Timer(0.05, oldest.run)
    done.start()
    assert list(_next_results(deque([oldest]), tasks, True)) == [1]
    done.join()
    assert tasks.get_nowait() is None  # still there for its thread


def test_an_interrupt_inside_a_thread_start_neither_hangs_nor_leaves_threads(monkeypatch):
    # The second thread really starts, then its start() raises (a Ctrl-C in start()'s wait):
    # it must still get an end mark and be joined.
    before = threading.active_count()
    real_start, starts = threading.Thread.start, []

    def start(self):
        real_start(self)
        starts.append(self.name)
        if self.name == "panoseg_1":
            raise KeyboardInterrupt("in start()")
    monkeypatch.setattr(threading.Thread, "start", start)
    kind, error = in_thread(lambda: list(ordered_map(lambda k: k, range(10), workers=3)))
    assert kind == "error" and isinstance(error, KeyboardInterrupt) and "in start" in str(error)
    assert [n for n in starts if n.startswith("panoseg_")] == ["panoseg_0", "panoseg_1"]
    assert threading.active_count() - 1 <= before  # (the deadline thread may be ending)


def test_an_interrupt_while_the_end_marks_are_queued_neither_hangs_nor_leaves_threads(
        monkeypatch):
    # The first end mark's put raises (a Ctrl-C there): the marks not yet queued are queued by
    # the cleanup, so every thread still ends and is joined.
    import panoseg.util.parallel as parallel
    before = threading.active_count()

    class Queue(SimpleQueue):
        raised = False

        def put(self, item, *args, **kwargs):
            if item is None and not Queue.raised:
                Queue.raised = True
                raise KeyboardInterrupt("at the first end mark")
            return super().put(item, *args, **kwargs)
    monkeypatch.setattr(parallel, "SimpleQueue", Queue)

    def fn(k):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.001)
        return k
    kind, error = in_thread(lambda: list(ordered_map(fn, range(12), workers=3)))
    assert kind == "error" and isinstance(error, KeyboardInterrupt)
    assert "first end mark" in str(error)
    assert Queue.raised
    assert threading.active_count() - 1 <= before


def test_an_error_in_on_last_wait_cancels_the_oldest_task_still_queued():
    # The threads are held back, so the oldest task is still queued when on_last_wait raises:
    # it is cancelled (its fn never runs), the error propagates and the threads are joined.
    before = threading.active_count()
    hold, ran = threading.Event(), []

    def fn(k):
        if threading.current_thread() is not threading.main_thread():
            assert hold.wait(10)
        ran.append(k)
        return k

    def on_last_wait():
        hold.set()  # the threads may go on once the error is on its way
        raise MemoryError("settle")

    def run():
        return list(ordered_map(fn, range(3), workers=2, on_last_wait=on_last_wait))
    kind, error = in_thread(run)
    assert kind == "error" and isinstance(error, MemoryError) and str(error) == "settle"
    assert threading.active_count() - 1 <= before
    assert 0 not in ran or ran == [0]  # the oldest ran only if the thread had taken it


def test_on_last_wait_waits_for_the_items_to_end_even_with_a_total_too_small():
    for _ in range(20):
        ended, calls = [], []

        def items():
            yield from range(20)
            ended.append(True)

        def fn(k):
            if threading.current_thread() is not threading.main_thread():
                time.sleep(0.0005)
            return k
        out = list(ordered_map(fn, items(), workers=2, total=8,
                               on_last_wait=lambda: calls.append(bool(ended))))
        assert out == list(range(20))
        assert calls in ([], [True])


def test_next_results_cancels_the_oldest_when_on_wait_raises():
    # The oldest is still queued (no thread took it) when the function raises: it is out of
    # the caller's pending list, so _next_results itself marks it cancelled.
    tasks = SimpleQueue()
    oldest = _Task(lambda k: pytest.fail("ran"), [1])
    tasks.put(oldest)

    def on_wait():
        raise MemoryError("settle")
    with pytest.raises(MemoryError, match="settle"):
        list(_next_results(deque([oldest]), tasks, True, [on_wait]))
    assert oldest.cancelled
    tasks.get_nowait().run()  # a thread taking it now skips it
    assert oldest.done()
