"""Semantic segmentation side of panoptic data: panoptic PNGs -> training labels
(:mod:`.labels`) and model classes -> COCO panoptic categories (:mod:`.label_maps`)."""
