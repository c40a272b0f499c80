"""``panoseg compare`` and :mod:`panoseg.evaluation.compare`: each model's numbers equal
panopticapi's, the paired statistics are honest (a model against itself, a degraded copy, the
coverage of the intervals and the level of the test on simulated comparisons), bad input is one
clear line, and the report is written."""
import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import panoseg
from panoseg.cli import main
from panoseg.cli.compare import pred_spec
from panoseg.errors import PanopticFormatError
from panoseg.evaluation.bootstrap import PerImageStats
from panoseg.evaluation.compare import (
    MIN_IMAGES,
    _group_pq,
    compare,
    default_names,
    paired_statistics,
)
from panoseg.evaluation.stats import GROUPS
from panoseg.testing.synthetic import make_dataset, make_prediction

ROOT = Path(__file__).resolve().parents[1]
N_IMAGES = 32


def _write_prediction(folder: Path, name: str, annotations, maps, categories):
    (folder / name).mkdir()
    for ann, ids in zip(annotations, maps):
        panoseg.write_ids(folder / name / ann["file_name"], ids)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"annotations": annotations, "categories": categories}))
    return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A GT, its prediction ``pred``, a degraded copy ``worse`` (40% of the segments of every
    image dropped to VOID) and an independent prediction ``other``."""
    folder = tmp_path_factory.mktemp("cmp")
    ds = make_dataset(folder, n_images=N_IMAGES, height=48, width=64, seed=11)
    pred = json.loads(Path(ds.pred_json).read_text())
    gt = json.loads(Path(ds.gt_json).read_text())
    rng = np.random.default_rng(5)
    worse, worse_maps, other, other_maps = [], [], [], []
    for ann, gt_ann in zip(pred["annotations"], gt["annotations"]):
        ids = panoseg.read_ids(os.path.join(ds.pred_folder, ann["file_name"]))
        kept = []
        for seg in ann["segments_info"]:
            if rng.random() < 0.4:
                ids[ids == seg["id"]] = 0
            else:
                kept.append(seg)
        worse.append(dict(ann, segments_info=kept))
        worse_maps.append(ids)
        gt_ids = panoseg.read_ids(os.path.join(ds.gt_folder, gt_ann["file_name"]))
        o_ids, o_segments = make_prediction(rng, gt_ids, gt_ann["segments_info"],
                                            ds.categories)
        other.append(dict(ann, segments_info=o_segments))
        other_maps.append(o_ids)
    return {"gt": ds.gt_json, "pred": ds.pred_json, "categories": ds.categories,
            "worse": _write_prediction(folder, "worse", worse, worse_maps, ds.categories),
            "other": _write_prediction(folder, "other", other, other_maps, ds.categories),
            "folder": folder}


@pytest.fixture(scope="module")
def three(data):
    return compare(data["gt"], [data["pred"], data["worse"], data["other"]], n_resamples=200,
                   n_permutations=200, workers=2)


# ----------------------------------------------------------------------------- exactness

def test_each_model_equals_panopticapi(data, three):
    evaluation = pytest.importorskip("panopticapi.evaluation")
    results = three.results
    assert results["models"] == ["pred", "worse", "other"] and results["n_images"] == N_IMAGES
    for k, name in enumerate(("pred", "worse", "other")):
        with contextlib.redirect_stdout(io.StringIO()):
            ref = evaluation.pq_compute(data["gt"], data[name])
        mine = three.stats[k].summarize()
        for group in ("All", "Things", "Stuff"):
            assert results[group]["n"][k] == ref[group]["n"]
            for key in ("pq", "sq", "rq"):
                assert abs(results[group][key][k] - ref[group][key]) <= 1e-9, (name, group, key)
        for cat_id, values in ref["per_class"].items():
            assert abs(mine["per_class"][cat_id]["pq"] - values["pq"]) <= 1e-9
            if cat_id in results["per_class"]:
                assert abs(results["per_class"][cat_id]["pq"][k] - values["pq"]) <= 1e-9
        # and the same as evaluating the model alone
        assert mine == panoseg.pq_compute(data["gt"], data[name])


def test_more_than_two_models_are_each_compared_with_the_first(three):
    results = three.results
    assert [(c["baseline"], c["model"]) for c in results["comparisons"]] == [
        ("pred", "worse"), ("pred", "other")]
    assert "delta_pq" not in results["All"] and "images" not in results
    for m, item in enumerate(results["comparisons"], 1):
        for group in ("All", "Things", "Stuff"):
            assert item[group]["delta_pq"] == results[group]["pq"][m] - results[group]["pq"][0]
            lo, hi = item[group]["ci"]
            assert lo <= item[group]["delta_pq"] <= hi
            assert 0 < item[group]["p_value"] <= 1


# ----------------------------------------------------------------------------- honesty

def test_a_model_against_itself(data):
    result = compare(data["gt"], [data["pred"], data["pred"]], n_resamples=300,
                     n_permutations=300, workers=1).results
    assert result["models"] == ["pred", "pred#2"]
    for group in ("All", "Things", "Stuff"):
        g = result[group]
        assert g["pq"][0] == g["pq"][1]
        assert (g["delta_pq"], g["ci"], g["p_value"]) == (0.0, [0.0, 0.0], 1.0)
    assert result["per_class"]
    for v in result["per_class"].values():
        assert v["delta_pq"] == 0.0 and v["ci"] == [0.0, 0.0]
    assert result["images"] == {"gains": [], "losses": []}


def test_a_degraded_copy_is_found_worse(data):
    result = compare(data["gt"], [data["pred"], data["worse"]], names=["good", "bad"],
                     n_resamples=500, n_permutations=500).results
    for group in ("All", "Things", "Stuff"):
        g = result[group]
        assert g["delta_pq"] < 0 and g["ci"][1] < 0, (group, g)
        assert g["p_value"] < 0.05
    assert result["images"]["losses"] and len(result["images"]["losses"]) <= 10
    deltas = [e["delta_pq"] for e in result["images"]["losses"]]
    assert deltas == sorted(deltas) and deltas[0] < 0
    worst = result["images"]["losses"][0]
    assert worst["delta_pq"] == worst["pq"][1] - worst["pq"][0]
    # and the other way round: the same interval, mirrored
    back = compare(data["gt"], [data["worse"], data["pred"]], n_resamples=500,
                   n_permutations=500).results
    assert back["All"]["delta_pq"] == -result["All"]["delta_pq"]
    assert back["All"]["ci"][0] > 0


def _simulated_population(rng, n, gap, nc=12):
    """Per-image statistics of two models on a population of images: categories of different
    frequencies, an image difficulty shared by both models (the pairing), model B detecting
    ``gap`` more often."""
    isthing = np.arange(nc) < nc // 2
    present = rng.random((n, nc)) < np.linspace(0.9, 0.25, nc)
    g = np.where(isthing, rng.poisson(2.0, (n, nc)), 1) * present
    difficulty = rng.beta(4, 2, (n, 1))
    models = []
    for p in (0.7, 0.7 + gap):
        detect = np.clip(difficulty * p / 0.667, 0, 1)
        tp = rng.binomial(g, np.broadcast_to(detect, (n, nc)))
        fp = rng.poisson(np.broadcast_to(0.3 + 0.3 * (1 - detect), (n, nc))) * (
            present | (rng.random((n, nc)) < 0.1))
        iou = tp * np.clip(rng.normal(0.55 + 0.3 * difficulty, 0.05, (n, nc)), 0.5, 1.0)
        models.append((tp, fp, g - tp, iou))
    return isthing, models


def _population_pq(model, isthing):
    sums = np.concatenate([x.sum(0, keepdims=True) for x in model], axis=1).astype(float)
    nc = model[0].shape[1]
    masks = [np.ones(nc, bool) if which is None else isthing == which for _, which in GROUPS]
    return np.array([v[0] for v in _group_pq(sums, nc, masks)])


def _sample(models, idx):
    return [PerImageStats(*(x[idx] for x in model)) for model in models]


def test_interval_coverage_on_simulated_comparisons():
    """300 comparisons of 40 images drawn from a population whose true delta PQ is known: the
    95% intervals cover it 90-99% of the time, for All, Things and Stuff."""
    rng = np.random.default_rng(1)
    isthing, models = _simulated_population(rng, 200_000, gap=0.08)
    true = _population_pq(models[1], isthing) - _population_pq(models[0], isthing)
    assert (true > 0.01).all()
    n_sims, hits = 300, np.zeros(3)
    for s in range(n_sims):
        a, b = _sample(models, rng.integers(0, len(models[0][0]), 40))
        r = paired_statistics(a, b, isthing, n_resamples=400, n_permutations=0, seed=s)
        hits += [r[g]["ci"][0] <= true[k] <= r[g]["ci"][1] for k, (g, _) in enumerate(GROUPS)]
    coverage = hits / n_sims
    print("coverage", coverage)
    assert ((0.90 <= coverage) & (coverage <= 0.99)).all(), coverage


def test_permutation_test_holds_its_level_under_the_null():
    """Two models of the same quality: p <= 0.05 in about 5% of 300 comparisons."""
    rng = np.random.default_rng(2)
    isthing, models = _simulated_population(rng, 50_000, gap=0.0)
    rejected = 0
    for s in range(300):
        a, b = _sample(models, rng.integers(0, len(models[0][0]), 40))
        r = paired_statistics(a, b, isthing, n_resamples=1, n_permutations=200, seed=s)
        rejected += r["All"]["p_value"] <= 0.05
    assert rejected / 300 <= 0.09, rejected


def test_statistics_are_deterministic_and_checked():
    rng = np.random.default_rng(3)
    isthing, models = _simulated_population(rng, 50, gap=0.1)
    a, b = _sample(models, np.arange(50))
    first = paired_statistics(a, b, isthing, n_resamples=50, n_permutations=50, seed=7)
    assert first == paired_statistics(a, b, isthing, n_resamples=50, n_permutations=50, seed=7)
    with pytest.raises(ValueError):
        paired_statistics(a, b, isthing, n_resamples=0)
    with pytest.raises(ValueError):
        paired_statistics(a, _sample(models, np.arange(10))[1], isthing)


def test_few_images_warn(data, tmp_path):
    gt = json.loads(Path(data["gt"]).read_text())
    gt["annotations"] = gt["annotations"][:5]
    small = tmp_path / "gt.json"
    small.write_text(json.dumps(gt))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare(small, [data["pred"], data["worse"]], Path(data["gt"]).with_suffix(""),
                         n_resamples=20, n_permutations=20)
    assert result.results["n_images"] == 5
    assert any(f"below about {MIN_IMAGES} images" in str(w.message) for w in caught)


# ----------------------------------------------------------------------------- bad input

def _edited(data, tmp_path, name, edit, key="pred"):
    pred = json.loads(Path(data[key]).read_text())
    edit(pred)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(pred))
    return f"{path}:{Path(data[key]).with_suffix('')}"


def _run(data, *preds, extra=()):
    argv = ["compare", "--gt_json_file", data["gt"], "--no-progress"]
    for p in preds:
        argv += ["--pred", p]
    return main(argv + list(extra))


def _one_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("panoseg compare: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_missing_image_names_file_and_image(data, tmp_path, capsys):
    missing = _edited(data, tmp_path, "missing",
                      lambda p: p.__setitem__("annotations", p["annotations"][1:]))
    assert _run(data, data["pred"], missing) == 1
    line = _one_line(capsys)
    assert "missing.json" in line and "image 1 " in line and "no prediction" in line


def test_different_image_sets(data, tmp_path, capsys):
    def add(p):
        p["annotations"].append(dict(p["annotations"][0], image_id=999))
    extra = _edited(data, tmp_path, "extra", add)
    assert _run(data, data["pred"], extra) == 1
    line = _one_line(capsys)
    assert "extra.json" in line and "image 999" in line and "different image sets" in line


def test_different_categories(data, tmp_path, capsys):
    def flip(p):
        p["categories"] = [dict(c) for c in p["categories"]]
        p["categories"][0]["isthing"] = 1 - p["categories"][0]["isthing"]
    flipped = _edited(data, tmp_path, "flipped", flip)
    assert _run(data, data["pred"], flipped) == 1
    line = _one_line(capsys)
    assert "flipped.json" in line and "'categories' differ" in line and "isthing" in line
    dropped = _edited(data, tmp_path, "dropped",
                      lambda p: p.__setitem__("categories", p["categories"][1:]))
    assert _run(data, dropped, data["pred"]) == 1
    assert "dropped.json" in _one_line(capsys)
    # the same categories in another order (or with other names) are fine
    reordered = _edited(data, tmp_path, "reordered",
                        lambda p: p.__setitem__("categories", p["categories"][::-1]))
    assert _run(data, data["pred"], reordered, extra=["--bootstrap", "10",
                                                      "--permutations", "10"]) == 0


def test_a_missing_prediction_file(data, tmp_path, capsys):
    assert _run(data, data["pred"], str(tmp_path / "nope.json")) == 1
    assert "nope.json" in _one_line(capsys)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv,needle", [
    ([], "give two or more predictions"),
    (["--name", "a", "--name", "a"], "'a' is given twice"),
    (["--name", "a"], "1 name(s) for 2 --pred"),
    (["--images-folder", "x"], "--images-folder has no effect without --report"),
    (["--bootstrap", "0"], "--bootstrap"),
])
def test_usage_errors_exit_2(data, argv, needle, capsys):
    preds = [data["pred"]] if not argv else [data["pred"], data["worse"]]
    with pytest.raises(SystemExit) as info:
        _run(data, *preds, extra=argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: panoseg compare") and needle in err


def test_api_errors(data):
    with pytest.raises(ValueError, match="at least two"):
        compare(data["gt"], [data["pred"]])
    with pytest.raises(ValueError, match="given to two predictions"):
        compare(data["gt"], [data["pred"], data["worse"]], names=["x", "x"])
    with pytest.raises(PanopticFormatError):
        compare(data["gt"], [data["pred"], (data["worse"], data["folder"] / "nowhere")])


def test_pred_spec_and_default_names():
    assert pred_spec("a.json") == ("a.json", None)
    assert pred_spec("runs/a.json:runs/a_png") == ("runs/a.json", "runs/a_png")
    assert pred_spec("s3://b/p.json:s3://b/p") == ("s3://b/p.json", "s3://b/p")
    assert default_names(["x/pred.json", "y/pred.json", "z.json"]) == ["x/pred", "y/pred", "z"]
    assert default_names(["p.json", "p.json"]) == ["p", "p#2"]


# ----------------------------------------------------------------------------- command line

def test_cli_both_spellings_table_and_json_out(data, tmp_path, capsys):
    out_a, out_b = tmp_path / "a.json", tmp_path / "b.json"
    worse = f"{data['worse']}:{Path(data['worse']).with_suffix('')}"
    assert main(["compare", "--gt_json_file", data["gt"], "--pred", data["pred"], "--pred",
                 worse, "--name", "A", "--name", "B", "--json_out", str(out_a), "--no_progress",
                 "--bootstrap", "200", "--permutations", "200", "--per_class"]) == 0
    first = capsys.readouterr()
    assert main(["compare", "--gt-json-file", data["gt"], "--pred", data["pred"], "--pred",
                 worse, "--name", "A", "--name", "B", "--json-out", str(out_b), "--no-progress",
                 "--bootstrap", "200", "--permutations", "200", "--workers", "2"]) == 0
    capsys.readouterr()
    a, b = json.loads(out_a.read_text()), json.loads(out_b.read_text())
    assert a == b
    lines = first.out.splitlines()
    assert lines[0].split() == ["|", "model", "PQ", "SQ", "RQ", "N"]
    assert lines[2].split()[:3] == ["All", "|", "A"] and lines[3].split()[1] == "B"
    assert f"{100 * a['All']['pq'][0]:.1f}" in lines[2]
    assert any(line.startswith("B vs A: delta PQ") for line in lines)
    assert any(line.startswith("per class, B vs A") for line in lines)
    assert first.err.count("warning") == 0
    assert set(a) >= {"models", "n_images", "method", "All", "Things", "Stuff", "per_class",
                      "images", "comparisons", "inputs"}
    for group in ("All", "Things", "Stuff"):
        g = a[group]
        assert len(g["pq"]) == len(g["sq"]) == len(g["rq"]) == 2
        assert g["delta_pq"] == g["pq"][1] - g["pq"][0]
        assert len(g["ci"]) == 2 and 0 < g["p_value"] <= 1
    for cat_id, v in a["per_class"].items():
        assert int(cat_id) and len(v["pq"]) == 2 and len(v["ci"]) == 2
        assert abs(v["delta_pq"] - (v["pq"][1] - v["pq"][0])) < 1e-15
    assert set(a["images"]) == {"gains", "losses"}
    assert a["method"]["n_resamples"] == 200 and a["method"]["baseline"] == "A"


def test_cli_warns_below_30_images(data, tmp_path, capsys):
    gt = json.loads(Path(data["gt"]).read_text())
    gt["annotations"] = gt["annotations"][:4]
    small = tmp_path / "small.json"
    small.write_text(json.dumps(gt))
    assert main(["compare", "--gt-json-file", str(small), "--gt-folder",
                 str(Path(data["gt"]).with_suffix("")), "--pred", data["pred"], "--pred",
                 data["worse"], "--bootstrap", "20", "--permutations", "20",
                 "--no-progress"]) == 0
    warnings_ = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings_ == ["panoseg compare: warning: 4 images: the intervals and p-values are "
                         "unreliable below about 30 images"]


def test_report(data, tmp_path, capsys):
    report = tmp_path / "report"
    assert _run(data, data["pred"], data["worse"], data["other"],
                extra=["--report", str(report), "--top", "3", "--bootstrap", "100",
                       "--permutations", "100"]) == 0
    assert f"report: {report / 'index.html'}" in capsys.readouterr().out
    page = (report / "index.html").read_text()
    for needle in ("<h2>Summary</h2>", "Per-class \u0394PQ: worse vs pred",
                   "Per-class \u0394PQ: other vs pred", "Images that change most",
                   "data:image/", "<svg class=\"chart\""):
        assert needle in page, needle
    assert "placeholder" not in page.split("<body>")[1]
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert json.loads((report / "report.json").read_text())["models"] == ["pred", "worse",
                                                                          "other"]
    pictures = sorted(os.listdir(report / "images"))
    assert len(pictures) == 3 and all(p.endswith(".png") for p in pictures)
    from PIL import Image

    with Image.open(report / "images" / pictures[0]) as im:  # GT | 3 models, under titles
        assert im.width > 4 * 64 and im.height > 48


def test_dask_equals_local(data, tmp_path, capsys):
    pytest.importorskip("distributed")
    outs = []
    for extra in ([], ["--dask", "local:1"]):
        out = tmp_path / f"r{len(outs)}.json"
        assert _run(data, data["pred"], data["worse"],
                    extra=["--json-out", str(out), "--bootstrap", "50", "--permutations", "50",
                           *extra]) == 0
        outs.append(json.loads(out.read_text()))
    capsys.readouterr()
    assert outs[0] == outs[1]


def test_tools_script(data, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "compare.py"), "--gt_json_file",
                           data["gt"], "--pred", data["pred"], "--pred", data["pred"],
                           "--json-out", str(out), "--bootstrap", "10", "--permutations", "10",
                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["All"]["p_value"] == 1.0


def test_errors_breakdown_per_model(data, tmp_path, capsys):
    errors = pytest.importorskip("panoseg.evaluation.errors")
    out, report = tmp_path / "r.json", tmp_path / "rep"
    assert _run(data, data["pred"], data["worse"],
                extra=["--errors", "--json-out", str(out), "--bootstrap", "20",
                       "--permutations", "20", "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["errors"]) == {"pred", "worse"}
    for k, name in enumerate(("pred", "worse")):
        summary = result["errors"][name]
        assert summary["n_images"] == N_IMAGES
        assert abs(summary["pq"]["All"]["pq"] - result["All"]["pq"][k]) < 1e-12
        assert set(summary["types"]) == set(errors.TYPES) | {"all"}
    assert printed.count("Where PQ is lost") == 2
    html = (report / "index.html").read_text()
    assert "Where PQ is lost: pred" in html and "Where PQ is lost: worse" in html


def test_report_header_lists_each_prediction(data, tmp_path):
    report = tmp_path / "rep"
    assert _run(data, data["pred"], data["worse"],
                extra=["--report", str(report), "--bootstrap", "20", "--permutations", "20"]) == 0
    html = (report / "index.html").read_text()
    assert "prediction: pred" in html and "prediction: worse" in html
    assert "{&quot;" not in html  # not a dict's repr


def test_category_absent_from_every_resample_has_no_interval():
    # Category 1 lives in image 0 only; one resample may well miss it: no interval, no crash.
    from panoseg.evaluation.bootstrap import PerImageStats
    from panoseg.evaluation.compare import paired_statistics

    n, nc = 50, 3

    def stats(seed):
        tp = np.zeros((n, nc), np.int64)
        tp[:, 0] = 1
        tp[0, 1] = 1
        z = np.zeros((n, nc), np.int64)
        return PerImageStats(tp, z, z, tp * np.random.default_rng(seed).random((n, nc)))

    out = paired_statistics(stats(0), stats(1), [1, 0, 1], n_resamples=1, n_permutations=0,
                            seed=9)
    assert out["per_class"][1]["ci"] is None and out["per_class"][1]["n_images"] == 1
    assert out["per_class"][0]["ci"] is not None
