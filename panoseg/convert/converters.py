"""Conversions between COCO panoptic and the other formats of panopticapi's converters.

Python 3, numpy-vectorized and thread-parallel versions of the scripts in panopticapi's
``converters/`` folder:

=====================================  =================================================
panopticapi script                     panoseg function
=====================================  =================================================
``2channels2panoptic_coco_format.py``  :func:`two_channel_to_panoptic`
``panoptic2detection_coco_format.py``  :func:`panoptic_to_detection`
``detection2panoptic_coco_format.py``  :func:`detection_to_panoptic`
``panoptic2semantic_segmentation.py``  :func:`panoptic_to_semantic` (its PNG mode)
=====================================  =================================================

What is kept from panopticapi and what differs (on purpose):

* Segment ids are colours, as panopticapi's ``IdGenerator`` makes them: a stuff segment gets
  its category colour; the first thing instance of a category in an image gets the category
  colour, the next ones a colour jittered by up to +-30 per channel. panopticapi draws the
  jitter from the global, unseeded numpy RNG, so its output changes from run to run and with
  the number of processes. Here the jitter comes from ``numpy.random.default_rng`` seeded with
  ``zlib.crc32(str(image_id))``, one generator per image, so the ids depend on the image only:
  the same for any ``workers``, and in any run. Ids are unique within an image, never 0 (VOID),
  and stuff colours are reserved before things draw theirs.
* Every input is checked; anything wrong raises :class:`~panoseg.errors.PanopticFormatError`
  naming the file, the image and the segment (or detection annotation). Compressed RLE is
  validated before pycocotools sees it, because pycocotools decodes corrupt RLE into garbage
  (or past the end of its buffer) instead of failing.
* Outputs are written atomically (``write_ids`` for PNGs, ``atomic_open`` for JSON); folders
  are created. Images are processed by :func:`~panoseg.parallel.ordered_map`, in input order,
  so the output does not depend on ``workers``.
"""
from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Mapping
from typing import List, Optional

import numpy as np
from pycocotools import mask as mask_utils

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import Categories, coco_panoptic_categories, is_int
from ..io.codec import MAX_SEGMENT_ID, rgb2id
from ..io.panoptic_json import (
    SegmentTable,
    default_folder,
    load_json,
    load_panoptic_json,
    read_json,
)
from ..io.png import read_ids, write_ids
from ..util.atomic import atomic_open
from ..util.parallel import ordered_map

__all__ = [
    "CROWD_INSTANCE", "OTHER_CLASS_ID", "detection_to_panoptic", "panoptic_to_detection",
    "panoptic_to_semantic", "two_channel_to_panoptic",
]

#: Semantic label of every thing pixel in ``things_other`` mode (panopticapi's, COCO-Stuff's
#: "other" class).
OTHER_CLASS_ID = 183
#: Instance value (channel 1) marking a crowd region of a thing in the 2-channel format.
CROWD_INSTANCE = 255
#: panopticapi's ``IdGenerator`` jitters a taken colour by up to this much per channel.
_JITTER = 30
# Segment keys the converters compute or move; any other key (e.g. "score") is carried over.
_OWN_KEYS = frozenset({"id", "segment_id", "image_id", "category_id", "iscrowd", "area",
                       "bbox", "segmentation"})
# Masks encoded per pycocotools call: bounds the HxWxN temporary to N bytes a pixel.
_ENCODE_CHUNK = 32


