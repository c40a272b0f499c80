"""The merge: ``merge_panoptic`` (the array API: dense masks, uncompressed RLEs, a semantic
label map) and ``_core.merge`` fed raw interval masks (unsorted, overlapping, out of range).

Input layout: u8 height-1 (of 32), u8 width-1 (of 32), u8 n_instances (of 8), u8 mode,
f32 overlap_thr, f32 stuff_area_limit, u64 seed, then per instance u8 category choice + u8
score; mode bit 0: instances as RLEs (else dense masks), bit 1: semantic map given; then
the mask bytes (one byte per pixel, nonzero = in), the semantic map (u8 per pixel, an index into
the category ids, 255 = none); the rest feeds ``_core.merge`` directly as int64 intervals.

Clean outcome: a result, or ``ValueError`` (documented; ``TableError`` is one). Invariants:
the id map's segments are exactly ``segments_info``'s, with the areas and boxes it states.
"""
import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg import _core
    from panoseg.io import rle as rle_io
    from panoseg.merge.heuristic import MergeCategories, merge_panoptic

# Two things, two stuff (distinct colours), COCO-style ids.
CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 3, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 149, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 184, "name": "tree", "isthing": 0, "color": [107, 142, 35]},
]
_CATS = MergeCategories(CATEGORIES)
_IDS = [1, 3, 149, 184, 0, -1, 2, 10 ** 12]
# Semantic map values, a huge unknown id included (it once sized a lookup table: MemoryError).
_SEM_IDS = [1, 3, 149, 184, 0, -1, 2, 10 ** 12]


_OUT = _common.Outcomes(
    [f"api:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + [f"raw:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + ["api:ok", "raw:ok", "things", "stuff", "void"])


def _check(result, height, width):
    ids = result.id_map
    assert ids.shape == (height, width) and ids.dtype == np.uint32
    present = set(np.unique(ids).tolist()) - {0}
    listed = [s["id"] for s in result.segments_info]
    assert len(set(listed)) == len(listed), "duplicate segment id"
    assert present == set(listed), (present, listed)
    for s in result.segments_info:
        ys, xs = np.nonzero(ids == s["id"])
        assert s["area"] == len(ys), (s, len(ys))
        assert s["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                             int(ys.max() - ys.min() + 1)], s


def test_one_input(data: bytes) -> None:
    r = _common.Reader(data)
    height, width, n, mode = r.u8() % 32 + 1, r.u8() % 32 + 1, r.u8() % 9, r.u8()
    overlap_thr, area_limit = r.unpack("ff")
    seed = r.unpack("Q")[0]
    picks = [r.unpack("BB") for _ in range(n)]
    cat_ids = [_IDS[c % len(_IDS)] for c, _ in picks]
    scores = [s / 250.0 for _, s in picks]  # > 250 is out of [0, 1]
    masks = np.frombuffer(r.take(n * height * width), np.uint8).reshape(n, height, width)
    kwargs = {}
    if mode & 1:
        kwargs["rles"] = [{"size": [height, width],
                           "counts": rle_io.intervals_to_rles(*_core.dense_intervals(
                               np.ascontiguousarray((m != 0).T[None], np.uint8)),
                               height, width)[0]["counts"]} for m in masks]
    else:
        kwargs["masks"] = masks
    if mode & 2:
        labels = np.frombuffer(r.take(height * width), np.uint8).reshape(height, width)
        lut = np.array(_SEM_IDS + [0] * (256 - len(_SEM_IDS)), np.int64)
        kwargs["semantic"] = lut[labels]
    try:
        result = merge_panoptic(CATEGORIES, height, width, scores=scores, category_ids=cat_ids,
                                confidence_thr=0.5, overlap_thr=overlap_thr,
                                stuff_area_limit=area_limit, seed=seed, image_id=7, **kwargs)
    except ValueError as e:
        _OUT.note("api:" + _common.core_label(e))
        result = None
    if result is not None:
        _OUT.note("api:ok")
        if any(s["isthing"] for s in result.segments_info):
            _OUT.note("things")
        if any(not s["isthing"] for s in result.segments_info):
            _OUT.note("stuff")
        if not result.id_map.all():
            _OUT.note("void")
        _check(result, height, width)
    _raw_merge(r.rest(), height, width, overlap_thr, area_limit, seed)


def _raw_merge(rest: bytes, height, width, overlap_thr, area_limit, seed):
    """``_core.merge`` on interval masks straight from the input: two instance masks and one
    stuff mask splitting the int64 values; categories any int32."""
    values = np.frombuffer(rest[:len(rest) // 8 * 8], np.int64) % (2 * height * width + 3) - 1
    n_values = len(values) // 2 * 2
    half = n_values // 4 * 2
    inst = np.ascontiguousarray(values[:half])
    stuff = np.ascontiguousarray(values[half:n_values])
    cut = len(inst) // 4 * 2
    inst_offsets = np.array([0, cut // 2, len(inst) // 2], np.int64)
    stuff_offsets = np.array([0, len(stuff) // 2], np.int64)
    try:
        _core.merge(height, width, bool(seed & 1), inst_offsets, inst, np.array([0, 1], np.int32),
                    stuff_offsets, stuff, np.array([2], np.int32), _CATS.colour, _CATS.isthing,
                    min(max(float(overlap_thr), 0.0), 1.0) if overlap_thr == overlap_thr else 0.5,
                    abs(float(area_limit)) if area_limit == area_limit else 0.0, seed)
        _OUT.note("raw:ok")
    except ValueError as e:
        _OUT.note("raw:" + _common.core_label(e))


if __name__ == "__main__":
    _common.main("merge", test_one_input)
