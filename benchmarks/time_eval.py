"""Times ONE panoptic-quality evaluator in this (fresh) process; prints one JSON line.

    python benchmarks/time_eval.py --tool {panoseg,hotcoco,panopticapi,inflate} \\
        --threads {all,1,2,N} --gt-json G --pred-json P [--rounds 3] [--warmup 1]

Printed (stdout, last line): ``{"tool", "threads", "workers", "best_s", "all_s": [...],
"pq": {"All"|"Things"|"Stuff": {"pq", "sq", "rq", "n"}}, "per_class": {cat: [pq, sq, rq]},
"peak_rss_mb", "base_rss_mb", "children_peak_rss_mb", ...}``.

Imports and ``--warmup`` untimed runs (which also warm the page cache) happen before the timed
rounds; ``best_s`` is the best of ``--rounds`` wall times (``time.perf_counter``) of the whole
call (JSON loading included, as a user of ``pq_compute`` pays it).

* ``panoseg``: ``panoseg.pq_compute(gt, pred, workers=N)`` (``all``: ``workers=None``); with
  ``--threads 1+2``, one thread and two alternately, round after round, in this one process
  (``best_1_s``: one thread's best, ``best_s``: two threads'), and after each round a control
  (``control_1_s`` / ``control_2_s``: SHA-256 of a cache-resident 64 KB block, on one thread
  and the same on each of two at once): what the machine itself gives two busy threads.
* ``hotcoco``: ``hotcoco.panoptic.pq_compute``; its thread count is ``RAYON_NUM_THREADS``, which
  must be set before the process starts: with ``--threads`` other than ``all`` this script
  re-executes itself with the variable set when the environment does not already say so.
  Its printed table goes to /dev/null (stdout is redirected during the call).
* ``panopticapi``: ``panopticapi.evaluation.pq_compute`` (a process pool, one process per core);
  with ``--threads 1`` its ``pq_compute_multi_core`` is replaced by ``pq_compute_single_core``
  run in this process (same statistics, no pool).
* ``inflate``: the floor: read + inflate every GT and prediction PNG (IDAT chunks joined, no CRC
  checks, inflated in 1 MB pieces into reused memory, the fastest way), on N threads with
  ``panoseg.util.parallel.ordered_map``, results dropped as they come. zlib-ng and isal are
  timed where importable (the standard library's zlib where neither is; with
  ``--all-inflaters`` also it and panoseg's own ``read_inflated``, for information);
  ``best_s`` is the fastest raw inflater, named in ``inflater``.

Peak RSS: ``VmHWM`` of /proc/self/status at the end (``base_rss_mb``: the same before the first
evaluation, after the imports); ``children_peak_rss_mb``: the largest child process' peak
(``getrusage(RUSAGE_CHILDREN)``, panopticapi's pool).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import struct
import sys
import time

TOOLS = ("panoseg", "hotcoco", "panopticapi", "inflate")


# --------------------------------------------------------------------------- small helpers
def proc_status_mb(key: str) -> float:
    """A ``kB`` field of /proc/self/status (VmHWM, VmRSS) in MiB; nan where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def n_workers(threads: str):
    """'all' -> None (the tool's default: all cores), else the integer."""
    return None if threads == "all" else int(threads)


def all_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


def summarize_pq(results: dict) -> tuple:
    """(All/Things/Stuff numbers, per-class [pq, sq, rq]) from a pq_compute-style dict."""
    pq = {}
    for name in ("All", "Things", "Stuff"):
        r = results.get(name, {})
        pq[name] = {k: (float(r[k]) if k != "n" else int(r[k])) for k in ("pq", "sq", "rq", "n")
                    if k in r}
    per_class = {}
    for cat, r in (results.get("per_class") or {}).items():
        per_class[str(cat)] = [float(r.get("pq", 0.0)), float(r.get("sq", 0.0)),
                               float(r.get("rq", 0.0))]
    return pq, per_class


