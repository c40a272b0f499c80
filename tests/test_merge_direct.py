"""The direct merge path (panoseg.merge.direct: one core call per image, no numpy) against the
full MergeJob path: the same PNG bytes and JSON, and every input outside its form handed to the
full path (same result, or the same error)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from panoseg import _core
from panoseg.errors import PanopticFormatError
from panoseg.io.segment_ids import image_seed
from panoseg.merge import combine_predictions, direct, merge_files
from panoseg.testing.synthetic import make_merge_inputs

ROOT = Path(__file__).resolve().parents[1]


def _files(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in Path(folder).rglob("*") if p.is_file()}


def _both(inp, tmp_path, name="x", **kwargs):
    """(direct result, full result), each with its JSON bytes and PNG files."""
    args = (inp["semseg"], inp["instseg"], inp["images"], inp["categories"])
    out = []
    for tag, run in (("direct", direct.combine_direct), ("full", merge_files)):
        folder = tmp_path / f"{name}-{tag}"
        kw = dict(kwargs)
        if tag == "direct":
            kw.setdefault("max_pixels", 400_000_000)
            kw.setdefault("confidence_thr", 0.5)
            kw.setdefault("overlap_thr", 0.5)
            kw.setdefault("stuff_area_limit", 64 * 64)
        result = run(*args, str(folder), str(folder) + ".json", **kw)
        out.append((result, Path(str(folder) + ".json").read_bytes() if result is not None
                    else None, _files(folder) if folder.exists() else {}))
    return out


def _inputs(tmp_path, **kwargs):
    i = make_merge_inputs(tmp_path / "in", **kwargs)
    return {"semseg": i.semseg_json, "instseg": i.instseg_json, "images": i.images_json,
            "categories": i.categories_json}


def _edit(path, fn):
    data = json.loads(Path(path).read_text())
    data = fn(data) or data
    Path(path).write_text(json.dumps(data))


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("seed", [0, 12345])
def test_direct_equals_the_full_path(tmp_path, workers, seed):
    inp = _inputs(tmp_path, n_images=7, height=60, width=80, seed=seed % 97)
    (d, d_json, d_png), (f, f_json, f_png) = _both(inp, tmp_path, workers=workers, seed=seed)
    assert d is not None
    assert d_json == f_json and d == f
    assert d_png == f_png and len(d_png) == 7


def test_ties_thresholds_string_ids_and_semantic_things(tmp_path):
    """Equal scores (input order wins), scores at and below the threshold, string image ids,
    semantic results of thing categories (ignored by the kernel), an image without results."""
    inp = _inputs(tmp_path, n_images=5, height=50, width=70, seed=3)
    things = [c["id"] for c in json.loads(Path(inp["categories"]).read_text()) if c["isthing"]]

    def instances(results):
        for k, r in enumerate(results):
            r["score"] = [0.5, 0.75, 0.75, 0.4999, 1.0, 0.0][k % 6]
            r["image_id"] = f"im{r['image_id']}"
    _edit(inp["instseg"], instances)

    def semantic(results):
        for r in results:
            r["image_id"] = f"im{r['image_id']}"
        results.append(dict(results[0], category_id=things[0]))
    _edit(inp["semseg"], semantic)

    def images(data):
        for img in data["images"]:
            img["id"] = f"im{img['id']}"
        data["images"].append(dict(data["images"][0], id="empty", file_name="empty.jpg"))
    _edit(inp["images"], images)
    for thr in (0.5, 0.75, 0.0):
        (d, d_json, d_png), (f, f_json, f_png) = _both(
            inp, tmp_path, name=str(thr), confidence_thr=thr, overlap_thr=0.3,
            stuff_area_limit=10)
        assert d is not None
        assert d_json == f_json and d_png == f_png


@pytest.mark.parametrize("change", [
    "no_colour", "int_score", "float_isthing", "dict_wrapped_lists", "bool_isthing",
    "uncompressed_rle", "low_score_bad_rle", "huge_int", "huge_int_in_results"])
def test_inputs_outside_its_form_are_left_to_the_full_path(tmp_path, change):
    """combine_direct declines (None, nothing written) or, for what it may take, agrees; the
    public entry point gives the full path's result either way."""
    inp = _inputs(tmp_path, n_images=3, height=40, width=50, seed=1)
    declines = True
    if change == "no_colour":
        _edit(inp["categories"], lambda cats: [c.pop("color") for c in cats] and cats)
    elif change == "int_score":
        _edit(inp["instseg"], lambda rs: rs[0].update(score=1))
    elif change == "float_isthing":
        _edit(inp["categories"], lambda cats: cats[0].update(isthing=1.0))
    elif change == "dict_wrapped_lists":
        declines = False
        _edit(inp["categories"], lambda cats: {"categories": cats})
        _edit(inp["instseg"], lambda rs: {"annotations": rs})
    elif change == "bool_isthing":
        declines = False
        _edit(inp["categories"],
              lambda cats: [c.update(isthing=bool(c["isthing"])) for c in cats] and cats)
    elif change == "uncompressed_rle":
        def to_list(rs):
            from panoseg.io.rle import rle_to_mask
            m = rle_to_mask(rs[0]["segmentation"], 40, 50)
            flat, counts, last, run = m.T.reshape(-1).tolist(), [], 0, 0
            for v in flat:
                if v != last:
                    counts.append(run)
                    run, last = 0, v
                run += 1
            counts.append(run)
            rs[0]["segmentation"] = {"size": [40, 50], "counts": counts}
        _edit(inp["semseg"], to_list)
    elif change == "huge_int":  # orjson reads it as a float, the stdlib as an int
        _edit(inp["images"], lambda d: d["images"][0].update(license=2**70))
    elif change == "huge_int_in_results":  # the core's scan takes no integer over 18 digits
        _edit(inp["instseg"], lambda rs: rs[0].update(id=2**70))
    elif change == "low_score_bad_rle":
        declines = False  # never decoded, on either path

        def low(rs):
            rs[0]["score"] = 0.1
            rs[0]["segmentation"] = {"size": [1, 1], "counts": 7}
        _edit(inp["instseg"], low)
    (d, d_json, d_png), (f, f_json, f_png) = _both(inp, tmp_path)
    if declines:
        assert d is None and d_png == {}
    else:
        assert d_json == f_json and d_png == f_png
    out = tmp_path / "api"
    assert combine_predictions(inp["semseg"], inp["instseg"], inp["images"], inp["categories"],
                               str(out), str(out) + ".json") == f
    assert _files(out) == f_png