# ---------------------------------------------------------------------------------------------
# 2-channel -> panoptic
# ---------------------------------------------------------------------------------------------
def two_channel_to_panoptic(input_folder, images_json_file, categories_json_file,
                            output_json_file, segmentations_folder=None, void_label=0,
                            crowd_instance: Optional[int] = CROWD_INSTANCE,
                            workers: Optional[int] = None, progress: bool = False) -> dict:
    """Converts 2-channel PNGs to COCO panoptic format (JSON + RGB PNGs).

    The 2-channel format stores per pixel a category id (channel 0) and an instance id
    (channel 1) in an 8-bit PNG (mode LA, RGB or RGBA; further channels are ignored). Pixels
    with ``(category, instance)`` equal form one segment, with these conventions (those of
    COCO's published sample, ``tests/data/coco_panoptic_sample``):

    * category ``void_label`` (0) is VOID, whatever the instance value;
    * a stuff category is one segment per image, whatever its instance values (COCO panoptic
      has at most one segment per stuff category; panopticapi would give each instance value
      the same id and list it several times);
    * a thing with instance ``crowd_instance`` (255) is a crowd region (``iscrowd`` 1), all its
      pixels one segment; every other instance value, 0 included, is one instance
      (``iscrowd`` 0). ``crowd_instance=None`` makes 255 an ordinary instance.

    ``segments_info`` lists the segments by (category id, instance id), as panopticapi does,
    with ``id``, ``category_id``, ``iscrowd``, ``area`` (pixels) and ``bbox``
    (``[x, y, width, height]`` of the pixels, ints). Segment ids: see the module docstring.

    Parameters
    ----------
    input_folder : path
        The 2-channel PNGs, named like the images with ``.png`` (``x.jpg`` -> ``x.png``).
    images_json_file : path
        JSON with an ``images`` list (``id``, ``file_name``; ``height`` and ``width`` are
        checked when present). Its other sections (``info``, ``licenses``...) are carried over.
    categories_json_file : path or None
        Panoptic categories (a list, or an object with a ``categories`` list), with ``id``,
        ``isthing`` and ``color``. None: the images JSON's ``categories`` if they have
        ``isthing``, else COCO's 133.
    output_json_file : path
        The COCO panoptic JSON to write.
    segmentations_folder : path, optional
        Where the panoptic PNGs go; default: X if ``output_json_file`` is X.json.
    void_label : int or None
        Channel-0 value meaning VOID.
    crowd_instance : int or None
        Channel-1 value meaning "crowd region" for things.
    workers : int, optional
        Threads; default: all available cores.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    dict
        The panoptic JSON written.

    Raises
    ------
    PanopticFormatError
        Missing or unreadable PNG, a PNG that is not 8-bit LA/RGB/RGBA, a size that differs
        from ``images``, a category id that is neither known nor ``void_label``.
    """
    if void_label is not None and not (is_int(void_label) and 0 <= void_label <= 255):
        raise ValueError(f"void_label must be None or in 0..255, got {void_label!r}")
    images_json_file = os.fspath(images_json_file)
    input_folder = os.fspath(input_folder)
    data = load_json(images_json_file)
    images = _image_list(data, images_json_file)
    categories, cat_source = _categories(categories_json_file, data, images_json_file)
    seg_folder = _output_folder(segmentations_folder, output_json_file)
    _check_input_folder(input_folder, "2-channel PNGs")
    _check_not_same(input_folder, seg_folder)
    os.makedirs(seg_folder, exist_ok=True)

    # Per channel-0 value lookups: ids above 255 cannot occur in an 8-bit channel.
    known = np.zeros(256, bool)
    isthing = np.zeros(256, bool)
    colors = {}
    for entry in categories.entries:
        cat_id = int(entry["id"])
        if 0 <= cat_id <= 255:
            known[cat_id] = True
            isthing[cat_id] = bool(entry["isthing"])
            colors[cat_id] = _category_color(entry, cat_source)
    if void_label is not None:
        known[int(void_label)] = False

    def one(image) -> dict:
        image_id = image["id"]
        png_name = _png_name(image["file_name"])
        path = os.path.join(input_folder, png_name)
        sem, inst = _read_two_channel(path, image_id, png_name)
        _check_shape(sem.shape, image, path, images_json_file, image_id, png_name)
        key = (sem.astype(np.uint16) << 8) | inst  # (category, instance) as one 16-bit value
        counts = np.bincount(key.ravel(), minlength=65536)
        present = np.flatnonzero(counts)  # ascending: by category, then instance
        cats = present >> 8
        unknown = (cats != (-1 if void_label is None else void_label)) & ~known[cats]
        if unknown.any():
            bad = int(cats[unknown][0])
            n = int(counts[present[cats == bad]].sum())
            raise PanopticFormatError(f"unknown category id {bad} in channel 0 ({n} pixels)",
                                      file=path, image_id=image_id, file_name=png_name)
        segments: List[list] = []  # [category, iscrowd, keys]
        stuff_at = {}
        for k in present.tolist():
            cat, ins = k >> 8, k & 255
            if cat == void_label:
                continue
            if not isthing[cat]:
                if cat in stuff_at:
                    segments[stuff_at[cat]][2].append(k)
                    continue
                stuff_at[cat] = len(segments)
                segments.append([cat, 0, [k]])
            else:
                segments.append([cat, int(ins == crowd_instance), [k]])
        # Stuff first, so a stuff segment keeps its category colour whatever things precede it.
        gen = _IdGenerator(image_id)
        seg_ids = [0] * len(segments)
        for things in (False, True):
            for n, (cat, _, _) in enumerate(segments):
                if isthing[cat] == things:
                    seg_ids[n] = gen.new_id(colors[cat])
        lut = np.zeros(65536, np.uint32)
        for n, (_, _, keys) in enumerate(segments):
            lut[keys] = seg_ids[n]
        ids = lut[key]
        stats = _segment_stats(ids)
        segments_info = []
        for n, (cat, crowd, _) in enumerate(segments):
            area, bbox = stats[seg_ids[n]]
            segments_info.append({"id": seg_ids[n], "category_id": cat, "iscrowd": crowd,
                                  "bbox": bbox, "area": area})
        _write_png(os.path.join(seg_folder, png_name), ids)
        return {"image_id": image_id, "file_name": png_name, "segments_info": segments_info}

    annotations = list(_run(one, images, workers, progress, "2ch -> panoptic"))
    out = dict(data)  # panopticapi: the images JSON, plus annotations and categories
    out["annotations"] = annotations
    out["categories"] = categories.to_list()
    _write_json(output_json_file, out)
    return out


