"""The ``panoseg`` command line. Each subcommand is a small function over the package's API."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional, Sequence

from ..errors import PanopticFormatError
from ..evaluation import GROUPS
from ..io.png import decoder_name
from ..util.atomic import atomic_open
from ..util.parallel import workers_argument
from .common import positive_int


def format_summary(results: dict) -> str:
    """panopticapi's summary table (PQ / SQ / RQ in percent, N classes)."""
    lines = ["{:10s}| {:>5s}  {:>5s}  {:>5s} {:>5s}".format("", "PQ", "SQ", "RQ", "N"),
             "-" * (10 + 7 * 4)]
    for name, _ in GROUPS:
        r = results[name]
        lines.append("{:10s}| {:5.1f}  {:5.1f}  {:5.1f} {:5d}".format(
            name, 100 * r["pq"], 100 * r["sq"], 100 * r["rq"], r["n"]))
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


def add_eval_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="Panoptic Quality of a prediction (COCO panoptic JSON + PNGs)",
        description="Computes PQ / SQ / RQ exactly as COCO's panopticapi, an order of magnitude "
                    "faster. The summary table goes to stdout, progress to stderr.")
    p.add_argument("--gt_json_file", "--gt-json-file", required=True,
                   help="JSON file with ground truth data")
    p.add_argument("--pred_json_file", "--pred-json-file", required=True,
                   help="JSON file with predictions data")
    p.add_argument("--gt_folder", "--gt-folder", default=None,
                   help="folder with ground truth PNGs; default: X if the JSON file is X.json")
    p.add_argument("--pred_folder", "--pred-folder", default=None,
                   help="folder with predicted PNGs; default: X if the JSON file is X.json")
    p.add_argument("--json-out", metavar="FILE",
                   help="write the results dict (panopticapi's, category ids as keys) as JSON")
    p.add_argument("--workers", type=workers_argument, default=None, metavar="N",
                   help="threads (default: all available cores)")
    p.add_argument("--per-class", action="store_true", help="also print a per-category table")
    p.add_argument("--per-image", metavar="FILE",
                   help="write per-image results as JSON lines (image_id, pq, sq, rq, tp, fp, fn)")
    p.add_argument("--bootstrap", type=positive_int, default=0, metavar="N",
                   help="95%% bootstrap intervals of PQ / SQ / RQ from N resamples of the images "
                        "(no image is read again)")
    p.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the resampling")
    p.add_argument("--report", metavar="DIR",
                   help="write DIR/index.html (self-contained error analysis) and DIR/report.json")
    p.add_argument("--report-worst", type=positive_int, default=8, metavar="N",
                   help="images shown in the report, lowest PQ first (default 8)")
    p.add_argument("--images-folder", "--images_folder", default=None,
                   help="the photos, to draw the report's overlays on (default: grey)")
    p.add_argument("--dask", metavar="ADDRESS|local:N",
                   help="evaluate on a Dask cluster: a scheduler address or local:N workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run_eval)


def format_extra(extra: dict) -> str:
    """PQ-dagger, Parsing Covering and PQ by size, one line each (percent)."""
    d, pc, size = extra["pq_dagger"], extra["parsing_covering"], extra["pq_by_size"]
    return "\n".join([
        "PQ-dagger | All {:5.1f}  Things {:5.1f}  Stuff {:5.1f}".format(
            100 * d["All"]["pq"], 100 * d["Things"]["pq"], 100 * d["Stuff"]["pq"]),
        "Parsing Covering {:5.1f} ({} categories)".format(100 * pc["pc"], pc["n"]),
        "PQ things by size | small {:5.1f} (N {})  medium {:5.1f} (N {})  large {:5.1f} (N {})"
        .format(100 * size["small"]["pq"], size["small"]["n"], 100 * size["medium"]["pq"],
                size["medium"]["n"], 100 * size["large"]["pq"], size["large"]["n"])])


def format_bootstrap(boot: dict) -> str:
    lines = [f"{100 * boot['confidence']:.0f}% bootstrap intervals ({boot['n']} resamples of the "
             "images), percent:"]
    for name, _ in GROUPS:
        b = boot[name]
        lines.append("{:10s}| PQ {:5.1f}-{:5.1f}  SQ {:5.1f}-{:5.1f}  RQ {:5.1f}-{:5.1f}".format(
            name, *(100 * x for k in ("pq", "sq", "rq") for x in b[k])))
    return "\n".join(lines)


def run_eval(args) -> int:
    from ..evaluation import EvaluationJob
    from ..evaluation.extra_metrics import extra_results

    start = time.perf_counter()
    job = EvaluationJob(args.gt_json_file, args.pred_json_file, args.gt_folder,
                        args.pred_folder)
    keep = bool(args.per_image or args.bootstrap or args.report)
    if args.dask:
        from ..evaluation.job import evaluate_on_dask
        from ..util.cluster import dask_client

        with dask_client(args.dask) as client:
            stats, rows, arrays = evaluate_on_dask(job, client, progress=not args.no_progress,
                                                   keep=keep)
    else:
        chunk = job.evaluate_chunk(workers=args.workers, keep=keep,
                                   progress=not args.no_progress)
        stats, rows, arrays = chunk.stats, chunk.rows, chunk.arrays
    results = stats.summarize()
    extra = extra_results(stats)
    print(format_summary(results))
    print(format_extra(extra))
    report = dict(results)
    report.update(extra)
    report["per_category"] = _per_category(stats, extra)
    report["n_images"] = stats.n_images
    if args.bootstrap:
        from ..evaluation.bootstrap import PerImageStats, bootstrap_intervals

        report["bootstrap"] = bootstrap_intervals(PerImageStats.from_arrays(arrays),
                                                  job.categories.isthing, args.bootstrap,
                                                  seed=args.bootstrap_seed)
        print(format_bootstrap(report["bootstrap"]))
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
        print(f"report: {path}", file=sys.stderr)
    print(f"{stats.n_images} images in {time.perf_counter() - start:.2f} s "
          f"({decoder_name()} PNG decoder)", file=sys.stderr)
    return 0


def _per_category(stats, extra) -> list:
    dagger = extra["pq_dagger"]["per_class"]
    covering = extra["parsing_covering"]["per_class"]
    rows = []
    for r in stats.per_category():
        r["pq_dagger"] = dagger[r["id"]]["pq"]
        r["pc"] = covering.get(r["id"])
        rows.append(r)
    return rows


def _worst_images(job, rows, args) -> list:
    """The report's images: the lowest per-image PQ first, with what drawing them needs."""
    import os

    by_id = {gt["image_id"]: (gt, pred) for gt, pred in job.pairs}
    worst = []
    for row in sorted(rows, key=lambda r: (r["pq"], -(r["fp"] + r["fn"])))[:args.report_worst]:
        gt, pred = by_id[row["image_id"]]
        image_path = None
        if args.images_folder:
            stem = os.path.splitext(gt["file_name"])[0]
            for ext in (".jpg", ".jpeg", ".png"):
                if os.path.isfile(os.path.join(args.images_folder, stem + ext)):
                    image_path = os.path.join(args.images_folder, stem + ext)
                    break
        worst.append(dict(row, gt_png=os.path.join(job.gt_folder, gt["file_name"]),
                          pred_png=os.path.join(job.pred_folder, pred["file_name"]),
                          gt_segments=gt["segments_info"], pred_segments=pred["segments_info"],
                          image_path=image_path))
    return worst


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def add_merge_parser(subparsers) -> None:
    from ..merge import (
        DEFAULT_CONFIDENCE_THR,
        DEFAULT_OVERLAP_THR,
        DEFAULT_STUFF_AREA_LIMIT,
    )

    p = subparsers.add_parser(
        "merge", help="combine semantic + instance predictions into panoptic (paper, section 7)",
        description="panopticapi's combine_semantic_and_instance_predictions, in the compiled "
                    "core: same flags, same output (deterministic segment ids).")
    p.add_argument("--semseg_json_file", "--semseg-json-file", required=True,
                   help="JSON file with semantic segmentation predictions (RLE per image and category)")
    p.add_argument("--instseg_json_file", "--instseg-json-file", required=True,
                   help="JSON file with instance segmentation predictions (RLE + score)")
    p.add_argument("--images_json_file", "--images-json-file", required=True,
                   help="JSON file whose 'images' lists the images to combine")
    p.add_argument("--categories_json_file", "--categories-json-file", required=True,
                   help="JSON file with the panoptic COCO categories")
    p.add_argument("--panoptic_json_file", "--panoptic-json-file", required=True,
                   help="output COCO panoptic JSON")
    p.add_argument("--segmentations_folder", "--segmentations-folder", default=None,
                   help="output PNG folder; default: X if the panoptic JSON is X.json")
    p.add_argument("--confidence_thr", "--confidence-thr", type=float, default=DEFAULT_CONFIDENCE_THR,
                   help="instances scoring below this are dropped (default %(default)s)")
    p.add_argument("--overlap_thr", "--overlap-thr", type=float, default=DEFAULT_OVERLAP_THR,
                   help="instances with more than this fraction already taken are dropped "
                        "(default %(default)s)")
    p.add_argument("--stuff_area_limit", "--stuff-area-limit", type=float,
                   default=DEFAULT_STUFF_AREA_LIMIT,
                   help="stuff segments with fewer pixels are dropped (default %(default)s)")
    p.add_argument("--workers", type=workers_argument, default=None, metavar="N",
                   help="threads (default: all available cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the thing-id jitter (default 0)")
    p.add_argument("--png-compression", type=int, default=2, choices=range(10), metavar="0-9",
                   help="zlib level of the PNGs (default 2: fast, about 10%% larger than 6)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--dask", metavar="ADDRESS|local:N",
                   help="merge on a Dask cluster: a scheduler address or local:N workers")
    p.set_defaults(run=run_merge)


def run_merge(args) -> int:
    from ..merge import combine_predictions

    start = time.perf_counter()
    try:
        out = combine_predictions(
            args.semseg_json_file, args.instseg_json_file, args.images_json_file,
            args.categories_json_file, args.segmentations_folder, args.panoptic_json_file,
            args.confidence_thr, args.overlap_thr, args.stuff_area_limit, workers=args.workers,
            progress=not args.no_progress, seed=args.seed, compress_level=args.png_compression,
            dask=args.dask)
    except ValueError as e:  # thresholds out of range
        if isinstance(e, PanopticFormatError):
            raise
        raise PanopticFormatError(str(e)) from None
    n_segments = sum(len(a["segments_info"]) for a in out["annotations"])
    print(json.dumps({"images": len(out["annotations"]), "segments": n_segments,
                      "panoptic_json_file": args.panoptic_json_file}))
    print(f"merged {len(out['annotations'])} images in {time.perf_counter() - start:.2f} s",
          file=sys.stderr)
    return 0


def _float_list(text: str) -> list:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_tune_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tune", help="grid-search the merge thresholds by PQ on a validation set",
        description="Merges and evaluates in memory (no PNG written) for every combination of "
                    "the given thresholds; prints a PQ table, best first, and the best setting.")
    for flag in ("semseg_json_file", "instseg_json_file", "images_json_file",
                 "categories_json_file", "gt_json_file"):
        p.add_argument(f"--{flag}", f"--{flag.replace('_', '-')}", required=True)
    p.add_argument("--gt_folder", "--gt-folder", default=None,
                   help="GT PNG folder; default: X if the GT JSON is X.json")
    p.add_argument("--confidence_thr", "--confidence-thr", type=_float_list, default=[0.3, 0.5, 0.7],
                   help="comma-separated values (default 0.3,0.5,0.7)")
    p.add_argument("--overlap_thr", "--overlap-thr", type=_float_list, default=[0.3, 0.5, 0.7],
                   help="comma-separated values (default 0.3,0.5,0.7)")
    p.add_argument("--stuff_area_limit", "--stuff-area-limit", type=_float_list,
                   default=[1024.0, 4096.0, 8192.0], help="comma-separated values (default 1024,4096,8192)")
    p.add_argument("--json-out", metavar="FILE", help="write every setting's results as JSON")
    p.add_argument("--workers", type=workers_argument, default=None, metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run_tune)


