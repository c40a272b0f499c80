"""Threshold tuning: merge and evaluate in memory over a grid of merge thresholds.

Each image's RLEs are decoded once and its ground truth read once; every setting then costs one
merge and one PQ matching in the core, and no PNG is written. Statistics are kept per setting and
added up over images exactly as :func:`panoseg.evaluate` does, so the PQ reported for a setting is
the PQ that ``panoseg merge`` + ``panoseg eval`` would give with it.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..errors import PanopticFormatError
from ..evaluation import PQStats, match_image
from ..evaluation.matching import check_gt_area_mode
from ..io.categories import as_categories
from ..io.panoptic_json import SegmentTable, image_sizes, load_panoptic_json
from ..io.paths import segmentation_folder
from ..io.png import read_ids
from ..util.parallel import ordered_map
from ..util.progress import progress_bar
from .heuristic import MergeParams
from .job import MergeJob


@dataclass
class TuneResult:
    """PQ statistics of one threshold setting."""

    params: MergeParams
    stats: PQStats

    @property
    def results(self) -> dict:
        return self.stats.summarize()


def parameter_grid(confidence_thr: Sequence[float], overlap_thr: Sequence[float],
                   stuff_area_limit: Sequence[float]) -> List[MergeParams]:
    """All combinations, validated."""
    return [MergeParams(c, o, s) for c, o, s in
            itertools.product(confidence_thr, overlap_thr, stuff_area_limit)]


def tune(job: MergeJob, gt_json_file, gt_folder=None, grid: Sequence[MergeParams] = (),
         *, workers: Optional[int] = None, progress: bool = False, seed: int = 0,
         gt_area: str = "png") -> List[TuneResult]:
    """Evaluates every setting of ``grid`` on the images of ``job`` against a panoptic GT.

    ``gt_area``: as in :func:`panoseg.evaluate` (``"png"``: a GT area disagreeing with the GT
    PNG is an error; ``"json"``: panopticapi's behaviour, disagreements counted in each
    result's ``stats.n_area_mismatch``).

    Returns one :class:`TuneResult` per setting, in grid order.
    """
    if not grid:
        raise ValueError("the grid of settings is empty")
    check_gt_area_mode(gt_area)
    gt_json_file = os.fspath(gt_json_file)
    gt = load_panoptic_json(gt_json_file, need_categories=True)
    gt_folder = segmentation_folder(gt_folder, gt_json_file, "ground truth segmentations")
    categories = as_categories(gt["categories"], source=gt_json_file)
    image_sizes(gt, gt_json_file, job.max_pixels)  # its sizes, if any, must be sound
    gt_by_image = {a["image_id"]: a for a in gt["annotations"]}
    for image in job.images:
        if image["id"] not in gt_by_image:
            raise PanopticFormatError("image has no ground truth", file=gt_json_file,
                                      image_id=image["id"], file_name=image["file_name"])
    min_conf = min(p.confidence_thr for p in grid)

    def one(image):
        gt_ann = gt_by_image[image["id"]]
        gt_png = os.path.join(gt_folder, gt_ann["file_name"])

        def check_size(height, width):  # before the GT PNG is inflated
            if (height, width) != (image["height"], image["width"]):
                raise PanopticFormatError(
                    f"GT PNG is {width}x{height} (WxH) but 'images' in {job.files['images']} "
                    f"says {image['width']}x{image['height']}", file=gt_png,
                    image_id=image["id"])

        try:
            gt_ids = read_ids(gt_png, job.max_pixels, check_size)
        except PanopticFormatError as e:  # name the image, as eval does
            if e.image_id is not None:
                raise
            raise PanopticFormatError(e.problem, file=e.file, image_id=image["id"],
                                      file_name=gt_ann["file_name"]) from None
        gt_table = SegmentTable.from_segments_info(
            gt_ann["segments_info"], categories, is_gt=True, file=gt_json_file,
            image_id=image["id"], file_name=gt_ann["file_name"])
        prepared = job.prepare(image, min_conf)
        per_setting = []
        for params in grid:
            merged = job.merge(prepared, params, seed=seed, reuse_buffer=True)
            pred_table = SegmentTable.from_segments_info(
                merged.segments_info, categories, is_gt=False, file="merged prediction",
                image_id=image["id"])
            per_setting.append(match_image(gt_ids, gt_table, merged.id_map, pred_table, categories,
                                           image_id=image["id"], file_name=gt_ann["file_name"],
                                           gt_file=gt_png, gt_json=gt_json_file, extra=False,
                                           gt_area=gt_area))
        return per_setting

    totals = [PQStats(categories) for _ in grid]
    with progress_bar(len(job.images), progress, "panoseg tune") as bar:
        for per_setting in ordered_map(one, job.images, workers):
            for stats, result in zip(totals, per_setting):
                stats.add_image(result)
            bar.update(1)
    return [TuneResult(p, s) for p, s in zip(grid, totals)]


def best(results: Sequence[TuneResult]) -> TuneResult:
    """The setting with the highest PQ (the first in grid order among equals)."""
    return max(results, key=lambda r: r.results["All"]["pq"])
