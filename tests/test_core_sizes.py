"""Size arithmetic in the core never wraps (issue 11, point 1): a size whose product would
overflow int64 (2^62 x 4 -> 0) is an error, not garbage intervals."""
import numpy as np
import pytest

import panoseg._core as core
from panoseg.io.rle import rle_to_mask

PROBS = np.full((1, 2, 2), 0.9, np.float32)
BOXES = np.array([[0, 0, 2, 2]], np.float32)


@pytest.mark.parametrize("height, width", [(2 ** 62, 4), (4, 2 ** 62), (2 ** 31, 2 ** 31),
                                           (2 ** 21, 2 ** 20)])
def test_huge_sizes_are_refused(height, width):
    with pytest.raises(ValueError, match="too large"):
        core.rle_intervals([b""], height, width)
    with pytest.raises(ValueError, match="too large"):
        core.paste_intervals(PROBS, BOXES, height, width, True)
    with pytest.raises(ValueError, match="too large"):
        core.paste_dense(PROBS, BOXES, height, width)


def test_negative_sizes_are_refused():
    with pytest.raises(ValueError, match="negative"):
        core.rle_intervals([b""], -1, 4)


def test_an_rle_claiming_a_huge_size():
    """Refused before anything is allocated (numpy would have said 'Maximum allowed dimension')."""
    with pytest.raises(ValueError, match="too large"):
        rle_to_mask({"size": [2 ** 62, 4], "counts": [2 ** 30, 4]}, 2 ** 62, 4)


def test_normal_sizes_still_work():
    offsets, intervals = core.paste_intervals(PROBS, BOXES, 4, 4, True)
    assert offsets[-1] > 0
