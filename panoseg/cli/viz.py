"""The ``panoseg viz`` subcommand: overlay pictures of a COCO panoptic segmentation."""
from __future__ import annotations

import argparse
import sys
import time

from ..util.parallel import workers_argument


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must lie in 0..1")
    return value


def add_viz_parser(subparsers) -> None:
    """Adds the ``viz`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "viz", help="draw panoptic segmentations over their photos (one PNG per image)",
        description="Writes one PNG per image: segments coloured by category (things per "
                    "instance), outlined and labelled over the photo. With --compare_json_file, "
                    "the two segmentations side by side (e.g. ground truth | prediction).")
    p.add_argument("--panoptic_json_file", "--panoptic-json-file", required=True,
                   help="COCO panoptic JSON file (e.g. the ground truth)")
    p.add_argument("--segmentations_folder", "--segmentations-folder", default=None,
                   help="folder with its PNGs; default: X if the JSON file is X.json")
    p.add_argument("--images_folder", "--images-folder", default=None,
                   help="folder with the photos; default: draw on grey")
    p.add_argument("--output_folder", "--output-folder", required=True,
                   help="where the pictures go (created if needed)")
    p.add_argument("--compare_json_file", "--compare-json-file", default=None,
                   help="a second panoptic JSON (e.g. a prediction) to show on the right")
    p.add_argument("--compare_folder", "--compare-folder", default=None,
                   help="its PNGs; default: X if the JSON file is X.json")
    p.add_argument("--alpha", type=_alpha, default=0.5,
                   help="opacity of the segment colours, 0..1 (default: 0.5)")
    p.add_argument("--no-labels", "--no_labels", dest="no_labels", action="store_true",
                   help="no category names")
    p.add_argument("--no-boundaries", "--no_boundaries", dest="no_boundaries",
                   action="store_true", help="no segment outlines")
    p.add_argument("--workers", type=workers_argument, default=None, metavar="N",
                   help="threads (default: all available cores)")
    p.add_argument("--no-progress", "--no_progress", dest="no_progress", action="store_true",
                   help="no progress bar on stderr")
    p.set_defaults(run=run_viz)


def run_viz(args) -> int:
    """Runs ``panoseg viz``; bad input raises PanopticFormatError (reported by the caller)."""
    from ..viz import visualize_dataset

    if args.compare_folder is not None and args.compare_json_file is None:
        print("panoseg viz: error: --compare_folder needs --compare_json_file", file=sys.stderr)
        return 2
    start = time.perf_counter()
    written = visualize_dataset(
        args.panoptic_json_file, args.segmentations_folder, args.images_folder,
        args.output_folder, compare_json_file=args.compare_json_file,
        compare_folder=args.compare_folder, workers=args.workers,
        progress=not args.no_progress, alpha=args.alpha, boundaries=not args.no_boundaries,
        labels=not args.no_labels)
    print(f"{len(written)} pictures written to {args.output_folder} in "
          f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0
