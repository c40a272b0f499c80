"""Pictures of panoptic segmentations: coloured, outlined and labelled overlays on the photo.

:func:`overlay` draws one segmentation over its photo; :func:`side_by_side` puts two pictures
next to each other under title bars (ground truth | prediction); :func:`render_panoptic` and
:func:`visualize_dataset` do the file handling for one image and for a whole COCO panoptic JSON.
Only numpy and Pillow are used.
"""
from __future__ import annotations

import colorsys
import os
import sys
import threading
from typing import Mapping, Optional, Sequence

import numpy as np

from ..errors import PanopticFormatError
from ..io.categories import Categories, as_categories, coco_panoptic_categories
from ..io.codec import as_id_map
from ..io.panoptic_json import SegmentTable, default_folder, load_panoptic_json
from ..io.png import read_ids
from ..util.atomic import atomic_open
from ..util.parallel import ordered_map

#: Background used where there is no photo.
GREY = (128, 128, 128)
#: Colour of segment outlines.
BOUNDARY_COLOR = (255, 255, 255)
#: Extensions tried, in order, when the JSON's ``images`` list does not name an image.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")

_HATCH = (160, 160, 160)
_TITLE_BG = (30, 30, 30)
_TITLE_FG = (255, 255, 255)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

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
    size = font_size or _default_font_size(min(min(p.shape[:2]) for p in panels)) + 2
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
    font = _font(size)
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
    image = None if image_path is None else _read_image(image_path, image_id)
    return _render(image, image_path, png_path, segments_info, categories, image_id, json_file,
                   alpha=alpha, boundaries=boundaries, labels=labels, font_size=font_size)


def _render(image, image_path, png_path, segments_info, categories, image_id, json_file, *,
            alpha=0.5, boundaries=True, labels=True, font_size=None) -> np.ndarray:
    """:func:`render_panoptic` with the photo already read (it is shared by both panels)."""
    ids = _read_png(png_path, image_id)
    if image is not None and image.shape[:2] != ids.shape:
        raise PanopticFormatError(
            f"photo is {image.shape[1]}x{image.shape[0]} (WxH) but the panoptic PNG "
            f"{os.fspath(png_path)} is {ids.shape[1]}x{ids.shape[0]}", file=image_path,
            image_id=image_id)
    where = {"file": png_path if json_file is None else json_file, "image_id": image_id,
             "file_name": os.path.basename(os.fspath(png_path))}
    return _overlay(image, ids, segments_info, categories, alpha, boundaries, labels, font_size,
                    where=where, png_path=png_path)


