"""Inputs that are not regular files: a FIFO without a writer never hangs the evaluator (after
``FIFO_WRITER_WAIT_S`` it is named in one error line), a pipe whose writer is there or comes
within that time is read, a device is refused without being opened."""
import json
import os
import sys
import threading
import time

import pytest

import panoseg
from panoseg.cli import main
from panoseg.errors import PanopticFormatError
from panoseg.util import fileio
from panoseg.util.fileio import read_bytes

from conftest import in_thread

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def short_wait(monkeypatch):
    """A FIFO's writer is waited for 0.3 s instead of 30."""
    monkeypatch.setattr(fileio, "FIFO_WRITER_WAIT_S", 0.3)

PNG_A = "000000142238.png"


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    """The default file size limit, whatever the environment says."""
    monkeypatch.delenv("PANOSEG_MAX_FILE_BYTES", raising=False)


def test_fifo_without_writer_is_an_error_not_a_hang(tmp_path, short_wait):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    kind, error = in_thread(lambda: read_bytes(str(fifo)))
    assert kind == "error" and isinstance(error, OSError), error
    assert "FIFO without a writer" in error.strerror and error.filename == str(fifo)


def test_fifo_writer_that_comes_later_is_read(tmp_path, monkeypatch):
    """``mkfifo p; panoseg eval --pred-json-file p & producer > p``: the reader opens first."""
    monkeypatch.setattr(fileio, "FIFO_WRITER_WAIT_S", 10.0)
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    payload = b"y" * 150_000

    def write_later():
        time.sleep(0.3)
        with open(fifo, "wb") as f:  # the reader is waiting: this open does not block
            f.write(payload)

    writer = threading.Thread(target=write_later, daemon=True)
    writer.start()
    assert in_thread(lambda: read_bytes(str(fifo))) == ("ok", payload)
    writer.join(5)


def test_fifo_whose_writer_closes_without_data_reads_as_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "FIFO_WRITER_WAIT_S", 10.0)
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)

    def open_and_close_later():
        time.sleep(0.3)
        open(fifo, "wb").close()

    writer = threading.Thread(target=open_and_close_later, daemon=True)
    writer.start()
    assert in_thread(lambda: read_bytes(str(fifo))) == ("ok", b"")
    writer.join(5)


