"""``panoseg eval --errors``: the error breakdown of the whole dataset equals the sum of the
per-image breakdowns (errors.image_errors on the decoded maps), locally, with several workers,
on Dask, with Boundary PQ, in --json-out and in the report."""
import contextlib
import io
import json

import pytest

import panoseg
from panoseg.cli import main
from panoseg.evaluation import PQEvaluator
from panoseg.evaluation.errors import ImageErrors, image_errors, summarize
from panoseg.testing.synthetic import make_dataset


def direct_breakdown(ds):
    """The breakdown from the in-memory evaluator and image_errors, image by image."""
    gt, pred = (json.loads(open(p).read()) for p in (ds.gt_json, ds.pred_json))
    ev = PQEvaluator(gt["categories"])
    total = ImageErrors.zeros(ev.categories)
    for g, p in zip(gt["annotations"], pred["annotations"]):
        gt_ids = panoseg.read_ids(f"{ds.gt_folder}/{g['file_name']}")
        pred_ids = panoseg.read_ids(f"{ds.pred_folder}/{p['file_name']}")
        total += image_errors(gt_ids, pred_ids, ev.add(gt_ids, g["segments_info"], pred_ids,
                                                       p["segments_info"]))
    return summarize(total, ev.categories)


def run_eval(ds, tmp_path, *extra):
    out = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["eval", "--gt_json_file", str(ds.gt_json), "--pred_json_file",
                     str(ds.pred_json), "--errors", "--json-out", str(out), "--no-progress",
                     *extra]) == 0
    return json.loads(out.read_text()), stdout.getvalue()


def test_eval_errors_equals_the_per_image_sum(tmp_path):
    ds = make_dataset(tmp_path, n_images=6, height=96, width=128, seed=12)
    want = json.loads(json.dumps(direct_breakdown(ds)))
    res, text = run_eval(ds, tmp_path, "--workers", "2", "--report", str(tmp_path / "rep"))
    got = res["errors"]
    assert got["types"].keys() == want["types"].keys()
    for name, row in want["types"].items():
        assert (got["types"][name]["count"], got["types"][name]["fp"],
                got["types"][name]["fn"]) == (row["count"], row["fp"], row["fn"])
        for group in ("All", "Things", "Stuff"):
            assert got["types"][name]["dpq"][group] == pytest.approx(row["dpq"][group],
                                                                      abs=1e-12)
    assert "Where PQ is lost" in text
    # The breakdown's own PQ is the evaluation's.
    assert got["pq"]["All"]["pq"] == pytest.approx(res["All"]["pq"], abs=1e-12)
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "Where PQ is lost" in html and "background" in html


def test_eval_errors_on_dask_and_with_boundary_pq(tmp_path):
    pytest.importorskip("distributed")
    ds = make_dataset(tmp_path, n_images=5, height=64, width=96, seed=13)
    local, _ = run_eval(ds, tmp_path)
    on_dask, _ = run_eval(ds, tmp_path, "--dask", "local:2")
    assert on_dask["errors"] == local["errors"]
    boundary, _ = run_eval(ds, tmp_path, "--iou-type", "boundary")
    # The error types are defined on the mask matching, whatever PQ is reported.
    assert boundary["errors"]["types"]["all"]["fp"] == local["errors"]["types"]["all"]["fp"]
    assert boundary["segm"]["All"]["pq"] == pytest.approx(local["All"]["pq"], abs=1e-12)
