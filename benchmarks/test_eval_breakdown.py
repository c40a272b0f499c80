"""Where the evaluation time goes, per image, one thread, at each size (issue 12, point 6).

For every image of the generated sets of test_eval_sizes (same sizes, same cache, same knobs:
benchmarks/evalbench.py), each stage is timed on its own, best of
``PANOSEG_BENCH_BREAKDOWN_ROUNDS`` (default 5), the stages interleaved:

* files: ``panoseg._core.match_png_files`` on the two paths, as ``pq_compute`` calls it: one
  C++ call that reads both files, checks their chunks, inflates them (zlib-ng, 256 KB pieces) and
  decodes each scanline straight to runs (csrc/io/png_row_runs.cpp), counts and matches them as
  they come, and adds the image's statistics to a ``StatsSink`` (no result arrays);
* raw: ``_core.match_png`` on the already inflated data (the same decode, count and match);
* read + inflate in core: files - raw;
* count + match: ``_core.match_image`` on the two decoded id maps (the same pair count, PQ
  match and extra metrics, on id maps instead of runs);
* scanlines to runs in core: raw - (count + match), an estimate of the run decoder's share;
* unfilter alone: ``panoseg._core.png_unfilter_ids`` of both inflated buffers (reconstruct the
  bytes + convert to ids, writing two fresh id maps, as ``read_ids`` does; the evaluator never
  does this: for comparison);
* for reference, inflating in Python as the fallback reader does (``PngImageData.chunks``:
  chunk parsing, CRCs, zlib-ng's Python module) and reading the files' bytes in Python;
* evaluate: the images as ``pq_compute`` evaluates them on one thread: a task's images at a
  time (``EvaluationJob._evaluate_block``: one ``_core.match_png_files_into_sink`` call for
  them all), the segment tables made beforehand, as it makes them a block at a time; the whole
  set, best of rounds, per image;
* Python: evaluate minus the same block calls made from lists made beforehand (paths, lists,
  the call's argument handling, per image), both over the whole set;
* per image in ``pq_compute(workers=1)`` minus evaluate: JSON, segment tables, statistics,
  summary.

Prints a per-image milliseconds table (Markdown) at the end and writes the numbers to
``benchmarks/results/eval_breakdown.json`` (``$PANOSEG_BENCH_BREAKDOWN_OUT``).
"""
from __future__ import annotations

import os
import time

import evalbench as eb
import pytest
from conftest import report

SIZES = eb.selected_sizes()
BREAKDOWN: dict = {}
ROUNDS = int(os.environ.get("PANOSEG_BENCH_BREAKDOWN_ROUNDS", "5"))

STAGES = ("files", "read+inflate", "unfilter", "count+match", "python", "evaluate_image",
          "pq_compute", "other", "raw", "unfilter_alone", "py_read", "py_inflate")


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    base = eb.base_dir(tmp_path_factory)
    return lambda name: eb.dataset(name, base)


