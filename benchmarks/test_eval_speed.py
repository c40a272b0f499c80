"""PQ evaluation speed: panoseg vs panopticapi's pq_compute, and vs merely decoding the PNGs.

All on the same generated dataset, in the same run, with as many workers as cores (panopticapi
uses one process per core; panoseg one thread per core).
"""
import contextlib
import io
import json
import os

import numpy as np
import pytest

import panoseg
from panoseg.util.parallel import default_workers, ordered_map
from panoseg.io.png import read_ids

from conftest import record

WORKERS = default_workers()


def png_pairs(ds):
    gt = json.load(open(ds.gt_json))
    pred = {a["image_id"]: a for a in json.load(open(ds.pred_json))["annotations"]}
    return [(os.path.join(ds.gt_folder, a["file_name"]),
             os.path.join(ds.pred_folder, pred[a["image_id"]]["file_name"]))
            for a in gt["annotations"]]


def decode_all(pairs, decode):
    # Results are dropped as they come, like the evaluator does, so memory stays flat.
    for _ in ordered_map(lambda p: (decode(p[0]), decode(p[1])), pairs, WORKERS):
        pass


def test_panopticapi(benchmark, dataset):
    evaluation = pytest.importorskip("panopticapi.evaluation")

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return evaluation.pq_compute(dataset.gt_json, dataset.pred_json)

    benchmark.extra_info["images"] = len(png_pairs(dataset))
    benchmark.pedantic(run, rounds=3, iterations=1)
    record(benchmark, "eval/panopticapi")


def test_panoseg(benchmark, dataset):
    benchmark.pedantic(panoseg.pq_compute, args=(dataset.gt_json, dataset.pred_json),
                       kwargs={"workers": WORKERS}, rounds=7, iterations=1, warmup_rounds=1)
    record(benchmark, "eval/panoseg")


def test_decode_only(benchmark, dataset):
    """The floor: read + decode every GT and prediction PNG with panoseg's decoder."""
    pairs = png_pairs(dataset)
    benchmark.extra_info["decoder"] = panoseg.png.decoder_name()
    benchmark.pedantic(decode_all, args=(pairs, read_ids), rounds=7, iterations=1, warmup_rounds=1)
    record(benchmark, "eval/decode-only")


def test_decode_pillow(benchmark, dataset):
    """For reference: the same decoding with Pillow (what panopticapi uses)."""
    from PIL import Image

    def pillow(path):
        return np.asarray(Image.open(path))

    benchmark.pedantic(decode_all, args=(png_pairs(dataset), pillow), rounds=3, iterations=1)
    record(benchmark, "eval/decode-pillow")


def test_panoseg_pq_only(benchmark, dataset):
    """Plain PQ, without the statistics of PQ-dagger, Parsing Covering, size and confusion."""
    benchmark.pedantic(panoseg.evaluate, args=(dataset.gt_json, dataset.pred_json),
                       kwargs={"workers": WORKERS, "extra": False}, rounds=7, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "eval/panoseg-pq-only")


def test_panoseg_all_metrics(benchmark, dataset):
    """Everything `panoseg eval --json-out` computes: PQ + the extra metrics, summarized."""
    from panoseg.evaluation.extra_metrics import extra_results

    def run():
        ev = panoseg.evaluate(dataset.gt_json, dataset.pred_json, workers=WORKERS)
        return ev.results, extra_results(ev.stats)

    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=1)
    record(benchmark, "eval/panoseg-all-metrics")


def test_panoseg_on_dask(benchmark, dataset):
    """The same evaluation on a 2-worker LocalCluster (one thread each), the cluster already
    running (as a user's would be); loading the JSONs and the reduction included."""
    distributed = pytest.importorskip("distributed")
    from panoseg.evaluation.job import evaluate_on_dask
    from panoseg.util.cluster import local_cluster
    from panoseg.evaluation import EvaluationJob

    cluster = local_cluster(2, 1)
    try:
        with distributed.Client(cluster) as client:
            def run():
                job = EvaluationJob(dataset.gt_json, dataset.pred_json)
                return evaluate_on_dask(job, client, keep=False)[0].summarize()

            benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    finally:
        cluster.close()
    record(benchmark, "eval/dask-local-2")
