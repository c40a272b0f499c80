"""Merge speed: ``tools/merge.py`` (a fresh process: start-up, imports, PNGs and JSON included)
and panoseg's combine_predictions vs panopticapi's, and mask pasting vs GluonCV's
expand_mask/fill, in the same run on the same machine."""
import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from panoseg.merge import combine_predictions, paste_masks
from panoseg.util.parallel import default_workers
from panoseg.testing.synthetic import make_merge_inputs

from conftest import N_IMAGES, record

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from gluoncv_reference import gluoncv_fill  # noqa: E402

WORKERS = default_workers()


@pytest.fixture(scope="module")
def merge_inputs(tmp_path_factory):
    return make_merge_inputs(tmp_path_factory.mktemp("merge"), n_images=N_IMAGES, height=480,
                             width=640, seed=0)


def fresh_output(tmp_path, name):
    """Each round writes into a new, empty folder (as a user's run does), for both sides."""
    counter = iter(range(10**6))

    def setup():
        out = tmp_path / f"{name}{next(counter)}"
        return (str(out), str(out) + ".json"), {}
    return setup


def test_merge_panopticapi(benchmark, merge_inputs, tmp_path):
    combine = pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    i = merge_inputs

    def run(folder, json_file):
        with contextlib.redirect_stdout(io.StringIO()):
            combine.combine_predictions(i.semseg_json, i.instseg_json, i.images_json,
                                        i.categories_json, folder, json_file, 0.5, 0.5, 64 * 64)

    benchmark.pedantic(run, setup=fresh_output(tmp_path, "ref"), rounds=3, iterations=1)
    record(benchmark, "merge/panopticapi")


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def test_merge_tool(benchmark, merge_inputs, tmp_path):
    """Issue 12's target: ``tools/merge.py`` on the images into a fresh folder, as a user runs
    it (a new Python process each round, this tree's panoseg first on its path)."""
    i = merge_inputs
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))

    def run(folder, json_file):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "merge.py"),
                        "--semseg_json_file", i.semseg_json, "--instseg_json_file", i.instseg_json,
                        "--images_json_file", i.images_json,
                        "--categories_json_file", i.categories_json,
                        "--panoptic_json_file", json_file, "--segmentations_folder", folder,
                        "--no-progress"], env=env, check=True, stdout=subprocess.DEVNULL)

    benchmark.pedantic(run, setup=fresh_output(tmp_path, "tool"), rounds=7, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "merge/tools-merge.py")


def test_merge_panoseg(benchmark, merge_inputs, tmp_path):
    """The same merge in-process (the API call, no start-up)."""
    i = merge_inputs

    def run(folder, json_file):
        combine_predictions(i.semseg_json, i.instseg_json, i.images_json, i.categories_json,
                            folder, json_file, workers=WORKERS)

    benchmark.pedantic(run, setup=fresh_output(tmp_path, "ours"), rounds=7, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "merge/panoseg")


@pytest.fixture(scope="module")
def masks():
    """100 Mask R-CNN-like 28x28 mask probabilities in boxes of varied size on a 640x480 image."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28]
    blob = np.exp(-((yy - 14) ** 2 + (xx - 14) ** 2) / 60.0).astype(np.float32)
    probs = np.clip(blob[None] + rng.normal(0, 0.1, (100, 28, 28)), 0, 1).astype(np.float32)
    x1, y1 = rng.uniform(-20, 600, 100), rng.uniform(-20, 440, 100)
    w, h = np.exp(rng.uniform(np.log(10), np.log(300), (2, 100)))
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)
    assert np.array_equal(paste_masks(probs, boxes, (640, 480)), gluoncv_fill(probs, boxes, (640, 480)))
    return probs, boxes


def test_paste_gluoncv(benchmark, masks):
    try:  # the real thing when GluonCV (and MXNet) are installed, else its code verbatim
        from gluoncv.data.transforms.mask import fill
        benchmark.extra_info["implementation"] = "gluoncv"
    except ImportError:
        fill = gluoncv_fill
        benchmark.extra_info["implementation"] = "gluoncv 0.10.5 fill, verbatim copy"
    benchmark.pedantic(fill, args=(*masks, (640, 480)), rounds=10, iterations=1, warmup_rounds=1)
    record(benchmark, "paste/gluoncv")


def test_paste_panoseg(benchmark, masks):
    benchmark.pedantic(paste_masks, args=(*masks, (640, 480)), rounds=20, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "paste/panoseg")


def test_paste_panoseg_intervals(benchmark, masks):
    """The form the merge consumes: run intervals of each pasted mask, no dense N x H x W array."""
    from panoseg import _core

    probs, boxes = masks
    benchmark.pedantic(_core.paste_intervals, args=(probs, boxes, 480, 640, False, WORKERS), rounds=20,
                       iterations=1, warmup_rounds=1)
    record(benchmark, "paste/panoseg-intervals")


def test_paste_output_allocation(benchmark, masks):
    """Allocating the zeroed 100 x 480 x 640 array alone, which GluonCV's fill also does: no
    dense paste can be faster than this."""
    probs, _ = masks
    benchmark.pedantic(np.zeros, args=((len(probs), 480, 640), np.uint8), rounds=20,
                       iterations=1, warmup_rounds=1)
    record(benchmark, "paste/output-allocation")


def test_paste_gluoncv_rle(benchmark, masks):
    """COCO results from GluonCV: fill, then pycocotools.mask.encode of each mask."""
    from pycocotools import mask as mask_utils

    def run(probs, boxes):
        full = gluoncv_fill(probs, boxes, (640, 480))
        return [mask_utils.encode(np.asfortranarray(m)) for m in full]

    benchmark.pedantic(run, args=masks, rounds=10, iterations=1, warmup_rounds=1)
    record(benchmark, "paste/gluoncv-rle")


def test_paste_panoseg_rle(benchmark, masks):
    from panoseg.merge import paste_masks_rle

    benchmark.pedantic(paste_masks_rle, args=(*masks, (640, 480)), kwargs={"workers": WORKERS},
                       rounds=20, iterations=1, warmup_rounds=1)
    record(benchmark, "paste/panoseg-rle")
