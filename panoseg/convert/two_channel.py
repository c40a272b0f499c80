"""2-channel PNGs (category, instance) -> COCO panoptic: panopticapi's
``2channels2panoptic_coco_format.py``."""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from ..errors import PanopticFormatError
from ..io.categories import is_int
from ..io.panoptic_json import load_json
from ..io.paths import png_name, segmentation_folder
from ..io.png import MAX_PIXELS, read_channels
from ..io.segment_ids import SegmentIds, category_colour_ids
from . import common

#: Instance value (channel 1) marking a crowd region of a thing in the 2-channel format.
CROWD_INSTANCE = 255


def two_channel_to_panoptic(input_folder, images_json_file, categories_json_file,
                            output_json_file, segmentations_folder=None, void_label=0,
                            crowd_instance: Optional[int] = CROWD_INSTANCE,
                            workers: Optional[int] = None, progress: bool = False, *,
                            seed: int = 0, max_pixels: int = MAX_PIXELS) -> dict:
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
    (``[x, y, width, height]`` of the pixels, ints). Segment ids: see :mod:`panoseg.convert`.

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
        Missing or unreadable PNG, a PNG that is not 8-bit LA/RGB/RGBA, a size that differs
        from ``images``, a category id that is neither known nor ``void_label``.
    """
    if void_label is not None and not (is_int(void_label) and 0 <= void_label <= 255):
        raise ValueError(f"void_label must be None or in 0..255, got {void_label!r}")
    images_json_file = os.fspath(images_json_file)
    input_folder = os.fspath(input_folder)
    data = load_json(images_json_file)
    images = common.image_list(data, images_json_file, max_pixels=max_pixels)
    categories, cat_source = common.load_categories(categories_json_file, data,
                                                    images_json_file)
    category_colour_ids(categories, cat_source)  # a bad colour fails here, before any file
    seg_folder = common.output_folder(segmentations_folder, output_json_file)
    segmentation_folder(input_folder, None, "2-channel PNGs")  # it must exist
    common.check_not_same(input_folder, seg_folder)
    out_paths = common.output_pngs(seg_folder, images, images_json_file)  # before any write

    # Per channel-0 value lookups: ids above 255 cannot occur in an 8-bit channel.
    known = np.zeros(256, bool)
    isthing = np.zeros(256, bool)
    for entry in categories.entries:
        cat_id = int(entry["id"])
        if 0 <= cat_id <= 255:
            known[cat_id] = True
            isthing[cat_id] = bool(entry["isthing"])
    if void_label is not None:
        known[int(void_label)] = False

    def one(image) -> dict:
        image_id = image["id"]
        name = png_name(image["file_name"])
        path = os.path.join(input_folder, name)
        sem, inst = _read_two_channel(path, image_id, name, max_pixels,
                                      lambda h, w: common.check_shape(
                                          (h, w), image, path, images_json_file, image_id, name))
        key = (sem.astype(np.uint16) << 8) | inst  # (category, instance) as one 16-bit value
        counts = np.bincount(key.ravel(), minlength=65536)
        present = np.flatnonzero(counts)  # ascending: by category, then instance
        cats = present >> 8
        unknown = (cats != (-1 if void_label is None else void_label)) & ~known[cats]
        if unknown.any():
            bad = int(cats[unknown][0])
            n = int(counts[present[cats == bad]].sum())
            raise PanopticFormatError(f"unknown category id {bad} in channel 0 ({n} pixels)",
                                      file=path, image_id=image_id, file_name=name)
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
        seg_ids = common.assign_ids(
            SegmentIds(categories, image_id, seed=seed, expected_segments=len(segments)),
            [cat for cat, _, _ in segments], isthing.__getitem__)
        lut = np.zeros(65536, np.uint32)
        for n, (_, _, keys) in enumerate(segments):
            lut[keys] = seg_ids[n]
        ids = lut[key]
        stats = common.segment_stats(ids)
        segments_info = []
        for n, (cat, crowd, _) in enumerate(segments):
            area, bbox = stats[seg_ids[n]]
            segments_info.append({"id": seg_ids[n], "category_id": cat, "iscrowd": crowd,
                                  "bbox": bbox, "area": area})
        common.write_png(out_paths[image_id], ids)
        return {"image_id": image_id, "file_name": name, "segments_info": segments_info}

    annotations = list(common.map_images(one, images, workers, progress, "2ch -> panoptic"))
    out = dict(data)  # panopticapi: the images JSON, plus annotations and categories
    out["annotations"] = annotations
    out["categories"] = categories.to_list()
    common.write_json(output_json_file, out)
    return out


def _read_two_channel(path, image_id, file_name, max_pixels, check_size):
    """Channels 0 (category) and 1 (instance) of a 2-channel PNG; its chunks, its size (against
    ``max_pixels`` and ``check_size(height, width)``) and its stream are checked before it is
    decoded (:func:`panoseg.io.png.read_channels`)."""
    if not os.path.exists(path):
        raise PanopticFormatError("no 2-channel PNG for this image", file=path, image_id=image_id,
                                  file_name=file_name)
    try:
        arr = read_channels(path, max_pixels, check_size, rule=(
            "2-channel PNGs must be 8-bit LA, RGB or RGBA (channel 0: category, channel 1: "
            "instance)"))
    except PanopticFormatError as e:
        if e.image_id is not None:
            raise
        raise PanopticFormatError(e.problem, file=e.file, image_id=image_id,
                                  file_name=file_name) from None
    return arr[..., 0], arr[..., 1]