@contextlib.contextmanager
def quiet_stdout():
    """Silences prints of Python code and of compiled code (file descriptor 1) alike."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


# --------------------------------------------------------------------------- the tools
def make_panoseg(args, threads=None):
    import panoseg

    workers = n_workers(args.threads if threads is None else threads)

    def run():
        return panoseg.pq_compute(args.gt_json, args.pred_json, args.gt_folder, args.pred_folder,
                                  workers=workers)

    from panoseg.io.png import decoder_name
    return run, {"decoder": decoder_name(), "version": panoseg.__version__}


def make_hotcoco(args):
    import importlib.metadata as md

    from hotcoco.panoptic import pq_compute

    def run():
        with quiet_stdout():
            return pq_compute(args.gt_json, args.pred_json, args.gt_folder, args.pred_folder)

    return run, {"RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS", ""),
                 "version": md.version("hotcoco")}


def make_panopticapi(args):
    from panopticapi import evaluation

    if args.threads != "all":
        if int(args.threads) != 1:
            raise SystemExit("panopticapi: --threads must be 'all' or 1")

        def single_core(matched, gt_folder, pred_folder, categories):
            return evaluation.pq_compute_single_core(0, matched, gt_folder, pred_folder,
                                                     categories)

        evaluation.pq_compute_multi_core = single_core

    def run():
        with quiet_stdout():
            return evaluation.pq_compute(args.gt_json, args.pred_json, args.gt_folder,
                                         args.pred_folder)

    return run, {}


def png_paths(args):
    """Every (GT, prediction) PNG path pair, in GT order."""
    with open(args.gt_json) as f:
        gt = json.load(f)
    with open(args.pred_json) as f:
        pred = {a["image_id"]: a for a in json.load(f)["annotations"]}
    gt_folder = args.gt_folder or args.gt_json[:-5]
    pred_folder = args.pred_folder or args.pred_json[:-5]
    return [(os.path.join(gt_folder, a["file_name"]),
             os.path.join(pred_folder, pred[a["image_id"]]["file_name"]))
            for a in gt["annotations"]]


def idat_and_size(data: bytes):
    """(joined IDAT payload, expected inflated size) of a PNG: a minimal parse, no CRCs."""
    pos, idat, width = 8, [], None
    height = 0
    n = len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        pos += 12 + length
    return b"".join(idat), (3 * width + 1) * height


def _chunked(module):
    """Inflates in pieces of at most 1 MB, each asked for at its exact size, and returns the byte
    count: the fastest way found to merely inflate (as panoseg's evaluator does). A one-shot
    ``decompress(data, bufsize=...)`` costs 4-6x more here: it grows its buffer as it goes,
    and fresh pages cost 2.6 us per 4 KB page fault on this VM."""
    def inflate(data, expected):
        d = module.decompressobj()
        total = 0
        while True:
            # The output size asked for matters: zlib-ng sizes its buffer by it.
            out = d.decompress(data, min(1 << 20, expected - total + 1))
            total += len(out)
            data = d.unconsumed_tail
            if d.eof or not (data or out):
                return total
    return inflate


def inflaters(everything: bool = False):
    """name -> inflate(data, expected) -> bytes inflated: zlib-ng and isal where importable; the
    standard library's zlib only where neither is (or with ``everything``)."""
    out = {}
    try:
        from zlib_ng import zlib_ng
        out["zlib-ng"] = _chunked(zlib_ng)
    except ImportError:
        pass
    try:
        from isal import isal_zlib
        out["isal"] = _chunked(isal_zlib)
    except ImportError:
        pass
    if everything or not out:
        import zlib
        out["zlib"] = _chunked(zlib)
    return out


def make_inflate(args):
    from panoseg.io.png import ZLIB_BACKEND, read_inflated
    from panoseg.util.parallel import ordered_map

    pairs = png_paths(args)
    workers = n_workers(args.threads)

    def raw(decompress):
        def one(path):
            with open(path, "rb") as f:
                data = f.read()
            payload, expected = idat_and_size(data)
            n = decompress(payload, expected)
            if n != expected:
                raise ValueError(f"{path}: {n} bytes inflated, {expected} expected")
            # dropped at once, as the evaluator would

        def run():
            for _ in ordered_map(lambda p: (one(p[0]), one(p[1])), pairs, workers):
                pass
        return run

    def via_panoseg():
        for _ in ordered_map(lambda p: (read_inflated(p[0]) and None,
                                        read_inflated(p[1]) and None), pairs, workers):
            pass

    variants = {name: raw(fn) for name, fn in inflaters(args.all_inflaters).items()}
    if args.all_inflaters:
        variants[f"panoseg.read_inflated({ZLIB_BACKEND})"] = via_panoseg
    return variants, {}


# --------------------------------------------------------------------------- main
CONTROL_BLOCK = bytes(range(256)) * 256  # 64 KB: stays in a core's own caches


def control_work(n: int = 300) -> None:
    """~10-20 ms of SHA-256 over a 64 KB block (hashlib lets go of the GIL for it)."""
    import hashlib
    for _ in range(n):
        hashlib.sha256(CONTROL_BLOCK).digest()


def control_time(threads: int) -> float:
    """Wall time of control_work on ``threads`` threads at once (each does it whole)."""
    import threading
    others = [threading.Thread(target=control_work) for _ in range(threads - 1)]
    t0 = time.perf_counter()
    for t in others:
        t.start()
    control_work()
    for t in others:
        t.join()
    return time.perf_counter() - t0


def timed(fn, rounds: int, warmup: int):
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def measure(args) -> dict:
    base_rss = None
    out = {"tool": args.tool, "threads": args.threads,
           "workers": all_cores() if args.threads in ("all", "1+2") else int(args.threads)}
    if args.tool == "inflate":
        variants, info = make_inflate(args)
        base_rss = proc_status_mb("VmHWM")
        per_variant = {}
        for name, fn in variants.items():
            times, _ = timed(fn, args.rounds, args.warmup)
            per_variant[name] = {"best_s": min(times), "all_s": times}
        raw_only = {k: v for k, v in per_variant.items() if not k.startswith("panoseg.")}
        best = min(raw_only, key=lambda k: raw_only[k]["best_s"])
        out.update(best_s=raw_only[best]["best_s"], all_s=raw_only[best]["all_s"],
                   inflater=best, variants=per_variant, pq=None, per_class=None)
    elif args.threads == "1+2":
        # One thread and two, round after round in this one process: the machine's speed
        # drifts by +-20% between processes (and runs), which a ratio of two processes' times
        # carries whole; interleaved, both see the same machine.
        (one, info), (two, _) = make_panoseg(args, "1"), make_panoseg(args, "2")
        base_rss = proc_status_mb("VmHWM")
        for _ in range(args.warmup):
            one(), two()
        # With each round's CPU time (all threads): how much more CPU the same work costs
        # with both threads running, and how busy they kept the cores.
        # And the machine's own factor in the same rounds: a control with nothing shared but
        # the machine (control_work: cache-resident hashing, no memory traffic, no locks), on
        # one thread and on two at once.
        t1, t2, c1, c2, k1, k2 = [], [], [], [], [], []
        for _ in range(args.rounds):
            for fn, times, cpu in ((one, t1, c1), (two, t2, c2)):
                t0, p0 = time.perf_counter(), time.process_time()
                results = fn()
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - p0)
            k1.append(control_time(1))
            k2.append(control_time(2))
        pq, per_class = summarize_pq(results)
        out.update(workers=2, best_s=min(t2), all_s=t2, best_1_s=min(t1), all_1_s=t1,
                   all_cpu_s=c2, all_1_cpu_s=c1, control_1_s=k1, control_2_s=k2, pq=pq,
                   per_class=per_class)
    else:
        maker = {"panoseg": make_panoseg, "hotcoco": make_hotcoco,
                 "panopticapi": make_panopticapi}[args.tool]
        fn, info = maker(args)
        base_rss = proc_status_mb("VmHWM")
        times, results = timed(fn, args.rounds, args.warmup)
        pq, per_class = summarize_pq(results)
        out.update(best_s=min(times), all_s=times, pq=pq, per_class=per_class)
    out.update(info)
    out.update(peak_rss_mb=proc_status_mb("VmHWM"), base_rss_mb=base_rss,
               children_peak_rss_mb=children_peak_mb(), rounds=args.rounds,
               warmup=args.warmup)
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tool", required=True, choices=TOOLS)
    p.add_argument("--threads", default="all",
                   help="'all', a number of threads, or (panoseg) '1+2': one thread and two, "
                        "alternating round by round")
    p.add_argument("--gt-json", required=True)
    p.add_argument("--pred-json", required=True)
    p.add_argument("--gt-folder", default=None)
    p.add_argument("--pred-folder", default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--all-inflaters", action="store_true",
                   help="inflate: also time the standard library's zlib and panoseg's own "
                        "read_inflated (chunk checks and CRCs included), for information")
    args = p.parse_args(argv)
    if args.threads == "1+2" and args.tool != "panoseg":
        p.error("--threads 1+2 is for --tool panoseg")
    if args.threads not in ("all", "1+2"):
        int(args.threads)
    return args


def main(argv=None):
    args = parse_args(argv)
    if (args.tool == "hotcoco" and args.threads != "all"
            and os.environ.get("RAYON_NUM_THREADS") != args.threads):
        # rayon reads its thread count once, when its pool starts: start afresh with it set.
        env = dict(os.environ, RAYON_NUM_THREADS=args.threads)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)]
                  + list(sys.argv[1:] if argv is None else argv), env)
    if args.tool == "hotcoco" and args.threads == "all":
        os.environ.pop("RAYON_NUM_THREADS", None)  # before rayon starts its pool: all cores
    print(json.dumps(measure(args)), flush=True)


if __name__ == "__main__":
    main()
