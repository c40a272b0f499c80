"""The semantic model: a GluonCV PSPNet / DeepLab / FCN, from image to an HxW class map.

Inference is at the model's fixed size (GluonCV's segmentation nets are built for one crop size):
``resize`` scales the image so its long side is the crop size and pads it (one forward pass);
``sliding`` scales the long side to the base size and runs overlapping crop-size windows (stride
2/3 of the crop, as GluonCV's evaluation), averaging their scores. Scores are upsampled to the
image size and reduced by argmax on the device; only the HxW class map comes back to the host.
"""
from __future__ import annotations

import math
import os
import time
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np

from ..io.categories import Categories, as_categories
from ..semantic.label_maps import LABEL_MAPS, label_table
from .checkpoint import build_semantic_net, read_checkpoint_spec
from .context import parse_ctx
from .instance import IMAGENET_MEAN, IMAGENET_STD
from .models import build_zoo_net
from .weights import load_weights, resolve_weights

DEFAULT_SEMANTIC_MODEL = "psp_resnet50_ade"
SEMANTIC_PREFIXES = ("psp_", "deeplab_", "fcn_")
MODES = ("resize", "sliding")
#: Upsampled scores of one image on the device are capped at this many floats (512 MB); above,
#: the argmax is taken at a lower resolution and the class map resized (nearest) on the host.
MAX_SCORE_ELEMENTS = 1 << 27


