"""The ``panoseg eval`` subcommand: Panoptic Quality of a prediction, panopticapi's flags."""
from __future__ import annotations

import argparse
import json
import os
import time

from ..io.paths import find_photo
from ..util.atomic import atomic_open
from .common import (
    add_command,
    add_gt_area,
    add_max_pixels,
    add_run_options,
    input_file,
    input_folder,
    int_up_to,
    output_file,
    output_folder,
    percent,
    positive_float,
    positive_int,
    seed,
    timing,
    warn,
    warn_area_mismatch,
)

#: --iou-type's choices and --dilation-ratio's default: evaluation.stats.IOU_TYPES and
#: evaluation.matching.DILATION_RATIO (tests check), spelled here so that building the
#: parser does not import the evaluator (the other subcommands start faster without it).
IOU_TYPES = ("segm", "boundary")
DILATION_RATIO = 0.02

#: The most resamples --bootstrap takes (1000-10000 are the usual choices).
MAX_BOOTSTRAP = 1_000_000
#: Below this many images a bootstrap interval says little (the resampled sets repeat).
MIN_BOOTSTRAP_IMAGES = 30
REPORT_WORST = 8


def add_eval_parser(subparsers) -> None:
    """Adds the ``eval`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "eval", help="Panoptic Quality of a prediction (COCO panoptic JSON + PNGs)",
        description="Computes PQ / SQ / RQ exactly as COCO's panopticapi, an order of magnitude "
                    "faster. The tables go to stdout; progress, timing and warnings to stderr.")
    p.add_argument("--gt-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with ground truth data")
    p.add_argument("--pred-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with predictions data")
    p.add_argument("--gt-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with ground truth PNGs; default: X if the JSON file is X.json")
    p.add_argument("--pred-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with predicted PNGs; default: X if the JSON file is X.json")
    add_gt_area(p)
    add_max_pixels(p)
    p.add_argument("--iou-type", choices=IOU_TYPES, default="segm",
                   help="segm: PQ (panopticapi); boundary: Boundary PQ (Cheng et al. 2021), "
                        "matching on min(mask IoU, boundary IoU) as boundary-iou-api does "
                        "(the mask PQ of the same pass goes to --json-out under 'segm')")
    p.add_argument("--dilation-ratio", type=dilation_ratio, default=DILATION_RATIO,
                   metavar="R",
                   help="boundary band width as a fraction of the image diagonal (default "
                        f"{DILATION_RATIO}; needs --iou-type boundary)")
    p.needs("--dilation-ratio", "--iou-type", "boundary")
    p.add_argument("--errors", action="store_true",
                   help="also break the PQ gap into error types (classification, split, merge, "
                        "localization, missed, background, segmentation quality) with the PQ "
                        "each fix would gain; printed, in --json-out under 'errors' and in the "
                        "report (decodes every image whole: slower)")
    g = p.add_argument_group("outputs")
    g.add_argument("--json-out", type=output_file, metavar="FILE",
                   help="write the results dict (panopticapi's, category ids as keys) as JSON")
    g.add_argument("--per-class", action="store_true", help="also print a per-category table")
    g.add_argument("--per-image", type=output_file, metavar="FILE",
                   help="write per-image results as JSON lines (image_id, pq, sq, rq, tp, fp, fn)")
    g.add_argument("--bootstrap", type=int_up_to(MAX_BOOTSTRAP), default=None, metavar="N",
                   help="95%% bootstrap intervals of PQ / SQ / RQ from N resamples of the images "
                        "(no image is read again; unreliable below about "
                        f"{MIN_BOOTSTRAP_IMAGES} images; N <= {MAX_BOOTSTRAP})")
    g.add_argument("--bootstrap-seed", type=seed, default=0, metavar="SEED",
                   help="seed of the resampling (default 0; needs --bootstrap)")
    g.add_argument("--report", type=output_folder, metavar="DIR",
                   help="write DIR/index.html (self-contained error analysis) and DIR/report.json")
    g.add_argument("--report-worst", type=positive_int, default=REPORT_WORST, metavar="N",
                   help=f"images shown in the report, lowest PQ first (default {REPORT_WORST}; "
                        "needs --report)")
    g.add_argument("--images-folder", default=None, type=input_folder, metavar="DIR",
                   help="the photos, to draw the report's overlays on (default: grey; needs "
                        "--report)")
    p.default_folder("--gt-folder", "--gt-json-file")
    p.default_folder("--pred-folder", "--pred-json-file")
    p.writes("--report", "index.html", "report.json")  # panoseg.report.write_report
    p.needs("--report-worst", "--report")
    p.needs("--images-folder", "--report")
    p.needs("--bootstrap-seed", "--bootstrap")
    add_run_options(p, dask="evaluate on a Dask cluster: a scheduler address or local:N workers")
    p.set_defaults(run=run_eval)


def dilation_ratio(text: str) -> float:
    """--dilation-ratio: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError("must lie in (0, 1]")
    return value


