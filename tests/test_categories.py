"""panoseg.io.categories: the one colour rule and the one Categories coercion."""
import pytest

from panoseg.errors import PanopticFormatError
from panoseg.io.categories import (
    Categories,
    as_categories,
    category_color,
    coco_panoptic_categories,
)


def test_category_color_given_or_derived():
    assert category_color({"id": 1, "color": [220, 20, 60]}) == (220, 20, 60)
    derived = [category_color({"id": i}) for i in range(612)]
    # Derived colours: stable, distinct over ids 0..611, saturated, never black (VOID's id).
    assert derived[7] == category_color({"id": 7, "color": None})
    assert len(set(derived)) == 612 and (0, 0, 0) not in derived
    assert all(max(c) - min(c) > 100 for c in derived)


@pytest.mark.parametrize("color", [[1, 2], [1, 2, 3, 4], [0, 0, 256], [0, -1, 0], "red",
                                   [0.5, 0, 0], [True, 0, 0]])
def test_invalid_colors_are_errors(color):
    with pytest.raises(PanopticFormatError, match="'color' must be 3 ints") as e:
        category_color({"id": 5, "color": color}, source="cats.json")
    assert e.value.file == "cats.json" and "category 5" in str(e.value)


def test_as_categories():
    coco = coco_panoptic_categories()
    assert as_categories(coco) is coco
    assert as_categories(None, default_coco=True) == coco
    assert isinstance(as_categories([{"id": 3, "isthing": 0}]), Categories)
    with pytest.raises(PanopticFormatError, match="no categories"):
        as_categories(None)


@pytest.mark.parametrize("cat_id", [2 ** 63, -(2 ** 63) - 1, 2 ** 80])
def test_category_id_outside_int64_is_a_format_error(cat_id):
    from panoseg.errors import PanopticFormatError
    from panoseg.io.categories import Categories

    with pytest.raises(PanopticFormatError, match="outside the signed 64-bit range"):
        Categories([{"id": cat_id, "isthing": 0}], source="c.json")
    assert Categories([{"id": 2 ** 63 - 1, "isthing": 0}]).ids[0] == 2 ** 63 - 1
