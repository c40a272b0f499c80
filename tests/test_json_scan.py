"""The core's reading of well-formed panoptic JSONs (``_core.scan_panoptic_json``,
csrc/io/panoptic_json_scan) as EvaluationJob uses it: whatever it accepts gives exactly what the
parsed path gives (categories, sizes, pairs, segment tables, evaluation results), and whatever it
declines, or the checks after it refuse, behaves exactly as before (same error, same message)."""
import json
import math
import os
import pickle
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from panoseg import _core
from panoseg.errors import PanopticFormatError
from panoseg.evaluation import EvaluationJob, PQStats
from panoseg.io.categories import Categories
from panoseg.io.panoptic_json import SegmentTable, image_sizes
from panoseg.testing.synthetic import make_dataset

DATA = Path(__file__).parent / "data" / "coco_panoptic_sample"
scan = _core.scan_panoptic_json
MAX_ID = (1 << 24) - 1

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def same(a, b) -> bool:
    """Equal values of equal types (NaN equal to NaN; arrays by dtype and values)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def no_scan(monkeypatch):
    monkeypatch.setattr(_core, "scan_panoptic_json", lambda data: None)


def build(gt_json, pred_json, gt_folder=None, pred_folder=None, *, scanned=True, **kw):
    """EvaluationJob(...) with the scan enabled or not: the job, or ("error", type, message)."""
    with pytest.MonkeyPatch.context() as m:
        if not scanned:
            no_scan(m)
        try:
            return EvaluationJob(gt_json, pred_json, gt_folder, pred_folder, **kw)
        except Exception as e:  # noqa: BLE001 - compared, whatever it is
            return ("error", type(e), str(e))


def parsed_tables(job):
    """Per pair (gt table, pred table) as the parsed path makes them, or the error message."""
    out = []
    for gt_ann, pred_ann in job.pairs:
        row = []
        for ann, is_gt, file in ((gt_ann, True, job.gt_json_file),
                                 (pred_ann, False, job.pred_json_file)):
            try:
                row.append(SegmentTable.from_segments_info(
                    ann["segments_info"], job.categories, is_gt=is_gt, file=file,
                    image_id=ann["image_id"], file_name=ann["file_name"]))
            except PanopticFormatError as e:
                row.append(("error", str(e)))
        out.append(tuple(row))
    return out


def assert_same_table(a, b):
    assert isinstance(a, SegmentTable) and isinstance(b, SegmentTable), (a, b)
    for name in ("ids", "category", "iscrowd", "area"):
        x, y = getattr(a, name), getattr(b, name)
        assert same(x, y), (name, x, y)


def assert_same_job(scanned, parsed, *, check_pairs=True):
    """A job built with the scan equals one built without it, field by field."""
    assert parsed._scanned is None
    assert scanned.categories.entries == parsed.categories.entries
    assert same(scanned.categories.entries, parsed.categories.entries)
    assert same(scanned.categories.index_of, parsed.categories.index_of)
    assert same(scanned.sizes, parsed.sizes)
    assert scanned.gt_folder == parsed.gt_folder and scanned.pred_folder == parsed.pred_folder
    assert scanned.n_images == parsed.n_images
    if scanned._scanned is not None:
        assert len(scanned._scanned) == len(parsed.pairs) == len(scanned._tables)
        for (sg, sp), (pg, pp) in zip(scanned._scanned, parsed.pairs):
            for s, p in ((sg, pg), (sp, pp)):
                assert same(s["image_id"], p["image_id"])
                assert same(s["file_name"], p["file_name"])
        for (sg, sp), (pg, pp) in zip(scanned._tables, parsed_tables(parsed)):
            assert_same_table(sg, pg)
            assert_same_table(sp, pp)
    if check_pairs:
        assert same(scanned.pairs, parsed.pairs)


def assert_same_outcome(a, b):
    """Two build() outcomes: the same error, or equal jobs."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b, (a, b)
    else:
        assert_same_job(a, b)


def chunk_outcome(job, **kw):
    try:
        return job.evaluate_chunk(workers=1, **kw)
    except Exception as e:  # noqa: BLE001
        return ("error", type(e), str(e))


