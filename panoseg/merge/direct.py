"""panopticapi's combine on files, the direct way: one core call per image, and no numpy.

:func:`combine_direct` takes the inputs :class:`~panoseg.merge.job.MergeJob` takes, in their
common, well-formed form (below); the core reads and groups the results files without a Python
object per result, and merges each image (``_core.merge_scanned_png``: its RLEs decoded, merged
and its PNG written in one call without the GIL). Neither this module nor what it imports loads
numpy: that import is about 0.1 s, more than ``tools/merge.py`` takes for 200 images, and a
command-line merge of such inputs never pays it.

Inputs outside that form are not handled here but by the full path, whose checks and messages
are the reference: :func:`combine_direct` returns None for them before writing anything, and
the caller runs :class:`~panoseg.merge.job.MergeJob` (which names what is wrong, or merges what
is merely unusual). Every test here is a sufficient condition for the full path's own checks
to pass, so a run taken here writes what the full path writes, byte for byte
(``tests/test_merge_direct.py``). Taken here when:

* the categories have ``id`` (int), ``isthing`` (0/1) and ``color`` (3 ints in 0..255), no
  id twice, distinct, non-black stuff colours;
* every image has an int or str ``id`` (no repeat), ``file_name``, int ``height`` and
  ``width`` >= 1 and at most ``max_pixels`` pixels;
* the results files are read by the core (``_core.scan_merge_results``, which takes only
  plainly well-formed JSON: see ``csrc/merge/results_scan.hpp``), and every result is an
  object with an int or str ``image_id`` of a listed image and an int ``category_id`` (a
  thing for instances, with a float ``score`` in [0, 1]);
* every mask decoded (semantic ones, and instances scoring at least ``confidence_thr``) is a
  ``{"size": [height, width], "counts": "<non-empty ASCII string>"}`` object.

An RLE the core cannot decode stops the run and hands it to the full path, which reports it.
"""
from __future__ import annotations

import array
import json
import os
import zlib

from .. import _core
from ..io.paths import default_folder, make_parents, png_name, png_output_paths
from ..util.atomic import atomic_write_bytes
from ..util.fileio import json_head_check, read_bytes, rereadable
from ..util.limits import CORE_MAX_PIXELS, CORE_MAX_SIDE, MAX_PIXELS
from ..util.parallel import ordered_map, run_both
from ..util.progress import progress_bar
from .defaults import (
    DEFAULT_CONFIDENCE_THR,
    DEFAULT_OVERLAP_THR,
    DEFAULT_STUFF_AREA_LIMIT,
)

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:
    from typing import Optional


class _NotDirect(Exception):
    """The inputs are outside what this module handles: the full path takes the run."""


def _int64(text: str) -> int:
    """A JSON integer, as both of ``read_json``'s parsers read it: orjson reads one outside
    [-2**63, 2**64) as a float, the stdlib as an int, so such a file is left to the full path."""
    value = int(text)
    if not -(1 << 63) <= value < 1 << 64:
        raise _NotDirect
    return value


def _bytes(path) -> bytes:
    """An input file's bytes, as the full path reads them."""
    if not rereadable(path):
        raise _NotDirect  # a pipe is read once, by the full path (it would find it drained)
    try:
        return read_bytes(path, head_check=json_head_check)
    except Exception:  # noqa: BLE001 - whatever it is, the full path says it properly
        raise _NotDirect from None


def _read(path):
    """A JSON file's value as ``read_json`` (orjson, else the stdlib) gives it, read by the
    stdlib: orjson's import costs more than it saves on these small files. The two agree on
    every JSON both accept (floats included) but integers beyond 64 bits, checked by
    :func:`_int64`. Anything ``read_json`` would report is left to it."""
    data = _bytes(path)
    try:
        return json.loads(data, parse_int=_int64)
    except Exception:  # noqa: BLE001 - whatever it is, the full path says it properly
        raise _NotDirect from None


