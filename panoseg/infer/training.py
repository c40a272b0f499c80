"""Training a GluonCV PSPNet-ResNet50 on COCO panoptic stuff (``panoseg train-semantic``).

The model has one class per stuff category of the training set (COCO: 53) plus one "thing"
class for the pixels of every thing category (:func:`panoseg.label_maps.coco_stuff_classes`);
VOID pixels are ignored. Labels are made on the fly from the panoptic PNGs by the compiled core
(:func:`panoseg.labels.read_panoptic_labels`); no label files are written.

Recipe (GluonCV's segmentation training, with the points where it differs stated):

- augmentation: random horizontal flip, random scale of the long side to 0.5-2.0 x ``base_size``
  (bilinear for the image, nearest for the labels), Gaussian blur with probability 0.5, random
  ``crop_size`` square crop, padded at the bottom/right where the scaled image is smaller
  (padding: the mean colour, i.e. 0 after normalization, and label 255), ImageNet normalization;
- loss: per-pixel softmax cross entropy averaged over the non-ignored pixels of each device's
  share of the batch, plus 0.2 x the same loss of the auxiliary head (GluonCV's
  ``MixSoftmaxCrossEntropyLoss`` uses ``SoftmaxOutput``, whose gradient ignores the 0.2 weight;
  here the weight applies); gradients are averaged over the devices;
- SGD with momentum and weight decay; the heads learn 10x faster (GluonCV's ``lr_mult``);
  poly learning rate ``lr * (1 - i / (N - 1)) ** 0.9`` over the ``N = epochs x iterations per
  epoch`` optimizer steps (``gluoncv.utils.LRScheduler``), set before each step from the global
  step count, so a resumed run continues the same curve;
- an epoch is ``len(train) // batch_size`` steps (the incomplete last batch is dropped), in a
  new random order per epoch; every random draw depends only on the seed, the epoch and the
  position in it, so a resumed run sees the same samples as an uninterrupted one;
- validation mIoU: each image resized so its long side is ``crop_size`` (bilinear), padded to a
  ``crop_size`` square, one forward pass, the scores cropped back, bilinearly upsampled to the
  original size and argmax-ed there (as ``SemanticPredictor``'s ``resize`` mode); compared with
  the labels at the original resolution, ignoring 255. IoU per class from the summed confusion
  matrix; the mean is over the classes that occur in the labels or the predictions.

Data: images are decoded and augmented by a few threads (the core and Pillow release the GIL)
and batches prefetched by a background thread; MXNet is only called from the calling thread.
"""
from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Union

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from PIL import Image, ImageFilter

from ..errors import PanopticFormatError
from ..io.categories import as_categories
from ..io.panoptic_json import load_panoptic_json
from ..io.paths import default_folder
from ..semantic.label_maps import coco_stuff_classes
from ..semantic.labels import IGNORE_LABEL, class_of_category, read_panoptic_labels
from ..util.parallel import default_workers, ordered_map
from ..util.progress import progress_bar, progress_write
from .checkpoint import (
    MEAN,
    STD,
    build_semantic_net,
    checkpoint_path,
    copy_checkpoint,
    latest_checkpoint,
    read_checkpoint_spec,
    remove_checkpoint,
    save_checkpoint,
    states_path,
)
from .context import parse_ctx
from .images import ImageError, read_image

MODEL = "psp_resnet50"
BACKBONE = "resnet50"
#: The GluonCV ImageNet model PSPNet-ResNet50's backbone is (``pretrained_base=True`` loads it).
BACKBONE_ZOO_NAME = "resnet50_v1s"
AUX_WEIGHT = 0.2
POLY_POWER = 0.9
DEFAULT_PREFIX = "psp_resnet50_coco_stuff"

_MEAN = np.array(MEAN, np.float32)
_STD = np.array(STD, np.float32)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass
class _Item:
    image_path: str
    annotation: Mapping
    image_id: object
    file_name: str
    height: Optional[int]
    width: Optional[int]


