"""The self-contained HTML error-analysis report of ``panoseg eval --report``."""
from .html import CONFUSION_ROWS, MAX_IMAGE_WIDTH, render_report_html, write_report

__all__ = ["CONFUSION_ROWS", "MAX_IMAGE_WIDTH", "render_report_html", "write_report"]
