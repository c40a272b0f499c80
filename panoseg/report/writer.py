"""Writing the report folder: ``index.html`` and ``report.json``."""
from __future__ import annotations

import json
import os

from ..util.atomic import atomic_open
from .page import render_report_html
from .values import jsonable


def write_report(folder, report: dict, worst: list, categories, *,
                 title: str = "panoseg evaluation") -> str:
    """Writes ``folder/index.html`` (the report page) and ``folder/report.json`` (every number).

    Parameters
    ----------
    folder : path
        Output folder, created if needed. Both files are written atomically.
    report : dict
        The evaluation: ``All`` / ``Things`` / ``Stuff`` (``pq``, ``sq``, ``rq``, ``n``) and
        ``per_class`` as panopticapi's ``pq_compute`` returns them, and optionally
        ``pq_dagger``, ``parsing_covering``, ``pq_by_size``, ``confusion``, ``per_category``,
        ``bootstrap``, ``n_images``, ``per_image`` and ``inputs`` (see the module's README
        section). Metric values lie in 0..1 and are shown in percent. Keys of per-class
        mappings may be ints or strings.
    worst : list of dict
        The images to show, worst first: ``image_id``, ``file_name``, ``pq``, ``tp``, ``fp``,
        ``fn``, ``gt_png``, ``pred_png``, ``gt_segments``, ``pred_segments`` and
        ``image_path`` (the photo, or None to draw on grey). An image that cannot be drawn
        (a missing file, ...) gets a placeholder saying why.
    categories : Categories or list of dict, or None
        The categories (``id``, ``name``, ``isthing``, ``color``): names in the tables and
        colours in the pictures.
    title : str
        Page title.

    Returns
    -------
    str
        The path of ``index.html``.

    Notes
    -----
    ``report.json`` is ``report`` as JSON (``indent=1``); numpy scalars and arrays become
    numbers and lists, and NaN / infinite values become ``null`` so that the file is strict
    JSON. The page shows a dash, not 0.0, for a group whose N is 0; ``report.json`` keeps the
    numbers as given.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    json_text = json.dumps(jsonable(report), indent=1, allow_nan=False)
    page = render_report_html(report, worst, categories, title=title)
    return write_page_and_json(folder, page, json_text)


def write_page_and_json(folder: str, page: str, json_text: str) -> str:
    """Writes ``folder/report.json`` then ``folder/index.html`` (each atomically); returns the
    page's path."""
    with atomic_open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        f.write(json_text + "\n")
    index = os.path.join(folder, "index.html")
    with atomic_open(index, "w", encoding="utf-8") as f:
        f.write(page)
    return index
