"""The report's worst images: ground truth | prediction overlays drawn with :mod:`panoseg.viz`,
embedded as ``data:`` URIs, and the section that shows them (``worst*`` templates).

With both segment lists given (``gt_segments``, ``pred_segments``), a picture marks the
prediction's matches and errors (:mod:`panoseg.viz.errors`, matched as
:mod:`panoseg.evaluation.errors` does): matched segments green with their IoU, false
negatives orange and false positives magenta with their error type, crowd and ignored grey; the
section then starts with the legend. Without them, or if matching the image fails (said under
the picture), segments are drawn in their category colours."""
from __future__ import annotations

import base64
import io
import math
import os
from typing import List, Mapping, Sequence

from .templates import render
from .values import count_text, esc, percent

#: Widest embedded picture (pixels): a GT | prediction pair is scaled down to fit.
MAX_IMAGE_WIDTH = 960
#: Label size (pixels, after scaling down) aimed at inside the embedded pictures.
_LABEL_PX = 12
_JPEG_QUALITY = 85


def render_worst(worst: list, categories, errors: bool = True) -> List[tuple]:
    """(data URI or None, (w, h), problem, warning) per image, drawn by a few threads.

    An image that cannot be drawn gets ``problem`` (why) instead of a URI; ``warning`` says
    when it was drawn on grey because its photo was not usable, or without its errors marked
    because they could not be matched. ``errors``: mark matches and errors (when the item has
    both segment lists).
    """
    if not worst:
        return []
    from ..util.parallel import default_workers, ordered_map

    cats = None
    cat_problem = None
    try:
        from ..io.categories import as_categories

        cats = as_categories(categories)
    except Exception as e:  # noqa: BLE001 - no categories: every picture gets a placeholder
        cat_problem = f"no usable categories ({e})"

    def one(item):
        if cat_problem is not None:
            return None, None, cat_problem, None
        try:
            return _render_pair(item, cats, errors)
        except Exception as e:  # noqa: BLE001 - one bad image must not sink the report
            return None, None, _problem(e), None

    workers = max(1, min(len(worst), default_workers(), 8))
    return list(ordered_map(one, worst, workers))