# ---------------------------------------------------------------------------------------------
# panoptic -> detection
# ---------------------------------------------------------------------------------------------
def panoptic_to_detection(panoptic_json_file, segmentations_folder, output_json_file,
                          categories_json_file=None, things_only: bool = True,
                          workers: Optional[int] = None, progress: bool = False,
                          annotation_ids: str = "sequential") -> dict:
    """Converts COCO panoptic (JSON + PNGs) to COCO detection format with RLE masks.

    One detection annotation per segment (per thing segment with ``things_only``), in the
    order of ``annotations`` and ``segments_info``: ``id``, ``image_id``, ``category_id``,
    ``segmentation`` (compressed RLE, ``counts`` a str, ``size`` ``[height, width]``),
    ``area`` and ``bbox`` (``[x, y, w, h]``, ints) from pycocotools, ``iscrowd`` from
    ``segments_info`` (default 0), and ``segment_id``: the panoptic segment id, which
    :func:`detection_to_panoptic` uses to give the same ids back. Other keys of a segment
    (e.g. ``score``) are carried over.

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
    categories, _ = _categories(categories_json_file, data, panoptic_json_file)
    folder = _input_folder(segmentations_folder, panoptic_json_file)
    annotations = data["annotations"]
    images = data.get("images")
    image_by_id = _image_index(images, panoptic_json_file) if images is not None else None
    _check_unique_image_ids(annotations, panoptic_json_file)
    if image_by_id is not None:
        for ann in annotations:
            if ann["image_id"] not in image_by_id:
                raise PanopticFormatError("annotation's image_id is not in 'images'",
                                          file=panoptic_json_file, image_id=ann["image_id"],
                                          file_name=ann["file_name"])

    def one(ann):
        image_id = ann["image_id"]
        image = None if image_by_id is None else image_by_id[image_id]
        ids, table = _read_panoptic(ann, folder, categories, panoptic_json_file, image)
        h, w = ids.shape
        keep = np.flatnonzero(categories.isthing[table.category]) if things_only \
            else np.arange(len(table))
        rles = _encode(ids, table.ids[keep])
        areas = mask_utils.area(rles) if rles else []
        boxes = mask_utils.toBbox(rles) if rles else []
        detections = []
        for j, k in enumerate(keep.tolist()):
            seg = ann["segments_info"][k]
            det = {"id": None, "image_id": image_id, "category_id": seg["category_id"],
                   "segmentation": {"size": [h, w], "counts": rles[j]["counts"].decode("ascii")},
                   "area": int(areas[j]), "bbox": [int(v) for v in boxes[j]],
                   "iscrowd": int(seg.get("iscrowd", 0))}
            det.update((key, v) for key, v in seg.items() if key not in _OWN_KEYS)
            det["segment_id"] = int(seg["id"])
            detections.append(det)
        made_image = None
        if image_by_id is None:
            made_image = {"id": image_id, "file_name": ann["file_name"], "height": h, "width": w}
        return detections, made_image

    detections, made_images = [], []
    for dets, image in _run(one, annotations, workers, progress, "panoptic -> detection"):
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
    _write_json(output_json_file, out)
    return out


# ---------------------------------------------------------------------------------------------
# detection -> panoptic
# ---------------------------------------------------------------------------------------------
def detection_to_panoptic(detection_json_file, output_json_file, segmentations_folder=None,
                          categories_json_file=None, workers: Optional[int] = None,
                          progress: bool = False) -> dict:
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
    segments of that image get colour ids as in :func:`two_channel_to_panoptic`: the
    category colour, then a jitter seeded by the image id, in annotation order. Either way the
    result depends on the input only.

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
    images = _image_list(data, detection_json_file, need_size=True)
    image_by_id = _image_index(images, detection_json_file)
    categories, cat_source = _categories(categories_json_file, data, detection_json_file)
    colors = {int(e["id"]): _category_color(e, cat_source) for e in categories.entries}
    annotations = data.get("annotations", [])  # an images-only file gives all-void PNGs
    if not isinstance(annotations, list):
        raise PanopticFormatError("'annotations' is not a list", file=detection_json_file)
    by_image = {image_id: [] for image_id in image_by_id}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            raise PanopticFormatError(f"annotations[{k}] is not an object",
                                      file=detection_json_file)
        image_id = ann.get("image_id")
        if not _hashable(image_id) or image_id not in by_image:
            raise PanopticFormatError(f"annotation {ann.get('id')!r}: image_id {image_id!r} is "
                                      "not in 'images'", file=detection_json_file)
        by_image[image_id].append(ann)
    seg_folder = _output_folder(segmentations_folder, output_json_file)
    os.makedirs(seg_folder, exist_ok=True)

    def one(image) -> dict:
        image_id, (h, w) = image["id"], (image["height"], image["width"])
        png_name = _png_name(image["file_name"])
        anns = by_image[image_id]

        def fail(ann, problem):
            raise PanopticFormatError(f"annotation {ann.get('id')!r}: {problem}",
                                      file=detection_json_file, image_id=image_id,
                                      file_name=image["file_name"])

        owner = np.full((h, w), -1, np.int32)  # which annotation painted each pixel
        for n, ann in enumerate(anns):
            if not is_int(ann.get("category_id")) or ann["category_id"] not in colors:
                fail(ann, f"unknown category_id {ann.get('category_id')!r}")
            if ann.get("iscrowd", 0) not in (0, 1) or isinstance(ann.get("iscrowd"), bool):
                fail(ann, f"iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}")
            try:
                mask = _decode_segmentation(ann.get("segmentation"), h, w).view(bool)
            except ValueError as e:
                mask, problem = None, str(e)
            if mask is None:  # raised outside the handler: no chained traceback
                fail(ann, problem)
            taken = owner[mask]
            if taken.size == 0:
                fail(ann, "mask is empty")
            clash = taken[taken >= 0]
            if clash.size:
                other = anns[int(clash[0])].get("id")
                fail(ann, f"overlaps annotation {other!r} ({clash.size} pixels); panoptic "
                          "segments must not overlap")
            owner[mask] = n
        wanted = [ann.get("segment_id", ann.get("id")) for ann in anns]
        if all(is_int(i) and 1 <= i <= MAX_SEGMENT_ID for i in wanted) \
                and len(set(wanted)) == len(wanted):
            seg_ids = [int(i) for i in wanted]
        else:
            gen = _IdGenerator(image_id)
            seg_ids = [gen.new_id(colors[ann["category_id"]]) for ann in anns]
        ids = np.array([0] + seg_ids, np.uint32)[owner + 1]
        stats = _segment_stats(ids)
        segments_info = []
        for ann, seg_id in zip(anns, seg_ids):
            area, bbox = stats[seg_id]
            seg = {"id": seg_id, "category_id": ann["category_id"],
                   "iscrowd": int(ann.get("iscrowd", 0)), "bbox": bbox, "area": area}
            seg.update((key, v) for key, v in ann.items() if key not in _OWN_KEYS)
            segments_info.append(seg)
        _write_png(os.path.join(seg_folder, png_name), ids)
        return {"image_id": image_id, "file_name": png_name, "segments_info": segments_info}

    panoptic = list(_run(one, images, workers, progress, "detection -> panoptic"))
    out = dict(data)
    out["annotations"] = panoptic
    out["categories"] = categories.to_list()
    _write_json(output_json_file, out)
    return out


# ---------------------------------------------------------------------------------------------
# panoptic -> semantic
# ---------------------------------------------------------------------------------------------
def panoptic_to_semantic(panoptic_json_file, segmentations_folder, output_folder,
                         categories_json_file=None, things_other: bool = False,
                         workers: Optional[int] = None, progress: bool = False) -> int:
    """Converts COCO panoptic (JSON + PNGs) to semantic segmentation PNGs.

    One single-channel 8-bit PNG (mode L) per annotation, named like the panoptic PNG, where
    each pixel holds (panopticapi's PNG convention):

    * the ``category_id`` of its segment, stuff and things alike (crowd regions too);
    * with ``things_other``, :data:`OTHER_CLASS_ID` (183, COCO-Stuff's "other") for every
      thing pixel instead, stuff keeping its category id;
    * 0 for VOID (id 0 in the panoptic PNG).

    Parameters
    ----------
    panoptic_json_file : path
        COCO panoptic JSON.
    segmentations_folder : path or None
        Its PNGs; None: X if the JSON is X.json.
    output_folder : path
        Where the semantic PNGs go (created; must not be the panoptic folder).
    categories_json_file : path, optional
        Panoptic categories; default: the panoptic JSON's, else COCO's 133.
    things_other : bool
        Map all things to :data:`OTHER_CLASS_ID`.
    workers : int, optional
        Threads; default: all available cores.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    int
        The number of PNGs written.

    Raises
    ------
    PanopticFormatError
        As :func:`panoptic_to_detection`, and for a label that does not fit 1..255 (or a stuff
        category 183 with ``things_other``).
    """
    panoptic_json_file = os.fspath(panoptic_json_file)
    data = load_panoptic_json(panoptic_json_file)
    categories, _ = _categories(categories_json_file, data, panoptic_json_file)
    folder = _input_folder(segmentations_folder, panoptic_json_file)
    output_folder = os.fspath(output_folder)
    _check_not_same(folder, output_folder)
    os.makedirs(output_folder, exist_ok=True)
    annotations = data["annotations"]
    _check_unique_image_ids(annotations, panoptic_json_file)
    image_by_id = {}
    if isinstance(data.get("images"), list):
        image_by_id = {img.get("id"): img for img in data["images"] if isinstance(img, Mapping)}

    # Label of each dense category index; -1: cannot be written (checked per segment below,
    # so that categories nobody uses do not matter).
    labels = categories.ids.copy()
    if things_other:
        labels[categories.isthing] = OTHER_CLASS_ID
    labels[(labels < 1) | (labels > 255)] = -1
    if things_other:
        labels[~categories.isthing & (categories.ids == OTHER_CLASS_ID)] = -1

    def one(ann) -> None:
        image_id = ann["image_id"]
        ids, table = _read_panoptic(ann, folder, categories, panoptic_json_file,
                                    image_by_id.get(image_id))
        seg_labels = labels[table.category]
        if (seg_labels < 0).any():
            k = int(np.flatnonzero(seg_labels < 0)[0])
            cat = int(categories.ids[table.category[k]])
            if things_other and cat == OTHER_CLASS_ID:
                why = f"stuff category {cat} collides with the 'other' label"
            else:
                why = f"category_id {cat} does not fit an 8-bit label (1..255)"
            raise PanopticFormatError(why, file=panoptic_json_file, image_id=image_id,
                                      file_name=ann["file_name"], segment_id=int(table.ids[k]))
        semantic = np.zeros(ids.shape, np.uint8)
        if len(table):
            order = np.argsort(table.ids)
            sorted_ids = table.ids[order]
            pos = np.minimum(np.searchsorted(sorted_ids, ids), len(order) - 1)
            # _read_panoptic checked that every non-void pixel's id is listed.
            semantic = np.where(ids == 0, 0, seg_labels[order][pos]).astype(np.uint8)
        _write_png(os.path.join(output_folder, ann["file_name"]), semantic)

    n = 0
    for _ in _run(one, annotations, workers, progress, "panoptic -> semantic"):
        n += 1
    return n


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
class _IdGenerator:
    """panopticapi's ``IdGenerator`` for one image, with a jitter seeded by the image id."""

    def __init__(self, image_id):
        self.taken = {0}  # 0 is VOID
        self.seed = zlib.crc32(str(image_id).encode("utf-8"))
        self.rng = None  # made on first use: most segments take their category colour

    def new_id(self, color) -> int:
        seg_id = rgb2id(color)
        if seg_id not in self.taken:
            self.taken.add(seg_id)
            return seg_id
        if self.rng is None:
            self.rng = np.random.default_rng(self.seed)
        base = np.asarray(color, np.int64)
        for _ in range(1000):
            jittered = np.clip(base + self.rng.integers(-_JITTER, _JITTER + 1, size=3), 0, 255)
            seg_id = rgb2id(jittered)
            if seg_id not in self.taken:
                self.taken.add(seg_id)
                return seg_id
        while True:  # the +-30 cube around the colour is full (never in practice)
            seg_id = int(self.rng.integers(1, MAX_SEGMENT_ID + 1))
            if seg_id not in self.taken:
                self.taken.add(seg_id)
                return seg_id


def _category_color(entry, source) -> tuple:
    color = entry.get("color")
    if color is None:
        # No colour: a fixed pseudo-colour (that of panoseg.synthetic), so ids stay reproducible.
        cat_id = int(entry["id"])
        return ((cat_id * 67) % 256, (cat_id * 131) % 256, (cat_id * 197) % 256)
    if not (isinstance(color, (list, tuple)) and len(color) == 3
            and all(is_int(c) and 0 <= c <= 255 for c in color)):
        raise PanopticFormatError(f"category {entry['id']}: 'color' must be 3 ints in 0..255, "
                                  f"got {color!r}", file=source)
    return tuple(int(c) for c in color)


def _segment_stats(ids: np.ndarray) -> dict:
    """``{segment id: (area, [x, y, w, h])}`` of every non-zero id of an id map (one pass in the core)."""
    ids = np.ascontiguousarray(ids, dtype=np.uint32)
    present = _core.segment_ids(ids)
    areas, boxes = _core.segment_areas_bboxes(ids, present)
    return {int(u): (int(a), [int(v) for v in b])
            for u, a, b in zip(present.tolist(), areas.tolist(), boxes.tolist())}


def _encode(ids: np.ndarray, seg_ids: np.ndarray) -> list:
    """Compressed RLEs (pycocotools) of the masks ``ids == seg_id``, a chunk of masks a call."""
    ids_t = np.ascontiguousarray(ids.T)
    rles = []
    for start in range(0, len(seg_ids), _ENCODE_CHUNK):
        chunk = seg_ids[start:start + _ENCODE_CHUNK]
        # (N, W, H) C-order transposes to the (H, W, N) Fortran-order array pycocotools wants.
        masks = (chunk[:, None, None] == ids_t[None]).view(np.uint8).T
        rles.extend(mask_utils.encode(masks))
    return rles


def _decode_segmentation(seg, h: int, w: int) -> np.ndarray:
    """HxW uint8 mask of a COCO ``segmentation``; ValueError saying what is wrong with it."""
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
        return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, h, w)))
    if not isinstance(seg, Mapping):
        raise ValueError(f"no decodable 'segmentation' (got {type(seg).__name__})")
    size = seg.get("size")
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(is_int(v) for v in size)):
        raise ValueError(f"RLE 'size' must be [height, width], got {size!r}")
    if list(size) != [h, w]:
        raise ValueError(f"RLE size {list(size)} is not the image's [{h}, {w}]")
    counts = seg.get("counts")
    if isinstance(counts, list):  # uncompressed RLE (COCO's crowd annotations)
        if not all(is_int(c) and c >= 0 for c in counts) or sum(counts) != h * w:
            raise ValueError(f"corrupt uncompressed RLE: counts must be non-negative ints "
                             f"summing to {h}*{w}")
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": [int(c) for c in counts]}, h, w)
    elif isinstance(counts, (str, bytes)):
        try:
            raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
        except UnicodeEncodeError:
            raise ValueError("corrupt RLE: 'counts' is not ASCII") from None
        _check_rle_counts(raw, h * w)
        rle = {"size": [h, w], "counts": raw}
    else:
        raise ValueError(f"RLE 'counts' must be a string or a list, got {type(counts).__name__}")
    return mask_utils.decode(rle)


