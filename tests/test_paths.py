"""The one file-naming rule of the format (panoseg.io.paths)."""
import pytest

from panoseg import PanopticFormatError
from panoseg.io.paths import default_folder, png_name


@pytest.mark.parametrize("json_path, folder", [
    ("panoptic_val2017.json", "panoptic_val2017"),
    ("out/pred.json", "out/pred"),
    ("run.v2/pred.json", "run.v2/pred"),           # a dotted folder: only the name's extension
    ("pred.v2.json", "pred.v2"),
    ("s3://bucket.eu/val/gt.json", "s3://bucket.eu/val/gt"),
    ("pred.JSON", "pred"),
])
def test_default_folder(json_path, folder):
    assert default_folder(json_path) == folder


@pytest.mark.parametrize("json_path", ["run.v2/pred", "pred", "out/"])
def test_no_extension_no_default_folder(json_path):
    """The folder would be the JSON file itself: an error naming the file."""
    with pytest.raises(PanopticFormatError, match="give the folder explicitly") as e:
        default_folder(json_path)
    assert e.value.file == json_path


@pytest.mark.parametrize("file_name, png", [
    ("000000139.jpg", "000000139.png"), ("a.b.jpg", "a.b.png"), ("x.png", "x.png"),
    ("noext", "noext.png"), ("sub/dir.d/img.jpeg", "sub/dir.d/img.png")])
def test_png_name(file_name, png):
    assert png_name(file_name) == png
