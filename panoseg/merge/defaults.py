"""The merge's default thresholds (panopticapi's), in a module that imports nothing: the command
line builds its flags from them without loading the merge (or numpy)."""

DEFAULT_CONFIDENCE_THR = 0.5
DEFAULT_OVERLAP_THR = 0.5
DEFAULT_STUFF_AREA_LIMIT = 64 * 64
