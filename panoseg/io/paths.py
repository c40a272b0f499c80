"""The file-naming rules of the COCO panoptic format, in one place."""
from __future__ import annotations

import os

from ..errors import PanopticFormatError
from ..util.fileio import is_dir, join

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:
    from typing import Optional

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


# ---------------------------------------------------------------------------------------------
# outputs named by input data
# ---------------------------------------------------------------------------------------------
def encodes_as_file_name(name: str) -> bool:
    """Whether this system's file names can spell ``name`` (not so: a lone surrogate, which a
    JSON ``\\ud800`` escape makes)."""
    if name.isascii():
        return True
    try:
        os.fsencode(name)
    except UnicodeError:
        return False
    return True


def output_path(folder, name, *, what: str = "output", file=None, image_id=None,
                file_name=None, real_folder=None) -> str:
    """``folder/name`` for an output whose ``name`` comes from input data (an image's
    ``file_name``), refused unless it stays inside ``folder``.

    Refused, with a :class:`PanopticFormatError` naming ``file`` (the input JSON) and the image:
    a name that is not a non-empty string, holds a NUL byte, does not encode for the file
    system, is absolute (or has a drive), has a ``..`` component, or resolves
    (``os.path.realpath``, following the symbolic links already in the folder) to ``folder``
    itself or outside it. Sub-folders inside the output folder
    (``"sub/x.png"``) are allowed: the writer creates them (:func:`make_parents`).
    ``real_folder``: ``os.path.realpath(folder)`` when the caller has it (many names, one
    folder).
    """
    where = {"file": file, "image_id": image_id,
             "file_name": file_name if file_name is not None
             else (name if isinstance(name, str) else None)}
    if not isinstance(name, str) or not name:
        raise PanopticFormatError(f"the {what} file name {name!r} is not a non-empty string",
                                  **where)
    if "\0" in name:
        where["file_name"] = name.replace("\0", "\\0")
        raise PanopticFormatError(f"the {what} file name contains a NUL byte", **where)
    if not encodes_as_file_name(name):
        where["file_name"] = name.encode("utf-8", "backslashreplace").decode("ascii")
        raise PanopticFormatError(f"the {what} file name cannot name a file on this system",
                                  **where)
    parts = name.replace("\\", "/").split("/")
    if os.path.isabs(name) or name.startswith(("/", "\\")) or os.path.splitdrive(name)[0]:
        raise PanopticFormatError(f"the {what} file name is an absolute path; refusing to "
                                  "write outside the output folder", **where)
    if ".." in parts:
        raise PanopticFormatError(f"the {what} file name has a '..' component; refusing to "
                                  "write outside the output folder", **where)
    folder = os.fspath(folder)
    path = os.path.join(folder, name)
    root = os.path.realpath(folder) if real_folder is None else real_folder
    # realpath(folder/name) is realpath(root/name); for a plain name that is no symbolic link
    # that is root/name itself (one lstat instead of one per component of the path).
    # (Such a name, non-empty, is inside root without further checks.)
    plain = "/" not in name and name not in (".", "..")
    if plain and not os.path.islink(os.path.join(root, name)):
        return path
    real = os.path.realpath(path)
    if real == root or os.path.commonpath([root, real]) != root:
        raise PanopticFormatError(f"the {what} file {path} resolves to {real}, not to a file "
                                  "inside the output folder; refusing to write it", **where)
    return path


def output_paths(folder, entries, *, what: str = "output", file=None) -> list:
    """:func:`output_path` of every ``(image_id, input file_name, output name)`` of
    ``entries``, all checked before anything is written; two images whose outputs would be the
    same file (the same ``file_name`` twice, or ``a.jpg`` and ``a.png`` both giving ``a.png``)
    are refused, naming both. Returns the paths, in order."""
    paths, seen = [], {}
    real_folder = os.path.realpath(folder)
    for image_id, input_name, name in entries:
        path = output_path(folder, name, what=what, file=file, image_id=image_id,
                           file_name=input_name, real_folder=real_folder)
        key = os.path.normpath(path)
        if key in seen:
            first_id, first_name = seen[key]
            raise PanopticFormatError(
                f"image {first_id} ({first_name}) and this image would both write {path}; "
                "refusing to overwrite one output with another", file=file, image_id=image_id,
                file_name=input_name)
        seen[key] = (image_id, input_name)
        paths.append(path)
    return paths


def make_parents(folder, paths) -> None:
    """Creates ``folder`` and the sub-folders of ``paths`` (checked by :func:`output_paths`)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    for parent in sorted({os.path.dirname(p) for p in paths} - {folder, ""}):
        os.makedirs(parent, exist_ok=True)


def png_output_paths(folder, images, *, file=None, what: str = "PNG") -> list:
    """:func:`output_paths` of the PNGs (:func:`png_name`) of ``images`` (dicts with ``id``
    and ``file_name``, as in a COCO ``images`` list): every name checked, and no two images
    writing the same PNG, before anything is written."""
    def entries():
        for img in images:
            name = img.get("file_name")
            yield img.get("id"), name, png_name(name) if isinstance(name, str) and name else name
    return output_paths(folder, entries(), what=what, file=file)
