"""Shared fixtures for the benchmarks and a summary of ratios against the reference.

Run on demand (not part of the test suite):  pytest benchmarks/  (see README.md)
"""
import os

import pytest

from panoseg.testing.synthetic import make_dataset

N_IMAGES = int(os.environ.get("PANOSEG_BENCH_IMAGES", "200"))
TIMINGS = {}
STAGE_SPLITS = {}  # name -> (seconds per image by stage, model stages)
REPORTS = {}  # section title -> lines (Markdown tables of test_eval_sizes / _breakdown)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """>= 200 generated COCO-like 640x480 images with predictions (PNG + JSON)."""
    return make_dataset(tmp_path_factory.mktemp("bench"), n_images=N_IMAGES, height=480,
                        width=640, seed=0)


def record(benchmark, key):
    """Remembers the median of a finished benchmark for the ratio table."""
    TIMINGS[key] = benchmark.stats.stats.median


def record_stages(name, per_image: dict, model_stages):
    """Remembers a per-image time split (e.g. of ``panoseg infer``) for the summary."""
    STAGE_SPLITS[name] = (dict(per_image), tuple(model_stages))


def report(title, lines):
    """Adds a section (e.g. a Markdown table) printed at the end of the run."""
    REPORTS[title] = list(lines)


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    for title, lines in REPORTS.items():
        tr.section(title)
        for line in lines:
            tr.write_line(line)
    for name, (per_image, model) in STAGE_SPLITS.items():
        tr.section(f"{name}: seconds per image by stage (same run)")
        for stage, seconds in per_image.items():
            tr.write_line(f"{stage:12s} {seconds:8.4f} s" + ("   (model)" if stage in model else ""))
        model_s = sum(per_image[s] for s in model)
        rest = sum(v for k, v in per_image.items() if k not in model)
        tr.write_line(f"{'everything but the model / model':40s} {rest / model_s:8.3f}   "
                      "(target <= 0.10)")
    if not TIMINGS:
        return
    tr.section("panoseg vs reference (median wall time, same run, same machine)")
    for key, value in TIMINGS.items():
        shown = f"{value:8.3f} s" if value >= 0.1 else f"{value * 1e3:8.3f} ms"
        tr.write_line(f"{key:40s} {shown}")
    for name, (num, den, target) in RATIOS.items():
        if num in TIMINGS and den in TIMINGS:
            ratio = TIMINGS[num] / TIMINGS[den]
            tr.write_line(f"{name:40s} {ratio:8.3f}   (target {target})")


# ratio name -> (numerator, denominator, target text)
RATIOS = {
    "eval: panopticapi / panoseg": ("eval/panopticapi", "eval/panoseg", ">= 12"),
    "eval: panoseg / decode-only": ("eval/panoseg", "eval/decode-only", "<= 1.25"),
    "eval: Pillow decode / panoseg decode": ("eval/decode-pillow", "eval/decode-only", "info"),
    "eval: all metrics / PQ only": ("eval/panoseg-all-metrics", "eval/panoseg-pq-only", "<= 1.20"),
    "eval: 2-worker Dask LocalCluster / threads": ("eval/dask-local-2", "eval/panoseg", "<= 1.5"),
    "merge: panopticapi / tools/merge.py": ("merge/panopticapi", "merge/tools-merge.py", ">= 15"),
    "merge: panopticapi's script / tools/merge.py (both new processes)": (
        "merge/panopticapi-script", "merge/tools-merge.py", "info"),
    "merge: panopticapi / panoseg in-process": ("merge/panopticapi", "merge/panoseg", "info"),
    "paste: GluonCV / panoseg runs (100 masks)": ("paste/gluoncv", "paste/panoseg-intervals",
                                                  ">= 10"),
    "paste: GluonCV / panoseg dense N x H x W": ("paste/gluoncv", "paste/panoseg", ">= 10"),
    "paste: GluonCV / its zeroed output alone": ("paste/gluoncv", "paste/output-allocation",
                                                 "the ceiling of any dense form"),
    "paste to RLE: GluonCV + encode / panoseg": ("paste/gluoncv-rle", "paste/panoseg-rle", "info"),
}