def _list(path, what: str) -> list:
    """``MergeJob``'s ``_load_list``: a JSON list, or the list under ``what``."""
    data = _read(path)
    if type(data) is dict and type(data.get(what)) is list:
        data = data[what]
    if type(data) is not list:
        raise _NotDirect
    return data


def _categories(path):
    """The entries, ``{id: dense index}``, the set of thing ids and the kernel's colour and
    isthing tables (``MergeCategories``)."""
    entries = _list(path, "categories")
    index_of, things, colour, isthing, stuff_colours = {}, set(), [], [], set()
    for entry in entries:
        if type(entry) is not dict:
            raise _NotDirect
        cat_id, thing, rgb = entry.get("id"), entry.get("isthing"), entry.get("color")
        if type(cat_id) is not int or not -(1 << 63) <= cat_id < 1 << 63 or cat_id in index_of \
                or type(thing) not in (int, bool) \
                or thing not in (0, 1) or type(rgb) is not list or len(rgb) != 3 \
                or not all(type(c) is int and 0 <= c <= 255 for c in rgb):
            raise _NotDirect
        index_of[cat_id] = len(colour)
        colour.append(rgb[0] + 256 * rgb[1] + 256 * 256 * rgb[2])  # rgb2id, as segment_ids
        isthing.append(1 if thing else 0)
        if thing:
            things.add(cat_id)
        elif colour[-1] == 0 or colour[-1] in stuff_colours:
            raise _NotDirect
        else:
            stuff_colours.add(colour[-1])
    if not colour:
        raise _NotDirect
    return entries, index_of, things, array.array("I", colour), array.array("B", isthing)


def _images(path, max_pixels: int) -> dict:
    images_json = _read(path)
    if type(images_json) is not dict or type(images_json.get("images")) is not list:
        raise _NotDirect
    by_id = {}
    for img in images_json["images"]:
        if type(img) is not dict or "file_name" not in img:
            raise _NotDirect
        image_id, h, w = img.get("id"), img.get("height"), img.get("width")
        if type(image_id) not in (int, str) or image_id in by_id or type(h) is not int \
                or type(w) is not int or h < 1 or w < 1 or w * h > max_pixels \
                or h > CORE_MAX_SIDE or w > CORE_MAX_SIDE or w * h > CORE_MAX_PIXELS:
            # (the last three: beyond the compiled core; the full path names the image)
            raise _NotDirect
        by_id[image_id] = img
    return images_json


def _scan(path, with_score: bool):
    """A results file, read and scanned by the core (``_core.scan_merge_results``)."""
    try:
        scan = _core.scan_merge_results(_bytes(path), with_score)
    except MemoryError:  # (the full path then tries, and names what fails)
        raise _NotDirect from None
    if scan is None:
        raise _NotDirect
    return scan


def _results(semseg_json_file, instseg_json_file, images: list, index_of: dict,
             things: set, confidence_thr: float) -> tuple:
    """Both results files, scanned (the instances' on a second thread meanwhile) and grouped by
    image in merge order: instances scoring below ``confidence_thr`` are dropped (never
    decoded), the rest sorted by score, descending, ties in file order."""
    semantic, instances = run_both(lambda: _scan(semseg_json_file, False),
                                   lambda: _scan(instseg_json_file, True))
    image_index = {img["id"]: k for k, img in enumerate(images)}
    heights = array.array("q", [img["height"] for img in images])
    widths = array.array("q", [img["width"] for img in images])
    ids = sorted(index_of)
    category_ids = array.array("q", ids)
    dense = array.array("i", [index_of[c] for c in ids])
    if not (instances.group(image_index, heights, widths, category_ids, dense,
                            array.array("B", [c in things for c in ids]), confidence_thr)
            and semantic.group(image_index, heights, widths, category_ids, dense,
                               array.array("B", [1] * len(ids)))):
        raise _NotDirect
    return instances, semantic


