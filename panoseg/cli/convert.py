"""The ``panoseg convert`` command line: panopticapi's converters as sub-subcommands.

Flags keep the names of panopticapi's scripts (``--input_json_file``, ``--segmentations_folder``,
``--things_only``...; dashes or underscores alike); the JSON written is ``--json-out`` with
panopticapi's ``--output_json_file`` as an alias. A summary line goes to stdout, progress and
timing to stderr. Bad input raises :class:`~panoseg.errors.PanopticFormatError`, which
``panoseg.cli.main`` turns into exit 1.
"""
from __future__ import annotations

import time

from .common import (
    add_command,
    add_max_pixels,
    add_run_options,
    input_file,
    input_folder,
    output_file,
    output_folder,
    seed,
    timing,
)


def _json_out(parser, what: str, *aliases: str) -> None:
    parser.add_argument("--json-out", "--output-json-file", *aliases, required=True,
                        type=output_file, metavar="FILE",
                        help=f"{what} to write (--output_json_file: panopticapi's name)")


def _seed(parser) -> None:
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the thing-id jitter, as for 'panoseg merge' (default 0)")


def add_convert_parser(subparsers) -> None:
    """Adds ``convert`` and its four conversions to an ``add_subparsers()`` object."""
    from ..convert import CROWD_INSTANCE

    p = add_command(
        subparsers, "convert",
        help="convert between COCO panoptic and 2-channel, detection, semantic formats",
        description="panopticapi's converters: 2-channel PNGs -> panoptic, panoptic <-> COCO "
                    "detection (RLE), panoptic -> semantic PNGs. Deterministic segment ids, "
                    "thread-parallel, atomic outputs.")
    sub = p.add_subparsers(dest="conversion", metavar="CONVERSION",
                           help="the conversion; 'panoseg convert CONVERSION -h' for its flags")
    sub.required = True

    q = add_command(
        sub, "2ch-to-panoptic", help="2-channel PNGs (category, instance) -> COCO panoptic",
        description="Converts 2-channel PNGs (channel 0: category id, 0 = void; channel 1: "
                    "instance id, 255 = crowd region of a thing) to COCO panoptic JSON + PNGs.")
    q.add_argument("--input-folder", "--source-folder", required=True, type=input_folder,
                   metavar="DIR",
                   help="folder with the 2-channel PNGs")
    q.add_argument("--images-json-file", required=True, type=input_file, metavar="FILE",
                   help="JSON file with the 'images' section (ids, file names, sizes)")
    q.add_argument("--categories-json-file", default=None, type=input_file, metavar="FILE",
                   help="JSON file with panoptic categories; default: the images JSON's if they "
                        "have 'isthing', else COCO's 133")
    _json_out(q, "the COCO panoptic JSON", "--predictions-json-file")
    q.add_argument("--segmentations-folder", default=None, type=output_folder, metavar="DIR",
                   help="folder for the panoptic PNGs; default: X if the output JSON is X.json")
    q.add_argument("--void-label", type=int, default=0,
                   help="channel-0 value meaning void (default 0)")
    q.add_argument("--crowd-instance", type=int, default=CROWD_INSTANCE,
                   help="channel-1 value marking a crowd region of a thing (default 255; -1: "
                        "none)")
    q.default_folder("--segmentations-folder", "--json-out")
    _seed(q)
    add_max_pixels(q)
    add_run_options(q)
    q.set_defaults(run=run_two_channel_to_panoptic)

    q = add_command(
        sub, "panoptic-to-detection", help="COCO panoptic -> COCO detection (RLE masks)",
        description="Converts COCO panoptic JSON + PNGs to COCO detection format with "
                    "compressed RLE masks. As panopticapi's script, keeps stuff segments unless "
                    "--things-only is given; annotation ids are 0, 1, 2... and each annotation "
                    "keeps its panoptic id in 'segment_id'.")
    q.add_argument("--input-json-file", "--panoptic-json-file", required=True, type=input_file,
                   metavar="FILE",
                   help="COCO panoptic JSON file")
    q.add_argument("--segmentations-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with its PNGs; default: X if the input JSON is X.json")
    _json_out(q, "the COCO detection JSON")
    q.add_argument("--categories-json-file", default=None, type=input_file, metavar="FILE",
                   help="JSON file with panoptic categories; default: the input JSON's")
    q.add_argument("--things-only", action="store_true", help="discard stuff segments")
    q.add_argument("--segment-ids-as-ids", action="store_true",
                   help="annotation id = panoptic segment id (unique per image only: not "
                        "loadable with pycocotools' COCO class)")
    q.default_folder("--segmentations-folder", "--input-json-file")
    add_max_pixels(q)
    add_run_options(q)
    q.set_defaults(run=run_panoptic_to_detection)

    q = add_command(
        sub, "detection-to-panoptic", help="COCO detection (non-overlapping masks) -> COCO panoptic",
        description="Converts COCO detection annotations (polygons or RLE, not overlapping) to "
                    "COCO panoptic JSON + PNGs. Segment ids: 'segment_id' or 'id' of the "
                    "annotations when valid 24-bit ids unique in the image, else colours.")
    q.add_argument("--input-json-file", "--detection-json-file", required=True,
                   type=input_file, metavar="FILE",
                   help="COCO detection JSON file")
    _json_out(q, "the COCO panoptic JSON")
    q.add_argument("--segmentations-folder", default=None, type=output_folder, metavar="DIR",
                   help="folder for the PNGs; default: X if the output JSON is X.json")
    q.add_argument("--categories-json-file", default=None, type=input_file, metavar="FILE",
                   help="JSON file with panoptic categories; default: the input JSON's if they "
                        "have 'isthing', else COCO's 133")
    q.default_folder("--segmentations-folder", "--json-out")
    _seed(q)
    add_max_pixels(q)
    add_run_options(q)
    q.set_defaults(run=run_detection_to_panoptic)

    q = add_command(
        sub, "panoptic-to-semantic", help="COCO panoptic -> semantic segmentation PNGs",
        description="Writes one 8-bit grayscale PNG per image: the category id of each pixel, "
                    "0 for void; with --things-other every thing pixel is 183 ('other').")
    q.add_argument("--input-json-file", "--panoptic-json-file", required=True, type=input_file,
                   metavar="FILE",
                   help="COCO panoptic JSON file")
    q.add_argument("--segmentations-folder", default=None, type=input_folder, metavar="DIR",
                   help="folder with its PNGs; default: X if the input JSON is X.json")
    q.add_argument("--semantic-seg-folder", "--output-folder", required=True,
                   type=output_folder, metavar="DIR",
                   help="folder for the semantic PNGs")
    q.add_argument("--categories-json-file", default=None, type=input_file, metavar="FILE",
                   help="JSON file with panoptic categories; default: the input JSON's")
    q.add_argument("--things-other", action="store_true",
                   help="merge all thing categories into one 'other' class (183)")
    q.default_folder("--segmentations-folder", "--input-json-file")
    add_max_pixels(q)
    add_run_options(q)
    q.set_defaults(run=run_panoptic_to_semantic)


