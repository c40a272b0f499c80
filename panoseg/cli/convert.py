"""The ``panoseg convert`` command line: panopticapi's converters as sub-subcommands.

Flags keep the names of panopticapi's scripts (``--input_json_file``, ``--segmentations_folder``,
``--things_only``...), each with a dashed twin; ``--workers`` and ``--no-progress`` are as for
``panoseg eval``. A summary line goes to stderr. Bad input raises
:class:`~panoseg.errors.PanopticFormatError`, which ``panoseg.cli.main`` turns into exit 1.
"""
from __future__ import annotations

import sys
import time

from .. import convert
from ..util.parallel import workers_argument


def _flag(parser, name: str, *aliases: str, **kwargs) -> None:
    """``--a_b`` (panopticapi's spelling) plus ``--a-b`` and any aliases."""
    names = [f"--{name}"]
    for alias in (name,) + aliases:
        for spelling in (alias, alias.replace("_", "-")):
            if f"--{spelling}" not in names:
                names.append(f"--{spelling}")
    parser.add_argument(*names, dest=name, **kwargs)


def _common(parser) -> None:
    parser.add_argument("--workers", type=workers_argument, default=None, metavar="N",
                        help="threads (default: all available cores)")
    parser.add_argument("--no-progress", "--no_progress", dest="no_progress",
                        action="store_true", help="no progress bar on stderr")


