"""Semantic training labels from panoptic annotations (core ``segment_labels``)."""
import json
import os

import numpy as np
import pytest

from panoseg import PanopticFormatError
from panoseg.io.categories import coco_panoptic_categories
from panoseg.semantic.label_maps import coco_stuff_classes
from panoseg.semantic.labels import IGNORE_LABEL, class_of_category, panoptic_to_labels, read_panoptic_labels
from panoseg.io.png import read_ids

SAMPLE = os.path.join(os.path.dirname(__file__), "data", "coco_panoptic_sample")


def numpy_labels(ids, segments, classes, ignore=IGNORE_LABEL):
    out = np.full(ids.shape, ignore, np.uint8)
    for s in segments:
        out[ids == s["id"]] = classes.get(s["category_id"], ignore)
    return out


def test_coco_stuff_classes_table():
    cats = coco_panoptic_categories()
    _, class_ids = coco_stuff_classes()
    table = class_of_category(cats, class_ids)
    thing_class = len(class_ids) - 1
    for cat_id, isthing in zip(cats.ids.tolist(), cats.isthing.tolist()):
        assert table[cat_id] == (thing_class if isthing else list(class_ids).index(cat_id))
    # without a "thing" class (no id 0), thing categories have no class: ignored
    stuff_only = class_of_category(cats, [c for c in class_ids if c])
    assert all(c not in stuff_only for c in cats.ids[cats.isthing].tolist())


def test_sample_annotations_match_a_numpy_model():
    data = json.load(open(os.path.join(SAMPLE, "panoptic_examples.json")))
    cats = coco_panoptic_categories()
    classes = class_of_category(cats, coco_stuff_classes()[1])
    for ann in data["annotations"]:
        got = read_panoptic_labels(os.path.join(SAMPLE, "panoptic_examples"), ann, classes)
        ids = read_ids(os.path.join(SAMPLE, "panoptic_examples", ann["file_name"]))
        assert np.array_equal(got, numpy_labels(ids, ann["segments_info"], classes))
        assert (got == IGNORE_LABEL).any() and (got == 53).any()  # VOID and things present


def test_random_maps_match_a_numpy_model():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(1, 30))
        seg_ids = rng.choice(np.arange(1, 1 << 24), n, replace=False)
        ids = rng.choice(np.concatenate([[0], seg_ids]), (int(rng.integers(1, 40)),
                                                           int(rng.integers(1, 40))))
        # runs of equal ids, as in real maps, and isolated pixels
        ids = np.repeat(ids, int(rng.integers(1, 4)), axis=1).astype(np.uint32)
        segments = [{"id": int(s), "category_id": int(rng.integers(1, 6))} for s in seg_ids]
        classes = {1: 0, 2: 1, 4: 2}  # category 3 and 5: no class
        assert np.array_equal(panoptic_to_labels(ids, segments, classes),
                              numpy_labels(ids, segments, classes))


def test_errors_name_file_image_and_segment():
    where = dict(file="gt.json", image_id=7, file_name="7.png")
    ids = np.array([[1, 1, 2]], np.uint32)
    with pytest.raises(PanopticFormatError, match=r"gt.json: image 7 \(7.png\): pixel "
                                                  r"\(x=2, y=0\) has id 2, which no segment lists"):
        panoptic_to_labels(ids, [{"id": 1, "category_id": 1}], {}, **where)
    with pytest.raises(PanopticFormatError, match="segment 1: .*duplicate id 1"):
        panoptic_to_labels(ids, [{"id": 1, "category_id": 1}, {"id": 1, "category_id": 2},
                                 {"id": 2, "category_id": 1}], {}, **where)
    with pytest.raises(PanopticFormatError, match="not a 24-bit nonzero id"):
        panoptic_to_labels(ids, [{"id": 0, "category_id": 1}], {}, **where)
    with pytest.raises(PanopticFormatError, match=r"segments_info\[0\] needs integer"):
        panoptic_to_labels(ids, [{"id": 1}], {}, **where)
    with pytest.raises(PanopticFormatError, match="missing.png: cannot read"):
        read_panoptic_labels(SAMPLE, {"file_name": "missing.png", "image_id": 3}, {})
