"""The file-naming rules of the COCO panoptic format, in one place."""
from __future__ import annotations

import os

from ..errors import PanopticFormatError


def default_folder(json_path) -> str:
    """The PNG folder of a panoptic JSON when none is given: ``X.json`` -> ``X`` (panopticapi's
    convention). Only the file name's extension is cut, so ``run.v2/pred.json`` ->
    ``run.v2/pred``; a JSON file without an extension has no default folder (it would be the
    file itself): an error asking for the folder."""
    path = os.fspath(json_path)
    ext = os.path.splitext(path)[1]  # of the last component only: "run.v2/pred" has none
    if not ext:
        raise PanopticFormatError("the JSON file name has no extension, so its PNG folder cannot "
                                  "be derived from it; give the folder explicitly", file=path)
    return path[:-len(ext)]


def png_name(file_name: str) -> str:
    """The PNG of an image: its file name with the extension replaced by ``.png``
    (``a.b.jpg`` -> ``a.b.png``; panopticapi's ``rsplit('.')[0]`` would give ``a.png``)."""
    return os.path.splitext(os.fspath(file_name))[0] + ".png"
