"""What the converters share: reading and checking their inputs, writing their outputs, the
per-image loop with its progress bar, and segment statistics.

Every check raises :class:`~panoseg.errors.PanopticFormatError` naming the file, the image and
the segment; outputs are written atomically and their folders created.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Callable, Iterator, List, Optional, Sequence

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import Categories, as_categories, is_int
from ..io.panoptic_json import SegmentTable, check_image_id, object_list, read_json
from ..io.paths import (
    default_folder,
    output_paths,
    png_output_paths,
    segmentation_folder,
)
from ..io.png import MAX_PIXELS, check_pixels, read_ids, write_ids
from ..io.segment_ids import SegmentIds
from ..util.atomic import atomic_open
from ..util.parallel import ordered_map
from ..util.progress import progress_bar

# Segment keys the converters compute or move; any other key (e.g. "score") is carried over.
OWN_KEYS = frozenset({"id", "segment_id", "image_id", "category_id", "iscrowd", "area",
                      "bbox", "segmentation"})


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------
def load_categories(categories_json_file, data, data_file):
    """The categories file's; else the input JSON's if they say ``isthing``; else COCO's.

    Returns
    -------
    (Categories, str)
        The categories and the file they came from (for error messages).
    """
    if categories_json_file is not None:
        path = os.fspath(categories_json_file)
        raw = read_json(path)
        if isinstance(raw, Mapping):
            raw = raw.get("categories")
        if not isinstance(raw, list):
            raise PanopticFormatError("expected a list of categories or an object with a "
                                      "'categories' list", file=path)
        return as_categories(raw, source=path), path
    own = data.get("categories") if isinstance(data, Mapping) else None
    if isinstance(own, list) and own and all(isinstance(c, Mapping) and "isthing" in c
                                            for c in own):
        return as_categories(own, source=data_file), data_file
    return as_categories(None, default_coco=True), "coco_panoptic_categories.json"


def image_list(data, source, need_size: bool = False, max_pixels: int = MAX_PIXELS) -> list:
    """The checked ``images`` list of a JSON (``id`` and ``file_name``; sizes if asked). Sizes
    given are checked against ``max_pixels`` here, before anything is allocated."""
    keys = ("id", "file_name") + (("height", "width") if need_size else ())
    images = object_list(data, "images", keys, source)
    for img in images:
        check_image_id(img["id"], source)
        if not isinstance(img["file_name"], str):
            raise PanopticFormatError("'file_name' is not a string", file=source,
                                      image_id=img["id"])
        if need_size and not all(is_int(img[key]) and img[key] > 0 for key in ("height", "width")):
            raise PanopticFormatError("'height' and 'width' must be positive integers",
                                      file=source, image_id=img["id"], file_name=img["file_name"])
        h, w = img.get("height"), img.get("width")
        if is_int(h) and is_int(w):
            check_pixels(w, h, source, max_pixels, "'images' says", image_id=img["id"],
                         file_name=img["file_name"])
    image_index(images, source)
    return images


def image_index(images, source) -> dict:
    """``{image id: images entry}``; ids must be ints or strings and unique."""
    if not isinstance(images, list):
        raise PanopticFormatError("'images' is not a list", file=source)
    index = {}
    for img in images:
        if not isinstance(img, Mapping) or not hashable_id(img.get("id")):
            raise PanopticFormatError("an entry of 'images' has no (int or string) 'id'",
                                      file=source)
        if img["id"] in index:
            raise PanopticFormatError("image id appears twice in 'images'", file=source,
                                      image_id=img["id"])
        index[img["id"]] = img
    return index


def check_unique_image_ids(annotations, source) -> None:
    """One annotation per image, with an int or string ``image_id``."""
    seen = set()
    for ann in annotations:
        if not hashable_id(ann["image_id"]):
            raise PanopticFormatError(f"image_id must be an int or a string, got "
                                      f"{ann['image_id']!r}", file=source,
                                      file_name=ann["file_name"])
        if ann["image_id"] in seen:
            raise PanopticFormatError("image has more than one annotation", file=source,
                                      image_id=ann["image_id"], file_name=ann["file_name"])
        seen.add(ann["image_id"])


def hashable_id(value) -> bool:
    """An image id as JSON gives them: an int (not a bool) or a string."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def read_panoptic(ann, folder, categories: Categories, json_file, image,
                  max_pixels: int = MAX_PIXELS):
    """Id map and validated segments of one panoptic annotation; they must match exactly. The
    PNG's size is checked (against ``max_pixels`` and ``image``'s) before it is decoded."""
    image_id, file_name = ann["image_id"], ann["file_name"]
    table = SegmentTable.from_segments_info(ann["segments_info"], categories, is_gt=False,
                                            file=json_file, image_id=image_id,
                                            file_name=file_name)
    path = os.path.join(folder, file_name)

    def check_size(height, width):
        if image is not None:
            check_shape((height, width), image, path, json_file, image_id, file_name)

    try:
        ids = read_ids(path, max_pixels, check_size)
    except PanopticFormatError as e:
        if e.image_id is not None:
            raise
        raise PanopticFormatError(e.problem, file=e.file, image_id=image_id,
                                  file_name=file_name) from None
    present = _core.segment_ids(np.ascontiguousarray(ids, dtype=np.uint32))  # sorted, no 0
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


