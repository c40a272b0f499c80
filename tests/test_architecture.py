"""The package's architecture, checked on its source (ast, nothing imported): no import cycle,
lazy imports included, and every import pointing down the layers

    _core, _version, errors -> util -> io -> evaluation, merge, convert, viz, semantic, testing
    -> report, infer, merge.tune -> cli -> the top-level package (its __init__, __main__, the
    deprecated aliases of the old flat module paths).

A module may import a lower layer or its own subpackage; anything else fails here, naming the
import and the line.
"""
import ast
import os
from pathlib import Path

import pytest

from panoseg._legacy import MOVED

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "panoseg"

#: Layer of each module, by the longest matching name prefix.
LAYERS = {
    "panoseg._core": 0, "panoseg._version": 0, "panoseg.errors": 0, "panoseg._legacy": 0,
    "panoseg.util": 1,
    "panoseg.io": 2,
    "panoseg.evaluation": 3, "panoseg.merge": 3, "panoseg.convert": 3, "panoseg.viz": 3,
    "panoseg.semantic": 3, "panoseg.testing": 3,
    "panoseg.report": 4, "panoseg.infer": 4, "panoseg.merge.tune": 4,
    "panoseg.cli": 5,
    "panoseg": 6,
}

#: Third-party packages only one part of panoseg may import (optional extras).
CONFINED = {
    "mxnet": ("panoseg.infer",),
    "gluoncv": ("panoseg.infer",),
    "distributed": ("panoseg.util.cluster",),
    "dask": ("panoseg.util.cluster",),
    "jinja2": (),
    "panopticapi": (),
    "hotcoco": (),
}


def _modules():
    """{dotted name: path} of every module of the package (a package is its __init__)."""
    out = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")) + sorted(PACKAGE_DIR.rglob("*.pyx")):
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    out.setdefault("panoseg._core", PACKAGE_DIR / "_core.pyx")
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return (PACKAGE_DIR.parent / Path(*name.split(".")) / "__init__.py").exists()


def _layer(name: str) -> int:
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def _imports(name: str, path: Path):
    """(imported module, line, third-party top-level or None) for every import statement in
    the module, inside functions too."""
    if path.suffix == ".pyx":
        return []
    tree = ast.parse(path.read_text(), str(path))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in MODULES else base, node.lineno))
    return found


def _graph():
    """Edges between panoseg modules. Importing a.b.c also runs the __init__ of a.b (unless
    the importer lives inside a.b, where it is already running)."""
    edges, external = {}, []
    for name, path in MODULES.items():
        targets = edges.setdefault(name, {})
        for target, line in _imports(name, path):
            if not target.startswith("panoseg"):
                external.append((name, target.split(".")[0], line))
                continue
            if target in MOVED or target.rpartition(".")[0] in MOVED:  # a deprecated path
                targets.setdefault(target if target in MOVED else target.rpartition(".")[0], line)
                continue
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            if target == "panoseg":  # `import panoseg`, `from panoseg import x`, `from .. import x`
                targets.setdefault(target, line)
                continue
            parts = target.split(".")
            for k in range(2, len(parts) + 1):
                ancestor = ".".join(parts[:k])
                if k < len(parts) and (name == ancestor or name.startswith(ancestor + ".")):
                    continue
                if ancestor != name:
                    targets.setdefault(ancestor, line)
    return edges, external


EDGES, EXTERNAL = _graph()


def _same_subpackage(a: str, b: str) -> bool:
    return a.split(".")[:2] == b.split(".")[:2]


def test_every_module_is_seen():
    assert {"panoseg.util.atomic", "panoseg.io.png", "panoseg.evaluation.job",
            "panoseg.merge.paste", "panoseg.cli", "panoseg.infer.pipeline"} <= set(MODULES)
    assert sum(len(t) for t in EDGES.values()) > 100


def test_no_import_points_up_the_layers():
    upward = []
    for name, targets in EDGES.items():
        for target, line in targets.items():
            if _same_subpackage(name, target) and _layer(target) <= _layer(name):
                continue
            if _layer(target) >= _layer(name) and not _same_subpackage(name, target):
                upward.append(f"{MODULES[name].relative_to(PACKAGE_DIR.parent)}:{line}: "
                              f"{name} (layer {_layer(name)}) imports {target} "
                              f"(layer {_layer(target)})")
            elif _same_subpackage(name, target) and _layer(target) > _layer(name):
                upward.append(f"{name}:{line} imports {target}, a higher layer of its package")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


