"""panoseg.io.rle, the one COCO RLE module: the core's decoder and encoder against pycocotools,
and what a bad RLE is told."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from panoseg.io.rle import (
    label_map_to_rles,
    rle_counts,
    rle_intervals,
    rle_to_indices,
    rle_to_mask,
)


def uncompressed(mask):
    """COCO's uncompressed RLE counts of a mask (column-major, starting with zeros)."""
    flat = mask.T.ravel().astype(np.int8)
    change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    return np.diff(np.r_[0, change]).tolist()


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 16), st.integers(1, 16), st.data())
def test_decode_and_encode_match_pycocotools(h, w, data):
    labels = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=h * w, max_size=h * w)),
                      np.int32).reshape(h, w)
    rles = label_map_to_rles(labels, 4)
    for k, rle in enumerate(rles):
        mask = (labels == k).astype(np.uint8)
        ref = mask_utils.encode(np.asfortranarray(mask))
        assert rle == {"size": [h, w], "counts": ref["counts"].decode()}
        for form in (rle, ref, {"size": [h, w], "counts": uncompressed(mask)}):
            assert np.array_equal(rle_to_mask(form, h, w), mask)
        assert np.array_equal(rle_to_indices(rle, h, w), np.flatnonzero(mask.T))
    offsets, intervals = rle_intervals(rles, h, w)
    assert len(offsets) == 5


@pytest.mark.parametrize("rle, message", [
    ({"size": [4, 5], "counts": "zz"}, r"undecodable RLE \(invalid character"),
    ({"size": [4, 5], "counts": "0a"}, "ends inside a number"),
    ({"size": [4, 5], "counts": "0"}, "do not add up"),
    ({"size": [4, 5], "counts": [3, 4]}, r"undecodable uncompressed RLE \(.*do not add up"),
    ({"size": [4, 5], "counts": [20, -1]}, "non-negative integers"),
    ({"size": [4, 5], "counts": [True, 19]}, "non-negative integers"),
    ({"size": [4, 5], "counts": [2 ** 40]}, "non-negative integers"),
    ({"size": [4, 5], "counts": "é"}, "not ASCII"),
    ({"size": [4, 5], "counts": ""}, "empty"),
    ({"size": [4, 5], "counts": 3}, "must be a string or a list"),
    ({"size": [5, 4], "counts": "0"}, r"RLE size \[5, 4\] is not the image's \[4, 5\]"),
    ({"size": "4x5", "counts": "0"}, "'size' must be"),
    ({"counts": "0"}, "'size' must be"),
    ("0", "must be an RLE dict"),
])
def test_bad_rles_say_what_is_wrong(rle, message):
    with pytest.raises(ValueError, match=message):
        rle_to_mask(rle, 4, 5)
    with pytest.raises(ValueError, match="instance 1: .*" + message):
        rle_intervals([{"size": [4, 5], "counts": [20]}, rle], 4, 5, "instance")


def test_counts_in_the_cores_form():
    assert rle_counts({"size": [2, 2], "counts": "04"}, 2, 2) == b"04"
    counts = rle_counts({"size": [2, 2], "counts": [1, 2, 1]}, 2, 2)
    assert counts.dtype == np.uint32 and counts.tolist() == [1, 2, 1]
    # An empty image has an empty uncompressed RLE.
    assert rle_to_mask({"size": [0, 3], "counts": []}, 0, 3).shape == (0, 3)