def _problem(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 400 else text[:397] + "..."


def _marks_wanted(item, errors: bool) -> bool:
    return bool(errors) and isinstance(item, Mapping) \
        and item.get("gt_segments") is not None and item.get("pred_segments") is not None


def _error_pair(item, photo, categories, font):
    """GT | prediction with matches and errors marked (no legend: the section has it)."""
    from ..evaluation.errors import viz_marks
    from ..io.png import read_ids
    from ..viz.errors import error_overlay
    from ..viz.render import read_photo, side_by_side

    image = None if photo is None else read_photo(photo, item.get("image_id"))
    gt_ids, pred_ids = read_ids(item["gt_png"]), read_ids(item["pred_png"])
    gt_info, pred_info = item.get("gt_segments") or [], item.get("pred_segments") or []
    marks = viz_marks(gt_ids, gt_info, pred_ids, pred_info, categories,
                      image_id=item.get("image_id"), file_name=item.get("file_name"),
                      gt_file=item["gt_png"], pred_file=item["pred_png"])
    panels = [error_overlay(image, ids, info, categories, marks[side], side, font_size=font)
              for ids, info, side in ((gt_ids, gt_info, "gt"), (pred_ids, pred_info, "pred"))]
    return side_by_side(panels[0], panels[1], ("ground truth", "prediction"),
                        font_size=font + 2)


def _render_pair(item, categories, errors: bool = False):
    from PIL import Image

    from ..viz import render_panoptic, side_by_side

    if not isinstance(item, Mapping):
        raise ValueError(f"not an image entry: {item!r}")
    missing = [k for k in ("gt_png", "pred_png") if not item.get(k)]
    if missing:
        raise ValueError("no " + " / ".join(missing) + " path given")
    image_id = item.get("image_id")
    for key in ("gt_png", "pred_png"):
        if not os.path.isfile(item[key]):
            what = "ground-truth" if key == "gt_png" else "prediction"
            raise FileNotFoundError(f"{what} PNG not found: {os.fspath(item[key])}")
    with Image.open(item["gt_png"]) as im:
        width, height = im.size
    photo, warning = item.get("image_path"), None
    if photo is not None:
        try:
            with Image.open(photo) as im:
                if im.size != (width, height):
                    raise ValueError(f"it is {im.size[0]}x{im.size[1]}, the PNG "
                                     f"{width}x{height}")
        except (OSError, ValueError) as e:
            warning = f"Photo {os.fspath(photo)} not usable ({_problem(e)}): drawn on grey."
            photo = None
    # Label size chosen so that it reads after the pair is scaled down to MAX_IMAGE_WIDTH.
    scale = min(1.0, MAX_IMAGE_WIDTH / max(1, 2 * width + 8))
    short = min(width, height)
    font = int(min(48, max(11, round(0.035 * short))))
    font = max(font, int(math.ceil(_LABEL_PX / scale)))
    font = min(font, max(11, short // 5))
    pair = None
    if _marks_wanted(item, errors):
        try:
            pair = Image.fromarray(_error_pair(item, photo, categories, font))
        except Exception as e:  # noqa: BLE001 - still worth a picture in category colours
            note = f"Errors not marked ({_problem(e)})."
            warning = note if warning is None else f"{warning} {note}"
    if pair is None:
        panels = [render_panoptic(photo, item[png], item.get(seg) or [], categories,
                                  font_size=font, image_id=image_id)
                  for png, seg in (("gt_png", "gt_segments"), ("pred_png", "pred_segments"))]
        pair = Image.fromarray(side_by_side(panels[0], panels[1], ("ground truth", "prediction"),
                                            font_size=font + 2))
    if pair.width > MAX_IMAGE_WIDTH:
        new_h = max(1, int(round(pair.height * MAX_IMAGE_WIDTH / pair.width)))
        pair = pair.resize((MAX_IMAGE_WIDTH, new_h), Image.LANCZOS)
    uri = _data_uri(pair, photo is not None)
    return uri, pair.size, None, warning


def _data_uri(picture, is_photo: bool) -> str:
    """JPEG for photos; for grey backgrounds the smaller of PNG and JPEG."""
    encoded = []
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    encoded.append(("image/jpeg", buf.getvalue()))
    if not is_photo:
        buf = io.BytesIO()
        picture.save(buf, format="PNG", optimize=True)
        encoded.append(("image/png", buf.getvalue()))
    mime, data = min(encoded, key=lambda e: len(e[1]))
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def error_legend() -> str:
    """The legend of the pictures with errors marked (HTML, the report's ``legend`` style)."""
    from ..viz.errors import ERROR_COLORS

    entries = [("tp", "matched: label = IoU"),
               ("fn", "false negative (in the ground truth): label = error type"),
               ("fp", "false positive (in the prediction): label = error type"),
               ("crowd", "crowd region / ignored prediction (not counted)")]
    return render("worst_legend.html", entries="".join(
        render("worst_legend_entry.html", color="rgb({},{},{})".format(*ERROR_COLORS[k]),
               text=esc(text)) for k, text in entries))


def worst_section(worst: Sequence[Mapping], pictures: Sequence[tuple],
                  errors: bool = True) -> str:
    """A figure per image, worst first: its ids and counts, then its picture or why not.

    Parameters
    ----------
    worst : sequence of dict
        The images, as :func:`panoseg.report.write_report` takes them.
    pictures : sequence of tuple
        :func:`render_worst` of ``worst``.
    errors : bool
        As given to :func:`render_worst`: the legend of the marked errors goes first when a
        picture has them.
    """
    if not worst:
        return render("empty.html", text="No images to show.")
    figures = []
    for rank, (item, (uri, size, problem, warning)) in enumerate(zip(worst, pictures), 1):
        item = item if isinstance(item, Mapping) else {}
        if uri is not None:
            alt = f"ground truth and prediction of image {item.get('image_id', '?')}"
            picture = render("worst_image.html", src=uri, width=size[0], height=size[1],
                             alt=esc(alt),
                             warning=render("note.html", text=esc(warning)) if warning else "")
        else:
            picture = render("worst_placeholder.html", problem=esc(problem))
        figures.append(render(
            "worst_figure.html", rank=rank, image_id=esc(item.get("image_id", "?")),
            file_name=esc(item.get("file_name", "")), pq=percent(item.get("pq")),
            tp=count_text(item.get("tp")), fp=count_text(item.get("fp")),
            fn=count_text(item.get("fn")), picture=picture))
    if any(_marks_wanted(item, errors) and p[0] is not None for item, p in zip(worst, pictures)):
        figures.insert(0, error_legend())
    return render("worst.html", n=len(worst), figures="\n".join(figures))