def assert_same_chunks(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b, (a, b)
        return
    assert pickle.dumps(a.stats.summarize()) == pickle.dumps(b.stats.summarize())
    assert pickle.dumps(a.stats.summarize_segm()) == pickle.dumps(b.stats.summarize_segm())
    for name in ("tp", "fp", "fn", "n_images", "n_area_mismatch") + PQStats._FLOAT:
        x, y = getattr(a.stats, name), getattr(b.stats, name)
        assert same(x, y) if isinstance(x, np.ndarray) else x == y, name
    assert same(a.rows, b.rows)
    assert len(a.arrays) == len(b.arrays)
    for x, y in zip(a.arrays, b.arrays):
        assert same(tuple(x), tuple(y))


def assert_same_evaluation(scanned, parsed):
    for keep in (False, True):
        assert_same_chunks(chunk_outcome(scanned, keep=keep), chunk_outcome(parsed, keep=keep))


# ---------------------------------------------------------------------------------------------
# 1. the scanner on hand-written documents
# ---------------------------------------------------------------------------------------------

GOOD = ('{"info": {"k": [1, 2.5, null, true, false, "s", {}], "e": "\\u00e9\\n"}, '
        '"images": [{"id": 1, "height": 4, "width": 6, "file_name": "a.jpg"}, {"id": 2}], '
        '"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": '
        '[{"id": 5, "category_id": 1, "iscrowd": 0, "area": 12, "bbox": [0, 0, 3, 4]}, '
        '{"id": 9, "category_id": 7, "area": 2.5}]}, '
        '{"image_id": 2, "file_name": "sub/b c.png", "segments_info": []}], '
        '"categories": [{"id": 7, "isthing": 0, "name": "x"}, {"id": 1, "isthing": 1}]}')


def test_accepted_document_fields():
    s = scan(GOOD.encode())
    assert s is not None
    assert s.image_ids == [1, 2] and all(type(v) is int for v in s.image_ids)
    assert s.file_names == ["a.png", "sub/b c.png"]
    doc = json.loads(GOOD)
    assert s.images == json.dumps(doc["images"]).encode()  # (GOOD is written as dumps does)
    assert json.loads(s.categories) == doc["categories"]
    assert s.categories.startswith(b"[") and s.categories.endswith(b"]")
    assert s.image_sizes(10 ** 9) == {1: (4, 6)}
    assert s.image_sizes(24) == {1: (4, 6)} and s.image_sizes(23) is None


def test_accepted_minimal_and_whitespace():
    s = scan(b'{"annotations": []}')
    assert s is not None and s.image_ids == [] and s.file_names == []
    assert s.images is None and s.categories is None and s.image_sizes(100) is None
    s = scan(b' \r\n\t{ "annotations" :[ ] , "images" : 5 , "categories":{}}\n\t ')
    assert s is not None and s.images == b"5" and s.categories == b"{}"
    assert s.image_sizes(100) is None  # not a list: the Python loader says so
    s = scan(b'{"annotations":[{"segments_info":[{}],"file_name":"x","image_id":-0}]}')
    assert s is not None and s.image_ids == [0] and s.file_names == ["x"]


def test_fifteen_digit_integers_are_read_exactly():
    s = scan(b'{"annotations":[{"image_id":999999999999999,"file_name":"x",'
             b'"segments_info":[]},{"image_id":-123456789012345,"file_name":"y",'
             b'"segments_info":[]}]}')
    assert s.image_ids == [999999999999999, -123456789012345]


def _replaced(old, new, text=GOOD):
    assert old in text, old
    out = text.replace(old, new, 1)
    assert out != text
    return out


INVALID_JSON = {
    "trailing comma in object": _replaced('"name": "x"}', '"name": "x",}'),
    "trailing comma in list": _replaced('"s", {}]', '"s", {},]'),
    "trailing comma in segments": _replaced('"area": 2.5}]', '"area": 2.5},]'),
    "missing colon": _replaced('"info": {', '"info" {'),
    "missing comma": _replaced('"width": 6, ', '"width": 6 '),
    "unterminated string": '{"annotations": [], "x": "abc',
    "unterminated object": GOOD[:-1],
    "control character": _replaced('"s"', '"s\x01"'),
    "raw tab in string": _replaced('"s"', '"s\tt"'),
    "raw newline in string": _replaced('"s"', '"s\nt"'),
    "bad escape \\x": _replaced('"s"', '"\\x41"'),
    "bad escape \\u12G4": _replaced('"s"', '"\\u12G4"'),
    "short \\u": _replaced('"s"', '"\\u12"'),
    "leading zeros": _replaced("[1, 2.5", "[01, 2.5"),
    "leading zeros in image_id": _replaced('"image_id": 1', '"image_id": 01'),
    "1.": _replaced("2.5, null", "2., null"),
    ".5": _replaced("2.5, null", ".5, null"),
    "-": _replaced("2.5, null", "-, null"),
    "1e": _replaced("2.5, null", "1e, null"),
    "1e+": _replaced("2.5, null", "1e+, null"),
    "+1": _replaced("2.5, null", "+1, null"),
    "0x10": _replaced("2.5, null", "0x10, null"),
    "NaN": _replaced("2.5, null", "NaN, null"),
    "NaN area": _replaced('"area": 2.5', '"area": NaN'),
    "Infinity": _replaced("2.5, null", "Infinity, null"),
    "-Infinity area": _replaced('"area": 12', '"area": -Infinity'),
    "True": _replaced("true", "True"),
    "tru": _replaced("true", "tru"),
    "nul": _replaced("null", "nul"),
    "single quotes": _replaced('"s"', "'s'"),
    "comment": _replaced('"info": {', '/* c */ "info": {'),
    "trailing garbage": GOOD + " x",
    "trailing object": GOOD + "{}",
    "trailing comma after object": GOOD + ",",
    "NUL after object": GOOD + "\x00",
    "empty input": "",
    "whitespace only": " \n",
}


@pytest.mark.parametrize("name", list(INVALID_JSON))
def test_invalid_json_is_declined(name):
    text = INVALID_JSON[name]
    with pytest.raises(ValueError):  # not RFC 8259 (the stdlib takes NaN and Infinity)
        orjson.loads(text.encode())
    assert scan(text.encode()) is None


def _declined_but_valid():
    seg = '{"id": 5, "category_id": 1, "iscrowd": 0, "area": 12, "bbox": [0, 0, 3, 4]}'
    cases = {
        "top-level array": "[" + GOOD + "]",
        "top-level string": '"annotations"',
        "UTF-8 BOM": None,  # bytes, below
        "non-ASCII category name": _replaced('"name": "x"', '"name": "\u00e9"'),
        "non-ASCII in a skipped key": _replaced('"k": [', '"\u00e9": ['),
        "non-ASCII file name": _replaced('"a.png"', '"\u00e9.png"'),
        "escaped file_name key": _replaced('"file_name": "a.png"', '"file\\u005fname": "a.png"'),
        "escaped image_id key": _replaced('"image_id": 1', '"image\\u005fid": 1'),
        "escaped segments_info key": _replaced('"segments_info": []',
                                               '"segments\\u005finfo": []'),
        "escaped annotations key": _replaced('"annotations"', '"annot\\u0061tions"'),
        "escaped images key": _replaced('"images"', '"imag\\u0065s"'),
        "escaped categories key": _replaced('"categories"', '"categori\\u0065s"'),
        "escaped segment id key": _replaced('{"id": 9', '{"i\\u0064": 9'),
        "escaped area key": _replaced('"area": 2.5', '"are\\u0061": 2.5'),
        "escaped other key of a segment": _replaced('"bbox"', '"bb\\u006fx"'),
        "escaped other key of an annotation": _replaced(
            '{"image_id": 2', '{"n\\u006fte": 1, "image_id": 2'),
        "repeated image_id": _replaced('"image_id": 1', '"image_id": 1, "image_id": 1'),
        "repeated file_name": _replaced('"file_name": "a.png"',
                                        '"file_name": "a.png", "file_name": "a.png"'),
        "repeated segments_info": _replaced('"segments_info": []',
                                            '"segments_info": [], "segments_info": []'),
        "repeated segment id": _replaced('{"id": 9', '{"id": 9, "id": 9'),
        "repeated category_id": _replaced('"category_id": 7', '"category_id": 7, "category_id": 7'),
        "repeated iscrowd": _replaced('"iscrowd": 0', '"iscrowd": 0, "iscrowd": 0'),
        "repeated area": _replaced('"area": 2.5', '"area": 2.5, "area": 2.5'),
        "repeated annotations": GOOD[:-1] + ', "annotations": []}',
        "repeated images": GOOD[:-1] + ', "images": []}',
        "repeated categories": GOOD[:-1] + ', "categories": []}',
        "image_id string": _replaced('"image_id": 1', '"image_id": "1"'),
        "image_id 1.0": _replaced('"image_id": 1', '"image_id": 1.0'),
        "image_id 1e0": _replaced('"image_id": 1', '"image_id": 1e0'),
        "image_id 16 digits": _replaced('"image_id": 1', '"image_id": 1000000000000000'),
        "image_id -16 digits": _replaced('"image_id": 1', '"image_id": -1000000000000000'),
        "image_id true": _replaced('"image_id": 1', '"image_id": true'),
        "image_id null": _replaced('"image_id": 1', '"image_id": null'),
        "image_id list": _replaced('"image_id": 1', '"image_id": [1]'),
        "file_name empty": _replaced('"a.png"', '""'),
        "file_name with an escape": _replaced('"a.png"', '"a\\u002epng"'),
        "file_name with \\/": _replaced('"sub/b c.png"', '"sub\\/b c.png"'),
        "file_name number": _replaced('"a.png"', '5'),
        "file_name null": _replaced('"a.png"', 'null'),
        "file_name list": _replaced('"a.png"', '["a.png"]'),
        "segments_info object": _replaced('"segments_info": []', '"segments_info": {}'),
        "segments_info null": _replaced('"segments_info": []', '"segments_info": null'),
        "segments_info string": _replaced('"segments_info": []', '"segments_info": "x"'),
        "segments_info entry a number": _replaced('"segments_info": []', '"segments_info": [1]'),
        "segments_info entry a list": _replaced('"segments_info": []', '"segments_info": [[]]'),
        "segments_info entry null": _replaced('"segments_info": []',
                                              '"segments_info": [null]'),
        "id 1.0": _replaced('{"id": 9', '{"id": 9.0'),
        "id true": _replaced('{"id": 9', '{"id": true'),
        "id string": _replaced('{"id": 9', '{"id": "9"'),
        "id 16 digits": _replaced('{"id": 9', '{"id": 1000000000000009'),
        "category_id 1.0": _replaced('"category_id": 7', '"category_id": 7.0'),
        "category_id null": _replaced('"category_id": 7', '"category_id": null'),
        "iscrowd 1.0": _replaced('"iscrowd": 0', '"iscrowd": 1.0'),
        "iscrowd true": _replaced('"iscrowd": 0', '"iscrowd": true'),
        "area null": _replaced('"area": 2.5', '"area": null'),
        "area string": _replaced('"area": 2.5', '"area": "2.5"'),
        "area true": _replaced('"area": 2.5', '"area": true'),
        "area 16 digits": _replaced('"area": 12', '"area": 1000000000000000'),
        "area 1e400": _replaced('"area": 12', '"area": 1e400'),
        "area -1e400": _replaced('"area": 12', '"area": -1e400'),
        "deep skipped value": _replaced('"k": [', '"k": [' + "[" * 200 + "]" * 200 + ', '),
        "deep skipped object": _replaced('"k": [', '"k": [' + '{"a":' * 200 + "1" +
                                         "}" * 200 + ', '),
        "deep value in a segment": _replaced('"bbox": [', '"bbox": [' + "[" * 200 + "]" * 200
                                             + ', '),
        "missing annotations": '{"images": [], "categories": []}',
        "annotations object": '{"annotations": {}}',
        "annotations null": '{"annotations": null}',
        "annotation not an object": '{"annotations": [1]}',
        "annotation without image_id": '{"annotations": [{"file_name": "a", '
                                       '"segments_info": []}]}',
        "annotation without file_name": '{"annotations": [{"image_id": 1, '
                                        '"segments_info": []}]}',
        "annotation without segments_info": '{"annotations": [{"image_id": 1, '
                                            '"file_name": "a"}]}',
        "segment escaped nested": _replaced(seg, seg.replace('"bbox"', '"\\u0062box"')),
    }
    return cases


DECLINED = _declined_but_valid()


@pytest.mark.parametrize("name", list(DECLINED))
def test_valid_json_outside_the_subset_is_declined(name):
    if name == "UTF-8 BOM":
        data = b"\xef\xbb\xbf" + GOOD.encode()
    else:
        text = DECLINED[name]
        json.loads(text)  # valid JSON: only outside the scanned subset
        data = text.encode("utf-8")
    assert scan(data) is None


def test_latin1_byte_is_declined():
    assert scan(_replaced('"name": "x"', '"name": "\xff"').encode("latin-1")) is None


def test_nesting_depth_limit():
    # kMaxJsonDepth = 128 levels of a skipped value: the document itself is level 0
    def nested(k):
        return ('{"annotations": [], "x": ' + "[" * k + "]" * k + "}").encode()
    assert scan(nested(100)) is not None
    assert scan(nested(128)) is not None
    assert scan(nested(129)) is None
    assert scan(nested(300)) is None
    json.loads(nested(300))


def test_skipped_values_may_hold_escapes_and_repeats():
    text = ('{"x": {"a": 1, "a": 2, "\\u0061": "\\u00e9\\"\\\\\\/\\b\\f\\n\\r\\t"}, '
            '"annotations": [{"image_id": 3, "file_name": "f", "segments_info": [], '
            '"x": 1, "x": {"y": [1e5, -0.0, 1E-7, 0]}}]}')
    s = scan(text.encode())
    assert s is not None and s.image_ids == [3] and s.file_names == ["f"]


@pytest.mark.parametrize("value, taken", [
    ('"\\ud800"', False),            # a lone surrogate: orjson refuses it, the stdlib takes it
    ('"\\ud83d\\ude00"', False),    # a pair: declined too (a surrogate escape at all)
    ('"\\ue000"', True),
    ("1" * 18, True),
    ("-" + "1" * 18, True),
    ("1" * 19, False),                # beyond 18 digits: orjson and the stdlib may differ
    ("18446744073709551616", False),  # 2^64: a float to orjson, an int to the stdlib
    ("1" * 5001, False),              # beyond the stdlib's digit limit
    ("1" * 30 + ".5", True),          # a float: both parsers read it alike
    ("1" * 30 + "e2", True),
])
def test_skipped_values_that_parsers_read_differently_are_declined(value, taken):
    # Anywhere, even in a field the scan skips: 'categories' and 'images' are parsed on their
    # own, so a value there must read the same as in the whole file.
    for doc in ('{"annotations": [], "info": %s}', '{"annotations": [], "categories": [%s]}'):
        assert (scan((doc % value).encode()) is not None) is taken, (doc, value)


def test_an_integer_beyond_the_digit_limit_is_a_format_error(tmp_path):
    from panoseg.io.panoptic_json import load_panoptic_json
    path = tmp_path / "big.json"
    path.write_text('{"annotations": [], "categories": [], "info": ' + "1" * 5001 + "}")
    with pytest.raises(PanopticFormatError, match="malformed JSON"):
        load_panoptic_json(path, need_categories=True)


@pytest.mark.parametrize("stdlib_only", [False, True])
def test_deep_nesting_reads_the_same_from_any_caller_depth(monkeypatch, stdlib_only):
    # The stdlib parser's depth limit counts the caller's frames: a document ~980 deep failed
    # with "nested too deeply" from a deep caller and "Expecting value" from a shallow one (the
    # json harness compares two callers; CI's fuzzing found it). A valid one failed too.
    from panoseg.io import panoptic_json
    if stdlib_only:
        monkeypatch.setattr(panoptic_json, "_orjson", None)

    def read_at(depth, data):
        if depth:
            return read_at(depth - 1, data)
        try:
            return panoptic_json.read_json("deep.json", data)
        except PanopticFormatError as e:
            return str(e)

    for n in (900, 983, 990):
        bad, good = b"[" * n + b"x", b"[" * n + b"]" * n
        assert {read_at(d, bad) for d in (0, 50, 400, 700)} == \
            {f"deep.json: malformed JSON (Expecting value: line 1 column {n + 1} (char {n}))"}
        assert all(type(read_at(d, good)) is list for d in (0, 50, 400, 700))
    assert read_at(700, b"[" * 5000) == "deep.json: malformed JSON (nested too deeply)"


def test_images_in_other_forms_are_left_to_python():
    def sizes(images, max_pixels=10 ** 6):
        s = scan(('{"annotations": [], "images": %s}' % images).encode())
        assert s is not None
        return s.image_sizes(max_pixels)
    assert sizes('[]') == {}
    assert sizes('[{"id": 3, "height": 2, "width": 5}, {"id": 4}, '
                 '{"id": 3, "height": 7, "width": 1, "x": [1]}]') == {3: (7, 1)}
    for images in ('[{"id": 1, "height": 2}]', '[{"id": 1, "width": 2}]',
                   '[{"id": 1, "height": 0, "width": 2}]', '[{"id": 1, "height": -2, "width": 2}]',
                   '[{"id": 1, "height": 2.0, "width": 2}]', '[{"id": "1", "height": 2, "width": 2}]',
                   '[{"id": "1"}]', '[{"height": 2, "width": 2}]', '[{"id": 1.0}]',
                   '[{"id": 1, "id": 1}]', '[{"id": 1, "height": 2, "height": 2, "width": 2}]',
                   '[{"id": 1, "h\\u0065ight": 2, "width": 2}]', '[1]', '{}', 'null',
                   '[{"id": 1, "height": 1000000000000000, "width": 1}]'):
        assert sizes(images) is None, images
    assert sizes('[{"id": 1, "height": 1000, "width": 1000}]', 10 ** 6) == {1: (1000, 1000)}
    assert sizes('[{"id": 1, "height": 1000, "width": 1001}]', 10 ** 6) is None
    assert sizes('[{"id": 1, "height": 3, "width": 3}]', 0) is None
    assert sizes('[{"id": 1, "height": 3, "width": 3}]', 10 ** 40) == {1: (3, 3)}


# ---- tables --------------------------------------------------------------------------------

TABLE_DOC = {
    "annotations": [
        {"image_id": 1, "file_name": "a", "segments_info": [
            {"id": 5, "category_id": 1, "iscrowd": 0, "area": 12},
            {"id": MAX_ID, "category_id": 7, "iscrowd": 1, "area": 2.5},
            {"id": 1, "category_id": 2, "area": 1e-300}]},                      # 0 valid
        {"image_id": 2, "file_name": "b", "segments_info": []},               # 1 valid
        {"image_id": 3, "file_name": "c", "segments_info": [
            {"id": 0, "category_id": 1, "area": 1}]},                         # 2 id 0
        {"image_id": 4, "file_name": "c", "segments_info": [
            {"id": MAX_ID + 1, "category_id": 1, "area": 1}]},                # 3 id 2^24
        {"image_id": 5, "file_name": "c", "segments_info": [
            {"id": -3, "category_id": 1, "area": 1}]},                        # 4 id < 0
        {"image_id": 6, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1, "area": 1},
            {"id": 3, "category_id": 2, "area": 1}]},                         # 5 duplicate
        {"image_id": 7, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 4, "area": 1}]},                         # 6 unknown cat
        {"image_id": 8, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1, "iscrowd": 2, "area": 1}]},           # 7 iscrowd 2
        {"image_id": 9, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1, "area": 0}]},                         # 8 GT area 0
        {"image_id": 10, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1, "area": -2.5}]},                      # 9 GT area < 0
        {"image_id": 11, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1}]},                                    # 10 GT no area
        {"image_id": 12, "file_name": "c", "segments_info": [
            {"category_id": 1, "area": 1}]},                                  # 11 no id
        {"image_id": 13, "file_name": "c", "segments_info": [
            {"id": 3, "area": 1}]},                                           # 12 no category
        {"image_id": 14, "file_name": "c", "segments_info": [
            {"id": 3, "category_id": 1, "iscrowd": -1, "area": 1}]},          # 13 iscrowd -1
        {"image_id": 15, "file_name": "c", "segments_info": [
            {"id": 8, "category_id": 7, "area": -0}, {"id": 2, "category_id": 1,
                                                       "area": 5}]},          # 14 GT area -0
    ],
    "categories": [{"id": 7, "isthing": 0}, {"id": 1, "isthing": 1}, {"id": 2, "isthing": 1}],
}
GT_VALID = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
PRED_VALID = [1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1]


