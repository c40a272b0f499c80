"""JSON loading: the bytes as a COCO panoptic JSON (``load_panoptic_json``, categories,
``EvaluationJob`` -- images' sizes, annotation pairing --, ``SegmentTable.from_segments_info``
of every annotation) and as all four inputs of a merge (``MergeJob.from_files``, then
``prepare`` -- RLE decoding -- and, for images up to 256 x 256, ``merge``).

Clean outcome: ``PanopticFormatError`` (what these loaders document for bad files) and, from
``MergeJob.prepare`` / ``merge``, the same. No PNG is read (file names are fuzzed).
"""
import os
import tempfile

import _common

with _common.instrument(__name__ == "__main__"):
    from panoseg.errors import PanopticFormatError
    from panoseg.evaluation.job import EvaluationJob
    from panoseg.io.panoptic_json import SegmentTable, load_panoptic_json
    from panoseg.merge.heuristic import MergeParams
    from panoseg.merge.job import MergeJob

_DIR = tempfile.mkdtemp(prefix="panoseg-fuzz-json-")
_PATH = os.path.join(_DIR, "input.json")


def _evaluation(path):
    try:
        load_panoptic_json(path, need_categories=True)
        job = EvaluationJob(path, path, _DIR, _DIR)
    except PanopticFormatError:
        return
    for gt_ann, pred_ann in job.pairs:
        for ann, is_gt in ((gt_ann, True), (pred_ann, False)):
            try:
                SegmentTable.from_segments_info(ann["segments_info"], job.categories,
                                                is_gt=is_gt, file=path,
                                                image_id=ann["image_id"],
                                                file_name=ann["file_name"])
            except PanopticFormatError:
                pass


def _merge(path):
    try:
        job = MergeJob.from_files(path, path, path, path, MergeParams())
    except PanopticFormatError:
        return
    for image in job.images:
        try:
            prepared = job.prepare(image, 0.0)
            if image["height"] * image["width"] <= 1 << 16:
                job.merge(prepared)
        except PanopticFormatError:
            pass


def test_one_input(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    _evaluation(_PATH)
    _merge(_PATH)


if __name__ == "__main__":
    _common.main("json", test_one_input)
