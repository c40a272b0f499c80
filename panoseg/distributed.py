"""Running ``eval``, ``merge`` and ``infer`` on a Dask cluster (``--dask``).

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
import os
import threading
from typing import Iterator, List, Optional, Tuple

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


def _evaluate_chunk(job, keep):
    return job.evaluate_chunk(workers=_worker_threads(), keep=keep)


def _worker_threads() -> int:
    """Threads a task may use: the worker's own thread count (cores / workers)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except Exception:  # noqa: BLE001 - outside a worker, or an older distributed
        return 1


def evaluate_on_dask(job, client, chunk_size: Optional[int] = None, progress: bool = False,
                     keep: bool = True):
    """Evaluates an :class:`~panoseg.evaluation.EvaluationJob` on the cluster.

    Returns ``(stats, rows, arrays)``: the summed PQStats and, with ``keep``, every image's
    ``to_dict()`` row and ``(tp, fp, fn, iou)`` arrays, in GT order. Each task is sent only its
    own chunk of annotations.
    """
    from .evaluation import PQStats

    workers = worker_addresses(client)
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    bounds = chunk_bounds(len(job.pairs), len(workers), chunk_size)
    futures = [client.submit(_evaluate_chunk, job.subset(a, b), keep, pure=False)
               for a, b in bounds]
    stats, rows, arrays = PQStats(job.categories), [], []
    bar = _bar(len(job.pairs), progress, "panoseg eval (dask)")
    try:
        for future, (a, b) in zip(futures, bounds):  # reduce in chunk order: deterministic
            chunk = future.result()
            stats += chunk.stats
            rows.extend(chunk.rows)
            arrays.extend(chunk.arrays)
            bar.update(b - a)
    finally:
        bar.close()
    return stats, rows, arrays


def _merge_chunk(job, start, stop, folder, seed, compress_level):
    return job.run_chunk(start, stop, folder, workers=_worker_threads(), seed=seed,
                         compress_level=compress_level)


def merge_on_dask(job, client, segmentations_folder, panoptic_json_file, *, seed: int = 0,
                  compress_level: int = 2, chunk_size: Optional[int] = None,
                  progress: bool = False) -> dict:
    """Runs a :class:`~panoseg.merge_io.MergeJob` on the cluster; the workers write the PNGs,
    the client the JSON."""
    os.makedirs(segmentations_folder, exist_ok=True)
    workers = worker_addresses(client)
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    bounds = chunk_bounds(len(job.images), len(workers), chunk_size)
    job_future = client.scatter(job, broadcast=True, hash=False)
    futures = [client.submit(_merge_chunk, job_future, a, b, segmentations_folder, seed,
                             compress_level, pure=False) for a, b in bounds]
    annotations = []
    bar = _bar(len(job.images), progress, "panoseg merge (dask)")
    try:
        for future, (a, b) in zip(futures, bounds):
            annotations.extend(future.result())
            bar.update(b - a)
    finally:
        bar.close()
    return job.write_json(annotations, panoptic_json_file)


_PREDICTORS = {}  # per worker process: predictor spec -> PanopticPredictor (built once)
_PREDICTOR_LOCK = threading.Lock()


def _infer_chunk(spec: dict, ctx: str, items, out_folder, options: dict):
    from .infer.panoptic import PanopticPredictor
    from .infer.pipeline import predict_items

    key = repr((sorted(spec.items()), ctx))
    # A worker with several threads may run several chunks at once; Gluon networks are not
    # thread-safe, so the worker's predictor is built and used by one chunk at a time.
    with _PREDICTOR_LOCK:
        predictor = _PREDICTORS.get(key)
        if predictor is None:
            instance = dict(spec["instance"], ctx=ctx)
            semantic = dict(spec["semantic"], ctx=ctx)
            predictor = _PREDICTORS[key] = PanopticPredictor(instance, semantic, **spec["merge"])
        return predict_items(predictor, items, out_folder, progress=False, **options)


def infer_on_dask(spec: dict, contexts: List[str], items, client, out_folder, *,
                  options: dict, progress: bool = False):
    """Runs ``panoseg infer`` chunks on the cluster, one worker per context (GPU).

    ``spec``: ``{"instance": InstancePredictor kwargs, "semantic": SemanticPredictor kwargs,
    "merge": PanopticPredictor kwargs}`` without ``ctx``; ``contexts``: one context per worker
    slot (``["gpu:0", "gpu:1"]``, or ``["cpu"]`` repeated). Each worker builds its predictor
    once. Returns the per-chunk (records, summary) pairs in item order.
    """
    workers = worker_addresses(client)
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    slots = min(len(workers), len(contexts)) if contexts[0] != "cpu" else len(workers)
    bounds = chunk_bounds(len(items), slots)
    futures = []
    for k, (a, b) in enumerate(bounds):
        slot = k % slots
        futures.append(client.submit(_infer_chunk, spec, contexts[slot % len(contexts)],
                                     items[a:b], out_folder, options, workers=[workers[slot]],
                                     allow_other_workers=False, pure=False))
    out = []
    bar = _bar(len(items), progress, "panoseg infer (dask)")
    try:
        for future, (a, b) in zip(futures, bounds):
            out.append(future.result())
            bar.update(b - a)
    finally:
        bar.close()
    return out


def _bar(total: int, enabled: bool, desc: str):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, file=sys.stderr, unit="img", desc=desc,
                dynamic_ncols=True)
