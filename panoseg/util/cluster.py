"""Dask plumbing shared by ``eval``, ``merge`` and ``infer --dask`` (each job's runner lives
with the job: :mod:`panoseg.evaluation.job`, :mod:`panoseg.merge.job`,
:mod:`panoseg.infer.pipeline`).

The images are split into chunks; each chunk is one task that reads its files where it runs
(paths must be readable by the workers: a shared filesystem), and returns small results (PQ
statistics, annotations) that the client adds up in chunk order. Counts are therefore identical
to a local run, and floating-point sums equal up to summation order (~1e-15).

``--dask local:N`` starts a LocalCluster of N worker processes; anything else is the address of
a running scheduler (``tcp://host:8786``). Needs ``pip install panoseg[dask]``.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, List, Optional, Tuple

from .progress import progress_bar

#: Environment of worker processes. Dask sets MALLOC_TRIM_THRESHOLD_=65536 to return memory
#: to the OS eagerly; that also freezes glibc's mmap threshold, so the ~1 MB buffers of every
#: decoded PNG are mapped and page-faulted afresh: evaluation ran 1.7x slower in a worker.
#: Large thresholds keep those buffers on the heap and reused. Workers of a cluster started
#: elsewhere want the same variables (README).
WORKER_MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": str(128 << 20),
                     "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}

DASK_MISSING = ("--dask needs Dask's distributed scheduler: pip install 'panoseg[dask]' "
                "(dask[distributed])")


@contextlib.contextmanager
def dask_client(spec: str, threads_per_worker: Optional[int] = None,
                connect_timeout: str = "30s") -> Iterator:
    """A ``distributed.Client`` for ``local:N`` (a LocalCluster, closed afterwards) or a
    scheduler address."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(DASK_MISSING) from None
    if spec == "local" or spec.startswith("local:"):
        _, _, n = spec.partition(":")
        try:
            n_workers = int(n) if n else 2
        except ValueError:
            raise ValueError(f"--dask {spec}: expected local:N with N workers") from None
        if n_workers < 1:
            raise ValueError(f"--dask {spec}: N must be >= 1")
        cluster = local_cluster(n_workers, threads_per_worker or 1)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
    else:
        try:
            client = Client(spec, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ValueError(f"--dask {spec}: cannot reach the scheduler ({e})") from None
        with client:
            yield client


def local_cluster(n_workers: int, threads_per_worker: int = 1):
    """A LocalCluster of worker processes with :data:`WORKER_MALLOC_ENV` set before they start."""
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.update(WORKER_MALLOC_ENV)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                            processes=True, dashboard_address=None)


def worker_addresses(client) -> List[str]:
    """The cluster's workers, in a stable order."""
    return sorted(client.scheduler_info()["workers"])


def chunk_bounds(n_items: int, n_workers: int, chunk_size: Optional[int] = None
                 ) -> List[Tuple[int, int]]:
    """[start, stop) ranges: by default ~4 chunks per worker (balance) of >= 1 item each."""
    if n_items == 0:
        return []
    size = chunk_size or max(1, math.ceil(n_items / (4 * max(1, n_workers))))
    return [(a, min(a + size, n_items)) for a in range(0, n_items, size)]


def worker_threads() -> int:
    """Threads a task may use: the worker's own thread count (cores / workers)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except Exception:  # noqa: BLE001 - outside a worker, or an older distributed
        return 1


def gather_in_order(futures, bounds, progress: bool = False, desc: str = ""):
    """Yields each future's result in submission order (a deterministic reduction), advancing
    a progress bar by each chunk's ``stop - start``."""
    bar = progress_bar(bounds[-1][1] - bounds[0][0] if bounds else 0, progress, desc)
    try:
        for future, (a, b) in zip(futures, bounds):
            yield future.result()
            bar.update(b - a)
    finally:
        bar.close()


def require_workers(client) -> List[str]:
    """The cluster's workers, or an error when it has none."""
    workers = worker_addresses(client)
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    return workers