def _check_rle_counts(raw: bytes, n_pixels: int) -> None:
    """Checks a compressed RLE string (pycocotools' ``rleFrString`` format), vectorized.

    Each count is a little-endian run of 5-bit groups stored as ``chr(48 + bits)``, bit 0x20 of
    a character meaning "more follow" and bit 0x10 of the last one the sign; counts from the
    fourth on are deltas to the count two before. The runs must be non-negative and cover the
    image exactly, else pycocotools would read or write past its buffers.
    """
    c = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if c.size == 0:
        raise ValueError("corrupt RLE: empty 'counts'")
    if c.min() < 0 or c.max() > 63:
        raise ValueError("corrupt RLE: 'counts' has characters outside '0'..'o'")
    ends = np.flatnonzero((c & 0x20) == 0)
    if ends.size == 0 or ends[-1] != c.size - 1:
        raise ValueError("corrupt RLE: 'counts' ends in the middle of a number")
    starts = np.r_[0, ends[:-1] + 1]
    lengths = ends - starts + 1
    if lengths.max() > 7:  # 35 bits: far beyond any image, and safe in int64
        raise ValueError("corrupt RLE: a run length is out of range")
    group = np.repeat(np.arange(starts.size), lengths)
    shift = 5 * (np.arange(c.size) - starts[group])
    values = np.add.reduceat((c & 0x1f) << shift, starts)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * lengths[negative])
    # Undo the delta coding: counts[i] += counts[i - 2] for i >= 3.
    counts = values.copy()
    counts[1::2] = np.cumsum(values[1::2])
    if counts.size > 2:
        counts[2::2] = np.cumsum(values[2::2])
    if counts.min() < 0 or int(counts.sum()) != n_pixels:
        raise ValueError(f"corrupt RLE: the runs do not cover the {n_pixels} pixels of the image")


