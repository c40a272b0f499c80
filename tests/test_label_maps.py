"""The ADE20K -> COCO panoptic table and the coco-stuff class list (panoseg.semantic.label_maps)."""
import ast
import inspect

import numpy as np
import pytest

from panoseg.semantic import label_maps
from panoseg.io.categories import Categories, coco_panoptic_categories
from panoseg.semantic.label_maps import (
    ADE20K_CLASSES, ADE20K_SHORT_NAMES, ADE20K_TO_COCO_STUFF, LABEL_MAPS, ade20k_to_coco_panoptic,
    coco_stuff_classes, describe_table, label_table,
)

#: COCO panoptic stuff categories no ADE20K class maps to, and why. A category reached by the
#: table must not be listed here, and every stuff category is either reached or listed.
UNREACHABLE_FROM_ADE20K = {
    "cardboard": "ADE 'box' is any box, not the cardboard material",
    "floor-wood": "ADE 'floor' has no material; it maps to floor-other-merged",
    "fruit": "ADE has no fruit class; 'food' maps to food-other-merged",
    "gravel": "no gravel class among ADE's 150",
    "net": "no net class among ADE's 150",
    "paper-merged": "no paper class among ADE's 150 ('poster' is a wall print, not loose paper)",
    "playingfield": "no sports-field class among ADE's 150 ('field' is grassland)",
    "railroad": "no railroad/track class among ADE's 150",
    "roof": "roofs are part of 'building'/'house' in ADE's 150",
    "snow": "no snow class among ADE's 150",
    "wall-brick": "ADE 'wall' has no material; it maps to wall-other-merged",
    "wall-stone": "ADE 'wall' has no material; it maps to wall-other-merged",
    "wall-tile": "ADE 'wall' has no material; it maps to wall-other-merged",
    "wall-wood": "ADE 'wall' has no material; it maps to wall-other-merged",
}


@pytest.fixture(scope="module")
def coco():
    return coco_panoptic_categories()


def _by_name(cats):
    return {e["name"]: e for e in cats.entries}


def test_ade20k_classes():
    assert len(ADE20K_CLASSES) == 150
    assert ADE20K_CLASSES[0] == "wall" and ADE20K_CLASSES[149] == "flag"
    assert all(isinstance(c, str) and c for c in ADE20K_CLASSES)
    assert len(set(ADE20K_SHORT_NAMES)) == 150  # the tables' keys are unambiguous


def test_ade20k_classes_match_gluoncv():
    gluoncv = pytest.importorskip("gluoncv")
    assert ADE20K_CLASSES == tuple(gluoncv.data.ADE20KSegmentation.CLASSES)


def test_module_does_not_import_gluoncv_or_mxnet():
    tree = ast.parse(inspect.getsource(label_maps))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "typing", "numpy"}


def test_every_ade_class_decided_exactly_once():
    stuff = set(ADE20K_TO_COCO_STUFF)
    things = set(label_maps._ADE20K_COCO_THINGS)
    none = set(label_maps._ADE20K_NO_COUNTERPART)
    assert not stuff & things and not stuff & none and not things & none
    assert stuff | things | none == set(ADE20K_SHORT_NAMES)
    for table in (ADE20K_TO_COCO_STUFF, label_maps._ADE20K_COCO_THINGS,
                  label_maps._ADE20K_NO_COUNTERPART):
        order = [ADE20K_SHORT_NAMES.index(k) for k in table]
        assert order == sorted(order), "tables are kept in ADE order for review"


def test_targets_exist_and_are_stuff(coco):
    by_name = _by_name(coco)
    for ade, target in ADE20K_TO_COCO_STUFF.items():
        assert target in by_name, (ade, target)
        assert not by_name[target]["isthing"], (ade, target)


def test_thing_references_are_coco_things(coco):
    by_name = _by_name(coco)
    for ade, names in label_maps._ADE20K_COCO_THINGS.items():
        assert names, ade
        for name in names:
            assert name in by_name and by_name[name]["isthing"], (ade, name)


def test_table(coco):
    table = ade20k_to_coco_panoptic()
    assert table.dtype == np.int32 and table.shape == (150,)
    stuff_ids = set(coco.ids[~coco.isthing].tolist())
    for k, cat_id in enumerate(table.tolist()):
        target = ADE20K_TO_COCO_STUFF.get(ADE20K_SHORT_NAMES[k])
        if target is None:
            assert cat_id == 0, ADE20K_CLASSES[k]
        else:
            assert cat_id in stuff_ids and coco.name(cat_id) == target, ADE20K_CLASSES[k]


def test_every_stuff_category_reached_or_explained(coco):
    table = ade20k_to_coco_panoptic(coco)
    reached = {coco.name(c) for c in table[table > 0].tolist()}
    stuff = {e["name"] for e in coco.entries if not e["isthing"]}
    assert len(stuff) == 53
    assert set(UNREACHABLE_FROM_ADE20K) <= stuff
    assert not reached & set(UNREACHABLE_FROM_ADE20K), "listed as unreachable but reached"
    assert reached | set(UNREACHABLE_FROM_ADE20K) == stuff


