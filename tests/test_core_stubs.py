"""The type stubs shipped for the compiled core cover exactly its public names, its classes'
methods and attributes, and the wrapper -> C++ table names every public function."""
import ast
import builtins
import re
from pathlib import Path

import numpy as np
import pytest

import panoseg
import panoseg._core as core

STUB = Path(panoseg.__file__).parent / "_core.pyi"


def _stub_tree():
    return ast.parse(STUB.read_text())


def test_stub_names_match_the_module():
    assert STUB.exists(), "_core.pyi must be installed with the package"
    names = {a or b for a, b in re.findall(r"^(?:def|class) (\w+)|^(\w+):", STUB.read_text(), re.M)}
    public = {n for n in dir(core) if not n.startswith("_") and n != "np"}
    assert names == public
    assert (Path(panoseg.__file__).parent / "py.typed").exists()


def test_stub_classes_match_the_module():
    for node in _stub_tree().body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(core, node.name)
        methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        public = {n for n in vars(cls) if not n.startswith("_")}
        assert public <= methods, (node.name, public - methods)
        for base in node.bases:
            assert issubclass(cls, getattr(core, base.id, None) or getattr(builtins, base.id))


def test_table_in_the_stub_docstring_names_every_wrapper():
    doc = ast.get_docstring(_stub_tree())
    listed = set(re.findall(r"^(\w+)\s{2,}", doc, re.M))
    functions = {n for n in dir(core) if not n.startswith("_") and n != "np"
                 and not (isinstance(getattr(core, n), type)
                          and issubclass(getattr(core, n), Exception))}
    assert functions <= listed, functions - listed
    # the C++ names it gives exist in the declarations
    pxd = (Path(panoseg.__file__).parent / "_core.pxd").read_text()
    for line in doc.splitlines():
        m = re.match(r"^(\w+)\s{2,}(.+?)\s{2,}\S+\.hpp", line)
        if m:
            for cpp in re.findall(r"\w+", m.group(2).replace("(class)", "")):
                assert re.search(rf"\b{cpp}\b", pxd), cpp


def test_one_error_family():
    for cls in (core.TableError, core.RleError, core.PngDataError):
        assert issubclass(cls, core.CoreError) and issubclass(cls, ValueError)
    with pytest.raises(core.TableError) as e:
        core.merge(4, 4, False, np.array([0, 1]), np.array([3, 2]), np.array([0], np.int32),
                   np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32),
                   np.array([1], np.uint32), np.array([1], np.uint8), 0.5, 0.0, 0)
    assert (e.value.side, e.value.index, e.value.code) == ("instance", 0, "kBadIntervals")
    with pytest.raises(core.RleError) as e:
        core.rle_intervals(["2", "0!"], 1, 2)
    assert (e.value.index, e.value.code) == (1, "kRleBadCharacter")
    with pytest.raises(core.PngDataError) as e:
        core.png_unfilter_ids(bytes([0, 1, 2, 3, 9, 1, 2, 3]), 2, 1)
    assert (e.value.index, e.value.code, e.value.value) == (1, "kPngBadFilter", 9)
    with pytest.raises(core.CoreError) as e:
        core.id2rgb(np.array([[1, 2], [3, 1 << 24]], np.uint32))
    assert (e.value.side, e.value.pixel, e.value.value) == ("pixel", (1, 1), 1 << 24)
    with pytest.raises(core.TableError) as e:
        core.segment_labels(np.array([[1, 7]], np.uint32), np.array([1], np.uint32),
                            np.array([3], np.uint8), 255)
    assert (e.value.side, e.value.index, e.value.pixel) == ("pixel", None, (1, 0))
    with pytest.raises(core.TableError) as e:
        core.segment_areas_bboxes(np.ones((2, 2), np.uint32), np.array([1, 2, 1], np.uint32))
    assert (e.value.side, e.value.index, e.value.code) == ("segment", 2, "kDuplicateId")


def test_segment_id_assigner_stub():
    a = core.SegmentIdAssigner(np.array([1], np.uint32), 0)
    assert isinstance(a.thing_id(2), int) and isinstance(a.stuff_id(1), int)
