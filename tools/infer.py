#!/usr/bin/env python3
"""Panoptic inference with GluonCV models on MXNet: same as ``panoseg infer``.

    python tools/infer.py --images val2017/ --images-json panoptic_val2017.json \\
        --json-out pred/panoptic.json --ctx gpu:0 --save-intermediate pred/intermediate
    python tools/eval_pq.py --gt_json_file panoptic_val2017.json --pred_json_file pred/panoptic.json

Needs ``pip install 'panoseg[mxnet]'``; see README.md for weights and GPU wheels.
"""
import sys

from panoseg.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_command="infer"))
