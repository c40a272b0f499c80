"""Pictures of panoptic segmentations: overlays with segment colours, boundaries and names."""
from .render import (
                     BOUNDARY_COLOR,
                     GREY,
                     IMAGE_EXTENSIONS,
                     overlay,
                     render_panoptic,
                     side_by_side,
                     visualize_dataset,
)

__all__ = ["BOUNDARY_COLOR", "GREY", "IMAGE_EXTENSIONS", "overlay", "render_panoptic",
           "side_by_side", "visualize_dataset"]
