#!/usr/bin/env python3
"""Panoptic merge of semantic + instance predictions, panopticapi's flags: same as ``panoseg merge``.

    python tools/merge.py --semseg_json_file sem.json --instseg_json_file inst.json \\
        --images_json_file images.json --categories_json_file categories.json \\
        --panoptic_json_file panoptic.json
"""
import os
import sys

# The merge does no linear algebra: without this, numpy's OpenBLAS starts a thread per core at
# import that only idles (~15 ms of this script's start-up). A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from panoseg.cli import main  # noqa: E402

if __name__ == "__main__":
    status = main(prog_command="merge")
    # Every output is written, closed and renamed into place by now: skip the interpreter's
    # teardown, which would free the run's objects one by one (~50 ms, a tenth of a merge of
    # 200 images). Usage errors still leave through SystemExit, as usual.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