def test_pipe_with_writer_is_read(tmp_path):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    payload = b"x" * 200_000  # more than a pipe holds: the reader must wait for the rest
    # A writer that is there before the reader opens: a reader that never reads is opened
    # first, so that opening the write end does not wait.
    idle_reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    write_end = os.open(fifo, os.O_WRONLY)

    def write():
        with os.fdopen(write_end, "wb") as f:
            f.write(payload)

    writer = threading.Thread(target=write, daemon=True)
    try:
        writer.start()
        assert in_thread(lambda: read_bytes(str(fifo))) == ("ok", payload)
    finally:
        writer.join(5)
        os.close(idle_reader)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_and_directory_refused(tmp_path):
    for device in ("/dev/zero", "/dev/null"):  # the first would never end
        with pytest.raises(OSError, match="not a regular file or pipe"):
            read_bytes(device)
    with pytest.raises(IsADirectoryError):
        read_bytes(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        read_bytes(str(tmp_path / "missing"))


def test_eval_with_fifo_png_fails_in_one_line(sample_copy, capsys, short_wait):
    path = sample_copy / "pred" / PNG_A
    path.unlink()
    os.mkfifo(path)
    kind, error = in_thread(lambda: panoseg.pq_compute(sample_copy / "gt.json",
                                                       sample_copy / "pred.json", workers=2))
    assert kind == "error" and isinstance(error, PanopticFormatError), error
    assert PNG_A in str(error) and "142238" in str(error) and "FIFO without a writer" in str(error)
    kind, code = in_thread(lambda: main(["eval", "--gt-json-file", str(sample_copy / "gt.json"),
                                         "--pred-json-file", str(sample_copy / "pred.json"),
                                         "--no-progress", "--json-out",
                                         str(sample_copy / "out" / "r.json")]))
    assert (kind, code) == ("ok", 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and PNG_A in err
    assert not (sample_copy / "out" / "r.json").exists()


def test_eval_with_fifo_json_fails_in_one_line(sample_copy, capsys, short_wait):
    gt = sample_copy / "gt.json"
    gt.unlink()
    os.mkfifo(gt)
    kind, code = in_thread(lambda: main(["eval", "--gt-json-file", str(gt), "--pred-json-file",
                                         str(sample_copy / "pred.json"), "--no-progress"]))
    assert (kind, code) == ("ok", 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "gt.json" in err and "FIFO without a writer" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/fd pipes")
def test_eval_reads_json_from_a_pipe(sample_copy):
    """``--pred-json-file <(cat pred.json)``: the shell passes /dev/fd/N, a pipe."""
    read_end, write_end = os.pipe()
    data = (sample_copy / "pred.json").read_bytes()

    def write():
        with os.fdopen(write_end, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        kind, got = in_thread(lambda: panoseg.pq_compute(
            sample_copy / "gt.json", f"/dev/fd/{read_end}", gt_folder=sample_copy / "gt",
            pred_folder=sample_copy / "pred"))
    finally:
        writer.join(5)
        os.close(read_end)
    assert kind == "ok", got
    assert got["All"]["pq"] == 1.0


def test_pipe_longer_than_the_limit_is_an_error(tmp_path):
    """``<(yes)``: a pipe that never ends is refused once it passed the limit, not read until
    memory runs out; what was read is bounded by the limit plus one block."""
    read_end, stop = writing_forever(b"y\n" * 32768)
    try:
        kind, error = in_thread(lambda: read_bytes(f"/dev/fd/{read_end}", 3_000_000))
    finally:
        stop.set()
        os.close(read_end)
    assert kind == "error" and isinstance(error, OSError), error
    assert error.strerror == "more than the limit of 3,000,000 bytes"


@pytest.mark.parametrize("size, ok", [(999, True), (1000, True), (1001, False)])
def test_file_and_pipe_limits_are_exact(tmp_path, size, ok):
    path = tmp_path / "f.bin"
    path.write_bytes(b"z" * size)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as f:
        f.write(b"z" * size)  # < a pipe's capacity: no reader needed
    try:
        for source in (str(path), f"/dev/fd/{read_end}"):
            if ok:
                assert read_bytes(source, 1000) == b"z" * size
            else:
                with pytest.raises(OSError, match="more than the limit of 1,000 bytes"):
                    read_bytes(source, 1000)
    finally:
        os.close(read_end)
    if not ok:  # a regular file is refused from its size, before it is read
        with pytest.raises(OSError, match=f"^.*{size:,} bytes, more than the limit"):
            read_bytes(str(path), 1000)
    assert read_bytes(str(path), size) == b"z" * size
    assert read_bytes(str(path)) == b"z" * size  # the default limit: fileio.MAX_FILE_BYTES


def test_eval_with_oversized_png_and_json_fails_in_one_line(sample_copy, capsys, monkeypatch):
    """A PNG larger than any PNG of ``--max-pixels`` pixels could be, and a JSON above the
    limit: one line each, naming the file, nothing written."""
    png = sample_copy / "pred" / PNG_A
    out = sample_copy / "out" / "r.json"
    argv = ["eval", "--gt-json-file", str(sample_copy / "gt.json"), "--pred-json-file",
            str(sample_copy / "pred.json"), "--no-progress", "--json-out", str(out)]
    from panoseg import _core
    limit = _core.max_png_file_bytes(300_000)  # the images are 640x427: 273,280 pixels
    with open(png, "ab") as f:  # (no chunk holds this: the size alone refuses it)
        f.truncate(limit + 1)
    assert main(argv + ["--max-pixels", "300000"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert PNG_A in err and "more than the limit" in err and "142238" in err, err
    assert not out.exists()
    (sample_copy / "gt" / PNG_A).replace(png)  # a sound PNG again (GT = prediction)
    pred_json = sample_copy / "pred.json"
    with open(pred_json, "a") as f:
        f.write(" " * 10)  # (still the same JSON)
    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", (sample_copy / "gt.json").stat().st_size)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pred.json" in err, err
    assert "cannot read JSON" in err and "more than the limit" in err, err
    assert not out.exists()


def test_limit_must_be_a_non_negative_integer(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="max_bytes must be an integer >= 0"):
            read_bytes(str(tmp_path / "f"), bad)
    assert read_bytes(str(tmp_path / "f"), 0) == b""


def test_default_limit_can_be_raised_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"w" * 100)
    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", 99)
    with pytest.raises(OSError, match=r"more than the limit of 99 bytes \(PANOSEG_MAX_FILE_BYTES\)"):
        read_bytes(str(path))
    monkeypatch.setenv("PANOSEG_MAX_FILE_BYTES", "100")
    assert read_bytes(str(path)) == b"w" * 100


def test_running_out_of_memory_names_the_file(tmp_path, monkeypatch):
    def no_memory(*args):
        raise MemoryError
    monkeypatch.setattr(fileio, "_read", no_memory)
    with pytest.raises(OSError, match="not enough memory to read it") as info:
        read_bytes(str(tmp_path / "big.json"))
    assert info.value.filename == str(tmp_path / "big.json")


def writing_forever(chunk: bytes):
    """A pipe (read end, stop) whose writer thread sends ``chunk`` until stopped."""
    read_end, write_end = os.pipe()
    stop = threading.Event()

    def write():
        try:
            with os.fdopen(write_end, "wb") as f:
                while not stop.is_set():
                    f.write(chunk)
        except OSError:
            pass  # the reader closed its end (also seen by the flush at the close)

    threading.Thread(target=write, daemon=True).start()
    return read_end, stop


def test_head_check_stops_reading_garbage(tmp_path):
    """What ``head_check`` sees: HEAD_BYTES bytes (all of a shorter input); None returns them
    alone, a limit applies to the whole input."""
    seen = []

    def stop(head):
        seen.append(len(head))
        return None

    read_end, halt = writing_forever(b"g" * 4096)
    try:
        data = in_thread(lambda: read_bytes(f"/dev/fd/{read_end}", 10**9, stop))
    finally:
        halt.set()
        os.close(read_end)
    assert data == ("ok", b"g" * fileio.HEAD_BYTES) and seen == [fileio.HEAD_BYTES]
    path = tmp_path / "f"
    path.write_bytes(b"h" * 200_000)
    assert read_bytes(str(path), 10**9, stop) == b"h" * fileio.HEAD_BYTES
    with pytest.raises(OSError, match="200,000 bytes, more than the limit of 150,000 bytes"):
        read_bytes(str(path), 10**9, lambda head: 150_000)
    assert read_bytes(str(path), 10**9, lambda head: 200_000) == b"h" * 200_000
    path.write_bytes(b"short")
    assert read_bytes(str(path), 10**9, stop) == b"short"


def test_eval_stops_at_once_on_endless_garbage(sample_copy, capsys):
    """``--pred-json-file <(yes)`` and a FIFO PNG fed by ``yes``: one error line from the first
    bytes, not after reading gigabytes up to the limit."""
    gt = ["--gt-json-file", str(sample_copy / "gt.json"), "--no-progress"]
    read_end, halt = writing_forever(b"y\n" * 32768)
    try:
        kind, code = in_thread(lambda: main(["eval", *gt, "--pred-json-file",
                                             f"/dev/fd/{read_end}", "--pred-folder",
                                             str(sample_copy / "pred")]))
    finally:
        halt.set()
        os.close(read_end)
    assert (kind, code) == ("ok", 1)
    err = capsys.readouterr().err
    assert "malformed JSON" in err and len(err.strip().splitlines()) == 1, err
    png = sample_copy / "pred" / PNG_A
    png.unlink()
    os.mkfifo(png)
    stop = threading.Event()

    def feed():
        try:
            with open(png, "wb") as f:
                while not stop.is_set():
                    f.write(b"y\n" * 32768)
        except OSError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        kind, code = in_thread(lambda: main(["eval", *gt, "--pred-json-file",
                                             str(sample_copy / "pred.json")]))
    finally:
        stop.set()
    assert (kind, code) == ("ok", 1)
    err = capsys.readouterr().err
    assert "not a PNG file (bad signature)" in err and PNG_A in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_png_longer_than_its_header_allows_is_refused(sample_copy, capsys):
    """A PNG file more than 64 MiB longer than 4 bytes a pixel of the size its IHDR gives is
    refused from its size, by the core's reader and the Python one alike."""
    from panoseg import _core

    png = sample_copy / "pred" / PNG_A
    limit = _core.max_png_file_bytes(640 * 427)
    with open(png, "ab") as f:
        f.truncate(limit)  # trailing bytes after IEND, up to the limit: still read
    assert panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")["All"]["pq"] == 1
    with open(png, "ab") as f:
        f.truncate(limit + 1)
    with pytest.raises(PanopticFormatError, match=f"more than the limit of {limit:,} bytes"):
        panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")


@pytest.mark.parametrize("value", ["0", "-5", "8G", "\u00b2", "1e9"])
def test_a_bad_limit_in_the_environment_is_named(tmp_path, monkeypatch, capsys, value):
    (tmp_path / "f").write_bytes(b"x")
    monkeypatch.setenv("PANOSEG_MAX_FILE_BYTES", value)
    with pytest.raises(ValueError, match="PANOSEG_MAX_FILE_BYTES=.*expected a number of bytes"):
        read_bytes(str(tmp_path / "f"))
    assert main(["eval", "--gt-json-file", str(tmp_path / "f"), "--pred-json-file",
                 str(tmp_path / "f"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "PANOSEG_MAX_FILE_BYTES" in err and len(err.strip().splitlines()) == 1, err


def test_png_with_more_metadata_than_the_limit_is_read_when_raised(sample_copy, monkeypatch):
    """The limit from a PNG's size is 64 MiB over 4 bytes a pixel: a PNG with more ancillary
    data is refused, naming the cause, unless PANOSEG_MAX_FILE_BYTES raises it."""
    import struct
    import zlib

    from panoseg import _core

    png = sample_copy / "pred" / PNG_A
    data = png.read_bytes()
    size = _core.max_png_file_bytes(640 * 427) - len(data) + 1
    text = b"Comment\0" + b"t" * (size - 8 - 12)  # a tEXt chunk of `size` bytes, after IHDR
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(
        ">I", zlib.crc32(b"tEXt" + text))
    png.write_bytes(data[:33] + chunk + data[33:])
    assert png.stat().st_size == _core.max_png_file_bytes(640 * 427) + 1
    with pytest.raises(PanopticFormatError, match="for a PNG of its size .PANOSEG_MAX_FILE_BYTES"):
        panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")
    monkeypatch.setenv("PANOSEG_MAX_FILE_BYTES", str(10**9))
    assert panoseg.pq_compute(sample_copy / "gt.json", sample_copy / "pred.json")["All"]["pq"] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/fd pipes")
def test_merge_reads_json_from_pipes(tmp_path):
    """``panoseg merge --instseg-json-file <(cat instseg.json)``: the direct path leaves a pipe
    to the full path (reading it would drain it), whose result is the same."""
    from panoseg.testing.synthetic import make_merge_inputs

    inputs = make_merge_inputs(tmp_path / "in", n_images=3, height=40, width=50, seed=1)
    data = json.loads(open(inputs.instseg_json).read())
    data[0]["score"] = 1  # an int: the direct path declines it, the full path takes it
    open(inputs.instseg_json, "w").write(json.dumps(data))
    args = ["--semseg-json-file", inputs.semseg_json, "--images-json-file", inputs.images_json,
            "--categories-json-file", inputs.categories_json, "--no-progress"]
    assert main(["merge", *args, "--instseg-json-file", inputs.instseg_json,
                 "--panoptic-json-file", str(tmp_path / "a" / "p.json")]) == 0
    read_end, write_end = os.pipe()

    def write():
        with os.fdopen(write_end, "wb") as f:
            f.write(open(inputs.instseg_json, "rb").read())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        kind, code = in_thread(lambda: main(["merge", *args, "--instseg-json-file",
                                             f"/dev/fd/{read_end}", "--panoptic-json-file",
                                             str(tmp_path / "b" / "p.json")]))
    finally:
        writer.join(5)
        os.close(read_end)
    assert (kind, code) == ("ok", 0)
    a, b = (json.loads((tmp_path / x / "p.json").read_text()) for x in "ab")
    assert a == b
    for ann in a["annotations"]:
        name = ann["file_name"]
        assert (tmp_path / "a" / "p" / name).read_bytes() == (tmp_path / "b" / "p" / name).read_bytes()
