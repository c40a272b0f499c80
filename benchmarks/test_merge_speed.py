"""Merge speed: ``tools/merge.py`` (a fresh process: start-up, imports, PNGs and JSON included)
and panoseg's combine_predictions vs panopticapi's, and mask pasting vs GluonCV's
expand_mask/fill, in the same run on the same machine."""
import contextlib
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from panoseg.merge import combine_predictions, paste_masks
from panoseg.util.parallel import default_workers
from panoseg.testing.synthetic import make_merge_inputs

from conftest import N_IMAGES, record, report

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
    pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    benchmark.pedantic(lambda folder, json_file: run_panopticapi(merge_inputs, folder, json_file),
                       setup=fresh_output(tmp_path, "ref"), rounds=3, iterations=1)
    record(benchmark, "merge/panopticapi")


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def run_tool(i, folder, json_file):
    """``tools/merge.py`` as a user runs it: a new Python process, this tree's panoseg first on
    its path, bytecode cached as an installed package has it (the warm-up round writes it)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "merge.py"),
                    "--semseg_json_file", i.semseg_json, "--instseg_json_file", i.instseg_json,
                    "--images_json_file", i.images_json, "--categories_json_file", i.categories_json,
                    "--panoptic_json_file", json_file, "--segmentations_folder", folder,
                    "--no-progress"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def create_files(i, folder, json_file, n=None):
    """The control: creating as many empty files in a fresh folder as the merge writes PNGs,
    from Python, one thread. On an ext4 without a journal (this VM's) a file's creation costs
    0.1 ms, or up to 0.9 ms for a minute or more after many files were deleted (the inode
    allocator then passes over recently freed inodes one by one), and the merge creates 200."""
    n = len(json.loads(open(i.images_json).read())["images"]) if n is None else n
    os.mkdir(folder)
    for k in range(n):
        os.close(os.open(os.path.join(folder, f"{k}.png"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))


def run_panopticapi(i, folder, json_file):
    combine = pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    with contextlib.redirect_stdout(io.StringIO()):
        combine.combine_predictions(i.semseg_json, i.instseg_json, i.images_json,
                                    i.categories_json, folder, json_file, 0.5, 0.5, 64 * 64)


def run_panopticapi_script(i, folder, json_file):
    """panopticapi's ``combine_semantic_and_instance_predictions.py`` as its README runs it: a
    new Python process too (the fair counterpart of :func:`run_tool`). It makes no folder
    deeper than one level and has no flag for its workers (all cores, as run_tool)."""
    combine = pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    r = subprocess.run([sys.executable, combine.__file__,
                        "--semseg_json_file", i.semseg_json, "--instseg_json_file", i.instseg_json,
                        "--images_json_file", i.images_json,
                        "--categories_json_file", i.categories_json,
                        "--panoptic_json_file", json_file, "--segmentations_folder", folder],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_merge_panopticapi_script(benchmark, merge_inputs, tmp_path):
    """panopticapi's script in a new process: start-up and imports counted, as for
    tools/merge.py."""
    pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    benchmark.pedantic(
        lambda folder, json_file: run_panopticapi_script(merge_inputs, folder, json_file),
        setup=fresh_output(tmp_path, "refscript"), rounds=3, iterations=1, warmup_rounds=1)
    record(benchmark, "merge/panopticapi-script")


def test_merge_tool(benchmark, merge_inputs, tmp_path):
    """Issue 12's target: ``tools/merge.py`` on the images into a fresh folder."""
    benchmark.pedantic(lambda folder, json_file: run_tool(merge_inputs, folder, json_file),
                       setup=fresh_output(tmp_path, "tool"), rounds=7, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "merge/tools-merge.py")


def test_merge_tool_interleaved(merge_inputs, tmp_path):
    """The same ratios with the runs alternating (one of each per round, each into a fresh
    folder), so that the load of a shared machine, which drifts over a run, weighs on all
    alike: panopticapi's ``combine_predictions`` called in this process (no start-up, the
    issue's comparison) and its script in a new process (start-up counted, as for
    tools/merge.py), against tools/merge.py. Per round, the ratio of each to tools/merge.py;
    their median, range, and the ratio of the medians."""
    pytest.importorskip("panopticapi.combine_semantic_and_instance_predictions")
    run_tool(merge_inputs, str(tmp_path / "warm"), str(tmp_path / "warm.json"))  # writes .pyc
    runs = (("api", run_panopticapi), ("script", run_panopticapi_script), ("tool", run_tool),
            ("creates", create_files))
    rounds = []
    for r in range(int(os.environ.get("PANOSEG_BENCH_PAIRS", "5"))):
        times = {}
        for name, run in runs:
            folder = str(tmp_path / f"{name}{r}")
            start = time.perf_counter()
            run(merge_inputs, folder, folder + ".json")
            times[name] = time.perf_counter() - start
        rounds.append(times)

    def median(values):
        return sorted(values)[len(values) // 2]

    tool_median = median([t["tool"] for t in rounds])
    lines = ["round  panopticapi  its script  tools/merge.py   api/tool  script/tool  "
             "control: 200 creates"] + [
        f"{k:5d}  {t['api']:9.3f} s  {t['script']:8.3f} s  {t['tool']:12.3f} s  "
        f"{t['api'] / t['tool']:8.2f}  {t['script'] / t['tool']:11.2f}  "
        f"{1000 * t['creates']:17.1f} ms"
        for k, t in enumerate(rounds)]
    for name, what in (("api", "panopticapi in-process"), ("script", "panopticapi's script")):
        ratios = sorted(t[name] / t["tool"] for t in rounds)
        ref_median = median([t[name] for t in rounds])
        lines.append(f"{what} / tools/merge.py: median of the round ratios "
                     f"{median(ratios):.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}); ratio of "
                     f"the medians {ref_median / tool_median:.2f} ({ref_median:.3f} s / "
                     f"{tool_median:.3f} s)")
    creates = sorted(1000 * t["creates"] for t in rounds)
    lines.append(f"control, 200 file creations from Python: median {median(creates):.1f} ms "
                 f"(range {creates[0]:.1f}-{creates[-1]:.1f})")
    lines.append(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    report("merge: panopticapi / tools/merge.py, interleaved rounds (target >= 15)", lines)


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
