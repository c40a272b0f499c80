"""Outputs stay where they belong (issue 11, points 4 and 5): file names from input data never
write outside the output folder, two images never write one file, output flags are checked
before any work, and write errors are one line naming the file."""
import json
import os
from pathlib import Path

import pytest

from panoseg.cli import main
from panoseg.errors import PanopticFormatError
from panoseg.io.paths import output_path, output_paths, png_output_paths
from panoseg.testing.synthetic import make_dataset, make_merge_inputs
from panoseg.util.atomic import atomic_open, atomic_write_bytes


def files_under(folder) -> set:
    return {str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()}


def edit(path, fn):
    data = json.loads(Path(path).read_text())
    fn(data)
    Path(path).write_text(json.dumps(data))


def one_error_line(capsys, prefix) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix + ": error: "), err
    assert lines[0] != prefix + ": error: "
    return lines[0]


# ---------------------------------------------------------------------------------------------
# the path rule
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, problem", [
    ("../../x.png", "'..' component"),
    ("sub/../../x.png", "'..' component"),
    ("/abs/x.png", "absolute path"),
    ("", "not a non-empty string"),
    ("a\0b.png", "NUL byte"),
    (None, "not a non-empty string"),
    (7, "not a non-empty string"),
    (".", "not to a file inside the output folder"),
])
def test_output_path_refuses(tmp_path, name, problem):
    with pytest.raises(PanopticFormatError, match=problem) as e:
        output_path(tmp_path, name, file="in.json", image_id=3)
    assert e.value.file == "in.json" and e.value.image_id == 3
    assert "\0" not in str(e.value)