@pytest.mark.parametrize("change", ["bad_rle", "float_height", "unknown_image"])
def test_bad_input_gets_the_full_paths_error(tmp_path, change):
    inp = _inputs(tmp_path, n_images=3, height=40, width=50, seed=2)
    if change == "bad_rle":
        _edit(inp["semseg"], lambda rs: rs[-1]["segmentation"].update(counts="0" + "\x7e" * 3))
    elif change == "float_height":
        _edit(inp["images"], lambda d: d["images"][0].update(height=40.0))
    else:
        _edit(inp["instseg"], lambda rs: rs[0].update(image_id=10**6))
    errors = []
    for run in (combine_predictions, merge_files):
        out = tmp_path / run.__name__
        with pytest.raises(PanopticFormatError) as e:
            run(inp["semseg"], inp["instseg"], inp["images"], inp["categories"], str(out),
                str(out) + ".json", workers=1)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def test_image_seed_equals_segment_ids():
    for seed in (0, 1, 2**64 - 1, 987654321):
        for image_id in (0, 7, -3, 2**70, "7", "", "im\u00e9"):
            assert direct.image_seed(seed, image_id) == image_seed(seed, image_id)


def test_core_reports_the_side_of_an_undecodable_rle():
    import array
    colour, isthing = array.array("I", [1, 2]), array.array("B", [1, 0])
    with pytest.raises(_core.RleError) as e:
        _core.merge_rles_png(4, 3, ["0<"], [0], ["0<", "0="], [1, 1], colour, isthing, 0.5, 0.0, 0)
    assert (e.value.side, e.value.index) == ("stuff", 1)
    with pytest.raises(_core.RleError) as e:
        _core.merge_rles_png(4, 3, ["0="], [0], [], [], colour, isthing, 0.5, 0.0, 0)
    assert (e.value.side, e.value.index) == ("instance", 0)
    with pytest.raises(_core.TableError):  # a stuff category for an instance
        _core.merge_rles_png(4, 3, ["0<"], [1], [], [], colour, isthing, 0.5, 0.0, 0)


def _merge_one(out_path=None):
    import array
    colour, isthing = array.array("I", [1, 2]), array.array("B", [1, 0])
    return _core.merge_rles_png(4, 3, ["0<"], [0], ["0<"], [1], colour, isthing, 0.5, 0.0, 0,
                                out_path=out_path)