def add_convert_parser(subparsers) -> None:
    """Adds ``convert`` and its four conversions to an ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "convert", help="convert between COCO panoptic and 2-channel, detection, semantic formats",
        description="panopticapi's converters: 2-channel PNGs -> panoptic, panoptic <-> COCO "
                    "detection (RLE), panoptic -> semantic PNGs. Deterministic segment ids, "
                    "thread-parallel, atomic outputs.")
    sub = p.add_subparsers(dest="conversion", metavar="CONVERSION")
    sub.required = True

    q = sub.add_parser(
        "2ch-to-panoptic", help="2-channel PNGs (category, instance) -> COCO panoptic",
        description="Converts 2-channel PNGs (channel 0: category id, 0 = void; channel 1: "
                    "instance id, 255 = crowd region of a thing) to COCO panoptic JSON + PNGs.")
    _flag(q, "input_folder", "source_folder", required=True,
          help="folder with the 2-channel PNGs")
    _flag(q, "images_json_file", required=True,
          help="JSON file with the 'images' section (ids, file names, sizes)")
    _flag(q, "categories_json_file", default=None,
          help="JSON file with panoptic categories; default: the images JSON's if they have "
               "'isthing', else COCO's 133")
    _flag(q, "output_json_file", "predictions_json_file", required=True,
          help="COCO panoptic JSON file to write")
    _flag(q, "segmentations_folder", default=None,
          help="folder for the panoptic PNGs; default: X if the output JSON is X.json")
    _flag(q, "void_label", type=int, default=0, help="channel-0 value meaning void (default 0)")
    _flag(q, "crowd_instance", type=int, default=convert.CROWD_INSTANCE,
          help="channel-1 value marking a crowd region of a thing (default 255; -1: none)")
    _common(q)
    q.set_defaults(run=run_two_channel_to_panoptic)

    q = sub.add_parser(
        "panoptic-to-detection", help="COCO panoptic -> COCO detection (RLE masks)",
        description="Converts COCO panoptic JSON + PNGs to COCO detection format with "
                    "compressed RLE masks. As panopticapi's script, keeps stuff segments unless "
                    "--things_only is given; annotation ids are 0, 1, 2... and each annotation "
                    "keeps its panoptic id in 'segment_id'.")
    _flag(q, "input_json_file", "panoptic_json_file", required=True,
          help="COCO panoptic JSON file")
    _flag(q, "segmentations_folder", default=None,
          help="folder with its PNGs; default: X if the input JSON is X.json")
    _flag(q, "output_json_file", required=True, help="COCO detection JSON file to write")
    _flag(q, "categories_json_file", default=None,
          help="JSON file with panoptic categories; default: the input JSON's")
    _flag(q, "things_only", action="store_true", help="discard stuff segments")
    q.add_argument("--segment-ids-as-ids", "--segment_ids_as_ids", dest="segment_ids_as_ids",
                   action="store_true",
                   help="annotation id = panoptic segment id (unique per image only: not "
                        "loadable with pycocotools' COCO class)")
    _common(q)
    q.set_defaults(run=run_panoptic_to_detection)

    q = sub.add_parser(
        "detection-to-panoptic", help="COCO detection (non-overlapping masks) -> COCO panoptic",
        description="Converts COCO detection annotations (polygons or RLE, not overlapping) to "
                    "COCO panoptic JSON + PNGs. Segment ids: 'segment_id' or 'id' of the "
                    "annotations when valid 24-bit ids unique in the image, else colours.")
    _flag(q, "input_json_file", "detection_json_file", required=True,
          help="COCO detection JSON file")
    _flag(q, "output_json_file", required=True, help="COCO panoptic JSON file to write")
    _flag(q, "segmentations_folder", default=None,
          help="folder for the PNGs; default: X if the output JSON is X.json")
    _flag(q, "categories_json_file", default=None,
          help="JSON file with panoptic categories; default: the input JSON's if they have "
               "'isthing', else COCO's 133")
    _common(q)
    q.set_defaults(run=run_detection_to_panoptic)

    q = sub.add_parser(
        "panoptic-to-semantic", help="COCO panoptic -> semantic segmentation PNGs",
        description="Writes one 8-bit grayscale PNG per image: the category id of each pixel, "
                    "0 for void; with --things_other every thing pixel is 183 ('other').")
    _flag(q, "input_json_file", "panoptic_json_file", required=True,
          help="COCO panoptic JSON file")
    _flag(q, "segmentations_folder", default=None,
          help="folder with its PNGs; default: X if the input JSON is X.json")
    _flag(q, "semantic_seg_folder", "output_folder", required=True,
          help="folder for the semantic PNGs")
    _flag(q, "categories_json_file", default=None,
          help="JSON file with panoptic categories; default: the input JSON's")
    _flag(q, "things_other", action="store_true",
          help="merge all thing categories into one 'other' class (183)")
    _common(q)
    q.set_defaults(run=run_panoptic_to_semantic)


def _done(what: str, n: int, where: str, start: float, unit: str = "images") -> int:
    print(f"{what}: {n} {unit} -> {where} ({time.perf_counter() - start:.2f} s)", file=sys.stderr)
    return 0


def run_two_channel_to_panoptic(args) -> int:
    start = time.perf_counter()
    out = convert.two_channel_to_panoptic(
        args.input_folder, args.images_json_file, args.categories_json_file,
        args.output_json_file, args.segmentations_folder, void_label=args.void_label,
        crowd_instance=None if args.crowd_instance < 0 else args.crowd_instance,
        workers=args.workers, progress=not args.no_progress)
    return _done("2ch-to-panoptic", len(out["annotations"]), args.output_json_file, start)


def run_panoptic_to_detection(args) -> int:
    start = time.perf_counter()
    out = convert.panoptic_to_detection(
        args.input_json_file, args.segmentations_folder, args.output_json_file,
        args.categories_json_file, things_only=args.things_only, workers=args.workers,
        progress=not args.no_progress,
        annotation_ids="segment" if args.segment_ids_as_ids else "sequential")
    return _done("panoptic-to-detection", len(out["annotations"]), args.output_json_file, start,
                 unit="annotations")


def run_detection_to_panoptic(args) -> int:
    start = time.perf_counter()
    out = convert.detection_to_panoptic(
        args.input_json_file, args.output_json_file, args.segmentations_folder,
        args.categories_json_file, workers=args.workers, progress=not args.no_progress)
    return _done("detection-to-panoptic", len(out["annotations"]), args.output_json_file, start)


def run_panoptic_to_semantic(args) -> int:
    start = time.perf_counter()
    n = convert.panoptic_to_semantic(
        args.input_json_file, args.segmentations_folder, args.semantic_seg_folder,
        args.categories_json_file, things_other=args.things_other, workers=args.workers,
        progress=not args.no_progress)
    return _done("panoptic-to-semantic", n, args.semantic_seg_folder, start)
