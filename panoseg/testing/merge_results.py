"""What ``_core.scan_merge_results`` must read from a merge's results file, computed from the
stdlib parser's reading of it (the reference for its tests and its fuzz harness)."""
from __future__ import annotations

import json


def parsed_results_entries(doc, with_score: bool) -> list:
    """``ScannedMergeResults.entries()`` as the stdlib parser reads ``doc`` (str or bytes): per
    result ``(image_id, category_id, score or None, [height, width] or None, counts or None)``,
    the last two None unless the segmentation is a plain compressed RLE (``size`` two integers
    of at most 15 digits, ``counts`` an ASCII string)."""
    data = json.loads(doc)
    results = data["annotations"] if isinstance(data, dict) else data
    out = []
    for r in results:
        seg = r["segmentation"]
        size = counts = None
        if type(seg) is dict and type(seg.get("size")) is list and len(seg["size"]) == 2 \
                and all(type(v) is int and abs(v) < 10**15 for v in seg["size"]) \
                and type(seg.get("counts")) is str and seg["counts"].isascii():
            size, counts = seg["size"], seg["counts"]
        out.append((r["image_id"], r["category_id"], r["score"] if with_score else None, size,
                    counts))
    return out
