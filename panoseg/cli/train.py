"""The ``panoseg train-semantic`` subcommand: PSPNet-ResNet50 on COCO panoptic stuff (MXNet).

MXNet and GluonCV are optional (``pip install 'panoseg[mxnet]'``); they are imported only when
the subcommand runs, so ``panoseg --help`` and the other subcommands work without them.
"""
from __future__ import annotations

import json
import sys
import time

from .common import (
    MXNET_MISSING,
    add_command,
    add_run_options,
    input_file,
    input_folder,
    mxnet_missing,
    non_negative_float,
    output_file,
    output_folder,
    positive_float,
    positive_int,
    seed,
    timing,
    warn,
)

MISSING_MXNET = MXNET_MISSING  # its former name


def add_train_semantic_parser(subparsers) -> None:
    """Adds the ``train-semantic`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "train-semantic",
        help="train PSPNet-ResNet50 on COCO panoptic stuff (MXNet / GluonCV)",
        description="Trains GluonCV's PSPNet-ResNet50 to predict the stuff categories of a COCO "
                    "panoptic dataset plus one 'thing' class (VOID ignored), labels made on the "
                    "fly from the panoptic PNGs. SGD with a poly learning rate, one checkpoint "
                    "per epoch (<out-dir>/<prefix>-NNNN.params + .states + .json), the best "
                    "by validation mIoU as <prefix>-best.*; the checkpoints load in "
                    "'panoseg infer --semantic-model FILE.params'. A summary goes to stdout "
                    "(--json-out: as JSON to a file); progress and notes to stderr.")
    g = p.add_argument_group("data")
    g.add_argument("--train-images", required=True, type=input_folder, metavar="DIR",
                   help="folder of the training photos")
    g.add_argument("--train-json", required=True, type=input_file, metavar="FILE",
                   help="COCO panoptic JSON of the training split")
    g.add_argument("--train-folder", default=None, type=input_folder, metavar="DIR",
                   help="its panoptic PNGs; default: X if the JSON file is X.json")
    g.add_argument("--val-images", default=None, type=input_folder, metavar="DIR",
                   help="folder of the validation photos (goes with --val-json: mIoU per "
                        "epoch)")
    g.add_argument("--val-json", default=None, type=input_file, metavar="FILE",
                   help="COCO panoptic JSON of the validation split (goes with --val-images)")
    g.add_argument("--val-folder", default=None, type=input_folder, metavar="DIR",
                   help="its panoptic PNGs; default: X if the JSON file is X.json")
    g = p.add_argument_group("output")
    g.add_argument("--out-dir", required=True, type=output_folder, metavar="DIR",
                   help="where the checkpoints go (created if needed)")
    g.add_argument("--prefix", default="psp_resnet50_coco_stuff",
                   help="checkpoint file name prefix (default: %(default)s)")
    g.add_argument("--keep-last", type=positive_int, default=None, metavar="N",
                   help="keep only the last N epoch checkpoints (default: all; the best is "
                        "kept apart)")
    g.add_argument("--resume", default=None, metavar="PATH|auto",
                   help="continue from a checkpoint's .params file, or 'auto': the latest one "
                        "of --prefix in --out-dir (none there: start from scratch)")
    g.add_argument("--json-out", default=None, type=output_file, metavar="FILE",
                   help="write the run's summary (checkpoints, epoch, step, mIoU) as JSON")
    g = p.add_argument_group("training")
    g.add_argument("--ctx", default="cpu",
                   help="cpu, gpu:0 or gpu:0,1,... (the batch is split over the GPUs; "
                        "default: cpu)")
    g.add_argument("--epochs", type=positive_int, default=30, metavar="N",
                   help="default: %(default)s")
    g.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                   help="images per step over all contexts (default: %(default)s)")
    g.add_argument("--lr", type=positive_float, default=0.01,
                   help="base learning rate, poly schedule (power 0.9) over all steps; the "
                        "heads get 10x (default: %(default)s)")
    g.add_argument("--momentum", type=non_negative_float, default=0.9,
                   help="SGD momentum (default: %(default)s)")
    g.add_argument("--wd", type=non_negative_float, default=1e-4,
                   help="weight decay (default: %(default)s)")
    g.add_argument("--crop-size", type=positive_int, default=480, metavar="PIXELS",
                   help="training crop = the network's input size (default: %(default)s)")
    g.add_argument("--base-size", type=positive_int, default=520, metavar="PIXELS",
                   help="random scaling sets the long side to 0.5-2.0 x this "
                        "(default: %(default)s)")
    g.add_argument("--seed", type=seed, default=0, help="default: %(default)s")
    g.add_argument("--max-iters-per-epoch", type=positive_int,
                   default=None, metavar="N", help="cap the steps per epoch (quick runs)")
    g.add_argument("--val-every", type=positive_int, default=1, metavar="N",
                   help="validate every N epochs and after the last (default: %(default)s; "
                        "needs --val-json)")
    g.add_argument("--backbone-weights", default=None,
                   metavar="FILE|zoo",
                   help="ImageNet weights of GluonCV's resnet50_v1s for the backbone of a new "
                        "run: a .params file, or 'zoo' for GluonCV's cache (~/.mxnet/models); "
                        "default: random initialization (much weaker)")
    g.add_argument("--download-weights", action="store_true",
                   help="with --backbone-weights zoo: download the file if it is not cached")
    p.default_folder("--train-folder", "--train-json")
    p.default_folder("--val-folder", "--val-json")
    p.needs("--val-images", "--val-json")
    p.needs("--val-json", "--val-images")
    p.needs("--val-folder", "--val-json")
    p.needs("--val-every", "--val-json")
    p.needs("--download-weights", "--backbone-weights", "zoo")
    add_run_options(p, workers="data loading threads (default: all available cores)",
                    progress="no progress bars on stderr")
    p.set_defaults(run=run_train_semantic)


def run_train_semantic(args) -> int:
    """Runs ``panoseg train-semantic``: 0 on success, 2 without MXNet; bad input and a
    diverged run raise (``panoseg.cli.main``: exit 1)."""
    if mxnet_missing(args):
        return 2
    from ..io.paths import default_folder

    try:
        from ..infer.training import resolve_backbone_weights, train_semantic
    except ImportError as e:  # e.g. an MXNet whose own dependencies are broken
        print(f"{args.command_prog}: error: {MXNET_MISSING} ({e})", file=sys.stderr)
        return 2

    start = time.perf_counter()
    if args.backbone_weights and args.resume:
        warn(args, "--backbone-weights is ignored when resuming")
    backbone = None if args.resume else resolve_backbone_weights(
        args.backbone_weights, download=args.download_weights)
    if backbone is None and not args.resume:
        print(f"{args.command_prog}: note: training from random initialization; "
              "--backbone-weights zoo starts from ImageNet weights (recommended)",
              file=sys.stderr)
    result = train_semantic(
        args.train_images, args.train_json,
        args.train_folder or default_folder(args.train_json),
        val_images=args.val_images, val_json=args.val_json,
        val_folder=(args.val_folder or default_folder(args.val_json))
        if args.val_json else None,
        out_dir=args.out_dir, prefix=args.prefix, ctx=args.ctx, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, momentum=args.momentum, wd=args.wd,
        crop_size=args.crop_size, base_size=args.base_size, seed=args.seed,
        resume=args.resume, max_iters_per_epoch=args.max_iters_per_epoch,
        val_every=args.val_every, workers=args.workers, backbone_weights=backbone,
        keep_last=args.keep_last, progress=not args.no_progress)
    summary = {"checkpoint": result.checkpoint, "best_checkpoint": result.best_checkpoint,
               "epoch": result.epoch, "iteration": result.iteration, "miou": result.miou,
               "best_miou": result.best_miou}
    print(f"checkpoint: {result.checkpoint} (epoch {result.epoch}, step {result.iteration}, "
          f"mIoU {_miou(result.miou)})")
    if result.best_checkpoint:
        print(f"best: {result.best_checkpoint} (mIoU {_miou(result.best_miou)})")
    if args.json_out:
        from ..util.atomic import atomic_open

        with atomic_open(args.json_out, "w") as f:
            json.dump(summary, f, indent=1)
    timing(f"trained to epoch {result.epoch} (step {result.iteration}) in "
           f"{time.perf_counter() - start:.1f} s")
    return 0


def _miou(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