def format_summary(results: dict, title: str = "") -> str:
    """panopticapi's summary table (PQ / SQ / RQ in percent, N classes); ``-`` for a group
    without categories. ``title`` names the metric in the header's first cell (e.g. "Boundary")."""
    from ..evaluation import (
        GROUPS,  # here: the other commands start without the evaluator
    )

    lines = ["{:10s}| {:>5s}  {:>5s}  {:>5s} {:>5s}".format(title, "PQ", "SQ", "RQ", "N"),
             "-" * (10 + 7 * 4)]
    for name, _ in GROUPS:
        r = results[name]
        n = r["n"]
        lines.append("{:10s}| {}  {}  {} {:5d}".format(
            name, percent(r["pq"], n), percent(r["sq"], n), percent(r["rq"], n), n))
    return "\n".join(lines)


def format_per_class(rows: list) -> str:
    """A per-category table: PQ / SQ / RQ in percent and the raw counts (one row per dict)."""
    width = max([len("category")] + [len(r["name"]) for r in rows])
    head = f"{'id':>5s}  {'category':<{width}s}  {'kind':5s} {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'TP':>7s} {'FP':>7s} {'FN':>7s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['id']:>5d}  {r['name']:<{width}s}  {'thing' if r['isthing'] else 'stuff':5s} "
                     f"{100 * r['pq']:6.1f} {100 * r['sq']:6.1f} {100 * r['rq']:6.1f} "
                     f"{r['tp']:7d} {r['fp']:7d} {r['fn']:7d}")
    return "\n".join(lines)


def format_extra(extra: dict) -> str:
    """PQ-dagger, Parsing Covering and PQ by size, one line each (percent; ``-`` for N = 0)."""
    d, pc, size = extra["pq_dagger"], extra["parsing_covering"], extra["pq_by_size"]
    return "\n".join([
        "PQ-dagger | All {}  Things {}  Stuff {}".format(
            *(percent(d[g]["pq"], d[g]["n"]) for g in ("All", "Things", "Stuff"))),
        "Parsing Covering {} ({} categories)".format(percent(pc["pc"], pc["n"]), pc["n"]),
        "PQ things by size | " + "  ".join(
            "{} {} (N {})".format(s, percent(size[s]["pq"], size[s]["n"]), size[s]["n"])
            for s in ("small", "medium", "large"))])


def format_semantic(semantic: dict) -> str:
    """mIoU, fwIoU, mAcc and aAcc on one line (percent)."""
    return "Semantic | mIoU {}  fwIoU {}  mAcc {}  aAcc {} ({} categories)".format(
        percent(semantic["mIoU"], semantic["n"]), percent(semantic["fwIoU"], semantic["n"]),
        percent(semantic["mAcc"], semantic["n"]), percent(semantic["aAcc"], semantic["n"]),
        semantic["n"])


def format_bootstrap(boot: dict, results: dict) -> str:
    """The intervals, one line per group; ``-`` for a group without categories."""
    from ..evaluation import GROUPS

    lines = [f"{100 * boot['confidence']:.0f}% bootstrap intervals ({boot['n']} resamples of the "
             "images), percent:"]
    for name, _ in GROUPS:
        b, n = boot[name], results[name]["n"]
        lines.append("{:10s}| ".format(name) + "  ".join(
            "{} {}".format(k.upper(), f"{percent(b[k][0])}-{percent(b[k][1])}" if n
                           else f"{'-':>11s}") for k in ("pq", "sq", "rq")))
    if "semantic" in boot:
        lines.append("Semantic  | " + "  ".join(
            f"{k} {percent(v[0])}-{percent(v[1])}" for k, v in boot["semantic"].items()))
    return "\n".join(lines)


