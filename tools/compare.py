#!/usr/bin/env python3
"""Compares predictions of the same ground truth: same as ``panoseg compare``.

    python tools/compare.py --gt_json_file gt.json --pred a.json --pred b.json [--report DIR]
"""
import sys

from panoseg.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_command="compare"))
