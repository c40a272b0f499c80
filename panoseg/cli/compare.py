"""The ``panoseg compare`` subcommand: two or more predictions of the same ground truth, with
paired bootstrap intervals and permutation p-values of their PQ differences."""
from __future__ import annotations

import argparse
import functools
import json
import os
import time

from ..evaluation import GROUPS
from ..util.atomic import atomic_open
from .common import (
    INPUT_KINDS,
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
    positive_int,
    seed,
    timing,
    warn,
    warn_area_mismatch,
)

#: The most resamples / permutations (1000-10000 are the usual choices).
MAX_RESAMPLES = 1_000_000
DEFAULT_RESAMPLES = 1000
DEFAULT_TOP = 10


def pred_spec(text: str) -> tuple:
    """``--pred A.json[:FOLDER]``: (JSON file, PNG folder or None). The folder follows the
    first ``.json:``, so that URLs (``s3://...``) and Windows drives keep their colons."""
    if not text:
        raise argparse.ArgumentTypeError("expected a prediction JSON file, got an empty string")
    head, sep, folder = text.partition(".json:")
    if sep and folder:
        return head + ".json", folder
    if sep:
        raise argparse.ArgumentTypeError(f"{text!r}: no folder after ':' (A.json:FOLDER)")
    return text, None


INPUT_KINDS[pred_spec] = "json+folder"  # its JSON file and PNG folder are inputs


