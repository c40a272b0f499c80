"""The ``panoseg infer`` job: many images in, a COCO panoptic JSON + PNG folder out.

Reading images (a thread pool) and writing PNGs (a writer thread) overlap the models, which run
on the calling thread. The job is resumable: each finished image leaves its PNG and then a small
record (its ``segments_info`` and, on request, its intermediate predictions) in
``<out folder>/.panoseg-infer/``; a re-run skips images whose record matches the current
settings and only redoes the rest. A failing image is reported at the end and does not stop the
others; the JSON is written (atomically) with the images that succeeded.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .. import _core
from ..io.paths import default_folder, make_parents, output_paths
from ..io.png import encode_ids
from ..io.rle import intervals_to_rles
from ..merge.paste import paste_masks_rle
from ..util.atomic import atomic_open, atomic_write_bytes
from ..util.cluster import chunk_bounds, gather_in_order, require_workers
from ..util.parallel import ordered_map
from ..util.progress import progress_bar
from .images import DEFAULT_MAX_PIXELS, ImageError, ImageItem, read_image
from .panoptic import PanopticPredictor

RECORDS_FOLDER = ".panoseg-infer"
STAGES = ("load", "preprocess", "instance", "semantic", "merge", "write")


@dataclass
class InferSummary:
    """What a run did: counts, failures (file, message) and seconds per stage."""

    done: int = 0
    skipped: int = 0
    failures: List[tuple] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    wall: float = 0.0

    def to_dict(self) -> dict:
        return {"done": self.done, "skipped": self.skipped, "wall_s": self.wall,
                "failures": [{"file": f, "error": e} for f, e in self.failures],
                "timings_s": dict(self.timings)}


def run_inference(predictor: PanopticPredictor, items: List[ImageItem], out_json: str,
                  out_folder: Optional[str] = None, *, batch_size: int = 1,
                  save_intermediate: Optional[str] = None, overwrite: bool = False,
                  images_json: Optional[dict] = None, loader_threads: int = 2,
                  max_pixels: int = DEFAULT_MAX_PIXELS, progress: bool = True,
                  compress_level: int = 2) -> InferSummary:
    """Predicts every image and writes COCO panoptic outputs.

    Parameters
    ----------
    predictor : PanopticPredictor
    items : list of ImageItem
        The images (see :mod:`panoseg.infer.images`).
    out_json, out_folder : path
        The panoptic JSON and its PNG folder (default: ``out_json`` without ``.json``).
    batch_size : int
        Images per model step.
    save_intermediate : path, optional
        Also write ``instances.json`` and ``semantic.json`` (panopticapi's combine inputs),
        ``images.json`` and ``categories.json`` there, so ``panoseg merge`` can re-merge.
    overwrite : bool
        Recompute images that already have outputs.
    images_json : dict, optional
        The images JSON the items came from: its ``images`` entries are copied to the output.
    loader_threads : int
        Threads decoding images ahead of the models.

    Returns
    -------
    InferSummary
    """
    out_json = os.fspath(out_json)
    if out_folder is None:
        out_folder = default_folder(out_json)
    t_start = time.perf_counter()
    ordered, summary = predict_items(predictor, items, out_folder, batch_size=batch_size,
                                     intermediate=save_intermediate is not None,
                                     overwrite=overwrite, loader_threads=loader_threads,
                                     max_pixels=max_pixels, progress=progress,
                                     compress_level=compress_level)
    write_outputs(ordered, out_json, images_json, predictor.categories.to_list(),
                  save_intermediate)
    summary.wall = time.perf_counter() - t_start
    return summary


def predict_items(predictor: PanopticPredictor, items: List[ImageItem], out_folder, *,
                  batch_size: int = 1, intermediate: bool = False, overwrite: bool = False,
                  loader_threads: int = 2, max_pixels: int = DEFAULT_MAX_PIXELS,
                  progress: bool = True, compress_level: int = 2):
    """Predicts the images and writes their PNGs and records (the part of
    :func:`run_inference` a cluster worker runs on its chunk).

    Returns ``(records, summary)``: the records of the images that succeeded, in item order.
    """
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    out_folder = os.fspath(out_folder)
    records = os.path.join(out_folder, RECORDS_FOLDER)
    # Every output path (PNG and record) checked before anything is written: inside its folder
    # (sub-folders allowed and created), no two images on one file.
    png_paths = output_paths(out_folder, ((it.image_id, it.file_name, it.png_name)
                                          for it in items), what="output PNG")
    record_paths = output_paths(records, ((it.image_id, it.file_name,
                                           os.path.relpath(_record_path(records, it), records))
                                          for it in items), what="record")
    make_parents(out_folder, png_paths)
    make_parents(records, record_paths)
    fingerprint = _fingerprint(predictor, intermediate)
    summary = InferSummary(timings={s: 0.0 for s in STAGES})
    t_start = time.perf_counter()

    done = {}  # index -> record
    todo = []
    for k, item in enumerate(items):
        record = None if overwrite else _read_record(records, item, fingerprint)
        if record is not None and os.path.isfile(png_paths[k]):
            done[k] = record
        else:
            todo.append(k)
    summary.skipped = len(done)

    lock = threading.Lock()

    def add_time(stage, seconds):
        with lock:
            summary.timings[stage] += seconds

    def load(k):
        t0 = time.perf_counter()
        item = items[k]
        try:
            image = read_image(item.path, max_pixels)
            if item.height is not None and item.width is not None and \
                    image.shape[:2] != (item.height, item.width):
                raise ImageError(f"{item.path}: image is {image.shape[1]}x{image.shape[0]} but the "
                                 f"images JSON says {item.width}x{item.height}")
            return k, image, None
        except ImageError as e:  # its message starts with the path, reported beside it
            return k, None, str(e).removeprefix(f"{item.path}: ")
        finally:
            add_time("load", time.perf_counter() - t0)

    def write(k, result, inst, category_map):
        t0 = time.perf_counter()
        item = items[k]
        try:
            atomic_write_bytes(png_paths[k],
                               encode_ids(result.id_map, compress_level))
            record = {"fingerprint": fingerprint, "image_id": item.image_id,
                      "file_name": item.file_name,
                      "annotation": {"image_id": item.image_id, "file_name": item.png_name,
                                     "segments_info": result.segments_info},
                      "image": {"id": item.image_id, "file_name": item.file_name,
                                "height": int(result.id_map.shape[0]),
                                "width": int(result.id_map.shape[1])}}
            if intermediate:
                record["instances"] = _instance_results(item.image_id, inst)
                record["semantic"] = _semantic_results(item.image_id, category_map, predictor)
            with atomic_open(record_paths[k], "w") as f:
                json.dump(record, f)
            return record
        finally:
            add_time("write", time.perf_counter() - t0)

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panoseg-write")
    pending = []
    bar = progress_bar(len(items), progress, "panoseg infer", initial=len(done))
    try:
        batch = []
        loaded = ordered_map(load, todo, max(1, loader_threads), caller_helps=False)
        for k, image, error in loaded:
            if error is not None:
                summary.failures.append((items[k].path, error))
                bar.update(1)
                continue
            batch.append((k, image))
            if len(batch) >= batch_size:
                pending.extend(_predict(predictor, batch, items, summary, writer, write))
                bar.update(len(batch))
                batch = []
                pending = _drain(pending, done, summary, items, limit=2 * batch_size + 2)
        if batch:
            pending.extend(_predict(predictor, batch, items, summary, writer, write))
            bar.update(len(batch))
        _drain(pending, done, summary, items, limit=0)
    finally:
        writer.shutdown(wait=True)
        bar.close()

    ordered = [done[k] for k in sorted(done)]
    summary.done = len(ordered) - summary.skipped
    summary.wall = time.perf_counter() - t_start
    return ordered, summary


def _predict(predictor, batch, items, summary, writer, write):
    """Runs a batch through the models; on an error, image by image to find the culprit."""
    images = [img for _, img in batch]
    ids = [items[k].image_id for k, _ in batch]
    try:
        outs = predictor.predict_batch(images, ids, summary.timings)
        pairs = list(zip(batch, outs))
    except Exception:  # noqa: BLE001 - retried one by one below to name the failing image
        pairs = []
        for (k, img), image_id in zip(batch, ids):
            try:
                pairs.append(((k, img), predictor.predict_batch([img], [image_id],
                                                                summary.timings)[0]))
            except Exception as e:  # noqa: BLE001 - reported at the end, others go on
                summary.failures.append((items[k].path, f"{type(e).__name__}: {_first_line(e)}"))
    return [(k, writer.submit(write, k, result, inst, cmap))
            for (k, _), (inst, cmap, result) in pairs]


def _drain(pending, done, summary, items, limit):
    """Collects finished writes, waiting while more than ``limit`` are queued."""
    keep = []
    for i, (k, future) in enumerate(pending):
        if future.done() or len(pending) - i > limit:
            try:
                done[k] = future.result()
            except Exception as e:  # noqa: BLE001 - a failed write fails that image only
                summary.failures.append((items[k].path, f"writing its outputs failed: {e}"))
        else:
            keep.append((k, future))
    return keep


def write_outputs(records, out_json, images_json, categories: list, save_intermediate=None):
    """The panoptic JSON (and the intermediate JSONs) from the images' records, atomically."""
    if images_json is not None:
        by_id = {r["image_id"]: r for r in records}
        images = [img for img in images_json.get("images", []) if img.get("id") in by_id]
        out = {k: v for k, v in images_json.items() if k not in ("annotations", "categories")}
        out["images"] = images
    else:
        out = {"images": [r["image"] for r in records]}
    out["annotations"] = [r["annotation"] for r in records]
    out["categories"] = categories
    folder = os.path.dirname(os.path.abspath(out_json))
    os.makedirs(folder, exist_ok=True)
    with atomic_open(out_json, "w") as f:
        f.write(json.dumps(out))
    if save_intermediate is not None:
        os.makedirs(save_intermediate, exist_ok=True)
        files = {"instances.json": [x for r in records for x in r.get("instances", [])],
                 "semantic.json": [x for r in records for x in r.get("semantic", [])],
                 "images.json": {"images": out["images"]},
                 "categories.json": categories}
        for name, data in files.items():
            with atomic_open(os.path.join(save_intermediate, name), "w") as f:
                f.write(json.dumps(data))


def _instance_results(image_id, inst) -> list:
    """panopticapi's instance results: one RLE + score per detection (GluonCV-pasted masks)."""
    if len(inst) == 0:
        return []
    rles = paste_masks_rle(inst.mask_probs, inst.boxes, (inst.width, inst.height), workers=1)
    return [{"image_id": image_id, "category_id": int(c), "score": float(s), "segmentation": r}
            for c, s, r in zip(inst.category_ids, inst.scores, rles)]


def _semantic_results(image_id, category_map: np.ndarray, predictor) -> list:
    """panopticapi's semantic results: one RLE per category present, in category order (the
    order the direct merge takes stuff in, so re-merging gives the same segmentation)."""
    cats = predictor.categories
    lut = np.full(int(max(cats.ids.max(), category_map.max(initial=0))) + 1, -1, np.int32)
    lut[cats.ids] = np.arange(len(cats.ids), dtype=np.int32)
    dense = np.where(category_map > 0, lut[np.clip(category_map, 0, None)], -1).astype(np.int32)
    h, w = dense.shape
    offsets, intervals = _core.label_intervals(np.ascontiguousarray(dense.T), len(cats.ids))
    present = np.flatnonzero(np.diff(offsets) > 0)
    sub_offsets = np.concatenate(([0], np.cumsum(np.diff(offsets)[present])))
    sub_intervals = np.concatenate([intervals[2 * offsets[i]:2 * offsets[i + 1]] for i in present]) \
        if len(present) else np.zeros(0, np.int64)
    rles = intervals_to_rles(sub_offsets, sub_intervals, h, w)
    return [{"image_id": image_id, "category_id": int(cats.ids[i]), "segmentation": r}
            for i, r in zip(present, rles)]


def _fingerprint(predictor: PanopticPredictor, intermediate: bool) -> str:
    """A digest of every setting that changes the outputs: a record made under other settings is
    stale and its image is predicted again."""
    inst, sem = predictor.instance, predictor.semantic
    settings = [inst.model, _file_id(inst.weights), inst.short, inst.max_size, inst.score_thr,
                inst.topk, sem.model, _file_id(sem.weights), sem.mode, sem.crop_size,
                sem.base_size, sem.label_map, predictor.params.confidence_thr,
                predictor.params.overlap_thr, predictor.params.stuff_area_limit, predictor.seed,
                predictor.categories.to_list(), intermediate]
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _file_id(path) -> list:
    try:
        st = os.stat(path)
        return [os.path.abspath(path), st.st_size, int(st.st_mtime)]
    except OSError:
        return [str(path)]


def _record_path(records: str, item: ImageItem) -> str:
    return os.path.join(records, os.path.splitext(item.png_name)[0] + ".json")


def _read_record(records: str, item: ImageItem, fingerprint: str):
    try:
        with open(_record_path(records, item), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if (record.get("fingerprint") != fingerprint or record.get("file_name") != item.file_name
            or record.get("image_id") != item.image_id
            or record.get("annotation", {}).get("file_name") != item.png_name):
        return None  # made under other settings, or for an image listed differently: redo
    return record


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# Dask: one predictor per worker process
# --------------------------------------------------------------------------------------------

_PREDICTORS = {}  # per worker process: predictor spec -> PanopticPredictor (built once)
_PREDICTOR_LOCK = threading.Lock()


def _infer_chunk(spec: dict, ctx: str, items, out_folder, options: dict):
    key = repr((sorted(spec.items()), ctx))
    # A worker with several threads may run several chunks at once; Gluon networks are not
    # thread-safe, so the worker's predictor is built and used by one chunk at a time.
    with _PREDICTOR_LOCK:
        predictor = _PREDICTORS.get(key)
        if predictor is None:
            instance = dict(spec["instance"], ctx=ctx)
            semantic = dict(spec["semantic"], ctx=ctx)
            predictor = _PREDICTORS[key] = PanopticPredictor(instance, semantic, **spec["merge"])
        return predict_items(predictor, items, out_folder, progress=False, **options)


def infer_on_dask(spec: dict, contexts: List[str], items, client, out_folder, *,
                  options: dict, progress: bool = False):
    """Runs ``panoseg infer`` chunks on the cluster, one worker per context (GPU).

    ``spec``: ``{"instance": InstancePredictor kwargs, "semantic": SemanticPredictor kwargs,
    "merge": PanopticPredictor kwargs}`` without ``ctx``; ``contexts``: one context per worker
    slot (``["gpu:0", "gpu:1"]``, or ``["cpu"]`` repeated). Each worker builds its predictor
    once. Returns the per-chunk (records, summary) pairs in item order.
    """
    workers = require_workers(client)
    slots = min(len(workers), len(contexts)) if contexts[0] != "cpu" else len(workers)
    bounds = chunk_bounds(len(items), slots)
    futures = []
    for k, (a, b) in enumerate(bounds):
        slot = k % slots
        futures.append(client.submit(_infer_chunk, spec, contexts[slot % len(contexts)],
                                     items[a:b], out_folder, options, workers=[workers[slot]],
                                     allow_other_workers=False, pure=False))
    return list(gather_in_order(futures, bounds, progress, "panoseg infer (dask)"))
