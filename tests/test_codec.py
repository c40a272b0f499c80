"""RGB <-> id codec: identical to panopticapi's utils, any memory layout."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import panoseg
from panoseg import _core

try:  # the reference; absent where numpy >= 2 (panopticapi-lite needs numpy < 2)
    import panopticapi.utils as panopticapi_utils
except ImportError:  # pragma: no cover - depends on the test leg
    panopticapi_utils = None
needs_panopticapi = pytest.mark.skipif(panopticapi_utils is None, reason="panopticapi not installed")


def local_rgb2id(rgb):  # the formula, for legs without panopticapi
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]

rgb_images = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=17)
                        .map(lambda s: (s[0], s[1], 3)))


@needs_panopticapi
@given(rgb_images)
@settings(max_examples=200, deadline=None)
def test_rgb2id_matches_panopticapi(rgb):
    ours = panoseg.rgb2id(rgb)
    assert ours.dtype == np.uint32 and ours.shape == rgb.shape[:2]
    assert np.array_equal(ours, panopticapi_utils.rgb2id(rgb))


@given(rgb_images)
@settings(max_examples=200, deadline=None)
def test_round_trip(rgb):
    assert np.array_equal(panoseg.id2rgb(panoseg.rgb2id(rgb)), rgb)


@needs_panopticapi
@given(hnp.arrays(np.uint32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=17),
                  elements=st.integers(0, 2**24 - 1)))
@settings(max_examples=200, deadline=None)
def test_id2rgb_matches_panopticapi(ids):
    assert np.array_equal(panoseg.id2rgb(ids), panopticapi_utils.id2rgb(ids))


@given(rgb_images)
@settings(max_examples=100, deadline=None)
def test_rgb2id_formula(rgb):
    assert np.array_equal(panoseg.rgb2id(rgb), local_rgb2id(rgb))


def test_non_contiguous_views():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    views = [big[::2, ::3], big[:, ::-1], big.transpose(1, 0, 2), big[5:30, 7:40],
             np.asfortranarray(big), big[..., ::-1]]
    for v in views:
        assert np.array_equal(panoseg.rgb2id(v), local_rgb2id(np.ascontiguousarray(v)))
    ids = panoseg.rgb2id(big)
    for v in (ids[::2, ::3], ids.T, ids[:, ::-1]):
        assert np.array_equal(panoseg.id2rgb(v), panoseg.id2rgb(np.ascontiguousarray(v)))
        assert np.array_equal(panoseg.rgb2id(panoseg.id2rgb(v)), v)


@needs_panopticapi
def test_scalars_like_panopticapi():
    assert panoseg.rgb2id([1, 2, 3]) == panopticapi_utils.rgb2id([1, 2, 3]) == 1 + 512 + 3 * 65536
    assert panoseg.id2rgb(197121) == panopticapi_utils.id2rgb(197121)


def test_other_integer_dtypes():
    rgb = np.array([[[255, 0, 1]]], dtype=np.int64)
    assert panoseg.rgb2id(rgb)[0, 0] == 255 + 65536
    assert panoseg.id2rgb(np.array([[5, 70000]], dtype=np.int64)).tolist() == [[[5, 0, 0], [112, 17, 1]]]


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 np.full((2, 2, 3), 300, np.int32), np.zeros((2, 2, 3), np.float32)])
def test_rgb2id_rejects(bad):
    with pytest.raises(ValueError):
        panoseg.rgb2id(bad)


@pytest.mark.parametrize("bad", [np.array([[2**24]], np.uint32), np.array([[-1]], np.int64),
                                 np.array([[1.5]]), np.zeros((2, 2, 2), np.uint32)])
def test_id2rgb_rejects(bad):
    with pytest.raises(ValueError):
        panoseg.id2rgb(bad)


def test_core_rejects_wrong_dtype_directly():
    with pytest.raises(ValueError):
        _core.rgb2id(np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(ValueError, match="RGB"):
        _core.rgb2id(np.zeros((2, 2, 4), np.uint8))
