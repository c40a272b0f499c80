"""Checkpoints of ``panoseg train-semantic``: the format the trainer writes and the predictor reads.

A checkpoint is three files sharing one stem, ``<out_dir>/<prefix>-<epoch:04d>``:

``.params``
    the network's parameters (``net.save_parameters``); loads into the net
    :func:`build_semantic_net` makes from the sidecar.
``.states``
    the Gluon trainer's states (``trainer.save_states``: SGD momentum), for resuming.
``.json``
    the sidecar: what the network is and where training stood. Example::

        {"format": "panoseg-semantic-checkpoint", "version": 1, "model": "psp_resnet50",
         "backbone": "resnet50", "nclass": 54, "classes": ["banner", ..., "thing"],
         "category_ids": [92, ..., 0], "label_map": "coco-stuff", "crop_size": 480,
         "base_size": 520, "aux": true, "mean": [0.485, 0.456, 0.406],
         "std": [0.229, 0.224, 0.225], "epoch": 3, "iteration": 2400,
         "best_miou": 0.31, "miou": 0.30, "args": {...}}

    ``classes`` / ``category_ids``: model class k is COCO panoptic category ``category_ids[k]``
    (0: the class of all things). ``epoch``: epochs completed; ``iteration``: optimizer steps
    taken so far (the poly learning rate resumes from there). ``miou``: this epoch's validation
    mIoU in [0, 1] (null when it was not validated), ``best_miou``: the best so far.

The best epoch is also kept as ``<prefix>-best.*`` (same three files, same sidecar).

Every file is written to a temporary name in the same folder and renamed, the sidecar last (and
an older sidecar of the same stem is removed first): a crash leaves either a complete checkpoint
or files without a sidecar, which :func:`latest_checkpoint` skips.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import threading
from typing import Optional

from ..util.atomic import atomic_open
from ..util.fileio import read_bytes

FORMAT = "panoseg-semantic-checkpoint"
VERSION = 1

#: ImageNet normalization of the GluonCV backbones (RGB in [0, 1]).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

#: The models :func:`build_semantic_net` knows: sidecar "model" -> (GluonCV class, backbone).
MODELS = {"psp_resnet50": ("PSPNet", "resnet50"), "psp_resnet101": ("PSPNet", "resnet101")}

_REQUIRED = {"format": str, "version": int, "model": str, "nclass": int, "classes": list,
             "category_ids": list, "crop_size": int, "base_size": int}


def sidecar_path(params_path) -> str:
    """The sidecar of a ``.params`` file: the same path ending in ``.json``."""
    return _stem(params_path) + ".json"


def states_path(params_path) -> str:
    """The trainer states of a ``.params`` file: the same path ending in ``.states``."""
    return _stem(params_path) + ".states"


def checkpoint_path(out_dir, prefix: str, epoch) -> str:
    """``<out_dir>/<prefix>-<epoch:04d>.params`` (``epoch`` may also be a tag such as "best")."""
    name = f"{prefix}-{epoch:04d}" if isinstance(epoch, int) else f"{prefix}-{epoch}"
    return os.path.join(os.fspath(out_dir), name + ".params")


def _stem(params_path) -> str:
    path = os.fspath(params_path)
    return path[:-len(".params")] if path.endswith(".params") else path


def _tmp_name(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".tmp-{name}.{os.getpid()}-{threading.get_ident()}")


def _write_via_tmp(path: str, write) -> None:
    """Calls ``write(tmp)`` for a temporary name beside ``path``, then renames it to ``path``."""
    tmp = _tmp_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def save_checkpoint(net, trainer, out_dir, prefix: str, spec: dict, *, tag=None) -> str:
    """Saves ``net``, ``trainer`` and the sidecar ``spec`` as ``<prefix>-<epoch:04d>.*``.

    Parameters
    ----------
    net : gluon.Block
        The network (``save_parameters``).
    trainer : gluon.Trainer or None
        Its trainer (``save_states``); None writes no ``.states`` file (such a checkpoint loads
        in the predictor but cannot be resumed).
    out_dir : str
        Folder (created if needed).
    prefix : str
        File name prefix.
    spec : dict
        The sidecar without ``format`` / ``version`` (added here); needs ``epoch``.
    tag : str, optional
        Name the files ``<prefix>-<tag>.*`` instead of by epoch.

    Returns
    -------
    str
        The ``.params`` path.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    sidecar = {"format": FORMAT, "version": VERSION}
    sidecar.update({k: v for k, v in spec.items() if k not in ("format", "version")})
    _check_spec(sidecar, "spec")
    text = json.dumps(sidecar, indent=1, allow_nan=False)  # before touching any file
    if tag is None and not isinstance(sidecar.get("epoch"), int):
        raise ValueError(f"spec: 'epoch' must be an integer, got {sidecar.get('epoch')!r}")
    params = checkpoint_path(out_dir, prefix, sidecar["epoch"] if tag is None else str(tag))
    _remove(sidecar_path(params))  # never a sidecar beside half-replaced files
    _write_via_tmp(params, net.save_parameters)
    if trainer is not None:
        _write_via_tmp(states_path(params), trainer.save_states)
    else:
        _remove(states_path(params))
    with atomic_open(sidecar_path(params), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return params


def copy_checkpoint(params_path, dest_params_path) -> str:
    """Copies a complete checkpoint (all its files) to another stem, e.g. ``<prefix>-best``.

    Files are hard-linked where possible (no copy of the hundreds of megabytes), each through a
    temporary name; the sidecar goes last. Returns ``dest_params_path``.
    """
    src, dst = os.fspath(params_path), os.fspath(dest_params_path)
    _remove(sidecar_path(dst))
    for s, d in ((src, dst), (states_path(src), states_path(dst))):
        if not os.path.isfile(s) and s != src:  # a checkpoint saved without trainer states
            _remove(d)
            continue
        _write_via_tmp(d, functools.partial(_link_or_copy, s))
    _write_via_tmp(sidecar_path(dst), lambda tmp: shutil.copyfile(sidecar_path(src), tmp))
    return dst


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not supported
        shutil.copyfile(src, dst)


def remove_checkpoint(params_path) -> None:
    """Deletes a checkpoint's files, the sidecar first (so it is never left half-deleted)."""
    for path in (sidecar_path(params_path), os.fspath(params_path), states_path(params_path)):
        _remove(path)


def read_checkpoint_spec(params_path) -> Optional[dict]:
    """The sidecar of a ``.params`` file, or None when there is none (a plain parameter file).

    Raises
    ------
    ValueError
        A sidecar that is not valid JSON, not a panoseg checkpoint of a known version, or lacks
        a field (the message names the file).
    """
    path = sidecar_path(params_path)
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ValueError(f"{path}: cannot read the checkpoint sidecar: {e.strerror or e}") from None
    try:
        spec = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: malformed checkpoint sidecar ({e})") from None
    _check_spec(spec, path)
    return spec


def _check_spec(spec, where) -> None:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: the checkpoint sidecar is not a JSON object")
    if spec.get("format") != FORMAT:
        raise ValueError(f"{where}: not a panoseg semantic checkpoint (format "
                         f"{spec.get('format')!r}, expected {FORMAT!r})")
    if spec.get("version") != VERSION:
        raise ValueError(f"{where}: checkpoint version {spec.get('version')!r} is not supported "
                         f"(this panoseg reads version {VERSION})")
    for key, kind in _REQUIRED.items():
        value = spec.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{where}: checkpoint sidecar field {key!r} must be a "
                             f"{kind.__name__}, got {value!r}")
    n = spec["nclass"]
    if n < 1:
        raise ValueError(f"{where}: checkpoint sidecar 'nclass' must be >= 1, got {n}")
    for key in ("classes", "category_ids"):
        if len(spec[key]) != n:
            raise ValueError(f"{where}: checkpoint sidecar {key!r} has {len(spec[key])} entries "
                             f"but 'nclass' is {n}")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
               for c in spec["category_ids"]):
        raise ValueError(f"{where}: checkpoint sidecar 'category_ids' must be integers >= 0")
    if spec["model"] not in MODELS:
        raise ValueError(f"{where}: unknown model {spec['model']!r} in the checkpoint sidecar "
                         f"(known: {', '.join(sorted(MODELS))})")
    if spec["crop_size"] < 8 or spec["base_size"] < 1:
        raise ValueError(f"{where}: checkpoint sidecar crop_size {spec['crop_size']} / "
                         f"base_size {spec['base_size']} out of range")
    for key in ("epoch", "iteration"):
        if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool)
                            or spec[key] < 0):
            raise ValueError(f"{where}: checkpoint sidecar {key!r} must be an integer >= 0, "
                             f"got {spec[key]!r}")
    for key in ("mean", "std"):
        if key in spec and not (isinstance(spec[key], list) and len(spec[key]) == 3):
            raise ValueError(f"{where}: checkpoint sidecar {key!r} must be 3 numbers")


