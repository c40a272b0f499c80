"""Hostile sizes, offsets and integers straight into the compiled core (issue 11, point 1): each
is a clean ValueError (CoreError where a kernel found it, MemoryError where memory ran out)
with a message naming what is wrong -- never a wrap, an out-of-bounds read, a huge allocation
sized by a number with no data behind it, a hang, an abort or Python's "Python int too large to
convert to C long"."""
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import panoseg._core as core

U32 = np.uint32
I64 = np.int64
I32 = np.int32
HUGE = 2 ** 70  # fits no C integer type


def _tables(n_gt=1, n_pred=1):
    return dict(gt_ids=np.arange(1, n_gt + 1, dtype=U32), gt_category=np.zeros(n_gt, I32),
                gt_iscrowd=np.zeros(n_gt, np.uint8), gt_area=np.ones(n_gt),
                pred_ids=np.arange(1, n_pred + 1, dtype=U32), pred_category=np.zeros(n_pred, I32))


def _merge_args(**kw):
    args = dict(height=4, width=4, column_major=False,
                inst_offsets=np.array([0, 1], I64), inst_intervals=np.array([0, 3], I64),
                inst_category=np.array([0], I32),
                stuff_offsets=np.zeros(1, I64), stuff_intervals=np.zeros(0, I64),
                stuff_category=np.zeros(0, I32),
                category_colour=np.array([1], U32), category_isthing=np.array([1], np.uint8),
                overlap_thr=0.5, stuff_area_limit=0.0, seed=0)
    args.update(kw)
    return args


# --- RLE encoding: offsets whose doubling wraps -------------------------------------------------


def test_rle_encode_offsets_past_the_runs_are_refused_not_read():
    """2 * 2^62 wraps to -2^63 < len(intervals): the check passed and the kernel read runs past
    the end of `intervals`. Compared without the doubling now (wrapper and kernel)."""
    with pytest.raises(ValueError, match="offsets end at run 4611686018427387904 but there are 1"):
        core.runs_to_rle_strings(np.array([0, 2 ** 62], I64), np.array([0, 1], I64), 4)
    with pytest.raises(ValueError, match="offsets end at run"):
        core.runs_to_rle_strings(np.array([0, 2 ** 62 + 1], I64), np.array([0, 1], I64), 4)
    assert core.runs_to_rle_strings(np.array([0, 1], I64), np.array([0, 1], I64), 4) == ["013"]


def test_rle_encode_n_pixels_range_checked():
    with pytest.raises(ValueError, match="n_pixels 1180591620717411303424 is too large"):
        core.runs_to_rle_strings(np.array([0], I64), np.zeros(0, I64), HUGE)
    with pytest.raises(ValueError, match="n_pixels -1 is negative"):
        core.runs_to_rle_strings(np.array([0], I64), np.zeros(0, I64), -1)


# --- RLE decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [np.array([2 ** 32 + 1, 3], I64), [-1, 5], [HUGE, 0],
                                    np.array([1.5, 2.5])])
def test_rle_uncompressed_counts_outside_uint32_are_refused_not_wrapped(counts):
    """numpy's cast turned 2^32 + 1 into 1 (and -1 into 2^32 - 1): a garbage mask, or an
    OverflowError about a C long."""
    with pytest.raises(ValueError, match=r"RLE 0: uncompressed counts must be integers in "
                                         r"0\.\.4294967295"):
        core.rle_intervals([counts], 2, 2)


def test_rle_sizes_beyond_int64_are_a_clear_error():
    with pytest.raises(ValueError, match="RLE height 1180591620717411303424 is too large"):
        core.rle_intervals([b""], HUGE, 4)
    with pytest.raises(ValueError, match="negative"):
        core.rle_intervals([b""], 4, -HUGE)


# --- PNG scanlines ------------------------------------------------------------------------------


def test_png_unfilter_checks_the_data_before_allocating_the_image():
    """A 2^20 x 2^20 header with 4 bytes of data: refused before a 4 TiB id map is allocated."""
    with pytest.raises(core.PngDataError, match="image data has 4 bytes after inflate") as e:
        core.png_unfilter_ids(b"\0" * 4, 2 ** 20, 2 ** 20)
    assert e.value.code == "kPngSizeMismatch"


def test_png_unfilter_sizes_beyond_the_limits():
    with pytest.raises(ValueError, match="image width 4611686018427387904 is too large"):
        core.png_unfilter_ids(b"", 1, 2 ** 62)
    with pytest.raises(ValueError, match="image height 1180591620717411303424 is too large"):
        core.png_unfilter_ids(b"", HUGE, 1)
    with pytest.raises(ValueError, match="image width -1 is negative"):
        core.png_unfilter_ids(b"", 1, -1)


def test_png_unfilter_zero_rows_of_a_huge_width_allocate_nothing():
    """0 x (2^31 - 1): no rows, no data. The row decoder used to allocate 2 * (3w + 4) bytes
    (12 GiB) for it anyway."""
    t = time.perf_counter()
    ids = core.png_unfilter_ids(b"", 0, 2 ** 31 - 1)
    assert ids.shape == (0, 2 ** 31 - 1) and time.perf_counter() - t < 1.0


def test_match_png_checks_sizes_and_data_before_allocating_rows():
    """1 x (2^31 - 1) with no data: two 8 GiB row buffers were allocated (and zeroed) before the
    size mismatch was noticed; 1 x 2^40 asked for 4 TiB."""
    t = time.perf_counter()
    with pytest.raises(core.PngDataError, match="image data has 0 bytes") as e:
        core.match_png(b"", b"", 1, 2 ** 31 - 1, n_categories=1, **_tables())
    assert (e.value.side, e.value.code) == ("gt", "kPngSizeMismatch")
    assert time.perf_counter() - t < 1.0
    with pytest.raises(ValueError, match="image width 1099511627776 is too large"):
        core.match_png(b"", b"", 1, 2 ** 40, n_categories=1, **_tables())
    with pytest.raises(ValueError, match="too large"):
        core.match_png(b"", b"", 2 ** 21, 2 ** 20, n_categories=1, **_tables())