class PanopticSemanticDataset:
    """One COCO panoptic split as (RGB image, semantic label map) pairs.

    Parameters
    ----------
    images_dir : str
        Folder of the photos (``images[].file_name`` of the JSON).
    json_file : str
        The COCO panoptic JSON (``images``, ``annotations``, ``categories``).
    png_folder : str, optional
        The panoptic PNGs; default: the JSON path without ``.json``.
    class_category_ids : sequence of int, optional
        The category each model class stands for (0: all things); default: this split's
        :func:`~panoseg.label_maps.coco_stuff_classes`.

    Raises
    ------
    PanopticFormatError
        Malformed JSON, an annotation without an ``images`` entry, a missing image file, or no
        annotated image at all.
    """

    def __init__(self, images_dir, json_file, png_folder=None,
                 class_category_ids: Optional[Sequence[int]] = None):
        self.json_file = os.fspath(json_file)
        self.images_dir = os.fspath(images_dir)
        self.png_folder = os.fspath(png_folder) if png_folder is not None \
            else default_folder(self.json_file)
        data = load_panoptic_json(self.json_file, need_categories=True)
        self.categories = as_categories(data["categories"], source=self.json_file)
        if class_category_ids is None:
            self.class_names, ids = coco_stuff_classes(self.categories)
            class_category_ids = ids.tolist()
        else:
            self.class_names = None
        self.class_category_ids = [int(c) for c in class_category_ids]
        self.classes = class_of_category(self.categories, self.class_category_ids)
        images = data.get("images")
        if not isinstance(images, list):
            raise PanopticFormatError("no 'images' list", file=self.json_file)
        by_id = {}
        for k, entry in enumerate(images):
            if not isinstance(entry, Mapping) or "id" not in entry or "file_name" not in entry:
                raise PanopticFormatError(f"images[{k}] needs 'id' and 'file_name'",
                                          file=self.json_file)
            by_id[entry["id"]] = entry
        if not os.path.isdir(self.images_dir):
            raise PanopticFormatError(f"images folder {self.images_dir} does not exist",
                                      file=self.json_file)
        if not os.path.isdir(self.png_folder):
            raise PanopticFormatError(f"panoptic PNG folder {self.png_folder} does not exist",
                                      file=self.json_file)
        self.items: List[_Item] = []
        for ann in data["annotations"]:
            image_id = ann["image_id"]
            entry = by_id.get(image_id)
            if entry is None:
                raise PanopticFormatError("annotation without an entry in 'images'",
                                          file=self.json_file, image_id=image_id,
                                          file_name=ann["file_name"])
            file_name = str(entry["file_name"])
            path = os.path.join(self.images_dir, file_name)
            if not os.path.isfile(path):
                raise PanopticFormatError(f"image file {path} does not exist",
                                          file=self.json_file, image_id=image_id,
                                          file_name=file_name)
            h, w = entry.get("height"), entry.get("width")
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (h, w))
            self.items.append(_Item(path, ann, image_id, file_name,
                                    h if ok else None, w if ok else None))
        if not self.items:
            raise PanopticFormatError("no annotated images: the dataset is empty",
                                      file=self.json_file)

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int):
        """Image ``index`` as (HxWx3 uint8 RGB, HxW uint8 labels with 255 = ignore)."""
        item = self.items[index]
        where = dict(file=self.json_file, image_id=item.image_id, file_name=item.file_name)
        try:
            image = read_image(item.image_path)
        except ImageError as e:
            raise PanopticFormatError(str(e), **where) from None
        labels = read_panoptic_labels(self.png_folder, item.annotation, self.classes,
                                      json_file=self.json_file, height=item.height,
                                      width=item.width)
        if image.shape[:2] != labels.shape:
            raise PanopticFormatError(
                f"image file {item.image_path} is {image.shape[1]}x{image.shape[0]} but its "
                f"panoptic PNG {item.annotation.get('file_name')} is "
                f"{labels.shape[1]}x{labels.shape[0]}", **where)
        return image, labels


