"""panoseg.util.parallel.ordered_map: input order, bounded work in flight, the first exception
re-raised, the rest cancelled, threads joined (its own thread pool, without concurrent.futures)."""
import threading
import time

import pytest

from panoseg.util.parallel import ordered_map


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_results_in_input_order(workers):
    def slow_square(x):
        time.sleep(0.001 * ((x * 7) % 5))
        return x * x
    assert list(ordered_map(slow_square, range(50), workers)) == [x * x for x in range(50)]
    assert list(ordered_map(slow_square, [], workers)) == []


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


def test_bad_worker_count():
    with pytest.raises(ValueError):
        list(ordered_map(abs, [1], 0))