def _category_arrays(categories):
    index_of = Categories(categories).index_of
    ids = np.array(sorted(index_of), np.int64)
    return index_of, ids, np.array([index_of[c] for c in ids.tolist()], np.int32)


@pytest.mark.parametrize("is_gt", [True, False])
def test_tables_validity_and_values(is_gt):
    data = json.dumps(TABLE_DOC).encode()
    s = scan(data)
    assert s is not None
    index_of, cat_ids, cat_index = _category_arrays(TABLE_DOC["categories"])
    n = len(TABLE_DOC["annotations"])
    rows = np.arange(n, dtype=np.int64)
    bounds, valid, ids, category, iscrowd, area = s.tables(rows, cat_ids, cat_index, is_gt)
    assert valid == [bool(v) for v in (GT_VALID if is_gt else PRED_VALID)]
    ref = _core.segment_tables(TABLE_DOC["annotations"], index_of, is_gt)
    assert list(ref[1]) == valid
    assert bounds.dtype == np.int64 and same(bounds, ref[0])
    end = int(bounds[-1])  # (rows past it are not written)
    for x, y in zip((ids, category, iscrowd, area), ref[2:]):
        assert same(x[:end], y[:end])
    if is_gt:
        assert same(area[:3], np.array([12, 2.5, 1e-300]))
    else:
        assert np.isnan(area[:end]).all()
    assert same(category[:3], np.array([1, 0, 2], np.int32))
    assert same(iscrowd[:3], np.array([0, 1, 0], np.uint8))
    assert same(ids[:3], np.array([5, MAX_ID, 1], np.uint32))