def test_core_writes_the_png_where_it_can(tmp_path):
    """With ``out_path``, the core writes the PNG itself (a new file, or over a regular one):
    the bytes it would return, nothing else left in the folder."""
    png, segments = _merge_one()
    for existing in (None, b"old"):
        target = tmp_path / "a.png"
        if existing is not None:
            target.write_bytes(existing)
        written, same_segments = _merge_one(bytes(target))
        assert written is None and same_segments == segments
        assert target.read_bytes() == png
        assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_core_leaves_other_paths_to_the_python_writer(tmp_path):
    """Where atomic_write_bytes would do something else (a stream, a link, a folder, a
    descriptor's name) or a path is relative or not normalized, and where a system call fails
    (no such folder; a folder's rename), the core writes nothing and returns the PNG."""
    import os

    png, _ = _merge_one()
    (tmp_path / "sub").mkdir()
    (tmp_path / "target.png").write_bytes(b"kept")
    os.symlink(tmp_path / "target.png", tmp_path / "link.png")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "dangling.png")
    os.mkfifo(tmp_path / "fifo.png")
    before = _files(tmp_path)
    paths = [b"relative.png", bytes(tmp_path / "sub") + b"/../x.png",
             bytes(tmp_path) + b"/./x.png", b"/dev/null", b"/proc/self/fd/99",
             bytes(tmp_path / "link.png"), bytes(tmp_path / "dangling.png"),
             bytes(tmp_path / "fifo.png"), bytes(tmp_path / "sub"),
             bytes(tmp_path / "missing" / "x.png"),  # open() fails: no such folder
             bytes(tmp_path) + b"/x\0.png"]
    for path in paths:
        returned, _ = _merge_one(path)
        assert returned == png, path
    assert _files(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.png", "fifo.png", "link.png", "sub", "target.png"]
    with pytest.raises(TypeError):
        _merge_one(str(tmp_path / "x.png"))


def _temp_name(folder, name, core):
    """The temporary name each writer uses in this thread (core: io/file_write.cpp; else
    panoseg.util.atomic.atomic_write_bytes)."""
    import os
    import threading

    return folder / f".tmp-{name}.{os.getpid()}-{'c' if core else ''}{threading.get_native_id()}"


@pytest.mark.parametrize("core", [True, False])
@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_writers_never_open_through_what_is_at_the_temporary_name(tmp_path, core, planted):
    """A link or FIFO at a writer's (predictable) temporary name is replaced, not written
    through or waited on: the target outside is untouched, the output is a plain file."""
    import os

    from panoseg.util.atomic import atomic_write_bytes

    png, _ = _merge_one()
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"victim")
    tmp = _temp_name(out, "a.png", core)
    if planted == "link":
        os.symlink(victim, tmp)
    else:
        os.mkfifo(tmp)
    if core:
        assert _merge_one(bytes(out / "a.png"))[0] is None
    else:
        atomic_write_bytes(out / "a.png", png)
    assert victim.read_bytes() == b"victim"
    assert not (out / "a.png").is_symlink() and (out / "a.png").read_bytes() == png
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_a_name_too_long_for_the_cores_temporary_name_is_written_by_python(tmp_path):
    """The core's temporary name is one byte longer than atomic_write_bytes': where it goes
    past NAME_MAX (255), the PNG comes back and the Python writer, whose name fits, writes
    it; one byte shorter, the core writes it."""
    import os

    from panoseg.util.atomic import atomic_write_bytes

    png, _ = _merge_one()
    fixed = len(_temp_name(tmp_path, "", core=False).name)  # the Python name without `name`
    name = "a" * (255 - fixed - 4) + ".png"
    assert len(_temp_name(tmp_path, name, core=False).name) == 255
    returned, _ = _merge_one(bytes(tmp_path / name))
    assert returned == png and not (tmp_path / name).exists()
    atomic_write_bytes(tmp_path / name, png)
    assert (tmp_path / name).read_bytes() == png
    shorter = name[1:]
    assert _merge_one(bytes(tmp_path / shorter))[0] is None
    assert (tmp_path / shorter).read_bytes() == png
    assert sorted(os.listdir(tmp_path)) == sorted([name, shorter])