def build_semantic_net(spec: dict, ctx=None):
    """The network a checkpoint sidecar describes, built without downloading anything.

    Its parameters are not loaded (and the backbone's not initialized): call
    ``net.load_parameters(params_path, ctx=ctx)`` next. GluonCV's PSPNet initializes its heads on
    ``ctx`` when built and its hybridized forward is fixed to ``spec["crop_size"]`` squared
    inputs (``net.predict`` takes any size, unhybridized).

    Parameters
    ----------
    spec : dict
        A sidecar (:func:`read_checkpoint_spec`); ``format`` / ``version`` may be left out.
    ctx : mx.Context or list of them, optional
        Where the heads are initialized (default: CPU).
    """
    import mxnet as mx
    from gluoncv.model_zoo.pspnet import PSPNet

    _check_spec({"format": FORMAT, "version": VERSION, **spec}, "spec")  # a sidecar or a draft
    kind, backbone = MODELS[spec["model"]]
    if spec.get("backbone", backbone) != backbone:
        raise ValueError(f"checkpoint model {spec['model']!r} has backbone {backbone}, but the "
                         f"sidecar says {spec.get('backbone')!r}")
    ctx = mx.cpu() if ctx is None else ctx
    with contextlib.redirect_stdout(io.StringIO()):  # PSPNet.__init__ prints its crop size
        return PSPNet(int(spec["nclass"]), backbone=backbone, aux=bool(spec.get("aux", True)),
                      ctx=ctx, pretrained_base=False, crop_size=int(spec["crop_size"]),
                      base_size=int(spec["base_size"]))


def latest_checkpoint(out_dir, prefix: str) -> Optional[str]:
    """The complete checkpoint ``<prefix>-NNNN.params`` of the highest epoch in ``out_dir``.

    Complete: the ``.params``, ``.states`` and sidecar files all exist. None when there is none
    (or ``out_dir`` does not exist).
    """
    out_dir = os.fspath(out_dir)
    try:
        names = os.listdir(out_dir)
    except FileNotFoundError:
        return None
    pattern = re.compile(re.escape(prefix) + r"-(\d{4,})\.params")
    found = []
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        path = os.path.join(out_dir, name)
        if os.path.isfile(sidecar_path(path)) and os.path.isfile(states_path(path)):
            found.append((int(m.group(1)), path))
    return max(found)[1] if found else None