def test_tables_of_some_annotations_in_any_order():
    s = scan(json.dumps(TABLE_DOC).encode())
    _, cat_ids, cat_index = _category_arrays(TABLE_DOC["categories"])
    rows = [14, 1, 0, 0, 5]
    out = s.tables(np.array(rows, np.int64), cat_ids, cat_index, False)
    index_of = Categories(TABLE_DOC["categories"]).index_of
    ref = _core.segment_tables([TABLE_DOC["annotations"][r] for r in rows], index_of, False)
    assert list(ref[1]) == out[1] == [True, True, True, True, False]
    end = int(ref[0][-1])
    for x, y in zip(out[2:], ref[2:]):
        assert same(x[:end], y[:end])
    assert same(out[0], ref[0])
    empty = s.tables(np.array([], np.int64), cat_ids, cat_index, True)
    assert same(empty[0], np.array([0], np.int64)) and empty[1] == [] and len(empty[2]) == 0
    with pytest.raises(ValueError):
        s.tables(np.array([15], np.int64), cat_ids, cat_index, True)
    with pytest.raises(ValueError):
        s.tables(np.array([-1], np.int64), cat_ids, cat_index, True)
    with pytest.raises(ValueError):  # category ids not ascending
        s.tables(np.array([0], np.int64), cat_ids[::-1].copy(), cat_index, True)
    with pytest.raises(ValueError):
        s.tables(np.array([0], np.int64), cat_ids, cat_index[:1].copy(), True)
    # no categories: only empty annotations are valid
    none = s.tables(np.array([0, 1], np.int64), np.array([], np.int64),
                    np.array([], np.int32), True)
    assert none[1] == [False, True]


# ---------------------------------------------------------------------------------------------
# 2. equivalence through EvaluationJob on real files
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("scan"), n_images=7, height=(30, 44),
                        width=(40, 56), seed=3)


def _load(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def _write(path, obj, style=0):
    path = Path(path)
    if style == 0:
        data = json.dumps(obj).encode()
    elif style == 1:
        data = orjson.dumps(obj)
    elif style == 2:
        data = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
    elif style == 3:
        data = json.dumps(obj, indent="\t", separators=(" ,", " : ")).encode()
    else:
        data = json.dumps(obj, separators=(",\r\n", ":")).encode()
    path.write_bytes(data)
    return str(path)


def _variant(dataset, tmp_path, gt_fn=None, pred_fn=None, style=0):
    gt, pred = _load(dataset.gt_json), _load(dataset.pred_json)
    if gt_fn is not None:
        gt_fn(gt)  # (in place)
    if pred_fn is not None:
        pred_fn(pred)
    return (_write(tmp_path / "gt.json", gt, style), _write(tmp_path / "pred.json", pred, style))


@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
@pytest.mark.parametrize("style", range(5))
def test_synthetic_dataset_same_job_and_results(dataset, tmp_path, style, iou_type):
    def gt_fn(gt):
        gt["annotations"][1]["segments_info"][0]["iscrowd"] = 1
        gt["annotations"][2]["extra"] = {"nested": [[{"a": None}]], "e": "\n\\"}
        gt["info"] = {"year": 2024}
        gt["annotations"][0]["segments_info"][0]["area"] = float(
            gt["annotations"][0]["segments_info"][0]["area"])

    def pred_fn(pred):
        pred["annotations"].reverse()  # pairs follow the GT's order
        pred["annotations"].append({"image_id": 999, "file_name": "none.png",
                                    "segments_info": [{"id": 0, "category_id": -5}]})
        for k, ann in enumerate(pred["annotations"]):
            for seg in ann["segments_info"]:
                if k % 3 == 0:
                    seg.pop("area", None)
                elif k % 3 == 1:
                    seg["area"] = 12.5
    gt_json, pred_json = _variant(dataset, tmp_path, gt_fn, pred_fn, style)
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder, iou_type=iou_type)
    scanned = build(gt_json, pred_json, **kw)
    parsed = build(gt_json, pred_json, scanned=False, **kw)
    assert scanned._scanned is not None
    assert_same_job(scanned, parsed, check_pairs=False)
    assert_same_evaluation(scanned, parsed)
    assert scanned._pairs is None  # evaluation did not need the parsed pairs
    assert same(scanned.pairs, parsed.pairs)
    assert scanned.n_images == 7


