"""Helpers of the evaluation benchmarks by image size (test_eval_sizes.py, test_eval_breakdown.py):
the generated datasets (cached), the machine description and the environment knobs.

Environment:

* ``PANOSEG_BENCH_DIR``: where the generated datasets are kept between runs (default: pytest's
  temporary directory, i.e. regenerated each session).
* ``PANOSEG_BENCH_SCALE``: multiplies every image count (e.g. ``0.1`` for a quick run; at least
  2 images per size).
* ``PANOSEG_BENCH_SIZES``: a comma-separated subset of ``640x480,2048x1024,4096x2048``.
* ``PANOSEG_BENCH_ROUNDS``: timed rounds per tool (best of; default 3; panopticapi: 1).
* ``PANOSEG_BENCH_OUT``: the results JSON (default ``benchmarks/results/eval_sizes.json``).
"""
from __future__ import annotations

import datetime
import json
import os
import platform
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (images, height, width): the sizes of issue 12.
SIZES = {
    "640x480": (200, 480, 640),
    "2048x1024": (40, 1024, 2048),
    "4096x2048": (16, 2048, 4096),
}

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "bmi2", "fma", "avx512f", "avx512bw", "avx512vl",
              "avx512_vbmi", "avx512_vbmi2", "avx512_vnni", "pclmulqdq", "vpclmulqdq", "sha_ni",
              "asimd", "sve")


def scale() -> float:
    return float(os.environ.get("PANOSEG_BENCH_SCALE", "1"))


def n_images(n: int) -> int:
    return max(2, round(n * scale()))


def selected_sizes() -> list:
    wanted = os.environ.get("PANOSEG_BENCH_SIZES")
    if not wanted:
        return list(SIZES)
    names = [s.strip() for s in wanted.split(",") if s.strip()]
    unknown = [s for s in names if s not in SIZES]
    if unknown:
        raise ValueError(f"PANOSEG_BENCH_SIZES: unknown sizes {unknown}; known: {list(SIZES)}")
    return names


def rounds() -> int:
    return int(os.environ.get("PANOSEG_BENCH_ROUNDS", "3"))


def out_path() -> str:
    return os.environ.get("PANOSEG_BENCH_OUT") or os.path.join(HERE, "results",
                                                               "eval_sizes.json")


@dataclass
class SizeSet:
    name: str
    n_images: int
    height: int
    width: int
    root: str

    @property
    def gt_json(self):
        return os.path.join(self.root, "gt.json")

    @property
    def pred_json(self):
        return os.path.join(self.root, "pred.json")

    @property
    def gt_folder(self):
        return os.path.join(self.root, "gt")

    @property
    def pred_folder(self):
        return os.path.join(self.root, "pred")

    def subset(self, k: int):
        """(gt json, pred json) of the first ``k`` images, written next to the full set (the PNG
        folders are the full set's: pass them explicitly)."""
        out = []
        for path, kind in ((self.gt_json, "gt"), (self.pred_json, "pred")):
            sub = os.path.join(self.root, f"{kind}_first{k}.json")
            if not os.path.exists(sub):
                with open(path) as f:
                    data = json.load(f)
                data["annotations"] = data["annotations"][:k]
                if "images" in data:
                    data["images"] = data["images"][:k]
                tmp = sub + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(data, f)
                os.replace(tmp, sub)
            out.append(sub)
        return tuple(out)


def dataset(name: str, base_dir: str) -> SizeSet:
    """The generated set of one size (generated once; kept under ``base_dir``)."""
    from panoseg.testing.synthetic import make_dataset

    n, h, w = SIZES[name]
    n = n_images(n)
    root = os.path.join(base_dir, f"{w}x{h}_n{n}_seed0")
    marker = os.path.join(root, ".complete")
    if not os.path.exists(marker):
        make_dataset(root, n_images=n, height=h, width=w, seed=0)
        with open(marker, "w") as f:
            f.write("ok\n")
    return SizeSet(name, n, h, w, root)


def base_dir(tmp_path_factory) -> str:
    d = os.environ.get("PANOSEG_BENCH_DIR")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    return str(tmp_path_factory.getbasetemp() / "eval_sizes")


def machine() -> dict:
    """CPU model, SIMD flags, cores, date: what a README table must say."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("unknown", "x86_64", ""):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    return {
        "cpu": model,
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "cores": cores,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores available, SIMD: {' '.join(m['simd']) or 'none'}; "
            f"Python {m['python']}; {m['date']}; 1-min load average at start "
            f"{m['loadavg_1m']:.2f}")


def fmt_s(seconds) -> str:
    if seconds is None:
        return "n/a"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def write_json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
