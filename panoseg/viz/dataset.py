"""Pictures of a whole COCO panoptic JSON: one overlay PNG per image, or two segmentations of
the same images side by side; finding the photos and writing the pictures."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import PanopticFormatError, add_note
from ..io.categories import as_categories, category_color
from ..io.panoptic_json import image_sizes, load_panoptic_json
from ..io.paths import (
    PHOTO_EXTENSIONS,
    find_photo,
    make_parents,
    png_output_paths,
    segmentation_folder,
)
from ..io.png import MAX_PIXELS
from ..util.atomic import atomic_open
from ..util.parallel import ordered_map
from ..util.progress import progress_bar
from .errors import render_errors_on_photo
from .render import read_photo, render_on_photo, side_by_side

#: Extensions tried, in order, when the JSON's ``images`` list does not name an image.
IMAGE_EXTENSIONS = PHOTO_EXTENSIONS  # the photo extensions viz tries (its name before io.paths)


def visualize_dataset(panoptic_json_file, segmentations_folder=None, images_folder=None,
                      output_folder=None, categories=None, compare_json_file=None,
                      compare_folder=None, workers: Optional[int] = None,
                      progress: bool = False, *, alpha: float = 0.5, boundaries: bool = True,
                      labels: bool = True, titles: Optional[Sequence[str]] = None,
                      max_pixels: int = MAX_PIXELS,
                      error_marks: Optional[Callable] = None) -> list:
    """Writes one overlay PNG per image of a COCO panoptic JSON.

    With ``compare_json_file`` each output shows the segmentation of ``panoptic_json_file`` on
    the left and that of ``compare_json_file`` on the right, matched by ``image_id``, each under
    a title bar. Outputs are named like the panoptic PNGs, written atomically (a crash never
    leaves a half-written PNG) and rendered by ``workers`` threads.

    Parameters
    ----------
    panoptic_json_file : path
        COCO panoptic JSON (``annotations`` with ``segments_info``).
    segmentations_folder : path, optional
        Its PNGs; default: the JSON path without ``.json`` (as panopticapi).
    images_folder : path, optional
        The photos, found through the JSON's ``images`` list (or the PNG's name with a photo
        extension); None draws on grey.
    output_folder : path
        Created if needed.
    categories : Categories or list of dict, optional
        Default: the JSON's ``categories``, else the 133 COCO panoptic categories.
    compare_json_file, compare_folder : path, optional
        A second segmentation of the same images (``compare_folder`` defaults like
        ``segmentations_folder``).
    workers : int, optional
        Threads; default: all cores available to this process.
    progress : bool
        Show a progress bar on stderr.
    alpha, boundaries, labels
        As for :func:`~panoseg.viz.overlay`.
    titles : pair of str, optional
        Titles of the left and right panels when comparing. Default: named after the files
        given, since which of them is the ground truth is not known here: the file names
        without ``.json`` (``pred.json``, ``gt.json`` -> "pred", "gt"), with as many parent
        folders as it takes to tell them apart (``a/panoptic.json``, ``b/panoptic.json`` ->
        "a/panoptic", "b/panoptic").
    max_pixels : int
        The largest PNG or photo accepted (default :data:`panoseg.io.png.MAX_PIXELS`), checked
        from its header before it is decoded.
    error_marks : callable, optional
        Draw the prediction's errors (:mod:`panoseg.viz.errors`): ``panoptic_json_file`` is the
        ground truth, ``compare_json_file`` the prediction, and this function
        (:func:`panoseg.evaluation.errors.viz_marks`) says what each segment is. Titles default
        to "ground truth" and "prediction".

    Returns
    -------
    list of str
        The written files, in JSON order.

    Raises
    ------
    PanopticFormatError
        A photo or PNG is missing or unreadable, sizes disagree, a PNG and its ``segments_info``
        disagree, or an image has no annotation in the compared JSON.
    ValueError
        No ``output_folder``; ``compare_folder`` or ``titles`` without ``compare_json_file``;
        ``titles`` not a pair; ``error_marks`` without ``compare_json_file``.
    """
    if output_folder is None:
        raise ValueError("output_folder is required")
    if compare_folder is not None and compare_json_file is None:
        raise ValueError("compare_folder needs compare_json_file")
    if error_marks is not None and compare_json_file is None:
        raise ValueError("error_marks needs compare_json_file (the prediction)")
    if titles is not None:
        if compare_json_file is None:
            raise ValueError("titles need compare_json_file (they title the two panels)")
        if isinstance(titles, str) or len(titles) != 2:
            raise ValueError(f"titles must be a pair of str, got {titles!r}")
    panoptic_json_file = os.fspath(panoptic_json_file)
    data = load_panoptic_json(panoptic_json_file)
    seg_folder = segmentation_folder(segmentations_folder, panoptic_json_file)
    if images_folder is not None and not os.path.isdir(images_folder):
        raise PanopticFormatError("images folder does not exist", file=images_folder)
    cat_source = None
    if categories is None and isinstance(data.get("categories"), list):
        categories, cat_source = data["categories"], panoptic_json_file
    categories = as_categories(categories, source=cat_source, default_coco=True)
    for entry in categories.entries:  # a bad colour: one error naming the file, up front
        category_color(entry, cat_source)

    compare = None
    if compare_json_file is not None:
        compare_json_file = os.fspath(compare_json_file)
        other = load_panoptic_json(compare_json_file)
        compare_folder = segmentation_folder(compare_folder, compare_json_file)
        compare = {}
        for ann in other["annotations"]:
            compare.setdefault(ann["image_id"], ann)
        if titles is None:
            titles = (("ground truth", "prediction") if error_marks is not None
                      else panel_titles(panoptic_json_file, compare_json_file))

    sizes = image_sizes(data, panoptic_json_file, max_pixels)  # checked before any PNG is read
    image_names = {}
    for img in data.get("images") or ():
        if isinstance(img, Mapping) and "id" in img and "file_name" in img:
            image_names[img["id"]] = img["file_name"]

    jobs = []
    for ann in data["annotations"]:
        other_ann = None
        if compare is not None:
            other_ann = compare.get(ann["image_id"])
            if other_ann is None:
                raise PanopticFormatError("image has no annotation in the compared JSON",
                                          file=compare_json_file, image_id=ann["image_id"],
                                          file_name=ann["file_name"])
        jobs.append((ann, other_ann))
    # Every output path checked (inside the folder, no two images on one file) before any write.
    out_paths = png_output_paths(
        output_folder, [{"id": ann["image_id"], "file_name": ann["file_name"]} for ann, _ in jobs],
        file=panoptic_json_file, what="output picture")
    make_parents(output_folder, out_paths)
    jobs = [(ann, other_ann, path) for (ann, other_ann), path in zip(jobs, out_paths)]
    style = dict(alpha=alpha, boundaries=boundaries, labels=labels, max_pixels=max_pixels)
    done = []  # every picture written, by any thread (list.append is atomic)

    def one_image(job) -> str:
        ann, other_ann, out_path = job
        image_id = ann["image_id"]
        photo = photo_path = None
        if images_folder is not None:
            photo_path = _find_image(images_folder, image_names.get(image_id), ann["file_name"],
                                     image_id)
            photo = read_photo(photo_path, image_id, max_pixels)
        if error_marks is not None:
            picture = render_errors_on_photo(
                photo, photo_path, os.path.join(seg_folder, ann["file_name"]),
                ann["segments_info"], os.path.join(compare_folder, other_ann["file_name"]),
                other_ann["segments_info"], categories, image_id, panoptic_json_file,
                compare_json_file, error_marks, titles=titles, alpha=alpha,
                boundaries=boundaries, labels=labels, max_pixels=max_pixels,
                expected_size=sizes.get(image_id))
            _write_png(out_path, picture)
            done.append(out_path)
            return out_path
        picture = render_on_photo(photo, photo_path, os.path.join(seg_folder, ann["file_name"]),
                                  ann["segments_info"], categories, image_id, panoptic_json_file,
                                  expected_size=sizes.get(image_id), **style)
        if other_ann is not None:
            right = render_on_photo(photo, photo_path,
                                    os.path.join(compare_folder, other_ann["file_name"]),
                                    other_ann["segments_info"], categories, image_id,
                                    compare_json_file, expected_size=sizes.get(image_id),
                                    size_source=panoptic_json_file, **style)
            picture = side_by_side(picture, right, titles)
        _write_png(out_path, picture)
        done.append(out_path)
        return out_path

    written = []
    try:
        with progress_bar(len(jobs), progress, "panoseg viz") as bar:
            for path in ordered_map(one_image, jobs, workers):
                written.append(path)
                bar.update(1)
    except Exception as e:
        # The pictures already written stay (each is complete, written atomically): the error
        # says so, so that a user does not take the folder for a finished run, nor for
        # untouched. ordered_map has joined its threads here: the count is final.
        if done:
            add_note(e, f"{len(done)} of {len(jobs)} pictures were written to {output_folder} "
                        "before the error (each complete); the others were not")
        raise
    return written


def panel_titles(left_json_file, right_json_file) -> Tuple[str, str]:
    """Titles for two panels named after their JSON files: the file names without their
    extension, with as many parent folders as it takes to tell them apart."""
    parts = []
    for path in (left_json_file, right_json_file):
        p = Path(os.path.abspath(os.fspath(path)))
        parts.append(list(p.parent.parts[1:]) + [p.stem])
    left, right = parts
    if left == right:  # one file against itself
        return left[-1], right[-1]
    k = 1
    while k < min(len(left), len(right)) and left[-k:] == right[-k:]:
        k += 1
    return "/".join(left[-k:]), "/".join(right[-k:])


def _find_image(folder, listed_name, png_file, image_id=None) -> str:
    """The photo of an annotation (:func:`~panoseg.io.paths.find_photo`); a PanopticFormatError
    naming the expected file when absent."""
    path = find_photo(folder, png_file, listed_name)
    if path is not None:
        return path
    if listed_name is not None:
        raise PanopticFormatError("image not found in the images folder",
                                  file=os.path.join(folder, listed_name), image_id=image_id)
    stem = os.path.splitext(png_file)[0]
    raise PanopticFormatError("image not found in the images folder (tried "
                              + ", ".join(PHOTO_EXTENSIONS[:3]) + ")",
                              file=os.path.join(folder, stem + ".jpg"), image_id=image_id)


def _write_png(path, picture: np.ndarray) -> None:
    """An RGB picture as PNG, atomically."""
    from PIL import Image

    with atomic_open(path, "wb") as f:
        Image.fromarray(picture).save(f, format="PNG")

