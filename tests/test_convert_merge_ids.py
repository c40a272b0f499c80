"""One segment-id scheme: convert gives a segment the id the merge gives it (same image, same
seed, each category's segments in the same order; categories may interleave)."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panoseg import read_ids
from panoseg._core import rgb2id
from panoseg.convert import detection_to_panoptic, two_channel_to_panoptic
from panoseg.io.rle import label_map_to_rles
from panoseg.merge import merge_panoptic

CATEGORIES_FILE = Path(__file__).parent / "data" / "coco_panoptic_sample" / \
    "panoptic_coco_categories.json"
CATEGORIES = json.loads(CATEGORIES_FILE.read_text())
COLOUR = {c["id"]: c["color"] for c in CATEGORIES}
PERSON, CAR = 1, 3
STUFF = [184, 187, 199]


def merged_image(rng, image_id, seed, height=60, width=80):
    """A merge result with several persons (so ids get jittered), cars and stuff. Person and car
    scores interleave, so the merge asks for ids in another order than the 2-channel format
    lists the segments in (by category); each category has its own jitter stream."""
    n_person, n_car = 6, 3
    masks = np.zeros((n_person + n_car, height, width), np.uint8)
    for k in range(len(masks)):
        y0, x0 = rng.integers(0, height - 10), rng.integers(0, width - 10)
        masks[k, y0:y0 + rng.integers(4, 16), x0:x0 + rng.integers(4, 20)] = 1
    scores = rng.uniform(0.55, 0.99, n_person + n_car)
    semantic = rng.choice(STUFF, (height // 10, width // 10)).repeat(10, 0).repeat(10, 1)
    result = merge_panoptic(CATEGORIES, height, width, scores=scores,
                            category_ids=[PERSON] * n_person + [CAR] * n_car, masks=masks,
                            semantic=semantic, stuff_area_limit=16, seed=seed,
                            image_id=image_id)
    infos = result.segments_info
    assert sum(s["category_id"] == PERSON for s in infos) >= 3
    assert any(not s["isthing"] for s in infos)
    return result


def colour_id(category_id):
    return int(rgb2id(np.array([[COLOUR[category_id]]], np.uint8))[0, 0])


@pytest.mark.parametrize("seed", [0, 7])
def test_two_channel_and_detection_give_the_merges_ids(tmp_path, seed):
    rng = np.random.default_rng(seed)
    image_ids = [3, "000000397133", 10 ** 12]
    results = {image_id: merged_image(rng, image_id, seed) for image_id in image_ids}
    images = [{"id": image_id, "file_name": f"img{k}.jpg", "height": 60, "width": 80}
              for k, image_id in enumerate(image_ids)]
    (tmp_path / "images.json").write_text(json.dumps({"images": images}))

    # Export: 2-channel PNGs, instance numbers in the order the merge assigned the ids.
    (tmp_path / "2ch").mkdir()
    detections = []
    for image in images:
        result = results[image["id"]]
        arr = np.zeros(result.id_map.shape + (2,), np.uint8)
        instance = {}
        for s in result.segments_info:
            inst = instance.get(s["category_id"], 0)
            instance[s["category_id"]] = inst + 1
            arr[result.id_map == s["id"]] = [s["category_id"], inst if s["isthing"] else 0]
        Image.fromarray(arr).save(tmp_path / "2ch" / image["file_name"].replace(".jpg", ".png"))
        # The same segments as detections in merge order; ids above 24 bits, so that
        # detection_to_panoptic draws ids instead of keeping them.
        labels = np.full(result.id_map.shape, -1, np.int32)
        for k, s in enumerate(result.segments_info):
            labels[result.id_map == s["id"]] = k
        rles = label_map_to_rles(labels, len(result.segments_info))
        detections += [{"id": 2 ** 30 + len(detections) + k, "image_id": image["id"],
                        "category_id": s["category_id"], "segmentation": rle}
                       for k, (s, rle) in enumerate(zip(result.segments_info, rles))]
    (tmp_path / "det.json").write_text(json.dumps({"images": images,
                                                   "annotations": detections}))

    from_2ch = two_channel_to_panoptic(tmp_path / "2ch", tmp_path / "images.json",
                                       CATEGORIES_FILE, tmp_path / "a.json", seed=seed)
    from_det = detection_to_panoptic(tmp_path / "det.json", tmp_path / "b.json",
                                     categories_json_file=CATEGORIES_FILE, seed=seed)
    jittered = 0
    for out, folder in ((from_2ch, "a"), (from_det, "b")):
        for ann, image in zip(out["annotations"], images):
            result = results[image["id"]]
            # Same pixels under the same ids, and the same segments.
            np.testing.assert_array_equal(read_ids(tmp_path / folder / ann["file_name"]),
                                          result.id_map)
            key = ("id", "category_id", "area", "bbox")
            assert sorted(tuple(map(str, (s[k] for k in key))) for s in ann["segments_info"]) \
                == sorted(tuple(map(str, (s[k] for k in key))) for s in result.segments_info)
            jittered += sum(s["id"] != colour_id(s["category_id"]) for s in ann["segments_info"])
    assert jittered >= 2 * 3 * 2  # the jitter path is exercised


def test_seed_changes_only_jittered_ids(tmp_path):
    rng = np.random.default_rng(1)
    result = merged_image(rng, 5, seed=0)
    (tmp_path / "2ch").mkdir()
    arr = np.zeros(result.id_map.shape + (2,), np.uint8)
    instance = {}
    for s in result.segments_info:
        inst = instance.get(s["category_id"], 0)
        instance[s["category_id"]] = inst + 1
        arr[result.id_map == s["id"]] = [s["category_id"], inst if s["isthing"] else 0]
    Image.fromarray(arr).save(tmp_path / "2ch" / "x.png")
    (tmp_path / "images.json").write_text(
        json.dumps({"images": [{"id": 5, "file_name": "x.jpg"}]}))
    outs = [two_channel_to_panoptic(tmp_path / "2ch", tmp_path / "images.json", CATEGORIES_FILE,
                                    tmp_path / f"s{seed}.json", seed=seed)["annotations"][0]
            for seed in (0, 1)]
    for a, b in zip(outs[0]["segments_info"], outs[1]["segments_info"]):
        if a["id"] == colour_id(a["category_id"]):  # stuff, and a category's first thing
            assert b["id"] == a["id"]
    assert [s["id"] for s in outs[0]["segments_info"]] \
        != [s["id"] for s in outs[1]["segments_info"]]
