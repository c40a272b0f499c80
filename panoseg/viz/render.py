"""Pictures of panoptic segmentations: coloured, outlined and labelled overlays on the photo.

:func:`overlay` draws one segmentation over its photo; :func:`side_by_side` puts two pictures
next to each other under title bars; :func:`render_panoptic` reads a photo and its panoptic PNG
and draws them. Colours come from :mod:`.palette`, labels from :mod:`.labels`. Only numpy and
Pillow are used.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import numpy as np

from ..errors import PanopticFormatError
from ..io.categories import as_categories
from ..io.codec import as_id_map
from ..io.panoptic_json import SegmentTable
from ..io.png import MAX_PIXELS, check_pixels, read_ids
from .labels import default_font_size, draw_labels, load_font
from .palette import segment_palette

#: Background used where there is no photo.
GREY = (128, 128, 128)
#: Colour of segment outlines.
BOUNDARY_COLOR = (255, 255, 255)

_HATCH = (160, 160, 160)
_TITLE_BG = (30, 30, 30)
_TITLE_FG = (255, 255, 255)


def overlay(image, id_map, segments_info: Sequence[Mapping], categories,
            alpha: float = 0.5, boundaries: bool = True, labels: bool = True, *,
            font_size: Optional[int] = None) -> np.ndarray:
    """Draws a panoptic segmentation over its photo.

    Each segment is painted in a colour blended with the photo: stuff in its category colour,
    things in a per-instance variant of it (deterministic: instances of a category are ordered
    left to right and get well-separated lightness / hue shifts, the leftmost keeping the category
    colour). VOID pixels (id 0) are left unpainted so the photo shows through (without a photo
    they are hatched grey). Label boxes may reach a little past their segment.

    Parameters
    ----------
    image : array_like (H, W, 3) or (H, W) uint8, PIL.Image.Image, or None
        The photo; None draws on a neutral grey.
    id_map : array_like of int, shape (H, W)
        Segment ids (as from :func:`panoseg.read_ids`), 0 = VOID.
    segments_info : list of dict
        COCO ``segments_info``: ``id``, ``category_id``, optionally ``iscrowd``.
    categories : Categories or list of dict
        Category entries with ``id``, ``isthing``, ``name`` and ``color``.
    alpha : float
        Opacity of the segment colours, 0 (photo only) to 1 (colours only).
    boundaries : bool
        Outline every segment with a 1 px line on each side of a boundary (2 px in all).
    labels : bool
        Write the category name (``"person (crowd)"`` for crowd regions, COCO's ``-merged``
        suffix dropped) inside each segment that is large enough, at its point farthest from
        the segment boundary, white on a dark box of the segment's hue.
    font_size : int, optional
        Label height in pixels; default: about 3.5 % of the image's shorter side.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 3)

    Raises
    ------
    PanopticFormatError
        An id in ``id_map`` has no entry in ``segments_info``, or ``segments_info`` is invalid
        (unknown category, duplicate id, ...).
    ValueError
        ``image`` and ``id_map`` differ in size, or ``alpha`` is outside 0..1.
    """
    return _overlay(image, id_map, segments_info, categories, alpha, boundaries, labels,
                    font_size, where={})


def side_by_side(left, right, titles: Optional[Sequence[str]] = ("ground truth", "prediction"),
                 *, font_size: Optional[int] = None) -> np.ndarray:
    """Puts two pictures next to each other, each under a title bar.

    Parameters
    ----------
    left, right : array_like (H, W, 3) uint8 or PIL.Image.Image
        The panels; the shorter one is padded at the bottom.
    titles : pair of str, or None
        Panel titles; None leaves out the title bars.
    font_size : int, optional
        Title height in pixels; default: scaled with the panels like :func:`overlay`'s labels.

    Returns
    -------
    numpy.ndarray of uint8, shape (bar + max(H), W_left + gap + W_right, 3)
    """
    panels = [_as_rgb(left, "left"), _as_rgb(right, "right")]
    if titles is not None and len(titles) != 2:
        raise ValueError(f"titles must be a pair, got {len(titles)}")
    height = max(p.shape[0] for p in panels)
    # Titles a little larger than the labels inside the panels.
    size = font_size or default_font_size(min(min(p.shape[:2]) for p in panels)) + 2
    gap = max(4, size // 3)
    bar = 0 if titles is None else int(round(size * 1.8))
    width = panels[0].shape[1] + gap + panels[1].shape[1]
    canvas = np.empty((bar + height, width, 3), np.uint8)
    canvas[:] = _TITLE_BG
    x = 0
    for panel in panels:
        canvas[bar:bar + panel.shape[0], x:x + panel.shape[1]] = panel
        x += panel.shape[1] + gap
    if titles is None:
        return canvas

    from PIL import Image, ImageDraw

    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = load_font(size)
    x = 0
    for panel, title in zip(panels, titles):
        left_, top, right_, bottom = draw.textbbox((0, 0), str(title), font=font)
        # Centre the text's ink (not its nominal box) in the bar, clipped to the panel's left.
        tx = x + max(0, (panel.shape[1] - (right_ - left_)) // 2) - left_
        ty = (bar - (bottom - top)) // 2 - top
        draw.text((tx, ty), str(title), font=font, fill=_TITLE_FG)
        x += panel.shape[1] + gap
    return np.asarray(picture).copy()


def render_panoptic(image_path, png_path, segments_info: Sequence[Mapping], categories, *,
                    alpha: float = 0.5, boundaries: bool = True, labels: bool = True,
                    font_size: Optional[int] = None, image_id=None, json_file=None) -> np.ndarray:
    """Reads a photo and its panoptic PNG and returns :func:`overlay` of them.

    Parameters
    ----------
    image_path : path or None
        The photo (any format Pillow reads); None draws on grey.
    png_path : path
        The panoptic PNG.
    segments_info, categories, alpha, boundaries, labels, font_size
        As for :func:`overlay`.
    image_id, json_file : optional
        Named in error messages.

    Raises
    ------
    PanopticFormatError
        A file is missing or unreadable, the photo and the PNG differ in size, or the PNG and
        ``segments_info`` do not agree.
    """
    image = None if image_path is None else read_photo(image_path, image_id)
    return render_on_photo(image, image_path, png_path, segments_info, categories, image_id,
                           json_file, alpha=alpha, boundaries=boundaries, labels=labels,
                           font_size=font_size)


def render_on_photo(image, image_path, png_path, segments_info, categories, image_id, json_file,
                    *, alpha=0.5, boundaries=True, labels=True,
                    font_size=None, max_pixels: int = MAX_PIXELS,
                    expected_size=None, size_source=None) -> np.ndarray:
    """:func:`render_panoptic` with the photo already read (as an array, or None), so that
    both panels of a comparison share one read. The PNG's size is checked (against
    ``max_pixels``, ``expected_size`` = (height, width) from the ``images`` of ``size_source``
    (default ``json_file``) if given, and the photo's) before it is decoded."""

    ids = read_checked_ids(image, image_path, png_path, image_id, json_file, max_pixels,
                           expected_size, size_source)
    where = png_where(png_path, image_id, json_file)
    return _overlay(image, ids, segments_info, categories, alpha, boundaries, labels, font_size,
                    where=where, png_path=png_path)