def run_eval(args) -> int:
    from ..errors import PanopticFormatError
    from ..evaluation import GROUPS, EvaluationJob
    from ..evaluation.extra_metrics import extra_results
    from ..evaluation.semantic import semantic_results
    from ..io.png import decoder_name

    start = time.perf_counter()
    if args.images_folder is not None and not os.path.isdir(args.images_folder):
        raise PanopticFormatError("images folder does not exist (--images-folder)",
                                  file=args.images_folder)
    job = EvaluationJob(args.gt_json_file, args.pred_json_file, args.gt_folder,
                        args.pred_folder, gt_area=args.gt_area, max_pixels=args.max_pixels,
                        iou_type=args.iou_type, dilation_ratio=args.dilation_ratio,
                        errors=args.errors)
    if not job.n_images:  # as compare: an empty table of dashes would pass for a result
        raise PanopticFormatError("the ground truth has no annotations: nothing to evaluate",
                                  file=args.gt_json_file)
    if args.bootstrap and job.n_images < MIN_BOOTSTRAP_IMAGES:
        n = job.n_images
        warn(args, f"--bootstrap over {n} image{'s' if n != 1 else ''}: the intervals are "
                   f"unreliable below about {MIN_BOOTSTRAP_IMAGES} images")
    keep = bool(args.per_image or args.bootstrap or args.report)
    if args.dask:
        from ..evaluation.job import evaluate_on_dask
        from ..util.cluster import dask_client

        with dask_client(args.dask) as client:
            chunk = evaluate_on_dask(job, client, progress=not args.no_progress, keep=keep)
    else:
        chunk = job.evaluate_chunk(workers=args.workers, keep=keep,
                                   progress=not args.no_progress)
    stats, rows, arrays = chunk.stats, chunk.rows, chunk.arrays
    warn_area_mismatch(args, stats.n_area_mismatch)
    results = stats.summarize()
    extra = extra_results(stats)
    semantic = semantic_results(stats)
    boundary = args.iou_type == "boundary"
    print(format_summary(results, "Boundary" if boundary else ""))
    if boundary:
        segm = stats.summarize_segm()
        print("Mask PQ of the same pass | " + "  ".join(
            f"{g} {percent(segm[g]['pq'], segm[g]['n'])}" for g, _ in GROUPS))
    print(format_extra(extra))
    print(format_semantic(semantic))
    report = dict(results)
    report["iou_type"] = args.iou_type
    if boundary:
        report["dilation_ratio"] = args.dilation_ratio
        report["segm"] = segm
    report.update(extra)
    report["semantic"] = semantic
    report["per_category"] = _per_category(stats, extra, semantic)
    report["n_images"] = stats.n_images
    if args.bootstrap:
        from ..evaluation.bootstrap import PerImageStats, bootstrap_intervals

        report["bootstrap"] = bootstrap_intervals(PerImageStats.from_arrays(arrays),
                                                  job.categories.isthing, args.bootstrap,
                                                  seed=args.bootstrap_seed)
        print(format_bootstrap(report["bootstrap"], results))
    if args.errors:
        from ..evaluation.errors import format_table, summarize

        report["errors"] = summarize(chunk.errors, job.categories)
        print()
        print(format_table(report["errors"]))
    if args.per_class:
        print()
        rows_pc = [r for r in stats.per_category() if r["tp"] + r["fp"] + r["fn"]]
        print(format_per_class(rows_pc))
    if args.per_image:
        with atomic_open(args.per_image, "w") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    if args.json_out:
        # panopticapi's dict unchanged at the top level; the new numbers under their own keys.
        with atomic_open(args.json_out, "w") as f:
            json.dump(report, f, indent=1)
    if args.report:
        from ..report import write_report

        report["per_image"] = rows
        report["inputs"] = {"gt_json_file": job.gt_json_file, "pred_json_file": job.pred_json_file,
                            "gt_folder": job.gt_folder, "pred_folder": job.pred_folder}
        path = write_report(args.report, report, _worst_images(job, rows, args), job.categories)
        print(f"report: {path}")
    timing(f"{stats.n_images} images in {time.perf_counter() - start:.2f} s "
           f"({decoder_name()} PNG decoder)")
    return 0


def _per_category(stats, extra, semantic) -> list:
    dagger = extra["pq_dagger"]["per_class"]
    covering = extra["parsing_covering"]["per_class"]
    sem = semantic["per_class"]
    rows = []
    for r in stats.per_category():
        r["pq_dagger"] = dagger[r["id"]]["pq"]
        r["pc"] = covering.get(r["id"])
        r["semantic_iou"] = sem[r["id"]]["IoU"] if r["id"] in sem else None
        rows.append(r)
    return rows


def _worst_images(job, rows, args) -> list:
    """The report's images: the lowest per-image PQ first, with what drawing them needs (not
    the images without a PQ: nothing in them to count)."""
    by_id = {gt["image_id"]: (gt, pred) for gt, pred in job.pairs}
    worst, missing = [], 0
    scored = [r for r in rows if r["pq"] is not None]
    for row in sorted(scored, key=lambda r: (r["pq"], -(r["fp"] + r["fn"])))[:args.report_worst]:
        gt, pred = by_id[row["image_id"]]
        image_path = None
        if args.images_folder:
            image_path = find_photo(args.images_folder, gt["file_name"])
            missing += image_path is None
        worst.append(dict(row, gt_png=os.path.join(job.gt_folder, gt["file_name"]),
                          pred_png=os.path.join(job.pred_folder, pred["file_name"]),
                          gt_segments=gt["segments_info"], pred_segments=pred["segments_info"],
                          image_path=image_path))
    if missing:
        warn(args, f"no photo in {args.images_folder} for {missing} of the report's images: "
                   "drawn on grey")
    return worst
