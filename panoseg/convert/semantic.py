"""COCO panoptic -> semantic segmentation PNGs: panopticapi's
``panoptic2semantic_segmentation.py`` (its PNG mode)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

import numpy as np

from ..errors import PanopticFormatError
from ..io.panoptic_json import load_panoptic_json
from ..io.png import MAX_PIXELS
from . import common

#: Semantic label of every thing pixel in ``things_other`` mode (panopticapi's, COCO-Stuff's
#: "other" class).
OTHER_CLASS_ID = 183


def panoptic_to_semantic(panoptic_json_file, segmentations_folder, output_folder,
                         categories_json_file=None, things_other: bool = False,
                         workers: Optional[int] = None, progress: bool = False, *,
                         max_pixels: int = MAX_PIXELS) -> int:
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
    max_pixels : int
        The largest image accepted (default :data:`panoseg.io.png.MAX_PIXELS`), checked from
        the JSON's sizes and each PNG's header before anything is allocated or decoded.

    Returns
    -------
    int
        The number of PNGs written.

    Raises
    ------
    PanopticFormatError
        As :func:`~panoseg.convert.panoptic_to_detection`, and for a label that does not fit
        1..255 (or a stuff category 183 with ``things_other``).
    """
    panoptic_json_file = os.fspath(panoptic_json_file)
    data = load_panoptic_json(panoptic_json_file)
    categories, _ = common.load_categories(categories_json_file, data, panoptic_json_file)
    folder = common.input_folder(segmentations_folder, panoptic_json_file)
    output_folder = os.fspath(output_folder)
    common.check_not_same(folder, output_folder)
    annotations = data["annotations"]
    common.check_unique_image_ids(annotations, panoptic_json_file)
    out_paths = common.output_files(output_folder, annotations, panoptic_json_file)
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
        ids, table = common.read_panoptic(ann, folder, categories, panoptic_json_file,
                                          image_by_id.get(image_id), max_pixels)
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
        # read_panoptic checked that every non-void pixel's id is listed; VOID's position -1
        # picks the 0 appended to the labels.
        semantic = np.append(seg_labels, 0).astype(np.uint8)[common.positions(ids, table.ids)]
        common.write_png(out_paths[image_id], semantic)

    n = 0
    for _ in common.map_images(one, annotations, workers, progress, "panoptic -> semantic"):
        n += 1
    return n