def _done(what: str, n: int, where: str, start: float, unit: str = "images") -> int:
    print(f"{what}: {n} {unit} -> {where}")
    timing(f"{n} {unit} in {time.perf_counter() - start:.2f} s")
    return 0


def run_two_channel_to_panoptic(args) -> int:
    from ..convert import two_channel_to_panoptic

    start = time.perf_counter()
    out = two_channel_to_panoptic(
        args.input_folder, args.images_json_file, args.categories_json_file,
        args.json_out, args.segmentations_folder, void_label=args.void_label,
        crowd_instance=None if args.crowd_instance < 0 else args.crowd_instance,
        workers=args.workers, progress=not args.no_progress, seed=args.seed,
        max_pixels=args.max_pixels)
    return _done("2ch-to-panoptic", len(out["annotations"]), args.json_out, start)


def run_panoptic_to_detection(args) -> int:
    from ..convert import panoptic_to_detection

    start = time.perf_counter()
    out = panoptic_to_detection(
        args.input_json_file, args.segmentations_folder, args.json_out,
        args.categories_json_file, things_only=args.things_only, workers=args.workers,
        progress=not args.no_progress,
        annotation_ids="segment" if args.segment_ids_as_ids else "sequential",
        max_pixels=args.max_pixels)
    return _done("panoptic-to-detection", len(out["annotations"]), args.json_out, start,
                 unit="annotations")


def run_detection_to_panoptic(args) -> int:
    from ..convert import detection_to_panoptic

    start = time.perf_counter()
    out = detection_to_panoptic(
        args.input_json_file, args.json_out, args.segmentations_folder,
        args.categories_json_file, workers=args.workers, progress=not args.no_progress,
        seed=args.seed, max_pixels=args.max_pixels)
    return _done("detection-to-panoptic", len(out["annotations"]), args.json_out, start)


def run_panoptic_to_semantic(args) -> int:
    from ..convert import panoptic_to_semantic

    start = time.perf_counter()
    n = panoptic_to_semantic(
        args.input_json_file, args.segmentations_folder, args.semantic_seg_folder,
        args.categories_json_file, things_other=args.things_other, workers=args.workers,
        progress=not args.no_progress, max_pixels=args.max_pixels)
    return _done("panoptic-to-semantic", n, args.semantic_seg_folder, start)