def add_compare_parser(subparsers) -> None:
    """Adds the ``compare`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "compare",
        help="compare predictions of the same ground truth (PQ deltas, intervals, p-values)",
        description="Evaluates two or more predictions of the same ground truth in one pass "
                    "(each GT PNG decoded once) and compares each with the first: the "
                    "difference of PQ, a 95% paired bootstrap interval of it (images resampled "
                    "jointly for both models) and a two-sided paired permutation p-value, for "
                    "All / Things / Stuff and per class, and the images that gain or lose the "
                    "most. Each model's PQ / SQ / RQ equal panopticapi's. Tables go to stdout.")
    p.add_argument("--gt-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with ground truth data")
    p.add_argument("--gt-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with ground truth PNGs; default: X if the JSON file is X.json")
    p.add_argument("--pred", action="append", required=True, type=pred_spec,
                   metavar="JSON[:DIR]",
                   help="a prediction: its JSON file and, after a colon, its PNG folder "
                        "(default: X if the JSON file is X.json); give it two or more times, "
                        "the first is the baseline every other is compared with")
    p.add_argument("--name", action="append", default=None, metavar="NAME",
                   help="a name per --pred, in order, all different (default: the JSON files' "
                        "names)")
    add_gt_area(p)
    add_max_pixels(p)
    s = p.add_argument_group("statistics")
    s.add_argument("--bootstrap", type=int_up_to(MAX_RESAMPLES), default=DEFAULT_RESAMPLES,
                   metavar="N", help=f"bootstrap resamples of the images for the 95%% intervals "
                                     f"(default {DEFAULT_RESAMPLES}; N <= {MAX_RESAMPLES})")
    s.add_argument("--permutations", type=int_up_to(MAX_RESAMPLES), default=DEFAULT_RESAMPLES,
                   metavar="N", help="random swaps for the permutation p-values (default "
                                     f"{DEFAULT_RESAMPLES}; the smallest p is 1/(N+1))")
    s.add_argument("--seed", type=seed, default=0, metavar="SEED",
                   help="seed of the resampling and the permutations (default 0)")
    g = p.add_argument_group("outputs")
    g.add_argument("--json-out", type=output_file, metavar="FILE",
                   help="write every number (per model, per comparison, per class) as JSON")
    g.add_argument("--per-class", action="store_true",
                   help="also print the per-class PQ deltas with their intervals")
    g.add_argument("--errors", action="store_true",
                   help="also each model's error breakdown (where PQ is lost: classification, "
                        "split, merge, localization, missed, background, SQ), printed and in "
                        "the JSON under 'errors'")
    g.add_argument("--top", type=positive_int, default=DEFAULT_TOP, metavar="N",
                   help=f"images listed with the largest per-image PQ gains and losses, and "
                        f"shown in the report (default {DEFAULT_TOP})")
    g.add_argument("--report", type=output_folder, metavar="DIR",
                   help="write DIR/index.html (summary, per-class delta chart, GT | models "
                        "pictures) and DIR/report.json")
    g.add_argument("--images-folder", default=None, type=input_folder, metavar="DIR",
                   help="the photos, to draw the report's pictures on (default: grey; needs "
                        "--report)")
    p.default_folder("--gt-folder", "--gt-json-file")
    p.writes("--report", "index.html", "report.json")  # panoseg.report.write_compare_report
    p.needs("--images-folder", "--report")
    add_run_options(p, dask="evaluate on a Dask cluster: a scheduler address or local:N workers")
    p.set_defaults(run=functools.partial(run_compare, parser=p))


def _check_usage(args, parser) -> None:
    """What argparse cannot say itself: the number of --pred and --name (exit 2)."""
    if parser is None:
        return
    if len(args.pred) < 2:
        parser.error(f"--pred: give two or more predictions to compare (got {len(args.pred)})")
    if args.name is not None:
        if len(args.name) != len(args.pred):
            parser.error(f"--name: {len(args.name)} name(s) for {len(args.pred)} --pred; give "
                         "one per --pred, in order")
        for k, name in enumerate(args.name):
            if not name.strip():
                parser.error(f"--name: name {k + 1} is empty")
            if args.name.index(name) != k:
                parser.error(f"--name: {name!r} is given twice; the names must differ")


def format_models(results: dict) -> str:
    """PQ / SQ / RQ / N of every model, group by group (percent; ``-`` for N = 0)."""
    names = results["models"]
    width = max(10, max(len(n) for n in names) + 2)
    head = "{:10s}| {:{w}s} {:>5s}  {:>5s}  {:>5s} {:>5s}".format("", "model", "PQ", "SQ", "RQ",
                                                                  "N", w=width)
    lines = [head, "-" * len(head)]
    for group, _ in GROUPS:
        r = results[group]
        for k, name in enumerate(names):
            n = r["n"][k]
            lines.append("{:10s}| {:{w}s} {}  {}  {} {:5d}".format(
                group if k == 0 else "", name, percent(r["pq"][k], n), percent(r["sq"][k], n),
                percent(r["rq"][k], n), n, w=width))
    return "\n".join(lines)


def _signed(value) -> str:
    return f"{'-':>6s}" if value is None else f"{100 * value:+6.1f}"


def _interval(ci) -> str:
    return f"{'-':>16s}" if ci is None else f"[{100 * ci[0]:+6.1f}, {100 * ci[1]:+6.1f}]"


def format_comparison(item: dict, method: dict) -> str:
    """One comparison: delta PQ, interval and p-value per group, and the largest changes."""
    conf = f"{100 * method['confidence']:.0f}%"
    lines = [f"{item['model']} vs {item['baseline']}: delta PQ (points), {conf} paired "
             f"bootstrap interval ({method['n_resamples']} resamples), permutation p "
             f"({method['n_permutations']} swaps)"]
    for group, _ in GROUPS:
        g = item[group]
        p = "-" if g["p_value"] is None else f"{g['p_value']:.4f}"
        lines.append(f"{group:10s}| {_signed(g['delta_pq'])}  {_interval(g['ci'])}  p {p}")
    for key, label in (("gains", "largest per-image PQ gains"),
                       ("losses", "largest per-image PQ losses")):
        shown = item["images"][key]  # the --top largest
        text = ", ".join(f"{e['image_id']} ({100 * e['delta_pq']:+.1f})" for e in shown)
        lines.append(f"{label}: {text or 'none'}")
    return "\n".join(lines)


def format_per_class(results: dict, item: dict) -> str:
    """Per-class delta PQ with intervals, largest gain first."""
    per_class = results["per_class"]
    rows = []
    for cat_id, v in item["per_class"].items():
        info = per_class.get(cat_id, {})
        rows.append((v["delta_pq"], cat_id, info.get("name", str(cat_id)), v["ci"]))
    rows.sort(key=lambda r: (-r[0], r[1]))
    width = max([len("category")] + [len(r[2]) for r in rows])
    head = f"{'id':>5s}  {'category':<{width}s}  {'dPQ':>6s}  {'interval':>16s}"
    lines = [f"per class, {item['model']} vs {item['baseline']}:", head, "-" * len(head)]
    for delta, cat_id, name, ci in rows:
        lines.append(f"{cat_id:>5d}  {name:<{width}s}  {_signed(delta)}  {_interval(ci)}")
    return "\n".join(lines)


def run_compare(args, parser=None) -> int:
    from ..errors import PanopticFormatError
    from ..evaluation.compare import (
        CompareJob,
        compare_on_dask,
        job_inputs,
        summarize_comparison,
    )

    _check_usage(args, parser)
    start = time.perf_counter()
    if args.images_folder is not None and not os.path.isdir(args.images_folder):
        raise PanopticFormatError("images folder does not exist (--images-folder)",
                                  file=args.images_folder)
    job = CompareJob(args.gt_json_file, args.pred, args.gt_folder, names=args.name,
                     gt_area=args.gt_area, max_pixels=args.max_pixels, errors=args.errors)
    if args.dask:
        from ..util.cluster import dask_client

        with dask_client(args.dask) as client:
            chunk = compare_on_dask(job, client, progress=not args.no_progress)
    else:
        chunk = job.evaluate_chunk(workers=args.workers, progress=not args.no_progress)
    for stats in chunk.stats:
        warn_area_mismatch(args, stats.n_area_mismatch)
    comparison = summarize_comparison(
        job, job.names, chunk, n_resamples=args.bootstrap, n_permutations=args.permutations,
        seed=args.seed, top=args.top, inputs=job_inputs(job),
        on_warning=lambda message: warn(args, message))
    results = comparison.results
    print(format_models(results))
    for item in results["comparisons"]:
        print()
        print(format_comparison(item, results["method"]))
        if args.per_class:
            print()
            print(format_per_class(results, item))
    if args.errors:
        from ..evaluation.errors import format_table

        for name, summary in results["errors"].items():
            print()
            print(f"{name}:")
            print(format_table(summary))
    if args.json_out:
        with atomic_open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)
        print(f"results: {args.json_out}")
    if args.report:
        from ..report.compare import write_compare_report

        path = write_compare_report(args.report, comparison, top=args.top,
                                    images_folder=args.images_folder,
                                    on_warning=lambda message: warn(args, message))
        print(f"report: {path}")
    timing(f"{len(job)} images x {len(job.models)} predictions in "
           f"{time.perf_counter() - start:.2f} s")
    return 0
