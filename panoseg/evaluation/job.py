"""The COCO panoptic JSON + PNG folders workflow: :class:`EvaluationJob` (inputs loaded and
checked once, picklable), :func:`evaluate` / :func:`pq_compute` (thread-parallel, streaming) and
:func:`evaluate_on_dask` (chunks on a cluster, reduced in order)."""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np

from .. import _core
from ..errors import PanopticFormatError
from ..io.categories import as_categories
from ..io.panoptic_json import (
    SegmentTable,
    annotations_by_image,
    image_sizes,
    load_panoptic_json,
    read_json,
    read_json_bytes,
)
from ..io.paths import segmentation_folder
from ..io.png import MAX_PIXELS, read_ids, read_image_data, read_png_file
from ..util.cluster import (
    chunk_bounds,
    gather_in_order,
    require_workers,
    worker_threads,
)
from ..util.fileio import is_url, join
from ..util.parallel import default_workers, ordered_map, run_both
from ..util.progress import progress_bar
from .bootstrap import PerImageStats
from .errors import ImageErrors, image_errors
from .matching import (
    DILATION_RATIO,
    ImageResult,
    _checked_result,
    _isthing,
    _Where,
    check_dilation_ratio,
    check_gt_area_mode,
    dilation_pixels,
    match_image,
)
from .stats import PQStats, check_iou_type


@dataclass
class Evaluation:
    """What :func:`evaluate` returns: the statistics and panopticapi's result dict.

    ``per_image``: with ``keep_per_image``, the per-image per-category statistics
    (:class:`panoseg.evaluation.bootstrap.PerImageStats`, evaluation order) for bootstrap intervals.
    """

    stats: PQStats
    results: dict
    per_image: Optional[object] = None


