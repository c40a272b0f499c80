"""``--dask``: eval and merge on a 2-worker LocalCluster equal the local run."""
import json
import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from panoseg.cli import main  # noqa: E402
from panoseg.evaluation.job import evaluate_on_dask  # noqa: E402
from panoseg.util.cluster import chunk_bounds, dask_client  # noqa: E402
from panoseg.evaluation import EvaluationJob, evaluate  # noqa: E402
from panoseg.evaluation.extra_metrics import extra_results  # noqa: E402
from panoseg.merge import combine_predictions  # noqa: E402
from panoseg.testing.synthetic import make_dataset, make_merge_inputs  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """One 2-worker LocalCluster for the module; tests reach it by its address."""
    from panoseg.util.cluster import local_cluster

    cluster = local_cluster(2, 1)
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("dask"), n_images=24, height=96, width=128,
                        seed=3)


def test_chunk_bounds_cover_every_item_once():
    for n, workers, size in ((0, 2, None), (1, 2, None), (24, 2, None), (25, 3, 4), (7, 8, None)):
        bounds = chunk_bounds(n, workers, size)
        covered = [i for a, b in bounds for i in range(a, b)]
        assert covered == list(range(n))
        assert all(b > a for a, b in bounds)


def test_eval_on_dask_equals_local(cluster, dataset):
    local = evaluate(dataset.gt_json, dataset.pred_json, keep_per_image=True, workers=2)
    job = EvaluationJob(dataset.gt_json, dataset.pred_json)
    with dask_client(cluster.scheduler_address) as client:
        stats, rows, arrays = evaluate_on_dask(job, client, chunk_size=5)
    for name in ("tp", "fp", "fn", "dagger_count", "size_tp", "size_fp", "size_fn", "confusion"):
        assert np.array_equal(getattr(stats, name), getattr(local.stats, name)), name
    for name in ("iou", "dagger_iou", "cover_iou", "cover_area", "size_iou"):
        np.testing.assert_allclose(getattr(stats, name), getattr(local.stats, name),
                                   rtol=1e-12, atol=1e-12)
    assert stats.n_images == local.stats.n_images == len(rows) == len(arrays) == 24
    assert [r["image_id"] for r in rows] == [a["image_id"] for a, _ in job.pairs]
    np.testing.assert_array_equal(np.stack([a[0] for a in arrays]), local.per_image.tp)
    ours, theirs = stats.summarize(), local.results
    for group in ("All", "Things", "Stuff"):
        for key in ("pq", "sq", "rq"):
            assert ours[group][key] == pytest.approx(theirs[group][key], abs=1e-12)
        assert ours[group]["n"] == theirs[group]["n"]
    assert extra_results(stats)["confusion"] == extra_results(local.stats)["confusion"]


def test_eval_cli_with_dask_writes_the_same_json(cluster, dataset, tmp_path, capsys):
    args = ["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
            "--no-progress"]
    assert main(args + ["--json-out", str(tmp_path / "local.json")]) == 0
    assert main(args + ["--json-out", str(tmp_path / "dask.json"),
                        "--dask", cluster.scheduler_address]) == 0
    local = json.loads((tmp_path / "local.json").read_text())
    on_dask = json.loads((tmp_path / "dask.json").read_text())
    assert local.keys() == on_dask.keys()
    assert local["confusion"] == on_dask["confusion"]
    for group in ("All", "Things", "Stuff"):
        assert on_dask[group]["pq"] == pytest.approx(local[group]["pq"], abs=1e-12)
        assert on_dask["pq_dagger"][group]["pq"] == pytest.approx(local["pq_dagger"][group]["pq"],
                                                                  abs=1e-12)


def test_merge_on_a_local_cluster_is_byte_identical(tmp_path):
    inputs = make_merge_inputs(tmp_path / "in", n_images=12, height=80, width=96, seed=4)
    args = (inputs.semseg_json, inputs.instseg_json, inputs.images_json, inputs.categories_json)
    local = combine_predictions(*args, str(tmp_path / "local"), str(tmp_path / "local.json"))
    # the CLI path, with its own LocalCluster of 2 worker processes
    assert main(["merge", "--semseg_json_file", inputs.semseg_json, "--instseg_json_file",
                 inputs.instseg_json, "--images_json_file", inputs.images_json,
                 "--categories_json_file", inputs.categories_json, "--panoptic_json_file",
                 str(tmp_path / "dask.json"), "--dask", "local:2", "--no-progress"]) == 0
    assert json.loads((tmp_path / "dask.json").read_text()) == local
    for ann in local["annotations"]:
        assert (tmp_path / "dask" / ann["file_name"]).read_bytes() == \
            (tmp_path / "local" / ann["file_name"]).read_bytes()


def test_bad_dask_specs(tmp_path, capsys, monkeypatch, dataset):
    args = ["eval", "--gt_json_file", dataset.gt_json, "--pred_json_file", dataset.pred_json,
            "--no-progress", "--dask"]
    with pytest.raises(SystemExit) as info:  # a bad value: usage error
        main(args + ["local:zero"])
    assert info.value.code == 2
    assert "expected local:N" in capsys.readouterr().err
    import builtins

    real_import = builtins.__import__

    def no_distributed(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "distributed" and level == 0:
            raise ImportError(name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    assert main(args + ["local:2"]) == 1
    assert "pip install 'panoseg[dask]'" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "anything")


def test_local_workers_get_the_malloc_settings(cluster):
    from panoseg.util.cluster import WORKER_MALLOC_ENV

    with distributed.Client(cluster) as client:
        seen = client.run(lambda: {k: os.environ.get(k) for k in WORKER_MALLOC_ENV})
    assert list(seen.values()) == [WORKER_MALLOC_ENV] * 2


def test_localhost_is_an_address_not_a_local_cluster(monkeypatch):
    import panoseg.util.cluster as d

    started = []
    monkeypatch.setattr(d, "local_cluster", lambda n, t=1: started.append(n))
    with pytest.raises(ValueError, match="--dask localhost:1: cannot reach the scheduler"):
        with d.dask_client("localhost:1", connect_timeout="2s"):
            pass
    assert started == []

