"""The file-naming rules of the COCO panoptic format, in one place."""
from __future__ import annotations

import os
from typing import Optional

from ..errors import PanopticFormatError
from ..util.fileio import is_dir, join

#: Extensions tried for the photo of a panoptic PNG (same stem) when the JSON names none.
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


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


def segmentation_folder(folder, json_file, what: str = "segmentations") -> str:
    """The PNG folder of a panoptic JSON -- ``folder`` if given, else
    :func:`default_folder` ``(json_file)`` -- which must exist (a local path or an fsspec URL)."""
    folder = default_folder(json_file) if folder is None else os.fspath(folder)
    if not is_dir(folder):
        raise PanopticFormatError(f"folder with {what} does not exist", file=folder)
    return folder


def find_photo(folder, png_file: str, listed_name: Optional[str] = None) -> Optional[str]:
    """The photo a panoptic PNG was made from, in ``folder``: the name the JSON's ``images``
    entry lists, if given, else the PNG's name with a photo extension (:data:`PHOTO_EXTENSIONS`).
    None when there is none."""
    if listed_name is not None:
        path = join(folder, listed_name)
        return path if os.path.isfile(path) else None
    stem = os.path.splitext(os.fspath(png_file))[0]
    for ext in PHOTO_EXTENSIONS:
        path = join(folder, stem + ext)
        if os.path.isfile(path):
            return path
    return None
