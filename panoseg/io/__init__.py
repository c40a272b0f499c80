"""The COCO panoptic format: the RGB <-> id codec, PNG read/write (decoded by the core),
panoptic JSON loading and validation, categories, COCO RLE, and the file-naming rules."""