def _read_two_channel(path, image_id, file_name):
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode not in ("LA", "RGB", "RGBA"):
                raise PanopticFormatError(
                    f"2-channel PNGs must be 8-bit LA, RGB or RGBA (channel 0: category, "
                    f"channel 1: instance), this one is {im.mode}", file=path,
                    image_id=image_id, file_name=file_name)
            arr = np.asarray(im)
    except PanopticFormatError:
        raise
    except OSError as e:
        if isinstance(e, FileNotFoundError) or not os.path.exists(path):
            problem = "no 2-channel PNG for this image"
        else:
            problem = f"cannot read 2-channel PNG ({e})"
        raise PanopticFormatError(problem, file=path, image_id=image_id,
                                  file_name=file_name) from None
    except Exception as e:  # Pillow's decoders raise assorted errors on corrupt data
        raise PanopticFormatError(f"corrupt PNG ({e})", file=path, image_id=image_id,
                                  file_name=file_name) from None
    return arr[..., 0], arr[..., 1]


def _read_panoptic(ann, folder, categories: Categories, json_file, image):
    """Id map and validated segments of one panoptic annotation; they must match exactly."""
    image_id, file_name = ann["image_id"], ann["file_name"]
    table = SegmentTable.from_segments_info(ann["segments_info"], categories, is_gt=False,
                                            file=json_file, image_id=image_id,
                                            file_name=file_name)
    path = os.path.join(folder, file_name)
    try:
        ids = read_ids(path)
    except PanopticFormatError as e:
        raise PanopticFormatError(e.problem, file=e.file, image_id=image_id,
                                  file_name=file_name) from None
    if image is not None:
        _check_shape(ids.shape, image, path, json_file, image_id, file_name)
    present = np.unique(ids)
    present = present[present != 0]
    extra = np.setdiff1d(present, table.ids)
    if extra.size:
        raise PanopticFormatError(
            f"id in the PNG but not in segments_info ({extra.size} such id(s))", file=path,
            image_id=image_id, file_name=file_name, segment_id=int(extra[0]))
    missing = np.setdiff1d(table.ids, present)
    if missing.size:
        raise PanopticFormatError(
            f"segment in segments_info has no pixels in the PNG ({missing.size} such)",
            file=json_file, image_id=image_id, file_name=file_name, segment_id=int(missing[0]))
    return ids, table