def check_shape(shape, image, path, json_file, image_id, file_name) -> None:
    """A PNG must have the size its ``images`` entry gives (when it gives one)."""
    h, w = image.get("height"), image.get("width")
    if is_int(h) and is_int(w) and tuple(shape) != (h, w):
        raise PanopticFormatError(f"PNG is {shape[1]}x{shape[0]} (WxH) but 'images' in "
                                  f"{json_file} says {w}x{h}", file=path, image_id=image_id,
                                  file_name=file_name)


def input_folder(folder, json_file) -> str:
    """The PNG folder of a JSON (default: :func:`~panoseg.io.paths.default_folder`); it must
    exist."""
    return segmentation_folder(folder, json_file)


def output_folder(folder, json_file) -> str:
    """Where output PNGs go: ``folder``, else the output JSON's default folder."""
    return default_folder(json_file) if folder is None else os.fspath(folder)


def output_pngs(folder, images, json_file) -> dict:
    """``{image id: output PNG path}`` for ``images`` (a checked ``images`` list), every path
    checked before anything is written: inside ``folder`` (sub-folders allowed, created when
    written), and no two images writing the same PNG
    (:func:`~panoseg.io.paths.png_output_paths`). The folder itself is created."""
    paths = png_output_paths(folder, images, file=json_file)
    os.makedirs(folder, exist_ok=True)
    return {img["id"]: path for img, path in zip(images, paths)}


def output_files(folder, annotations, json_file) -> dict:
    """``{image id: output path}`` named by each annotation's ``file_name`` as it is (an
    output beside its input's name), checked like :func:`output_pngs`."""
    paths = output_paths(folder, ((a["image_id"], a["file_name"], a["file_name"])
                                  for a in annotations), file=json_file)
    os.makedirs(folder, exist_ok=True)
    return {a["image_id"]: path for a, path in zip(annotations, paths)}


def check_not_same(in_folder, out_folder) -> None:
    # Writing into the input folder would replace the inputs with outputs of the same names.
    if os.path.realpath(in_folder) == os.path.realpath(out_folder):
        raise PanopticFormatError("the output folder is the input folder; refusing to "
                                  "overwrite the input PNGs", file=out_folder)


# ---------------------------------------------------------------------------------------------
# per image
# ---------------------------------------------------------------------------------------------
def map_images(fn: Callable, items: Sequence, workers: Optional[int], progress: bool,
               what: str) -> Iterator:
    """``fn`` of every item on ``workers`` threads, in input order, with a progress bar."""
    with progress_bar(len(items), progress, f"panoseg {what}") as bar:
        for result in ordered_map(fn, items, workers):
            bar.update(1)
            yield result


def segment_stats(ids: np.ndarray) -> dict:
    """``{segment id: (area, [x, y, w, h])}`` of every non-zero id of an id map (one pass in
    the core)."""
    ids = np.ascontiguousarray(ids, dtype=np.uint32)
    present = _core.segment_ids(ids)
    areas, boxes = _core.segment_areas_bboxes(ids, present)
    return {int(u): (int(a), [int(v) for v in b])
            for u, a, b in zip(present.tolist(), areas.tolist(), boxes.tolist())}


def positions(ids: np.ndarray, seg_ids: np.ndarray, fill: int = -1) -> np.ndarray:
    """Per pixel, the position of its id in ``seg_ids`` (int32), ``fill`` where it is not
    listed (VOID included)."""
    seg_ids = np.asarray(seg_ids, np.int64)
    out = np.full(ids.shape, fill, np.int32)
    if len(seg_ids):
        order = np.argsort(seg_ids, kind="stable")
        sorted_ids = seg_ids[order]
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(order) - 1)
        hit = (sorted_ids[pos] == ids) & (ids != 0)
        out[hit] = order[pos[hit]]
    return out


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------
def write_png(path, array: np.ndarray) -> None:
    """A uint8 label map as an 8-bit grey PNG, anything else as a panoptic RGB PNG; atomic."""
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)  # file names may hold sub-folders
    if array.dtype == np.uint8:
        from PIL import Image

        with atomic_open(path, "wb") as f:
            Image.fromarray(array).save(f, format="PNG")  # 2-D uint8: mode L
    else:
        write_ids(path, array)


def write_json(path, data) -> None:
    """Writes ``data`` as JSON, atomically, creating the folder."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with atomic_open(path, "w") as f:
        json.dump(data, f)


# ---------------------------------------------------------------------------------------------
# segment ids
# ---------------------------------------------------------------------------------------------
def assign_ids(id_source: SegmentIds, category_ids: Sequence[int],
               isthing: Callable[[int], bool]) -> List[int]:
    """Ids of an image's segments (given by category, in listing order) from
    :class:`~panoseg.io.segment_ids.SegmentIds`, asked for as the merge asks: the things first,
    then the stuff; so an image's segments get the ids :func:`panoseg.merge.merge_panoptic`
    gives them when its things come in the same order."""
    seg_ids = [0] * len(category_ids)
    for things in (True, False):
        for n, cat in enumerate(category_ids):
            if bool(isthing(cat)) == things:
                seg_ids[n] = id_source.new_id(cat)
    return seg_ids