def image_seed(seed: int, image_id) -> int:
    """:func:`panoseg.io.segment_ids.image_seed` of an int or str image id (the only ids here),
    without its numpy import; tested equal."""
    return (int(seed) * 0x9E3779B97F4A7C15 + zlib.crc32(repr(image_id).encode())) % (1 << 64)


def combine_direct(semseg_json_file, instseg_json_file, images_json_file, categories_json_file,
                   segmentations_folder, panoptic_json_file, confidence_thr: float,
                   overlap_thr: float, stuff_area_limit: float, *, workers=None,
                   progress: bool = False, seed: int = 0, max_pixels: int) -> Optional[dict]:
    """:func:`combine_predictions` (PNGs by panoseg's writer, no Dask) on
    inputs of the form the module docstring lists: the panoptic JSON written, as a dict. None,
    with nothing written, when the inputs are not of that form, or when an RLE cannot be decoded
    (the PNGs of the images before it may then be written): the full path then runs and says
    what is wrong."""
    try:
        params = [float(confidence_thr), float(overlap_thr), float(stuff_area_limit)]
        seed = int(seed)
    except (TypeError, ValueError):
        return None
    if not (0.0 <= params[0] <= 1.0 and 0.0 <= params[1] <= 1.0 and params[2] >= 0.0
            and 0 <= seed < 1 << 64):
        return None
    confidence_thr, overlap_thr, stuff_area_limit = params
    files = [os.fspath(f) for f in (semseg_json_file, instseg_json_file, images_json_file,
                                    categories_json_file)]
    try:
        entries, index_of, things, colour, isthing = _categories(files[3])
        images_json = _images(files[2], int(max_pixels))
        images = images_json["images"]
        instances, semantic = _results(files[0], files[1], images, index_of, things,
                                       confidence_thr)
    except _NotDirect:
        return None
    if segmentations_folder is None:
        segmentations_folder = default_folder(panoptic_json_file)
    # The full path's checks of the output names, before anything is written.
    make_parents(segmentations_folder, png_output_paths(segmentations_folder, images,
                                                        file=files[2]))
    # The core writes each PNG itself, in the call that makes it (one GIL release instead of
    # six system calls from Python), to an absolute path; what it declines or fails to write
    # comes back and is written here, which names any error. (Not normalized: "a/.." is not
    # "." where a is a link; the core declines a path with a "." or ".." component.)
    core_folder = os.fspath(segmentations_folder)
    if not os.path.isabs(core_folder):
        core_folder = os.path.join(os.getcwd(), core_folder)

    def merge(k: int) -> dict:
        image = images[k]
        image_id = image["id"]
        file_name = png_name(image["file_name"])
        try:
            png, segments = _core.merge_scanned_png(
                image["height"], image["width"], instances, semantic, k, colour, isthing,
                overlap_thr, stuff_area_limit, image_seed(seed, image_id),
                out_path=os.fsencode(os.path.join(core_folder, file_name)))
        except _core.CoreError:
            raise _NotDirect from None
        if png is not None:
            atomic_write_bytes(os.path.join(segmentations_folder, file_name), png)
        info = []
        scores = None
        for seg_id, category, source, thing, area, bbox in segments:
            entry = {"id": seg_id, "category_id": entries[category]["id"], "iscrowd": 0,
                     "isthing": int(thing), "area": area, "bbox": bbox}
            if thing:
                if scores is None:
                    scores = instances.scores(k)
                entry["score"] = scores[source]
            info.append(entry)
        ann = {"image_id": image_id, "file_name": file_name, "segments_info": info}
        # Encoded here, while the other threads are in the core: the JSON is then joined.
        return ann, json.dumps(ann)

    annotations, encoded = [], []
    try:
        with progress_bar(len(images), progress, "panoseg merge") as bar:
            for ann, text in ordered_map(merge, range(len(images)), workers):
                annotations.append(ann)
                encoded.append(text)
                bar.update(1)
    except _NotDirect:
        return None
    out = dict(images_json)
    out["annotations"] = annotations
    out["categories"] = [dict(e) for e in entries]
    # As MergeJob.write_json (json.dumps(out), ASCII), from the annotations encoded already.
    atomic_write_bytes(panoptic_json_file, _dumps(out, {"annotations": encoded}).encode("ascii"))
    return out


