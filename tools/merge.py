#!/usr/bin/env python3
"""Panoptic merge of semantic + instance predictions, panopticapi's flags: same as ``panoseg merge``.

    python tools/merge.py --semseg_json_file sem.json --instseg_json_file inst.json \\
        --images_json_file images.json --categories_json_file categories.json \\
        --panoptic_json_file panoptic.json
"""
import sys

from panoseg.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_command="merge"))