def _normalize(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 3xHxW float32, ImageNet-normalized."""
    x = image.astype(np.float32) * np.float32(1 / 255)
    x -= _MEAN
    x /= _STD
    return x.transpose(2, 0, 1)


def train_transform(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                    crop_size: int, base_size: int):
    """GluonCV's training augmentation: flip, scale, blur, pad and crop (see the module doc).

    Returns (3 x crop x crop float32 normalized image, crop x crop uint8 labels).
    """
    if rng.random() < 0.5:
        image, labels = image[:, ::-1], labels[:, ::-1]
    h, w = labels.shape
    long_size = int(rng.integers(int(base_size * 0.5), int(base_size * 2.0) + 1))
    if h > w:
        oh, ow = long_size, max(1, int(w * long_size / h + 0.5))
    else:
        oh, ow = max(1, int(h * long_size / w + 0.5)), long_size
    im = Image.fromarray(np.ascontiguousarray(image)).resize((ow, oh), Image.BILINEAR)
    lab = Image.fromarray(np.ascontiguousarray(labels)).resize((ow, oh), Image.NEAREST)
    if rng.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(radius=float(rng.random())))
    c = int(crop_size)
    y0 = int(rng.integers(0, max(oh, c) - c + 1))
    x0 = int(rng.integers(0, max(ow, c) - c + 1))
    box = (x0, y0, min(x0 + c, ow), min(y0 + c, oh))  # the part of the crop inside the image
    ch, cw = box[3] - y0, box[2] - x0
    out_x = np.zeros((3, c, c), np.float32)  # 0 = the mean colour after normalizing
    out_y = np.full((c, c), IGNORE_LABEL, np.uint8)
    out_x[:, :ch, :cw] = _normalize(np.asarray(im.crop(box)))
    out_y[:ch, :cw] = np.asarray(lab.crop(box))
    return out_x, out_y


def _batches(load, indices: Sequence[int], batch_size: int, workers: int, prefetch: int = 2):
    """Yields batches of ``load(i)`` results (lists), computed ahead by a background thread.

    ``workers`` threads run ``load``; up to ``prefetch`` finished batches wait in a queue. An
    exception in ``load`` is re-raised here; closing the generator stops the thread.
    """
    out: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()
    done = object()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                out.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            batch = []
            # Not caller_helps: while this thread waits to hand a batch over, all ``workers``
            # threads keep loading.
            for sample in ordered_map(load, indices, workers, caller_helps=False):
                if stop.is_set():
                    return
                batch.append(sample)
                if len(batch) == batch_size:
                    if not put(batch):
                        return
                    batch = []
            if batch:
                put(batch)
            put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put(e)

    thread = threading.Thread(target=produce, name="panoseg-train-data", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------------------------------------
# model, loss, schedule
# ---------------------------------------------------------------------------------------------
def semantic_loss(outputs, labels, aux_weight: float = AUX_WEIGHT):
    """Cross entropy averaged over the non-ignored pixels (+ ``aux_weight`` x the aux head's)."""
    valid = labels != IGNORE_LABEL
    n_valid = mx.nd.maximum(valid.sum(), 1)
    index = mx.nd.where(valid, labels, mx.nd.zeros_like(labels))
    total = None
    for k, logits in enumerate(outputs):
        nll = -mx.nd.pick(mx.nd.log_softmax(logits, axis=1), index, axis=1)
        loss = (nll * valid).sum() / n_valid
        loss = loss if k == 0 else loss * aux_weight
        total = loss if total is None else total + loss
    return total


def poly_schedule(base_lr: float, total_iters: int):
    """GluonCV's poly schedule (power 0.9) over ``total_iters`` steps: call it with a step."""
    from gluoncv.utils import LRScheduler

    return LRScheduler(mode="poly", base_lr=float(base_lr), niters=max(2, int(total_iters)),
                       power=POLY_POWER)


def _init_fresh(net, ctx: List[mx.Context], backbone_weights: Optional[str]) -> None:
    """Loads the backbone weights (if given) and initializes every other parameter."""
    if backbone_weights:
        _load_backbone(net, backbone_weights, ctx)
    with warnings.catch_warnings():
        # the heads are initialized by PSPNet itself; initialize() says so for each of them
        warnings.simplefilter("ignore")
        net.collect_params().initialize(mx.init.MSRAPrelu(), ctx=ctx)
    net.collect_params().reset_ctx(ctx)


def _load_backbone(net, path: str, ctx) -> None:
    """ImageNet weights of GluonCV's ``resnet50_v1s`` into PSPNet's backbone (same names)."""
    try:
        saved = mx.nd.load(path)
    except mx.base.MXNetError:
        raise ValueError(f"--backbone-weights {path}: not an MXNet parameter file") from None
    params = net._collect_params_with_prefix()
    backbone = [k for k in params if k.split(".", 1)[0] in
                ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")]
    missing = [k for k in backbone if k not in saved]
    if not isinstance(saved, dict) or missing:
        raise ValueError(f"--backbone-weights {path}: not the weights of GluonCV's "
                         f"{BACKBONE_ZOO_NAME} (lacks {len(missing)} of the backbone's "
                         f"{len(backbone)} parameters, e.g. {missing[:1]})")
    for k in backbone:
        if params[k].shape is not None and all(d > 0 for d in params[k].shape) \
                and tuple(saved[k].shape) != tuple(params[k].shape):
            raise ValueError(f"--backbone-weights {path}: parameter {k} has shape "
                             f"{tuple(saved[k].shape)}, the backbone needs {params[k].shape}")
    net.load_parameters(path, ctx=ctx, allow_missing=True, ignore_extra=True)


def resolve_backbone_weights(value: Optional[str], download: bool = False) -> Optional[str]:
    """``--backbone-weights``: a file, or ``zoo`` for GluonCV's cached ``resnet50_v1s``."""
    if not value:
        return None
    from .weights import resolve_weights

    if value == "zoo":
        return resolve_weights(BACKBONE_ZOO_NAME, None, "--backbone-weights", download)
    return resolve_weights(BACKBONE_ZOO_NAME, value, "--backbone-weights")


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
def miou_from_confusion(confusion: np.ndarray):
    """(mIoU or None, per-class IoU with NaN for classes absent from labels and predictions)."""
    confusion = np.asarray(confusion, np.float64)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    iou = np.full(len(inter), np.nan)
    present = union > 0
    iou[present] = inter[present] / union[present]
    return (float(iou[present].mean()) if present.any() else None), iou


def evaluate_miou(net, dataset: PanopticSemanticDataset, ctx: List[mx.Context], crop_size: int,
                  batch_size: int = 1, workers: Optional[int] = None, progress: bool = False):
    """Validation mIoU of ``net`` on ``dataset`` (see the module doc for the protocol).

    Returns
    -------
    (miou, confusion)
        mIoU in [0, 1] (None when no pixel has a label), and the nclass x nclass confusion
        matrix (rows: labels, columns: predictions).
    """
    n = len(dataset.class_category_ids)
    c = int(crop_size)
    confusion = np.zeros((n, n), np.int64)
    workers = default_workers() if workers is None else workers
    bar = progress_bar(len(dataset), progress, "validate", leave=False)
    batches = _batches(dataset.load, range(len(dataset)), max(1, batch_size), workers)
    with bar, contextlib.closing(batches):  # closing: stops the loader thread on errors too
        for batch in batches:
            inputs, sizes = [], []
            for image, _ in batch:
                h, w = image.shape[:2]
                scale = c / max(h, w)
                nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
                img = mx.image.imresize(mx.nd.array(image, dtype="uint8"), nw, nh, interp=1)
                x = mx.nd.image.normalize(mx.nd.image.to_tensor(img), mean=MEAN, std=STD)
                x = mx.nd.pad(x.expand_dims(0), mode="constant", constant_value=0,
                              pad_width=(0, 0, 0, 0, 0, c - nh, 0, c - nw))
                inputs.append(x)
                sizes.append((nh, nw))
            parts = gluon.utils.split_and_load(mx.nd.concat(*inputs, dim=0), ctx,
                                               even_split=False)
            scores = []
            for part in parts:
                out = net(part)
                out = out[0] if isinstance(out, (tuple, list)) else out
                scores.extend(out[k] for k in range(out.shape[0]))
            for (_, labels), (nh, nw), s in zip(batch, sizes, scores):
                h, w = labels.shape
                s = mx.nd.contrib.BilinearResize2D(s[:, :nh, :nw].expand_dims(0), height=h,
                                                   width=w)[0]
                pred = s.argmax(axis=0).asnumpy().astype(np.int64)
                valid = labels != IGNORE_LABEL
                gt = labels[valid].astype(np.int64)
                confusion += np.bincount(gt * n + pred[valid], minlength=n * n).reshape(n, n)
            bar.update(len(batch))
    return miou_from_confusion(confusion)[0], confusion


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train_semantic` did."""

    checkpoint: Optional[str]            # the last checkpoint (.params) written or resumed from
    best_checkpoint: Optional[str]       # <prefix>-best.params, when validated
    epoch: int                           # epochs completed
    iteration: int                       # optimizer steps taken in all
    miou: Optional[float]                # the last validation mIoU
    best_miou: Optional[float]
    resumed_from: Optional[str] = None
    history: List[Dict] = field(default_factory=list)  # per step: epoch, iteration, lr, loss
    validations: List[Dict] = field(default_factory=list)  # per validation: epoch, miou


def _check_positive(name: str, value, minimum=1) -> None:
    if value is None or value < minimum:
        raise ValueError(f"--{name} must be >= {minimum}, got {value}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _log(message: str) -> None:
    progress_write(f"panoseg train-semantic: {message}")


def _resolve_resume(resume, out_dir, prefix) -> Optional[str]:
    if not resume:
        return None
    if resume == "auto":
        path = latest_checkpoint(out_dir, prefix)
        if path is None:
            _log(f"no checkpoint {prefix}-NNNN.params in {out_dir}: starting from scratch")
        return path
    path = os.fspath(resume)
    if not os.path.isfile(path):
        raise ValueError(f"--resume {path}: no such file")
    return path


def train_semantic(train_images, train_json, train_folder=None, *, val_images=None,
                   val_json=None, val_folder=None, out_dir, prefix: str = DEFAULT_PREFIX,
                   ctx: Union[str, Sequence] = "cpu", epochs: int = 30, batch_size: int = 16,
                   lr: float = 0.01, momentum: float = 0.9, wd: float = 1e-4,
                   crop_size: int = 480, base_size: int = 520, seed: int = 0,
                   resume: Optional[str] = None, max_iters_per_epoch: Optional[int] = None,
                   val_every: int = 1, val_batch_size: Optional[int] = None,
                   workers: Optional[int] = None, backbone_weights: Optional[str] = None,
                   keep_last: Optional[int] = None, progress: bool = True) -> TrainResult:
    """Trains PSPNet-ResNet50 on COCO panoptic stuff; writes a checkpoint per epoch.

    Parameters
    ----------
    train_images, train_json, train_folder
        The training split: photos folder, panoptic JSON, PNG folder (default: the JSON path
        without ``.json``).
    val_images, val_json, val_folder
        The validation split (optional): mIoU after every ``val_every`` epochs and the last;
        the best epoch is kept as ``<prefix>-best.*``.
    out_dir, prefix
        Checkpoints go to ``<out_dir>/<prefix>-<epoch:04d>.{params,states,json}``
        (:mod:`panoseg.infer.checkpoint`).
    ctx
        ``cpu``, ``gpu:0`` or ``gpu:0,1,...`` (or MXNet contexts); each batch is split over them.
    epochs, batch_size, lr, momentum, wd
        Epochs in all (a resumed run stops there too), the total batch size (over all
        contexts), SGD's base learning rate (poly schedule), momentum and weight decay.
    crop_size, base_size
        Training crop (also the network's input size) and the scale reference of the
        augmentation (long side 0.5-2 x base_size).
    seed
        Seeds initialization, dropout and every random draw of the data pipeline.
    resume
        A checkpoint's ``.params`` path, or ``"auto"``: the latest complete checkpoint of
        ``prefix`` in ``out_dir`` (none: start from scratch). Parameters, trainer states,
        epoch, step count and best mIoU are restored; the classes must match.
    max_iters_per_epoch
        Caps the steps per epoch (tests, quick runs).
    val_batch_size, workers
        Validation batch (default: ``batch_size``); data loading threads (default: cores).
    backbone_weights
        A ``resnet50_v1s`` ImageNet parameter file for the backbone of a fresh run (see
        :func:`resolve_backbone_weights`); None trains from random initialization.
    keep_last
        Keep only the last N epoch checkpoints (the best is kept apart); None keeps all.
    progress
        tqdm bars on stderr.

    Raises
    ------
    ValueError
        Bad arguments or contexts (e.g. ``--ctx gpu:1: only 0 GPU(s) visible to MXNet``), a
        checkpoint that does not fit; :class:`PanopticFormatError` for bad data (naming the
        file and image).
    """
    for name, value in (("epochs", epochs), ("batch-size", batch_size),
                        ("val-every", val_every), ("crop-size", crop_size),
                        ("base-size", base_size)):
        _check_positive(name, value)
    if crop_size < 32:
        raise ValueError(f"--crop-size must be >= 32, got {crop_size}")
    if max_iters_per_epoch is not None:
        _check_positive("max-iters-per-epoch", max_iters_per_epoch)
    if keep_last is not None:
        _check_positive("keep-last", keep_last)
    if not 0 <= int(seed) < 1 << 31:
        raise ValueError(f"--seed must lie in 0..{(1 << 31) - 1}, got {seed}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"--lr must be a positive number, got {lr}")
    if (val_images is None) != (val_json is None):
        raise ValueError("validation needs both --val-images and --val-json")
    ctx_list = parse_ctx(ctx)
    if batch_size < len(ctx_list):
        raise ValueError(f"--batch-size {batch_size} is smaller than the number of contexts "
                         f"({len(ctx_list)}): every device needs at least one image")
    workers = default_workers() if workers is None else int(workers)
    out_dir = os.fspath(out_dir)
    resume_path = _resolve_resume(resume, out_dir, prefix)
    old = None
    if resume_path is not None:
        old = read_checkpoint_spec(resume_path)
        if old is None:
            raise ValueError(f"--resume {resume_path}: no sidecar "
                             f"{os.path.splitext(resume_path)[0]}.json: not a checkpoint of "
                             "panoseg train-semantic")
        if not os.path.isfile(states_path(resume_path)):
            raise ValueError(f"--resume {resume_path}: the trainer states "
                             f"{states_path(resume_path)} are missing")

    train = PanopticSemanticDataset(train_images, train_json, train_folder)
    class_ids = train.class_category_ids
    names = train.class_names
    val = None
    if val_json is not None:
        val = PanopticSemanticDataset(val_images, val_json, val_folder, class_ids)
    iters_per_epoch = len(train) // batch_size
    if iters_per_epoch == 0:
        raise ValueError(f"--batch-size {batch_size} is larger than the training set "
                         f"({len(train)} images in {train.json_file})")
    if max_iters_per_epoch is not None:
        iters_per_epoch = min(iters_per_epoch, int(max_iters_per_epoch))
    total_iters = epochs * iters_per_epoch
    schedule = poly_schedule(lr, total_iters)

    args = {
        "train_images": os.fspath(train_images), "train_json": train.json_file,
        "train_folder": train.png_folder,
        "val_images": None if val is None else os.fspath(val_images),
        "val_json": None if val is None else val.json_file,
        "val_folder": None if val is None else val.png_folder,
        "out_dir": out_dir, "prefix": prefix, "ctx": [str(c) for c in ctx_list],
        "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
        "momentum": float(momentum), "wd": float(wd), "crop_size": int(crop_size),
        "base_size": int(base_size), "seed": int(seed), "max_iters_per_epoch": max_iters_per_epoch,
        "iters_per_epoch": iters_per_epoch, "val_every": int(val_every),
        "backbone_weights": backbone_weights, "lr_schedule": f"poly {POLY_POWER}",
        "aux_weight": AUX_WEIGHT,
    }
    spec = {"model": MODEL, "backbone": BACKBONE, "nclass": len(class_ids),
            "classes": list(names), "category_ids": list(class_ids), "label_map": "coco-stuff",
            "crop_size": int(crop_size), "base_size": int(base_size), "aux": True,
            "mean": list(MEAN), "std": list(STD), "epoch": 0, "iteration": 0,
            "best_miou": None, "miou": None, "args": args}

    start_epoch, global_iter, best_miou, last_miou = 0, 0, None, None
    if old is not None:
        if old["model"] != MODEL or [int(c) for c in old["category_ids"]] != class_ids:
            raise ValueError(f"--resume {resume_path}: the checkpoint is a {old['model']} with "
                             f"{old['nclass']} classes, not the {MODEL} with the "
                             f"{len(class_ids)} classes of {train.json_file}")
        start_epoch, global_iter = int(old.get("epoch", 0)), int(old.get("iteration", 0))
        best_miou, last_miou = old.get("best_miou"), old.get("miou")
    result = TrainResult(checkpoint=resume_path, best_checkpoint=None, epoch=start_epoch,
                         iteration=global_iter, miou=last_miou, best_miou=best_miou,
                         resumed_from=resume_path)
    best_path = checkpoint_path(out_dir, prefix, "best")
    if best_miou is not None and read_checkpoint_spec(best_path) is not None:
        result.best_checkpoint = best_path
    if start_epoch >= epochs:
        _log(f"{resume_path} has already trained {start_epoch} of --epochs {epochs}: "
             "nothing to do")
        return result

    mx.random.seed(int(seed))
    np.random.seed(int(seed))
    net = build_semantic_net(spec, ctx_list)
    if resume_path is not None:
        try:
            net.load_parameters(resume_path, ctx=ctx_list)
        except (AssertionError, mx.base.MXNetError) as e:  # missing or misshapen parameters
            raise ValueError(f"--resume {resume_path}: the parameters do not fit "
                             f"{MODEL} ({_first_line(e)})") from None
        net.collect_params().reset_ctx(ctx_list)
    else:
        _init_fresh(net, ctx_list, backbone_weights)
    net.hybridize()

    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": float(lr), "momentum": float(momentum),
                             "wd": float(wd)})
    if resume_path is not None:
        try:
            trainer.load_states(states_path(resume_path))
        except Exception as e:  # MXNetError, pickle errors: a damaged or foreign file
            raise ValueError(f"--resume {resume_path}: cannot load the trainer states "
                             f"{states_path(resume_path)} ({_first_line(e)})") from None
        # the states hold the old run's optimizer: this run's settings apply from here
        trainer.optimizer.wd = float(wd)
        trainer.optimizer.momentum = float(momentum)
        _log(f"resumed from {resume_path} (epoch {start_epoch}, step {global_iter})")

    val_batch = int(val_batch_size or batch_size)
    for epoch in range(start_epoch, epochs):
        # Every random draw depends on (seed, epoch, position) only: resuming is reproducible.
        mx.random.seed(int(seed) * 100003 + epoch)
        order = np.random.default_rng([int(seed), epoch]).permutation(len(train))
        order = order[:iters_per_epoch * batch_size].tolist()

        def load(position, epoch=epoch, order=order):
            rng = np.random.default_rng([int(seed), epoch, position, 1])
            image, labels = train.load(order[position])
            return train_transform(image, labels, rng, crop_size, base_size)

        start = time.perf_counter()
        losses = []
        bar = progress_bar(iters_per_epoch, progress, f"epoch {epoch + 1}/{epochs}", unit="it")
        batches = _batches(load, range(len(order)), batch_size, workers)
        with bar, contextlib.closing(batches):  # closing: stops the loader thread on errors too
            for batch in batches:
                step_lr = float(schedule(global_iter))
                trainer.set_learning_rate(step_lr)
                data = mx.nd.array(np.stack([x for x, _ in batch]), dtype="float32")
                labels = mx.nd.array(np.stack([y for _, y in batch]), dtype="float32")
                xs = gluon.utils.split_and_load(data, ctx_list, even_split=False)
                ys = gluon.utils.split_and_load(labels, ctx_list, even_split=False)
                with autograd.record():
                    step_losses = [semantic_loss(net(x), y) for x, y in zip(xs, ys)]
                autograd.backward(step_losses)
                trainer.step(len(ctx_list))
                global_iter += 1
                loss = float(np.mean([v.asscalar() for v in step_losses]))
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"the loss is {loss} at step {global_iter} (epoch {epoch + 1}): "
                        f"training diverged; lower --lr (now {lr})")
                losses.append(loss)
                result.history.append({"epoch": epoch + 1, "iteration": global_iter,
                                       "lr": step_lr, "loss": loss})
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{step_lr:.2e}", refresh=False)
                bar.update(1)
        train_time = time.perf_counter() - start

        miou = None
        if val is not None and ((epoch + 1) % val_every == 0 or epoch + 1 == epochs):
            miou, _ = evaluate_miou(net, val, ctx_list, crop_size, val_batch, workers, progress)
            result.validations.append({"epoch": epoch + 1, "miou": miou})
        improved = miou is not None and (best_miou is None or miou > best_miou)
        if improved:
            best_miou = miou
        spec.update(epoch=epoch + 1, iteration=global_iter, miou=miou, best_miou=best_miou)
        path = save_checkpoint(net, trainer, out_dir, prefix, spec)
        if improved:
            result.best_checkpoint = copy_checkpoint(path, best_path)
        if keep_last is not None:
            for old_epoch in range(1, epoch + 2 - keep_last):
                old_path = checkpoint_path(out_dir, prefix, old_epoch)
                if os.path.exists(old_path) or os.path.exists(states_path(old_path)):
                    remove_checkpoint(old_path)
        result.checkpoint, result.epoch, result.iteration = path, epoch + 1, global_iter
        result.miou = miou if miou is not None else result.miou
        result.best_miou = best_miou
        text = "n/a" if miou is None else f"{100 * miou:.2f}%"
        _log(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}, "
             f"{train_time:.1f} s, val mIoU {text}; saved {path}")
    return result

