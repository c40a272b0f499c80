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
        from panoseg.distributed import chunk_bounds as a, evaluate_on_dask as b, merge_on_dask as c
    assert (a, b, c) == (chunk_bounds, evaluate_on_dask, merge_on_dask)


def test_package_paths_keep_their_names():
    """Paths that became packages export what the modules did; nothing warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from panoseg.cli import main  # noqa: F401
        from panoseg.convert import detection_to_panoptic, panoptic_to_detection  # noqa: F401
        from panoseg.evaluation import PQEvaluator, PQStats, evaluate, pq_compute  # noqa: F401
        from panoseg.merge import (combine_predictions, installed_pass_order,  # noqa: F401
                                   merge_panoptic, paste_masks, paste_masks_rle)
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