def visualize_dataset(panoptic_json_file, segmentations_folder=None, images_folder=None,
                      output_folder=None, categories=None, compare_json_file=None,
                      compare_folder=None, workers: Optional[int] = None,
                      progress: bool = False, *, alpha: float = 0.5, boundaries: bool = True,
                      labels: bool = True, titles: Sequence[str] = ("ground truth", "prediction"),
                      ) -> list:
    """Writes one overlay PNG per image of a COCO panoptic JSON.

    With ``compare_json_file`` each output shows the first segmentation and the second one side
    by side (e.g. ground truth | prediction), matched by ``image_id``. Outputs are named like
    the panoptic PNGs, written atomically (a crash never leaves a half-written PNG) and rendered
    by ``workers`` threads.

    Parameters
    ----------
    panoptic_json_file : path
        COCO panoptic JSON (``annotations`` with ``segments_info``).
    segmentations_folder : path, optional
        Its PNGs; default: the JSON path without ``.json`` (as panopticapi).
    images_folder : path, optional
        The photos, found through the JSON's ``images`` list (or the PNG's name with a photo
        extension); None draws on grey.
    output_folder : path
        Created if needed.
    categories : Categories or list of dict, optional
        Default: the JSON's ``categories``, else the 133 COCO panoptic categories.
    compare_json_file, compare_folder : path, optional
        A second segmentation of the same images (``compare_folder`` defaults like
        ``segmentations_folder``).
    workers : int, optional
        Threads; default: all cores available to this process.
    progress : bool
        Show a progress bar on stderr.
    alpha, boundaries, labels
        As for :func:`overlay`.
    titles : pair of str
        Panel titles when comparing.

    Returns
    -------
    list of str
        The written files, in JSON order.

    Raises
    ------
    PanopticFormatError
        A photo or PNG is missing or unreadable, sizes disagree, a PNG and its ``segments_info``
        disagree, or an image has no annotation in the compared JSON.
    """
    if output_folder is None:
        raise ValueError("output_folder is required")
    if compare_folder is not None and compare_json_file is None:
        raise ValueError("compare_folder needs compare_json_file")
    panoptic_json_file = os.fspath(panoptic_json_file)
    data = load_panoptic_json(panoptic_json_file)
    seg_folder = _existing_folder(segmentations_folder, panoptic_json_file, "segmentations")
    if images_folder is not None and not os.path.isdir(images_folder):
        raise PanopticFormatError("images folder does not exist", file=images_folder)
    if categories is None:
        if isinstance(data.get("categories"), list):
            categories = Categories(data["categories"], source=panoptic_json_file)
        else:
            categories = coco_panoptic_categories()
    categories = as_categories(categories)

    compare = None
    if compare_json_file is not None:
        compare_json_file = os.fspath(compare_json_file)
        other = load_panoptic_json(compare_json_file)
        compare_folder = _existing_folder(compare_folder, compare_json_file, "segmentations")
        compare = {}
        for ann in other["annotations"]:
            compare.setdefault(ann["image_id"], ann)

    image_names = {}
    for img in data.get("images") or ():
        if isinstance(img, Mapping) and "id" in img and "file_name" in img:
            image_names[img["id"]] = img["file_name"]

    jobs = []
    for ann in data["annotations"]:
        other_ann = None
        if compare is not None:
            other_ann = compare.get(ann["image_id"])
            if other_ann is None:
                raise PanopticFormatError("image has no annotation in the compared JSON",
                                          file=compare_json_file, image_id=ann["image_id"],
                                          file_name=ann["file_name"])
        jobs.append((ann, other_ann))
    os.makedirs(output_folder, exist_ok=True)
    style = dict(alpha=alpha, boundaries=boundaries, labels=labels)

    def one_image(job) -> str:
        ann, other_ann = job
        image_id = ann["image_id"]
        photo = photo_path = None
        if images_folder is not None:
            photo_path = _find_image(images_folder, image_names.get(image_id), ann["file_name"],
                                     image_id)
            photo = _read_image(photo_path, image_id)
        picture = _render(photo, photo_path, os.path.join(seg_folder, ann["file_name"]),
                          ann["segments_info"], categories, image_id, panoptic_json_file, **style)
        if other_ann is not None:
            right = _render(photo, photo_path,
                            os.path.join(compare_folder, other_ann["file_name"]),
                            other_ann["segments_info"], categories, image_id, compare_json_file,
                            **style)
            picture = side_by_side(picture, right, titles)
        out_path = os.path.join(output_folder, os.path.splitext(ann["file_name"])[0] + ".png")
        _write_png(out_path, picture)
        return out_path

    from tqdm import tqdm

    written = []
    with tqdm(total=len(jobs), disable=not progress, file=sys.stderr, unit="img",
              desc="panoseg viz", dynamic_ncols=True) as bar:
        for path in ordered_map(one_image, jobs, workers):
            written.append(path)
            bar.update(1)
    return written


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------

