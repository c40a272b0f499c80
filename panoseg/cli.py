"""The ``panoseg`` command line. Each subcommand is a small function over the package's API."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional, Sequence

from .atomic import atomic_open
from .errors import PanopticFormatError
from .evaluation import GROUPS, evaluate
from .parallel import workers_argument
from .png import decoder_name


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
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run_eval)


def run_eval(args) -> int:
    start = time.perf_counter()
    per_image_file = atomic_open(args.per_image, "w") if args.per_image else None
    with per_image_file if per_image_file is not None else _nullcontext() as out:
        on_image = None
        if out is not None:
            def on_image(result):
                out.write(json.dumps(result.to_dict()) + "\n")
        evaluation = evaluate(args.gt_json_file, args.pred_json_file, args.gt_folder,
                              args.pred_folder, workers=args.workers,
                              progress=not args.no_progress, on_image=on_image)
    results = evaluation.results
    print(format_summary(results))
    if args.per_class:
        print()
        rows = [r for r in evaluation.stats.per_category() if r["tp"] + r["fp"] + r["fn"]]
        print(format_per_class(rows))
    if args.json_out:
        with atomic_open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)
    print(f"{evaluation.stats.n_images} images in {time.perf_counter() - start:.2f} s "
          f"({decoder_name()} PNG decoder)", file=sys.stderr)
    return 0


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def add_merge_parser(subparsers) -> None:
    from .merge import DEFAULT_CONFIDENCE_THR, DEFAULT_OVERLAP_THR, DEFAULT_STUFF_AREA_LIMIT

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
    p.set_defaults(run=run_merge)


def run_merge(args) -> int:
    from .merge import combine_predictions

    start = time.perf_counter()
    try:
        out = combine_predictions(
            args.semseg_json_file, args.instseg_json_file, args.images_json_file,
            args.categories_json_file, args.segmentations_folder, args.panoptic_json_file,
            args.confidence_thr, args.overlap_thr, args.stuff_area_limit, workers=args.workers,
            progress=not args.no_progress, seed=args.seed, compress_level=args.png_compression)
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
    from .merge import MergeParams
    from .merge_io import MergeJob
    from .tune import best, format_tune_table, parameter_grid, tune

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
    from . import __version__

    parser.add_argument("--version", action="version", version=f"panoseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_eval_parser(subparsers)
    add_merge_parser(subparsers)
    add_tune_parser(subparsers)
    from .cli_convert import add_convert_parser
    from .cli_infer import add_infer_parser
    from .cli_train import add_train_semantic_parser
    from .cli_viz import add_viz_parser

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
    except PanopticFormatError as e:
        print(f"panoseg {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"panoseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