def test_output_path_follows_symlinks(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(PanopticFormatError, match="outside|not to a file inside"):
        output_path(out, "link/x.png", file="in.json", image_id=1)


def test_output_path_allows_subfolders(tmp_path):
    assert output_path(tmp_path, "sub/x.png") == os.path.join(str(tmp_path), "sub/x.png")


def test_two_images_one_output(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.png"}]
    with pytest.raises(PanopticFormatError, match="image 1 \\(a.jpg\\)") as e:
        png_output_paths(tmp_path, images, file="in.json")
    assert e.value.image_id == 2 and "would both write" in str(e.value)
    with pytest.raises(PanopticFormatError, match="would both write"):
        output_paths(tmp_path, [(1, "x", "s/x.png"), (2, "y", "s/./x.png")])


# ---------------------------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def merge_inputs(tmp_path):
    return make_merge_inputs(tmp_path / "in", n_images=3, height=32, width=48, seed=1)


def run_merge(inputs, out_json, *extra):
    return main(["merge", "--semseg-json-file", inputs.semseg_json, "--instseg-json-file",
                 inputs.instseg_json, "--images-json-file", inputs.images_json,
                 "--categories-json-file", inputs.categories_json, "--json-out", str(out_json),
                 "--no-progress", "--workers", "2", *extra])


def set_file_name(index, name):
    def fn(data):
        data["images"][index]["file_name"] = name
    return fn


@pytest.mark.parametrize("name, needle", [("../../x.jpg", "'..' component"),
                                          ("ABSOLUTE", "absolute path")])
def test_merge_refuses_names_outside(merge_inputs, tmp_path, capsys, name, needle):
    if name == "ABSOLUTE":
        name = str(tmp_path / "abs" / "x.jpg")
    edit(merge_inputs.images_json, set_file_name(1, name))
    image_id = json.loads(Path(merge_inputs.images_json).read_text())["images"][1]["id"]
    before = files_under(tmp_path)
    out = tmp_path / "run" / "deep" / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert needle in line and "images.json" in line and f"image {image_id}" in line
    assert name in line
    after = files_under(tmp_path)
    assert not [f for f in after - before if f.endswith(".png")]  # no PNG anywhere
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "abs").exists()
    assert not out.exists()


def test_merge_refuses_duplicate_names_before_writing(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    edit(merge_inputs.images_json, set_file_name(2, images[0]["file_name"]))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert f"image {images[0]['id']}" in line and f"image {images[2]['id']}" in line
    assert "would both write" in line
    assert not list((tmp_path / "out").rglob("*.png")) and not out.exists()


def test_merge_same_png_from_two_extensions(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    stem = os.path.splitext(images[0]["file_name"])[0]
    edit(merge_inputs.images_json, set_file_name(1, stem + ".png"))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    assert "would both write" in one_error_line(capsys, "panoseg merge")
    assert not list((tmp_path / "out").rglob("*.png"))


def test_merge_subfolder_names_are_created(merge_inputs, tmp_path, capsys):
    images = json.loads(Path(merge_inputs.images_json).read_text())["images"]
    edit(merge_inputs.images_json, set_file_name(0, "sub/dir/" + images[0]["file_name"]))
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 0
    capsys.readouterr()
    stem = os.path.splitext(images[0]["file_name"])[0]
    assert (tmp_path / "out" / "pan" / "sub" / "dir" / (stem + ".png")).is_file()


# ---------------------------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------------------------
def images_json(tmp_path, names, size=True):
    images = [{"id": k + 1, "file_name": n, **({"height": 4, "width": 5} if size else {})}
              for k, n in enumerate(names)]
    path = tmp_path / "images.json"
    path.write_text(json.dumps({"images": images, "annotations": []}))
    return path


BAD_NAMES = [(["a.jpg", "../../x.jpg"], "'..' component", 2),
             (["/tmp/panoseg-abs-test/x.jpg", "b.jpg"], "absolute path", 1),
             (["a.jpg", "b.jpg", "a.jpg"], "would both write", 3)]


@pytest.mark.parametrize("names, needle, bad_id", BAD_NAMES)
def test_detection_to_panoptic_refuses(tmp_path, capsys, names, needle, bad_id):
    src = images_json(tmp_path, names)
    out = tmp_path / "o" / "p" / "pan.json"
    assert main(["convert", "detection-to-panoptic", "--input-json-file", str(src),
                 "--json-out", str(out), "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert detection-to-panoptic")
    assert needle in line and "images.json" in line and f"image {bad_id}" in line
    assert not list(tmp_path.rglob("*.png")) and not out.exists()
    assert not Path("/tmp/panoseg-abs-test").exists()


@pytest.mark.parametrize("names, needle, bad_id", BAD_NAMES)
def test_2ch_to_panoptic_refuses(tmp_path, capsys, names, needle, bad_id):
    src = images_json(tmp_path, names, size=False)
    (tmp_path / "two_channel").mkdir()
    out = tmp_path / "o" / "p" / "pan.json"
    assert main(["convert", "2ch-to-panoptic", "--input-folder", str(tmp_path / "two_channel"),
                 "--images-json-file", str(src), "--json-out", str(out), "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert 2ch-to-panoptic")
    assert needle in line and "images.json" in line and f"image {bad_id}" in line
    assert not list(tmp_path.rglob("*.png")) and not out.exists()


def test_detection_to_panoptic_subfolder(tmp_path, capsys):
    src = images_json(tmp_path, ["sub/a.jpg", "b.jpg"])
    out = tmp_path / "o" / "pan.json"
    assert main(["convert", "detection-to-panoptic", "--input-json-file", str(src),
                 "--json-out", str(out), "--no-progress"]) == 0
    assert files_under(tmp_path / "o" / "pan") == {"sub/a.png", "b.png"}


# ---------------------------------------------------------------------------------------------
# eval's output flags: checked before the evaluation
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds"), n_images=3, height=32, width=48)


def run_eval(dataset, *extra):
    return main(["eval", "--gt-json-file", dataset.gt_json, "--pred-json-file",
                 dataset.pred_json, "--no-progress", *extra])


def test_json_out_into_missing_folder_is_created(dataset, tmp_path, capsys):
    out = tmp_path / "a" / "b" / "r.json"
    assert run_eval(dataset, "--json-out", str(out), "--per-image",
                    str(tmp_path / "c" / "p.jsonl")) == 0
    capsys.readouterr()
    assert out.is_file() and (tmp_path / "c" / "p.jsonl").is_file()


@pytest.mark.parametrize("flag", ["--json-out", "--per-image"])
def test_output_file_onto_a_folder(dataset, tmp_path, capsys, flag):
    assert run_eval(dataset, flag, str(tmp_path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the evaluation: no table
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("panoseg eval: error: ")
    assert flag in lines[0] and str(tmp_path) in lines[0] and "is a folder" in lines[0]


@pytest.mark.parametrize("flag", ["--json-out", "--per-image"])
def test_output_file_under_a_file(dataset, tmp_path, capsys, flag):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for target in (blocker / "r.json", blocker / "deeper" / "r.json"):
        assert run_eval(dataset, flag, str(target)) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and flag in lines[0] and str(target) in lines[0]
        assert "Traceback" not in captured.err
    assert blocker.read_text() == "x"


def test_report_onto_a_file(dataset, tmp_path, capsys):
    target = tmp_path / "report.html"
    target.write_text("keep")
    assert run_eval(dataset, "--report", str(target)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip()
    assert "\n" not in line and "--report" in line and "not a folder" in line
    assert target.read_text() == "keep"


def test_report_into_an_existing_folder(dataset, tmp_path, capsys):
    (tmp_path / "rep").mkdir()
    assert run_eval(dataset, "--report", str(tmp_path / "rep")) == 0
    capsys.readouterr()
    assert (tmp_path / "rep" / "index.html").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_output_folder_not_writable(dataset, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert run_eval(dataset, "--json-out", str(locked / "sub" / "r.json")) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and "--json-out" in captured.err
        assert len(captured.err.strip().splitlines()) == 1
    finally:
        locked.chmod(0o700)


def test_merge_json_out_onto_folder_before_work(merge_inputs, tmp_path, capsys):
    (tmp_path / "taken.json").mkdir()
    assert run_merge(merge_inputs, tmp_path / "taken.json") == 1
    line = one_error_line(capsys, "panoseg merge")
    assert "--json-out" in line and "is a folder" in line
    assert not (tmp_path / "taken").exists()  # no PNG folder made


def test_viz_output_folder_is_a_file(dataset, tmp_path, capsys):
    target = tmp_path / "pictures"
    target.write_text("x")
    assert main(["viz", "--panoptic-json-file", dataset.gt_json, "--output-folder", str(target),
                 "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg viz")
    assert "--output-folder" in line and "not a folder" in line


# ---------------------------------------------------------------------------------------------
# OSError while writing: one line naming the file
# ---------------------------------------------------------------------------------------------
def test_atomic_write_errors_name_the_target(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(target, b"abc")
    assert e.value.filename == str(target) and "No space left" in e.value.strerror
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    with pytest.raises(OSError) as e:
        atomic_write_bytes(tmp_path / "missing" / "x.png", b"abc")
    assert e.value.filename == str(tmp_path / "missing" / "x.png")
    with pytest.raises(OSError) as e:
        with atomic_open(tmp_path / "missing" / "x.json") as f:
            f.write("x")
    assert e.value.filename == str(tmp_path / "missing" / "x.json")


def test_disk_full_in_merge_is_one_line(merge_inputs, tmp_path, capsys, monkeypatch):
    import panoseg.util.atomic as atomic
    from panoseg.merge import direct

    def full(fd, data):
        raise OSError(28, "No space left on device")

    # The core writes the PNGs itself where it can, and hands back what it fails to write
    # (test_disk_full_in_the_cores_merge_writes_is_one_line); here it hands every PNG back, so
    # that the Python writer's own failure is what is tested.
    core_merge = direct._core.merge_scanned_png
    monkeypatch.setattr(direct._core, "merge_scanned_png",
                        lambda *args, out_path=None, **kw: core_merge(*args, **kw))
    monkeypatch.setattr(atomic.os, "write", full)
    out = tmp_path / "out" / "pan.json"
    assert run_merge(merge_inputs, out) == 1
    line = one_error_line(capsys, "panoseg merge")
    assert "No space left on device" in line and ".png" in line and "Errno" not in line
    assert not list((tmp_path / "out").rglob("*.png"))


def test_disk_full_in_the_cores_merge_writes_is_one_line(merge_inputs, tmp_path):
    """The core writing the PNGs, a write() that fails (a file size limit: EFBIG, SIGXFSZ
    ignored by Python) is handed back to the Python writer, which fails too and names the PNG:
    one line, exit 1, no temporary file left."""
    import resource
    import subprocess
    import sys

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "panoseg", "merge", "--semseg-json-file",
           merge_inputs.semseg_json, "--instseg-json-file", merge_inputs.instseg_json,
           "--images-json-file", merge_inputs.images_json, "--categories-json-file",
           merge_inputs.categories_json, "--json-out", str(out / "pan.json"), "--no-progress"]

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))

    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit,
                          cwd=str(tmp_path))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("panoseg merge: error: ") and ".png" in lines[0], lines[0]
    assert "File too large" in lines[0] and "Traceback" not in proc.stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]
    assert not (out / "pan.json").exists()


# ---------------------------------------------------------------------------------------------
# panoptic-to-semantic, infer
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, needle", [("../x.png", "'..' component"),
                                          ("/tmp/panoseg-abs-test/x.png", "absolute path")])
def test_panoptic_to_semantic_refuses(dataset, tmp_path, capsys, name, needle):
    data = json.loads(Path(dataset.gt_json).read_text())
    data["annotations"][1]["file_name"] = name
    src = tmp_path / "pan.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "sem"
    assert main(["convert", "panoptic-to-semantic", "--input-json-file", str(src),
                 "--segmentations-folder", dataset.gt_folder, "--semantic-seg-folder", str(out),
                 "--no-progress"]) == 1
    line = one_error_line(capsys, "panoseg convert panoptic-to-semantic")
    assert needle in line and "pan.json" in line
    assert not list(tmp_path.rglob("*.png")) and not Path("/tmp/panoseg-abs-test").exists()


def test_infer_output_paths_checked_before_any_write(tmp_path):
    pytest.importorskip("mxnet")
    from panoseg.infer.images import ImageItem
    from panoseg.infer.pipeline import predict_items

    out = tmp_path / "out"
    for items, needle in (
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "../../b.jpg", "b.jpg")], "'..'"),
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "/abs/b.jpg", "b.jpg")], "absolute"),
            ([ImageItem(1, "a.jpg", "a.jpg"), ImageItem(2, "a.png", "a.png")], "both write")):
        with pytest.raises(PanopticFormatError, match=needle) as e:
            predict_items(None, items, out)  # refused before the predictor is used
        assert e.value.image_id == 2
        assert not out.exists()