def test_a_failed_core_write_leaves_the_old_file_and_no_temporary(tmp_path):
    """write() failing mid-file (a file size limit: EFBIG, SIGXFSZ ignored by Python): the
    core removes its temporary file, keeps the old output and hands the PNG back."""
    script = f"""
import array, resource
from panoseg import _core
colour, isthing = array.array("I", [1, 2]), array.array("B", [1, 0])
png, _ = _core.merge_rles_png(4, 3, ["0<"], [0], ["0<"], [1], colour, isthing, 0.5, 0.0, 0)
resource.setrlimit(resource.RLIMIT_FSIZE, (len(png) // 2, resource.RLIM_INFINITY))
back, _ = _core.merge_rles_png(4, 3, ["0<"], [0], ["0<"], [1], colour, isthing, 0.5, 0.0, 0,
                               out_path={bytes(tmp_path / "a.png")!r})
assert back == png, back
print("ok")
"""
    (tmp_path / "a.png").write_bytes(b"old")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert (tmp_path / "a.png").read_bytes() == b"old"


def test_direct_merge_writes_its_pngs_in_the_core(tmp_path, monkeypatch):
    """combine_direct's PNGs are written by the core: the Python writer writes only the JSON."""
    inp = _inputs(tmp_path, n_images=4, height=40, width=50, seed=5)
    calls = []
    real = direct.atomic_write_bytes
    monkeypatch.setattr(direct, "atomic_write_bytes",
                        lambda path, data: (calls.append(str(path)), real(path, data)))
    args = (inp["semseg"], inp["instseg"], inp["images"], inp["categories"])
    out = tmp_path / "out"
    direct.combine_direct(*args, str(out), str(out) + ".json", 0.5, 0.5, 64 * 64,
                          max_pixels=10**8)
    assert calls == [str(out) + ".json"]
    assert len(list(out.glob("*.png"))) == 4


def test_direct_merge_into_a_relative_folder(tmp_path, monkeypatch):
    """A relative output folder (made absolute for the core) gets the full path's files."""
    inp = _inputs(tmp_path, n_images=3, height=40, width=50, seed=3)
    monkeypatch.chdir(tmp_path)
    calls = []
    real = direct.atomic_write_bytes
    monkeypatch.setattr(direct, "atomic_write_bytes",
                        lambda path, data: (calls.append(str(path)), real(path, data)))
    args = (inp["semseg"], inp["instseg"], inp["images"], inp["categories"])
    direct.combine_direct(*args, "rel", "rel.json", 0.5, 0.5, 64 * 64, max_pixels=10**8)
    assert calls == ["rel.json"]  # the PNGs by the core
    monkeypatch.undo()
    merge_files(*args, str(tmp_path / "full"), str(tmp_path / "full.json"))
    assert _files(tmp_path / "rel") == _files(tmp_path / "full") != {}


def test_merge_script_never_imports_numpy(tmp_path):
    """The point of the direct path: ``tools/merge.py`` on well-formed inputs runs without
    importing numpy (its import is a third of the script's time on 200 images)."""
    inp = _inputs(tmp_path, n_images=2, height=30, width=40, seed=4)
    out = tmp_path / "out"
    # The installed package, as a user runs the script (a PYTHONPATH of the checkout would
    # shadow it with a source tree that has no compiled core in CI).
    r = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "tools" / "merge.py"),
                        "--semseg_json_file", inp["semseg"], "--instseg_json_file",
                        inp["instseg"], "--images_json_file", inp["images"],
                        "--categories_json_file", inp["categories"], "--panoptic_json_file",
                        str(out) + ".json", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")]
    assert "panoseg.merge.direct" in imported
    assert [m for m in imported if m.split(".")[0] == "numpy"] == []
    assert len(list(out.iterdir())) == 2


def test_core_limits_spelled_in_util_limits():
    from panoseg import _core
    from panoseg.util import limits

    assert (limits.CORE_MAX_SIDE, limits.CORE_MAX_PIXELS) == (_core.MAX_SIDE, _core.MAX_PIXELS)



def test_dumps_from_encoded_items_equals_json_dumps():
    """The panoptic JSON is joined from annotations encoded on the worker threads: the same
    bytes as json.dumps of the whole, wherever the key stands and whatever else is there."""
    anns = [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 3, "score": 0.1}]},
            {"image_id": "x\u00e9\"", "file_name": "b\\.png", "segments_info": []}]
    for obj in ({"images": [], "annotations": anns},
                {"annotations": anns, "info": {"\u00e9": [1.5, None, True]}, "images": [{}]},
                {"k\u00e9y": "v", "annotations": []}):
        encoded = {"annotations": [json.dumps(a) for a in obj["annotations"]]}
        assert direct._dumps(obj, encoded) == json.dumps(obj)
