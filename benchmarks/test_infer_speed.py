"""Where ``panoseg infer``'s time goes: load, preprocess, models, merge (+ paste), write.

Small nets on the CPU (GluonCV Mask R-CNN FPN ResNet-18 at the images' own scale, short side
480, and PSPNet ResNet-50 at 480x480) with random weights (nothing can be downloaded here),
so every one of the top 100 detections has a mask to paste and merge (--score-thr 0,
--confidence-thr 0.01): the merge does more work than with trained weights. The images are
the two COCO sample photos (640x427, 640x360), four copies each. Target: everything but the
model below 10% of the model's time.
"""
import contextlib
import io
import os
import shutil

import pytest

mx = pytest.importorskip("mxnet")
pytest.importorskip("gluoncv")

from conftest import record_stages  # noqa: E402

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "coco_panoptic_sample",
                      "input_images")
COPIES = 4


def _save_random_net(name, path, **kwargs):
    from gluoncv import model_zoo

    mx.random.seed(0)
    with contextlib.redirect_stdout(io.StringIO()):
        net = model_zoo.get_model(name, pretrained=False, pretrained_base=False, **kwargs)
    net.initialize()
    size = kwargs.get("crop_size", 128)  # PSPNet's forward is fixed to its crop size
    net(mx.nd.zeros((1, 3, size, size)))
    net.save_parameters(str(path))


def test_infer_time_split(benchmark, tmp_path):
    from panoseg.infer import InstancePredictor, PanopticPredictor, SemanticPredictor
    from panoseg.infer.images import images_in_folder
    from panoseg.infer.pipeline import STAGES, run_inference

    _save_random_net("mask_rcnn_fpn_resnet18_v1b_coco", tmp_path / "inst.params")
    _save_random_net("psp_resnet50_ade", tmp_path / "sem.params", crop_size=480)
    images = tmp_path / "images"
    images.mkdir()
    for name in sorted(os.listdir(SAMPLE)):
        for k in range(COPIES):
            shutil.copy(os.path.join(SAMPLE, name), images / f"{k}_{name}")
    predictor = PanopticPredictor(
        InstancePredictor("mask_rcnn_fpn_resnet18_v1b_coco", str(tmp_path / "inst.params"),
                          short=480, max_size=640, score_thr=0.0, topk=100),
        SemanticPredictor("psp_resnet50_ade", str(tmp_path / "sem.params"), crop_size=480),
        confidence_thr=0.01)
    items = images_in_folder(images)
    # warm-up (first calls of MXNet operators are slow), not measured
    run_inference(predictor, items[:1], str(tmp_path / "warm.json"), progress=False)
    counter = iter(range(100))

    def run():
        return run_inference(predictor, items, str(tmp_path / f"out{next(counter)}.json"),
                             progress=False)

    summary = benchmark.pedantic(run, rounds=1, iterations=1)
    assert summary.done == len(items) and not summary.failures
    per_image = {s: summary.timings[s] / summary.done for s in STAGES}
    benchmark.extra_info.update({f"{s}_s_per_image": v for s, v in per_image.items()})
    record_stages("panoseg infer (FPN R18 + PSPNet R50, CPU)", per_image,
                  ("instance", "semantic"))
