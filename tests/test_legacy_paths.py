"""The flat module paths of panoseg <= 0.1 keep working, deprecated (issue 10, point 6)."""
import importlib
import subprocess
import sys
import warnings

import pytest

from panoseg._legacy import MOVED

#: One name each old path was used for (README, tests, user code).
USED = {
    "panoseg.atomic": "atomic_open", "panoseg.fileio": "read_bytes",
    "panoseg.parallel": "ordered_map", "panoseg.codec": "rgb2id", "panoseg.png": "read_ids",
    "panoseg.panoptic_json": "default_folder", "panoseg.categories": "Categories",
    "panoseg.rle": "intervals_to_rles", "panoseg.extra_metrics": "extra_results",
    "panoseg.bootstrap": "bootstrap_intervals", "panoseg.merge_io": "MergeJob",
    "panoseg.tune": "tune", "panoseg.labels": "read_panoptic_labels",
    "panoseg.label_maps": "describe_table", "panoseg.synthetic": "make_dataset",
    "panoseg.cli_types": "positive_int", "panoseg.cli_convert": "add_convert_parser",
    "panoseg.cli_infer": "add_infer_parser", "panoseg.cli_train": "add_train_semantic_parser",
    "panoseg.cli_viz": "add_viz_parser", "panoseg.distributed": "evaluate_on_dask",
}


def test_every_moved_path_is_listed_here():
    assert set(USED) == set(MOVED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_imports_with_a_deprecation_warning(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.") + " is deprecated"):
        module = importlib.import_module(old)
    assert callable(getattr(module, USED[old])) or getattr(module, USED[old]) is not None


def test_split_module_finds_each_name_in_its_new_home():
    from panoseg.evaluation.job import evaluate_on_dask
    from panoseg.merge.job import merge_on_dask
    from panoseg.util.cluster import chunk_bounds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from panoseg.distributed import chunk_bounds as a
        from panoseg.distributed import evaluate_on_dask as b
        from panoseg.distributed import merge_on_dask as c
    assert (a, b, c) == (chunk_bounds, evaluate_on_dask, merge_on_dask)


#: Names of the old flat modules that moved or were split (checked through the old paths).
OLD_NAMES = {
    "panoseg.cli": ["main", "run_eval", "run_merge", "run_tune", "add_eval_parser",
                    "add_merge_parser", "add_tune_parser", "format_summary", "format_per_class",
                    "format_extra", "format_bootstrap"],
    "panoseg.report": ["write_report", "render_report_html", "CONFUSION_ROWS", "MAX_IMAGE_WIDTH",
                       "THING_COLOR", "STUFF_COLOR"],
    "panoseg.tune": ["tune", "best", "parameter_grid", "format_tune_table", "TuneResult"],
    "panoseg.parallel": ["ordered_map", "default_workers", "thread_buffer", "workers_argument"],
    "panoseg.cli_infer": ["add_infer_parser", "MXNET_MISSING"],
    "panoseg.merge": ["combine_predictions", "merge_panoptic", "paste_masks", "paste_masks_rle",
                      "installed_pass_order", "MergeParams", "MergeCategories", "rle_to_mask",
                      "DEFAULT_CONFIDENCE_THR", "image_seed"],
    "panoseg.evaluation": ["PQStats", "PQEvaluator", "ImageResult", "Evaluation",
                           "EvaluationJob", "evaluate", "pq_compute", "match_image", "GROUPS"],
}


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_old_names_are_still_there(old):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    missing = [n for n in OLD_NAMES[old] if not hasattr(module, n)]
    assert not missing


def test_the_warning_points_at_the_users_import(tmp_path):
    """Shown under Python's default filters, attributed to the importing file, and the new
    module keeps its own name and spec."""
    script = tmp_path / "user.py"
    script.write_text("import importlib.util, panoseg.png, panoseg.io.png as new\n"
                      "assert new.__name__ == 'panoseg.io.png'\n"
                      "assert importlib.util.find_spec('panoseg.io.png').name == 'panoseg.io.png'\n"
                      "assert panoseg.png.read_ids is new.read_ids\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "user.py:1: DeprecationWarning: panoseg.png is deprecated" in run.stderr


def test_package_paths_keep_their_names():
    """Paths that became packages export what the modules did; nothing warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from panoseg.cli import main  # noqa: F401
        from panoseg.convert import detection_to_panoptic, panoptic_to_detection  # noqa: F401
        from panoseg.evaluation import PQEvaluator, PQStats, evaluate, pq_compute  # noqa: F401
        from panoseg.merge import (  # noqa: F401
            combine_predictions,
            installed_pass_order,
            merge_panoptic,
            paste_masks,
            paste_masks_rle,
        )
        from panoseg.report import write_report  # noqa: F401
        from panoseg.viz import visualize_dataset  # noqa: F401


def test_import_from_the_source_checkout_says_what_to_do(tmp_path):
    """Run from a checkout without a built core, ``python -m panoseg`` explains itself instead
    of Python's "partially initialized module (most likely due to a circular import)"."""
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "panoseg"
    shutil.copytree(src, tmp_path / "panoseg", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    run = subprocess.run([sys.executable, "-m", "panoseg", "--help"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "circular import" not in run.stderr
    assert "compiled core" in run.stderr and "pip install" in run.stderr