def _dumps(obj: dict, encoded: dict) -> str:
    """``json.dumps(obj)`` of a dict parsed from JSON (str keys), where the values of the keys
    of ``encoded`` are lists whose items were encoded already (``encoded[key]``: their texts):
    the same text, byte for byte."""
    parts = []
    for key, value in obj.items():
        text = "[" + ", ".join(encoded[key]) + "]" if key in encoded else json.dumps(value)
        parts.append(json.dumps(key) + ": " + text)
    return "{" + ", ".join(parts) + "}"


def combine_predictions(semseg_json_file, instseg_json_file, images_json_file,
                        categories_json_file, segmentations_folder, panoptic_json_file,
                        confidence_thr: float = DEFAULT_CONFIDENCE_THR,
                        overlap_thr: float = DEFAULT_OVERLAP_THR,
                        stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT, *,
                        workers: Optional[int] = None, progress: bool = False, seed: int = 0,
                        compress_level: Optional[int] = None, dask=None,
                        max_pixels: int = MAX_PIXELS) -> dict:
    """Drop-in for panopticapi's ``combine_predictions``: same inputs, same outputs.

    Parameters
    ----------
    semseg_json_file : path
        Semantic results: a list of ``{image_id, category_id, segmentation (RLE)}``.
    instseg_json_file : path
        Instance results: a list of ``{image_id, category_id, score, segmentation (RLE)}``.
    images_json_file : path
        A COCO JSON whose ``images`` lists the images to merge (id, file_name, height, width).
    categories_json_file : path
        A list of COCO panoptic categories (id, isthing, color).
    segmentations_folder : path or None
        Where the PNGs go; default: the panoptic JSON path without its extension.
    panoptic_json_file : path
        The output COCO panoptic JSON (the images JSON plus ``annotations`` and ``categories``).
    confidence_thr, overlap_thr, stuff_area_limit : float
        As panopticapi (0.5, 0.5, 64*64).
    workers, progress, seed, compress_level
        Threads (default: all cores), a progress bar on stderr, the id seed, and the PNGs'
        compression: None (default) panoseg's own PNG writer (about twice as fast as zlib's
        level 2, files about 20% larger), 0-9 zlib's level.
    dask : str, optional
        Run on a Dask cluster (``local:N`` or a scheduler address, see
        :func:`~panoseg.merge.job.merge_on_dask`); the output is byte-identical.
    max_pixels : int
        The largest image merged (default :data:`panoseg.io.png.MAX_PIXELS`), checked on the
        images JSON's sizes before anything is allocated.

    Returns
    -------
    dict
        The panoptic JSON that was written.

    Every PNG and the JSON are written atomically; ids are deterministic, so a re-run after an
    interruption writes the same files. Well-formed inputs take :func:`combine_direct` (one
    core call per image, no numpy); any other, Dask and zlib PNGs take
    :func:`~panoseg.merge.job.merge_files`: the same files either way.
    """
    if not dask and compress_level is None:
        out = combine_direct(semseg_json_file, instseg_json_file, images_json_file,
                             categories_json_file, segmentations_folder, panoptic_json_file,
                             confidence_thr, overlap_thr, stuff_area_limit, workers=workers,
                             progress=progress, seed=seed, max_pixels=max_pixels)
        if out is not None:
            return out
    from .job import merge_files

    return merge_files(semseg_json_file, instseg_json_file, images_json_file,
                       categories_json_file, segmentations_folder, panoptic_json_file,
                       confidence_thr, overlap_thr, stuff_area_limit, workers=workers,
                       progress=progress, seed=seed, compress_level=compress_level, dask=dask,
                       max_pixels=max_pixels)