@pytest.mark.parametrize("iou_type", ["segm", "boundary"])
def test_coco_sample_same_job_and_results(sample_copy, iou_type):
    gt_json, pred_json = sample_copy / "gt.json", sample_copy / "pred.json"
    scanned = build(gt_json, pred_json, iou_type=iou_type)
    parsed = build(gt_json, pred_json, scanned=False, iou_type=iou_type)
    assert scanned._scanned is not None and parsed._scanned is None
    assert_same_job(scanned, parsed)
    assert scanned.sizes and len(scanned.categories) == 133
    assert_same_evaluation(scanned, parsed)


def test_gt_area_json_mode_same_results(dataset, tmp_path):
    def gt_fn(gt):
        gt["annotations"][0]["segments_info"][0]["area"] += 3
    gt_json, pred_json = _variant(dataset, tmp_path, gt_fn)
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder, gt_area="json")
    scanned, parsed = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False,
                                                             **kw)
    assert scanned._scanned is not None
    assert_same_job(scanned, parsed)
    assert_same_evaluation(scanned, parsed)
    assert scanned.evaluate_chunk(workers=1).stats.n_area_mismatch == 1
    # ... and the default mode: the same error
    kw.pop("gt_area")
    a, b = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)
    assert a._scanned is not None
    ca, cb = chunk_outcome(a), chunk_outcome(b)
    assert isinstance(ca, tuple) and ca[1] is PanopticFormatError
    assert_same_chunks(ca, cb)


# ---------------------------------------------------------------------------------------------
# 3. fallbacks: what the scan declines or the checks refuse behaves as before
# ---------------------------------------------------------------------------------------------

def _dup_gt(gt):
    gt["annotations"].append(dict(gt["annotations"][2]))


def _dup_pred(pred):
    pred["annotations"].insert(0, dict(pred["annotations"][4]))


def _drop_pred(pred):
    del pred["annotations"][3]


def _gt_area(value):
    def fn(gt):
        gt["annotations"][2]["segments_info"][1]["area"] = value
    return fn


def _seg(side_key, value, k=2, s=0):
    def fn(doc):
        doc["annotations"][k]["segments_info"][s][side_key] = value
    return fn


def _images(fn):
    def out(gt):
        fn(gt["images"])
    return out


def _only_height(images):
    del images[1]["width"]


def _string_ids(doc):
    for ann in doc["annotations"]:
        ann["image_id"] = "img-%s" % ann["image_id"]
    for im in doc.get("images", []):
        im["id"] = "img-%s" % im["id"]


def _non_ascii_name(gt):
    gt["categories"][3]["name"] = "caf\u00e9"


def _set(key, value):
    def fn(doc):
        if value is KeyError:
            doc.pop(key)
        else:
            doc[key] = value
    return fn


ERRORS = {  # (gt_fn, pred_fn, kwargs, a piece of the message)
    "duplicate image_id in GT": (_dup_gt, None, {}, "image has more than one annotation"),
    "duplicate image_id in pred": (None, _dup_pred, {}, "image has more than one annotation"),
    "GT image without prediction": (None, _drop_pred, {}, "no prediction for this ground-truth"),
    "size over max_pixels": (None, None, {"max_pixels": 1000}, "more than the 1000 pixels"),
    "images entry with only height": (_images(_only_height), None, {},
                                      "'width' in 'images' must be a positive integer"),
    "images height 0": (_images(lambda im: im[0].update(height=0)), None, {},
                        "'height' in 'images' must be a positive integer"),
    "images height 1.5": (_images(lambda im: im[0].update(height=1.5)), None, {},
                          "'height' in 'images' must be a positive integer"),
    "images entry without id": (_images(lambda im: im[0].pop("id")), None, {},
                                "images[0] is not an object with an 'id'"),
    "images not a list": (_set("images", {"id": 1}), None, {}, "'images' is not a list"),
    "no categories": (_set("categories", KeyError), None, {}, "no 'categories' list"),
    "categories an object": (_set("categories", {"id": 1}), None, {}, "no 'categories' list"),
    "categories empty": (_set("categories", []), None, {}, "'categories' is empty"),
    "category id twice": (lambda gt: gt["categories"].append(dict(gt["categories"][0])), None,
                          {}, "appears twice"),
    "category id a string": (lambda gt: gt["categories"][0].update(id="1"), None, {},
                             "is not an integer"),
    "category id 2^63": (lambda gt: gt["categories"][0].update(id=2 ** 63), None, {},
                         "signed 64-bit range"),
    "no annotations in pred": (None, _set("annotations", KeyError), {}, "no 'annotations' list"),
    "pred annotations an object": (None, _set("annotations", {}), {}, "no 'annotations' list"),
    "GT image_id a float": (lambda gt: gt["annotations"][0].update(image_id=1.0), None, {},
                            "is not an integer or a string"),
    "pred file_name empty": (None, lambda p: p["annotations"][0].update(file_name=""), {},
                             "is not a file name"),
    "pred segments_info null": (None, lambda p: p["annotations"][0].update(segments_info=None),
                                {}, "'segments_info' is not a list"),
    "missing GT folder": (None, None, {"gt_folder": "/nonexistent/gt"},
                          "folder with ground truth segmentations does not exist"),
    "missing pred folder": (None, None, {"pred_folder": "/nonexistent/pred"},
                            "folder with prediction segmentations does not exist"),
}


def _build_both(dataset, tmp_path, gt_fn, pred_fn, kw, style=0):
    gt_json, pred_json = _variant(dataset, tmp_path, gt_fn, pred_fn, style)
    kw = dict(dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder), **kw)
    return build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)


@pytest.mark.parametrize("name", list(ERRORS))
def test_refused_files_give_the_same_error(dataset, tmp_path, name):
    gt_fn, pred_fn, kw, message = ERRORS[name]
    a, b = _build_both(dataset, tmp_path, gt_fn, pred_fn, kw)
    assert isinstance(b, tuple) and b[1] is PanopticFormatError and message in b[2], b
    assert a == b


def test_malformed_json_gives_the_same_error(dataset, tmp_path):
    for gt_text, pred_text in (('{"annotations": [', None), (None, "[1, 2"),
                               (None, '{"annotations": []} x'), ("[]", None),
                               ('{"annotations": [], "categories": [{"id": 1, "isthing": 1}],}',
                                None)):
        gt_json = tmp_path / "gt.json"
        pred_json = tmp_path / "pred.json"
        gt_json.write_text(gt_text if gt_text is not None else
                           Path(dataset.gt_json).read_text())
        pred_json.write_text(pred_text if pred_text is not None else
                             Path(dataset.pred_json).read_text())
        kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
        a, b = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)
        assert isinstance(b, tuple) and b[1] is PanopticFormatError
        assert a == b


ACCEPTED_BY_PARSED = {  # (gt_fn, pred_fn, scan path taken[, style of _write])
    "string image ids": (_string_ids, _string_ids, False),
    "escaped file names": ("escape", "escape", False),
    "pred area null": (None, _seg("area", None, 4), False),
    "pred area a string": (None, _seg("area", "x", 4), False),
    "pred iscrowd 1.0": (None, _seg("iscrowd", 1.0, 4), False),
    "GT iscrowd true": (_seg("iscrowd", True, 4), None, False),
    "GT area 1.0e2 as float": (None, None, True),
    "non-ASCII category name": (_non_ascii_name, None, False, 1),  # (UTF-8)
    "escaped non-ASCII category name": (_non_ascii_name, None, True, 0),  # (\u00e9)
    "images with string ids and sizes": (_images(lambda im: [i.update(id=str(i["id"]))
                                                             for i in im]), None, True),
    "images without sizes": (_images(lambda im: [(i.pop("height"), i.pop("width"))
                                                 for i in im]), None, True),
    "images absent": (_set("images", KeyError), None, True),
    "images null": (_set("images", None), None, True),
    "pred categories absent": (None, _set("categories", KeyError), True),
    "pred categories an object": (None, _set("categories", {}), True),
    "extra pred image with broken segments": (
        None, lambda p: p["annotations"].append(
            {"image_id": 12345, "file_name": "zz.png",
             "segments_info": [{"id": 0, "category_id": 987654321, "iscrowd": 7}]}), True),
}


