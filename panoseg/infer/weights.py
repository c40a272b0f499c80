"""Finding and loading model weights: a local ``.params`` file or GluonCV's zoo cache.

GluonCV's ``pretrained=True`` looks for ``$MXNET_HOME/models/{name}-{sha1[:8]}.params`` (default
``~/.mxnet/models``) and downloads it otherwise. panoseg never downloads behind the user's back
(the zoo's download links are unreliable and many machines are offline): it uses the cached
file, a file given on the command line, or downloads only when asked to.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import mxnet as mx

#: Missing parameters tolerated when loading (GluonCV's zoo files are loaded with
#: allow_missing=True); more than this fraction means the file is for another model.
MAX_MISSING_FRACTION = 0.02


class WeightsError(ValueError):
    """Weights that cannot be found or do not fit the model; the message names file and flag."""


def zoo_cache_dir() -> str:
    """Where GluonCV keeps zoo weights: ``$MXNET_HOME/models`` (default ``~/.mxnet/models``)."""
    return os.path.join(os.path.expanduser(mx.base.data_dir()), "models")


def zoo_weights_path(name: str) -> str:
    """The zoo cache file of a pretrained GluonCV model (whether or not it exists yet)."""
    from gluoncv.model_zoo.model_store import short_hash

    try:
        return os.path.join(zoo_cache_dir(), f"{name}-{short_hash(name)}.params")
    except ValueError:
        raise WeightsError(f"GluonCV publishes no pretrained weights for {name!r}; give a "
                           "weights file") from None


def resolve_weights(name: str, weights: Optional[str], flag: str, download: bool = False) -> str:
    """The weights file to load: ``weights`` if given, else the zoo cache file of ``name``.

    Raises
    ------
    WeightsError
        When the file does not exist (and ``download`` is off or fails).
    """
    if weights:
        path = os.path.expanduser(os.fspath(weights))
        if not os.path.isfile(path):
            raise WeightsError(f"{flag} {weights}: no such file")
        return path
    path = zoo_weights_path(name)
    if os.path.isfile(path):
        return path
    if download:
        from gluoncv.model_zoo.model_store import get_model_file

        try:
            return get_model_file(name, root=zoo_cache_dir())
        except Exception as e:  # network errors come in many types
            raise WeightsError(f"downloading the weights of {name} failed ({e}); put the file at "
                               f"{path} or pass {flag} FILE") from None
    raise WeightsError(f"no weights for {name}: {path} does not exist and panoseg does not "
                       f"download unless asked (--download-weights); pass {flag} FILE or copy "
                       "the zoo file there")


def load_weights(net, path: str, ctx: Sequence["mx.Context"], flag: str) -> None:
    """Loads a ``save_parameters`` file into ``net`` after checking that it fits.

    Extra parameters in the file are ignored (as GluonCV does for its zoo files); a few missing
    ones are tolerated with a warning; a shape mismatch or a file made for another network is
    an error that says which parameter differs.
    """
    try:
        saved = mx.nd.load(path)
    except mx.base.MXNetError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unreadable"
        raise WeightsError(f"{flag} {path}: not an MXNet parameter file ({first})") from None
    if not isinstance(saved, dict) or not saved:
        raise WeightsError(f"{flag} {path}: not a parameter file of a Gluon network "
                           "(expected named arrays, as net.save_parameters writes)")
    # save_parameters keys are structural names ("features.0.weight"); strip the "arg:"/"aux:"
    # prefixes of symbol-style files.
    saved = {k.split(":", 1)[1] if k.startswith(("arg:", "aux:")) else k: v
             for k, v in saved.items()}
    params = net._collect_params_with_prefix()
    mismatched = [(k, tuple(saved[k].shape), tuple(p.shape)) for k, p in params.items()
                  if k in saved and p.shape is not None and _known(p.shape)
                  and tuple(saved[k].shape) != tuple(p.shape)]
    if mismatched:
        k, got, want = mismatched[0]
        more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        raise WeightsError(f"{flag} {path}: parameter {k} has shape {got} in the file but "
                           f"{want} in the model{more}: the file is for another model or class "
                           "count")
    missing = [k for k in params if k not in saved]
    if len(missing) > MAX_MISSING_FRACTION * len(params):
        raise WeightsError(f"{flag} {path}: the file lacks {len(missing)} of the model's "
                           f"{len(params)} parameters (e.g. {missing[0]}): it is for another "
                           "model")
    if missing:
        print(f"panoseg: warning: {path} lacks {len(missing)} parameters "
              f"({', '.join(missing[:3])}...); they keep their initial values", file=sys.stderr)
        for k in missing:
            params[k].initialize(ctx=list(ctx), force_reinit=True)
    # Some GluonCV constructors (PSPNet's heads) initialize parameters on the CPU already;
    # loading onto other or several contexts needs them moved first.
    for p in params.values():
        if p._data is not None and list(p.list_ctx()) != list(ctx):
            p.reset_ctx(list(ctx))
    net.load_parameters(path, ctx=list(ctx), allow_missing=bool(missing), ignore_extra=True)


def _known(shape) -> bool:
    return all(d > 0 for d in shape)
