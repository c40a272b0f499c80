"""The core's reader of a merge's results files (``_core.scan_merge_results``,
csrc/merge/results_scan) and its grouping by image: whatever it accepts reads as the stdlib
parser reads it; anything outside its subset is declined (None), for the Python path."""
import array
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panoseg import _core
from panoseg.testing.merge_results import parsed_results_entries

# The characters of COCO's compressed RLE counts (48..111): '\\' among them, escaped in JSON.
RLE_CHARS = "".join(chr(c) for c in range(48, 112))


def scan(doc, with_score=True):
    return _core.scan_merge_results(doc if isinstance(doc, bytes) else doc.encode(), with_score)


def expected(doc, with_score=True) -> list:
    """The entries as the stdlib parser reads the document (the reference)."""
    return parsed_results_entries(doc, with_score)


def result(image_id=1, category_id=3, score=0.5, counts="0<", size=(4, 3)):
    r = {"image_id": image_id, "category_id": category_id,
         "segmentation": {"size": list(size), "counts": counts}}
    if score is not None:
        r["score"] = score
    return r


def test_reads_the_fields_of_both_forms():
    results = [result(), result("im 2", 5, 1e-3, "ab\\c", (4, 5)),
               result(7, 9, 1.0, RLE_CHARS, (1, 1))]
    for doc in (json.dumps(results), json.dumps({"info": {"x": [1, "y"]}, "annotations": results}),
                json.dumps(results, indent=3), json.dumps(results, separators=(",", ":"))):
        s = scan(doc)
        assert s is not None and len(s) == 3
        assert s.entries() == expected(doc)
        assert [type(e[0]) for e in s.entries()] == [int, str, int]


def test_semantic_results_need_no_score_and_skip_one():
    doc = json.dumps([result(score=None), dict(result(), score="anything")])
    assert scan(doc, with_score=True) is None
    assert scan(doc, with_score=False).entries() == expected(doc, with_score=False)


def test_escapes_in_counts_are_decoded():
    doc = '[{"image_id": 1, "category_id": 2, "score": 0.5, "segmentation": ' \
          '{"size": [1, 2], "counts": "a\\\\b\\/c\\u0041\\"\\n"}}]'
    assert scan(doc).entries() == [(1, 2, 0.5, [1, 2], 'a\\b/cA"\n')]
    assert scan(doc).entries() == expected(doc)


@pytest.mark.parametrize("segmentation", [
    [[1.0, 2.0, 3.0, 4.0]], {"size": [2, 3], "counts": [6]}, {"size": [2, 3]},
    {"counts": "0<"}, {"size": [2, 3, 1], "counts": "0<"}, {"size": [2.0, 3], "counts": "0<"},
    {"size": [2, 3], "counts": "caf\u00e9"}, {"size": [10**16, 3], "counts": "0<"}, None, 7])
def test_other_masks_are_read_as_not_plain(segmentation):
    doc = json.dumps([dict(result(), segmentation=segmentation)])
    s = scan(doc)
    assert s is not None and s.entries() == [(1, 3, 0.5, None, None)]


@pytest.mark.parametrize("doc", [
    "", " ", "{}", '{"annotations": {}}', '{"annotations": [], "annotations": []}',
    '{"annotation\\u0073": []}', "[1]", '["x"]', "[[]]", "[", "[] x", "[],", "[] []",
    '[{"image_id": 1, "category_id": 3, "score": 0.5}]',  # no segmentation
    '[{"category_id": 3, "score": 0.5, "segmentation": null}]',  # no image_id
    '[{"image_id": 1, "score": 0.5, "segmentation": null}]',  # no category_id
    '[{"image_id": 1, "category_id": 3, "segmentation": null}]',  # no score
    '[{"image_id": 1, "image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "score": 0.5, "segmentation": null}]',
    '[{"image_\\u0069d": 1, "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": 1.0, "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": true, "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": "a\\u0062", "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": "\u00e9", "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": 1234567890123456, "category_id": 3, "score": 0.5, "segmentation": null}]',
    '[{"image_id": 1, "category_id": "3", "score": 0.5, "segmentation": null}]',
    '[{"image_id": 1, "category_id": 3, "score": 1, "segmentation": null}]',  # an int score
    '[{"image_id": 1, "category_id": 3, "score": "0.5", "segmentation": null}]',
    '[{"image_id": 1, "category_id": 3, "score": 1e400, "segmentation": null}]',
    '[{"image_id": 1, "category_id": 3, "score": NaN, "segmentation": null}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null, "x": 1' + "0" * 18
    + "}]",
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null, "x": "\\ud800"}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null, "x": "\u00e9"}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null, "x": 01}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": null,}]',
    '[{"image_id": 1, "category_id": 3, "score": 0.5, "segmentation": "a\tb"}]',
    "[" + "[" * 200 + "]" * 200 + "]",
    '\ufeff[]',
])
def test_declined(doc):
    assert scan(doc) is None


