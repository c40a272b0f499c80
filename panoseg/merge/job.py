"""File side of the panoptic merge: panopticapi's combine inputs -> COCO panoptic JSON + PNGs."""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import PanopticFormatError
from ..io.categories import is_int, json_value
from ..io.panoptic_json import check_image_id, load_json, read_json
from ..io.paths import default_folder, make_parents, png_name, png_output_paths
from ..io.png import (
    MAX_PIXELS,
    check_pixels,
    png_from_scanlines,
)
from ..io.rle import rle_intervals
from ..util.atomic import atomic_write_bytes
from ..util.cluster import (
    chunk_bounds,
    dask_client,
    gather_in_order,
    require_workers,
    worker_threads,
)
from ..util.parallel import ordered_map, thread_buffer
from ..util.progress import progress_bar
from .heuristic import (
    DEFAULT_CONFIDENCE_THR,
    DEFAULT_OVERLAP_THR,
    DEFAULT_STUFF_AREA_LIMIT,
    MergeCategories,
    MergeParams,
    PanopticResult,
    merge_intervals,
)


@dataclass
class PreparedImage:
    """One image's predictions, decoded to interval masks once (reused across thresholds)."""

    image: dict
    inst_offsets: np.ndarray
    inst_intervals: np.ndarray
    inst_category: np.ndarray
    inst_scores: np.ndarray
    stuff_offsets: np.ndarray
    stuff_intervals: np.ndarray
    stuff_category: np.ndarray


def _load_list(path, what: str) -> list:
    """A JSON list, or the list under ``what`` in a JSON object (both forms are in use)."""
    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get(what), list):
        data = data[what]
    if not isinstance(data, list):
        raise PanopticFormatError(f"expected a JSON list of {what}", file=path)
    return data


