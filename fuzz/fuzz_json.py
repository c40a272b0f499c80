"""JSON loading: the bytes as a COCO panoptic JSON (``load_panoptic_json``, categories,
``EvaluationJob`` -- images' sizes, annotation pairing --, ``SegmentTable.from_segments_info``
of every annotation) and as all four inputs of a merge (``MergeJob.from_files``, then
``prepare`` -- RLE decoding -- and, for images up to 256 x 256, ``merge``); and as a merge's
results file, read by the core (``_core.scan_merge_results``).

Invariant: the job built with the core's scan of the JSON (``_core.scan_panoptic_json``) equals
the one built without it -- the same error, or the same categories, sizes, pairs and segment
tables; and what the results scan takes reads as the stdlib parser reads it.

Clean outcome: ``PanopticFormatError`` (what these loaders document for bad files) and, from
``MergeJob.prepare`` / ``merge``, the same. No PNG is read (file names are fuzzed).
"""
import os
import tempfile

import _common
import numpy as np

with _common.instrument(__name__ == "__main__"):
    from panoseg import _core
    from panoseg.errors import PanopticFormatError
    from panoseg.evaluation.job import EvaluationJob
    from panoseg.io.panoptic_json import SegmentTable, load_panoptic_json
    from panoseg.merge.heuristic import MergeParams
    from panoseg.merge.job import MergeJob
    from panoseg.testing.merge_results import parsed_results_entries

_DIR = tempfile.mkdtemp(prefix="panoseg-fuzz-json-")
_PATH = os.path.join(_DIR, "input.json")


def _parsed_job(path):
    """The job built without the core's scan (the parsed path: the reference)."""
    scan = _core.scan_panoptic_json
    _core.scan_panoptic_json = lambda data: None
    try:
        return EvaluationJob(path, path, _DIR, _DIR)
    finally:
        _core.scan_panoptic_json = scan


def _same_array(x, y, what):
    assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), what


def _check_scan(path, job):
    """The job the scan made (where it took the file) equals the parsed path's."""
    ref = _parsed_job(path)  # must not raise where the scanned path did not
    assert job.categories.entries == ref.categories.entries
    assert job.sizes == ref.sizes and [type(k) for k in job.sizes] == \
        [type(k) for k in ref.sizes]
    assert job.n_images == len(ref.pairs)
    if job._scanned is None:
        return
    for (sg, sp), (rg, rp) in zip(job._scanned, ref.pairs):
        for s, r in ((sg, rg), (sp, rp)):
            assert type(s["image_id"]) is type(r["image_id"]) and s["image_id"] == r["image_id"]
            assert s["file_name"] == r["file_name"]
    tables = iter(job._tables)
    for gt_ann, pred_ann in ref.pairs:
        scanned = next(tables)
        for ann, is_gt, table in ((gt_ann, True, scanned[0]), (pred_ann, False, scanned[1])):
            # the scan took it: the parsed path must find it valid and equal
            expected = SegmentTable.from_segments_info(ann["segments_info"], ref.categories,
                                                       is_gt=is_gt)
            for name in ("ids", "category", "iscrowd", "area"):
                _same_array(getattr(table, name), getattr(expected, name), name)
    assert next(tables, None) is None


def _evaluation(path):
    try:
        load_panoptic_json(path, need_categories=True)
    except PanopticFormatError:
        pass  # (the jobs must then fail alike)
    try:
        job = EvaluationJob(path, path, _DIR, _DIR)
    except PanopticFormatError as e:
        try:
            _parsed_job(path)
        except PanopticFormatError as f:
            assert str(e) == str(f), (str(e), str(f))
        else:
            raise AssertionError(f"only the scanned path raised: {e}")
        return
    _check_scan(path, job)
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


def _results_scan(data: bytes):
    """What the core's scan of a merge's results file takes reads as the stdlib reads it."""
    for with_score in (False, True):
        scan = _core.scan_merge_results(data, with_score)
        if scan is not None:
            expected = parsed_results_entries(data, with_score)  # must not raise
            entries = scan.entries()
            assert entries == expected, (entries, expected)
            assert [type(e[0]) for e in entries] == [type(e[0]) for e in expected]


def test_one_input(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    _evaluation(_PATH)
    _merge(_PATH)
    _results_scan(data)


if __name__ == "__main__":
    _common.main("json", test_one_input)
