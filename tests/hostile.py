"""Builders for the hostile-input catalogue (tests/test_hostile_input.py): small datasets for
every subcommand, PNGs with lying headers, decompression bombs made in milliseconds, and the
checks every hostile case shares (exit status, one line, nothing written outside the output
folder)."""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pngtools import build_png, chunk, pillow_refuses, png_chunks  # noqa: F401  (re-exported)

from panoseg.cli import main
from panoseg.testing.synthetic import make_dataset, make_merge_inputs

#: What a message must never show: Python's or C's internals instead of what is wrong.
LEAKS = ("Traceback", "internal error", "ssize_t", "C long", "NoneType", "object is not",
         "object has no attribute", "unhashable", "KeyError", "TypeError", "IndexError",
         "RecursionError", "maximum recursion", "[Errno", "bad_alloc", "not subscriptable",
         "()")

#: The subcommands that read panoptic PNGs, and those that write files named by input data.
PNG_READERS = ["eval", "tune", "viz", "panoptic-to-semantic", "panoptic-to-detection",
               "2ch-to-panoptic"]
NAME_WRITERS = ["merge", "2ch-to-panoptic", "detection-to-panoptic", "panoptic-to-semantic",
                "viz"]
CONVERSIONS = ("2ch-to-panoptic", "panoptic-to-detection", "detection-to-panoptic",
               "panoptic-to-semantic")


# ---------------------------------------------------------------------------------------------
# PNG and zlib builders
# ---------------------------------------------------------------------------------------------
def header(width, height, depth=8, color=2, compression=0, filter_method=0, interlace=0):
    return struct.pack(">IIBBBBB", width, height, depth, color, compression, filter_method,
                       interlace)


def zeros_zlib(n: int, piece: int = 1 << 24) -> bytes:
    """A zlib stream of ``n`` zero bytes, made in milliseconds whatever ``n``: after a full
    flush deflate's output depends on the input only, so one compressed 16 MB piece is repeated
    and the Adler-32 of n zeros, ((n mod 65521) << 16) | 1, is patched in."""
    if n <= 2 * piece:
        return zlib.compress(bytes(n), 9)
    k, rest = divmod(n, piece)
    c = zlib.compressobj(9)
    first = c.compress(bytes(piece)) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(bytes(piece)) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(bytes(rest)) + c.flush()
    return first + middle * (k - 1) + last[:-4] + struct.pack(">I", ((n % 65521) << 16) | 1)


def bomb_png(width, height, inflated: int) -> bytes:
    """An RGB PNG whose header says width x height over a stream inflating to ``inflated``
    bytes (the image itself needs (3 * width + 1) * height)."""
    return build_png([(b"IHDR", header(width, height)), (b"IDAT", zeros_zlib(inflated)),
                      (b"IEND", b"")])


def honest_png(width, height, interlace=False) -> bytes:
    """A valid all-zero RGB PNG of any size (its stream is exactly the image's bytes)."""
    if not interlace:
        raw = (3 * width + 1) * height
    else:  # the seven Adam7 passes, each row with its filter byte
        raw = 0
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
            w, h = len(range(x0, width, dx)), len(range(y0, height, dy))
            if w and h:
                raw += (3 * w + 1) * h
    return build_png([(b"IHDR", header(width, height, interlace=int(interlace))),
                      (b"IDAT", zeros_zlib(raw)), (b"IEND", b"")])


def header_only_png(width, height) -> bytes:
    """The ~10 KB PNG whose header lies about its size (10 KB of zeros behind it)."""
    return build_png([(b"IHDR", header(width, height)),
                      (b"IDAT", zlib.compress(bytes(10_000))), (b"IEND", b"")])


# ---------------------------------------------------------------------------------------------
# one command on a small dataset
# ---------------------------------------------------------------------------------------------
def read_json(path):
    return json.loads(Path(path).read_text())


def edit_json(path, fn):
    data = read_json(path)
    fn(data)
    Path(path).write_text(json.dumps(data))


