"""The ``panoseg merge`` subcommand: semantic + instance predictions -> COCO panoptic, with
panopticapi's flags (``combine_semantic_and_instance_predictions.py``)."""
from __future__ import annotations

import os
import time

from .common import (
    add_command,
    add_max_pixels,
    add_run_options,
    input_file,
    non_negative_float,
    output_file,
    output_folder,
    seed,
    timing,
    unit_float,
)


def add_merge_inputs(p) -> None:
    """The four input files of panopticapi's combine (shared by ``merge`` and ``tune``)."""
    p.add_argument("--semseg-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with semantic segmentation predictions (RLE per image and category)")
    p.add_argument("--instseg-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with instance segmentation predictions (RLE + score)")
    p.add_argument("--images-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file whose 'images' lists the images to combine")
    p.add_argument("--categories-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with the panoptic COCO categories")


def add_merge_parser(subparsers) -> None:
    """Adds the ``merge`` subcommand to an argparse ``subparsers`` object."""
    from ..merge.defaults import (
        DEFAULT_CONFIDENCE_THR,
        DEFAULT_OVERLAP_THR,
        DEFAULT_STUFF_AREA_LIMIT,
    )

    p = add_command(
        subparsers, "merge",
        help="combine semantic + instance predictions into panoptic (paper, section 7)",
        description="panopticapi's combine_semantic_and_instance_predictions, in the compiled "
                    "core: same flags, same output (deterministic segment ids). A summary line "
                    "goes to stdout; progress and timing to stderr.")
    add_merge_inputs(p)
    p.add_argument("--json-out", "--panoptic-json-file", required=True, type=output_file,
                   metavar="FILE",
                   help="the COCO panoptic JSON to write (--panoptic_json_file: panopticapi's "
                        "name)")
    p.add_argument("--segmentations-folder", default=None, type=output_folder, metavar="DIR",
                   help="output PNG folder; default: X if the panoptic JSON is X.json")
    p.add_argument("--confidence-thr", type=unit_float, default=DEFAULT_CONFIDENCE_THR,
                   metavar="0..1",
                   help="instances scoring below this are dropped (default %(default)s)")
    p.add_argument("--overlap-thr", type=unit_float, default=DEFAULT_OVERLAP_THR, metavar="0..1",
                   help="instances with more than this fraction already taken are dropped "
                        "(default %(default)s)")
    p.add_argument("--stuff-area-limit", type=non_negative_float,
                   default=DEFAULT_STUFF_AREA_LIMIT, metavar="PIXELS",
                   help="stuff segments with fewer pixels are dropped (default %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the thing-id jitter (default 0)")
    p.add_argument("--png-compression", type=int, default=None, choices=range(10), metavar="0-9",
                   help="zlib level of the PNGs (default: panoseg's own PNG writer, about twice "
                        "as fast as zlib's level 2, files about 20%% larger)")
    p.default_folder("--segmentations-folder", "--json-out")
    add_max_pixels(p)
    add_run_options(p, dask="merge on a Dask cluster: a scheduler address or local:N workers")
    p.set_defaults(run=run_merge)


def run_merge(args) -> int:
    from ..errors import add_note
    from ..io.paths import default_folder
    from ..merge.direct import (
        combine_predictions,  # without numpy on well-formed inputs
    )

    start = time.perf_counter()
    started = time.time()
    folder = args.segmentations_folder or default_folder(args.json_out)
    try:
        out = combine_predictions(
            args.semseg_json_file, args.instseg_json_file, args.images_json_file,
            args.categories_json_file, folder, args.json_out, args.confidence_thr,
            args.overlap_thr, args.stuff_area_limit, workers=args.workers,
            progress=not args.no_progress, seed=args.seed, compress_level=args.png_compression,
            dask=args.dask, max_pixels=args.max_pixels)
    except Exception as e:
        # The PNGs merged before the error stay (each complete, written atomically): the error
        # says so, so that the folder is taken neither for a finished run nor for untouched.
        left = _pngs_written_since(folder, started)
        if left:
            what = f"{left} PNGs merged before the error were" if left > 1 else \
                "1 PNG merged before the error was"
            add_note(e, f"{what} left in {folder} (each complete); {args.json_out} was not "
                        "written")
        raise
    n_images = len(out["annotations"])
    n_segments = sum(len(a["segments_info"]) for a in out["annotations"])
    # The result for a person on stdout; what programs need is in the JSON written.
    print(f"merged {n_images} images, {n_segments} segments -> {args.json_out} (PNGs in "
          f"{folder})")
    timing(f"{n_images} images in {time.perf_counter() - start:.2f} s")
    return 0


def _pngs_written_since(folder, since: float) -> int:
    """The PNGs under ``folder`` modified at or after ``since`` (seconds since the epoch; file
    times come from a coarser clock, hence the 50 ms of slack)."""
    count = 0
    for root, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".png"):
                try:
                    count += os.stat(os.path.join(root, name)).st_mtime >= since - 0.05
                except OSError:
                    pass
    return count
