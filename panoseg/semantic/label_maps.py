"""Category tables from a semantic model's classes to COCO panoptic categories.

Panoptic inference merges an instance model's things with a semantic model's *stuff*. The
semantic model need not be trained on COCO panoptic: a model trained on ADE20K (GluonCV's
``psp_resnet50_ade``, ``deeplab_resnet101_ade``, ...) gives COCO stuff "without training" once
each of its 150 classes is mapped to the COCO panoptic stuff category it stands for. This module
holds that table, written out below one ADE20K class per line so that it can be reviewed, and
the table of the semantic models panoseg trains on COCO panoptic stuff itself.

A table maps model class index -> COCO panoptic category id, 0 meaning "no stuff": those pixels
are left to the instance model or to VOID. Only *stuff* categories are targets, because the
merge takes stuff from the semantic model and ignores its things.

Print a table with ``python -c "from panoseg.label_maps import describe_table;
print(describe_table('ade20k'))"``.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

from ..io.categories import Categories, as_categories

__all__ = [
    "ADE20K_CLASSES", "ADE20K_SHORT_NAMES", "ADE20K_TO_COCO_STUFF", "LABEL_MAPS",
    "ade20k_to_coco_panoptic", "coco_stuff_classes", "describe_table", "label_table",
]

CategoriesLike = Union[Categories, Sequence[Mapping], None]

#: The 150 ADE20K SceneParsing classes in model output order (index 0 = "wall"), verbatim from
#: ``gluoncv.data.ADE20KSegmentation.CLASSES`` (copied, not imported: panoseg does not depend on
#: gluoncv or mxnet). Each entry lists WordNet-style synonyms separated by ", ".
ADE20K_CLASSES = ("wall", "building, edifice", "sky", "floor, flooring", "tree",
                  "ceiling", "road, route", "bed", "windowpane, window", "grass",
                  "cabinet", "sidewalk, pavement",
                  "person, individual, someone, somebody, mortal, soul",
                  "earth, ground", "door, double door", "table", "mountain, mount",
                  "plant, flora, plant life", "curtain, drape, drapery, mantle, pall",
                  "chair", "car, auto, automobile, machine, motorcar",
                  "water", "painting, picture", "sofa, couch, lounge", "shelf",
                  "house", "sea", "mirror", "rug, carpet, carpeting", "field", "armchair",
                  "seat", "fence, fencing", "desk", "rock, stone", "wardrobe, closet, press",
                  "lamp", "bathtub, bathing tub, bath, tub", "railing, rail", "cushion",
                  "base, pedestal, stand", "box", "column, pillar", "signboard, sign",
                  "chest of drawers, chest, bureau, dresser", "counter", "sand", "sink",
                  "skyscraper", "fireplace, hearth, open fireplace", "refrigerator, icebox",
                  "grandstand, covered stand", "path", "stairs, steps", "runway",
                  "case, display case, showcase, vitrine",
                  "pool table, billiard table, snooker table", "pillow",
                  "screen door, screen", "stairway, staircase", "river", "bridge, span",
                  "bookcase", "blind, screen", "coffee table, cocktail table",
                  "toilet, can, commode, crapper, pot, potty, stool, throne",
                  "flower", "book", "hill", "bench", "countertop",
                  "stove, kitchen stove, range, kitchen range, cooking stove",
                  "palm, palm tree", "kitchen island",
                  "computer, computing machine, computing device, data processor, "
                  "electronic computer, information processing system",
                  "swivel chair", "boat", "bar", "arcade machine",
                  "hovel, hut, hutch, shack, shanty",
                  "bus, autobus, coach, charabanc, double-decker, jitney, motorbus, "
                  "motorcoach, omnibus, passenger vehicle",
                  "towel", "light, light source", "truck, motortruck", "tower",
                  "chandelier, pendant, pendent", "awning, sunshade, sunblind",
                  "streetlight, street lamp", "booth, cubicle, stall, kiosk",
                  "television receiver, television, television set, tv, tv set, idiot "
                  "box, boob tube, telly, goggle box",
                  "airplane, aeroplane, plane", "dirt track",
                  "apparel, wearing apparel, dress, clothes",
                  "pole", "land, ground, soil",
                  "bannister, banister, balustrade, balusters, handrail",
                  "escalator, moving staircase, moving stairway",
                  "ottoman, pouf, pouffe, puff, hassock",
                  "bottle", "buffet, counter, sideboard",
                  "poster, posting, placard, notice, bill, card",
                  "stage", "van", "ship", "fountain",
                  "conveyer belt, conveyor belt, conveyer, conveyor, transporter",
                  "canopy", "washer, automatic washer, washing machine",
                  "plaything, toy", "swimming pool, swimming bath, natatorium",
                  "stool", "barrel, cask", "basket, handbasket", "waterfall, falls",
                  "tent, collapsible shelter", "bag", "minibike, motorbike", "cradle",
                  "oven", "ball", "food, solid food", "step, stair", "tank, storage tank",
                  "trade name, brand name, brand, marque", "microwave, microwave oven",
                  "pot, flowerpot", "animal, animate being, beast, brute, creature, fauna",
                  "bicycle, bike, wheel, cycle", "lake",
                  "dishwasher, dish washer, dishwashing machine",
                  "screen, silver screen, projection screen",
                  "blanket, cover", "sculpture", "hood, exhaust hood", "sconce", "vase",
                  "traffic light, traffic signal, stoplight", "tray",
                  "ashcan, trash can, garbage can, wastebin, ash bin, ash-bin, ashbin, "
                  "dustbin, trash barrel, trash bin",
                  "fan", "pier, wharf, wharfage, dock", "crt screen",
                  "plate", "monitor, monitoring device", "bulletin board, notice board",
                  "shower", "radiator", "glass, drinking glass", "clock", "flag")

#: The first synonym of each ADE20K class ("building" for "building, edifice"): the names the
#: tables below are keyed by. They are unique among the 150 classes.
ADE20K_SHORT_NAMES = tuple(name.split(",")[0] for name in ADE20K_CLASSES)

# ---------------------------------------------------------------------------------------------
# ADE20K -> COCO panoptic stuff.
#
# COCO panoptic has 53 stuff categories; 17 of them merge several COCO-Stuff classes ("-merged"):
# tree-merged = tree + bush + branch + leaves, fence-merged = fence + railing + cage,
# table-merged = table + desk-stuff, cabinet-merged = cabinet + cupboard, mountain-merged =
# mountain + hill, building-other-merged = building-other + skyscraper, pavement-merged =
# pavement + floor-stone, dirt-merged = dirt + mud, rug-merged = rug + carpet + mat, ... so an
# ADE class that matches any merged-in COCO-Stuff class maps to the merged category.
# COCO-Stuff classes panoptic dropped (plant-other, clothes, structural-other, furniture-other,
# metal, wood, ...) are not targets: ADE classes that only match those map to 0.
#
# Every one of the 150 classes appears exactly once, in one of three tables (in ADE order):
# ADE20K_TO_COCO_STUFF (maps), _ADE20K_COCO_THINGS (a COCO thing: the instance model's job) and
# _ADE20K_NO_COUNTERPART (no COCO panoptic category at all). The tests check this.
# ---------------------------------------------------------------------------------------------

#: ADE20K class (short name) -> COCO panoptic stuff category name.
ADE20K_TO_COCO_STUFF = {
    "wall": "wall-other-merged",                # no material in ADE: the generic wall
    "building": "building-other-merged",
    "sky": "sky-other-merged",
    "floor": "floor-other-merged",              # no material in ADE, so not floor-wood
    "tree": "tree-merged",
    "ceiling": "ceiling-merged",
    "road": "road",
    "windowpane": "window-other",               # glass and frame; blinds are ADE "blind"
    "grass": "grass-merged",
    "cabinet": "cabinet-merged",
    "sidewalk": "pavement-merged",
    "earth": "dirt-merged",                     # bare ground/soil
    "door": "door-stuff",
    "table": "table-merged",                    # a dining table the instance model finds wins
    "mountain": "mountain-merged",
    "plant": "tree-merged",                     # mostly bushes, shrubs: COCO-Stuff bush is in it
    "curtain": "curtain",
    "water": "water-other",
    "shelf": "shelf",
    "house": "house",
    "sea": "sea",
    "mirror": "mirror-stuff",
    "rug": "rug-merged",
    "field": "grass-merged",                    # open grassland, farmland (not playingfield)
    "fence": "fence-merged",
    "desk": "table-merged",                     # COCO-Stuff desk-stuff is in table-merged
    "rock": "rock-merged",
    "wardrobe": "cabinet-merged",               # a clothes cupboard; cupboard is in cabinet-merged
    "lamp": "light",                            # COCO-Stuff "light" is the light fixture
    "railing": "fence-merged",                  # COCO-Stuff railing is in fence-merged
    "cushion": "pillow",
    "chest of drawers": "cabinet-merged",       # storage furniture, as cupboards and cabinets
    "counter": "counter",
    "sand": "sand",
    "skyscraper": "building-other-merged",      # COCO-Stuff skyscraper is in building-other-merged
    "path": "pavement-merged",                  # a walkway, like sidewalk
    "stairs": "stairs",
    "runway": "road",                           # a paved lane vehicles (aircraft) travel on
    "case": "cabinet-merged",                   # a display case is a glass-fronted cabinet
    "pool table": "table-merged",
    "pillow": "pillow",
    "screen door": "door-stuff",
    "stairway": "stairs",
    "river": "river",
    "bridge": "bridge",
    "bookcase": "shelf",
    "blind": "window-blind",
    "coffee table": "table-merged",
    "flower": "flower",
    "hill": "mountain-merged",                  # COCO-Stuff hill is in mountain-merged
    "countertop": "counter",
    "palm": "tree-merged",
    "kitchen island": "counter",                # a free-standing kitchen counter
    "bar": "counter",                           # ADE "bar" is the bar counter
    "hovel": "house",                           # hut, shack: a small house
    "towel": "towel",
    "light": "light",
    "tower": "building-other-merged",
    "chandelier": "light",
    "dirt track": "dirt-merged",
    "land": "dirt-merged",                      # "land, ground, soil", like ADE "earth"
    "bannister": "fence-merged",                # a handrail: railing, in fence-merged
    "escalator": "stairs",                      # "moving staircase"
    "buffet": "cabinet-merged",                 # a sideboard: a dining-room cabinet
    "stage": "platform",
    "swimming pool": "water-other",             # the pool is mostly its water
    "waterfall": "water-other",
    "tent": "tent",
    "food": "food-other-merged",                # food items COCO has as things are taken first
    "step": "stairs",
    "lake": "water-other",                      # COCO has sea and river but no lake
    "blanket": "blanket",
    "sconce": "light",                          # a wall-mounted light fixture
    "pier": "platform",                         # a platform built out over water
    "flag": "banner",                           # COCO-Stuff banner covers flags and banners
}

#: ADE20K classes that are COCO things -> the COCO thing categories they correspond to. They map
#: to 0: in the merge the instance model segments them; a semantic "stuff" copy would only fill
#: what the instance model missed with a wrong (stuff) category.
_ADE20K_COCO_THINGS = {
    "bed": ("bed",),
    "person": ("person",),
    "chair": ("chair",),
    "car": ("car",),
    "sofa": ("couch",),
    "armchair": ("chair",),
    "sink": ("sink",),
    "refrigerator": ("refrigerator",),
    "toilet": ("toilet",),
    "book": ("book",),
    "bench": ("bench",),
    "stove": ("oven",),                         # a kitchen range
    "computer": ("laptop", "tv"),               # desktop monitors are COCO "tv"
    "swivel chair": ("chair",),
    "boat": ("boat",),
    "bus": ("bus",),
    "truck": ("truck",),
    "television receiver": ("tv",),
    "airplane": ("airplane",),
    "bottle": ("bottle",),
    "van": ("car", "truck"),
    "ship": ("boat",),
    "bag": ("handbag", "backpack", "suitcase"),
    "minibike": ("motorcycle",),
    "oven": ("oven",),
    "ball": ("sports ball",),
    "microwave": ("microwave",),
    "pot": ("potted plant",),                   # "pot, flowerpot"
    "animal": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
               "giraffe"),
    "bicycle": ("bicycle",),
    "vase": ("vase",),
    "traffic light": ("traffic light",),
    "crt screen": ("tv",),
    "monitor": ("tv",),
    "glass": ("wine glass", "cup"),
    "clock": ("clock",),
}

#: ADE20K classes with no COCO panoptic category -> why. They map to 0 (VOID unless an instance
#: covers them): guessing a neighbouring stuff category would add false positives to its PQ.
_ADE20K_NO_COUNTERPART = {
    "painting": "pictures on walls: no COCO category",
    "seat": "theatre/car seats: no stuff class; not reliably COCO chair",
    "bathtub": "no COCO category",
    "base": "pedestals, stands: COCO-Stuff furniture-other, dropped from panoptic",
    "box": "any box; COCO cardboard is a material, not every box is cardboard",
    "column": "pillars: COCO-Stuff structural-other, dropped from panoptic",
    "signboard": "signs: no COCO category; stop sign is one specific thing",
    "fireplace": "no COCO category",
    "grandstand": "stadium stands: no clear COCO category",
    "arcade machine": "no COCO category",
    "awning": "no COCO category; not a tent, not a roof",
    "streetlight": "mostly pole (structural-other, dropped); COCO light is a room fixture",
    "booth": "booths, stalls, kiosks: no clear COCO category",
    "apparel": "COCO-Stuff clothes, dropped from panoptic",
    "pole": "COCO-Stuff structural-other, dropped from panoptic",
    "ottoman": "COCO-Stuff furniture-other, dropped from panoptic",
    "poster": "printed sheets on walls; COCO paper-merged is loose paper, napkins",
    "fountain": "the structure and its water: no single COCO category",
    "conveyer belt": "no COCO category",
    "canopy": "no COCO category; not a tent, not a roof",
    "washer": "no COCO category",
    "plaything": "toys: no COCO category; teddy bear is one specific thing",
    "stool": "COCO-Stuff furniture-other, dropped from panoptic",
    "barrel": "no COCO category",
    "basket": "no COCO category",
    "cradle": "no COCO category",
    "tank": "storage tanks: no COCO category",
    "trade name": "logos, brand names: no COCO category",
    "dishwasher": "no COCO category",
    "screen": "projection screens: no COCO category",
    "sculpture": "no COCO category",
    "hood": "exhaust hoods: no COCO category",
    "tray": "no COCO category",
    "ashcan": "trash cans: no COCO category",
    "fan": "no COCO category",
    "plate": "no COCO category",
    "bulletin board": "no COCO category",
    "shower": "no COCO category",
    "radiator": "no COCO category",
}

#: The label maps :func:`label_table` knows: "ade20k" (a GluonCV ADE20K model's 150 classes)
#: and "coco-stuff" (a semantic model panoseg trained on COCO panoptic stuff).
LABEL_MAPS = ("ade20k", "coco-stuff")


def ade20k_to_coco_panoptic(categories: CategoriesLike = None) -> np.ndarray:
    """The ADE20K -> COCO panoptic table: category id per ADE20K class.

    Parameters
    ----------
    categories : Categories or list of dict, optional
        The panoptic categories to resolve the target names against (``name``, ``id``,
        ``isthing``); default: COCO's 133 (:func:`~panoseg.categories.coco_panoptic_categories`).

    Returns
    -------
    (150,) int32 array
        Entry ``k`` is the panoptic category id of :data:`ADE20K_CLASSES` ``[k]``, 0 where the
        class is not stuff in COCO (a COCO thing, or no counterpart).

    Raises
    ------
    ValueError
        A target name of :data:`ADE20K_TO_COCO_STUFF` is not among ``categories``, is there more
        than once, or is a thing category.
    """
    cats = as_categories(categories, default_coco=True)
    by_name = {}
    for entry in cats.entries:
        by_name.setdefault(entry.get("name"), []).append(entry)
    table = np.zeros(len(ADE20K_CLASSES), np.int32)
    for k, short in enumerate(ADE20K_SHORT_NAMES):
        target = ADE20K_TO_COCO_STUFF.get(short)
        if target is None:
            continue
        where = f"COCO panoptic category {target!r} (the target of ADE20K class {short!r})"
        found = by_name.get(target, [])
        if not found:
            raise ValueError(f"{where} is not among the {len(cats)} categories")
        if len(found) > 1:
            raise ValueError(f"{where} is ambiguous: {len(found)} categories have that name")
        if found[0]["isthing"]:
            raise ValueError(f"{where} is a thing category (id {found[0]['id']}); "
                             "the table maps to stuff categories only")
        table[k] = found[0]["id"]
    return table


def coco_stuff_classes(categories: CategoriesLike = None) -> tuple[list[str], np.ndarray]:
    """The classes of a semantic model panoseg trains on COCO panoptic stuff.

    One class per stuff category, in increasing id order, then one last class "thing" for the
    pixels of all thing categories (the model learns where things are, not which; the instance
    model tells them apart).

    Parameters
    ----------
    categories : Categories or list of dict, optional
        The panoptic categories; default: COCO's 133, which give 53 + 1 = 54 classes.

    Returns
    -------
    names : list of str
        Class names: the stuff category names, then ``"thing"``.
    category_ids : int32 array
        The panoptic category id of each class, 0 for ``"thing"`` (no stuff).
    """
    cats = as_categories(categories, default_coco=True)
    stuff = sorted((e for e in cats.entries if not e["isthing"]), key=lambda e: e["id"])
    names = [str(e.get("name", e["id"])) for e in stuff] + ["thing"]
    ids = np.array([e["id"] for e in stuff] + [0], dtype=np.int32)
    return names, ids


def _classes_and_table(name: str, categories: CategoriesLike):
    if name == "ade20k":
        return list(ADE20K_CLASSES), ade20k_to_coco_panoptic(categories)
    if name == "coco-stuff":
        return coco_stuff_classes(categories)
    choices = ", ".join(repr(m) for m in LABEL_MAPS)
    raise ValueError(f"unknown label map {name!r}; choose one of {choices}")


def label_table(name: str, n_classes: int, categories: CategoriesLike = None) -> np.ndarray:
    """Model class -> COCO panoptic category id table of a known label map.

    Parameters
    ----------
    name : str
        One of :data:`LABEL_MAPS`: ``"ade20k"`` or ``"coco-stuff"``.
    n_classes : int
        The number of classes the semantic model predicts; must be the table's length, so that
        a model is never paired with another dataset's table.
    categories : Categories or list of dict, optional
        The panoptic categories; default: COCO's 133.

    Returns
    -------
    (n_classes,) int32 array
        Category id per model class, 0 = no stuff.

    Raises
    ------
    ValueError
        ``name`` is not a known label map, or ``n_classes`` is not its number of classes.
    """
    _, table = _classes_and_table(name, categories)
    if int(n_classes) != len(table):
        raise ValueError(f"label map {name!r} has {len(table)} classes but the semantic model "
                         f"predicts {int(n_classes)}")
    return table


def _shorten(name: str, width: int) -> str:
    # Drop trailing synonyms (never cut a word) so that the listing stays aligned; the first
    # synonym is always kept.
    parts = name.split(", ")
    out = parts[0]
    for part in parts[1:]:
        if len(out) + 2 + len(part) > width:
            break
        out += ", " + part
    return out


def describe_table(name: str, categories: CategoriesLike = None) -> str:
    """A human-readable listing of a label map, one line per model class.

    Columns: model class index, class name, COCO panoptic category id, category name. For an
    ADE20K class that maps to nothing the last column says why (the COCO thing it is, or that
    COCO has no counterpart). Long ADE20K names are cut to their first synonyms.

    Parameters
    ----------
    name : str
        One of :data:`LABEL_MAPS`.
    categories : Categories or list of dict, optional
        The panoptic categories; default: COCO's 133.
    """
    cats = as_categories(categories, default_coco=True)
    classes, table = _classes_and_table(name, cats)
    width = 32
    lines = [f"{'index':>5}  {'class':<{width}}  {'COCO id':>7}  COCO category",
             f"{'-' * 5}  {'-' * width}  {'-' * 7}  {'-' * 40}"]
    for k, (cls, cat_id) in enumerate(zip(classes, table.tolist())):
        if cat_id:
            target = cats.name(cat_id)
        elif name == "coco-stuff":
            target = "- (all thing categories)"
        elif ADE20K_SHORT_NAMES[k] in _ADE20K_COCO_THINGS:
            target = "- (COCO thing: " + ", ".join(_ADE20K_COCO_THINGS[ADE20K_SHORT_NAMES[k]]) + ")"
        else:
            target = "- (" + _ADE20K_NO_COUNTERPART.get(ADE20K_SHORT_NAMES[k], "no stuff") + ")"
        lines.append(f"{k:>5}  {_shorten(cls, width):<{width}}  {cat_id:>7}  {target}")
    mapped = table[table > 0]
    n_stuff = int((~cats.isthing).sum())
    lines.append(f"{mapped.size} of {len(table)} classes map to {np.unique(mapped).size} of the "
                 f"{n_stuff} stuff categories; 0 = no stuff (left to the instance model or VOID)")
    return "\n".join(lines)