def _check_shape(shape, image, path, json_file, image_id, file_name) -> None:
    h, w = image.get("height"), image.get("width")
    if is_int(h) and is_int(w) and tuple(shape) != (h, w):
        raise PanopticFormatError(f"PNG is {shape[1]}x{shape[0]} (WxH) but 'images' in "
                                  f"{json_file} says {w}x{h}", file=path, image_id=image_id,
                                  file_name=file_name)


def _image_list(data, source, need_size: bool = False) -> list:
    images = data.get("images")
    if not isinstance(images, list):
        raise PanopticFormatError("no 'images' list", file=source)
    for k, img in enumerate(images):
        if not isinstance(img, Mapping):
            raise PanopticFormatError(f"images[{k}] is not an object", file=source)
        for key in ("id", "file_name") + (("height", "width") if need_size else ()):
            if key not in img:
                raise PanopticFormatError(f"images[{k}] has no '{key}'", file=source,
                                          image_id=img.get("id"))
        if not isinstance(img["file_name"], str):
            raise PanopticFormatError("'file_name' is not a string", file=source,
                                      image_id=img["id"])
        if need_size and not all(is_int(img[key]) and img[key] > 0 for key in ("height", "width")):
            raise PanopticFormatError("'height' and 'width' must be positive integers",
                                      file=source, image_id=img["id"], file_name=img["file_name"])
    _image_index(images, source)
    return images