def run_tune(args) -> int:
    from ..merge import MergeParams
    from ..merge.job import MergeJob
    from ..merge.tune import best, format_tune_table, parameter_grid, tune

    start = time.perf_counter()
    try:
        grid = parameter_grid(args.confidence_thr, args.overlap_thr, args.stuff_area_limit)
    except ValueError as e:
        raise PanopticFormatError(str(e)) from None
    job = MergeJob.from_files(args.semseg_json_file, args.instseg_json_file,
                              args.images_json_file, args.categories_json_file, MergeParams())
    results = tune(job, args.gt_json_file, args.gt_folder, grid, workers=args.workers,
                   progress=not args.no_progress, seed=args.seed)
    print(format_tune_table(results))
    top = best(results)
    p = top.params
    print(f"\nbest: --confidence_thr {p.confidence_thr:g} --overlap_thr {p.overlap_thr:g} "
          f"--stuff_area_limit {p.stuff_area_limit:g}  (PQ {100 * top.results['All']['pq']:.1f})")
    if args.json_out:
        with atomic_open(args.json_out, "w") as f:
            json.dump([{"confidence_thr": r.params.confidence_thr, "overlap_thr": r.params.overlap_thr,
                        "stuff_area_limit": r.params.stuff_area_limit, **r.results}
                       for r in results], f, indent=1)
    print(f"{len(grid)} settings x {len(job.images)} images in {time.perf_counter() - start:.2f} s",
          file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panoseg", description="Panoptic segmentation tools for the COCO panoptic format.")
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"panoseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_eval_parser(subparsers)
    add_merge_parser(subparsers)
    add_tune_parser(subparsers)
    from .convert import add_convert_parser
    from .infer import add_infer_parser
    from .train import add_train_semantic_parser
    from .viz import add_viz_parser

    add_convert_parser(subparsers)
    add_viz_parser(subparsers)
    add_infer_parser(subparsers)
    add_train_semantic_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None, *, prog_command: Optional[str] = None) -> int:
    """Entry point of ``panoseg``; ``prog_command`` fixes the subcommand (the tools/ scripts).

    Bad input exits with status 1 and one line on stderr saying what and where; usage errors
    exit with status 2 (argparse).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if prog_command is not None:
        argv = [prog_command] + argv
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (PanopticFormatError, ValueError) as e:  # bad input or settings: one clear line
        print(f"panoseg {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"panoseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
