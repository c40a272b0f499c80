"""PNG decoding: ``panoseg.io.png.decode_ids`` (chunk parser, bounded inflate, the core's
unfilter + RGB->id, Pillow for interlaced PNGs) on arbitrary bytes.

Clean outcome: an id map, or ``PanopticFormatError`` (the one error ``decode_ids`` documents).
Invariant: a decoded map re-encodes (``encode_ids``) and decodes to the same map, and
``inflate`` agrees with it on the size.
"""
import _common

with _common.instrument(__name__ == "__main__"):
    import numpy as np

    from panoseg.errors import PanopticFormatError
    from panoseg.io import png

# Small enough that no input makes the harness allocate much (the check is on the header).
MAX_PIXELS = 1 << 20


def test_one_input(data: bytes) -> None:
    try:
        ids = png.decode_ids(data, "<fuzz>", max_pixels=MAX_PIXELS)
    except PanopticFormatError:
        return
    assert ids.dtype == np.uint32 and ids.ndim == 2 and ids.size and ids.size <= MAX_PIXELS
    assert int(ids.max()) < 1 << 24
    image = png.inflate(data, "<fuzz>", MAX_PIXELS)
    if image is not None:
        assert image[:2] == ids.shape, (image[:2], ids.shape)
    again = png.decode_ids(png.encode_ids(ids), "<re-encoded>", max_pixels=MAX_PIXELS)
    assert np.array_equal(ids, again)


if __name__ == "__main__":
    _common.main("png", test_one_input)
