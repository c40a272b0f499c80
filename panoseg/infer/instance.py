"""The instance model: a GluonCV Mask R-CNN, from image to boxes, scores, classes and masks.

Masks stay as Mask R-CNN emits them (MxM probabilities in the box); the core pastes them, bit for
bit as GluonCV's ``expand_mask`` would, only when the merge needs them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np

from ..io.categories import Categories, as_categories
from .context import parse_ctx
from .models import build_zoo_net
from .weights import load_weights, resolve_weights

DEFAULT_INSTANCE_MODEL = "mask_rcnn_fpn_resnet50_v1b_coco"
#: GluonCV's COCO Mask R-CNNs were trained with the short side at 800, the long side <= 1333.
DEFAULT_SHORT, DEFAULT_MAX_SIZE = 800, 1333
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class InvalidOutput(RuntimeError):
    """The network returned boxes no real prediction can have.

    Seen with GluonCV 0.10's Mask R-CNN on MXNet 1.9 (CPU) in a process that had already run
    several predictors and freed them: the network then reads memory nobody initialized. A
    fresh process (each ``panoseg infer`` run is one) is not affected; the check turns what would
    be silently wrong masks into a reported failure of the image.
    """


@dataclass
class InstancePrediction:
    """Mask R-CNN's detections of one image, in that image's pixel coordinates.

    ``boxes`` (N x 4, xyxy, float32), ``scores`` (N), ``category_ids`` (N, COCO panoptic thing
    ids), ``mask_probs`` (N x M x M float32 probabilities inside each box), by descending score.
    """

    boxes: np.ndarray
    scores: np.ndarray
    category_ids: np.ndarray
    mask_probs: np.ndarray
    height: int
    width: int

    def __len__(self) -> int:
        return len(self.scores)


class InstancePredictor:
    """A GluonCV Mask R-CNN ready to predict.

    Parameters
    ----------
    model : str
        A GluonCV zoo name (``mask_rcnn_fpn_resnet50_v1b_coco``, ``mask_rcnn_resnet50_v1b_coco``,
        ``mask_rcnn_fpn_resnet18_v1b_coco``, ...).
    weights : str, optional
        A ``.params`` file (``net.save_parameters`` format); default: the zoo cache file
        ``$MXNET_HOME/models/{model}-{sha1[:8]}.params``.
    ctx : str or list
        ``cpu``, ``gpu:0`` or ``gpu:0,1``: images of a batch are spread over the GPUs.
    short, max_size : int
        The input scale: the short side resized to ``short``, the long side kept <= ``max_size``.
    score_thr : float
        Detections below this score are dropped here (the merge has its own, higher threshold).
    topk : int
        At most this many detections per image (the highest scores).
    categories : Categories or list of dict, optional
        The panoptic categories the model's classes map to, by name (default COCO's 133).
    download : bool
        Fetch missing zoo weights from GluonCV's servers (off: panoseg never downloads unasked).
    """

    def __init__(self, model: str = DEFAULT_INSTANCE_MODEL, weights: Optional[str] = None,
                 ctx="cpu", short: int = DEFAULT_SHORT, max_size: int = DEFAULT_MAX_SIZE,
                 score_thr: float = 0.05, topk: int = 100, categories=None,
                 download: bool = False):
        if not (isinstance(short, int) and isinstance(max_size, int) and 0 < short <= max_size):
            raise ValueError(f"input scale must satisfy 0 < short <= max_size, got {short}, {max_size}")
        if not 0.0 <= float(score_thr) <= 1.0:
            raise ValueError(f"--score-thr must lie in [0, 1], got {score_thr}")
        if int(topk) < 1:
            raise ValueError(f"--topk must be >= 1, got {topk}")
        self.ctx = parse_ctx(ctx)
        self.model = model
        self.short, self.max_size = short, max_size
        self.score_thr, self.topk = float(score_thr), int(topk)
        # (The net keeps GluonCV's rcnn_max_dets = 1000: lowering it to topk would save mask-head
        # time, but GluonCV 0.10's FPN models then return garbage masks.)
        self.net = build_zoo_net(model, "instance segmentation", ("mask_rcnn_",),
                                 "--instance-model")
        self.weights = resolve_weights(model, weights, "--instance-weights", download)
        load_weights(self.net, self.weights, self.ctx, "--instance-weights")
        cats = categories if isinstance(categories, Categories) else (
            as_categories(categories, default_coco=True))
        self.category_ids = _class_categories(list(self.net.classes), cats)

    def preprocess(self, image: np.ndarray):
        """HxWx3 uint8 -> (1x3xhxw normalized NDArray on the CPU, (sx, sy) to map boxes back).

        GluonCV's ``presets.rcnn.transform_test``: resize_short_within (OpenCV area filter),
        to_tensor, ImageNet normalization.
        """
        from gluoncv.data.transforms import image as timage

        h, w = image.shape[:2]
        img = timage.resize_short_within(mx.nd.array(image, dtype="uint8"), self.short,
                                         self.max_size)
        nh, nw = img.shape[:2]
        x = mx.nd.image.normalize(mx.nd.image.to_tensor(img), mean=IMAGENET_MEAN, std=IMAGENET_STD)
        return x.expand_dims(0), (w / nw, h / nh)

    def predict(self, image: np.ndarray) -> InstancePrediction:
        """One HxWx3 uint8 RGB image -> its detections."""
        return self.predict_batch([image])[0]

    def predict_batch(self, images: Sequence[np.ndarray],
                      timings: Optional[dict] = None) -> List[InstancePrediction]:
        """Several images; on several GPUs they run concurrently, one image per GPU at a time.

        GluonCV's R-CNNs infer one image per forward pass, so a "batch" here is a group of
        images dispatched together (MXNet runs them asynchronously), not one stacked tensor.
        ``timings`` (optional dict) accumulates seconds under ``preprocess`` and ``instance``.
        """
        t0 = time.perf_counter()
        inputs = [self.preprocess(img) for img in images]
        t1 = time.perf_counter()
        outputs = []
        for k, (x, _) in enumerate(inputs):
            ctx = self.ctx[k % len(self.ctx)]
            outputs.append(self.net(x.as_in_context(ctx)))  # queued, not waited for
        results = []
        for img, (_, scale), out in zip(images, inputs, outputs):
            results.append(self._postprocess(img.shape[0], img.shape[1], scale,
                                             *(o[0].asnumpy() for o in out)))
        if timings is not None:
            timings["preprocess"] = timings.get("preprocess", 0.0) + t1 - t0
            timings["instance"] = timings.get("instance", 0.0) + time.perf_counter() - t1
        return results

    def _postprocess(self, height, width, scale, ids, scores, boxes, masks) -> InstancePrediction:
        ids = ids.reshape(-1)
        scores = scores.reshape(-1)
        keep = np.flatnonzero((ids >= 0) & (scores >= self.score_thr) & np.isfinite(scores))
        keep = keep[np.argsort(-scores[keep], kind="stable")][:self.topk]
        sx, sy = scale
        box = boxes[keep].astype(np.float32) * np.array([sx, sy, sx, sy], np.float32)
        # The network's boxes lie within its input; anything far outside is not a prediction
        # but garbage memory (see InvalidOutput): refuse it rather than paste it.
        limit = 4.0 * max(height, width)
        if box.size and not (np.all(np.isfinite(box)) and np.abs(box).max() <= limit):
            bad = box[~np.all(np.isfinite(box) & (np.abs(box) <= limit), axis=1)][0]
            raise InvalidOutput(f"the instance model returned an impossible box {bad.tolist()} "
                                f"for a {width}x{height} image: MXNet produced invalid output")
        return InstancePrediction(
            boxes=np.ascontiguousarray(box, dtype=np.float32),
            scores=scores[keep].astype(np.float32),
            category_ids=self.category_ids[ids[keep].astype(np.int64)],
            mask_probs=np.ascontiguousarray(masks[keep], dtype=np.float32),
            height=int(height), width=int(width))


def _class_categories(classes: List[str], cats: Categories) -> np.ndarray:
    """The panoptic category id of each model class, matched by name among thing categories."""
    by_name = {e["name"]: int(e["id"]) for e in cats.entries if e.get("isthing")}
    missing = [c for c in classes if c not in by_name]
    if missing:
        raise ValueError(f"the instance model's classes {missing[:5]} are not thing categories "
                         "of the panoptic category list")
    return np.array([by_name[c] for c in classes], dtype=np.int64)
