"""Category names written inside their segments: fonts, where a label goes (the point of a
segment farthest from its edge), and drawing the labels without overlaps."""
from __future__ import annotations

import threading

import numpy as np

from ..io.categories import Categories
from .palette import label_box_color


def display_name(categories: Categories, cat_index: int, iscrowd: int) -> str:
    """The label of a segment: its category name, "(crowd)" added for crowd regions."""
    name = str(categories.entries[cat_index].get("name", categories.entries[cat_index]["id"]))
    # COCO's "-merged" suffix says how the class was built, not what it is: drop it on screen.
    if name.endswith("-merged"):
        name = name[: -len("-merged")]
    return f"{name} (crowd)" if iscrowd else name


def default_font_size(short_side: int) -> int:
    """About 3.5 % of the image's shorter side, within 11..48 px."""
    return int(min(48, max(11, round(0.035 * short_side))))


_fonts = threading.local()  # FreeType faces are not safe to share between threads.


def load_font(size: int):
    """Pillow's default font at ``size`` px (cached per thread); old Pillow: its bitmap font."""
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


def segment_depth(lab: np.ndarray, stride: int):
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


def label_anchors(lab: np.ndarray, n: int):
    """For each segment: (x, y, depth_px) of its deepest pixel, nearest the centroid on ties."""
    stride = max(1, int(np.ceil(max(lab.shape) / 320)))
    small, depth = segment_depth(lab, stride)
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


def draw_labels(out, lab, table, categories, palette, size, texts=None, first=None):
    """``out`` with the category name of each segment of ``lab`` large enough to hold it,
    on a rounded box of the segment's colour, deepest segments first, boxes never overlapping.
    ``texts``: the label of each segment instead (table order; an empty one draws nothing).
    ``first``: flags (table order) of segments whose labels are placed before all others
    (e.g. errors, so that matched segments' labels never crowd them out)."""
    from PIL import Image, ImageDraw

    n = len(table)
    anchors = label_anchors(lab, n)
    height, width = lab.shape
    font = load_font(size)
    pad = max(2, size // 5)
    base = Image.fromarray(out).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    placed = []
    # Deepest segments first: they have the most room, and small ones fill in around them.
    # Ties go by segment id, so the order of segments_info does not matter.
    urgent = (lambda s: not first[s - 1]) if first is not None else (lambda s: False)
    for seg in sorted(anchors, key=lambda s: (urgent(s), -anchors[s][2],
                                              int(table.ids[s - 1]))):
        x, y, depth_px = anchors[seg]
        if depth_px < max(3, size * 0.45):
            continue  # too thin for a readable label
        k = seg - 1
        if texts is not None:
            text = texts[k]
            if not text:
                continue
        else:
            text = display_name(categories, int(table.category[k]), int(table.iscrowd[k]))
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
        fill = label_box_color(tuple(palette[k]))
        radius = max(2, size // 4)
        outline = tuple(int(v) for v in palette[k]) + (255,)
        draw.rounded_rectangle([box[0], box[1], box[2] - 1, box[3] - 1], radius=radius,
                               fill=fill + (225,), outline=outline, width=1)
        draw.text((box[0] + pad - left, box[1] + pad - top), text, font=font,
                  fill=(255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB")).copy()


def _overlaps(a, b, margin: int = 2) -> bool:
    """Boxes (x0, y0, x1, y1) closer than ``margin`` pixels."""
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0]
                or a[3] + margin <= b[1] or b[3] + margin <= a[1])