@pytest.mark.parametrize("name", list(ACCEPTED_BY_PARSED))
def test_unusual_files_evaluate_the_same(dataset, tmp_path, name):
    gt_fn, pred_fn, scanned_path, *style = ACCEPTED_BY_PARSED[name]
    if gt_fn == "escape":
        gt_json, pred_json = _variant(dataset, tmp_path)
        for path in (gt_json, pred_json):
            text = Path(path).read_text().replace('.png"', '\\u002epng"', 3)
            Path(path).write_text(text)
        kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
        a, b = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)
    else:
        a, b = _build_both(dataset, tmp_path, gt_fn, pred_fn, {}, *style)
    assert not isinstance(b, tuple), b
    assert (a._scanned is not None) == scanned_path
    assert_same_job(a, b)
    assert_same_evaluation(a, b)


SEGMENT_ERRORS = {  # constructed by both, the same error when evaluated
    "GT area 0": (_gt_area(0), None, "GT 'area' must be a positive number, got 0"),
    "GT area negative": (_gt_area(-1.5), None, "GT 'area' must be a positive number"),
    "GT area missing": (lambda gt: gt["annotations"][2]["segments_info"][1].pop("area"), None,
                        "GT 'area' must be a positive number"),
    "GT area 1e400": ("area1e400", None, "GT 'area' must be a positive number"),
    "unknown category in pred": (None, _seg("category_id", 987654, 3), "unknown category_id"),
    "unknown category in GT": (_seg("category_id", -7, 3), None, "unknown category_id"),
    "pred id 0": (None, _seg("id", 0, 1), "id must lie in"),
    "GT id 2^24": (_seg("id", MAX_ID + 1, 1), None, "id must lie in"),
    "pred iscrowd 2": (None, _seg("iscrowd", 2, 5), "iscrowd must be 0 or 1"),
    "GT duplicate id": (lambda gt: gt["annotations"][5]["segments_info"].append(
        dict(gt["annotations"][5]["segments_info"][0])), None, "duplicate segment id"),
    "pred id 1.0": (None, _seg("id", 1.0, 2), "has no integer 'id'"),
}


@pytest.mark.parametrize("name", list(SEGMENT_ERRORS))
def test_bad_segments_fail_the_same_when_evaluated(dataset, tmp_path, name):
    gt_fn, pred_fn, message = SEGMENT_ERRORS[name]
    if gt_fn == "area1e400":
        gt_json, pred_json = _variant(dataset, tmp_path)
        gt = _load(gt_json)
        area = gt["annotations"][2]["segments_info"][1]["area"]
        text = Path(gt_json).read_text().replace('"area": %d' % area, '"area": 1e400', 1)
        assert text != Path(gt_json).read_text()
        Path(gt_json).write_text(text)
        kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
        a, b = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)
    else:
        a, b = _build_both(dataset, tmp_path, gt_fn, pred_fn, {})
    assert not isinstance(a, tuple) and not isinstance(b, tuple)
    assert a._scanned is None  # the tables' checks refused it
    assert_same_job(a, b)
    ca, cb = chunk_outcome(a, keep=False), chunk_outcome(b, keep=False)
    assert isinstance(cb, tuple) and message in cb[2], cb
    assert ca == cb


def test_max_pixels_below_int64_gives_the_same_error(dataset, tmp_path):
    # max_pixels is only compared with the 'images' sizes: a negative one refuses them all
    a, b = _build_both(dataset, tmp_path, None, None, {"max_pixels": -5})
    assert isinstance(b, tuple) and "more than the -5 pixels" in b[2]
    assert a == b


def test_max_pixels_beyond_int64_gives_the_same_error(dataset, tmp_path):
    a, b = _build_both(dataset, tmp_path, None, None, {"max_pixels": -2 ** 70})
    assert isinstance(b, tuple) and b[1] is PanopticFormatError
    assert a == b


def test_max_pixels_above_int64(dataset, tmp_path):
    a, b = _build_both(dataset, tmp_path, None, None, {"max_pixels": 2 ** 70})
    assert a._scanned is not None
    assert_same_job(a, b)


# ---------------------------------------------------------------------------------------------
# 4. pairs, subsets, pickling
# ---------------------------------------------------------------------------------------------

SUBSETS = [(0, 7), (2, 5), (0, 0), (5, 2), (-3, None), (None, 2), (3, 100), (10, 20), (-100, 3),
           (6, 7)]


@pytest.fixture
def both_jobs(dataset, tmp_path):
    def pred_fn(pred):
        pred["annotations"].reverse()
        pred["annotations"][0]["note"] = [1, {"x": None}]
    gt_json, pred_json = _variant(dataset, tmp_path, None, pred_fn, style=2)
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
    a, b = build(gt_json, pred_json, **kw), build(gt_json, pred_json, scanned=False, **kw)
    assert a._scanned is not None
    return a, b


def test_pairs_are_the_parsed_dicts(both_jobs):
    a, b = both_jobs
    assert a._pairs is None
    assert a.n_images == b.n_images == 7
    assert same(a.pairs, b.pairs)
    assert [g["image_id"] for g, _ in a.pairs] == list(range(1, 8))
    assert a.pairs[6][1]["note"] == [1, {"x": None}]


@pytest.mark.parametrize("pairs_first", [False, True])
@pytest.mark.parametrize("start, stop", SUBSETS)
def test_subset_pairs_and_results(both_jobs, start, stop, pairs_first):
    a, b = both_jobs
    if pairs_first:
        a.pairs
    sa, sb = a.subset(start, stop), b.subset(start, stop)
    assert sa.n_images == sb.n_images == len(b.pairs[start:stop])
    assert_same_chunks(chunk_outcome(sa, keep=True), chunk_outcome(sb, keep=True))
    assert same(sa.pairs, sb.pairs)
    assert same(sa.pairs, b.pairs[start:stop])
    # and a subset of the subset, and the pickled subset
    ssa, ssb = sa.subset(1, -1), sb.subset(1, -1)
    assert same(ssa.pairs, ssb.pairs) and ssa.n_images == ssb.n_images
    pa = pickle.loads(pickle.dumps(sa))
    assert pa.n_images == sb.n_images
    assert same(pa.pairs, sb.pairs)
    assert_same_chunks(chunk_outcome(pa, keep=True), chunk_outcome(sb, keep=True))


def test_pickled_job(both_jobs):
    a, b = both_jobs
    data = pickle.dumps(a)
    assert b"segments_info" not in data  # the scanned job does not carry the JSON files
    pa, pb = pickle.loads(data), pickle.loads(pickle.dumps(b))
    assert pa._scanned is not None
    assert pa.n_images == pb.n_images == 7
    assert_same_job(pa, pb)
    sa, sb = pa.subset(1, 4), pb.subset(1, 4)
    assert same(sa.pairs, sb.pairs)
    assert_same_chunks(chunk_outcome(sa, keep=True), chunk_outcome(sb, keep=True))
    pa2 = pickle.loads(pickle.dumps(pickle.loads(data).subset(2, 6)))
    assert same(pa2.pairs, b.pairs[2:6])
    assert_same_chunks(chunk_outcome(pa2, start=1, stop=3, keep=True),
                       chunk_outcome(b.subset(2, 6), start=1, stop=3, keep=True))


