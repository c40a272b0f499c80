"""Input images: finding them (a folder, a list file or a COCO images JSON) and reading them.

Images are read as 8-bit RGB in their stored orientation (EXIF rotation is not applied: COCO's
annotations, and so ``panoseg eval``, refer to the stored pixels). Grayscale, palette, RGBA
(alpha dropped), CMYK and 16-bit images are converted; anything unreadable raises
:class:`ImageError` naming the file.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from PIL import Image

from ..io.panoptic_json import load_json
from ..io.paths import png_name
from ..util.fileio import read_bytes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

#: Default cap on image size (pixels); larger images are refused rather than exhausting memory.
DEFAULT_MAX_PIXELS = 100_000_000


class ImageError(ValueError):
    """An input image that cannot be used; the message names the file."""


@dataclass
class ImageItem:
    """One image to predict: its id and file name in the output JSON, and where it is."""

    image_id: object
    file_name: str
    path: str
    height: Optional[int] = None  # as the images JSON states, checked against the file
    width: Optional[int] = None

    @property
    def png_name(self) -> str:
        """The name of its panoptic PNG (COCO's convention: the image's stem + .png)."""
        return png_name(self.file_name)


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Reads an image file as an HxWx3 uint8 RGB array.

    Raises
    ------
    ImageError
        Missing, unreadable, truncated or too large files, and unsupported modes.
    """
    path = os.fspath(path)
    # panoseg applies its own size limit below, with a clearer message; Pillow's bomb check
    # (which refuses twice its MAX_IMAGE_PIXELS) must not refuse what --max-pixels allows.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS * 2 < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        data = read_bytes(path)  # a FIFO or device is not waited on or read forever
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(f"{path}: image is {w}x{h} = {w * h:,} pixels, more than "
                                     f"the limit of {max_pixels:,} (--max-pixels)")
                im.load()
                _check_complete(path, im.format, data)
                return _to_rgb(im, path)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: {e}") from None
    except Image.UnidentifiedImageError:  # its message names the in-memory buffer, not the file
        raise ImageError(f"{path}: cannot read the image (corrupt, or a format Pillow does not "
                         "know)") from None
    except (OSError, SyntaxError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
        raise ImageError(f"{path}: cannot read the image ({e})") from None


def _check_complete(path: str, fmt, data: bytes) -> None:
    """Refuses JPEG / PNG files without their end marker.

    Pillow reads truncated files silently (grey below the cut) once anything in the process has
    set ``ImageFile.LOAD_TRUNCATED_IMAGES`` -- and importing GluonCV does. A JPEG's end marker
    must follow its first scan (0xFF bytes inside scan data are escaped, so the marker cannot
    occur there by chance); data appended after it (motion photos) is fine.
    """
    if fmt == "JPEG":
        scan = data.find(b"\xff\xda")
        complete = scan >= 0 and data.find(b"\xff\xd9", scan) >= 0
    elif fmt == "PNG":
        complete = b"IEND" in data[-4096:] or data.rfind(b"IEND") >= 0
    else:
        return
    if not complete:
        raise ImageError(f"{path}: cannot read the image (the file is truncated: no {fmt} end "
                         "marker)")


def _to_rgb(im: "Image.Image", path: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and 32-bit gray: Pillow's convert("RGB") would clip, not scale.
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or (a.size and a.max() > 255) else 255.0
        if mode == "F":
            top = 1.0 if a.size and a.max() <= 1.0 else 255.0
        g = np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
    if mode != "RGB":
        try:
            im = im.convert("RGB")
        except ValueError as e:
            raise ImageError(f"{path}: unsupported image mode {mode} ({e})") from None
    a = np.asarray(im)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ImageError(f"{path}: unsupported image mode {mode}")
    return np.ascontiguousarray(a)


def _image_id(stem: str):
    return int(stem) if stem.isdigit() else stem


def images_in_folder(folder) -> List[ImageItem]:
    """Every image file directly in ``folder`` (sorted by name); ids from the file names."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ImageError(f"--images {folder}: not a folder")
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, n)))
    if not names:
        raise ImageError(f"--images {folder}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return _unique([ImageItem(_image_id(os.path.splitext(n)[0]), n, os.path.join(folder, n))
                    for n in names], f"--images {folder}")


def images_in_list(list_file) -> List[ImageItem]:
    """Images named in a text file, one path per line (relative to the file's folder; # comments)."""
    list_file = os.fspath(list_file)
    base = os.path.dirname(os.path.abspath(list_file))
    items = []
    with open(list_file, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = line if os.path.isabs(line) else os.path.join(base, line)
            name = os.path.basename(line)
            items.append(ImageItem(_image_id(os.path.splitext(name)[0]), name, path))
    if not items:
        raise ImageError(f"--images {list_file}: the list names no images")
    return _unique(items, f"--images {list_file}")


def images_from_json(folder, images_json) -> List[ImageItem]:
    """The images a COCO JSON lists (``images``: id, file_name, height, width), found in ``folder``.

    The output then carries the same image ids and file names as the ground truth.
    """
    data = load_json(images_json)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ImageError(f"--images-json {images_json}: no 'images' list")
    items = []
    for k, img in enumerate(images):
        if not isinstance(img, dict) or "id" not in img or not isinstance(img.get("file_name"), str):
            raise ImageError(f"--images-json {images_json}: images[{k}] needs 'id' and 'file_name'")
        h, w = img.get("height"), img.get("width")
        items.append(ImageItem(img["id"], img["file_name"],
                               os.path.join(os.fspath(folder), img["file_name"]),
                               int(h) if isinstance(h, int) else None,
                               int(w) if isinstance(w, int) else None))
    if not items:
        raise ImageError(f"--images-json {images_json}: the images list is empty")
    return _unique(items, f"--images-json {images_json}")


def _unique(items: List[ImageItem], where: str) -> List[ImageItem]:
    seen_ids, seen_png = {}, {}
    for it in items:
        if it.image_id in seen_ids:
            raise ImageError(f"{where}: image id {it.image_id!r} is used by both "
                             f"{seen_ids[it.image_id]} and {it.file_name}")
        if it.png_name in seen_png:
            raise ImageError(f"{where}: {seen_png[it.png_name]} and {it.file_name} would both "
                             f"write {it.png_name}")
        seen_ids[it.image_id] = it.file_name
        seen_png[it.png_name] = it.file_name
    return items
