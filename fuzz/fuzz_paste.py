"""The paste: Mask R-CNN masks in boxes -> image masks (``_core.paste_dense`` /
``paste_intervals`` through ``panoseg.merge.paste``), both resampling pass orders, 1-3 threads.

Input layout: u8 n_masks (of 4), u8 mask size-1 (of 16), u8 height-1 (of 48), u8 width-1 (of
48), u8 flags (bit 0: pillow13 order, bits 1-2: threads-1), then n x 4 f32 boxes (any bits:
NaN, inf, huge, reversed) and n x M x M f32 probabilities (any bits).

Clean outcome: masks, or ``ValueError`` (``TableError`` for a bad box or mask). Invariant: the
dense masks, the row-major and the column-major interval masks are the same pixels, and the
result does not depend on the thread count.
"""
import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg import _core
    from panoseg.merge import paste


_OUT = _common.Outcomes(
    [f"dense:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + [f"intervals:{x}" for x in _common.CORE_LABELS + ["ValueError"]]
    + ["ok", "empty", "partial", "full"] + [f"masks:{n}" for n in range(5)])


def test_one_input(data: bytes) -> None:
    r = _common.Reader(data)
    n, m, height, width, flags = r.u8() % 5, r.u8() % 16 + 1, r.u8() % 48 + 1, r.u8() % 48 + 1, r.u8()
    order = "pillow13" if flags & 1 else "horizontal-first"
    threads = (flags >> 1) % 3 + 1
    boxes = np.frombuffer(r.take(16 * n), np.float32).reshape(n, 4)
    probs = np.frombuffer(r.take(4 * n * m * m), np.float32).reshape(n, m, m)
    try:
        dense = paste.paste_masks(probs, boxes, (width, height), workers=threads, pass_order=order)
    except ValueError as e:  # TableError (bad box / mask) or an argument check
        _OUT.note("dense:" + _common.core_label(e))
        dense = None
    try:
        offsets, intervals = paste.paste_intervals(probs, boxes, (width, height),
                                                   workers=threads, pass_order=order)
        col = paste.paste_intervals(probs, boxes, (width, height), column_major=True,
                                    workers=1, pass_order=order)
    except ValueError as e:
        _OUT.note("intervals:" + _common.core_label(e))
        assert dense is None, "paste_masks accepted what paste_intervals rejects"
        return
    assert dense is not None, "paste_intervals accepted what paste_masks rejects"
    _OUT.note("ok")
    _OUT.note(f"masks:{n}")
    for mask in dense:
        area = int(mask.sum())
        _OUT.note("empty" if area == 0 else "full" if area == mask.size else "partial")
    assert dense.shape == (n, height, width) and set(np.unique(dense).tolist()) <= {0, 1}
    assert _common.same_masks(_core.dense_intervals(np.ascontiguousarray(dense)),
                              (offsets, intervals)), "paste_masks and paste_intervals differ"
    assert _common.same_masks(
        _core.dense_intervals(np.ascontiguousarray(dense.transpose(0, 2, 1))), col), \
        "column-major intervals differ"


if __name__ == "__main__":
    _common.main("paste", test_one_input)
