"""Loading and validating COCO panoptic JSON files and their per-image segment lists."""
from __future__ import annotations

import gc
import json
import math
from collections.abc import Mapping, Sequence  # isinstance: ~10x faster than typing's
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..util.fileio import json_head_check, read_bytes
from .categories import Categories, is_int, json_value
from .codec import MAX_SEGMENT_ID
from .paths import (  # noqa: F401  (default_folder re-exported: its old home)
    default_folder,
    encodes_as_file_name,
)
from .png import check_pixels

try:  # optional accelerator (pip install .[fast]): parses 3-5x faster, same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def read_json(path, data=None):
    """Reads any JSON value; a failure becomes a :class:`PanopticFormatError` naming the file.
    ``data``: the file's bytes, where already read (:func:`read_json_bytes`)."""
    if data is None:
        data = read_json_bytes(path)
    try:
        # The parsers make tens of thousands of dicts and lists that form no cycles: the cyclic
        # collector, run every few hundred of them, only costs time here (~25% of the parse).
        collecting = gc.isenabled()
        gc.disable()
        try:
            if _orjson is not None:
                try:
                    return _orjson.loads(data)
                except _orjson.JSONDecodeError:
                    pass  # e.g. NaN, which the stdlib accepts: let it parse or say what is wrong
            try:
                return json.loads(data)
            except RecursionError:
                return _loads_on_fresh_stack(data)
        finally:
            if collecting:
                gc.enable()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PanopticFormatError(f"malformed JSON ({e})", file=path) from None
    except ValueError as e:  # an integer beyond the stdlib's digit limit (4300)
        raise PanopticFormatError(f"malformed JSON ({e})", file=path) from None
    except RecursionError:  # the stdlib parser recurses per nesting level
        raise PanopticFormatError("malformed JSON (nested too deeply)", file=path) from None


def _loads_on_fresh_stack(data):
    """``json.loads`` on a new thread. The stdlib parser's depth limit counts the caller's
    frames too, so a document nested nearly that deep would fail with "nested too deeply" from
    a deep caller and with its real error (or none) from a shallow one; a new thread's stack
    starts at the same depth whoever calls, so every caller gets the same answer."""
    from ..util.parallel import start_thread  # (only a deep document gets here)

    ok, value = start_thread(lambda: json.loads(data), "panoseg_json")()
    if ok:
        return value
    raise value.with_traceback(None)


def read_json_bytes(path) -> bytes:
    """A JSON file's bytes (see :func:`panoseg.util.fileio.read_bytes`); a failure becomes a
    :class:`PanopticFormatError` naming the file."""
    try:
        return read_bytes(path, head_check=json_head_check)
    except OSError as e:
        raise PanopticFormatError(f"cannot read JSON: {e.strerror or e}", file=path) from None


def load_json(path, data=None) -> dict:
    """Reads a JSON file whose top level must be an object (``data``: as :func:`read_json`)."""
    data = read_json(path, data)
    if not isinstance(data, dict):
        raise PanopticFormatError("expected a JSON object at the top level", file=path)
    return data


def object_list(data: Mapping, name: str, keys, source, id_key: str = "id") -> list:
    """``data[name]``, checked to be a list of objects that all have ``keys`` (a COCO JSON's
    ``images`` or ``annotations``); errors name ``source``, the entry and its image id."""
    items = data.get(name)
    if not isinstance(items, list):
        raise PanopticFormatError(f"no '{name}' list", file=source)
    for k, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise PanopticFormatError(f"{name}[{k}] is not an object", file=source)
        for key in keys:
            if key not in item:
                raise PanopticFormatError(f"{name}[{k}] has no '{key}'", file=source,
                                          image_id=item.get(id_key))
    return items


def check_image_id(image_id, source) -> None:
    """An image id is an integer or a string (COCO's are integers): a list, an object, a float
    or null cannot key an image."""
    if not (is_int(image_id) or isinstance(image_id, str)):
        raise PanopticFormatError(f"image_id {json_value(image_id)} is not an integer or a "
                                  "string", file=source)


def image_sizes(data: Mapping, source, max_pixels: int) -> dict:
    """``{image id: (height, width)}`` from a JSON's optional ``images`` list, for the entries
    that give a size; ids and sizes are checked (positive integers, at most ``max_pixels``
    pixels), so a size never silently fails to compare."""
    images = data.get("images")
    if images is None:
        return {}
    if not isinstance(images, list):
        raise PanopticFormatError("'images' is not a list", file=source)
    sizes = {}
    for k, img in enumerate(images):
        if not isinstance(img, Mapping) or "id" not in img:
            raise PanopticFormatError(f"images[{k}] is not an object with an 'id'", file=source)
        check_image_id(img["id"], source)
        if "height" not in img and "width" not in img:
            continue
        h, w = img.get("height"), img.get("width")
        for key, v in (("height", h), ("width", w)):
            if not (is_int(v) and v > 0):
                raise PanopticFormatError(f"'{key}' in 'images' must be a positive integer, got "
                                          f"{json_value(v)}", file=source, image_id=img["id"])
        check_pixels(w, h, source, max_pixels, "'images' says", image_id=img["id"])
        sizes[img["id"]] = (h, w)
    return sizes