def _image_index(images, source) -> dict:
    if not isinstance(images, list):
        raise PanopticFormatError("'images' is not a list", file=source)
    index = {}
    for img in images:
        if not isinstance(img, Mapping) or not _hashable(img.get("id")):
            raise PanopticFormatError("an entry of 'images' has no (int or string) 'id'",
                                      file=source)
        if img["id"] in index:
            raise PanopticFormatError("image id appears twice in 'images'", file=source,
                                      image_id=img["id"])
        index[img["id"]] = img
    return index


def _check_unique_image_ids(annotations, source) -> None:
    seen = set()
    for ann in annotations:
        if not _hashable(ann["image_id"]):
            raise PanopticFormatError(f"image_id must be an int or a string, got "
                                      f"{ann['image_id']!r}", file=source,
                                      file_name=ann["file_name"])
        if ann["image_id"] in seen:
            raise PanopticFormatError("image has more than one annotation", file=source,
                                      image_id=ann["image_id"], file_name=ann["file_name"])
        seen.add(ann["image_id"])


def _hashable(value) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _categories(categories_json_file, data, data_file):
    """The categories file's; else the input JSON's if they say ``isthing``; else COCO's.

    Returns the :class:`Categories` and the file they came from (for error messages).
    """
    if categories_json_file is not None:
        path = os.fspath(categories_json_file)
        raw = read_json(path)
        if isinstance(raw, Mapping):
            raw = raw.get("categories")
        if not isinstance(raw, list):
            raise PanopticFormatError("expected a list of categories or an object with a "
                                      "'categories' list", file=path)
        return Categories(raw, source=path), path
    own = data.get("categories") if isinstance(data, Mapping) else None
    if isinstance(own, list) and own and all(isinstance(c, Mapping) and "isthing" in c
                                            for c in own):
        return Categories(own, source=data_file), data_file
    return coco_panoptic_categories(), "coco_panoptic_categories.json"