@pytest.mark.parametrize("ade, coco_name", [
    ("wall", "wall-other-merged"), ("building, edifice", "building-other-merged"),
    ("sky", "sky-other-merged"), ("floor, flooring", "floor-other-merged"),
    ("tree", "tree-merged"), ("road, route", "road"), ("grass", "grass-merged"),
    ("sidewalk, pavement", "pavement-merged"), ("water", "water-other"), ("sea", "sea"),
    ("river", "river"), ("lake", "water-other"), ("skyscraper", "building-other-merged"),
    ("house", "house"), ("curtain, drape, drapery, mantle, pall", "curtain"),
    ("door, double door", "door-stuff"), ("mirror", "mirror-stuff"), ("table", "table-merged"),
    ("desk", "table-merged"), ("stairs, steps", "stairs"), ("step, stair", "stairs"),
    ("railing, rail", "fence-merged"), ("hill", "mountain-merged"),
    ("blind, screen", "window-blind"), ("windowpane, window", "window-other"),
])
def test_spot_checks(coco, ade, coco_name):
    table = ade20k_to_coco_panoptic()
    assert coco.name(int(table[ADE20K_CLASSES.index(ade)])) == coco_name


@pytest.mark.parametrize("ade", [
    "person, individual, someone, somebody, mortal, soul",
    "car, auto, automobile, machine, motorcar", "bed", "chair", "sofa, couch, lounge",
    "toilet, can, commode, crapper, pot, potty, stool, throne", "bottle", "painting, picture",
    "pole",
])
def test_things_and_unmatched_map_to_zero(ade):
    assert ade20k_to_coco_panoptic()[ADE20K_CLASSES.index(ade)] == 0


def test_categories_as_list_of_dicts(coco):
    np.testing.assert_array_equal(ade20k_to_coco_panoptic(coco.to_list()),
                                  ade20k_to_coco_panoptic())


def test_missing_target_raises(coco):
    entries = [e for e in coco.to_list() if e["name"] != "road"]
    with pytest.raises(ValueError, match="'road'.*not among the 132 categories"):
        ade20k_to_coco_panoptic(entries)


def test_thing_target_raises(coco):
    entries = coco.to_list()
    for e in entries:
        if e["name"] == "sky-other-merged":
            e["isthing"] = 1
    with pytest.raises(ValueError, match="'sky-other-merged'.*is a thing category"):
        ade20k_to_coco_panoptic(Categories(entries))


def test_coco_stuff_classes(coco):
    names, ids = coco_stuff_classes()
    assert len(names) == len(ids) == 54
    assert names[-1] == "thing" and ids[-1] == 0
    assert ids.dtype == np.int32
    assert np.all(np.diff(ids[:-1]) > 0)
    stuff = {int(i): e["name"] for i, e in zip(coco.ids, coco.entries) if not e["isthing"]}
    assert sorted(stuff) == ids[:-1].tolist()
    assert names[:-1] == [stuff[i] for i in ids[:-1].tolist()]
    assert names[0] == "banner" and names[-2] == "rug-merged"


def test_coco_stuff_classes_custom_categories():
    cats = [{"id": 7, "name": "b", "isthing": 0}, {"id": 1, "name": "t", "isthing": 1},
            {"id": 3, "name": "a", "isthing": 0}]
    names, ids = coco_stuff_classes(cats)
    assert names == ["a", "b", "thing"] and ids.tolist() == [3, 7, 0]


def test_label_table():
    assert LABEL_MAPS == ("ade20k", "coco-stuff")
    np.testing.assert_array_equal(label_table("ade20k", 150), ade20k_to_coco_panoptic())
    coco_stuff = label_table("coco-stuff", 54)
    assert coco_stuff.dtype == np.int32
    np.testing.assert_array_equal(coco_stuff, coco_stuff_classes()[1])


def test_label_table_errors():
    with pytest.raises(ValueError, match=r"unknown label map 'ade'; choose one of 'ade20k', "
                                         r"'coco-stuff'"):
        label_table("ade", 150)
    with pytest.raises(ValueError, match=r"^label map 'ade20k' has 150 classes but the semantic "
                                         r"model predicts 21$"):
        label_table("ade20k", 21)
    with pytest.raises(ValueError, match="label map 'coco-stuff' has 54 classes"):
        label_table("coco-stuff", 150)


def test_describe_table():
    text = describe_table("ade20k")
    lines = text.splitlines()
    assert len(lines) == 2 + 150 + 1
    assert lines[2].split() == ["0", "wall", "199", "wall-other-merged"]
    assert "COCO thing: person" in lines[2 + 12]
    n_mapped = int((ade20k_to_coco_panoptic() > 0).sum())
    assert lines[-1].startswith(f"{n_mapped} of 150 classes map to ")
    coco_text = describe_table("coco-stuff").splitlines()
    assert len(coco_text) == 2 + 54 + 1
    assert "thing" in coco_text[-2] and "all thing categories" in coco_text[-2]
    with pytest.raises(ValueError, match="unknown label map"):
        describe_table("cityscapes")
