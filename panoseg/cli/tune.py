"""The ``panoseg tune`` subcommand: grid search of the merge thresholds by PQ."""
from __future__ import annotations

import json
import time

from ..util.atomic import atomic_open
from .common import (
    add_command,
    add_gt_area,
    add_max_pixels,
    add_run_options,
    float_list,
    input_file,
    input_folder,
    non_negative_float,
    output_file,
    percent,
    seed,
    timing,
    unit_float,
    warn_area_mismatch,
)
from .merge import add_merge_inputs


def add_tune_parser(subparsers) -> None:
    """Adds the ``tune`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "tune", help="grid-search the merge thresholds by PQ on a validation set",
        description="Merges and evaluates in memory (no PNG written) for every combination of "
                    "the given thresholds; prints a PQ table, best first, and the best setting "
                    "to stdout.")
    add_merge_inputs(p)
    p.add_argument("--gt-json-file", required=True, type=input_file, metavar="FILE",
                   help="the ground truth the merged predictions are scored against")
    p.add_argument("--gt-folder", default=None, type=input_folder, metavar="DIR",
                   help="GT PNG folder; default: X if the GT JSON is X.json")
    p.default_folder("--gt-folder", "--gt-json-file")
    add_gt_area(p)
    add_max_pixels(p)
    p.add_argument("--confidence-thr", type=float_list(unit_float), default=[0.3, 0.5, 0.7],
                   metavar="T,T,...", help="comma-separated values in [0, 1] (default 0.3,0.5,0.7)")
    p.add_argument("--overlap-thr", type=float_list(unit_float), default=[0.3, 0.5, 0.7],
                   metavar="T,T,...", help="comma-separated values in [0, 1] (default 0.3,0.5,0.7)")
    p.add_argument("--stuff-area-limit", type=float_list(non_negative_float),
                   default=[1024.0, 4096.0, 8192.0], metavar="A,A,...",
                   help="comma-separated pixel counts (default 1024,4096,8192)")
    p.add_argument("--json-out", type=output_file, metavar="FILE",
                   help="write every setting's results as JSON")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the thing-id jitter, as for 'panoseg merge' (default 0)")
    add_run_options(p)
    p.set_defaults(run=run_tune)


def format_tune_table(results) -> str:
    """Settings sorted by PQ (best first) with All / Things / Stuff PQ in percent (``-`` for a
    group without categories)."""
    head = (f"{'conf':>6s} {'overlap':>7s} {'stuff_area':>10s} | {'PQ':>5s} {'SQ':>5s} {'RQ':>5s} "
            f"| {'PQ_th':>5s} {'PQ_st':>5s}")
    lines = [head, "-" * len(head)]
    for r in sorted(results, key=lambda r: -r.results["All"]["pq"]):
        res, p = r.results, r.params
        a, th, st = res["All"], res["Things"], res["Stuff"]
        lines.append(f"{p.confidence_thr:6.2f} {p.overlap_thr:7.2f} {p.stuff_area_limit:10g} | "
                     f"{percent(a['pq'], a['n'])} {percent(a['sq'], a['n'])} "
                     f"{percent(a['rq'], a['n'])} | {percent(th['pq'], th['n'])} "
                     f"{percent(st['pq'], st['n'])}")
    return "\n".join(lines)


def run_tune(args) -> int:
    from ..merge import MergeParams
    from ..merge.job import MergeJob
    from ..merge.tune import best, parameter_grid, tune

    start = time.perf_counter()
    grid = parameter_grid(args.confidence_thr, args.overlap_thr, args.stuff_area_limit)
    job = MergeJob.from_files(args.semseg_json_file, args.instseg_json_file,
                              args.images_json_file, args.categories_json_file, MergeParams(),
                              max_pixels=args.max_pixels)
    results = tune(job, args.gt_json_file, args.gt_folder, grid, workers=args.workers,
                   progress=not args.no_progress, seed=args.seed, gt_area=args.gt_area)
    warn_area_mismatch(args, results[0].stats.n_area_mismatch if results else 0)
    print(format_tune_table(results))
    top = best(results)
    p = top.params
    print(f"\nbest: --confidence-thr {p.confidence_thr:g} --overlap-thr {p.overlap_thr:g} "
          f"--stuff-area-limit {p.stuff_area_limit:g}  (PQ "
          f"{percent(top.results['All']['pq'], top.results['All']['n'], 0)})")
    if args.json_out:
        with atomic_open(args.json_out, "w") as f:
            json.dump([{"confidence_thr": r.params.confidence_thr, "overlap_thr": r.params.overlap_thr,
                        "stuff_area_limit": r.params.stuff_area_limit, **r.results}
                       for r in results], f, indent=1)
    timing(f"{len(grid)} settings x {len(job.images)} images in "
           f"{time.perf_counter() - start:.2f} s")
    return 0