@pytest.mark.parametrize("segmentation", [
    '{"size": [4, 3], "counts": "0<", "counts": "1"}',
    '{"size": [1, 1], "size": [4, 3], "counts": "0<"}',
    '{"counts": [1], "counts": "0<", "size": [4, 3]}',
    '{"\\u0073ize": [4, 3], "counts": "0<"}',
    '{"size": [4, 3], "count\\u0073": "0<"}',
    '{"size": [4, 3], "counts": "0<", "x\\n": 1}'])
def test_a_segmentation_repeating_or_escaping_keys_is_declined(segmentation):
    # The stdlib's last value, or an escaped spelling of "size" / "counts", would make another
    # mask of it (a review found the first two read as not plain).
    doc = '[{"image_id": 1, "category_id": 3, "segmentation": %s}]' % segmentation
    json.loads(doc)  # valid JSON
    assert scan(doc, with_score=False) is None


def test_built_without_a_scan_or_grouped_twice_is_an_error():
    with pytest.raises(ValueError, match="scan_merge_results"):
        _core.ScannedMergeResults().group({}, *[array.array(t) for t in "qqqiB"])
    s = scan("[]")
    assert group(s, {1: (4, 3)}, {3: 0})
    with pytest.raises(ValueError, match="grouped already"):
        group(s, {1: (4, 3)}, {3: 0})
    colour, isthing = array.array("I", [1]), array.array("B", [1])
    for a, b in ((None, s), (s, None)):
        with pytest.raises(TypeError):
            _core.merge_scanned_png(4, 3, a, b, 0, colour, isthing, 0.5, 0.0, 0)


def test_empty_lists_are_read():
    assert len(scan("[]")) == 0 and len(scan(' {"annotations" : [ ] } \n')) == 0


def test_a_lone_surrogate_in_a_skipped_field_is_declined_anywhere():
    # orjson refuses it where the stdlib takes it: declined, as the panoptic JSON scan does.
    assert scan('{"info": "\\udc00", "annotations": []}') is None


# ------------------------------------------------------------------------------------------------
# grouping


def group(s, images, categories, things=None, thr=0.0):
    """``s.group`` with images {id: (h, w)} in order and category ids (things: allowed ones)."""
    ids = list(images)
    cats = sorted(categories)
    allowed = [1 if things is None or c in things else 0 for c in cats]
    return s.group({i: k for k, i in enumerate(ids)},
                   array.array("q", [images[i][0] for i in ids]),
                   array.array("q", [images[i][1] for i in ids]), array.array("q", cats),
                   array.array("i", [categories[c] for c in cats]), array.array("B", allowed),
                   thr)


def test_group_sorts_by_score_ties_in_file_order_and_drops_low_scores():
    scores = [0.5, 0.75, 0.75, 0.4999, 1.0, 0.0, 0.5]
    results = [result(image_id=k % 2, score=v, counts="0<" if v >= 0.5 else 7)
               for k, v in enumerate(scores)]
    s = scan(json.dumps(results))
    assert group(s, {0: (4, 3), 1: (4, 3)}, {3: 0}, thr=0.5)
    assert s.rows(0) == [4, 2, 0, 6] and s.scores(0) == [1.0, 0.75, 0.5, 0.5]
    assert s.rows(1) == [1] and s.scores(1) == [0.75]  # 0.4999 and 0.0 dropped
    # the masks follow the rows: a merge of image 1 decodes only its two results
    colour, isthing = array.array("I", [1]), array.array("B", [1])
    sem = scan("[]", False)
    assert group(sem, {0: (4, 3), 1: (4, 3)}, {3: 0})
    png, segments = _core.merge_scanned_png(4, 3, s, sem, 0, colour, isthing, 0.5, 0.0, 0)
    assert [seg[2] for seg in segments] == [0]  # the best wins, the others overlap it whole
    assert png.startswith(b"\x89PNG")


def test_group_keeps_file_order_without_scores():
    results = [result(image_id="b", score=None, category_id=c) for c in (5, 3, 4)]
    s = scan(json.dumps(results), with_score=False)
    assert group(s, {"a": (4, 3), "b": (4, 3)}, {3: 0, 4: 1, 5: 2})
    assert s.rows(0) == [] and s.rows(1) == [0, 1, 2]
    with pytest.raises(ValueError, match="without scores"):
        s.scores(1)


