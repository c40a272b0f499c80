"""The ``panoseg viz`` subcommand: overlay pictures of a COCO panoptic segmentation."""
from __future__ import annotations

import argparse
import time

from .common import (
    add_command,
    add_max_pixels,
    add_run_options,
    input_file,
    input_folder,
    output_folder,
    timing,
    unit_float,
)


class _Titles(argparse.Action):
    """``--titles A,B`` or ``--titles A B``: the two panels' titles."""

    def __call__(self, parser, namespace, values, option_string=None):
        titles = values[0].split(",") if len(values) == 1 else list(values)
        if len(titles) != 2 or not all(t.strip() for t in titles):
            parser.error(f"{option_string}: expected two titles, as A,B or A B; got "
                         f"{' '.join(values)!r}")
        setattr(namespace, self.dest, [t.strip() for t in titles])


def add_viz_parser(subparsers) -> None:
    """Adds the ``viz`` subcommand to an argparse ``subparsers`` object."""
    p = add_command(
        subparsers, "viz", help="draw panoptic segmentations over their photos (one PNG per image)",
        description="Writes one PNG per image: segments coloured by category (things per "
                    "instance), outlined and labelled over the photo. With --compare-json-file, "
                    "the two segmentations side by side, each titled (default: after its JSON "
                    "file's name; --titles to choose); with --errors as well, the prediction's "
                    "matches and errors against the ground truth. A summary line goes to stdout.")
    p.add_argument("--panoptic-json-file", required=True, type=input_file, metavar="FILE",
                   help="COCO panoptic JSON file (e.g. the ground truth)")
    p.add_argument("--segmentations-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with its PNGs; default: X if the JSON file is X.json")
    p.add_argument("--images-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with the photos; default: draw on grey")
    p.add_argument("--output-folder", required=True, type=output_folder, metavar="DIR",
                   help="where the pictures go (created if needed)")
    p.add_argument("--compare-json-file", default=None, type=input_file, metavar="FILE",
                   help="a second panoptic JSON (e.g. a prediction) to show on the right")
    p.add_argument("--compare-folder", default=None, type=input_folder, metavar="DIR",
                   help="its PNGs; default: X if the JSON file is X.json (needs "
                        "--compare-json-file)")
    p.add_argument("--titles", nargs="+", action=_Titles, default=None, metavar="TITLE",
                   help="titles of the left and right panels, as A,B or A B (needs "
                        "--compare-json-file; default: the JSON files' names, with --errors "
                        "'ground truth' and 'prediction')")
    p.add_argument("--alpha", type=unit_float, default=0.5,
                   help="opacity of the segment colours, 0..1 (default: 0.5)")
    p.add_argument("--no-labels", action="store_true", help="no category names")
    p.add_argument("--no-boundaries", action="store_true", help="no segment outlines")
    p.add_argument("--errors", action="store_true",
                   help="draw the prediction's errors: --panoptic-json-file is the ground truth, "
                        "--compare-json-file the prediction; matched segments green labelled "
                        "with their IoU, false negatives orange and false positives magenta "
                        "labelled with their error type (as panoseg eval --errors counts them), "
                        "crowd regions and ignored predictions grey; a legend under the panels")
    p.default_folder("--segmentations-folder", "--panoptic-json-file")
    p.default_folder("--compare-folder", "--compare-json-file")
    p.needs("--errors", "--compare-json-file")
    p.needs("--compare-folder", "--compare-json-file")
    p.needs("--titles", "--compare-json-file")
    add_max_pixels(p)
    add_run_options(p)
    p.set_defaults(run=run_viz)


def run_viz(args) -> int:
    """Runs ``panoseg viz``; bad input raises PanopticFormatError (reported by the caller)."""
    from ..viz import visualize_dataset

    error_marks = None
    if args.errors:
        from ..evaluation.errors import viz_marks as error_marks
    start = time.perf_counter()
    written = visualize_dataset(
        args.panoptic_json_file, args.segmentations_folder, args.images_folder,
        args.output_folder, compare_json_file=args.compare_json_file,
        compare_folder=args.compare_folder, workers=args.workers,
        progress=not args.no_progress, alpha=args.alpha, boundaries=not args.no_boundaries,
        labels=not args.no_labels, titles=args.titles, max_pixels=args.max_pixels,
        error_marks=error_marks)
    print(f"{len(written)} pictures -> {args.output_folder}")
    timing(f"{len(written)} pictures in {time.perf_counter() - start:.2f} s")
    return 0