def _cycles():
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in EDGES.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(EDGES):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_lazy_imports_included():
    assert _cycles() == []


def test_the_cycle_check_finds_a_cycle():
    EDGES["panoseg.io.png"]["panoseg.evaluation.job"] = 1  # as a lazy import would
    try:
        assert _cycles()
    finally:
        del EDGES["panoseg.io.png"]["panoseg.evaluation.job"]


def test_the_paste_imports_no_other_merge_module():
    assert not [t for t in EDGES["panoseg.merge.paste"] if t.startswith("panoseg.merge")]


def _top_level_or_deprecated(edges):
    bad = []
    for name, targets in edges.items():
        if name in ("panoseg", "panoseg.__main__"):
            continue
        bad += [f"{name}:{line} imports {t}" for t, line in targets.items()
                if t == "panoseg" or t in MOVED]
    return bad


def test_nothing_imports_the_deprecated_paths_or_the_top_level_package():
    assert _top_level_or_deprecated(EDGES) == []


@pytest.mark.parametrize("statement, caught", [
    ("from .. import pq_compute", "panoseg"),
    ("import panoseg", "panoseg"),
    ("from panoseg import evaluate", "panoseg"),
    ("from ..merge_io import MergeJob", "panoseg.merge_io"),
    ("import panoseg.synthetic", "panoseg.synthetic"),
    ("from ..png import read_ids", "panoseg.png"),
])
def test_the_checks_catch_top_level_and_deprecated_imports(tmp_path, monkeypatch, statement,
                                                           caught):
    """The checks themselves, on a module given one bad (lazy) import."""
    bad = tmp_path / "bad.py"
    bad.write_text(f"def f():\n    {statement}\n")
    monkeypatch.setitem(MODULES, "panoseg.io.bad", bad)
    edges, _ = _graph()
    assert caught in edges["panoseg.io.bad"]
    assert _top_level_or_deprecated(edges)


@pytest.mark.parametrize("package, allowed", sorted(CONFINED.items()))
def test_optional_dependencies_stay_confined(package, allowed):
    offenders = [f"{name}:{line}" for name, top, line in EXTERNAL if top == package
                 and not any(name == a or name.startswith(a + ".") for a in allowed)]
    assert not offenders, f"{package} imported outside {allowed or 'tests'}: {offenders}"


def test_util_knows_nothing_of_panoptic_data():
    for name, targets in EDGES.items():
        if name.startswith("panoseg.util"):
            assert all(t.startswith("panoseg.util") or t == "panoseg.errors" for t in targets), name


def test_csrc_has_no_python_headers():
    csrc = PACKAGE_DIR.parent / "csrc"
    for path in csrc.rglob("*.?pp"):
        text = path.read_text()
        assert "Python.h" not in text and "pybind" not in text, path
    # grouped like the Python side
    assert {p.name for p in csrc.iterdir() if p.is_dir()} >= {"io", "eval", "merge", "common"}
    assert not [p for p in csrc.iterdir() if p.suffix in (".cpp", ".hpp")], \
        "kernels live in csrc/<concept>/"


def test_layout_names_match_the_readme():
    readme = (PACKAGE_DIR.parent / "README.md").read_text()
    for sub in ("util", "io", "evaluation", "merge", "convert", "viz", "report", "semantic",
                "infer", "testing", "cli"):
        assert os.path.isdir(PACKAGE_DIR / sub)
        assert f"panoseg/{sub}/" in readme, f"README's Layout lacks panoseg/{sub}/"


def test_evaluation_layers_inside_the_package():
    """stats is PQ's arithmetic and semantic the pixel metrics' (both leaves); the metric
    families beyond them depend on them alone."""
    inside = {name: {t for t in EDGES[name] if t.startswith("panoseg.evaluation")}
              for name in EDGES if name.startswith("panoseg.evaluation.")}
    leaves = {"panoseg.evaluation.stats", "panoseg.evaluation.semantic"}
    assert inside["panoseg.evaluation.stats"] == set()
    assert inside["panoseg.evaluation.semantic"] == set()
    assert inside["panoseg.evaluation.extra_metrics"] <= leaves
    assert inside["panoseg.evaluation.bootstrap"] <= leaves
    # errors reads one image's matching (viz_marks matches an image itself).
    assert inside["panoseg.evaluation.errors"] <= leaves | {"panoseg.evaluation.matching"}
