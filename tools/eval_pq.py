#!/usr/bin/env python3
"""Panoptic Quality evaluation, panopticapi's flags: same as ``panoseg eval``.

    python tools/eval_pq.py --gt_json_file gt.json --pred_json_file pred.json [--per-class]
"""
import sys

from panoseg.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_command="eval"))
