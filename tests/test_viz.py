"""Tests of panoseg.viz (overlay pictures) and the ``viz`` subcommand."""
import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panoseg import Categories, PanopticFormatError, read_ids, write_ids
from panoseg.cli.viz import add_viz_parser
from panoseg.viz import (
    BOUNDARY_COLOR,
    GREY,
    overlay,
    render_panoptic,
    side_by_side,
    visualize_dataset,
)
from panoseg.viz import labels as viz_labels
from panoseg.viz import render as viz

DATA = Path(__file__).parent / "data" / "coco_panoptic_sample"
PRED = Path(__file__).parent / "data" / "sample_prediction"

CATS = Categories([
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 10, "name": "sky-other-merged", "isthing": 0, "color": [70, 130, 180]},
    {"id": 11, "name": "grass-merged", "isthing": 0, "color": [152, 251, 152]},
])


def scene():
    """A 120x160 photo and id map: sky (top), grass (bottom), two persons, one car, VOID."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    ids = np.zeros((120, 160), np.uint32)
    ids[:50, :] = 100           # sky
    ids[50:, :120] = 200        # grass; columns 120.. stay VOID
    ids[60:110, 10:50] = 301    # person (left)
    ids[60:110, 60:100] = 302   # person (right)
    ids[5:40, 100:150] = 401    # car, inside the sky
    segments = [
        {"id": 100, "category_id": 10},
        {"id": 200, "category_id": 11},
        {"id": 301, "category_id": 1},
        {"id": 302, "category_id": 1, "iscrowd": 1},
        {"id": 401, "category_id": 2},
    ]
    return photo, ids, segments


def blend(photo_px, colour, alpha=0.5):
    return np.floor((1 - alpha) * photo_px.astype(np.float64) + alpha * np.asarray(colour) + 0.5)


# ---------------------------------------------------------------------------- overlay

def test_overlay_shape_dtype_and_photo_untouched():
    photo, ids, segments = scene()
    before = photo.copy()
    out = overlay(photo, ids, segments, CATS)
    assert out.shape == (120, 160, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(photo, before)
    grey = overlay(None, ids, segments, CATS.to_list())  # a plain list of categories works too
    assert grey.shape == (120, 160, 3) and grey.dtype == np.uint8


def test_segment_interiors_get_their_colour_blended():
    photo, ids, segments = scene()
    for alpha in (0.5, 0.3):
        out = overlay(photo, ids, segments, CATS, alpha=alpha, labels=False)
        # Pixels far from any boundary. Stuff: the category colour; the leftmost instance of a
        # thing category keeps the category colour too.
        for (y, x), colour in [((25, 50), (70, 130, 180)), ((115, 100), (152, 251, 152)),
                               ((85, 30), (220, 20, 60)), ((22, 125), (0, 0, 142))]:
            np.testing.assert_allclose(out[y, x], blend(photo[y, x], colour, alpha), atol=1)
    # The other person gets another shade, the same over all its pixels.
    out = overlay(photo, ids, segments, CATS, alpha=1.0, labels=False)
    right = out[70:100, 70:90].reshape(-1, 3)
    assert (right == right[0]).all()
    assert tuple(right[0]) != (220, 20, 60)
    assert not np.array_equal(out[85, 30], out[85, 80])


def test_void_keeps_the_photo():
    photo, ids, segments = scene()
    out = overlay(photo, ids, segments, CATS, labels=False)
    void = ids == 0
    inner = void.copy()
    inner[:, 120:122] = False  # the outline pixels just outside the segments
    inner[48:52, :] = False
    np.testing.assert_array_equal(out[inner], photo[inner])
    # No photo: VOID is grey (hatched), never a segment colour.
    grey = overlay(None, ids, segments, CATS, boundaries=False, labels=False)
    colours = {tuple(c) for c in grey[void].reshape(-1, 3)}
    assert colours <= {GREY, viz._HATCH} and len(colours) == 2


def test_boundaries_are_drawn():
    photo, ids, segments = scene()
    out = overlay(photo, ids, segments, CATS, labels=False)
    plain = overlay(photo, ids, segments, CATS, labels=False, boundaries=False)
    # Both sides of each edge: person/grass at x=9|10, sky/grass at y=49|50, grass/VOID at 119|120.
    for y, x in [(80, 9), (80, 10), (49, 20), (50, 20), (80, 119), (80, 120), (4, 120)]:
        assert tuple(out[y, x]) == BOUNDARY_COLOR, (y, x)
        assert tuple(plain[y, x]) != BOUNDARY_COLOR, (y, x)
    assert tuple(out[80, 8]) != BOUNDARY_COLOR and tuple(out[80, 11]) != BOUNDARY_COLOR
    edge = viz._boundary_mask(viz._label_map(ids, viz.SegmentTable.from_segments_info(
        segments, CATS, is_gt=False), {}, None))
    np.testing.assert_array_equal(np.all(out == BOUNDARY_COLOR, axis=2) & ~edge,
                                  np.zeros_like(edge))


def test_labels_are_written_inside_segments():
    photo, ids, segments = scene()
    plain = overlay(photo, ids, segments, CATS, labels=False)
    out = overlay(photo, ids, segments, CATS, font_size=11)
    changed = np.any(out != plain, axis=2)
    assert changed.any()
    # Text lands on the big segments (sky, grass) and not far outside the picture's segments.
    assert changed[:50].any() and changed[50:].any()
    assert viz_labels.display_name(CATS, CATS.index_of[10], 0) == "sky-other"
    assert viz_labels.display_name(CATS, CATS.index_of[1], 1) == "person (crowd)"
    anchors = viz_labels.label_anchors(viz._label_map(ids, viz.SegmentTable.from_segments_info(
        segments, CATS, is_gt=False), {}, None), len(segments))
    for seg, (x, y, depth) in anchors.items():
        assert ids[y, x] == segments[seg - 1]["id"] and depth > 0


def test_deterministic_and_independent_of_segment_order():
    photo, ids, segments = scene()
    a = overlay(photo, ids, segments, CATS)
    b = overlay(photo, ids, segments, CATS)
    c = overlay(photo, ids, segments[::-1], CATS)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_overlay_errors():
    photo, ids, segments = scene()
    with pytest.raises(PanopticFormatError) as e:
        overlay(photo, ids, segments[:-1], CATS)  # id 401 is in the map but not listed
    assert e.value.segment_id == 401
    assert "not in segments_info" in str(e.value)
    with pytest.raises(PanopticFormatError):
        overlay(photo, ids, segments + [{"id": 7, "category_id": 999}], CATS)
    with pytest.raises(ValueError):
        overlay(photo[:10], ids, segments, CATS)
    with pytest.raises(ValueError):
        overlay(photo, ids, segments, CATS, alpha=1.5)
    # Segments without pixels are fine; an all-VOID map is just the photo.
    np.testing.assert_array_equal(overlay(photo, np.zeros_like(ids), [], CATS), photo)


def test_old_pillow_font_fallback(monkeypatch):
    from PIL import ImageFont

    real = ImageFont.load_default

    def old_load_default(*args, **kwargs):
        if args or kwargs:
            raise TypeError("load_default() takes no arguments")
        return real()

    monkeypatch.setattr(ImageFont, "load_default", old_load_default)
    photo, ids, segments = scene()
    out = overlay(photo, ids, segments, CATS, font_size=37)  # a size no other test caches
    assert out.shape == photo.shape
    assert np.any(out != overlay(photo, ids, segments, CATS, labels=False))


# ---------------------------------------------------------------------------- side_by_side

def test_side_by_side_layout():
    left = np.full((40, 60, 3), 10, np.uint8)
    right = np.full((50, 30, 3), 200, np.uint8)
    bare = side_by_side(left, right, titles=None)
    gap = bare.shape[1] - 90
    assert bare.dtype == np.uint8 and bare.shape[0] == 50 and gap >= 4
    np.testing.assert_array_equal(bare[:40, :60], left)
    np.testing.assert_array_equal(bare[:, 60 + gap:], right)
    titled = side_by_side(left, Image.fromarray(right))
    bar = titled.shape[0] - 50
    assert bar > 10 and titled.shape[1] == bare.shape[1]
    np.testing.assert_array_equal(titled[bar:], bare)
    assert len(np.unique(titled[:bar].reshape(-1, 3), axis=0)) > 2  # title text was drawn
    with pytest.raises(ValueError):
        side_by_side(left, right, titles=("one",))


# ---------------------------------------------------------------------------- files and CLI

def run_cli(argv):
    parser = argparse.ArgumentParser()
    sp = parser.add_subparsers(dest="command")
    add_viz_parser(sp)
    args = parser.parse_args(["viz"] + [str(a) for a in argv])
    return args.run(args)


def sample_annotations():
    return json.loads((DATA / "panoptic_examples.json").read_text())["annotations"]


def test_render_panoptic_sample():
    ann = sample_annotations()[0]
    stem = ann["file_name"][:-4]
    categories = Categories(json.loads((DATA / "panoptic_coco_categories.json").read_text()))
    out = render_panoptic(DATA / "input_images" / f"{stem}.jpg",
                          DATA / "panoptic_examples" / ann["file_name"], ann["segments_info"],
                          categories, labels=False)
    ids = read_ids(DATA / "panoptic_examples" / ann["file_name"])
    assert out.shape == ids.shape + (3,) and out.dtype == np.uint8
    photo = np.asarray(Image.open(DATA / "input_images" / f"{stem}.jpg").convert("RGB"))
    far_void = (ids == 0) & ~viz._boundary_mask(ids.astype(np.int64))
    far_void[1:-1, 1:-1] &= (ids[:-2, 1:-1] == 0) & (ids[2:, 1:-1] == 0)
    np.testing.assert_array_equal(out[far_void], photo[far_void])
    assert np.any(out != photo)


def test_cli_writes_one_png_per_image(tmp_path):
    out = tmp_path / "out"
    rc = run_cli(["--panoptic_json_file", DATA / "panoptic_examples.json",
                  "--images_folder", DATA / "input_images", "--output_folder", out,
                  "--no-progress", "--workers", "2"])
    assert rc == 0
    names = sorted(a["file_name"] for a in sample_annotations())
    assert sorted(os.listdir(out)) == names  # no temporary files left behind
    for name in names:
        ids = read_ids(DATA / "panoptic_examples" / name)
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.size == ids.shape[::-1]
    # Same pictures from one thread (deterministic), and the API returns the paths.
    again = visualize_dataset(DATA / "panoptic_examples.json", None, DATA / "input_images",
                              tmp_path / "again", workers=1)
    assert [os.path.basename(p) for p in again] == [a["file_name"] for a in sample_annotations()]
    for name in names:
        np.testing.assert_array_equal(np.asarray(Image.open(out / name)),
                                      np.asarray(Image.open(tmp_path / "again" / name)))


def test_cli_compare_side_by_side(tmp_path):
    out = tmp_path / "cmp"
    rc = run_cli(["--panoptic_json_file", DATA / "panoptic_examples.json",
                  "--segmentations_folder", DATA / "panoptic_examples",
                  "--images_folder", DATA / "input_images", "--output_folder", out,
                  "--compare_json_file", PRED / "panoptic_pred.json", "--alpha", "0.6",
                  "--no-labels", "--no-boundaries", "--no-progress"])
    assert rc == 0
    for name in sorted(a["file_name"] for a in sample_annotations()):
        h, w = read_ids(DATA / "panoptic_examples" / name).shape
        with Image.open(out / name) as im:
            assert im.size[0] > 2 * w and im.size[1] > h


def test_cli_options():
    with pytest.raises(SystemExit):
        run_cli(["--panoptic_json_file", "x.json", "--output_folder", "o", "--alpha", "2"])
    parser = argparse.ArgumentParser()
    add_viz_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["viz", "--panoptic_json_file", "x.json", "--output_folder", "o"])
    assert args.alpha == 0.5 and not args.no_labels and not args.no_boundaries
    assert args.segmentations_folder is None and args.images_folder is None and args.workers is None


def copy_sample(tmp_path):
    shutil.copytree(DATA / "panoptic_examples", tmp_path / "gt")
    shutil.copytree(DATA / "input_images", tmp_path / "images")
    (tmp_path / "gt.json").write_text((DATA / "panoptic_examples.json").read_text())
    return tmp_path


def test_missing_image_is_an_error(tmp_path):
    copy_sample(tmp_path)
    missing = tmp_path / "images" / "000000439180.jpg"
    missing.unlink()
    out = tmp_path / "out"
    with pytest.raises(PanopticFormatError) as e:
        run_cli(["--panoptic_json_file", tmp_path / "gt.json", "--images_folder",
                 tmp_path / "images", "--output_folder", out, "--no-progress", "--workers", "1"])
    assert e.value.file == str(missing) and "not found" in str(e.value)
    # The image before it was finished; nothing half-written is left.
    assert os.listdir(out) == ["000000142238.png"]


def test_missing_png_and_mismatch_are_errors(tmp_path):
    copy_sample(tmp_path)
    png = tmp_path / "gt" / "000000142238.png"
    png.unlink()
    with pytest.raises(PanopticFormatError) as e:
        run_cli(["--panoptic_json_file", tmp_path / "gt.json", "--output_folder",
                 tmp_path / "out", "--no-progress"])
    assert e.value.file == str(png) and e.value.image_id == 142238
    # A PNG id that segments_info does not list.
    ids = read_ids(DATA / "panoptic_examples" / "000000142238.png")
    ids[:5, :5] = 123
    write_ids(png, ids)
    with pytest.raises(PanopticFormatError) as e:
        run_cli(["--panoptic_json_file", tmp_path / "gt.json", "--output_folder",
                 tmp_path / "out", "--no-progress"])
    assert e.value.segment_id == 123 and e.value.image_id == 142238
    # A PNG whose size differs from 'images': refused from its header.
    write_ids(png, ids[:100])
    with pytest.raises(PanopticFormatError, match="PNG is 640x100 .* says 640x427"):
        run_cli(["--panoptic_json_file", tmp_path / "gt.json", "--output_folder",
                 tmp_path / "out", "--no-progress"])
    # Photo and PNG of different sizes (no sizes in 'images').
    data = json.loads((tmp_path / "gt.json").read_text())
    for img in data["images"]:
        del img["height"], img["width"]
    (tmp_path / "gt.json").write_text(json.dumps(data))
    with pytest.raises(PanopticFormatError, match="photo is 640x427"):
        run_cli(["--panoptic_json_file", tmp_path / "gt.json", "--images_folder",
                 tmp_path / "images", "--output_folder", tmp_path / "out", "--no-progress"])
    assert not any(n.startswith(".tmp") for n in os.listdir(tmp_path / "out"))


def test_compare_needs_every_image(tmp_path):
    copy_sample(tmp_path)
    pred = json.loads((PRED / "panoptic_pred.json").read_text())
    pred["annotations"] = pred["annotations"][:1]
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    with pytest.raises(PanopticFormatError, match="no annotation in the compared JSON"):
        visualize_dataset(tmp_path / "gt.json", None, None, tmp_path / "out",
                          compare_json_file=tmp_path / "pred.json",
                          compare_folder=PRED / "panoptic_pred")


def test_compare_titles_name_the_files_given(tmp_path):
    # README: `viz --panoptic_json_file pred.json --compare_json_file gt.json` shows the
    # prediction on the left; its title must say so (it used to say "ground truth").
    shutil.copytree(PRED / "panoptic_pred", tmp_path / "pred")
    (tmp_path / "pred.json").write_text((PRED / "panoptic_pred.json").read_text())
    copy_sample(tmp_path)
    ann = sample_annotations()[0]
    categories = Categories(json.loads((tmp_path / "pred.json").read_text())["categories"])
    pred_ann = next(a for a in json.loads((tmp_path / "pred.json").read_text())["annotations"]
                    if a["image_id"] == ann["image_id"])
    left = render_panoptic(None, tmp_path / "pred" / pred_ann["file_name"],
                           pred_ann["segments_info"], categories, labels=False)
    right = render_panoptic(None, tmp_path / "gt" / ann["file_name"], ann["segments_info"],
                            categories, labels=False)

    def picture(**kwargs):
        visualize_dataset(tmp_path / "pred.json", None, None, tmp_path / "out",
                          compare_json_file=tmp_path / "gt.json", labels=False, **kwargs)
        return np.asarray(Image.open(tmp_path / "out" / ann["file_name"]))

    np.testing.assert_array_equal(picture(), side_by_side(left, right, ("pred", "gt")))
    np.testing.assert_array_equal(picture(titles=("ours", "COCO")),
                                  side_by_side(left, right, ("ours", "COCO")))
    with pytest.raises(ValueError, match="titles need compare_json_file"):
        visualize_dataset(tmp_path / "gt.json", None, None, tmp_path / "x", titles=("a", "b"))
    with pytest.raises(ValueError, match="pair"):
        visualize_dataset(tmp_path / "gt.json", None, None, tmp_path / "x",
                          compare_json_file=tmp_path / "pred.json", titles="ab")
    # Files of the same name: as many parent folders as it takes to tell them apart.
    from panoseg.viz.dataset import panel_titles

    assert panel_titles("a/panoptic.json", "b/panoptic.json") == ("a/panoptic", "b/panoptic")
    assert panel_titles("x/run/p.json", "y/run/p.json") == ("x/run/p", "y/run/p")
    assert panel_titles("gt.json", "gt.json") == ("gt", "gt")


# ---------------------------------------------------------------------------- --errors

def error_scene():
    """GT: sky (top), grass (bottom), a car on the grass, nobody predicted; the prediction has
    the sky, the grass and a person on the grass (an FP)."""
    gt = np.zeros((120, 160), np.uint32)
    gt[:50] = 100
    gt[50:] = 200
    gt[70:110, 10:60] = 401  # car: missed
    pred = np.zeros((120, 160), np.uint32)
    pred[:50] = 7
    pred[50:] = 8
    pred[60:110, 100:150] = 9  # person on the grass: background FP
    gt_info = [{"id": 100, "category_id": 10, "iscrowd": 0, "area": int((gt == 100).sum())},
               {"id": 200, "category_id": 11, "iscrowd": 0, "area": int((gt == 200).sum())},
               {"id": 401, "category_id": 2, "iscrowd": 0, "area": int((gt == 401).sum())}]
    pred_info = [{"id": 7, "category_id": 10}, {"id": 8, "category_id": 11},
                 {"id": 9, "category_id": 1}]
    return gt, gt_info, pred, pred_info


def write_error_dataset(tmp_path):
    gt, gt_info, pred, pred_info = error_scene()
    for name, ids, info in (("gt", gt, gt_info), ("pred", pred, pred_info)):
        (tmp_path / name).mkdir()
        write_ids(tmp_path / name / "1.png", ids)
        data = {"annotations": [{"image_id": 1, "file_name": "1.png", "segments_info": info}],
                "categories": CATS.to_list()}
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    return tmp_path


def test_error_pictures_colour_segments_by_kind():
    from panoseg.evaluation.errors import viz_marks
    from panoseg.viz.errors import ERROR_ALPHA_BOOST, ERROR_COLORS, error_overlay

    gt, gt_info, pred, pred_info = error_scene()
    marks = viz_marks(gt, gt_info, pred, pred_info, CATS)
    assert [m["kind"] for m in marks["gt"]] == ["tp", "tp", "fn"]
    assert [m["kind"] for m in marks["pred"]] == ["tp", "tp", "fp"]
    assert marks["gt"][2]["error"] == "missed" and marks["pred"][2]["error"] == "background"
    grey = np.array(GREY)
    boosted = 0.5 + ERROR_ALPHA_BOOST
    left = error_overlay(None, gt, gt_info, CATS, marks["gt"], "gt", labels=False)
    right = error_overlay(None, pred, pred_info, CATS, marks["pred"], "pred", labels=False)
    np.testing.assert_allclose(left[90, 35], blend(grey, ERROR_COLORS["fn"], boosted), atol=1)
    np.testing.assert_allclose(right[85, 125], blend(grey, ERROR_COLORS["fp"], boosted), atol=1)
    for panel in (left, right):
        np.testing.assert_allclose(panel[25, 80], blend(grey, ERROR_COLORS["tp"]), atol=1)
    with pytest.raises(ValueError, match="kind"):
        error_overlay(None, gt, gt_info, CATS, marks["pred"], "gt")
    # Labels: IoU on matched segments, the error type on FNs / FPs.
    labelled = error_overlay(None, pred, pred_info, CATS, marks["pred"], "pred")
    assert (labelled != right).any()


def test_cli_errors_writes_pictures_with_legend(tmp_path):
    from panoseg.cli import main
    from panoseg.viz.errors import ERROR_ALPHA_BOOST, ERROR_COLORS

    d = write_error_dataset(tmp_path)
    outs = []
    for k, flags in enumerate((["--panoptic_json_file", "--compare_json_file", "--output_folder"],
                               ["--panoptic-json-file", "--compare-json-file",
                                "--output-folder"])):
        out = tmp_path / f"out{k}"
        rc = main(["viz", flags[0], str(d / "gt.json"), flags[1], str(d / "pred.json"),
                   flags[2], str(out), "--errors", "--no-progress", "--no-labels"])
        assert rc == 0
        assert os.listdir(out) == ["1.png"]
        outs.append(np.asarray(Image.open(out / "1.png").convert("RGB")))
    np.testing.assert_array_equal(outs[0], outs[1])
    picture = outs[0]
    size = viz_labels.default_font_size(120) + 2
    bar, gap = int(round(size * 1.8)), max(4, size // 3)
    assert picture.shape[1] == 2 * 160 + gap
    assert picture.shape[0] > bar + 120 + size  # title bar, panels, legend
    right = picture[bar:bar + 120, 160 + gap:]
    np.testing.assert_allclose(right[85, 125], blend(np.array(GREY), ERROR_COLORS["fp"],
                                                     0.5 + ERROR_ALPHA_BOOST), atol=1)
    # The legend lies below the panels, with a swatch of each colour.
    legend = picture[bar + 120:].reshape(-1, 3)
    for colour in ("tp", "fn", "fp", "crowd"):
        assert (legend == ERROR_COLORS[colour]).all(axis=1).sum() >= 25, colour
    # The panels hold no swatch of the exact FP colour outside the FP segment (the legend does
    # not cover them): only blends.
    assert not (picture[:bar + 120].reshape(-1, 3) == ERROR_COLORS["fp"]).all(axis=1).any()


def test_cli_errors_with_photos_and_labels(tmp_path):
    out = tmp_path / "err"
    rc = run_cli(["--panoptic_json_file", DATA / "panoptic_examples.json",
                  "--images_folder", DATA / "input_images", "--output_folder", out,
                  "--compare_json_file", PRED / "panoptic_pred.json", "--errors",
                  "--no-progress", "--workers", "2"])
    assert rc == 0
    for name in sorted(a["file_name"] for a in sample_annotations()):
        h, w = read_ids(DATA / "panoptic_examples" / name).shape
        with Image.open(out / name) as im:
            assert im.size[0] > 2 * w and im.size[1] > h + 40


def test_cli_errors_needs_the_prediction(tmp_path, capsys):
    from panoseg.cli import main

    with pytest.raises(SystemExit):
        main(["viz", "--panoptic-json-file", str(DATA / "panoptic_examples.json"),
              "--output-folder", str(tmp_path / "o"), "--errors"])
    assert "--errors has no effect without --compare-json-file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="compare_json_file"):
        visualize_dataset(DATA / "panoptic_examples.json", output_folder=tmp_path / "o",
                          error_marks=lambda *a, **k: None)


def test_cli_errors_bad_prediction_png_is_an_error(tmp_path):
    d = write_error_dataset(tmp_path)
    _, _, pred, _ = error_scene()
    pred[0, 0] = 55  # not in segments_info
    write_ids(d / "pred" / "1.png", pred)
    with pytest.raises(PanopticFormatError) as e:
        run_cli(["--panoptic_json_file", d / "gt.json", "--compare_json_file", d / "pred.json",
                 "--output_folder", tmp_path / "out", "--errors", "--no-progress"])
    assert e.value.image_id == 1 and "55" in str(e.value)


def test_report_pictures_mark_errors(tmp_path):
    import base64
    import io

    from panoseg.report.pictures import render_worst, worst_section

    gt = json.loads((DATA / "panoptic_examples.json").read_text())
    pred = {a["image_id"]: a for a in json.loads((PRED / "panoptic_pred.json").read_text())[
        "annotations"]}
    ann = gt["annotations"][1]
    item = {"image_id": ann["image_id"], "file_name": ann["file_name"], "pq": 0.5,
            "gt_png": str(DATA / "panoptic_examples" / ann["file_name"]),
            "pred_png": str(PRED / "panoptic_pred" / pred[ann["image_id"]]["file_name"]),
            "gt_segments": ann["segments_info"],
            "pred_segments": pred[ann["image_id"]]["segments_info"]}
    cats = gt["categories"]
    (uri, size, problem, warning), = render_worst([item], cats)
    assert problem is None and warning is None
    marked = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
                        .convert("RGB"), np.int64)
    (plain_uri, plain_size, _, _), = render_worst([item], cats, errors=False)
    assert plain_size == size and plain_uri != uri
    # The bottom right of the prediction is a railroad FP (GT: grass): magenta, boosted.
    from panoseg.viz.errors import ERROR_ALPHA_BOOST, ERROR_COLORS

    fp = blend(np.array(GREY), ERROR_COLORS["fp"], 0.5 + ERROR_ALPHA_BOOST)
    assert np.abs(marked[-4, -4] - fp).max() < 12  # JPEG
    plain = np.asarray(Image.open(io.BytesIO(base64.b64decode(plain_uri.split(",", 1)[1])))
                       .convert("RGB"), np.int64)
    assert np.abs(plain[-4, -4] - fp).max() > 40
    html = worst_section([item], [(uri, size, problem, warning)])
    assert 'class="legend"' in html and "false positive" in html and "false negative" in html
    assert 'class="legend"' not in worst_section([item], [(plain_uri, size, None, None)],
                                                 errors=False)
    # A prediction PNG of another size cannot be matched: drawn plain, with a note.
    write_ids(tmp_path / "small.png", read_ids(item["pred_png"])[:-10])
    broken = dict(item, pred_png=str(tmp_path / "small.png"))
    (uri, _, problem, warning), = render_worst([broken], cats)
    assert problem is None and uri is not None
    assert warning.startswith("Errors not marked (")
