"""panoseg.util.parallel.ordered_map: order, batches, and exceptions in input order; the tasks
not yet started cancelled and every thread done with the map when it ends (its own pooled
threads, without concurrent.futures)."""
import os
import sys
import threading
import time

import pytest

from panoseg.util import parallel
from panoseg.util.parallel import _chunks, default_workers, ordered_map


def assert_no_thread_growth(before):
    """The map's threads are back in the pool (or ending, the pool being full): no more threads
    than before plus the pool's room."""
    assert threading.active_count() <= before + 2 * default_workers()


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

    it = ordered_map(f, range(1000), 2, 4)
    assert next(it) == 0
    # At most 2 * workers tasks of 4 items were submitted before the first result.
    assert len(started) <= 2 * 2 * 4
    assert list(it) == list(range(1, 1000))
    assert all(n.startswith("panoseg") for n in names)


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        list(ordered_map(abs, [1], bad))
    with pytest.raises(ValueError):
        list(ordered_map(abs, [1], 2, bad))


def test_at_most_twice_the_workers_in_flight_and_threads_returned():
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
    assert_no_thread_growth(before)


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
    n = len(ran)
    time.sleep(0.05)
    assert len(ran) == n  # nothing runs after the map has raised
    assert_no_thread_growth(before)


def test_closing_early_stops_the_threads_work():
    before = threading.active_count()
    ran = []

    def f(x):
        time.sleep(0.001)
        ran.append(x)
        return x

    gen = ordered_map(f, range(100), 4)
    assert next(gen) == 0
    gen.close()
    n = len(ran)
    assert n <= 1 + 2 * 4  # what was in flight
    time.sleep(0.05)
    assert len(ran) == n  # every thread was done with the map when close() returned
    assert_no_thread_growth(before)


def test_threads_are_reused_across_maps():
    """Repeated maps hire the pooled threads instead of starting new ones."""
    idents = []
    for _ in range(20):
        idents.append(set(ordered_map(lambda x: threading.get_ident(), range(64), 2)))
    assert all(len(s) <= 2 for s in idents)
    assert len(set().union(*idents)) <= 2 * default_workers() + 2


def test_the_pool_is_bounded():
    maps = [ordered_map(lambda x: x, range(10), 3) for _ in range(2 * default_workers() + 2)]
    firsts = [next(m) for m in maps]  # all maps running at once: more threads than the pool
    assert firsts == [0] * len(maps)
    for m in maps:
        assert list(m) == list(range(1, 10))
    deadline = time.monotonic() + 5
    while len(parallel._idle) > 2 * default_workers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(parallel._idle) <= 2 * default_workers()


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork")
def test_a_forked_child_starts_its_own_threads():
    """The parent's pooled threads do not exist in a forked child: it must not wait for them."""
    assert list(ordered_map(lambda x: x + 1, range(8), 2)) == list(range(1, 9))  # pool filled
    assert parallel._idle
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 iff the map works there
        ok = False
        try:
            result = {}
            t = threading.Thread(target=lambda: result.setdefault(
                "v", list(ordered_map(lambda x: x * 2, range(8), 2))), daemon=True)
            t.start()
            t.join(20)
            ok = result.get("v") == [x * 2 for x in range(8)]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