class SemanticPredictor:
    """A GluonCV semantic segmentation net ready to predict.

    Parameters
    ----------
    model : str
        A GluonCV zoo name (``psp_resnet50_ade``, ``deeplab_resnet101_ade``, ...) or the
        ``.params`` file of a ``panoseg train-semantic`` checkpoint.
    weights : str, optional
        A ``.params`` file: zoo-format weights, or a panoseg checkpoint (recognized by the
        ``.json`` file beside it, which then defines the network). Default: the zoo cache.
    ctx : str or list
        ``cpu``, ``gpu:0`` or ``gpu:0,1`` (a batch is split over the GPUs).
    label_map : str, optional
        How model classes become COCO panoptic categories: ``ade20k`` or ``coco-stuff``.
        Default: ``ade20k`` for ``*_ade`` models, the checkpoint's own for panoseg checkpoints.
    mode : str
        ``resize`` (one pass at the crop size) or ``sliding`` (windows at the base size).
    crop_size, base_size : int, optional
        The network's input size and the sliding scale (default: 480 / 520 as GluonCV's ADE20K
        models, or the checkpoint's).
    categories : Categories or list of dict, optional
        Panoptic categories (default COCO's 133).
    download : bool
        Fetch missing zoo weights (off: panoseg never downloads unasked).
    """

    def __init__(self, model: str = DEFAULT_SEMANTIC_MODEL, weights: Optional[str] = None,
                 ctx="cpu", label_map: Optional[str] = None, mode: str = "resize",
                 crop_size: Optional[int] = None, base_size: Optional[int] = None,
                 categories=None, download: bool = False):
        if mode not in MODES:
            raise ValueError(f"--semantic-mode {mode}: choose one of {', '.join(MODES)}")
        if label_map is not None and label_map not in LABEL_MAPS:
            raise ValueError(f"--label-map {label_map}: choose one of {', '.join(LABEL_MAPS)}")
        self.ctx = parse_ctx(ctx)
        self.mode = mode
        cats = categories if isinstance(categories, Categories) else (
            as_categories(categories, default_coco=True))
        spec = None
        if model.endswith(".params") or os.path.sep in model:
            weights, spec = model, _checkpoint_spec(model, "--semantic-model")
        elif weights:
            spec = _checkpoint_spec(weights, "--semantic-weights", required=False)
        if spec is not None:
            self.model = spec.get("model", "psp_resnet50")
            self.crop_size = int(crop_size or spec["crop_size"])
            self.base_size = int(base_size or spec.get("base_size", self.crop_size))
            _check_sizes(self.crop_size, self.base_size)
            spec = dict(spec, crop_size=self.crop_size, base_size=self.base_size)
            self.net = build_semantic_net(spec, self.ctx)
            self.weights = weights
            label_map = label_map or spec.get("label_map")
        else:
            self.model = model
            self.crop_size, self.base_size = int(crop_size or 480), int(base_size or 520)
            _check_sizes(self.crop_size, self.base_size)
            self.net = build_zoo_net(model, "semantic segmentation", SEMANTIC_PREFIXES,
                                     "--semantic-model", crop_size=self.crop_size,
                                     base_size=self.base_size)
            self.weights = resolve_weights(model, weights, "--semantic-weights", download)
            if label_map is None and model.endswith("_ade"):
                label_map = "ade20k"
        load_weights(self.net, self.weights, self.ctx,
                     "--semantic-model" if self.weights == model else "--semantic-weights")
        self.n_classes = int(self.net.nclass)
        if label_map is None:
            raise ValueError(f"--semantic-model {model}: no label map known for its "
                             f"{self.n_classes} classes; pass --label-map "
                             f"({', '.join(LABEL_MAPS)})")
        self.label_map = label_map
        # model class -> COCO panoptic category id (0: no stuff); checks the class count.
        self.class_categories = label_table(label_map, self.n_classes, cats).astype(np.int32)
        self.net.hybridize(static_alloc=True)

    # -- public API ---------------------------------------------------------------------------
    def predict(self, image: np.ndarray) -> np.ndarray:
        """One HxWx3 uint8 RGB image -> HxW int32 map of model class indices."""
        return self.predict_batch([image])[0]

    def to_categories(self, class_map: np.ndarray) -> np.ndarray:
        """Class map -> HxW int32 map of COCO panoptic category ids (0 where no stuff)."""
        return self.class_categories[class_map]

    def predict_batch(self, images: Sequence[np.ndarray],
                      timings: Optional[dict] = None) -> List[np.ndarray]:
        """Several images: all their windows go through the net as one batch, split over the
        contexts. ``timings`` (optional dict) accumulates seconds under ``preprocess`` and
        ``semantic``."""
        t0 = time.perf_counter()
        prepared = [self._windows(img) for img in images]
        t1 = time.perf_counter()
        batch = mx.nd.stack(*[w for windows, _, _ in prepared for w in windows])
        # No more contexts than windows: split_and_load would hand one an empty slice.
        ctxs = self.ctx[:min(len(self.ctx), batch.shape[0])]
        parts = mx.gluon.utils.split_and_load(batch, ctxs, even_split=False)
        ctx0 = self.ctx[0]
        outs = mx.nd.concat(*[self._forward(p).as_in_context(ctx0) for p in parts], dim=0)
        results, k = [], 0
        for img, (windows, place, scaled) in zip(images, prepared):
            results.append(self._labels(img.shape[0], img.shape[1], outs[k:k + len(windows)],
                                        place, scaled))
            k += len(windows)
        if timings is not None:
            timings["preprocess"] = timings.get("preprocess", 0.0) + t1 - t0
            timings["semantic"] = timings.get("semantic", 0.0) + time.perf_counter() - t1
        return results

    # -- internals ----------------------------------------------------------------------------
    def _windows(self, image: np.ndarray):
        """Normalized crop-size input windows, where each goes in the scaled image, its size."""
        h, w = image.shape[:2]
        long_side = self.crop_size if self.mode == "resize" else self.base_size
        scale = long_side / max(h, w)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        img = mx.image.imresize(mx.nd.array(image, dtype="uint8"), nw, nh, interp=1)
        x = mx.nd.image.normalize(mx.nd.image.to_tensor(img), mean=IMAGENET_MEAN, std=IMAGENET_STD)
        c = self.crop_size
        ph, pw = max(nh, c), max(nw, c)
        if (ph, pw) != (nh, nw):  # pad bottom/right with 0 (the mean colour after normalizing)
            x = mx.nd.pad(x.expand_dims(0), mode="constant", constant_value=0,
                          pad_width=(0, 0, 0, 0, 0, ph - nh, 0, pw - nw))[0]
        stride = max(1, int(c * 2 / 3))
        rows = 1 + max(0, math.ceil((ph - c) / stride))
        cols = 1 + max(0, math.ceil((pw - c) / stride))
        windows, place = [], []
        for i in range(rows):
            for j in range(cols):
                y0, x0 = min(i * stride, ph - c), min(j * stride, pw - c)
                windows.append(x[:, y0:y0 + c, x0:x0 + c])
                place.append((y0, x0))
        return windows, place, (nh, nw, ph, pw)

    def _labels(self, height: int, width: int, outs, place, scaled) -> np.ndarray:
        """Window scores -> the image's class map (averaged where windows overlap)."""
        nh, nw, ph, pw = scaled
        c = self.crop_size
        if len(place) == 1:
            scores = outs[0]
        else:
            scores = mx.nd.zeros((self.n_classes, ph, pw), ctx=outs.context)
            counts = mx.nd.zeros((1, ph, pw), ctx=outs.context)
            for (y0, x0), o in zip(place, outs):
                scores[:, y0:y0 + c, x0:x0 + c] += o
                counts[:, y0:y0 + c, x0:x0 + c] += 1
            scores = scores / counts
        scores = scores[:, :nh, :nw]
        # Upsample to the image size (bounded by MAX_SCORE_ELEMENTS) and argmax on the device.
        th, tw = height, width
        if self.n_classes * th * tw > MAX_SCORE_ELEMENTS:
            f = math.sqrt(MAX_SCORE_ELEMENTS / (self.n_classes * th * tw))
            th, tw = max(1, int(th * f)), max(1, int(tw * f))
        if (th, tw) != (nh, nw):
            scores = mx.nd.contrib.BilinearResize2D(scores.expand_dims(0), height=th, width=tw)[0]
        labels = scores.argmax(axis=0).asnumpy().astype(np.int32)
        if (th, tw) != (height, width):  # nearest-neighbour to the full size, on the host
            ys = np.minimum((np.arange(height) * th) // height, th - 1)
            xs = np.minimum((np.arange(width) * tw) // width, tw - 1)
            labels = labels[ys[:, None], xs[None, :]]
        return np.ascontiguousarray(labels)

    def _forward(self, x):
        out = self.net(x)
        return out[0] if isinstance(out, (tuple, list)) else out


def _checkpoint_spec(path: str, flag: str, required: bool = True):
    if not os.path.isfile(path):
        raise ValueError(f"{flag} {path}: no such file")
    try:
        spec = read_checkpoint_spec(path)
    except FileNotFoundError:
        raise ValueError(f"{flag} {path}: no such file") from None
    if spec is None and required:
        raise ValueError(f"{flag} {path}: not a panoseg checkpoint (no .json beside it); give a "
                         "zoo name with --semantic-model and the file with --semantic-weights")
    return spec


def _check_sizes(crop: int, base: int) -> None:
    if crop < 32 or base < 32:
        raise ValueError(f"crop and base sizes must be >= 32, got {crop} and {base}")