def png_where(png_path, image_id, json_file) -> dict:
    """What error messages about a PNG and its ``segments_info`` name."""
    return {"file": png_path if json_file is None else json_file, "image_id": image_id,
            "file_name": os.path.basename(os.fspath(png_path))}


def read_checked_ids(image, image_path, png_path, image_id, json_file, max_pixels=MAX_PIXELS,
                     expected_size=None, size_source=None) -> np.ndarray:
    """The id map of a panoptic PNG, its size checked (against ``max_pixels``,
    ``expected_size`` = (height, width) from the ``images`` of ``size_source`` (default
    ``json_file``) if given, and the photo's) before it is decoded."""

    def check_size(height, width):
        if expected_size is not None and tuple(expected_size) != (height, width):
            raise PanopticFormatError(
                f"PNG is {width}x{height} (WxH) but 'images' in {size_source or json_file} says "
                f"{expected_size[1]}x{expected_size[0]}", file=png_path, image_id=image_id)
        if image is not None and image.shape[:2] != (height, width):
            raise PanopticFormatError(
                f"photo is {image.shape[1]}x{image.shape[0]} (WxH) but the panoptic PNG "
                f"{os.fspath(png_path)} is {width}x{height}", file=image_path,
                image_id=image_id)

    return _read_png(png_path, image_id, max_pixels, check_size)


