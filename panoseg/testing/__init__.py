"""Test and benchmark data: COCO-like synthetic panoptic datasets and merge inputs
(:mod:`.synthetic`). Not used by the rest of the package."""
