"""Building GluonCV networks by zoo name, with readable errors and no downloads."""
from __future__ import annotations

import contextlib
import io
from typing import Sequence

import mxnet as mx


def zoo_names(prefixes: Sequence[str]) -> list:
    """GluonCV zoo model names starting with any of ``prefixes`` (for error messages)."""
    from gluoncv.model_zoo import get_model_list

    return sorted(n for n in get_model_list() if n.startswith(tuple(prefixes)))


def build_zoo_net(name: str, kind: str, prefixes: Sequence[str], flag: str, **kwargs):
    """``gluoncv.model_zoo.get_model(name, pretrained=False, pretrained_base=False, **kwargs)``.

    Never downloads (weights are loaded separately); its constructor's prints are swallowed.

    Raises
    ------
    ValueError
        An unknown name, or one that is not a ``kind`` model (listing the valid names).
    """
    from gluoncv.model_zoo import get_model

    valid = zoo_names(prefixes)
    if name not in valid:
        raise ValueError(f"{flag} {name}: not a GluonCV {kind} model; choose one of "
                         f"{', '.join(valid)}")
    with contextlib.redirect_stdout(io.StringIO()):  # PSPNet.__init__ prints
        return get_model(name, pretrained=False, pretrained_base=False, **kwargs)


def seed_everything(seed: int) -> None:
    """Seeds MXNet's and numpy's generators (for reproducible random-weight nets in tests)."""
    import numpy as np

    mx.random.seed(seed)
    np.random.seed(seed)