def load_panoptic_json(path, *, need_categories: bool = False, data=None) -> dict:
    """Reads a COCO panoptic JSON and checks its structure (not yet its segments).

    Returns the parsed dict. ``annotations`` must be a list of objects with ``image_id``,
    ``file_name`` and a ``segments_info`` list; ``categories`` is required when asked for.
    ``data``: the file's bytes, where already read.
    """
    data = load_json(path, data)
    for ann in object_list(data, "annotations", ("image_id", "file_name", "segments_info"),
                           path, id_key="image_id"):
        check_image_id(ann["image_id"], path)
        if not isinstance(ann["file_name"], str) or not ann["file_name"]:
            raise PanopticFormatError(f"'file_name' {json_value(ann['file_name'])} is not a "
                                      "file name", file=path, image_id=ann["image_id"])
        if "\0" in ann["file_name"]:
            raise PanopticFormatError("'file_name' contains a NUL byte", file=path,
                                      image_id=ann["image_id"])
        if not encodes_as_file_name(ann["file_name"]):
            raise PanopticFormatError(f"'file_name' {json_value(ann['file_name'])} cannot name "
                                      "a file on this system", file=path,
                                      image_id=ann["image_id"])
        if not isinstance(ann["segments_info"], list):
            raise PanopticFormatError("'segments_info' is not a list", file=path,
                                      image_id=ann["image_id"], file_name=ann["file_name"])
    if need_categories and not isinstance(data.get("categories"), list):
        raise PanopticFormatError("no 'categories' list", file=path)
    return data


def annotations_by_image(data: Mapping, source) -> dict:
    """``{image_id: annotation}`` of a loaded panoptic JSON, in file order; an image with two
    annotations is a :class:`PanopticFormatError` naming ``source`` and the image."""
    by_image = {}
    for ann in data["annotations"]:
        if ann["image_id"] in by_image:
            raise PanopticFormatError("image has more than one annotation", file=source,
                                      image_id=ann["image_id"])
        by_image[ann["image_id"]] = ann
    return by_image


@dataclass
class SegmentTable:
    """The segments of one image as the compiled core wants them (one array per field)."""

    ids: np.ndarray       # uint32
    category: np.ndarray  # int32, dense category index
    iscrowd: np.ndarray   # uint8
    area: np.ndarray      # float64, from the JSON (GT) or NaN (predictions: counted from the PNG)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_segments_info(cls, segments: Sequence[Mapping], categories: Categories, *,
                           is_gt: bool, file=None, image_id=None, file_name=None) -> "SegmentTable":
        """Validates ``segments_info`` and converts it.

        Raises :class:`PanopticFormatError` for a segment without a valid id (1..2^24-1),
        duplicate ids, an unknown ``category_id``, an ``iscrowd`` other than 0/1 and, for ground
        truth, a missing or non-positive ``area``.
        """
        fast = cls._from_valid_segments(segments, categories, is_gt)
        if fast is not None:
            return fast
        # Something is wrong: walk the segments one by one to say exactly what and where.
        n = len(segments)
        ids = np.empty(n, np.uint32)
        category = np.empty(n, np.int32)
        iscrowd = np.zeros(n, np.uint8)
        area = np.full(n, np.nan)
        seen = set()
        index_of = categories.index_of

        def fail(problem, segment_id=None):
            raise PanopticFormatError(problem, file=file, image_id=image_id,
                                      file_name=file_name, segment_id=segment_id)

        for k, seg in enumerate(segments):
            if not isinstance(seg, Mapping):
                fail(f"segments_info[{k}] is not an object")
            seg_id = seg.get("id")
            if not is_int(seg_id):
                fail(f"segments_info[{k}] has no integer 'id' (got {json_value(seg_id)})")
            if not 1 <= seg_id <= MAX_SEGMENT_ID:
                fail(f"id must lie in 1..{MAX_SEGMENT_ID} (0 is VOID)", seg_id)
            if seg_id in seen:
                fail("duplicate segment id in segments_info", seg_id)
            seen.add(seg_id)
            cat_id = seg.get("category_id")
            cat_index = index_of.get(cat_id) if is_int(cat_id) else None
            if cat_index is None:
                fail(f"unknown category_id {json_value(cat_id)}", seg_id)
            crowd = seg.get("iscrowd", 0)
            if crowd not in (0, 1):
                fail(f"iscrowd must be 0 or 1, got {crowd!r}", seg_id)
            if is_gt:
                a = seg.get("area")
                if isinstance(a, bool) or not isinstance(a, (int, float, np.number)) \
                        or (isinstance(a, int) and a >= 2 ** 62) or not math.isfinite(a) \
                        or a <= 0:
                    fail(f"GT 'area' must be a positive number, got {json_value(a)}", seg_id)
                area[k] = a
            ids[k] = seg_id
            category[k] = cat_index
            iscrowd[k] = crowd
        return cls(ids, category, iscrowd, area)

    @classmethod
    def for_annotations(cls, annotations: Sequence[Mapping], categories: Categories, *,
                        is_gt: bool) -> list:
        """The tables of many annotations' ``segments_info`` at once (one core call; slices
        of shared arrays): a SegmentTable per annotation, or None where something looks wrong
        (:meth:`from_segments_info` then says what)."""
        bounds, valid, ids, category, iscrowd, area = _core.segment_tables(
            list(annotations), categories.index_of, is_gt)
        bounds = bounds.tolist()
        return [cls(ids[a:b], category[a:b], iscrowd[a:b], area[a:b]) if ok else None
                for a, b, ok in zip(bounds, bounds[1:], valid)]

    @classmethod
    def _from_valid_segments(cls, segments, categories: Categories, is_gt: bool):
        """The common case, in the core's C loop (runs once per image on every worker thread
        while holding the GIL); None as soon as anything looks wrong (the slow path above then
        gives the message)."""
        if not isinstance(segments, list):
            segments = list(segments)
        arrays = _core.segment_table_arrays(segments, categories.index_of, is_gt)
        return None if arrays is None else cls(*arrays)