def _png_name(file_name: str) -> str:
    # panopticapi's '{}.png'.format(name.rsplit('.')[0]) cuts "a.b.jpg" to "a.png"; splitext not.
    return os.path.splitext(file_name)[0] + ".png"


def _input_folder(folder, json_file) -> str:
    folder = default_folder(json_file) if folder is None else os.fspath(folder)
    _check_input_folder(folder, "segmentations")
    return folder


def _check_input_folder(folder, what) -> None:
    if not os.path.isdir(folder):
        raise PanopticFormatError(f"folder with {what} does not exist", file=folder)


def _output_folder(folder, json_file) -> str:
    return default_folder(json_file) if folder is None else os.fspath(folder)


def _check_not_same(input_folder, output_folder) -> None:
    # Writing into the input folder would replace the inputs with outputs of the same names.
    if os.path.realpath(input_folder) == os.path.realpath(output_folder):
        raise PanopticFormatError("the output folder is the input folder; refusing to "
                                  "overwrite the input PNGs", file=output_folder)


def _write_png(path, array: np.ndarray) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)  # file names may hold sub-folders
    if array.dtype == np.uint8:
        from PIL import Image

        with atomic_open(path, "wb") as f:
            Image.fromarray(array).save(f, format="PNG")  # 2-D uint8: mode L
    else:
        write_ids(path, array)


def _write_json(path, data) -> None:
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with atomic_open(path, "w") as f:
        json.dump(data, f)


def _run(fn, items, workers, progress: bool, what: str):
    """``ordered_map`` with a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=len(items), disable=not progress, file=sys.stderr, unit="img",
               desc=f"panoseg {what}", dynamic_ncols=True)
    try:
        for result in ordered_map(fn, items, workers):
            bar.update(1)
            yield result
    finally:
        bar.close()