@pytest.fixture(scope="module", autouse=True)
def summary():
    machine = eb.machine()
    yield
    if not BREAKDOWN:
        return
    lines = [(f"One thread; milliseconds per image (mean over the images of each set, every "
              f"stage best of {ROUNDS}); {eb.machine_line(machine)}."), "",
             ("| size | core call (match_png_files) | read + inflate in core (files - raw) | "
              "scanlines to runs in core (raw - count) | count + match (match_image on id "
              "maps) | "
              "Python | evaluate (as pq_compute, a block per call) | pq_compute / image | "
              "JSON + stats + summary | "
              "raw (match_png on inflated data) | unfilter to id maps (read_ids' way) | "
              "Python read | Python inflate (fallback reader) |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, row in BREAKDOWN.items():
        ms = row["ms_per_image"]
        lines.append(f"| {size} ({row['images']} img) | " + " | ".join(
            f"{ms[s]:.2f}" for s in STAGES) + " |")
    shares = []
    for size, r in BREAKDOWN.items():
        ms = r["ms_per_image"]
        pct = {k: 100 * ms[k] / ms["evaluate_image"] for k in ms}
        shares.append(f"{size}: core call {pct['files']:.0f}% (read + inflate "
                      f"~{pct['read+inflate']:.0f}%, runs ~{pct['unfilter']:.0f}%), Python "
                      f"{pct['python']:.0f}%")
    lines += [
        "", "Shares of evaluate: " + "; ".join(shares) + ".",
        ("Each stage is timed on its own (best of rounds), so on a loaded machine the "
         "differences (read + inflate, scanlines to runs, Python) can come out slightly "
         "negative. 'unfilter to id maps' writes two fresh id maps (page faults included), "
         "which the run decoder never does. The PQ match of the pair table is not timed apart from "
         "the count (that needs the package's help); it is included in 'count + match'.")]
    report("eval: where the time goes per image (one thread, same run)", lines)
    path = (os.environ.get("PANOSEG_BENCH_BREAKDOWN_OUT")
            or os.path.join(eb.HERE, "results", "eval_breakdown.json"))
    eb.write_json(path, {"machine": machine, "scale": eb.scale(), "rounds": ROUNDS,
                         "sizes": BREAKDOWN, "markdown": lines})
    report("eval breakdown: results file", [path])


def best_of(fn, rounds):
    best, result = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def time_pair(job, pair, isthing, rounds) -> dict:
    """Seconds (best of ``rounds``) of each stage of one image, timed on its own."""
    from panoseg import _core
    from panoseg.evaluation.job import INFLATE_CHUNK
    from panoseg.io.panoptic_json import SegmentTable
    from panoseg.io.png import PngImageData, inflate
    from panoseg.util.fileio import join, read_bytes

    cats = job.categories
    gt_ann, pred_ann = pair
    gt_png = join(job.gt_folder, gt_ann["file_name"])
    pred_png = join(job.pred_folder, pred_ann["file_name"])
    gt_t = SegmentTable.from_segments_info(gt_ann["segments_info"], cats, is_gt=True,
                                           file=job.gt_json_file, image_id=gt_ann["image_id"],
                                           file_name=gt_ann["file_name"])
    pred_t = SegmentTable.from_segments_info(pred_ann["segments_info"], cats, is_gt=False,
                                             file=job.pred_json_file,
                                             image_id=pred_ann["image_id"],
                                             file_name=pred_ann["file_name"])
    job.evaluate_image(pair)  # warm: page cache, thread buffers, lazily built tables
    gt_bytes, pred_bytes = read_bytes(gt_png), read_bytes(pred_png)
    h, w, gt_raw = inflate(gt_bytes, gt_png)
    pred_raw = inflate(pred_bytes, pred_png)[2]
    assert gt_raw is not None and pred_raw is not None, "interlaced PNG"
    n_cats = len(cats)

    def raw():  # the same decode, count and match on inflated data
        return _core.match_png(gt_raw, pred_raw, h, w, gt_t.ids, gt_t.category, gt_t.iscrowd,
                               gt_t.area, pred_t.ids, pred_t.category, n_cats, isthing)

    # As pq_compute's core calls add an image (its statistics summed in the core; never
    # drained here: a few terms per call).
    sink = _core.StatsSink(n_cats, False)

    def files():  # the core call of one image (the block call makes one per image, inside)
        return _core.match_png_files(gt_png, pred_png, job.max_pixels,
                                     job.sizes.get(gt_ann["image_id"]), gt_t.ids,
                                     gt_t.category, gt_t.iscrowd, gt_t.area, pred_t.ids,
                                     pred_t.category, n_cats, isthing, sink=sink)

    assert files() is True, "the core declined this image (ids missing from the JSON?)"
    gt_ids = _core.png_unfilter_ids(gt_raw, h, w)
    pred_ids = _core.png_unfilter_ids(pred_raw, h, w)
    stages = {
        "files": files,
        "raw": raw,
        "count+match": lambda: _core.match_image(
            gt_ids, pred_ids, gt_t.ids, gt_t.category, gt_t.iscrowd, gt_t.area, pred_t.ids,
            pred_t.category, n_cats, isthing),
        "unfilter_alone": lambda: (_core.png_unfilter_ids(gt_raw, h, w),
                                   _core.png_unfilter_ids(pred_raw, h, w)),
        "py_read": lambda: (read_bytes(gt_png), read_bytes(pred_png)),
        # As the fallback reader inflates: in INFLATE_CHUNK pieces.
        "py_inflate": lambda: [None for png in (PngImageData(gt_bytes, gt_png),
                                                PngImageData(pred_bytes, pred_png))
                               for _ in png.chunks(INFLATE_CHUNK)],
    }
    # Rounds interleaved (every stage once per round), so that a busy spell of the machine
    # hits all stages alike; the best of each stage is kept.
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(rounds):
        for name, fn in stages.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


@pytest.mark.parametrize("size", SIZES)
def test_breakdown(sets, size):
    import panoseg
    from panoseg import _core
    from panoseg.evaluation.job import EVAL_BATCH, EvaluationJob
    from panoseg.util.fileio import join
    from panoseg.evaluation.matching import _isthing

    ds = sets(size)
    job = EvaluationJob(ds.gt_json, ds.pred_json)
    isthing = _isthing(job.categories) if job.extra else None
    total = dict.fromkeys(STAGES, 0.0)
    for pair in job.pairs:
        for k, v in time_pair(job, pair, isthing, ROUNDS).items():
            total[k] += v
    n = len(job.pairs)
    # The images as pq_compute evaluates them on one thread: blocks of its task size.
    items = list(job._with_tables(job.pairs))
    batch = max(1, min(EVAL_BATCH, n // 8))
    sink = _core.StatsSink(len(job.categories), False)

    def evaluate():
        for k in range(0, n, batch):
            out = []
            job._evaluate_block(items[k:k + batch], out, sink)
            assert out == [None] * len(out), "an image was not summed in the core"

    blocks = []  # the block calls' arguments, made beforehand
    for k in range(0, n, batch):
        block = items[k:k + batch]
        blocks.append((
            [join(job.gt_folder, gt["file_name"]) for (gt, _), _ in block],
            [join(job.pred_folder, pred["file_name"]) for (_, pred), _ in block],
            [job.sizes.get(gt["image_id"]) for (gt, _), _ in block],
            [t[0] for _, t in block], [t[1] for _, t in block]))

    def core_blocks():
        for args in blocks:
            assert _core.match_png_files_into_sink(
                *args, job.max_pixels, len(job.categories), isthing, sink=sink) == len(args[0])

    for _ in range(ROUNDS):  # interleaved, as the stages of an image
        t_eval, _ = best_of(evaluate, 1)
        t_core, _ = best_of(core_blocks, 1)
        total["evaluate_image"] = min(total["evaluate_image"] or t_eval, t_eval)
        total["core_blocks"] = min(total.get("core_blocks") or t_core, t_core)
    t_pq, _ = best_of(lambda: panoseg.pq_compute(ds.gt_json, ds.pred_json, workers=1), ROUNDS)
    total["pq_compute"] = t_pq
    total["read+inflate"] = total["files"] - total["raw"]
    total["unfilter"] = total["raw"] - total["count+match"]
    total["python"] = total["evaluate_image"] - total.pop("core_blocks")
    total["other"] = total["pq_compute"] - total["evaluate_image"]
    BREAKDOWN[size] = {"images": n, "height": ds.height, "width": ds.width,
                       "ms_per_image": {k: 1e3 * v / n for k, v in total.items()}}