class MergeJob:
    """The validated inputs of a merge, grouped by image."""

    #: The largest image merged (pixels); checked on the images JSON before any allocation.
    max_pixels = MAX_PIXELS
    #: image id -> the positions in their file (``results[k]``) of ``instances[image id]`` /
    #: ``semantic[image id]``, for errors; None: not known (a job made another way).
    instance_positions = None
    semantic_positions = None

    def __init__(self, images, categories: MergeCategories, instances, semantic, params: MergeParams,
                 files: dict):
        self.images = images            # list of image dicts, output order
        self.categories = categories
        self.instances = instances      # image id -> list of result dicts (input order)
        self.semantic = semantic        # image id -> list of result dicts (input order)
        self.params = params
        self.files = files
        self.images_json = None

    @classmethod
    def from_files(cls, semseg_json_file, instseg_json_file, images_json_file,
                   categories_json_file, params: MergeParams, *,
                   max_pixels: int = MAX_PIXELS) -> "MergeJob":
        files = {"semseg": os.fspath(semseg_json_file), "instseg": os.fspath(instseg_json_file),
                 "images": os.fspath(images_json_file), "categories": os.fspath(categories_json_file)}
        cat_list = _load_list(files["categories"], "categories")
        try:
            categories = MergeCategories(cat_list)
        except ValueError as e:
            raise PanopticFormatError(str(e), file=files["categories"]) from None
        images_json = load_json(files["images"])
        images = images_json.get("images")
        if not isinstance(images, list):
            raise PanopticFormatError("no 'images' list", file=files["images"])
        by_id = {}
        for k, img in enumerate(images):
            if not isinstance(img, dict) or not all(key in img for key in ("id", "file_name", "height", "width")):
                raise PanopticFormatError(f"images[{k}] needs id, file_name, height and width",
                                          file=files["images"])
            h, w = img["height"], img["width"]
            if type(h) is not int or type(w) is not int or h < 1 or w < 1:
                raise PanopticFormatError(f"height and width must be positive integers, got {w}x{h}",
                                          file=files["images"], image_id=img["id"])
            # Before any canvas or mask of that size is allocated.
            check_pixels(w, h, files["images"], max_pixels, "image is", image_id=img["id"])
            check_image_id(img["id"], files["images"])
            if img["id"] in by_id:
                raise PanopticFormatError("image listed twice", file=files["images"], image_id=img["id"])
            by_id[img["id"]] = img

        cats = categories.categories
        instances, instance_positions = defaultdict(list), defaultdict(list)
        # The common, well-formed result takes the fast path: a few exact type checks that
        # imply every check of the full path below, which any other result gets (and its
        # messages).
        things = {c for c, i in cats.index_of.items() if cats.isthing[i]}
        for k, r in enumerate(_load_list(files["instseg"], "annotations")):
            if type(r) is dict and "segmentation" in r:
                image_id, category, score = r.get("image_id"), r.get("category_id"), r.get("score")
                if type(image_id) in (int, str) and image_id in by_id and type(category) is int \
                        and category in things and type(score) is float and 0.0 <= score <= 1.0:
                    instances[image_id].append(r)
                    instance_positions[image_id].append(k)
                    continue
            where = cls._check_result(r, k, by_id, cats, files["instseg"])
            if not cats.isthing[cats.index_of[r["category_id"]]]:
                raise PanopticFormatError(f"results[{k}]: category_id {r['category_id']} is a stuff "
                                          "category, instances must be things", **where)
            score = r.get("score")
            if "score" not in r:
                raise PanopticFormatError(f"results[{k}] has no 'score'", **where)
            if isinstance(score, bool) or not isinstance(score, (int, float)) \
                    or not math.isfinite(score) or not 0.0 <= score <= 1.0:
                raise PanopticFormatError(f"results[{k}]: score {json_value(score)} is not a "
                                          "number in [0, 1]", **where)
            instances[r["image_id"]].append(r)
            instance_positions[r["image_id"]].append(k)
        semantic, semantic_positions = defaultdict(list), defaultdict(list)
        for k, r in enumerate(_load_list(files["semseg"], "annotations")):
            if type(r) is dict and "segmentation" in r:
                image_id, category = r.get("image_id"), r.get("category_id")
                if type(image_id) in (int, str) and image_id in by_id and type(category) is int \
                        and category in cats.index_of:
                    semantic[image_id].append(r)
                    semantic_positions[image_id].append(k)
                    continue
            cls._check_result(r, k, by_id, cats, files["semseg"])
            semantic[r["image_id"]].append(r)
            semantic_positions[r["image_id"]].append(k)
        job = cls(images, categories, instances, semantic, params, files)
        job.instance_positions, job.semantic_positions = instance_positions, semantic_positions
        job.max_pixels = int(max_pixels)
        job.images_json = images_json
        return job

    @staticmethod
    def _check_result(r, k, by_id, cats, file) -> dict:
        if not isinstance(r, dict) or "image_id" not in r or "category_id" not in r \
                or "segmentation" not in r:
            raise PanopticFormatError(f"results[{k}] needs image_id, category_id and segmentation",
                                      file=file)
        if not (is_int(r["image_id"]) or isinstance(r["image_id"], str)):
            raise PanopticFormatError(f"results[{k}]: image_id {json_value(r['image_id'])} is not "
                                      "an integer or a string", file=file)
        where = {"file": file, "image_id": r["image_id"]}
        if r["image_id"] not in by_id:
            raise PanopticFormatError(f"results[{k}]: image is not in the images JSON", **where)
        if type(r["category_id"]) is not int or r["category_id"] not in cats.index_of:
            raise PanopticFormatError(f"results[{k}]: unknown category_id "
                                      f"{json_value(r['category_id'])}", **where)
        return where

    def prepare(self, image: dict, min_score: float) -> PreparedImage:
        """Decodes the RLEs of one image (instances scoring below ``min_score`` are skipped)."""
        h, w, image_id = image["height"], image["width"], image["id"]
        index_of = self.categories.categories.index_of
        kept = [k for k, r in enumerate(self.instances.get(image_id, ()))
                if r["score"] >= min_score]
        inst = [self.instances[image_id][k] for k in kept]
        sem = self.semantic.get(image_id, ())
        # Errors name the result as its file does (results[k]) where that is known.
        inst_labels = sem_labels = None
        if self.instance_positions is not None:
            positions = self.instance_positions.get(image_id, ())
            inst_labels = [f"results[{positions[k]}]" for k in kept]
        if self.semantic_positions is not None:
            sem_labels = [f"results[{k}]" for k in self.semantic_positions.get(image_id, ())]
        try:
            io, ii = rle_intervals([r["segmentation"] for r in inst], h, w, "instance",
                                   inst_labels)
        except ValueError as e:
            raise PanopticFormatError(str(e), file=self.files["instseg"], image_id=image_id,
                                      file_name=image["file_name"]) from None
        try:
            so, si = rle_intervals([r["segmentation"] for r in sem], h, w, "semantic mask",
                                   sem_labels)
        except ValueError as e:
            raise PanopticFormatError(str(e), file=self.files["semseg"], image_id=image_id,
                                      file_name=image["file_name"]) from None
        return PreparedImage(
            image, io, ii, np.array([index_of[r["category_id"]] for r in inst], np.int32),
            np.array([float(r["score"]) for r in inst], np.float64),
            so, si, np.array([index_of[r["category_id"]] for r in sem], np.int32))

    def merge(self, prepared: PreparedImage, params: Optional[MergeParams] = None,
              seed: int = 0, reuse_buffer: bool = False, scanlines=None,
              png: bool = False) -> PanopticResult:
        """Merges one prepared image. With ``reuse_buffer`` the id map lives in a per-thread
        buffer that the thread's next merge overwrites (for callers that consume it at once)."""
        params = params or self.params
        img = prepared.image
        out = thread_buffer("merge_id_map", (img["height"], img["width"]), np.uint32) \
            if reuse_buffer and scanlines is None and not png else None
        return merge_intervals(img["height"], img["width"], self.categories, params,
                               prepared.inst_offsets, prepared.inst_intervals,
                               prepared.inst_category, prepared.inst_scores,
                               prepared.stuff_offsets, prepared.stuff_intervals,
                               prepared.stuff_category, column_major=True, seed=seed,
                               image_id=img["id"], out=None if scanlines is not None else out,
                               scanlines=scanlines, png=png)

    def merge_and_write(self, image: dict, segmentations_folder, seed: int = 0,
                        compress_level: Optional[int] = None) -> dict:
        """Merges one image, writes its PNG atomically and returns its annotation.

        ``compress_level`` None: the core writes the PNG from the merged runs, GIL released
        (io/png_deflate.hpp: about twice as fast as zlib's level 2 on filtered scanlines, and no
        scanline buffer is made); 0-9: zlib at that level."""
        prepared = self.prepare(image, self.params.confidence_thr)
        if compress_level is None:
            result = self.merge(prepared, seed=seed, png=True)
            data = result.png
        else:
            if not 0 <= compress_level <= 9:
                raise ValueError(f"compress_level must lie in 0..9, got {compress_level}")
            # Straight to PNG scanlines: the id map itself is never made.
            h, w = image["height"], image["width"]
            raw = thread_buffer("merge_scanlines", (h * (1 + 3 * w),), np.uint8)
            result = self.merge(prepared, seed=seed, scanlines=raw)
            data = png_from_scanlines(raw, h, w, compress_level)
        file_name = png_name(image["file_name"])
        atomic_write_bytes(os.path.join(segmentations_folder, file_name), data)
        return {"image_id": image["id"], "file_name": file_name,
                "segments_info": result.segments_info}

    def output_paths(self, segmentations_folder, start: int = 0,
                     stop: Optional[int] = None) -> list:
        """The PNG paths of images [start, stop), all checked before anything is written: each
        stays inside ``segmentations_folder`` (sub-folders allowed) and no two images write the
        same PNG (:func:`~panoseg.io.paths.png_output_paths`)."""
        return png_output_paths(segmentations_folder, self.images[start:stop],
                                file=self.files["images"])

    def prepare_output(self, segmentations_folder, start: int = 0,
                       stop: Optional[int] = None) -> None:
        """Checks the PNG paths of images [start, stop), then creates their folders."""
        make_parents(segmentations_folder, self.output_paths(segmentations_folder, start, stop))

    def run_chunk(self, start: int, stop: int, segmentations_folder, *, workers=1, seed: int = 0,
                  compress_level: Optional[int] = None) -> list:
        """Merges images [start, stop) of :attr:`images` (e.g. on a cluster worker)."""
        self.prepare_output(segmentations_folder, start, stop)
        return list(ordered_map(
            lambda image: self.merge_and_write(image, segmentations_folder, seed, compress_level),
            self.images[start:stop], workers))

    def write_json(self, annotations: list, panoptic_json_file) -> dict:
        """The panoptic JSON: the images JSON + ``annotations`` + ``categories``, atomically."""
        out = dict(self.images_json)
        out["annotations"] = annotations
        out["categories"] = self.categories.categories.to_list()
        # json.dumps uses the C encoder (json.dump streams in Python); ASCII (ensure_ascii).
        atomic_write_bytes(panoptic_json_file, json.dumps(out).encode("ascii"))
        return out

    def run(self, segmentations_folder, panoptic_json_file, *, workers=None, progress=False,
            seed: int = 0, compress_level: Optional[int] = None) -> dict:
        """Merges every image, writes its PNG, then the panoptic JSON (all atomically). Every
        PNG path is checked (:meth:`output_paths`) before the first is written."""
        self.prepare_output(segmentations_folder)
        annotations = []
        with progress_bar(len(self.images), progress, "panoseg merge") as bar:
            for ann in ordered_map(lambda image: self.merge_and_write(
                    image, segmentations_folder, seed, compress_level), self.images, workers):
                annotations.append(ann)
                bar.update(1)
        return self.write_json(annotations, panoptic_json_file)