# --- PQ matching --------------------------------------------------------------------------------


def test_match_image_n_categories_range_checked():
    m = np.ones((2, 2), U32)
    with pytest.raises(ValueError, match="n_categories 1180591620717411303424 is too large"):
        core.match_image(m, m, n_categories=HUGE, **_tables())
    with pytest.raises(ValueError, match="n_categories 2147483648 is too large"):
        core.match_image(m, m, n_categories=2 ** 31, **_tables())
    assert core.match_image(m, m, n_categories=1, **_tables())["tp"].tolist() == [1]


# --- Mask pasting -------------------------------------------------------------------------------


def test_paste_threads_and_sizes_range_checked():
    probs = np.full((1, 2, 2), 0.9, np.float32)
    boxes = np.array([[0, 0, 2, 2]], np.float32)
    with pytest.raises(ValueError, match="threads 1180591620717411303424 is too large"):
        core.paste_intervals(probs, boxes, 4, 4, True, threads=HUGE)
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        core.paste_dense(probs, boxes, 4, 4, threads=0)
    with pytest.raises(ValueError, match="image height 1180591620717411303424 is too large"):
        core.paste_dense(probs, boxes, HUGE, 4)


def test_paste_out_of_memory_in_a_worker_thread_is_a_memory_error_not_an_abort():
    """bad_alloc thrown in one of the paste's std::threads called std::terminate (the process
    aborted); it is rethrown in the calling thread now. Run under an address-space limit in a
    subprocess: boxes 15 million pixels wide need ~1 GiB of resampling tables each."""
    code = textwrap.dedent("""
        import resource
        import numpy as np
        import panoseg._core as core
        probs = np.full((16, 2, 2), 0.9, np.float32)
        boxes = np.tile(np.array([[0, 0, 1e7, 100]], np.float32), (16, 1))
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
        limit = vm + 300 * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            core.paste_intervals(probs, boxes, 200, 2 ** 30, True, threads=4)
        except MemoryError:
            print("MemoryError")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                         "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "MemoryError"


# --- Interval masks and the merge ---------------------------------------------------------------


def test_label_intervals_n_labels_capped_before_allocating():
    """n_labels = 2^31 - 1 sized three 16 GiB vectors before a single pixel was read."""
    labels = np.zeros((2, 2), I32)
    with pytest.raises(ValueError, match="n_labels 2147483647 is too large"):
        core.label_intervals(labels, 2 ** 31 - 1)
    with pytest.raises(ValueError, match="n_labels -1 is negative"):
        core.label_intervals(labels, -1)
    offsets, _ = core.label_intervals(labels, 1 << 24)  # the cap itself is fine
    assert len(offsets) == (1 << 24) + 1


def test_merge_offsets_compared_without_a_wrapping_doubling():
    """offsets[n] * 2 == len(intervals) wrapped for offsets >= 2^62 (signed overflow, UB)."""
    for last in (2 ** 62 + 1, 1 - 2 ** 63):
        with pytest.raises(ValueError, match="intervals do not match their offsets"):
            core.merge(**_merge_args(inst_offsets=np.array([0, last], I64)))
    with pytest.raises(ValueError, match="intervals do not match their offsets"):
        core.merge(**_merge_args(inst_intervals=np.array([0, 3, 5], I64)))


def test_merge_integer_arguments_range_checked():
    with pytest.raises(ValueError, match="seed must lie in 0..2\\*\\*64-1, got -1"):
        core.merge(**_merge_args(seed=-1))
    with pytest.raises(ValueError, match="image width 1180591620717411303424 is too large"):
        core.merge(**_merge_args(width=HUGE))
    with pytest.raises(ValueError, match="too large"):
        core.merge(**_merge_args(height=2 ** 21, width=2 ** 20))
    with pytest.raises(ValueError, match="colour id 16777216 is above 16777215"):
        core.merge(**_merge_args(category_colour=np.array([1 << 24], U32)))
    id_map, segments = core.merge(**_merge_args(seed=2 ** 64 - 1))
    assert id_map.tolist()[0] == [1, 1, 1, 0] and segments["area"].tolist() == [3]


def test_segment_id_assigner_huge_hint_is_clamped():
    """4 * (n + 2^62 + 1) overflowed (and the doubling loop after it never ended)."""
    ids = core.SegmentIdAssigner([], 0, expected_segments=2 ** 62)
    assert ids.thing_id(5) == 5
    with pytest.raises(ValueError, match="expected_segments 1180591620717411303424 is too large"):
        core.SegmentIdAssigner([], 0, expected_segments=HUGE)
    with pytest.raises(ValueError, match="colour id 1180591620717411303424 is too large"):
        ids.thing_id(HUGE)


def test_segment_id_assigner_with_every_id_taken_raises_instead_of_hanging():
    """All 2^24 - 1 ids reserved: the search for a free id looped forever."""
    ids = core.SegmentIdAssigner(np.arange(1, 1 << 24, dtype=U32), 0)
    with pytest.raises(ValueError, match="all 16777215 segment ids are taken"):
        ids.thing_id(5)


def test_segment_labels_void_label_range_checked():
    with pytest.raises(ValueError, match="void_label 1180591620717411303424 is too large"):
        core.segment_labels(np.ones((1, 1), U32), np.array([1], U32), np.array([0], np.uint8),
                            HUGE)
