"""COCO panoptic <-> COCO detection (instance masks as RLE): panopticapi's
``panoptic2detection_coco_format.py`` and ``detection2panoptic_coco_format.py``.

RLEs are encoded, decoded and checked by the core through :mod:`panoseg.io.rle`; pycocotools
only rasterizes polygons.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import is_int, json_value
from ..io.codec import MAX_SEGMENT_ID
from ..io.panoptic_json import load_json, load_panoptic_json
from ..io.paths import png_name
from ..io.png import MAX_PIXELS
from ..io.rle import label_map_to_rles, rle_to_indices
from ..io.segment_ids import SegmentIds, category_colour_ids
from . import common


# ---------------------------------------------------------------------------------------------
# panoptic -> detection
# ---------------------------------------------------------------------------------------------
def panoptic_to_detection(panoptic_json_file, segmentations_folder, output_json_file,
                          categories_json_file=None, things_only: bool = True,
                          workers: Optional[int] = None, progress: bool = False,
                          annotation_ids: str = "sequential", *,
                          max_pixels: int = MAX_PIXELS) -> dict:
    """Converts COCO panoptic (JSON + PNGs) to COCO detection format with RLE masks.

    One detection annotation per segment (per thing segment with ``things_only``), in the
    order of ``annotations`` and ``segments_info``: ``id``, ``image_id``, ``category_id``,
    ``segmentation`` (compressed RLE, ``counts`` a str, ``size`` ``[height, width]``; the
    string ``pycocotools.mask.encode`` makes), ``area`` and ``bbox`` (``[x, y, w, h]``, ints,
    as pycocotools computes them), ``iscrowd`` from ``segments_info`` (default 0), and
    ``segment_id``: the panoptic segment id, which :func:`detection_to_panoptic` uses to give
    the same ids back. Other keys of a segment (e.g. ``score``) are carried over.

    ``images`` and the other top-level sections are carried over (``images`` is made from the
    PNGs when the JSON has none); ``categories`` are the panoptic ones without ``isthing``
    (only things with ``things_only``), as in panopticapi's output.

    Parameters
    ----------
    panoptic_json_file : path
        COCO panoptic JSON.
    segmentations_folder : path or None
        Its PNGs; None: X if the JSON is X.json.
    output_json_file : path
        The detection JSON to write.
    categories_json_file : path, optional
        Panoptic categories; default: the panoptic JSON's, else COCO's 133.
    things_only : bool
        Skip stuff segments (COCO detection / instance segmentation covers things only).
        panopticapi's command line keeps stuff unless ``--things_only`` is given.
    workers : int, optional
        Threads; default: all available cores.
    progress : bool
        Show a progress bar on stderr.
    annotation_ids : {"sequential", "segment"}
        ``"sequential"`` (panopticapi's): ``id`` = 0, 1, 2... over the whole file, unique as
        COCO detection requires. ``"segment"``: ``id`` = the segment id and no ``segment_id``
        key; segment ids are only unique within an image (in COCO every image's first person
        is 3937500), so such a file must not be loaded with ``pycocotools.coco.COCO``, which
        keys annotations by id.
    max_pixels : int
        The largest image accepted (default :data:`panoseg.io.png.MAX_PIXELS`), checked from
        the JSON's sizes and each PNG's header before anything is allocated or decoded.

    Returns
    -------
    dict
        The detection JSON written.

    Raises
    ------
    PanopticFormatError
        Missing PNG, a segment listed but absent from the PNG or the reverse, an unknown
        category, a PNG size that differs from ``images``, an image without ``images`` entry.
    """
    if annotation_ids not in ("sequential", "segment"):
        raise ValueError("annotation_ids must be 'sequential' or 'segment', "
                         f"got {annotation_ids!r}")
    panoptic_json_file = os.fspath(panoptic_json_file)
    data = load_panoptic_json(panoptic_json_file)
    categories, _ = common.load_categories(categories_json_file, data, panoptic_json_file)
    folder = common.input_folder(segmentations_folder, panoptic_json_file)
    annotations = data["annotations"]
    images = data.get("images")
    image_by_id = common.image_index(images, panoptic_json_file) if images is not None else None
    common.check_unique_image_ids(annotations, panoptic_json_file)
    if image_by_id is not None:
        for ann in annotations:
            if ann["image_id"] not in image_by_id:
                raise PanopticFormatError("annotation's image_id is not in 'images'",
                                          file=panoptic_json_file, image_id=ann["image_id"],
                                          file_name=ann["file_name"])

    def one(ann):
        image_id = ann["image_id"]
        image = None if image_by_id is None else image_by_id[image_id]
        ids, table = common.read_panoptic(ann, folder, categories, panoptic_json_file, image,
                                          max_pixels)
        h, w = ids.shape
        keep = np.flatnonzero(categories.isthing[table.category]) if things_only \
            else np.arange(len(table))
        kept_ids = np.ascontiguousarray(table.ids[keep], dtype=np.uint32)
        # One label map of the kept segments, encoded in one pass of the core.
        rles = label_map_to_rles(common.positions(ids, kept_ids), len(kept_ids))
        # read_panoptic checked that every listed segment has pixels.
        areas, boxes = _core.segment_areas_bboxes(np.ascontiguousarray(ids, dtype=np.uint32),
                                                  kept_ids)
        detections = []
        for j, k in enumerate(keep.tolist()):
            seg = ann["segments_info"][k]
            det = {"id": None, "image_id": image_id, "category_id": seg["category_id"],
                   "segmentation": rles[j], "area": int(areas[j]),
                   "bbox": [int(v) for v in boxes[j]], "iscrowd": int(seg.get("iscrowd", 0))}
            det.update((key, v) for key, v in seg.items() if key not in common.OWN_KEYS)
            det["segment_id"] = int(seg["id"])
            detections.append(det)
        made_image = None
        if image_by_id is None:
            made_image = {"id": image_id, "file_name": ann["file_name"], "height": h, "width": w}
        return detections, made_image

    detections, made_images = [], []
    for dets, image in common.map_images(one, annotations, workers, progress,
                                         "panoptic -> detection"):
        detections.extend(dets)
        made_images.append(image)
    for n, det in enumerate(detections):
        if annotation_ids == "sequential":
            det["id"] = n
        else:
            det["id"] = det.pop("segment_id")
    out = dict(data)
    if image_by_id is None:
        out["images"] = made_images
    out["annotations"] = detections
    out["categories"] = [{k: v for k, v in e.items() if k != "isthing"}
                         for e in categories.entries if e["isthing"] or not things_only]
    common.write_json(output_json_file, out)
    return out


# ---------------------------------------------------------------------------------------------
# detection -> panoptic
# ---------------------------------------------------------------------------------------------
def detection_to_panoptic(detection_json_file, output_json_file, segmentations_folder=None,
                          categories_json_file=None, workers: Optional[int] = None,
                          progress: bool = False, *, seed: int = 0,
                          max_pixels: int = MAX_PIXELS) -> dict:
    """Converts COCO detection annotations (non-overlapping masks) to COCO panoptic format.

    Every image of ``images`` gets a PNG (``x.jpg`` -> ``x.png``; an image without annotations
    is all VOID) and one entry in ``annotations``; each detection annotation becomes one
    segment, in file order, with ``category_id`` and ``iscrowd`` (default 0) taken over,
    ``area`` and ``bbox`` computed from its mask, and its other keys (e.g. ``score``) carried
    over. Masks may be polygons, uncompressed or compressed RLE. As in panopticapi, masks must
    not overlap.

    Segment ids: per image, each annotation's ``segment_id`` (written by
    :func:`panoptic_to_detection`) or else its ``id``, when all of them lie in 1..2^24-1 and
    differ; otherwise (COCO's crowd annotation ids exceed 24 bits, ids start at 0...) all
    segments of that image get ids from :class:`~panoseg.io.segment_ids.SegmentIds` (things
    in annotation order, then stuff), as in :func:`two_channel_to_panoptic` and the merge.
    Either way the result depends on the input (and ``seed``) only.

    Parameters
    ----------
    detection_json_file : path
        COCO detection JSON: ``images`` (``id``, ``file_name``, ``height``, ``width``) and
        ``annotations``. Its other sections are carried over.
    output_json_file : path
        The panoptic JSON to write.
    segmentations_folder : path, optional
        Where the PNGs go; default: X if ``output_json_file`` is X.json.
    categories_json_file : path, optional
        Panoptic categories (with ``isthing``, ``color``); default: the detection JSON's when
        they have ``isthing``, else COCO's 133. Written as the output's ``categories``.
    workers : int, optional
        Threads; default: all available cores.
    progress : bool
        Show a progress bar on stderr.
    seed : int
        Seeds the jitter of thing ids with the image id, as ``merge``'s ``seed`` (same default).
    max_pixels : int
        The largest image accepted (default :data:`panoseg.io.png.MAX_PIXELS`), checked from
        the JSON's sizes and each PNG's header before anything is allocated or decoded.

    Returns
    -------
    dict
        The panoptic JSON written.

    Raises
    ------
    PanopticFormatError
        Overlapping masks (naming both annotations), an unknown category, an undecodable or
        empty mask, an RLE whose size is not the image's, an annotation of an unknown image.
    """
    detection_json_file = os.fspath(detection_json_file)
    data = load_json(detection_json_file)
    images = common.image_list(data, detection_json_file, need_size=True, max_pixels=max_pixels)
    image_by_id = common.image_index(images, detection_json_file)
    categories, cat_source = common.load_categories(categories_json_file, data,
                                                    detection_json_file)
    category_colour_ids(categories, cat_source)  # a bad colour fails here, before any file
    annotations = data.get("annotations", [])  # an images-only file gives all-void PNGs
    if not isinstance(annotations, list):
        raise PanopticFormatError("'annotations' is not a list", file=detection_json_file)
    by_image = {image_id: [] for image_id in image_by_id}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            raise PanopticFormatError(f"annotations[{k}] is not an object",
                                      file=detection_json_file)
        image_id = ann.get("image_id")
        if not common.hashable_id(image_id) or image_id not in by_image:
            raise PanopticFormatError(f"annotation {ann.get('id')!r}: image_id {image_id!r} is "
                                      "not in 'images'", file=detection_json_file)
        by_image[image_id].append(ann)
    seg_folder = common.output_folder(segmentations_folder, output_json_file)
    out_paths = common.output_pngs(seg_folder, images, detection_json_file)  # before any write

    def one(image) -> dict:
        image_id, (h, w) = image["id"], (image["height"], image["width"])
        name = png_name(image["file_name"])
        anns = by_image[image_id]

        def fail(ann, problem):
            raise PanopticFormatError(f"annotation {ann.get('id')!r}: {problem}",
                                      file=detection_json_file, image_id=image_id,
                                      file_name=image["file_name"])

        # Which annotation painted each pixel, in COCO's column-major pixel order (that of RLE).
        owner = np.full(h * w, -1, np.int32)
        for n, ann in enumerate(anns):
            if not is_int(ann.get("category_id")) or ann["category_id"] not in categories:
                fail(ann, f"unknown category_id {json_value(ann.get('category_id'))}")
            if ann.get("iscrowd", 0) not in (0, 1) or isinstance(ann.get("iscrowd"), bool):
                fail(ann, f"iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}")
            try:
                pixels = _segmentation_pixels(ann.get("segmentation"), h, w)
            except ValueError as e:
                pixels, problem = None, str(e)
            if pixels is None:  # raised outside the handler: no chained traceback
                fail(ann, problem)
            taken = owner[pixels]
            if taken.size == 0:
                fail(ann, "mask is empty")
            clash = taken[taken >= 0]
            if clash.size:
                other = anns[int(clash[0])].get("id")
                fail(ann, f"overlaps annotation {other!r} ({clash.size} pixels); panoptic "
                          "segments must not overlap")
            owner[pixels] = n
        wanted = [ann.get("segment_id", ann.get("id")) for ann in anns]
        if all(is_int(i) and 1 <= i <= MAX_SEGMENT_ID for i in wanted) \
                and len(set(wanted)) == len(wanted):
            seg_ids = [int(i) for i in wanted]
        else:
            seg_ids = common.assign_ids(
                SegmentIds(categories, image_id, seed=seed, expected_segments=len(anns)),
                [int(ann["category_id"]) for ann in anns],
                lambda cat: categories.isthing[categories.index_of[cat]])
        ids = np.array([0] + seg_ids, np.uint32)[owner + 1].reshape(w, h).T
        stats = common.segment_stats(ids)
        segments_info = []
        for ann, seg_id in zip(anns, seg_ids):
            area, bbox = stats[seg_id]
            seg = {"id": seg_id, "category_id": ann["category_id"],
                   "iscrowd": int(ann.get("iscrowd", 0)), "bbox": bbox, "area": area}
            seg.update((key, v) for key, v in ann.items() if key not in common.OWN_KEYS)
            segments_info.append(seg)
        common.write_png(out_paths[image_id], np.ascontiguousarray(ids))
        return {"image_id": image_id, "file_name": name, "segments_info": segments_info}

    panoptic = list(common.map_images(one, images, workers, progress, "detection -> panoptic"))
    out = dict(data)
    out["annotations"] = panoptic
    out["categories"] = categories.to_list()
    common.write_json(output_json_file, out)
    return out


def _segmentation_pixels(seg, h: int, w: int) -> np.ndarray:
    """Flat column-major indices (``x * h + y``) of the pixels of a COCO ``segmentation``:
    polygons (rasterized by pycocotools) or RLE (checked and decoded by the core).
    ValueError saying what is wrong with it."""
    if isinstance(seg, list):
        if not seg:
            raise ValueError("empty polygon list")
        polygons = []
        for poly in seg:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2 \
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               and np.isfinite(v) for v in poly):
                raise ValueError("a polygon must be a list of at least 3 x, y pairs of numbers")
            polygons.append([float(v) for v in poly])
        from pycocotools import mask as mask_utils

        mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, h, w)))
        return np.flatnonzero(mask.T)  # mask.T's C order is the column-major order
    if not isinstance(seg, Mapping):
        raise ValueError(f"no decodable 'segmentation' (got {type(seg).__name__})")
    return rle_to_indices(seg, h, w)