def test_memory_error_is_one_line(monkeypatch, capsys, tmp_path):
    """A MemoryError anywhere in a command: one line, exit 1, no traceback (issue 11, point 5)."""
    from panoseg.cli import main
    from panoseg.evaluation import job
    from panoseg.testing.synthetic import make_dataset

    ds = make_dataset(tmp_path, n_images=2, height=16, width=16)

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(job.EvaluationJob, "evaluate_chunk", no_memory)
    assert main(["eval", "--gt-json-file", str(ds.gt_json), "--pred-json-file", str(ds.pred_json),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("panoseg eval: error: out of memory") and err.count("\n") == 1
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# special files as outputs: FIFOs, pipes, character devices are written directly, never renamed
# over; block devices and sockets are refused (issue: /dev/null replaced by a regular file)
# ---------------------------------------------------------------------------------------------
def _reader(path_or_fd, into: list):
    """A thread reading a FIFO (a path) or a pipe (a descriptor) to its end into ``into``."""
    import threading

    def read():
        if isinstance(path_or_fd, int):
            chunks = []
            while True:
                chunk = os.read(path_or_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            into.append(b"".join(chunks))
        else:
            with open(path_or_fd, "rb") as f:
                into.append(f.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _is_fifo(path) -> bool:
    import stat

    return stat.S_ISFIFO(os.lstat(path).st_mode)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def unix_socket(tmp_path):
    import socket

    path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    yield path
    sock.close()


def test_atomic_writers_write_a_fifo_directly(fifo, tmp_path):
    got = []
    thread = _reader(fifo, got)
    atomic_write_bytes(fifo, b"bytes")
    thread.join(10)
    thread = _reader(fifo, got)
    with atomic_open(fifo, "w") as f:
        f.write("text")
    thread.join(10)
    assert got == [b"bytes", b"text"]
    assert _is_fifo(fifo) and os.listdir(tmp_path) == ["fifo"]  # no temporary file left


def test_atomic_writers_write_a_pipe_by_its_fd_path():
    def write_bytes(path):
        atomic_write_bytes(path, b"through /dev/fd")

    def write_text(path):
        with atomic_open(path, "w") as f:
            f.write("through /dev/fd")

    for write in (write_bytes, write_text):
        r, w = os.pipe()
        try:
            got = []
            thread = _reader(r, got)
            write(f"/dev/fd/{w}")
            os.close(w)
            w = -1
            thread.join(10)
            assert got == [b"through /dev/fd"]
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


def test_atomic_writers_refuse_a_socket(unix_socket):
    import stat

    def write_text():
        with atomic_open(unix_socket, "w") as f:
            f.write("x")

    for write in (lambda: atomic_write_bytes(unix_socket, b"x"), write_text):
        with pytest.raises(OSError, match="not a regular file \\(a socket\\)") as e:
            write()
        assert e.value.filename == str(unix_socket)
    assert stat.S_ISSOCK(os.lstat(unix_socket).st_mode)


def test_check_output_accepts_streams_refuses_sockets(fifo, unix_socket):
    from panoseg.cli.common import OutputPathError, check_output

    check_output("--json-out", fifo)
    if os.path.exists("/dev/null"):
        check_output("--json-out", "/dev/null")  # not "the folder /dev is not writable"
    with pytest.raises(OutputPathError, match="--json-out .*sock: is not a regular file"):
        check_output("--json-out", unix_socket)


def test_eval_json_out_fifo(dataset, fifo, capsys):
    got = []
    thread = _reader(fifo, got)
    assert run_eval(dataset, "--json-out", str(fifo)) == 0
    thread.join(10)
    assert "All" in json.loads(got[0]) and _is_fifo(fifo)
    assert "error" not in capsys.readouterr().err


def test_eval_json_out_pipe_fd_and_per_image(dataset, capsys):
    r, w = os.pipe()
    try:
        got = []
        thread = _reader(r, got)
        assert run_eval(dataset, "--json-out", f"/dev/fd/{w}", "--per-image",
                        f"/dev/fd/{w}") == 0  # a stream takes both outputs
        os.close(w)
        w = -1
        thread.join(10)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    text = got[0].decode()
    assert text.count('"image_id"') >= 3 and '"All"' in text
    assert "error" not in capsys.readouterr().err


def test_eval_json_out_character_device(dataset, capsys):
    """A terminal (a pty's slave, a character device like /dev/null, made for the test so that
    a regression could not replace the machine's /dev/null): written directly, left as it is."""
    import stat
    import threading

    master, slave = os.openpty()
    name = os.ttyname(slave)
    got = []

    def drain():  # until the slave side is closed (EIO)
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            got.append(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        assert run_eval(dataset, "--json-out", name, "--per-image", name) == 0
        assert stat.S_ISCHR(os.stat(name).st_mode)
    finally:
        os.close(slave)
        thread.join(10)
        os.close(master)
    assert b'"All"' in b"".join(got)
    assert "error" not in capsys.readouterr().err


def test_check_output_refuses_a_descriptor_that_is_not_open(tmp_path):
    """``--json-out /dev/fd/N`` of a closed descriptor, or a link to /proc/self/fd/1 (as
    /dev/stdout) while stdout is closed: refused before any work, never renamed over."""
    from panoseg.cli.common import OutputPathError, check_output

    r, w = os.pipe()
    os.close(r)
    os.close(w)
    for path in (f"/dev/fd/{w}", f"/proc/self/fd/{w}"):
        with pytest.raises(OutputPathError, match="names a file descriptor that is not open"):
            check_output("--json-out", path)
        with pytest.raises(OSError, match="a descriptor that is not open; refusing"):
            atomic_write_bytes(path, b"x")
    link = tmp_path / "closed"
    os.symlink(f"/proc/self/fd/{w}", link)
    with pytest.raises(OSError, match="a descriptor that is not open; refusing"):
        with atomic_open(link, "w") as f:
            f.write("x")
    assert os.path.islink(link) and os.listdir(tmp_path) == ["closed"]


def test_eval_json_out_socket_is_refused(dataset, unix_socket, capsys):
    assert run_eval(dataset, "--json-out", str(unix_socket)) == 1
    line = one_error_line(capsys, "panoseg eval")
    assert "--json-out" in line and str(unix_socket) in line and "not a regular file" in line


def test_eval_json_out_stdout_link_into_a_file(dataset, tmp_path):
    """``--json-out /dev/stdout > out.txt`` (here a link of the test's own to /proc/self/fd/1,
    which /dev/stdout is, so that a regression could not replace the machine's): the tables,
    then the JSON, in the file; the link untouched (a rename would replace it). With stdout
    closed, the same link is refused before any work."""
    import subprocess
    import sys

    link = tmp_path / "stdout"
    os.symlink("/proc/self/fd/1", link)
    out = tmp_path / "out.txt"
    argv = [sys.executable, "-m", "panoseg", "eval", "--gt-json-file", dataset.gt_json,
            "--pred-json-file", dataset.pred_json, "--no-progress", "--json-out", str(link)]
    with open(out, "wb") as f:
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    table_end = text.index("Semantic |")
    assert json.loads(text[text.index("{", table_end):])["n_images"] == 3
    assert os.readlink(link) == "/proc/self/fd/1"
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
                          pass_fds=(), close_fds=True,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 1
    assert b"names a file descriptor that is not open" in proc.stderr, proc.stderr
    assert os.readlink(link) == "/proc/self/fd/1"


def test_eval_json_out_stdout_socket(dataset, tmp_path):
    """stdout a socket (a service's, to journald): its descriptor is written all the same."""
    import socket
    import subprocess
    import sys

    link = tmp_path / "stdout"
    os.symlink("/proc/self/fd/1", link)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        proc = subprocess.Popen([sys.executable, "-m", "panoseg", "eval", "--gt-json-file",
                                 dataset.gt_json, "--pred-json-file", dataset.pred_json,
                                 "--no-progress", "--json-out", str(link)],
                                stdout=theirs, stderr=subprocess.PIPE)
        theirs.close()
        chunks = []
        while True:
            chunk = ours.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b'"n_images": 3' in b"".join(chunks)


def test_eval_output_to_a_pipe_whose_reader_left(dataset, tmp_path, capsys):
    """A pipe output whose reader went away: one line naming it, not a silent exit (a
    BrokenPipeError is what the command line takes for its stdout's reader leaving)."""
    r, w = os.pipe()
    os.close(r)
    try:
        assert run_eval(dataset, "--per-image", f"/dev/fd/{w}") == 1
    finally:
        os.close(w)
    line = one_error_line(capsys, "panoseg eval")
    assert f"/dev/fd/{w}" in line and "its reader went away" in line


def test_fifo_output_without_a_reader_says_it_waits(dataset, fifo, capsys):
    import threading
    import time

    got = []

    def read_later():
        time.sleep(1.0)
        with open(fifo, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=read_later, daemon=True)
    thread.start()
    assert run_eval(dataset, "--json-out", str(fifo)) == 0
    thread.join(10)
    assert "All" in json.loads(got[0])
    assert f"waiting for a reader of the FIFO {fifo}" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# an output never replaces an input
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def fresh(tmp_path):
    """A dataset of one's own: a failing test may overwrite it."""
    return make_dataset(tmp_path / "ds", n_images=2, height=16, width=16)


def snapshot(*paths) -> dict:
    out = {}
    for path in paths:
        path = Path(path)
        for p in ([path] if path.is_file() else sorted(path.rglob("*"))):
            out[str(p)] = p.read_bytes() if p.is_file() else None
    return out


def refused(capsys, prefix, *needles) -> str:
    """The one error line of a command refused before any work, holding every needle."""
    captured = capsys.readouterr()
    assert captured.out == ""  # no table: refused before any work
    lines = [x for x in captured.err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix + ": error: "), captured.err
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("flag, target", [
    ("--json-out", "pred_json"), ("--json-out", "./PRED_DIR/../pred.json"),
    ("--per-image", "gt_json"), ("--json-out", "symlink"), ("--json-out", "hardlink")])
def test_eval_output_file_is_an_input_file(fresh, tmp_path, capsys, flag, target):
    path = {"pred_json": fresh.pred_json, "gt_json": fresh.gt_json,
            "./PRED_DIR/../pred.json": os.path.join(fresh.pred_folder, "..", "pred.json")
            }.get(target)
    if target == "symlink":
        path = tmp_path / "link.json"
        path.symlink_to(fresh.pred_json)
    elif target == "hardlink":
        path = tmp_path / "hard.json"
        os.link(fresh.pred_json, path)
    before = snapshot(fresh.gt_json, fresh.pred_json)
    assert run_eval(fresh, flag, str(path)) == 1
    in_flag = "--gt-json-file" if target == "gt_json" else "--pred-json-file"
    line = refused(capsys, "panoseg eval", flag, in_flag, str(path), "input")
    assert "refusing to overwrite" in line
    assert snapshot(fresh.gt_json, fresh.pred_json) == before


@pytest.mark.parametrize("which", ["gt", "pred", "explicit"])
def test_eval_report_into_a_png_folder(fresh, capsys, which):
    folder = fresh.gt_folder if which == "gt" else fresh.pred_folder
    extra = ["--pred-folder", fresh.pred_folder] if which == "explicit" else []
    before = snapshot(folder)
    assert run_eval(fresh, "--report", folder, *extra) == 1
    in_flag = "--gt-folder" if which == "gt" else "--pred-folder"
    line = refused(capsys, "panoseg eval", "--report", in_flag)
    assert ("(default, from" in line) == (which != "explicit")
    assert snapshot(folder) == before


def test_eval_report_elsewhere_still_works(fresh, tmp_path, capsys):
    assert run_eval(fresh, "--report", str(tmp_path / "rep"), "--gt-folder",
                    fresh.gt_folder) == 0
    capsys.readouterr()
    assert (tmp_path / "rep" / "report.json").is_file()


@pytest.mark.parametrize("explicit", [False, True])
def test_viz_output_folder_is_the_png_folder(fresh, capsys, explicit):
    extra = ["--segmentations-folder", fresh.gt_folder] if explicit else []
    before = snapshot(fresh.gt_folder)
    assert main(["viz", "--panoptic-json-file", fresh.gt_json, "--output-folder",
                 fresh.gt_folder + "/.", "--no-progress", *extra]) == 1
    refused(capsys, "panoseg viz", "--output-folder", "--segmentations-folder",
            "refusing to overwrite the inputs")
    assert snapshot(fresh.gt_folder) == before


def test_viz_output_folder_is_the_compare_folder(fresh, capsys):
    assert main(["viz", "--panoptic-json-file", fresh.gt_json, "--compare-json-file",
                 fresh.pred_json, "--output-folder", fresh.pred_folder, "--no-progress"]) == 1
    refused(capsys, "panoseg viz", "--output-folder", "--compare-folder")


def test_compare_report_into_a_pred_folder(fresh, capsys):
    assert main(["compare", "--gt-json-file", fresh.gt_json, "--pred", fresh.pred_json,
                 "--pred", f"{fresh.pred_json}:{fresh.gt_folder}", "--report", fresh.gt_folder,
                 "--no-progress"]) == 1
    refused(capsys, "panoseg compare", "--report", "the input folder of --")
    assert main(["compare", "--gt-json-file", fresh.gt_json, "--pred", fresh.gt_json,
                 "--pred", fresh.pred_json, "--json-out", fresh.pred_json,
                 "--no-progress"]) == 1
    refused(capsys, "panoseg compare", "--json-out", "--pred")


def test_merge_json_out_is_an_input(merge_inputs, capsys):
    before = snapshot(merge_inputs.images_json)
    assert run_merge(merge_inputs, merge_inputs.images_json) == 1
    refused(capsys, "panoseg merge", "--json-out", "--images-json-file")
    assert snapshot(merge_inputs.images_json) == before


def test_convert_default_png_folder_is_the_input_folder(tmp_path, capsys):
    """2ch-to-panoptic --input-folder X --json-out X.json: the PNGs would go into X."""
    src = images_json(tmp_path, ["a.jpg"], size=False)
    (tmp_path / "two").mkdir()
    assert main(["convert", "2ch-to-panoptic", "--input-folder", str(tmp_path / "two"),
                 "--images-json-file", str(src), "--json-out", str(tmp_path / "two.json"),
                 "--no-progress"]) == 1
    refused(capsys, "panoseg convert 2ch-to-panoptic", "--segmentations-folder (default, from "
            "--json-out)", "--input-folder")


@pytest.mark.parametrize("argv, needles", [
    (["infer", "--images", "{d}/imgs", "--json-out", "{d}/imgs.json"],
     ["--out-folder (default, from --json-out)", "--images"]),
    (["infer", "--images", "{d}/list.txt", "--json-out", "{d}/list.txt"],
     ["--json-out", "--images"]),
    (["infer", "--images", "{d}/imgs", "--images-json", "{d}/gt.json", "--json-out", "{d}/o.json",
      "--timings-json", "{d}/gt.json"], ["--timings-json", "--images-json"]),
    (["train-semantic", "--train-images", "{d}/imgs", "--train-json", "{d}/gt.json",
      "--out-dir", "{d}/gt"], ["--out-dir", "--train-folder (default, from --train-json)"]),
    (["train-semantic", "--train-images", "{d}/imgs", "--train-json", "{d}/gt.json",
      "--out-dir", "{d}/x", "--json-out", "{d}/gt.json"], ["--json-out", "--train-json"]),
    (["tune", "--semseg-json-file", "{d}/s.json", "--instseg-json-file", "{d}/i.json",
      "--images-json-file", "{d}/im.json", "--categories-json-file", "{d}/c.json",
      "--gt-json-file", "{d}/gt.json", "--json-out", "{d}/s.json"],
     ["--json-out", "--semseg-json-file"]),
    (["convert", "panoptic-to-detection", "--input-json-file", "{d}/gt.json", "--json-out",
      "{d}/gt.json"], ["--json-out", "--input-json-file"]),
    (["convert", "detection-to-panoptic", "--input-json-file", "{d}/gt.json", "--json-out",
      "{d}/o.json", "--segmentations-folder", "{d}/x", "--categories-json-file",
      "{d}/o.json"], ["--json-out", "--categories-json-file"]),
    (["convert", "panoptic-to-semantic", "--input-json-file", "{d}/gt.json",
      "--semantic-seg-folder", "{d}/gt"],
     ["--semantic-seg-folder", "--segmentations-folder (default, from --input-json-file)"]),
], ids=lambda v: " ".join(v[:2]) if isinstance(v, list) and v and v[0][0] != "-" else None)
def test_every_command_refuses_outputs_onto_inputs(tmp_path, argv, needles):
    """Checked from the parsed flags alone (infer and train need MXNet to run)."""
    from panoseg.cli import build_parser
    from panoseg.cli.common import OutputPathError, check_outputs

    (tmp_path / "imgs").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "list.txt").write_text("a.jpg\n")
    args = build_parser().parse_args([a.replace("{d}", str(tmp_path)) for a in argv])
    with pytest.raises(OutputPathError) as e:
        check_outputs(args)
    for needle in needles:
        assert needle in str(e.value), (needle, str(e.value))


# ---------------------------------------------------------------------------------------------
# two outputs on one file: a usage error
# ---------------------------------------------------------------------------------------------
def usage_error(capsys, argv) -> str:
    from panoseg.cli import build_parser

    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_two_output_files_on_one_path(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["eval", "--gt-json-file", dataset.gt_json, "--pred-json-file", dataset.pred_json]
    line = usage_error(capsys, base + ["--json-out", str(out / "same.txt"), "--per-image",
                                       str(out / "." / "same.txt")])
    assert "--json-out and --per-image name the same file" in line
    with pytest.raises(SystemExit) as e:
        main(base + ["--json-out", str(out / "same.txt"), "--per-image", str(out / "same.txt")])
    assert e.value.code == 2 and not out.exists()  # refused before anything was made
    capsys.readouterr()
    line = usage_error(capsys, base + ["--json-out", str(out / "rep"), "--report",
                                       str(out / "rep")])
    assert "--json-out" in line and "also the folder of --report" in line


@pytest.mark.parametrize("name", ["report.json", "index.html"])
def test_output_file_that_report_writes(dataset, tmp_path, capsys, name):
    rep = tmp_path / "rep"
    for command in (["eval", "--gt-json-file", dataset.gt_json, "--pred-json-file",
                     dataset.pred_json],
                    ["compare", "--gt-json-file", dataset.gt_json, "--pred", dataset.pred_json,
                     "--pred", dataset.pred_json]):
        line = usage_error(capsys, command + ["--json-out", str(rep / name), "--report",
                                              str(rep)])
        assert "--json-out" in line and "--report" in line and name in line
    # another name in the report folder is fine
    assert run_eval(dataset, "--json-out", str(rep / "results.json"), "--report", str(rep)) == 0
    capsys.readouterr()
    assert {"results.json", "report.json", "index.html"} <= set(os.listdir(rep))


def test_infer_timings_into_intermediate(tmp_path, capsys):
    line = usage_error(capsys, ["infer", "--images", str(tmp_path), "--json-out",
                                str(tmp_path / "o.json"), "--save-intermediate",
                                str(tmp_path / "mid"), "--timings-json",
                                str(tmp_path / "mid" / "images.json")])
    assert "--timings-json" in line and "--save-intermediate" in line


# ---------------------------------------------------------------------------------------------
# viz: a bad PNG after some pictures were written says what stays
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, written", [(1, 1), (0, 0)])
def test_viz_error_says_which_pictures_stay(fresh, tmp_path, capsys, bad, written):
    anns = json.loads(Path(fresh.pred_json).read_text())["annotations"]
    (Path(fresh.pred_folder) / anns[bad]["file_name"]).write_bytes(b"garbage")
    out = tmp_path / "vizbad"
    assert main(["viz", "--panoptic-json-file", fresh.gt_json, "--compare-json-file",
                 fresh.pred_json, "--output-folder", str(out), "--no-progress",
                 "--workers", "1"]) == 1
    line = one_error_line(capsys, "panoseg viz")
    assert "not a PNG file" in line
    if written:
        assert f"{written} of 2 pictures were written to {out} before the error" in line
    else:
        assert "written" not in line
    assert len(os.listdir(out)) == written  # complete pictures only, no temporary file


def test_error_line_keeps_notes():
    from panoseg.cli.common import error_line

    e = ValueError("bad\nthing")
    e.__notes__ = ["2 files\nwritten"]
    assert error_line(e) == "bad thing; 2 files written"
