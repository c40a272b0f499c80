"""The ``panoseg infer`` subcommand: images -> COCO panoptic predictions (MXNet / GluonCV).

MXNet is imported only when the command runs, so ``panoseg --help`` works without it.
"""
from __future__ import annotations

import json
import os
import sys

from ..merge.heuristic import (
    DEFAULT_CONFIDENCE_THR,
    DEFAULT_OVERLAP_THR,
    DEFAULT_STUFF_AREA_LIMIT,
)
from .common import (
    add_command,
    add_run_options,
    input_file,
    input_path,
    mxnet_missing,
    non_negative_float,
    output_file,
    output_folder,
    positive_int,
    seed,
    unit_float,
)


def add_infer_parser(subparsers) -> None:
    """Adds the ``infer`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "infer", help="predict COCO panoptic segmentations with GluonCV models (MXNet)",
        description="Runs a Mask R-CNN and a semantic segmentation net on every image and "
                    "merges them with the panoptic heuristic. Writes a COCO panoptic JSON and a "
                    "PNG folder, ready for 'panoseg eval'. Resumable: images already done "
                    "(with the same settings) are skipped unless --overwrite. A summary and the "
                    "seconds per stage go to stdout; progress and failures to stderr.")
    g = p.add_argument_group("input and output")
    g.add_argument("--images", required=True, type=input_path, metavar="DIR|FILE",
                   help="a folder of images, or a text file listing image paths (one per line)")
    g.add_argument("--images-json", default=None, type=input_file, metavar="FILE",
                   help="a COCO JSON whose 'images' (id, file_name) are looked up in the --images "
                        "folder: the output then has the ground truth's ids and file names")
    g.add_argument("--json-out", "--out-json", required=True, type=output_file, metavar="FILE",
                   help="the panoptic JSON to write (--out-json: its former name)")
    g.add_argument("--out-folder", default=None, type=output_folder, metavar="DIR",
                   help="the PNG folder; default: X if the JSON file is X.json")
    g.add_argument("--save-intermediate", metavar="DIR", default=None, type=output_folder,
                   help="also write instances.json, semantic.json, images.json and "
                        "categories.json there (panopticapi's combine inputs) for 'panoseg merge'")
    g.add_argument("--overwrite", action="store_true", help="recompute images already done")
    g.add_argument("--timings-json", default=None, type=output_file, metavar="FILE",
                   help="write the run summary (counts, failures, seconds per stage) as JSON")
    m = p.add_argument_group("models")
    m.add_argument("--instance-model", metavar="NAME", default="mask_rcnn_fpn_resnet50_v1b_coco",
                   help="GluonCV Mask R-CNN zoo name (default %(default)s)")
    m.add_argument("--instance-weights", default=None, type=input_file, metavar="FILE",
                   help="its .params file; default: the zoo cache ($MXNET_HOME/models)")
    m.add_argument("--semantic-model", metavar="NAME|FILE", default="psp_resnet50_ade",
                   help="GluonCV PSPNet/DeepLab/FCN zoo name, or a 'panoseg train-semantic' "
                        "checkpoint (.params) (default %(default)s)")
    m.add_argument("--semantic-weights", default=None, type=input_file, metavar="FILE",
                   help="its .params file (zoo weights or a panoseg checkpoint); default: the "
                        "zoo cache")
    m.add_argument("--label-map", choices=("ade20k", "coco-stuff"), default=None,
                   help="semantic classes -> COCO stuff: ade20k for *_ade models (default for "
                        "them), coco-stuff for panoseg checkpoints (their default)")
    m.add_argument("--download-weights", action="store_true",
                   help="download missing zoo weights (off by default: panoseg never downloads "
                        "unasked)")
    m.add_argument("--ctx", default="cpu", help="cpu, gpu:0 or gpu:0,1 (default %(default)s)")
    m.add_argument("--batch-size", type=positive_int, default=1, metavar="N",
                   help="images per model step (spread over the GPUs)")
    m.add_argument("--instance-short", type=positive_int, default=800, metavar="PIXELS",
                   help="Mask R-CNN input: short side (default %(default)s, as trained)")
    m.add_argument("--instance-max-size", type=positive_int, default=1333, metavar="PIXELS",
                   help="Mask R-CNN input: long side at most (default %(default)s)")
    m.add_argument("--score-thr", type=unit_float, default=0.05, metavar="0..1",
                   help="drop detections below this score before anything else (default "
                        "%(default)s; the merge has --confidence-thr)")
    m.add_argument("--topk", type=positive_int, default=100, metavar="N",
                   help="keep at most this many detections per image (default %(default)s)")
    m.add_argument("--semantic-mode", choices=("resize", "sliding"), default="resize",
                   help="resize: one pass, long side = crop size; sliding: windows at the base "
                        "size (slower, finer)")
    m.add_argument("--crop-size", type=positive_int, default=None, metavar="PIXELS",
                   help="semantic net input size (default 480, or the checkpoint's)")
    m.add_argument("--base-size", type=positive_int, default=None, metavar="PIXELS",
                   help="sliding-window scale of the long side (default 520, or the "
                        "checkpoint's; needs --semantic-mode sliding)")
    h = p.add_argument_group("merge")
    h.add_argument("--confidence-thr", type=unit_float, default=DEFAULT_CONFIDENCE_THR,
                   metavar="0..1", help="instances scoring below this are dropped (default "
                                        "%(default)s)")
    h.add_argument("--overlap-thr", type=unit_float, default=DEFAULT_OVERLAP_THR, metavar="0..1",
                   help="instances with more than this fraction already taken are dropped "
                        "(default %(default)s)")
    h.add_argument("--stuff-area-limit", type=non_negative_float,
                   default=DEFAULT_STUFF_AREA_LIMIT, metavar="PIXELS",
                   help="stuff segments with fewer pixels are dropped (default %(default)s)")
    h.add_argument("--seed", type=seed, default=0, help="seed of the segment ids (default 0)")
    m.add_argument("--max-pixels", type=positive_int, default=100_000_000, metavar="N",
                   help="refuse images larger than this (default %(default)s)")
    p.needs("--base-size", "--semantic-mode", "sliding")
    p.default_folder("--out-folder", "--json-out")
    # panoseg.infer.pipeline.write_outputs
    p.writes("--save-intermediate", "instances.json", "semantic.json", "images.json",
             "categories.json")
    # The models run in one thread; --workers are the threads reading images ahead of them.
    add_run_options(
        p, workers="threads reading images ahead of the models (default %(default)s; "
                   "--loader-threads: its former name)",
        workers_default=2, workers_aliases=("--loader-threads",),
        dask="run on a Dask cluster: a scheduler address, or local:N worker processes (with "
             "--ctx gpu:..., 'local' starts one worker per GPU); the paths must be readable by "
             "the workers")
    p.set_defaults(run=run_infer)


def run_infer(args) -> int:
    if mxnet_missing(args):
        return 2
    from ..infer.images import images_from_json, images_in_folder, images_in_list
    from ..infer.instance import InstancePredictor
    from ..infer.panoptic import PanopticPredictor
    from ..infer.pipeline import STAGES, run_inference
    from ..infer.semantic import SemanticPredictor
    from ..io.panoptic_json import load_json

    # Bad input raises ValueError / OSError: panoseg.cli.main reports it in one line (exit 1).
    images_json = None
    if args.images_json is not None:
        if not os.path.isdir(args.images):
            raise ValueError(f"--images {args.images}: with --images-json it must be a folder")
        items = images_from_json(args.images, args.images_json)
        images_json = load_json(args.images_json)
    elif os.path.isdir(args.images):
        items = images_in_folder(args.images)
    elif os.path.isfile(args.images):
        items = images_in_list(args.images)
    else:
        raise ValueError(f"--images {args.images}: no such folder or list file")
    instance_kwargs = dict(model=args.instance_model, weights=args.instance_weights,
                           short=args.instance_short, max_size=args.instance_max_size,
                           score_thr=args.score_thr, topk=args.topk,
                           download=args.download_weights)
    semantic_kwargs = dict(model=args.semantic_model, weights=args.semantic_weights,
                           label_map=args.label_map, mode=args.semantic_mode,
                           crop_size=args.crop_size, base_size=args.base_size,
                           download=args.download_weights)
    merge_kwargs = dict(confidence_thr=args.confidence_thr, overlap_thr=args.overlap_thr,
                        stuff_area_limit=args.stuff_area_limit, seed=args.seed)
    options = dict(batch_size=args.batch_size, intermediate=args.save_intermediate is not None,
                   overwrite=args.overwrite, loader_threads=args.workers,
                   max_pixels=args.max_pixels)
    if args.dask:
        summary = _infer_on_dask(args, items, images_json, instance_kwargs, semantic_kwargs,
                                 merge_kwargs, options)
    else:
        predictor = PanopticPredictor(
            InstancePredictor(ctx=args.ctx, **instance_kwargs),
            SemanticPredictor(ctx=args.ctx, **semantic_kwargs), **merge_kwargs)
        summary = run_inference(predictor, items, args.json_out, args.out_folder,
                                batch_size=args.batch_size,
                                save_intermediate=args.save_intermediate,
                                overwrite=args.overwrite, images_json=images_json,
                                loader_threads=args.workers,
                                max_pixels=args.max_pixels, progress=not args.no_progress)
    n = summary.done
    print(f"predicted {n} image(s), skipped {summary.skipped} already done, "
          f"{len(summary.failures)} failed, in {summary.wall:.1f} s")
    print(f"wrote {args.json_out}" + (f" and {args.save_intermediate}/" if args.save_intermediate
                                      else ""))
    if n:
        print(f"{'stage':12s} {'s/image':>9s}")
        for stage in STAGES:
            print(f"{stage:12s} {summary.timings[stage] / n:9.3f}")
    if args.timings_json:
        from ..util.atomic import atomic_open

        with atomic_open(args.timings_json, "w") as f:
            json.dump(summary.to_dict(), f, indent=1)
    if summary.failures:
        print(f"panoseg infer: {len(summary.failures)} image(s) failed:", file=sys.stderr)
        for path, error in summary.failures:
            print(f"  {path}: {error}", file=sys.stderr)
        return 1
    return 0


def _infer_on_dask(args, items, images_json, instance_kwargs, semantic_kwargs, merge_kwargs,
                   options):
    """``panoseg infer --dask``: chunks of images on the workers, one per GPU; the client then
    writes the JSON from the workers' records."""
    import time

    from ..infer.context import parse_ctx
    from ..infer.pipeline import STAGES, InferSummary, infer_on_dask, write_outputs
    from ..io.categories import coco_panoptic_categories
    from ..io.paths import default_folder
    from ..util.cluster import dask_client

    start = time.perf_counter()
    gpus = [f"gpu:{c.device_id}" for c in parse_ctx(args.ctx) if c.device_type == "gpu"]
    contexts = gpus or ["cpu"]
    spec = args.dask
    if spec == "local" and gpus:
        spec = f"local:{len(gpus)}"  # one worker process per GPU
    out_folder = args.out_folder or default_folder(args.json_out)
    plan = {"instance": instance_kwargs, "semantic": semantic_kwargs, "merge": merge_kwargs}
    with dask_client(spec) as client:
        parts = infer_on_dask(plan, contexts, items, client, out_folder, options=options,
                              progress=not args.no_progress)
    summary = InferSummary(timings={s: 0.0 for s in STAGES})
    records = []
    for chunk_records, part in parts:
        records.extend(chunk_records)
        summary.done += part.done
        summary.skipped += part.skipped
        summary.failures.extend(part.failures)
        for stage, seconds in part.timings.items():
            summary.timings[stage] += seconds
    write_outputs(records, args.json_out, images_json, coco_panoptic_categories().to_list(),
                  args.save_intermediate)
    summary.wall = time.perf_counter() - start
    return summary
