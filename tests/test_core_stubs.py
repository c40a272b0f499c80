"""The type stubs shipped for the compiled core cover exactly its public names."""
import re
from pathlib import Path

import panoseg
import panoseg._core as core


def test_stub_names_match_the_module():
    stub = (Path(panoseg.__file__).parent / "_core.pyi")
    assert stub.exists(), "_core.pyi must be installed with the package"
    names = {a or b for a, b in re.findall(r"^(?:def|class) (\w+)|^(\w+):", stub.read_text(), re.M)}
    public = {n for n in dir(core) if not n.startswith("_") and n != "np"}
    assert names == public
    assert (Path(panoseg.__file__).parent / "py.typed").exists()
