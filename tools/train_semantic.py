#!/usr/bin/env python3
"""Train PSPNet-ResNet50 on COCO panoptic stuff (needs MXNet + GluonCV): same as
``panoseg train-semantic``.

    python tools/train_semantic.py --train-images train2017 \\
        --train-json annotations/panoptic_train2017.json \\
        --val-images val2017 --val-json annotations/panoptic_val2017.json \\
        --out-dir runs/psp --ctx gpu:0,1,2,3 --batch-size 16 --backbone-weights zoo
"""
import sys

from panoseg.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_command="train-semantic"))
