"""panoseg.convert and the ``convert`` command line: panopticapi's converters, reproduced.

All conversions run on copies in tmp_path (never in tests/data).
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from panoseg import PanopticFormatError, read_ids
from panoseg.cli.convert import add_convert_parser
from panoseg.convert import (
    OTHER_CLASS_ID,
    detection_to_panoptic,
    panoptic_to_detection,
    panoptic_to_semantic,
    two_channel_to_panoptic,
)
from panoseg.io.rle import rle_to_mask
from panoseg.testing.synthetic import make_dataset

DATA = Path(__file__).parent / "data" / "coco_panoptic_sample"
IMAGE_IDS = [142238, 439180]


@pytest.fixture
def sample(tmp_path):
    dst = tmp_path / "sample"
    shutil.copytree(DATA, dst, ignore=shutil.ignore_patterns("input_images"))
    return dst


def load(path):
    return json.loads(Path(path).read_text())


def save(path, data):
    Path(path).write_text(json.dumps(data))


def id_maps(json_file, folder=None):
    """{image_id: (id map, segments_info)} of a panoptic JSON + PNG folder."""
    data = load(json_file)
    folder = Path(folder or str(json_file)[:-5])
    return {a["image_id"]: (read_ids(folder / a["file_name"]), a["segments_info"])
            for a in data["annotations"]}


def same_partition(a_ids, a_segs, b_ids, b_segs, keys=("category_id", "iscrowd", "area", "bbox")):
    """Asserts a and b cut the image into the same segments (ids may differ) with the same
    ``keys``; returns the id mapping a -> b."""
    assert a_ids.shape == b_ids.shape
    pairs = np.unique((a_ids.astype(np.int64) << 24) | b_ids)
    a, b = pairs >> 24, pairs & 0xFFFFFF
    assert len(np.unique(a)) == len(pairs) and len(np.unique(b)) == len(pairs), "not a bijection"
    mapping = dict(zip(a.tolist(), b.tolist()))
    assert mapping.get(0, 0) == 0 and (0 not in b or mapping.get(0) == 0), "void differs"
    sa = {s["id"]: s for s in a_segs}
    sb = {s["id"]: s for s in b_segs}
    assert set(sa) == set(mapping) - {0} and set(sb) == set(mapping.values()) - {0}
    for ida, idb in mapping.items():
        if ida:
            assert {k: sa[ida][k] for k in keys} == {k: sb[idb][k] for k in keys}, (ida, idb)
    return mapping


def png_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*.png"))}


def no_temp_files(*folders):
    for folder in folders:
        assert not [p for p in Path(folder).rglob(".tmp-*")], folder


def two_channel(sample, out, **kwargs):
    return two_channel_to_panoptic(sample / "panoptic_examples_2ch_format",
                                   sample / "images_info_examples.json",
                                   sample / "panoptic_coco_categories.json", out, **kwargs)


def run_cli(argv):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    add_convert_parser(subparsers)
    args = parser.parse_args(argv)
    return args.run(args)


# ---------------------------------------------------------------------------------------------
# 2-channel -> panoptic
# ---------------------------------------------------------------------------------------------
def test_two_channel_reproduces_the_sample_partition(sample, tmp_path):
    out = two_channel(sample, tmp_path / "out" / "pan.json", workers=2)
    assert load(tmp_path / "out" / "pan.json") == out
    original = id_maps(sample / "panoptic_examples.json")
    converted = id_maps(tmp_path / "out" / "pan.json")
    assert list(converted) == IMAGE_IDS
    stuff = {c["id"] for c in load(sample / "panoptic_coco_categories.json") if not c["isthing"]}
    for image_id in IMAGE_IDS:
        ids, segs = converted[image_id]
        orig_ids, orig_segs = original[image_id]
        # What holds: the same pixel partition (void included), and per segment the same
        # category_id, iscrowd (instance 255 = crowd), area and bbox, listed in the same order
        # (category, then instance). Ids: stuff and the first instance of each thing category
        # keep the category colour, exactly as in COCO's file; other thing ids are jittered
        # colours, so they differ from COCO's (random) ones.
        mapping = same_partition(ids, segs, orig_ids, orig_segs)
        assert [mapping[s["id"]] for s in segs] == [s["id"] for s in orig_segs]
        first_of_category = {}
        for s in orig_segs:
            first_of_category.setdefault(s["category_id"], s["id"])
        for s in segs:
            if s["category_id"] in stuff or first_of_category[s["category_id"]] == mapping[s["id"]]:
                assert s["id"] == mapping[s["id"]]
        assert sum(s["iscrowd"] for s in segs) == (1 if image_id == 142238 else 2)
    assert out["categories"] == load(sample / "panoptic_coco_categories.json")
    info = load(sample / "images_info_examples.json")
    assert out["images"] == info["images"] and out["licenses"] == info["licenses"]
    no_temp_files(tmp_path / "out")


def test_two_channel_is_deterministic_across_workers(sample, tmp_path):
    one = two_channel(sample, tmp_path / "w1.json", workers=1)
    three = two_channel(sample, tmp_path / "w3.json", workers=3)
    again = two_channel(sample, tmp_path / "again.json", segmentations_folder=tmp_path / "seg",
                        workers=3)
    assert one == three == again
    assert png_bytes(tmp_path / "w1") == png_bytes(tmp_path / "w3") == png_bytes(tmp_path / "seg")


def test_two_channel_options_and_modes(sample, tmp_path):
    # LA input (a true 2-channel PNG) gives the same result as the sample's RGB files.
    la = tmp_path / "la"
    la.mkdir()
    for png in (sample / "panoptic_examples_2ch_format").glob("*.png"):
        rgb = np.asarray(Image.open(png))
        Image.fromarray(rgb[..., :2].copy()).save(la / png.name)
    base = two_channel(sample, tmp_path / "rgb.json")
    via_la = two_channel_to_panoptic(la, sample / "images_info_examples.json",
                                     sample / "panoptic_coco_categories.json", tmp_path / "la_out.json")
    assert via_la == base
    # Without the crowd convention, instance 255 is just one more instance.
    no_crowd = two_channel(sample, tmp_path / "nc.json", crowd_instance=None)
    assert all(s["iscrowd"] == 0 for a in no_crowd["annotations"] for s in a["segments_info"])
    assert [len(a["segments_info"]) for a in no_crowd["annotations"]] == [18, 32]
    # void_label=None: channel-0 value 0 is then an unknown category.
    with pytest.raises(PanopticFormatError, match="unknown category id 0"):
        two_channel(sample, tmp_path / "nv.json", void_label=None)
    # Categories default to COCO's 133 (the images JSON's have no 'isthing').
    default = two_channel_to_panoptic(sample / "panoptic_examples_2ch_format",
                                      sample / "images_info_examples.json", None,
                                      tmp_path / "d.json")
    assert default["annotations"] == base["annotations"]


def test_two_channel_merges_stuff_and_keeps_ids_unique(tmp_path):
    cats = [{"id": 1, "isthing": 1, "color": [10, 10, 10], "name": "a"},
            {"id": 2, "isthing": 0, "color": [10, 10, 10], "name": "b"},  # same colour as 1
            {"id": 3, "isthing": 1, "color": [0, 0, 0], "name": "c"}]     # colour = VOID id
    save(tmp_path / "cats.json", cats)
    save(tmp_path / "images.json", {"images": [{"id": "img-a", "file_name": "a.b.jpg",
                                                "height": 4, "width": 6}]})
    arr = np.zeros((4, 6, 2), np.uint8)
    arr[0, :3] = [2, 0]
    arr[0, 3:] = [2, 7]        # same stuff category, another instance value: merged
    arr[1, :] = [1, 0]
    arr[2, :] = [1, 1]
    arr[3, :2] = [3, 0]
    arr[3, 2:4] = [3, 255]     # crowd
    (tmp_path / "in").mkdir()
    Image.fromarray(arr).save(tmp_path / "in" / "a.b.png")
    out = two_channel_to_panoptic(tmp_path / "in", tmp_path / "images.json", tmp_path / "cats.json",
                                  tmp_path / "out.json")
    segs = out["annotations"][0]["segments_info"]
    assert out["annotations"][0]["file_name"] == "a.b.png"
    assert [(s["category_id"], s["iscrowd"], s["area"]) for s in segs] == \
        [(1, 0, 6), (1, 0, 6), (2, 0, 6), (3, 0, 2), (3, 1, 2)]
    ids = [s["id"] for s in segs]
    assert len(set(ids)) == 5 and 0 not in ids
    assert segs[2]["id"] == 10 + 256 * 10 + 65536 * 10  # stuff keeps its colour
    assert segs[2]["bbox"] == [0, 0, 6, 1] and segs[4]["bbox"] == [2, 3, 2, 1]
    pan = read_ids(tmp_path / "out" / "a.b.png")
    assert (pan[3, 4:] == 0).all() and set(np.unique(pan).tolist()) == set(ids) | {0}


# ---------------------------------------------------------------------------------------------
# panoptic <-> detection
# ---------------------------------------------------------------------------------------------
def test_panoptic_to_detection_matches_coco_sample(sample, tmp_path):
    out = panoptic_to_detection(sample / "panoptic_examples.json", None, tmp_path / "det.json",
                                things_only=False, workers=2)
    assert load(tmp_path / "det.json") == out
    reference = load(sample / "panoptic_coco_detection_format.json")
    # Up to ordering, every annotation equals COCO's: same RLE string (so the same pixels),
    # area, bbox, iscrowd, category, image; ids are panopticapi's 0, 1, 2... (the same order
    # here), and 'segment_id' is extra.
    ours = sorted(out["annotations"], key=lambda a: (a["image_id"], a["segmentation"]["counts"]))
    theirs = sorted(reference["annotations"],
                    key=lambda a: (a["image_id"], a["segmentation"]["counts"]))
    assert len(ours) == len(theirs) == 50
    for a, b in zip(ours, theirs):
        assert {k: v for k, v in a.items() if k != "segment_id"} == b
        assert isinstance(a["segmentation"]["counts"], str)
    assert out["categories"] == reference["categories"] and out["images"] == reference["images"]
    # The masks decode to the PNG pixels of their segment.
    panoptic = id_maps(sample / "panoptic_examples.json")
    for a in out["annotations"]:
        ids, _ = panoptic[a["image_id"]]
        assert (mask_utils.decode(a["segmentation"]).astype(bool) == (ids == a["segment_id"])).all()


@pytest.mark.parametrize("workers", [1, 3])
def test_panoptic_detection_panoptic_round_trip(sample, tmp_path, workers):
    panoptic_to_detection(sample / "panoptic_examples.json", sample / "panoptic_examples",
                          tmp_path / "det.json", things_only=False, workers=workers)
    back = detection_to_panoptic(tmp_path / "det.json", tmp_path / "back.json",
                                 tmp_path / "back_png", sample / "panoptic_coco_categories.json",
                                 workers=workers)
    original = load(sample / "panoptic_examples.json")
    assert back["annotations"] == original["annotations"]  # ids, areas, bboxes, order: all equal
    assert back["categories"] == original["categories"] and back["images"] == original["images"]
    for ann in original["annotations"]:
        name = ann["file_name"]
        assert (read_ids(tmp_path / "back_png" / name) == read_ids(sample / "panoptic_examples" / name)).all()
    no_temp_files(tmp_path, tmp_path / "back_png")


def test_detection_outputs_do_not_depend_on_workers(sample, tmp_path):
    outs = []
    for w in (1, 3):
        outs.append(panoptic_to_detection(sample / "panoptic_examples.json", None,
                                          tmp_path / f"det{w}.json", workers=w))
        detection_to_panoptic(sample / "panoptic_coco_detection_format.json",
                              tmp_path / f"pan{w}.json", None,
                              sample / "panoptic_coco_categories.json", workers=w)
    assert outs[0] == outs[1]
    assert load(tmp_path / "pan1.json") == load(tmp_path / "pan3.json")
    assert png_bytes(tmp_path / "pan1") == png_bytes(tmp_path / "pan3")


def test_things_only_and_segment_ids_as_ids(sample, tmp_path):
    out = panoptic_to_detection(sample / "panoptic_examples.json", None, tmp_path / "det.json",
                                annotation_ids="segment")  # things_only is the default
    things = {c["id"] for c in load(sample / "panoptic_coco_categories.json") if c["isthing"]}
    assert {c["id"] for c in out["categories"]} == things
    assert all("isthing" not in c for c in out["categories"])
    original = load(sample / "panoptic_examples.json")
    expected = [s for a in original["annotations"] for s in a["segments_info"]
                if s["category_id"] in things]
    assert [a["id"] for a in out["annotations"]] == [s["id"] for s in expected]
    assert all("segment_id" not in a for a in out["annotations"])
    back = detection_to_panoptic(tmp_path / "det.json", tmp_path / "back.json", None,
                                 sample / "panoptic_coco_categories.json")
    # Same ids back; stuff pixels became void.
    for ann, orig in zip(back["annotations"], original["annotations"]):
        assert ann["segments_info"] == [s for s in orig["segments_info"] if s["category_id"] in things]
        ids = read_ids(tmp_path / "back" / ann["file_name"])
        orig_ids = read_ids(sample / "panoptic_examples" / ann["file_name"])
        kept = np.isin(orig_ids, [s["id"] for s in ann["segments_info"]])
        assert (ids == np.where(kept, orig_ids, 0)).all()


def test_coco_detection_file_to_panoptic(sample, tmp_path):
    out = detection_to_panoptic(sample / "panoptic_coco_detection_format.json",
                                tmp_path / "pan.json", None, sample / "panoptic_coco_categories.json")
    original = id_maps(sample / "panoptic_examples.json")
    converted = id_maps(tmp_path / "pan.json")
    for image_id in IMAGE_IDS:
        same_partition(*converted[image_id], *original[image_id])
    segs = {a["image_id"]: a["segments_info"] for a in out["annotations"]}
    # 439180's annotation ids (18..49) are valid segment ids and are kept; 142238 has id 0,
    # so its segments get colour ids (stuff: its colour, first instance: the category colour).
    assert [s["id"] for s in segs[439180]] == list(range(18, 50))
    assert segs[142238][0]["id"] == 3937500 and 0 not in [s["id"] for s in segs[142238]]
    assert out["info"] == load(sample / "panoptic_coco_detection_format.json")["info"]


def test_detection_polygons_uncompressed_rle_and_extra_keys(tmp_path):
    h, w = 20, 30
    crowd = np.zeros((h, w), np.uint8)
    crowd[15:, :] = 1
    runs = [15, 5] * w  # column-major runs of the crowd mask: uncompressed RLE
    rect = np.zeros((h, w), np.uint8, order="F")
    rect[2:6, 20:28] = 1
    det = {"images": [{"id": 7, "file_name": "x.jpg", "height": h, "width": w},
                      {"id": 8, "file_name": "empty.jpg", "height": 5, "width": 5}],
           "annotations": [
               {"id": 5_000_000_000, "image_id": 7, "category_id": 1, "iscrowd": 0,
                "segmentation": [[1, 1, 10, 1, 10, 10, 1, 10]], "score": 0.5},
               {"id": 6, "image_id": 7, "category_id": 1, "iscrowd": 1,
                "segmentation": {"size": [h, w], "counts": runs}},
               {"id": 9, "image_id": 7, "category_id": 184, "iscrowd": 0,
                "segmentation": mask_utils.encode(rect)}]}
    det["annotations"][2]["segmentation"]["counts"] = det["annotations"][2]["segmentation"]["counts"].decode()
    save(tmp_path / "det.json", det)
    out = detection_to_panoptic(tmp_path / "det.json", tmp_path / "pan.json")  # COCO categories
    ann, empty = out["annotations"]
    assert empty == {"image_id": 8, "file_name": "empty.png", "segments_info": []}
    assert (read_ids(tmp_path / "pan" / "empty.png") == 0).all()
    segs = ann["segments_info"]
    # An id above 24 bits: the image's segments get colour ids (person colour, then jitter).
    assert segs[0]["id"] == 3937500 and segs[0]["score"] == 0.5 and "score" not in segs[1]
    assert [s["iscrowd"] for s in segs] == [0, 1, 0]
    ids = read_ids(tmp_path / "pan" / "x.png")
    poly = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([[1, 1, 10, 1, 10, 10, 1, 10]], h, w)))
    for seg, mask in zip(segs, (poly, crowd, rect)):
        assert ((ids == seg["id"]) == mask.astype(bool)).all()
        assert seg["area"] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        assert seg["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


# ---------------------------------------------------------------------------------------------
# panoptic -> semantic
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("things_other", [False, True])
def test_panoptic_to_semantic_labels(sample, tmp_path, things_other):
    n = panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "sem" / "deep",
                             things_other=things_other, workers=3)
    assert n == 2
    isthing = {c["id"]: c["isthing"] for c in load(sample / "panoptic_coco_categories.json")}
    for image_id, (ids, segs) in id_maps(sample / "panoptic_examples.json").items():
        name = "%012d.png" % image_id
        with Image.open(tmp_path / "sem" / "deep" / name) as im:
            assert im.mode == "L"
            sem = np.asarray(im)
        expected = np.zeros(ids.shape, np.uint8)  # void: 0
        for s in segs:
            label = OTHER_CLASS_ID if things_other and isthing[s["category_id"]] else s["category_id"]
            expected[ids == s["id"]] = label
        assert (sem == expected).all()
        assert (sem == 0).sum() == (ids == 0).sum()
    no_temp_files(tmp_path / "sem")


def test_semantic_is_deterministic_and_refuses_to_overwrite_input(sample, tmp_path):
    panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "a", workers=1)
    panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "b", workers=3)
    assert png_bytes(tmp_path / "a") == png_bytes(tmp_path / "b")
    with pytest.raises(PanopticFormatError, match="refusing to overwrite"):
        panoptic_to_semantic(sample / "panoptic_examples.json", None, sample / "panoptic_examples")


# ---------------------------------------------------------------------------------------------
# a generated dataset
# ---------------------------------------------------------------------------------------------
def test_synthetic_round_trips(tmp_path):
    ds = make_dataset(tmp_path / "ds", n_images=4, height=60, width=80, seed=1)
    gt = load(ds.gt_json)
    isthing = {c["id"]: c["isthing"] for c in gt["categories"]}
    # panoptic -> detection -> panoptic: identical
    panoptic_to_detection(ds.gt_json, ds.gt_folder, tmp_path / "det.json", things_only=False,
                          workers=3)
    back = detection_to_panoptic(tmp_path / "det.json", tmp_path / "back.json", workers=3)
    assert back["annotations"] == gt["annotations"]
    for ann in gt["annotations"]:
        assert (read_ids(tmp_path / "back" / ann["file_name"]) ==
                read_ids(Path(ds.gt_folder) / ann["file_name"])).all()
    # panoptic -> semantic
    panoptic_to_semantic(ds.gt_json, None, tmp_path / "sem", things_other=True)
    # panoptic -> 2-channel (written here) -> panoptic: same partition
    (tmp_path / "2ch").mkdir()
    for ann in gt["annotations"]:
        ids = read_ids(Path(ds.gt_folder) / ann["file_name"])
        arr = np.zeros(ids.shape + (2,), np.uint8)
        next_instance = {}
        stuff_seen = set()
        for s in ann["segments_info"]:
            cat = s["category_id"]
            if isthing[cat]:
                assert not s["iscrowd"]  # (true for this seed) one crowd region per category at most
                inst = next_instance.get(cat, 0)
                next_instance[cat] = inst + 1
            else:
                assert cat not in stuff_seen  # one segment per stuff category
                stuff_seen.add(cat)
                inst = 0
            arr[ids == s["id"]] = [cat, inst]
        Image.fromarray(arr).save(tmp_path / "2ch" / ann["file_name"])
        sem = np.asarray(Image.open(tmp_path / "sem" / ann["file_name"]))
        assert (sem == np.where(arr[..., 0] == 0, 0, np.where(
            np.isin(arr[..., 0], [c for c, t in isthing.items() if t]), OTHER_CLASS_ID, arr[..., 0]))).all()
    two_channel_to_panoptic(tmp_path / "2ch", ds.gt_json, None, tmp_path / "from2ch.json")
    converted = id_maps(tmp_path / "from2ch.json")
    for ann in gt["annotations"]:
        same_partition(*converted[ann["image_id"]],
                       read_ids(Path(ds.gt_folder) / ann["file_name"]), ann["segments_info"])


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_missing_pngs(sample, tmp_path):
    (sample / "panoptic_examples_2ch_format" / "000000439180.png").unlink()
    with pytest.raises(PanopticFormatError) as info:
        two_channel(sample, tmp_path / "pan.json")
    assert info.value.image_id == 439180 and "000000439180.png" in str(info.value.file)
    assert "no 2-channel PNG" in str(info.value)
    assert not (tmp_path / "pan.json").exists()  # no JSON after a failure
    (sample / "panoptic_examples" / "000000142238.png").unlink()
    for convert in (lambda: panoptic_to_detection(sample / "panoptic_examples.json", None,
                                                  tmp_path / "det.json"),
                    lambda: panoptic_to_semantic(sample / "panoptic_examples.json", None,
                                                 tmp_path / "sem")):
        with pytest.raises(PanopticFormatError) as info:
            convert()
        assert info.value.image_id == 142238 and "000000142238.png" in str(info.value)
    assert not (tmp_path / "det.json").exists()
    with pytest.raises(PanopticFormatError, match="does not exist"):
        panoptic_to_detection(sample / "panoptic_examples.json", tmp_path / "nowhere",
                              tmp_path / "det.json")


def test_png_json_mismatch(sample, tmp_path):
    data = load(sample / "panoptic_examples.json")
    removed = data["annotations"][1]["segments_info"].pop(3)
    save(sample / "panoptic_examples.json", data)
    with pytest.raises(PanopticFormatError, match="not in segments_info") as info:
        panoptic_to_detection(sample / "panoptic_examples.json", None, tmp_path / "d.json")
    assert (info.value.image_id, info.value.segment_id) == (439180, removed["id"])
    data["annotations"][1]["segments_info"].insert(3, removed)
    data["annotations"][0]["segments_info"].append(dict(removed, id=1234))
    save(sample / "panoptic_examples.json", data)
    with pytest.raises(PanopticFormatError, match="no pixels") as info:
        panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "s")
    assert (info.value.image_id, info.value.segment_id) == (142238, 1234)


def test_size_mismatch_with_images(sample, tmp_path):
    info = load(sample / "images_info_examples.json")
    info["images"][0]["height"] = 400
    save(sample / "images_info_examples.json", info)
    with pytest.raises(PanopticFormatError, match="640x400") as e:
        two_channel(sample, tmp_path / "pan.json")
    assert e.value.image_id == 142238
    data = load(sample / "panoptic_examples.json")
    data["images"][1]["width"] = 10
    save(sample / "panoptic_examples.json", data)
    with pytest.raises(PanopticFormatError, match="10x360") as e:
        panoptic_to_detection(sample / "panoptic_examples.json", None, tmp_path / "d.json")
    assert e.value.image_id == 439180


def test_unknown_categories(sample, tmp_path):
    png = sample / "panoptic_examples_2ch_format" / "000000142238.png"
    arr = np.array(Image.open(png))
    arr[:2, :2, 0] = 250
    Image.fromarray(arr).save(png)
    with pytest.raises(PanopticFormatError, match="unknown category id 250 in channel 0 \\(4 pixels\\)") as e:
        two_channel(sample, tmp_path / "a.json")
    assert e.value.image_id == 142238

    data = load(sample / "panoptic_examples.json")
    data["annotations"][0]["segments_info"][2]["category_id"] = 999
    save(sample / "panoptic_examples.json", data)
    with pytest.raises(PanopticFormatError, match="unknown category_id 999") as e:
        panoptic_to_detection(sample / "panoptic_examples.json", None, tmp_path / "b.json")
    assert (e.value.image_id, e.value.segment_id) == (142238, 2035955)

    det = load(sample / "panoptic_coco_detection_format.json")
    det["annotations"][20]["category_id"] = 999
    save(tmp_path / "det.json", det)
    with pytest.raises(PanopticFormatError, match="annotation 20: unknown category_id 999") as e:
        detection_to_panoptic(tmp_path / "det.json", tmp_path / "c.json", None,
                              sample / "panoptic_coco_categories.json")
    assert e.value.image_id == 439180


def test_overlapping_detections_name_image_and_both_annotations(sample, tmp_path):
    det = load(sample / "panoptic_coco_detection_format.json")
    det["annotations"].append(dict(det["annotations"][1], id=999))  # image 142238
    save(tmp_path / "det.json", det)
    with pytest.raises(PanopticFormatError) as e:
        detection_to_panoptic(tmp_path / "det.json", tmp_path / "pan.json", None,
                              sample / "panoptic_coco_categories.json")
    assert e.value.image_id == 142238
    assert "annotation 999: overlaps annotation 1 (3751 pixels)" in str(e.value)
    assert not (tmp_path / "pan.json").exists()


@pytest.mark.parametrize("segmentation, message", [
    ({"size": [427, 640], "counts": "zzzz"}, "undecodable RLE .invalid character"),
    ({"size": [427, 640], "counts": "0"}, "do not add up"),
    ({"size": [427, 640], "counts": "0a"}, "ends inside a number"),
    ({"size": [427, 640], "counts": "é"}, "not ASCII"),
    ({"size": [427, 640], "counts": ""}, "empty"),
    ({"size": [427, 640], "counts": [10, 20]}, "uncompressed RLE"),
    ({"size": [427, 640], "counts": [10, -20]}, "non-negative integers"),
    ({"size": [427, 640], "counts": [10.5, 20]}, "non-negative integers"),
    ({"size": [427, 640], "counts": 5}, "must be a string or a list"),
    ({"size": [400, 640], "counts": "0"}, r"size \[400, 640\] is not the image's \[427, 640\]"),
    ({"counts": "0"}, "'size' must be"),
    ([[1, 2, 3, 4]], "at least 3"),
    (None, "no decodable"),
    ({"size": [427, 640], "counts": [427 * 640]}, "mask is empty"),
])
def test_corrupt_masks(sample, tmp_path, segmentation, message):
    det = load(sample / "panoptic_coco_detection_format.json")
    det["annotations"][4]["segmentation"] = segmentation
    save(tmp_path / "det.json", det)
    with pytest.raises(PanopticFormatError, match=message) as e:
        detection_to_panoptic(tmp_path / "det.json", tmp_path / "pan.json", None,
                              sample / "panoptic_coco_categories.json")
    assert e.value.image_id == 142238 and str(e.value.file).endswith("det.json")
    assert "annotation 4:" in str(e.value)


def test_corrupt_rle_appended_run(sample, tmp_path):
    # A syntactically fine string whose runs exceed the image: pycocotools alone would write
    # past its buffer.
    det = load(sample / "panoptic_coco_detection_format.json")
    det["annotations"][0]["segmentation"]["counts"] += "1"
    save(tmp_path / "det.json", det)
    with pytest.raises(PanopticFormatError, match="annotation 0: undecodable RLE"):
        detection_to_panoptic(tmp_path / "det.json", tmp_path / "pan.json", None,
                              sample / "panoptic_coco_categories.json")


def test_bad_two_channel_png_mode(sample, tmp_path):
    png = sample / "panoptic_examples_2ch_format" / "000000142238.png"
    Image.fromarray(np.asarray(Image.open(png))[..., 0]).save(png)  # grayscale
    with pytest.raises(PanopticFormatError, match="this one is 8-bit grayscale") as e:
        two_channel(sample, tmp_path / "pan.json")
    assert e.value.image_id == 142238
    with pytest.raises(PanopticFormatError, match="refusing to overwrite"):
        two_channel(sample, tmp_path / "x.json",
                    segmentations_folder=sample / "panoptic_examples_2ch_format")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.data())
def test_rle_check_accepts_valid_and_rejects_garbage(h, w, data):
    # The one RLE decoder (the core's, through panoseg.io.rle) against pycocotools.
    bits = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    mask = np.asfortranarray(np.array(bits, np.uint8).reshape(h, w))
    rle = mask_utils.encode(mask)
    assert (rle_to_mask(rle, h, w) == mask).all()
    garbage = data.draw(st.binary(min_size=1, max_size=12))
    try:
        decoded = rle_to_mask({"size": [h, w], "counts": garbage}, h, w)
    except ValueError:
        return
    # Accepted: then the runs cover the image exactly, and pycocotools decodes the same pixels.
    assert (decoded == mask_utils.decode({"size": [h, w], "counts": garbage})).all()


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def test_cli_conversions(sample, tmp_path, capsys):
    assert run_cli(["convert", "2ch-to-panoptic",
                    "--input_folder", str(sample / "panoptic_examples_2ch_format"),
                    "--images_json_file", str(sample / "images_info_examples.json"),
                    "--categories_json_file", str(sample / "panoptic_coco_categories.json"),
                    "--output_json_file", str(tmp_path / "p.json"), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "2ch-to-panoptic: 2 images" in captured.out
    api = two_channel(sample, tmp_path / "api.json")
    assert load(tmp_path / "p.json") == api
    assert png_bytes(tmp_path / "p") == png_bytes(tmp_path / "api")

    assert run_cli(["convert", "panoptic-to-detection",
                    "--input-json-file", str(sample / "panoptic_examples.json"),
                    "--output_json_file", str(tmp_path / "d.json"), "--no-progress"]) == 0
    assert "%" not in capsys.readouterr().err
    det = load(tmp_path / "d.json")
    assert len(det["annotations"]) == 50  # panopticapi's CLI default: stuff kept
    assert run_cli(["convert", "panoptic-to-detection", "--things_only",
                    "--segment-ids-as-ids", "--segmentations_folder",
                    str(sample / "panoptic_examples"), "--input_json_file",
                    str(sample / "panoptic_examples.json"), "--output_json_file",
                    str(tmp_path / "t.json"), "--no-progress"]) == 0
    things = load(tmp_path / "t.json")
    assert len(things["annotations"]) == 43 and things["annotations"][0]["id"] == 3937500

    assert run_cli(["convert", "detection-to-panoptic", "--input_json_file", str(tmp_path / "d.json"),
                    "--output_json_file", str(tmp_path / "back.json"),
                    "--segmentations_folder", str(tmp_path / "back_png"),
                    "--categories_json_file", str(sample / "panoptic_coco_categories.json"),
                    "--no-progress", "--workers", "3"]) == 0
    assert load(tmp_path / "back.json")["annotations"] == load(sample / "panoptic_examples.json")["annotations"]

    assert run_cli(["convert", "panoptic-to-semantic", "--input_json_file",
                    str(sample / "panoptic_examples.json"), "--semantic_seg_folder",
                    str(tmp_path / "sem"), "--things_other", "--no-progress"]) == 0
    panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "sem_api",
                         things_other=True)
    assert png_bytes(tmp_path / "sem") == png_bytes(tmp_path / "sem_api") != {}


def test_cli_errors(sample, tmp_path):
    with pytest.raises(PanopticFormatError):
        run_cli(["convert", "panoptic-to-semantic", "--input_json_file",
                 str(tmp_path / "missing.json"), "--output_folder", str(tmp_path / "s")])
    with pytest.raises(SystemExit):  # usage errors: argparse exits 2
        run_cli(["convert", "panoptic-to-semantic", "--input_json_file", "x.json"])
    with pytest.raises(SystemExit):
        run_cli(["convert", "detection-to-panoptic", "--input_json_file", "x.json",
                 "--output_json_file", "y.json", "--workers", "0"])


def test_semantic_label_limits(sample, tmp_path):
    cats = load(sample / "panoptic_coco_categories.json")
    for c in cats:
        if c["id"] == 184:
            c["id"] = 183  # a stuff category on the 'other' label
        elif c["id"] == 1:
            c["id"] = 300  # a thing that does not fit 8 bits
    data = load(sample / "panoptic_examples.json")
    for ann in data["annotations"]:
        for s in ann["segments_info"]:
            s["category_id"] = {184: 183, 1: 300}.get(s["category_id"], s["category_id"])
    data["categories"] = cats
    save(sample / "panoptic_examples.json", data)
    with pytest.raises(PanopticFormatError, match="does not fit an 8-bit label") as e:
        panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "a")
    assert e.value.image_id == 142238 and e.value.segment_id == 3937500
    with pytest.raises(PanopticFormatError, match="collides with the 'other' label") as e:
        panoptic_to_semantic(sample / "panoptic_examples.json", None, tmp_path / "b",
                             things_other=True)
    assert e.value.segment_id == 2330219