def _overlay(image, id_map, segments_info, categories, alpha, boundaries, labels, font_size,
             where, png_path=None, colours=None, texts=None, alphas=None):
    """:func:`overlay`, with ``where`` (file, image id, file name) for error messages;
    ``colours`` ((N, 3), ``segments_info`` order) and ``texts`` (labels) replace the category
    colours and names, ``alphas`` ((N,)) the opacity per segment."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in 0..1, got {alpha}")
    categories = as_categories(categories)
    ids = as_id_map(id_map)
    height, width = ids.shape
    if image is None:
        photo = np.empty((height, width, 3), np.uint8)
        photo[:] = GREY
    else:
        photo = _as_rgb(image, "image")
        if photo.shape[:2] != ids.shape:
            raise ValueError(f"image is {photo.shape[1]}x{photo.shape[0]} (WxH) but the id map "
                             f"is {width}x{height}")
    table = SegmentTable.from_segments_info(segments_info, categories, is_gt=False, **where)
    lab = _label_map(ids, table, where, png_path)
    n = len(table)

    # Centroids order the instances of a category left to right for their colours.
    counts = np.bincount(lab.ravel(), minlength=n + 1).astype(np.float64)
    ys, xs = np.indices(lab.shape, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.bincount(lab.ravel(), weights=xs.ravel(), minlength=n + 1) / counts
        cy = np.bincount(lab.ravel(), weights=ys.ravel(), minlength=n + 1) / counts
    if colours is None:
        palette = segment_palette(table, categories, cx[1:], cy[1:])
    else:
        palette = np.asarray(colours, np.float64).reshape(n, 3)

    out = photo.astype(np.float32)
    painted = lab > 0
    colours = np.vstack([np.zeros((1, 3)), palette]).astype(np.float32)
    if alphas is None:
        a = np.float32(alpha)
    else:
        a = np.r_[0.0, np.asarray(alphas, np.float64)].astype(np.float32)[lab[painted]][:, None]
    out[painted] = (1 - a) * out[painted] + a * colours[lab[painted]]
    if image is None:
        # No photo: hatch VOID so it cannot pass for a grey segment.
        yy, xx = np.indices((height, width))
        out[~painted & ((xx + yy) % 8 < 2)] = _HATCH
    if boundaries:
        out[_boundary_mask(lab)] = BOUNDARY_COLOR
    out = np.floor(out + 0.5).clip(0, 255).astype(np.uint8)
    if labels and n:
        # Segments painted more opaque than the rest (errors) get their labels placed first.
        first = None if alphas is None else np.asarray(alphas, np.float64) > float(alpha)
        out = draw_labels(out, lab, table, categories, palette,
                          font_size or default_font_size(min(height, width)), texts, first)
    return out


def _label_map(ids: np.ndarray, table: SegmentTable, where, png_path) -> np.ndarray:
    """Per pixel: 0 for VOID, else 1 + the segment's position in ``table`` (int32)."""
    uniq, inverse = np.unique(ids, return_inverse=True)
    order = np.argsort(table.ids, kind="stable")
    sorted_ids = table.ids[order]
    pos = np.searchsorted(sorted_ids, uniq)
    pos_clipped = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    found = (pos < len(sorted_ids)) & (sorted_ids[pos_clipped] == uniq) if len(sorted_ids) \
        else np.zeros(len(uniq), bool)
    missing = uniq[(~found) & (uniq != 0)]
    if len(missing):
        file = png_path if png_path is not None else where.get("file")
        raise PanopticFormatError(
            f"id {int(missing[0])} is in the PNG but not in segments_info"
            + (f" ({len(missing)} such ids)" if len(missing) > 1 else ""),
            file=file, image_id=where.get("image_id"), file_name=where.get("file_name"),
            segment_id=int(missing[0]))
    lut = np.zeros(len(uniq), np.int32)
    lut[found] = order[pos_clipped[found]] + 1
    return lut[inverse.reshape(ids.shape)]


def _boundary_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another segment (or VOID): both sides, so lines are 2 px."""
    edge = np.zeros(lab.shape, bool)
    d = lab[:, 1:] != lab[:, :-1]
    edge[:, 1:] |= d
    edge[:, :-1] |= d
    d = lab[1:, :] != lab[:-1, :]
    edge[1:, :] |= d
    edge[:-1, :] |= d
    # VOID-to-VOID never differs, so only segment edges (and the photo just outside them) show.
    return edge


def _as_rgb(image, what: str) -> np.ndarray:
    """An (H, W, 3) uint8 view of a photo given as an array or a PIL image."""
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        image = image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"{what} must be an HxWx3 RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got dtype {arr.dtype}")
    return arr[:, :, :3]


def _read_png(path, image_id, max_pixels: int = MAX_PIXELS, check_size=None) -> np.ndarray:
    """The id map of a panoptic PNG; errors name the image."""
    try:
        return read_ids(path, max_pixels, check_size)
    except PanopticFormatError as e:
        if e.image_id is None and image_id is not None:
            raise PanopticFormatError(e.problem, file=e.file, image_id=image_id) from None
        raise


def read_photo(path, image_id=None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A photo as an (H, W, 3) uint8 array; unreadable or larger than ``max_pixels`` (checked
    from its header, before decoding): PanopticFormatError naming it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            check_pixels(*im.size, path, max_pixels, "image is", image_id=image_id)
            # No EXIF rotation: COCO annotations refer to the stored pixel grid.
            return np.asarray(im.convert("RGB"))
    except OSError as e:
        problem = (f"cannot read image: {e.strerror}" if getattr(e, "strerror", None)
                   else f"cannot read image ({e})")
        raise PanopticFormatError(problem, file=path, image_id=image_id) from None