def test_evaluate_chunk_ranges(both_jobs):
    a, b = both_jobs
    for start, stop in ((0, None), (2, 5), (5, 2), (-2, None)):
        assert_same_chunks(chunk_outcome(a, start=start, stop=stop, keep=True),
                           chunk_outcome(b, start=start, stop=stop, keep=True))


def test_pairs_setter_leaves_the_scan(both_jobs):
    a, b = both_jobs
    a.pairs = b.pairs[:3]
    assert a._scanned is None and a.n_images == 3
    assert_same_chunks(chunk_outcome(a, keep=True), chunk_outcome(b.subset(0, 3), keep=True))


# ---------------------------------------------------------------------------------------------
# 5. random documents: the scanned job equals the parsed one, or both fail alike
# ---------------------------------------------------------------------------------------------

class Raw:
    """A literal written as is."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Raw({self.text!r})"


WS = ["", "", "", " ", "\n", "\t", "\r\n", "  "]
NUMBERS = ["12", "12.5", "1.25e2", "1E1", "-0", "0", "-0.0", "3e-2", "1e400", "-3", "7",
           "999999999999999", "1000000000000000", "2.5E+1", "1e-400", "5e-324"]


def render(value, rnd, dup_keys, ascii_only=True):
    def ws():
        return rnd.choice(WS) if rnd.random() < 0.3 else ""

    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = list(value.items())
        if dup_keys and items and rnd.random() < 0.05:
            items.append(rnd.choice(items))
        return "{" + ws() + ",".join(
            ws() + json.dumps(k) + ws() + ":" + ws() + render(v, rnd, dup_keys, ascii_only) + ws()
            for k, v in items) + ws() + "}"
    if isinstance(value, list):
        return "[" + ws() + ",".join(ws() + render(v, rnd, dup_keys, ascii_only) + ws()
                                     for v in value) + ws() + "]"
    return json.dumps(value, ensure_ascii=ascii_only or rnd.random() < 0.5)


def has_raw(value):
    if isinstance(value, Raw):
        return True
    if isinstance(value, dict):
        return any(has_raw(v) for v in value.values())
    if isinstance(value, list):
        return any(has_raw(v) for v in value)
    return False


class Gen:
    """Random documents: ``wild`` (0..1) is how often a field takes an unusual form."""

    def __init__(self, seed, wild):
        self.r = random.Random(seed)
        self.wild = wild

    def odd(self, weight=1.0):
        return self.r.random() < self.wild * weight

    def pick(self, common, *rare, weight=1.0):
        return self.r.choice(rare) if self.odd(weight) else common

    def nested(self, depth=0):
        r = self.r
        k = r.randrange(7 if depth < 3 else 5)
        if k == 5:
            return [self.nested(depth + 1) for _ in range(r.randrange(3))]
        if k == 6:
            return {r.choice(["a", "b", "id", "area"]): self.nested(depth + 1)
                    for _ in range(r.randrange(3))}
        return r.choice([None, True, False, r.randrange(-10, 10), "", "x", "\\", "\x01",
                         self.pick("y", "\u00e9"), Raw(r.choice(NUMBERS))])

    def segment(self, cat_ids):
        r, seg = self.r, {}
        keys = ["id", "category_id", "iscrowd", "area", "bbox", "extra"]
        r.shuffle(keys)
        for key in keys:
            if key == "id" and not self.odd(0.1):
                seg["id"] = self.pick(r.randrange(1, 40), 0, -1, MAX_ID, MAX_ID + 1, True,
                                      Raw("-0"), Raw("1.0"), Raw("2e0"), "3", None, 2 ** 40)
            elif key == "category_id" and not self.odd(0.1):
                seg["category_id"] = self.pick(r.choice(cat_ids), 4, 1.0, None, Raw("-0"),
                                               Raw("1e0"), 2 ** 63)
            elif key == "iscrowd" and r.random() < 0.5:
                seg["iscrowd"] = self.pick(r.choice([0, 1]), 2, -1, True, Raw("1.0"),
                                           Raw("-0"))
            elif key == "area" and not self.odd(0.1):
                seg["area"] = self.pick(r.choice([r.randrange(1, 10 ** 6), Raw("12.5"),
                                                  Raw("1.25e2"), Raw("1E1"), Raw("2.5E+1"),
                                                  Raw("3e-2"), 0.1, 1e-300,
                                                  Raw("999999999999999")]),
                                        *[Raw(n) for n in NUMBERS], None, "5")
            elif key == "bbox" and r.random() < 0.5:
                seg["bbox"] = [r.randrange(10) for _ in range(4)]
            elif key == "extra" and self.odd(0.5):
                seg[r.choice(["note", "i\\u0064", "\u00e9"])] = self.nested()
        return seg

    def document(self, image_ids, cat_ids, gt):
        r, anns = self.r, []
        for image_id in image_ids:
            ann = {}
            keys = ["image_id", "file_name", "segments_info", "x"]
            r.shuffle(keys)
            for key in keys:
                if key == "image_id" and not self.odd(0.05):
                    ann["image_id"] = self.pick(image_id, Raw("1.0"), str(image_id),
                                                Raw("1000000000000000"), None,
                                                Raw("%d.0" % image_id), Raw("-0"),
                                                weight=0.3)
                elif key == "file_name" and not self.odd(0.05):
                    ann["file_name"] = self.pick("%d.png" % image_id, "", "a/b.png", 5, None,
                                                 "\u00e9.png", Raw('"a\\u0062.png"'),
                                                 Raw('"a\\/b.png"'), "x y.png", weight=0.3)
                elif key == "segments_info" and not self.odd(0.05):
                    ann["segments_info"] = self.pick(
                        [self.segment(cat_ids) for _ in range(r.randrange(4))],
                        None, {}, [1], "x", weight=0.1)
                elif key == "x" and self.odd(0.5):
                    ann["x"] = self.nested()
            anns.append(ann)
        doc = {}
        keys = ["info", "images", "annotations", "categories"]
        r.shuffle(keys)
        for key in keys:
            if key == "annotations" and not self.odd(0.03):
                doc["annotations"] = anns
            elif key == "categories" and (gt and not self.odd(0.05) or not gt and
                                          r.random() < 0.5):
                cats = [{"id": c, "isthing": r.choice([0, 1]),
                         "name": self.pick("c", "\u00e9", Raw('"\\u0063"'))} for c in cat_ids]
                if self.odd(0.05):
                    cats.append(dict(cats[0]))
                doc["categories"] = cats
            elif key == "images" and r.random() < 0.6:
                images = []
                for image_id in image_ids:
                    im = {"id": self.pick(image_id, str(image_id), weight=0.1)}
                    if r.random() < 0.8:
                        im["height"] = self.pick(r.randrange(1, 50), 0, -4, 2.0, Raw("-0"),
                                                 None, weight=0.2)
                    if r.random() < 0.8:
                        im["width"] = self.pick(r.randrange(1, 50), 0, 3.0, None, weight=0.2)
                    images.append(im)
                doc["images"] = self.pick(images, {"id": 1}, None, weight=0.05)
            elif key == "info" and r.random() < 0.5:
                doc["info"] = self.nested()
        return doc


@st.composite
def pairs_of_documents(draw):
    gen = Gen(draw(st.integers(0, 2 ** 32)), draw(st.sampled_from([0.0, 0.03, 0.1, 0.3, 1.0])))
    r = gen.r
    cat_ids = r.sample([1, 2, 3, 7, 40, -2, 0, 10 ** 12], r.randrange(1, 5))
    gt_ids = [r.randrange(1, 7) for _ in range(r.randrange(5))]
    if not gen.odd(0.5):
        gt_ids = list(dict.fromkeys(gt_ids))  # mostly distinct
    pred_ids = list(gt_ids)
    if gen.odd(0.3) and pred_ids:
        pred_ids.pop(r.randrange(len(pred_ids)))
    r.shuffle(pred_ids)
    pred_ids += [r.randrange(7, 10) for _ in range(r.randrange(3))]
    return gen.document(gt_ids, cat_ids, True), gen.document(pred_ids, cat_ids, False)


def write_document(path, doc, rnd):
    if not has_raw(doc) and rnd.random() < 0.4:
        k = rnd.randrange(4)
        if k == 0:
            data = orjson.dumps(doc)
        elif k == 1:
            data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
        elif k == 2:
            data = json.dumps(doc, ensure_ascii=False, indent=rnd.choice([None, 1, "\t"]),
                              separators=rnd.choice([(",", ":"), (", ", ": "), (" , ", " :\n")])
                              ).encode()
        else:
            data = json.dumps(doc).encode()
    else:
        data = (rnd.choice(WS) + render(doc, rnd, rnd.random() < 0.15, rnd.random() < 0.8) +
                rnd.choice(WS)).encode()
    with open(path, "wb") as f:
        f.write(data)
    return data


def check_scan_against_parse(data):
    """Direct property: what the scan accepts reads as the parse."""
    s = scan(data)
    if s is None:
        return None
    doc = json.loads(data)
    assert isinstance(doc, dict) and isinstance(doc["annotations"], list)
    anns = doc["annotations"]
    assert same(s.image_ids, [a["image_id"] for a in anns])
    assert same(s.file_names, [a["file_name"] for a in anns])
    for key, raw in (("images", s.images), ("categories", s.categories)):
        assert (raw is None) == (key not in doc)
        if raw is not None:
            assert same(json.loads(raw), doc[key])
    sizes = s.image_sizes(600)
    if sizes is not None:
        assert same(sizes, image_sizes(doc, "x", 600))
    try:
        categories = Categories(doc.get("categories") or [], source="x")
    except PanopticFormatError:
        return s
    index_of, cat_ids, cat_index = _category_arrays(categories.entries)
    rows = np.arange(len(anns), dtype=np.int64)
    for is_gt in (True, False):
        out = s.tables(rows, cat_ids, cat_index, is_gt)
        ref = _core.segment_tables(anns, index_of, is_gt)
        assert out[1] == list(ref[1])
        assert same(out[0], ref[0])
        end = int(ref[0][-1])  # (rows past it are not written)
        for x, y in zip(out[2:], ref[2:]):
            assert same(x[:end], y[:end])
    return s


_TMP = tempfile.mkdtemp(prefix="panoseg-test-json-scan-")
os.makedirs(os.path.join(_TMP, "gt"), exist_ok=True)
os.makedirs(os.path.join(_TMP, "pred"), exist_ok=True)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pairs_of_documents(), st.integers(0, 2 ** 32))
def test_random_documents(docs, format_seed):
    gt, pred = docs
    rnd = random.Random(format_seed)
    gt_json, pred_json = os.path.join(_TMP, "gt.json"), os.path.join(_TMP, "pred.json")
    gt_data = write_document(gt_json, gt, rnd)
    pred_data = write_document(pred_json, pred, rnd)
    gs, ps = check_scan_against_parse(gt_data), check_scan_against_parse(pred_data)
    event("GT scanned" if gs is not None else "GT declined")
    event("pred scanned" if ps is not None else "pred declined")
    kw = dict(max_pixels=rnd.choice([600, 10 ** 8]))
    a = build(gt_json, pred_json, **kw)
    b = build(gt_json, pred_json, scanned=False, **kw)
    event("error" if isinstance(b, tuple) else
          "job scanned" if a._scanned is not None else "job parsed")
    assert_same_outcome(a, b)


def teardown_module(module):
    shutil.rmtree(_TMP, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the review's cases: file order of errors, kept bytes, changed files, pickles
# ---------------------------------------------------------------------------------------------


def test_a_bad_gt_is_reported_before_a_missing_prediction_file(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text('{"annotations": [')
    a = build(gt, tmp_path / "missing.json", tmp_path, tmp_path)
    b = build(gt, tmp_path / "missing.json", tmp_path, tmp_path, scanned=False)
    assert a == b and "gt.json" in a[2] and "malformed JSON" in a[2]


def test_pairs_of_a_subset_come_from_the_bytes_read(dataset, tmp_path):
    gt_json, pred_json = _variant(dataset, tmp_path, None, None, 0)
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
    job = build(gt_json, pred_json, **kw)
    ref = build(gt_json, pred_json, scanned=False, **kw)
    assert job._scanned is not None
    os.remove(gt_json)
    os.remove(pred_json)  # (a pipe could not be read twice either)
    assert same(job.subset(2, 5).pairs, ref.pairs[2:5])
    assert same(job.subset(1, 6).subset(1, 3).pairs, ref.pairs[2:4])


@pytest.mark.parametrize("side, change", [
    ("gt", lambda d: d["annotations"][0].update(file_name="other.png")),
    ("pred", lambda d: d["annotations"][-1]["segments_info"].pop()),
    ("pred", lambda d: d["annotations"][1]["segments_info"][0].update(iscrowd=1)),
    ("gt", lambda d: d["annotations"].pop()),
])
def test_pairs_after_the_file_changed_is_an_error(dataset, tmp_path, side, change):
    gt_json, pred_json = _variant(dataset, tmp_path, None, None, 0)
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
    job = pickle.loads(pickle.dumps(build(gt_json, pred_json, **kw)))  # (no bytes kept)
    assert same(job.subset(1, 4).pairs, build(gt_json, pred_json, scanned=False,
                                              **kw).pairs[1:4])  # unchanged: read again, same
    path = gt_json if side == "gt" else pred_json
    data = json.loads(Path(path).read_text())
    change(data)
    Path(path).write_text(json.dumps(data))
    with pytest.raises(PanopticFormatError, match="changed since the evaluation read it") as e:
        job.pairs
    assert e.value.file == str(path)


def test_an_unreadable_prediction_pipe_is_not_read_twice(tmp_path, monkeypatch):
    # Its read fails once (here: over the size limit); the error is raised after the GT's
    # checks, not by reading the pipe again (which would find it drained).
    import panoseg.evaluation.job as job_module
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"annotations": [], "categories": []}))
    calls = []

    def read(path, _real=job_module.read_json_bytes):
        calls.append(os.path.basename(path))
        if path.endswith("pred.json"):
            raise PanopticFormatError("more than the limit", file=path)
        return _real(path)
    monkeypatch.setattr(job_module, "read_json_bytes", read)
    with pytest.raises(PanopticFormatError, match="more than the limit"):
        EvaluationJob(gt, tmp_path / "pred.json", tmp_path, tmp_path)
    assert calls == ["gt.json", "pred.json"]
    gt.write_text("{")  # a bad GT is still reported first
    with pytest.raises(PanopticFormatError, match="malformed JSON"):
        EvaluationJob(gt, tmp_path / "pred.json", tmp_path, tmp_path)


def test_pickles_carry_no_json_bytes(dataset, tmp_path):
    def gt_fn(gt):  # string image ids: the parsed path
        for key in ("annotations", "images"):
            for entry in gt[key]:
                entry["image_id" if key == "annotations" else "id"] = \
                    str(entry["image_id" if key == "annotations" else "id"])

    def pred_fn(pred):
        for ann in pred["annotations"]:
            ann["image_id"] = str(ann["image_id"])
    kw = dict(gt_folder=dataset.gt_folder, pred_folder=dataset.pred_folder)
    for fns in ((None, None), (gt_fn, pred_fn)):
        job = build(*_variant(dataset, tmp_path, *fns, 0), **kw)
        assert (job._scanned is None) is (fns[0] is not None)
        data = pickle.dumps(job.subset(0, 1))
        assert b'"segments_info"' not in data  # (JSON text: the files' bytes)
        assert pickle.loads(data)._json_data == (None, None)
