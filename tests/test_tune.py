"""`panoseg tune`: the PQ it reports for a setting is what merge + eval give with it."""
import json

import pytest

import panoseg
from panoseg.cli import main
from panoseg.merge import MergeParams, combine_predictions
from panoseg.merge.job import MergeJob
from panoseg.testing.synthetic import make_merge_inputs
from panoseg.merge.tune import best, parameter_grid, tune


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_merge_inputs(tmp_path_factory.mktemp("tune"), n_images=6, height=120, width=160, seed=9)


def test_tune_equals_merge_then_eval(inputs, tmp_path):
    grid = parameter_grid([0.3, 0.6], [0.2, 0.8], [100, 4096])
    job = MergeJob.from_files(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                              inputs.categories_json, MergeParams())
    results = tune(job, inputs.gt.gt_json, grid=grid, workers=2)
    assert [r.params for r in results] == grid
    for r in results:
        p = r.params
        folder = tmp_path / f"{p.confidence_thr}-{p.overlap_thr}-{p.stuff_area_limit}"
        combine_predictions(inputs.semseg_json, inputs.instseg_json, inputs.images_json,
                            inputs.categories_json, folder, str(folder) + ".json",
                            p.confidence_thr, p.overlap_thr, p.stuff_area_limit)
        assert r.results == panoseg.pq_compute(inputs.gt.gt_json, str(folder) + ".json",
                                               pred_folder=folder)
    assert len({round(r.results["All"]["pq"], 12) for r in results}) > 1  # the grid matters
    assert best(results).results["All"]["pq"] == max(r.results["All"]["pq"] for r in results)


def test_cli(inputs, tmp_path, capsys):
    out = tmp_path / "tune.json"
    assert main(["tune", "--semseg_json_file", inputs.semseg_json, "--instseg_json_file",
                 inputs.instseg_json, "--images_json_file", inputs.images_json,
                 "--categories_json_file", inputs.categories_json, "--gt_json_file",
                 inputs.gt.gt_json, "--confidence_thr", "0.4,0.6", "--overlap_thr", "0.5",
                 "--stuff_area_limit", "0,4096", "--json-out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "best: --confidence-thr" in text
    rows = json.loads(out.read_text())
    assert len(rows) == 4 and {"All", "Things", "Stuff", "per_class"} <= set(rows[0])
    with pytest.raises(SystemExit) as info:  # a bad value is a usage error
        main(["tune", "--semseg_json_file", inputs.semseg_json, "--instseg_json_file",
              inputs.instseg_json, "--images_json_file", inputs.images_json,
              "--categories_json_file", inputs.categories_json, "--gt_json_file",
              inputs.gt.gt_json, "--overlap_thr", "0.5,1.5", "--no-progress"])
    assert info.value.code == 2
    assert "--overlap-thr: must lie in [0, 1]" in capsys.readouterr().err


@pytest.mark.parametrize("flag,values", [("--confidence-thr", "0.5,0.5"),
                                         ("--overlap_thr", "0.3,0.7,0.30"),
                                         ("--stuff-area-limit", "10,10.0")])
def test_a_value_listed_twice_is_a_usage_error(inputs, capsys, flag, values):
    # It would evaluate the same setting twice and print it twice.
    with pytest.raises(SystemExit) as info:
        main(["tune", "--semseg_json_file", inputs.semseg_json, "--instseg_json_file",
              inputs.instseg_json, "--images_json_file", inputs.images_json,
              "--categories_json_file", inputs.categories_json, "--gt_json_file",
              inputs.gt.gt_json, flag, values, "--no-progress"])
    assert info.value.code == 2
    assert "listed more than once" in capsys.readouterr().err