def _overlay(image, id_map, segments_info, categories, alpha, boundaries, labels, font_size,
             where, png_path=None):
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
    palette = _segment_palette(table, categories, cx[1:], cy[1:])

    out = photo.astype(np.float32)
    painted = lab > 0
    colours = np.vstack([np.zeros((1, 3)), palette]).astype(np.float32)
    a = np.float32(alpha)
    out[painted] = (1 - a) * out[painted] + a * colours[lab[painted]]
    if image is None:
        # No photo: hatch VOID so it cannot pass for a grey segment.
        yy, xx = np.indices((height, width))
        out[~painted & ((xx + yy) % 8 < 2)] = _HATCH
    if boundaries:
        out[_boundary_mask(lab)] = BOUNDARY_COLOR
    out = np.floor(out + 0.5).clip(0, 255).astype(np.uint8)
    if labels and n:
        out = _draw_labels(out, lab, table, categories, palette,
                           font_size or _default_font_size(min(height, width)))
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


def _segment_palette(table: SegmentTable, categories: Categories, cx, cy) -> np.ndarray:
    """An (N, 3) float array: the colour of each segment of ``table``."""
    n = len(table)
    palette = np.zeros((n, 3), np.float64)
    base = [_category_color(categories.entries[c]) for c in range(len(categories))]
    # Instances of a category, left to right (then top to bottom, then by id): neighbours get
    # consecutive ranks, and consecutive ranks get far-apart shades.
    rank = np.zeros(n, np.int64)
    by_cat = {}
    for k in range(n):
        by_cat.setdefault(int(table.category[k]), []).append(k)
    for members in by_cat.values():
        key = sorted(members, key=lambda k: (np.nan_to_num(cx[k], nan=np.inf),
                                             np.nan_to_num(cy[k], nan=np.inf), int(table.ids[k])))
        for r, k in enumerate(key):
            rank[k] = r
    for k in range(n):
        c = int(table.category[k])
        colour = base[c]
        if categories.isthing[c]:
            colour = _instance_shade(colour, int(rank[k]))
        palette[k] = colour
    return palette


def _category_color(entry: Mapping):
    colour = entry.get("color")
    if isinstance(colour, (list, tuple)) and len(colour) >= 3:
        return tuple(int(v) for v in colour[:3])
    # No colour given: derive a stable, saturated one from the id (golden-ratio hue walk).
    h = (int(entry["id"]) * 0.618033988749895) % 1.0
    return tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(h, 0.65, 0.9))


def _van_der_corput(k: int) -> float:
    """0, 1/2, 1/4, 3/4, 1/8, ...: each new value lands far from the previous one."""
    x, denom = 0.0, 1.0
    while k:
        denom *= 2
        x += (k & 1) / denom
        k >>= 1
    return x


def _instance_shade(rgb, rank: int):
    """The ``rank``-th shade of a category colour; rank 0 is the colour itself."""
    if rank == 0:
        return rgb
    h, l, s = colorsys.rgb_to_hls(*(v / 255.0 for v in rgb))
    lo, hi = 0.22, 0.82
    span = hi - lo
    l0 = min(max(l, lo), hi)
    l = lo + ((l0 - lo) + _van_der_corput(rank) * span) % span
    # A small hue wobble separates shades that happen to land on similar lightness.
    h = (h + 0.16 * ((rank * 0.618033988749895) % 1.0 - 0.5)) % 1.0
    s = max(s, 0.35)
    return tuple(int(round(255 * v)) for v in colorsys.hls_to_rgb(h, l, s))


def _display_name(categories: Categories, cat_index: int, iscrowd: int) -> str:
    name = str(categories.entries[cat_index].get("name", categories.entries[cat_index]["id"]))
    # COCO's "-merged" suffix says how the class was built, not what it is: drop it on screen.
    if name.endswith("-merged"):
        name = name[: -len("-merged")]
    return f"{name} (crowd)" if iscrowd else name


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------

def _default_font_size(short_side: int) -> int:
    return int(min(48, max(11, round(0.035 * short_side))))


_fonts = threading.local()  # FreeType faces are not safe to share between threads.


