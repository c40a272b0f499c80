"""Format conversion: COCO panoptic <-> 2-channel, detection and semantic formats."""
from .converters import (
                         CROWD_INSTANCE,
                         OTHER_CLASS_ID,
                         detection_to_panoptic,
                         panoptic_to_detection,
                         panoptic_to_semantic,
                         two_channel_to_panoptic,
)

__all__ = ["CROWD_INSTANCE", "OTHER_CLASS_ID", "detection_to_panoptic", "panoptic_to_detection",
           "panoptic_to_semantic", "two_channel_to_panoptic"]