def _merge_chunk(job: MergeJob, start: int, stop: int, folder, seed: int,
                 compress_level: Optional[int]):
    return job.run_chunk(start, stop, folder, workers=worker_threads(), seed=seed,
                         compress_level=compress_level)


def merge_on_dask(job: MergeJob, client, segmentations_folder, panoptic_json_file, *,
                  seed: int = 0, compress_level: Optional[int] = None,
                  chunk_size: Optional[int] = None, progress: bool = False) -> dict:
    """Runs a :class:`MergeJob` on a Dask cluster: the workers write the PNGs, the client the
    JSON (byte-identical to a local run)."""
    job.prepare_output(segmentations_folder)  # every PNG path checked before any is written
    bounds = chunk_bounds(len(job.images), len(require_workers(client)), chunk_size)
    job_future = client.scatter(job, broadcast=True, hash=False)
    futures = [client.submit(_merge_chunk, job_future, a, b, segmentations_folder, seed,
                             compress_level, pure=False) for a, b in bounds]
    annotations = []
    for chunk in gather_in_order(futures, bounds, progress, "panoseg merge (dask)"):
        annotations.extend(chunk)
    return job.write_json(annotations, panoptic_json_file)


def merge_files(semseg_json_file, instseg_json_file, images_json_file, categories_json_file,
                segmentations_folder, panoptic_json_file,
                confidence_thr: float = DEFAULT_CONFIDENCE_THR,
                overlap_thr: float = DEFAULT_OVERLAP_THR,
                stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT, *,
                workers: Optional[int] = None, progress: bool = False, seed: int = 0,
                compress_level: Optional[int] = None, dask=None,
                max_pixels: int = MAX_PIXELS) -> dict:
    """:func:`combine_predictions` through a :class:`MergeJob`, whatever the inputs (every check
    and message of the format is here), locally or on Dask."""
    job = MergeJob.from_files(semseg_json_file, instseg_json_file, images_json_file,
                              categories_json_file, MergeParams(confidence_thr, overlap_thr,
                                                                stuff_area_limit),
                              max_pixels=max_pixels)
    if segmentations_folder is None:
        segmentations_folder = default_folder(panoptic_json_file)
    if dask:
        with dask_client(dask) as client:
            return merge_on_dask(job, client, segmentations_folder, panoptic_json_file,
                                 seed=seed, compress_level=compress_level, progress=progress)
    return job.run(segmentations_folder, panoptic_json_file, workers=workers, progress=progress,
                   seed=seed, compress_level=compress_level)