@dataclass
class Run:
    """One subcommand ready to run: ``argv`` writes only under ``out``; ``jsons`` are its input
    JSON files by role; ``pngs`` the PNG files it reads for the first image; ``image_id`` and
    ``png_name`` name that image."""

    cmd: str
    argv: list[str]
    root: Path
    out: Path
    jsons: dict[str, Path] = field(default_factory=dict)
    pngs: list[Path] = field(default_factory=list)
    image_id: int = 1
    png_name: str = ""
    # (json role, images-list key, annotations key): where an image's file_name comes from
    names_in: str = ""
    sized_in: str = ""

    @property
    def prog(self) -> str:
        return ("panoseg convert " if self.cmd in CONVERSIONS else "panoseg ") + self.cmd


def _two_channel(folder: Path, ds_json: Path, categories):
    """2-channel PNGs (category, instance) for the images of a generated dataset."""
    data = read_json(ds_json)
    things = [c["id"] for c in categories if c["isthing"]]
    stuff = [c["id"] for c in categories if not c["isthing"] and c["id"] <= 255]
    folder.mkdir(parents=True, exist_ok=True)
    for img in data["images"]:
        h, w = img["height"], img["width"]
        arr = np.zeros((h, w, 3), np.uint8)
        arr[:, : w // 2, 0] = stuff[0]
        arr[: h // 2, w // 2:, 0] = things[0]
        arr[: h // 2, w // 2:, 1] = 1
        arr[h // 2:, w // 2:, 0] = things[0]
        arr[h // 2:, w // 2:, 1] = 2
        Image.fromarray(arr).save(folder / (os.path.splitext(img["file_name"])[0] + ".png"))
    images = folder.parent / "images2ch.json"
    images.write_text(json.dumps({"images": data["images"]}))
    return images


_TEMPLATES: dict = {}


def _drop_templates():
    for base, _ in _TEMPLATES.values():
        shutil.rmtree(base, ignore_errors=True)


atexit.register(_drop_templates)


def make_run(cmd: str, root: Path, height=24, width=32, n_images=2, workers=2) -> Run:
    """``cmd`` on a fresh small dataset in ``root / 'in'``; outputs under ``root / 'out'``.
    Each dataset is generated once per session and copied (the tests edit their copy)."""
    key = (cmd, height, width, n_images, workers)
    if key not in _TEMPLATES:
        base = Path(tempfile.mkdtemp(prefix="panoseg-hostile-"))
        _TEMPLATES[key] = (base, _make_run(cmd, base, height, width, n_images, workers))
    base, tpl = _TEMPLATES[key]
    root = Path(root)
    shutil.copytree(base / "in", root / "in", symlinks=True)

    def moved(value):
        return type(value)(str(value).replace(str(base), str(root)))
    return dataclasses.replace(
        tpl, argv=[moved(a) for a in tpl.argv], root=root, out=moved(tpl.out),
        jsons={k: moved(v) for k, v in tpl.jsons.items()}, pngs=[moved(p) for p in tpl.pngs])


def _make_run(cmd: str, root: Path, height, width, n_images, workers) -> Run:
    root = Path(root)
    inp, out = root / "in", root / "out"
    common = ["--no-progress", "--workers", str(workers)]
    if cmd in ("merge", "tune"):
        mi = make_merge_inputs(inp, n_images=n_images, height=height, width=width, seed=1)
        merge_args = ["--semseg-json-file", mi.semseg_json, "--instseg-json-file",
                      mi.instseg_json, "--images-json-file", mi.images_json,
                      "--categories-json-file", mi.categories_json]
        jsons = {"semseg": Path(mi.semseg_json), "instseg": Path(mi.instseg_json),
                 "images": Path(mi.images_json), "categories": Path(mi.categories_json),
                 "gt": Path(mi.gt.gt_json)}
        first = read_json(mi.gt.gt_json)["annotations"][0]
        if cmd == "merge":
            return Run(cmd, ["merge", *merge_args, "--json-out", str(out / "pan.json"), *common],
                       root, out, jsons, [], first["image_id"], first["file_name"],
                       names_in="images", sized_in="images")
        return Run(cmd, ["tune", *merge_args, "--gt-json-file", mi.gt.gt_json,
                         "--confidence-thr", "0.5", "--overlap-thr", "0.5",
                         "--stuff-area-limit", "0", "--json-out", str(out / "tune.json"),
                         *common],
                   root, out, jsons, [Path(mi.gt.gt_folder) / first["file_name"]],
                   first["image_id"], first["file_name"], names_in="gt", sized_in="gt")
    ds = make_dataset(inp, n_images=n_images, height=height, width=width, seed=1)
    first = read_json(ds.gt_json)["annotations"][0]
    iid, name = first["image_id"], first["file_name"]
    gt_png = Path(ds.gt_folder) / name
    if cmd == "eval":
        return Run(cmd, ["eval", "--gt-json-file", ds.gt_json, "--pred-json-file", ds.pred_json,
                         "--json-out", str(out / "results.json"), *common],
                   root, out, {"gt": Path(ds.gt_json), "pred": Path(ds.pred_json)},
                   [gt_png, Path(ds.pred_folder) / name], iid, name, names_in="pred",
                   sized_in="gt")
    if cmd == "viz":
        return Run(cmd, ["viz", "--panoptic-json-file", ds.gt_json, "--output-folder",
                         str(out / "pictures"),
                         *common], root, out, {"input": Path(ds.gt_json)}, [gt_png], iid, name,
                   names_in="input", sized_in="input")
    if cmd == "panoptic-to-semantic":
        return Run(cmd, ["convert", cmd, "--input-json-file", ds.gt_json,
                         "--semantic-seg-folder", str(out / "semantic"), *common],
                   root, out, {"input": Path(ds.gt_json)}, [gt_png], iid, name,
                   names_in="input", sized_in="input")
    if cmd == "panoptic-to-detection":
        return Run(cmd, ["convert", cmd, "--input-json-file", ds.gt_json,
                         "--json-out", str(out / "det.json"), *common],
                   root, out, {"input": Path(ds.gt_json)}, [gt_png], iid, name,
                   names_in="input", sized_in="input")
    if cmd == "detection-to-panoptic":
        det = inp / "det.json"
        assert main(["convert", "panoptic-to-detection", "--input-json-file", ds.gt_json,
                     "--json-out", str(det), "--no-progress"]) == 0
        return Run(cmd, ["convert", cmd, "--input-json-file", str(det),
                         "--json-out", str(out / "pan.json"), *common],
                   root, out, {"input": det}, [], iid, name, names_in="input", sized_in="input")
    if cmd == "2ch-to-panoptic":
        cats = read_json(ds.gt_json)["categories"]
        images = _two_channel(inp / "2ch", Path(ds.gt_json), cats)
        (inp / "cats.json").write_text(json.dumps(cats))
        return Run(cmd, ["convert", cmd, "--input-folder", str(inp / "2ch"),
                         "--images-json-file", str(images), "--categories-json-file",
                         str(inp / "cats.json"), "--json-out", str(out / "pan.json"), *common],
                   root, out, {"images": images}, [inp / "2ch" / name], iid, name,
                   names_in="images", sized_in="images")
    raise ValueError(cmd)


# ---------------------------------------------------------------------------------------------
# the checks every case shares
# ---------------------------------------------------------------------------------------------
def snapshot(root: Path, skip: Path) -> dict:
    """Every file and folder under ``root`` outside ``skip``: size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = here / name
            if p == skip:
                continue
            st = p.lstat()
            out[str(p.relative_to(root))] = (p.is_dir(), st.st_size if not p.is_dir() else 0,
                                             st.st_mtime_ns if not p.is_dir() else 0)
    return out


def leftovers(out: Path) -> list:
    """Temporary or partial files left in the output folder."""
    if not out.exists():
        return []
    return sorted(str(p) for p in out.rglob("*")
                  if p.name.startswith(".tmp") or p.name.endswith((".tmp", ".part")))


def one_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(prog + ": error: "), line
    assert line.strip() != prog + ": error:", line
    for leak in LEAKS:
        assert leak not in line, f"{leak!r} in {line!r}"
    assert "\0" not in line
    return line


def expect_error(run: Run, capsys, *needles, code=1, argv=None, outputs=()) -> str:
    """Runs ``run`` in-process: exit ``code``, one line on stderr naming every needle, nothing
    changed outside ``run.out``, no temporary file in it and none of ``outputs`` written."""
    capsys.readouterr()
    before = snapshot(run.root, run.out)
    rc = main(list(argv or run.argv))
    captured = capsys.readouterr()
    assert rc == code, (rc, captured.err)
    line = one_line(captured.err, run.prog)
    for needle in needles:
        assert str(needle) in line, f"{needle!r} not in {line!r}"
    assert snapshot(run.root, run.out) == before
    assert leftovers(run.out) == []
    for path in outputs:
        assert not Path(path).exists(), path
    if os.environ.get("HOSTILE_SHOW"):  # to review the catalogue's messages
        sys.__stderr__.write(f"LINE {os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]}"
                             f"\n    {line}\n")
    return line


def final_outputs(run: Run) -> list:
    """The files a run would write whole (a JSON result), which an error must not leave."""
    return [Path(a) for a in run.argv if a.endswith(".json") and str(run.out) in a]


# ---------------------------------------------------------------------------------------------
# a command in a fresh process: exit status, stderr, peak memory, time
# ---------------------------------------------------------------------------------------------
_SERVER = r"""
import json, os, resource, select, signal, sys, time
import panoseg.cli
import panoseg.convert, panoseg.evaluation, panoseg.merge, panoseg.viz  # noqa: imported once
from panoseg.cli import main

reply = sys.stdout
for request in sys.stdin:
    req = json.loads(request)
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the command, report on the pipes
        try:
            os.close(err_r)
            os.close(res_r)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(err_w, 2)
            if "fsize" in req["limits"]:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: EFBIG
                n = req["limits"]["fsize"]
                resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
            start = time.perf_counter()
            try:
                rc = main(req["argv"])
            except SystemExit as e:
                rc = e.code
            elapsed = time.perf_counter() - start
            sys.stdout.flush()
            sys.stderr.flush()
            hwm = [int(l.split()[1]) for l in open("/proc/self/status")
                   if l.startswith("VmHWM")][0]
            os.write(res_w, json.dumps({"rc": rc, "peak_kb": hwm, "seconds": elapsed}).encode())
        finally:
            os._exit(0)
    os.close(err_w)
    os.close(res_w)
    chunks = {err_r: [], res_r: []}
    deadline = time.monotonic() + req["timeout"]
    open_fds = [err_r, res_r]
    killed = False
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if data:
                chunks[fd].append(data)
            else:
                open_fds.remove(fd)
    _, status = os.waitpid(pid, 0)
    os.close(err_r)
    os.close(res_r)
    err = b"".join(chunks[err_r]).decode(errors="replace")
    result = b"".join(chunks[res_r]).decode()
    if killed:
        result = json.dumps({"rc": None, "peak_kb": None, "seconds": req["timeout"],
                             "died": f"still running after {req['timeout']} s (killed)"})
    elif not result:
        result = json.dumps({"rc": None, "peak_kb": None, "seconds": None,
                             "died": f"the process died (wait status {status})"})
    reply.write(json.dumps({"result": json.loads(result), "stderr": err}) + "\n")
    reply.flush()
"""

_server = None


def _stop_server():
    if _server is not None and _server.poll() is None:
        _server.stdin.close()
        _server.wait(timeout=10)


atexit.register(_stop_server)


def run_in_subprocess(argv, timeout=60, **limits):
    """``panoseg.cli.main(argv)`` in a fresh process: (result dict, stderr).

    The process is forked from a server that imported panoseg once (a fork costs
    milliseconds, an interpreter start a quarter of a second). Its peak is VmHWM, the process's
    own high-water mark. A process still running after ``timeout`` seconds is killed and
    reported as ``rc`` None, as is one that died (an abort)."""
    global _server
    if _server is None or _server.poll() is not None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        _server = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, env=env,
                                   cwd=str(Path(__file__).parent))
    _server.stdin.write(json.dumps({"argv": [str(a) for a in argv], "limits": limits,
                                    "timeout": timeout}) + "\n")
    _server.stdin.flush()
    line = _server.stdout.readline()
    assert line, "the fork server died"
    answer = json.loads(line)
    result, err = answer["result"], answer["stderr"]
    if "died" in result:
        err = f"{result['died']}; stderr: {err[-1500:]}"
    return result, err
