"""A self-contained HTML error-analysis report of a panoptic evaluation (``panoseg eval --report``).

:func:`write_report` writes ``index.html`` and ``report.json`` into a folder. The page needs
nothing but itself: CSS is inline, the charts are inline SVG and the pictures of the worst images
(ground truth | prediction overlays from :mod:`panoseg.viz`) are embedded as base64 ``data:``
URIs, so it opens offline and can be mailed or archived as one file. No JavaScript.

The page shows, in order: the title, the inputs and the image count; the summary (PQ / SQ / RQ
for All / Things / Stuff with bootstrap intervals when given, PQ-dagger, Parsing Covering, PQ by
object size); a per-class PQ bar chart; the per-category table; the confusion table of missed
ground-truth segments; a histogram of per-image PQ; the worst images. Every optional part of the
report dict may be missing: its section is then left out or says so.

Layout: the markup and the stylesheet are template files in ``templates/`` (package data,
filled in by :mod:`.templates` with :class:`string.Template`); :mod:`.values` reads and formats
the report's numbers, :mod:`.rows` merges the per-category results, :mod:`.summary`,
:mod:`.charts`, :mod:`.tables` and :mod:`.pictures` build the sections, :mod:`.page` the page
and :mod:`.writer` the two files. Only numpy, Pillow and the standard library are used.
"""
from .charts import STUFF_COLOR, THING_COLOR
from .page import render_report_html
from .pictures import MAX_IMAGE_WIDTH
from .tables import CONFUSION_ROWS
from .writer import write_report

__all__ = ["CONFUSION_ROWS", "MAX_IMAGE_WIDTH", "STUFF_COLOR", "THING_COLOR", "render_report_html",
           "write_report"]
