"""Pictures of panoptic segmentations: overlays with segment colours, boundaries and names.

:mod:`.render` draws one segmentation over its photo (:func:`overlay`, :func:`render_panoptic`)
and puts two pictures side by side (:func:`side_by_side`); :mod:`.palette` colours the segments,
:mod:`.labels` writes their names; :mod:`.dataset` does a whole COCO panoptic JSON
(:func:`visualize_dataset`); :mod:`.errors` draws a prediction's matches and errors
(:func:`render_errors`, ``panoseg viz --errors``).
"""
from .dataset import IMAGE_EXTENSIONS, visualize_dataset
from .errors import ERROR_COLORS, error_overlay, render_errors
from .render import BOUNDARY_COLOR, GREY, overlay, render_panoptic, side_by_side

__all__ = ["BOUNDARY_COLOR", "ERROR_COLORS", "GREY", "IMAGE_EXTENSIONS", "error_overlay",
           "overlay", "render_errors", "render_panoptic", "side_by_side", "visualize_dataset"]