def _font(size: int):
    from PIL import ImageFont

    cache = _fonts.__dict__.setdefault("cache", {})
    font = cache.get(size)
    if font is None:
        try:
            font = ImageFont.load_default(size=size)  # Pillow >= 10.1 (scalable, needs FreeType)
        except (TypeError, ImportError, OSError, AttributeError):
            font = ImageFont.load_default()  # older Pillow: the small fixed bitmap font
        cache[size] = font
    return font


def _segment_depth(lab: np.ndarray, stride: int):
    """The sub-sampled label map and, per pixel, its distance (in sub-sampled pixels) to its
    segment's edge.

    Repeated erosion alternating 4- and 8-neighbourhoods (an octagonal distance, close enough to
    Euclidean for placing text). The image border counts as an edge so labels stay inside.
    """
    small = lab[stride // 2::stride, stride // 2::stride]
    h, w = small.shape
    depth = np.zeros((h, w), np.int32)
    if h < 3 or w < 3:
        return small, depth
    c = small[1:-1, 1:-1]
    cur = np.zeros((h, w), bool)
    cur[1:-1, 1:-1] = ((c == small[:-2, 1:-1]) & (c == small[2:, 1:-1])
                       & (c == small[1:-1, :-2]) & (c == small[1:-1, 2:]))
    depth += cur
    step = 1
    while cur.any():
        nxt = np.zeros_like(cur)
        core = (cur[1:-1, 1:-1] & cur[:-2, 1:-1] & cur[2:, 1:-1]
                & cur[1:-1, :-2] & cur[1:-1, 2:])
        if step % 2:
            core &= cur[:-2, :-2] & cur[:-2, 2:] & cur[2:, :-2] & cur[2:, 2:]
        nxt[1:-1, 1:-1] = core
        depth += nxt
        cur = nxt
        step += 1
    return small, depth


def _label_anchors(lab: np.ndarray, n: int):
    """For each segment: (x, y, depth_px) of its deepest pixel, nearest the centroid on ties."""
    stride = max(1, int(np.ceil(max(lab.shape) / 320)))
    small, depth = _segment_depth(lab, stride)
    flat = small.ravel()
    if not flat.size:
        return {}
    ys, xs = np.indices(small.shape, dtype=np.float64)
    counts = np.bincount(flat, minlength=n + 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.bincount(flat, weights=xs.ravel(), minlength=n + 1) / counts
        cy = np.bincount(flat, weights=ys.ravel(), minlength=n + 1) / counts
    dist = np.hypot(xs.ravel() - cx[flat], ys.ravel() - cy[flat])
    # Depth first; the centroid distance only breaks ties (it is < 1 after scaling).
    score = depth.ravel() - dist / (dist.max() + 1.0)
    order = np.lexsort((score, flat))
    sorted_lab = flat[order]
    last = np.r_[np.nonzero(np.diff(sorted_lab))[0], len(sorted_lab) - 1]
    anchors = {}
    for i in order[last]:
        seg = int(flat[i])
        if seg:
            y, x = divmod(int(i), small.shape[1])
            anchors[seg] = (x * stride + stride // 2, y * stride + stride // 2,
                            int(depth.ravel()[i]) * stride)
    return anchors


def _text_color_box(rgb):
    """A dark shade of the segment colour for the label box, so white text always reads."""
    r, g, b = (v / 255.0 for v in rgb)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    f = min(1.0, 0.24 / max(luma, 1e-6))
    return tuple(int(round(255 * v * f)) for v in (r, g, b))


def _draw_labels(out, lab, table, categories, palette, size):
    from PIL import Image, ImageDraw

    n = len(table)
    anchors = _label_anchors(lab, n)
    height, width = lab.shape
    font = _font(size)
    pad = max(2, size // 5)
    base = Image.fromarray(out).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    placed = []
    # Deepest segments first: they have the most room, and small ones fill in around them.
    # Ties go by segment id, so the order of segments_info does not matter.
    for seg in sorted(anchors, key=lambda s: (-anchors[s][2], int(table.ids[s - 1]))):
        x, y, depth_px = anchors[seg]
        if depth_px < max(3, size * 0.45):
            continue  # too thin for a readable label
        k = seg - 1
        text = _display_name(categories, int(table.category[k]), int(table.iscrowd[k]))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        bw, bh = right - left + 2 * pad, bottom - top + 2 * pad
        if bw > width or bh > height:
            continue
        box = None
        # The anchor itself, then nudges above / below it, as long as the box centre stays in
        # the segment and clear of the labels already placed.
        for dy in (0, -bh, bh, -2 * bh, 2 * bh):
            cx, cy = x, y + dy
            if not 0 <= cy < height or lab[cy, cx] != seg:
                continue
            x0 = int(min(max(cx - bw // 2, 0), width - bw))
            y0 = int(min(max(cy - bh // 2, 0), height - bh))
            cand = (x0, y0, x0 + bw, y0 + bh)
            if not any(_overlaps(cand, p) for p in placed):
                box = cand
                break
        if box is None:
            continue
        placed.append(box)
        fill = _text_color_box(tuple(palette[k]))
        radius = max(2, size // 4)
        draw.rounded_rectangle([box[0], box[1], box[2] - 1, box[3] - 1], radius=radius,
                               fill=fill + (225,), outline=tuple(int(v) for v in palette[k]) + (255,),
                               width=1)
        draw.text((box[0] + pad - left, box[1] + pad - top), text, font=font,
                  fill=(255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB")).copy()


def _overlaps(a, b, margin: int = 2) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0]
                or a[3] + margin <= b[1] or b[3] + margin <= a[1])


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

def _as_rgb(image, what: str) -> np.ndarray:
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


def _read_png(path, image_id) -> np.ndarray:
    try:
        return read_ids(path)
    except PanopticFormatError as e:
        if e.image_id is None and image_id is not None:
            raise PanopticFormatError(e.problem, file=e.file, image_id=image_id) from None
        raise


def _read_image(path, image_id=None) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            # No EXIF rotation: COCO annotations refer to the stored pixel grid.
            return np.asarray(im.convert("RGB"))
    except OSError as e:
        problem = (f"cannot read image: {e.strerror}" if getattr(e, "strerror", None)
                   else f"cannot read image ({e})")
        raise PanopticFormatError(problem, file=path, image_id=image_id) from None


def _find_image(folder, listed_name, png_name, image_id=None) -> str:
    """The photo of an annotation: the JSON's ``images`` entry, else the PNG's name with a
    photo extension. Raises PanopticFormatError naming the expected file when absent."""
    if listed_name is not None:
        path = os.path.join(folder, listed_name)
        if os.path.isfile(path):
            return path
        raise PanopticFormatError("image not found in the images folder", file=path,
                                  image_id=image_id)
    stem = os.path.splitext(png_name)[0]
    for ext in IMAGE_EXTENSIONS:
        path = os.path.join(folder, stem + ext)
        if os.path.isfile(path):
            return path
    raise PanopticFormatError("image not found in the images folder (tried "
                              + ", ".join(IMAGE_EXTENSIONS[:3]) + ")",
                              file=os.path.join(folder, stem + ".jpg"), image_id=image_id)


def _existing_folder(folder, json_file, what: str) -> str:
    folder = default_folder(json_file) if folder is None else os.fspath(folder)
    if not os.path.isdir(folder):
        raise PanopticFormatError(f"folder with {what} does not exist", file=folder)
    return folder


def _write_png(path, picture: np.ndarray) -> None:
    from PIL import Image

    with atomic_open(path, "wb") as f:
        Image.fromarray(picture).save(f, format="PNG")


__all__ = ["overlay", "side_by_side", "render_panoptic", "visualize_dataset"]
