"""Semantic training labels made from COCO panoptic annotations, on the fly, by the core.

A semantic model trained on COCO panoptic stuff predicts one class per stuff category plus one
"thing" class (see :func:`panoseg.label_maps.coco_stuff_classes`). Its labels come straight from
the panoptic PNGs: every pixel gets the class of its segment's category, VOID pixels the ignore
label. The per-pixel work (one hash lookup per run of equal ids) is done in C++.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import Categories
from ..io.png import MAX_PIXELS, read_ids

#: Label of VOID pixels (and of categories the model has no class for): ignored by the loss.
IGNORE_LABEL = 255


def class_of_category(categories: Categories, class_category_ids: Sequence[int]) -> dict:
    """Maps each panoptic category id to a model class index.

    Parameters
    ----------
    categories : Categories
        The dataset's panoptic categories.
    class_category_ids : sequence of int
        The category id each model class stands for; 0 marks the class of all things.

    Returns
    -------
    dict
        category id -> class index; categories without a class (a thing when no class has id 0,
        or a stuff category the model does not know) are absent: their pixels are ignored.
    """
    class_ids = [int(c) for c in class_category_ids]
    if len(class_ids) > IGNORE_LABEL:
        raise ValueError(f"at most {IGNORE_LABEL} classes fit 8-bit labels, got {len(class_ids)}")
    index = {c: k for k, c in enumerate(class_ids) if c != 0}
    thing_class = class_ids.index(0) if 0 in class_ids else None
    table = {}
    for cat_id, isthing in zip(categories.ids.tolist(), categories.isthing.tolist()):
        if cat_id in index:
            table[cat_id] = index[cat_id]
        elif isthing and thing_class is not None:
            table[cat_id] = thing_class
    return table


def panoptic_to_labels(id_map: np.ndarray, segments_info: Sequence[Mapping],
                       classes: Mapping[int, int], *, ignore_label: int = IGNORE_LABEL,
                       file=None, image_id=None, file_name=None) -> np.ndarray:
    """One image's panoptic id map and segments -> its HxW uint8 label map.

    Parameters
    ----------
    id_map : (H, W) uint32 array
        Segment id per pixel (0 = VOID), e.g. from :func:`panoseg.png.read_ids`.
    segments_info : list of dict
        The annotation's segments (``id``, ``category_id``).
    classes : dict
        category id -> class index, from :func:`class_of_category`.
    ignore_label : int
        Label of VOID pixels and of segments whose category has no class.
    file, image_id, file_name
        Where the annotation comes from, for error messages.

    Raises
    ------
    PanopticFormatError
        A segment without a valid id or category, or a pixel whose id no segment lists.
    """
    where = dict(file=file, image_id=image_id, file_name=file_name)
    seg_ids = np.empty(len(segments_info), np.uint32)
    seg_labels = np.empty(len(segments_info), np.uint8)
    for k, seg in enumerate(segments_info):
        try:
            seg_id, cat = int(seg["id"]), int(seg["category_id"])
        except (KeyError, TypeError, ValueError):
            raise PanopticFormatError(f"segments_info[{k}] needs integer 'id' and 'category_id'",
                                      **where) from None
        if not 0 < seg_id < 1 << 24:
            raise PanopticFormatError(f"segment id {seg_id} is not a 24-bit nonzero id", **where)
        seg_ids[k] = seg_id
        seg_labels[k] = classes.get(cat, ignore_label)
    ids = np.ascontiguousarray(id_map, dtype=np.uint32)
    try:
        return _core.segment_labels(ids, seg_ids, seg_labels, int(ignore_label))
    except ValueError as e:
        row = getattr(e, "index", -1)
        segment = int(seg_ids[row]) if row is not None and row >= 0 else None
        raise PanopticFormatError(str(e), segment_id=segment, **where) from None


def read_panoptic_labels(segmentations_folder, annotation: Mapping, classes: Mapping[int, int],
                         *, ignore_label: int = IGNORE_LABEL,
                         json_file=None, height: Optional[int] = None,
                         width: Optional[int] = None,
                         max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Reads an annotation's panoptic PNG and returns its label map (see :func:`panoptic_to_labels`).

    ``height`` / ``width``, when given (from the images list), must match the PNG; they and
    ``max_pixels`` are checked from the PNG's header, before it is decoded.
    """
    file_name = annotation.get("file_name")
    image_id = annotation.get("image_id")
    path = os.path.join(os.fspath(segmentations_folder), str(file_name))

    def check_size(png_height, png_width):
        if height is not None and width is not None and (png_height, png_width) != (height, width):
            raise PanopticFormatError(
                f"PNG is {png_width}x{png_height} but the image is {width}x{height}",
                file=json_file, image_id=image_id, file_name=file_name)

    try:
        ids = read_ids(path, max_pixels, check_size)
    except OSError as e:
        raise PanopticFormatError(f"cannot read {path}: {e.strerror or e}", file=json_file,
                                  image_id=image_id, file_name=file_name) from None
    return panoptic_to_labels(ids, annotation.get("segments_info", []), classes,
                              ignore_label=ignore_label, file=json_file, image_id=image_id,
                              file_name=file_name)