@pytest.mark.parametrize("change, ok", [
    ({}, True),
    ({"image_id": 9}, False),  # not a listed image
    ({"image_id": "1"}, False),  # a str is not the int id
    ({"category_id": 4}, False),  # not allowed (a stuff category for instances)
    ({"category_id": 8}, False),  # unknown
    ({"score": 1.5}, False),
    ({"score": -0.0}, True),  # in [0, 1]; below the threshold: dropped
    ({"score": 0.1, "counts": ""}, True),  # dropped before its mask is looked at
    ({"counts": ""}, False),
    ({"size": (3, 2)}, False),
])
def test_group_checks(change, ok):
    r = result()
    r.update({k: v for k, v in change.items() if k in ("image_id", "category_id", "score")})
    r["segmentation"] = {"size": list(change.get("size", (4, 3))),
                         "counts": change.get("counts", "0<")}
    s = scan(json.dumps([r]))
    assert group(s, {1: (4, 3)}, {3: 0, 4: 1}, things={3}, thr=0.25) is ok


def test_group_needs_plain_masks_only_where_kept():
    bad = dict(result(score=0.9), segmentation=[[1, 2, 3, 4]])
    assert not group(scan(json.dumps([bad])), {1: (4, 3)}, {3: 0})
    assert group(scan(json.dumps([dict(bad, score=0.1)])), {1: (4, 3)}, {3: 0}, thr=0.5)


def test_merge_scanned_png_needs_grouped_results():
    s = scan(json.dumps([result()]))
    colour, isthing = array.array("I", [1]), array.array("B", [1])
    with pytest.raises(ValueError, match="not grouped"):
        _core.merge_scanned_png(4, 3, s, s, 0, colour, isthing, 0.5, 0.0, 0)
    assert group(s, {1: (4, 3)}, {3: 0})
    with pytest.raises(ValueError, match="out of range"):
        _core.merge_scanned_png(4, 3, s, s, 1, colour, isthing, 0.5, 0.0, 0)


# ------------------------------------------------------------------------------------------------
# the property: what the scan takes reads as the stdlib reads it

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**17, 10**17) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3), max_leaves=6)

_segmentations = st.one_of(
    st.builds(lambda h, w, c: {"size": [h, w], "counts": c}, st.integers(1, 10**6),
              st.integers(1, 10**6), st.text(RLE_CHARS, min_size=1, max_size=40)),
    st.builds(lambda c: {"size": [4, 5], "counts": c}, st.text(max_size=8)),
    st.lists(st.lists(st.floats(0, 100), min_size=4, max_size=6), max_size=2),
    _json_values)


_plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**17, 10**17)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(RLE_CHARS, max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text("abcxyz_", max_size=4), children, max_size=3), max_leaves=6)


def _plain(value) -> bool:
    text = json.dumps(value)
    return text.isascii() and "\\u" not in text and "Infinity" not in text \
        and "NaN" not in text and _plain_keys(value)


def _plain_keys(value) -> bool:
    """No key needs an escape (an escaped key inside a segmentation declines the file)."""
    if isinstance(value, dict):
        return all(json.dumps(k) == f'"{k}"' and _plain_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_keys(v) for v in value)
    return True


@st.composite
def _results_documents(draw, plain: bool):
    """Results documents, in any of the forms writers use; ``plain``: within the scan's subset
    (ASCII, keys without escapes, ids plain, finite numbers), else anything valid."""
    with_score = draw(st.booleans())
    ids = st.text("abc 019-_.", max_size=6) if plain else st.text(max_size=6)
    keys = st.text("abcxyz_", max_size=4) if plain else st.text(max_size=4)
    values = _plain_values if plain else _json_values
    scores = st.floats(0, 1) if plain else st.floats(0, 1) | st.floats(allow_nan=False)
    results = []
    for _ in range(draw(st.integers(0, 6))):
        r = {"image_id": draw(st.integers(-10**14, 10**14) | ids),
             "category_id": draw(st.integers(-10**14, 10**14)),
             "segmentation": draw(_segmentations.filter(_plain) if plain else _segmentations)}
        if with_score or (not plain and draw(st.booleans())):
            r["score"] = draw(scores)
        for key in draw(st.lists(keys, max_size=2)):
            r.setdefault(key, draw(values))
        items = list(r.items())
        random.Random(draw(st.integers(0, 99))).shuffle(items)
        results.append(dict(items))
    doc = results if draw(st.booleans()) else {"annotations": results, "x": draw(values)}
    styles = [{}, {"indent": 2}, {"separators": (",", ":")}] + ([] if plain else
                                                                [{"ensure_ascii": False}])
    return json.dumps(doc, **draw(st.sampled_from(styles))), with_score


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_results_documents(plain=False))
def test_what_the_scan_takes_reads_as_the_stdlib_reads_it(case):
    doc, with_score = case
    s = scan(doc, with_score)
    if s is not None:
        assert s.entries() == expected(doc, with_score)
        assert [type(e[0]) for e in s.entries()] == [type(e[0]) for e in expected(doc, with_score)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_results_documents(plain=True))
def test_plain_documents_are_taken(case):
    doc, with_score = case
    s = scan(doc, with_score)
    assert s is not None, doc
    assert s.entries() == expected(doc, with_score)
