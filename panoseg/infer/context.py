"""MXNet contexts from the ``--ctx`` flag: ``cpu``, ``gpu`` (= ``gpu:0``) or ``gpu:0,1,...``."""
from __future__ import annotations

from typing import List, Sequence, Union

import mxnet as mx


def parse_ctx(spec: Union[str, Sequence, "mx.Context"], flag: str = "--ctx") -> List["mx.Context"]:
    """Parses a context spec into a list of MXNet contexts, checking that the GPUs exist.

    Raises
    ------
    ValueError
        For a malformed spec or GPUs that MXNet cannot see (e.g. a CPU-only MXNet build).
    """
    if isinstance(spec, mx.Context):
        return [spec]
    if not isinstance(spec, str):
        out = []
        for s in spec:
            out.extend(parse_ctx(s, flag))
        return out
    text = spec.strip().lower()
    if text == "cpu":
        return [mx.cpu()]
    if text == "gpu":
        text = "gpu:0"
    if not text.startswith("gpu:"):
        raise ValueError(f"{flag} {spec}: expected cpu, gpu or gpu:0,1,...")
    try:
        ids = [int(x) for x in text[4:].split(",") if x.strip() != ""]
    except ValueError:
        raise ValueError(f"{flag} {spec}: GPU ids must be integers, e.g. gpu:0,1") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise ValueError(f"{flag} {spec}: give distinct GPU ids >= 0, e.g. gpu:0,1")
    visible = num_gpus()
    if max(ids) >= visible:
        hint = (" (this MXNet build is CPU-only or no CUDA device is present; install a CUDA "
                "wheel such as mxnet-cu117 and check nvidia-smi)" if visible == 0 else "")
        raise ValueError(f"{flag} {spec}: only {visible} GPU(s) visible to MXNet{hint}")
    return [mx.gpu(i) for i in ids]


def num_gpus() -> int:
    """GPUs MXNet can use (0 for CPU-only builds, which raise instead of answering)."""
    try:
        return int(mx.context.num_gpus())
    except mx.base.MXNetError:
        return 0