class EvaluationJob:
    """One evaluation's inputs, loaded and checked once: the (GT, prediction) annotation pairs
    and what evaluating an image needs. Picklable, so chunks of images can be evaluated in other
    processes or on a cluster (:func:`evaluate_on_dask`) and their statistics added up.

    ``gt_area``: ``"png"`` (default; a GT segment whose JSON ``area`` differs from its PNG pixel
    count is a :class:`PanopticFormatError`) or ``"json"`` (panopticapi's behaviour: computed
    with the JSON areas, the disagreeing segments counted in ``PQStats.n_area_mismatch``).

    ``iou_type``: ``"segm"`` (PQ) or ``"boundary"`` (Boundary PQ, Cheng et al. 2021: a match's
    IoU is min(mask IoU, boundary IoU), bands ``dilation_ratio`` of the image diagonal wide;
    the mask PQ of the same pass is kept too, see :meth:`PQStats.summarize_segm`).

    ``errors``: also break each image's PQ gap into error types (:mod:`.errors`, on the mask
    matching), as ``ImageResult.errors``; evaluation then decodes both maps whole."""

    #: Defaults for jobs pickled before the attributes existed.
    gt_area = "png"
    max_pixels = MAX_PIXELS
    iou_type = "segm"
    dilation_ratio = DILATION_RATIO
    errors = False
    _scanned = _tables = _pairs = None
    _json_data = (None, None)
    _first = 0

    def __init__(self, gt_json_file, pred_json_file, gt_folder=None, pred_folder=None, *,
                 extra: bool = True, gt_area: str = "png", max_pixels: int = MAX_PIXELS,
                 iou_type: str = "segm", dilation_ratio: float = DILATION_RATIO,
                 errors: bool = False):
        self.extra = extra  # also the statistics of PQ-dagger, covering, ... (same pass)
        self.errors = bool(errors)  # also where PQ is lost (evaluation.errors), per image
        self.iou_type = check_iou_type(iou_type)
        self.dilation_ratio = check_dilation_ratio(dilation_ratio)
        self.max_pixels = int(max_pixels)  # the largest PNG decoded, checked from its header
        self.gt_area = check_gt_area_mode(gt_area)
        # Paths may be fsspec URLs (s3://...): everything here only reads (panoseg.fileio).
        gt_json_file, pred_json_file = os.fspath(gt_json_file), os.fspath(pred_json_file)
        self.gt_json_file, self.pred_json_file = gt_json_file, pred_json_file
        gt_data = read_json_bytes(gt_json_file)
        try:
            pred_data = read_json_bytes(pred_json_file)
        except PanopticFormatError as e:
            # Raised after anything wrong with the GT file, as the long way checks (the file
            # is not read again: a pipe would now give something else).
            pred_data = e
        self._first = 0  # ``pairs[k]`` is the annotations' pair self._first + k
        # Well-formed files are read by the core, without the GIL and without a dict per
        # segment (~0.5 ms per 200 annotations, where the JSON parser takes ~2.5 ms): the
        # annotations' names and segment tables. Anything else, or anything the checks below
        # refuse, is read the long way, which accepts what is merely unusual and names what is
        # wrong (the same values either way: tests/test_json_scan.py).
        self._scanned = None  # [(gt annotation, pred annotation) with image_id, file_name]
        self._tables = None   # their _ScannedTables
        self._pairs = None
        try:
            if isinstance(pred_data, bytes) and self._load_scanned(gt_data, pred_data,
                                                                   gt_folder, pred_folder):
                # Kept for ``pairs`` (made when first asked for): the files may be pipes.
                self._json_data = (gt_data, pred_data)
                return
        except PanopticFormatError:
            pass  # the long way says it, in its order
        self._load_parsed(gt_data, pred_data, gt_folder, pred_folder)

    def _load_parsed(self, gt_data, pred_data, gt_folder, pred_folder) -> None:
        """The inputs from the parsed JSON files (every check, and its message). ``pred_data``:
        the prediction file's bytes, or the error reading it gave."""
        gt_json_file, pred_json_file = self.gt_json_file, self.pred_json_file
        gt_json = load_panoptic_json(gt_json_file, need_categories=True, data=gt_data)
        if isinstance(pred_data, PanopticFormatError):
            raise pred_data
        pred_json = load_panoptic_json(pred_json_file, data=pred_data)
        self.gt_folder = segmentation_folder(gt_folder, gt_json_file, "ground truth segmentations")
        self.pred_folder = segmentation_folder(pred_folder, pred_json_file,
                                               "prediction segmentations")
        self.categories = as_categories(gt_json["categories"], source=gt_json_file)
        # GT sizes from 'images' (optional), checked: positive ints within the pixel cap.
        self.sizes = image_sizes(gt_json, gt_json_file, self.max_pixels)
        self._pairs = _annotation_pairs(gt_json, pred_json, gt_json_file, pred_json_file)
        self._scanned = self._tables = None

    def _load_scanned(self, gt_data, pred_data, gt_folder, pred_folder) -> bool:
        """The inputs from the core's reading of the files
        (:func:`panoseg._core.scan_panoptic_json`), in the long way's order of checks; False
        (nothing kept) where it declines a file, an image id repeats or lacks a prediction, or a
        segment table is not plainly valid."""
        gt_json_file, pred_json_file = self.gt_json_file, self.pred_json_file
        gt_scan, pred_scan = _scan_both(gt_data, pred_data)
        if gt_scan is None or gt_scan.categories is None or not gt_scan.categories.startswith(b"["):
            return False
        if pred_scan is None:
            return False
        self.gt_folder = segmentation_folder(gt_folder, gt_json_file, "ground truth segmentations")
        self.pred_folder = segmentation_folder(pred_folder, pred_json_file,
                                               "prediction segmentations")
        categories = as_categories(read_json(gt_json_file, gt_scan.categories),
                                   source=gt_json_file)
        sizes = gt_scan.image_sizes(self.max_pixels) if gt_scan.images is not None else {}
        if sizes is None:  # 'images' in another form, or a size to refuse: the long way's checks
            sizes = image_sizes({"images": read_json(gt_json_file, gt_scan.images)},
                                gt_json_file, self.max_pixels)
        pred_index = {}
        for k, image_id in enumerate(pred_scan.image_ids):
            if pred_index.setdefault(image_id, k) != k:
                return False  # an image twice: the long way names it
        gt_ids = gt_scan.image_ids
        if len(set(gt_ids)) != len(gt_ids):
            return False
        pred_rows = [pred_index.get(image_id, -1) for image_id in gt_ids]
        if -1 in pred_rows:
            return False
        tables = _ScannedTables.from_scans(gt_scan, pred_scan, pred_rows, categories)
        if tables is None:
            return False
        gt_names, pred_names = gt_scan.file_names, pred_scan.file_names
        self.categories, self.sizes = categories, sizes
        self._scanned = [({"image_id": image_id, "file_name": gt_names[k]},
                          {"image_id": image_id, "file_name": pred_names[j]})
                         for k, (image_id, j) in enumerate(zip(gt_ids, pred_rows))]
        self._tables = tables
        return True

    @property
    def pairs(self) -> list:
        """The (GT annotation, predicted annotation) pairs, in GT order: the JSON objects
        as parsed (made when first asked for, where the core read the files)."""
        if self._pairs is None:
            gt_data, pred_data = self._json_data  # (None after pickling: the files are read)
            gt_json = load_panoptic_json(self.gt_json_file, need_categories=True, data=gt_data)
            pred_json = load_panoptic_json(self.pred_json_file, data=pred_data)
            pairs = _annotation_pairs(gt_json, pred_json, self.gt_json_file,
                                      self.pred_json_file)
            pairs = pairs[self._first:self._first + len(self._scanned)]
            self._check_unchanged(pairs)
            self._pairs = pairs
        return self._pairs

    def _check_unchanged(self, pairs: list) -> None:
        """That ``pairs``, read again, are what was scanned: the same images, names and
        segments (a pickled job reads its files again: they may have changed meanwhile)."""
        if len(pairs) != len(self._scanned):
            raise PanopticFormatError("the file changed since the evaluation read it",
                                      file=self.gt_json_file)
        for side, file in ((0, self.gt_json_file), (1, self.pred_json_file)):
            anns = [pair[side] for pair in pairs]
            made = SegmentTable.for_annotations(anns, self.categories, is_gt=side == 0)
            for ann, table, scanned, tables in zip(anns, made, self._scanned, self._tables):
                old = scanned[side]
                if not (ann["image_id"] == old["image_id"]
                        and ann["file_name"] == old["file_name"] and table is not None
                        and all(np.array_equal(getattr(table, f), getattr(tables[side], f),
                                               equal_nan=True)
                                for f in ("ids", "category", "iscrowd", "area"))):
                    raise PanopticFormatError("the file changed since the evaluation read it",
                                              file=file)

    @pairs.setter
    def pairs(self, value: list) -> None:
        # (What is evaluated: a list assigned here, not changes made to the one read above.)
        self._pairs, self._scanned, self._tables = list(value), None, None
        self._json_data = (None, None)

    @property
    def n_images(self) -> int:
        """The number of (GT, prediction) pairs to evaluate."""
        return len(self._scanned) if self._scanned is not None else len(self.pairs)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_json_data"] = (None, None)  # not sent to a cluster: ``pairs`` reads the files
        return state

    def __setstate__(self, state):
        if "pairs" in state:  # pickled when ``pairs`` was a plain attribute
            state["_pairs"] = state.pop("pairs")
        self.__dict__.update(state)

    def evaluate_image(self, pair, tables=(None, None), sink=None) -> Optional[ImageResult]:
        """Matches one (GT annotation, predicted annotation) pair, reading its two PNGs.
        ``tables``: the pair's two SegmentTables where already made (None: made here).
        ``sink``: a :class:`panoseg._core.StatsSink` for this job's categories and iou_type;
        when the image has nothing to report, its statistics go there and None is returned."""
        gt_ann, pred_ann = pair
        gt_table, pred_table = tables
        categories = self.categories
        gt_json_file, pred_json_file = self.gt_json_file, self.pred_json_file
        image_id = gt_ann["image_id"]
        gt_png = join(self.gt_folder, gt_ann["file_name"])
        pred_png = join(self.pred_folder, pred_ann["file_name"])
        if gt_table is None:
            gt_table = SegmentTable.from_segments_info(
                gt_ann["segments_info"], categories, is_gt=True, file=gt_json_file,
                image_id=image_id, file_name=gt_ann["file_name"])
        if pred_table is None:
            pred_table = SegmentTable.from_segments_info(
                pred_ann["segments_info"], categories, is_gt=False, file=pred_json_file,
                image_id=image_id, file_name=pred_ann["file_name"])
        where = _Where(image_id, gt_ann["file_name"], gt_png, pred_png, gt_json_file,
                       pred_json_file)
        if not self.errors:
            # The common case, in one core call without the GIL: both files' chunks and headers
            # checked (sizes before anything is inflated), inflated a piece at a time (never
            # whole) and counted. Anything unusual (a file it does not read, an id missing
            # from segments_info) comes back as None and goes the long way below, which
            # decodes it or names the problem.
            m = self._match_files(gt_png, pred_png, image_id, gt_table, pred_table, sink)
            if m is True:  # summed into the sink
                return None
            if m is not None:
                return _checked_result(m, gt_table, pred_table, categories, where, self.gt_area)
        # Sizes first, from the headers: the GT's against 'images', the prediction's against
        # the GT's, before either is inflated (or, if interlaced, decoded by Pillow), so a huge
        # PNG never costs more than its header.
        gt_img = _image_data(gt_png, image_id, self.max_pixels,
                             lambda h, w: self._check_size((h, w), gt_png, image_id))
        pred_img = _image_data(pred_png, image_id, self.max_pixels,
                               lambda h, w: where.check_same_size(
                                   (gt_img.height, gt_img.width), (h, w)))
        dilation = 0  # Boundary PQ's band width in pixels (0: mask PQ)
        if self.iou_type == "boundary":
            dilation = dilation_pixels(gt_img.height, gt_img.width, self.dilation_ratio)
        if not self.errors and not gt_img.interlaced and not pred_img.interlaced:
            # The common case: both PNGs are inflated chunk by chunk and the core decodes the
            # rows of each chunk while it counts overlaps (the images are never stored whole;
            # for Boundary PQ's bands it keeps a count per column and the last d + 1 rows'
            # runs).
            matcher = _core.PngPairMatcher(
                gt_img.height, gt_img.width, gt_table.ids, gt_table.category, gt_table.iscrowd,
                gt_table.area, pred_table.ids, pred_table.category, len(categories),
                self._isthing_flags(), dilation=dilation)
            try:
                _feed_in_step(matcher, gt_img.chunks(INFLATE_CHUNK),
                              pred_img.chunks(INFLATE_CHUNK), INFLATE_CHUNK)
                m = matcher.finish()
            except _core.PngDataError as e:
                raise PanopticFormatError(str(e), file=gt_png if e.side == "gt" else pred_png,
                                          image_id=image_id) from None
            except PanopticFormatError as e:  # from inflating: name the image
                if e.image_id is not None:
                    raise
                raise PanopticFormatError(e.problem, file=e.file, image_id=image_id) from None
            if m is not None:
                return _checked_result(m, gt_table, pred_table, categories, where, self.gt_area)
        # Interlaced PNGs, the error analysis (it needs every overlap) or ids missing from
        # segments_info (to list them): the maps are decoded whole.
        gt_ids = _read(gt_png, image_id, self.max_pixels)
        pred_ids = _read(pred_png, image_id, self.max_pixels)
        names = dict(image_id=image_id, file_name=gt_ann["file_name"], gt_file=gt_png,
                     pred_file=pred_png, gt_json=gt_json_file, pred_json=pred_json_file,
                     gt_area=self.gt_area)
        result = match_image(gt_ids, gt_table, pred_ids, pred_table, categories,
                             extra=self.extra, dilation=dilation, **names)
        if self.errors:
            # Error types are defined on panopticapi's (mask) matching.
            mask = result if not dilation else match_image(
                gt_ids, gt_table, pred_ids, pred_table, categories, extra=False, **names)
            result.errors = image_errors(gt_ids, pred_ids, mask)
        return result

    def _match_files(self, gt_png, pred_png, image_id, gt_table, pred_table, sink=None):
        # Local files are read by the core too (no GIL released and retaken per read).
        gt_data, pred_data = gt_png, pred_png
        if not _local_pair(gt_png, pred_png):
            try:
                gt_data = read_png_file(gt_png, self.max_pixels)
                pred_data = read_png_file(pred_png, self.max_pixels)
            except PanopticFormatError:
                return None  # the long way says which file and why
        return _core.match_png_files(
            gt_data, pred_data, self.max_pixels, self.sizes.get(image_id), gt_table.ids,
            gt_table.category, gt_table.iscrowd, gt_table.area, pred_table.ids,
            pred_table.category, len(self.categories), self._isthing_flags(),
            dilation_ratio=self._core_dilation_ratio(), sink=sink)

    def _isthing_flags(self):
        """The core's per-category thing flags when the extra statistics are wanted, else
        None (the core then skips them)."""
        return _isthing(self.categories) if self.extra else None

    def _core_dilation_ratio(self) -> float:
        """Boundary PQ's band ratio as the core takes it: 0 for mask PQ."""
        return self.dilation_ratio if self.iou_type == "boundary" else 0.0

    def _with_tables(self, pairs: list):
        """``(pair, (gt_table, pred_table))`` for each pair, the tables made a block of pairs at
        a time (one core call per side instead of one per annotation; None where
        :meth:`SegmentTable.from_segments_info` must say what is wrong)."""
        start, size = 0, max(1, min(FIRST_TABLE_BLOCK, TABLE_BLOCK))
        while start < len(pairs):
            block = pairs[start:start + size]
            start, size = start + size, max(size, min(2 * size, TABLE_BLOCK))
            gt_tables = SegmentTable.for_annotations([gt for gt, _ in block], self.categories,
                                                     is_gt=True)
            pred_tables = SegmentTable.for_annotations([pred for _, pred in block],
                                                       self.categories, is_gt=False)
            yield from zip(block, zip(gt_tables, pred_tables))

    def _evaluate_with_tables(self, item, sink=None) -> Optional[ImageResult]:
        return self.evaluate_image(*item, sink=sink)

    def _evaluate_block(self, items: list, out: list, sink) -> None:
        """``evaluate_image(pair, tables, sink)`` of each ``(pair, tables)`` item, appended to
        ``out`` in order, the images of local files in one core call
        (:func:`panoseg._core.match_png_files_into_sink`, which releases the GIL once for them
        all, instead of a call with its Python around it per image: ~25 us of an image's
        ~600 us at 640x480, all of it holding the GIL the other threads wait for). The images
        it stops at (those with something to report, or that it does not read) go through
        evaluate_image as before."""
        gt_folder, pred_folder, sizes = self.gt_folder, self.pred_folder, self.sizes
        ratio, isthing = self._core_dilation_ratio(), self._isthing_flags()
        start = 0
        while start < len(items):
            gt_pngs, pred_pngs, gt_sizes, gt_tables, pred_tables = [], [], [], [], []
            for k in range(start, len(items)):
                (gt_ann, pred_ann), (gt_table, pred_table) = items[k]
                gt_png = join(gt_folder, gt_ann["file_name"])
                pred_png = join(pred_folder, pred_ann["file_name"])
                if gt_table is None or pred_table is None or not _local_pair(gt_png, pred_png):
                    break
                gt_pngs.append(gt_png)
                pred_pngs.append(pred_png)
                gt_sizes.append(sizes.get(gt_ann["image_id"]))
                gt_tables.append(gt_table)
                pred_tables.append(pred_table)
            done = 0
            if gt_pngs:
                done = _core.match_png_files_into_sink(
                    gt_pngs, pred_pngs, gt_sizes, gt_tables, pred_tables, self.max_pixels,
                    len(self.categories), isthing, dilation_ratio=ratio, sink=sink)
            out.extend([None] * done)  # summed into the sink
            start += done
            if start < len(items):  # the image the core stopped at, the usual way
                out.append(self.evaluate_image(*items[start], sink=sink))
                start += 1

    def _check_size(self, shape, gt_png, image_id):
        if image_id in self.sizes and tuple(shape) != tuple(self.sizes[image_id]):
            h, w = self.sizes[image_id]
            raise PanopticFormatError(f"GT PNG is {shape[1]}x{shape[0]} (WxH) but "
                                      f"'images' in {self.gt_json_file} says {w}x{h}", file=gt_png,
                                      image_id=image_id)

    def subset(self, start: int, stop: int) -> "EvaluationJob":
        """The same job restricted to pairs [start, stop) (what one cluster task is sent)."""
        out = copy.copy(self)
        out._json_data = self._json_data  # (copy.copy drops it, as pickling does)
        if self._scanned is None:
            out.pairs = self.pairs[start:stop]
            return out
        out._scanned, out._tables = self._scanned[start:stop], self._tables.subset(start, stop)
        out._pairs = None if self._pairs is None else self._pairs[start:stop]
        out._first = self._first + range(len(self._scanned))[start:stop].start
        return out

    def evaluate_chunk(self, start: int = 0, stop: Optional[int] = None,
                       workers: Optional[int] = 1, keep: bool = True, progress: bool = False,
                       on_image: Optional[Callable[[ImageResult], None]] = None
                       ) -> "ChunkResult":
        """Evaluates pairs [start, stop) (all by default) on ``workers`` threads: their summed
        statistics and, with ``keep``, compact per-image rows and statistics. ``on_image`` is
        called with each :class:`ImageResult`, in order (read-only: the statistics may still
        hold its arrays, see :meth:`PQStats.add_image`)."""
        if self._scanned is not None:  # the tables made when the files were read
            scanned = self._scanned[start:stop]
            items, n = zip(scanned, self._tables.subset(start, stop)), len(scanned)
        else:
            pairs = self.pairs[start:stop]
            items, n = self._with_tables(pairs), len(pairs)
        stats = PQStats(self.categories, self.iou_type)
        rows, arrays = [], []
        errors = ImageErrors.zeros(self.categories) if self.errors else None
        # Where nobody needs an image's own result, the core sums its statistics itself (the
        # image then costs no arrays, no ImageResult and no add_image, all with the GIL held);
        # the images it cannot sum (an id or area to report) come back as before.
        sink = None
        if not keep and on_image is None and not self.errors:
            sink = _core.StatsSink(len(self.categories), self.iou_type == "boundary")
        evaluate, batched = self._evaluate_with_tables, False
        if sink is not None:
            evaluate, batched = partial(self._evaluate_block, sink=sink), True
        summed = 0  # images in the sink since it was last drained
        settle, settle_errors = None, []
        if sink is not None:
            def settle():
                # Once every image is handed out, while the threads work on the last ones: the
                # sink's sums so far added, and their IoU sums, which the summary reads, folded
                # (exactly); ~1 ms after the last image otherwise. Its error (MemoryError) is
                # raised after the images', which come first.
                try:
                    stats.add_sink(sink)
                    stats.iou  # noqa: B018 - reading it folds its pending terms
                except Exception as e:  # noqa: BLE001 - raised below
                    settle_errors.append(e)
        bar = progress_bar(n, progress, "panoseg eval")
        try:
            # A few images per thread task: each takes about a millisecond at 640x480. At least
            # 8 tasks per thread (16 images of 4096x2048, ~7 ms each, go one per task), and
            # the last tasks single images (``total``), so that the threads finish together.
            n_threads = default_workers() if workers is None else max(1, int(workers))
            batch = max(1, min(EVAL_BATCH, n // (8 * n_threads)))
            for result in ordered_map(evaluate, items, workers, batch, total=n,
                                      batched=batched, on_last_wait=settle):
                if result is None:
                    summed += 1
                    if summed == SINK_DRAIN:  # its float terms are bounded, as the queue's
                        stats.add_sink(sink)
                        summed = 0
                    bar.update(1)
                    continue
                stats.add_image(result)
                if errors is not None:
                    errors += result.errors
                if keep:
                    rows.append(result.to_dict())
                    arrays.append(per_image_arrays(result))
                if on_image is not None:
                    on_image(result)
                bar.update(1)
            if settle_errors:
                raise settle_errors[0]
            if sink is not None:
                stats.add_sink(sink)
        finally:
            bar.close()
        return ChunkResult(stats, rows, arrays, errors)


@dataclass
class ChunkResult:
    """What evaluating a chunk of images returns (small, to send back from a worker)."""

    stats: PQStats
    rows: list  # ImageResult.to_dict() per image
    arrays: list  # per_image_arrays(result) per image: (tp, fp, fn, iou[, sem arrays])
    errors: Optional[object] = None  # summed evaluation.errors.ImageErrors (job.errors)

    def __iter__(self):
        # ``stats, rows, arrays = evaluate_on_dask(...)``, as before the result had a class.
        return iter((self.stats, self.rows, self.arrays))


def evaluate(gt_json_file, pred_json_file, gt_folder=None, pred_folder=None, *,
             workers: Optional[int] = None, progress: bool = False,
             on_image: Optional[Callable[[ImageResult], None]] = None,
             keep_per_image: bool = False, extra: bool = True,
             gt_area: str = "png", max_pixels: int = MAX_PIXELS, iou_type: str = "segm",
             dilation_ratio: float = DILATION_RATIO) -> Evaluation:
    """Evaluates a COCO panoptic prediction against its ground truth.

    Parameters
    ----------
    gt_json_file, pred_json_file : path
        COCO panoptic JSON files. Categories come from the GT file.
    gt_folder, pred_folder : path, optional
        PNG folders; default: the JSON path without ``.json`` (as panopticapi).
    workers : int, optional
        Threads; default: all cores available to this process.
    progress : bool
        Show a progress bar on stderr.
    on_image : callable, optional
        Called with each :class:`ImageResult`, in GT order (e.g. to write per-image results);
        it must not modify the result's arrays, which the statistics may still hold.
    keep_per_image : bool
        Keep every image's per-category statistics (``Evaluation.per_image``, for bootstrap).
    extra : bool
        Also gather the statistics of the metrics beyond PQ (:mod:`panoseg.evaluation.extra_metrics`).
    gt_area : {"png", "json"}
        ``"png"``: a GT segment whose JSON ``area`` differs from its pixel count in the PNG is an
        error. ``"json"``: panopticapi's behaviour, the JSON areas are used; the number of
        disagreeing segments is ``Evaluation.stats.n_area_mismatch``.
    iou_type : {"segm", "boundary"}
        ``"boundary"``: ``results`` is Boundary PQ (Cheng et al. 2021, as boundary-iou-api's
        ``pq_compute(..., iou_type="boundary")``); the mask PQ of the same pass is
        ``stats.summarize_segm()``.
    dilation_ratio : float
        Boundary band width as a fraction of the image diagonal (``"boundary"`` only).

    The float sums are exact (see :mod:`panoseg.evaluation.stats`), so the results are
    bit-identical for any ``workers`` and with :func:`evaluate_on_dask`.

    Raises
    ------
    PanopticFormatError
        For any inconsistency, naming the file, image and segment.
    """
    job = EvaluationJob(gt_json_file, pred_json_file, gt_folder, pred_folder, extra=extra,
                        max_pixels=max_pixels, gt_area=gt_area, iou_type=iou_type,
                        dilation_ratio=dilation_ratio)
    chunk = job.evaluate_chunk(workers=workers, keep=keep_per_image, progress=progress,
                               on_image=on_image)
    stats = chunk.stats
    per_image = None
    if keep_per_image and chunk.arrays:
        per_image = PerImageStats.from_arrays(chunk.arrays)
    return Evaluation(stats, stats.summarize(), per_image)


#: Bytes both JSON files must have for :func:`_scan_both` to read them on two threads (the scan
#: reads ~0.6 GB/s: 64 KB take ~0.1 ms, a thread's start and join).
SCAN_THREAD_BYTES = 1 << 16

#: Images per thread task in :meth:`EvaluationJob.evaluate_chunk` (at most; fewer when there are
#: few images, so that every thread gets work): a task per image cost a future and two GIL
#: hand-offs each, a tenth of a 640x480 image's time.
EVAL_BATCH = 8

#: Images summed into a :class:`panoseg._core.StatsSink` between two drains into PQStats (each
#: leaves a few dozen float terms there, to be added exactly).
SINK_DRAIN = 256

#: Pairs whose segment tables :meth:`EvaluationJob.evaluate_chunk` makes in one core call
#: (bounds the memory of tables made ahead of the images). Small enough that only the first
#: block is made before the threads start: the others are made while they work.
TABLE_BLOCK = 32
#: The first block's size (then twice that, up to TABLE_BLOCK): the first threads start once
#: it is made (32 pairs' tables take ~0.25 ms).
FIRST_TABLE_BLOCK = 8

#: Bytes of image data inflated at a time per PNG while evaluating (256 KB: a 640x480 PNG in 4
#: chunks, a 4096x2048 one in 97): small enough that a chunk of each PNG stays in the CPU's
#: cache while the core decodes it and that the inflater's output buffers are reused rather
#: than freshly mapped (1 MB buffers cost a page fault per 4 KB each time: 1.71 vs 1.12 ms of
#: CPU per 640x480 image, measured), large enough that the Python work per chunk is small.
INFLATE_CHUNK = 1 << 18


def _feed_in_step(matcher, gt_chunks, pred_chunks, lead: int) -> None:
    """Feeds the two images' chunks to the matcher, both at once while neither has delivered
    more than ``lead`` bytes beyond the other (then only the one behind), so that the core keeps
    at most about ``lead`` bytes of either image waiting for the other."""
    chunks, got, done = (gt_chunks, pred_chunks), [0, 0], [False, False]
    while not (done[0] and done[1]):
        pulled = [b"", b""]
        for k in (0, 1):
            if not done[k] and (done[1 - k] or got[k] <= got[1 - k] + lead):
                chunk = next(chunks[k], None)
                if chunk is None:
                    done[k] = True
                else:
                    pulled[k] = chunk
                    got[k] += len(chunk)
        if pulled[0] or pulled[1]:
            matcher.feed(pulled[0], pulled[1])


def _annotation_pairs(gt_json: dict, pred_json: dict, gt_json_file, pred_json_file) -> list:
    """The (GT annotation, predicted annotation) pairs of two loaded panoptic JSONs, in GT
    order; a GT image without a prediction, or an image listed twice, is an error."""
    pred_by_image = annotations_by_image(pred_json, pred_json_file)
    pairs = []
    for image_id, gt_ann in annotations_by_image(gt_json, gt_json_file).items():
        if image_id not in pred_by_image:
            raise PanopticFormatError("no prediction for this ground-truth image",
                                      file=pred_json_file, image_id=image_id,
                                      file_name=gt_ann["file_name"])
        pairs.append((gt_ann, pred_by_image[image_id]))
    return pairs


def _scan_both(gt_data: bytes, pred_data: bytes) -> tuple:
    """Both files' :func:`panoseg._core.scan_panoptic_json`, the prediction's on a thread of its
    own meanwhile (the scan releases the GIL) when both files are large enough to pay for the
    thread (~0.1 ms)."""
    if min(len(gt_data), len(pred_data)) < SCAN_THREAD_BYTES:
        return _core.scan_panoptic_json(gt_data), _core.scan_panoptic_json(pred_data)
    return run_both(lambda: _core.scan_panoptic_json(gt_data),
                    lambda: _core.scan_panoptic_json(pred_data))


class _ScannedTables:
    """The segment tables of a scanned job's pairs, per side one set of arrays (``bounds``,
    ``ids``, ``category``, ``iscrowd``, ``area``: pair k's rows ``bounds[k]:bounds[k + 1]``).
    The SegmentTables are made as the pairs are handed out, so while the threads work."""

    def __init__(self, gt: tuple, pred: tuple):
        self.gt, self.pred = gt, pred

    @classmethod
    def from_scans(cls, gt_scan, pred_scan, pred_rows: list, categories):
        """The tables of every GT annotation and of its prediction (``pred_rows``: each one's
        row in ``pred_scan``), or None if one is not plainly valid."""
        index_of = categories.index_of
        category_ids = np.array(sorted(index_of), np.int64)
        category_index = np.array([index_of[c] for c in category_ids.tolist()], np.int32)
        sides = []
        for scan, rows, is_gt in ((gt_scan, range(len(pred_rows)), True),
                                  (pred_scan, pred_rows, False)):
            bounds, valid, *arrays = scan.tables(np.asarray(rows, np.int64), category_ids,
                                                 category_index, is_gt)
            if not all(valid):
                return None
            sides.append((bounds.tolist(), *arrays))
        return cls(*sides)

    def __len__(self) -> int:
        return len(self.gt[0]) - 1

    def subset(self, start: int, stop: int) -> "_ScannedTables":
        """Pairs [start, stop) (a range's slice), their rows copied: a subset pickles only its
        own."""
        start, stop, _ = slice(start, stop).indices(len(self))
        stop = max(start, stop)
        if start == 0 and stop == len(self):
            return self
        sides = []
        for bounds, *arrays in (self.gt, self.pred):
            a, b = bounds[start], bounds[stop]
            sides.append(([x - a for x in bounds[start:stop + 1]],
                          *(array[a:b].copy() for array in arrays)))
        return _ScannedTables(*sides)

    def __iter__(self):
        """(GT SegmentTable, prediction SegmentTable) per pair (slices of the arrays)."""
        (gb, *ga), (pb, *pa) = self.gt, self.pred
        for k in range(len(self)):
            g0, g1, p0, p1 = gb[k], gb[k + 1], pb[k], pb[k + 1]
            yield (SegmentTable(*(a[g0:g1] for a in ga)),
                   SegmentTable(*(a[p0:p1] for a in pa)))


def per_image_arrays(result: ImageResult) -> tuple:
    """What bootstrap intervals keep of an image: ``(tp, fp, fn, iou)`` and, when the extra
    statistics were computed, the semantic pixel counts ``(sem_inter, sem_gt, sem_pred)``."""
    arrays = (result.tp, result.fp, result.fn, result.iou)
    if result.extra is not None:
        arrays += (result.extra["sem_inter"], result.extra["sem_gt"], result.extra["sem_pred"])
    return arrays


def _local_pair(gt_png, pred_png) -> bool:
    """Whether the core can open both PNGs itself: local paths, not URLs."""
    return isinstance(gt_png, str) and not is_url(gt_png) and not is_url(pred_png)


def _with_image(fn, path, image_id):
    """fn(path), with the image id added to a PanopticFormatError's message."""
    try:
        return fn(path)
    except PanopticFormatError as e:
        if e.image_id is None:
            raise PanopticFormatError(e.problem, file=e.file, image_id=image_id) from None
        raise


def _read(path, image_id, max_pixels) -> np.ndarray:
    return _with_image(lambda p: read_ids(p, max_pixels), path, image_id)


def _image_data(path, image_id, max_pixels, check_size=None):
    return _with_image(lambda p: read_image_data(p, max_pixels, check_size), path, image_id)



def pq_compute(gt_json_file, pred_json_file, gt_folder=None, pred_folder=None,
               workers: Optional[int] = None, *, gt_area: str = "png", iou_type: str = "segm",
               dilation_ratio: float = DILATION_RATIO) -> dict:
    """Drop-in replacement for ``panopticapi.evaluation.pq_compute`` (and, with
    ``iou_type="boundary"``, for boundary-iou-api's, which adds ``iou_type`` and
    ``dilation_ratio``).

    Same arguments (plus ``workers``), same returned dict: ``All`` / ``Things`` / ``Stuff`` with
    ``pq, sq, rq, n`` and ``per_class`` keyed by category id. Prints nothing.

    Unlike panopticapi, a GT ``area`` that disagrees with the GT PNG is an error; pass
    ``gt_area="json"`` (keyword only) for panopticapi's behaviour (see :func:`evaluate`).
    """
    return evaluate(gt_json_file, pred_json_file, gt_folder, pred_folder, workers=workers,
                    gt_area=gt_area, iou_type=iou_type, dilation_ratio=dilation_ratio).results


def _evaluate_chunk(job: EvaluationJob, keep: bool) -> ChunkResult:
    return job.evaluate_chunk(workers=worker_threads(), keep=keep)


def evaluate_on_dask(job: EvaluationJob, client, chunk_size: Optional[int] = None,
                     progress: bool = False, keep: bool = True):
    """Evaluates an :class:`EvaluationJob` on a Dask cluster.

    Returns a :class:`ChunkResult` (which also unpacks as ``stats, rows, arrays``): the summed
    PQStats and, with ``keep``, every image's ``to_dict()`` row and
    :func:`per_image_arrays`, in GT order; with ``job.errors``, the summed error breakdown
    (``.errors``). Each task is sent only its
    own chunk of annotations; chunks are added up in order, and the float sums are exact
    (:mod:`panoseg.evaluation.stats`), so every number is bit-identical to a local run whatever
    the chunking.
    """
    bounds = chunk_bounds(job.n_images, len(require_workers(client)), chunk_size)
    futures = [client.submit(_evaluate_chunk, job.subset(a, b), keep, pure=False)
               for a, b in bounds]
    stats, rows, arrays = PQStats(job.categories, job.iou_type), [], []
    errors = ImageErrors.zeros(job.categories) if job.errors else None
    for chunk in gather_in_order(futures, bounds, progress, "panoseg eval (dask)"):
        stats += chunk.stats
        rows.extend(chunk.rows)
        arrays.extend(chunk.arrays)
        if errors is not None:
            errors += chunk.errors
    return ChunkResult(stats, rows, arrays, errors)
