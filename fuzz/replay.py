"""Runs harnesses over corpus files without atheris: the form used against the ASan + UBSan
build of the core (.ci/sanitize.sh), and to reproduce a crash.

    python fuzz/replay.py                      # every harness over its committed corpus
    python fuzz/replay.py png DIR_OR_FILE ...  # one harness over these inputs

Prints each input's name before running it (a sanitizer abort then names the culprit); exits
non-zero when any input raised what its harness does not accept.
"""
import importlib
import os
import sys
import time
import traceback

import _common

HARNESSES = ("png", "eval", "rle", "json", "merge", "paste", "png_files")


def inputs(paths):
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if os.path.isfile(full):
                    yield full
        elif os.path.isfile(path):
            yield path


def replay(name: str, paths, verbose: bool = False) -> int:
    test_one_input = importlib.import_module(f"fuzz_{name}").test_one_input
    failures = n = 0
    start = time.perf_counter()
    for path in inputs(paths):
        if verbose:
            print(f"[{name}] {path}", flush=True)
        with open(path, "rb") as f:
            data = f.read()
        n += 1
        try:
            test_one_input(data)
        except Exception:
            failures += 1
            print(f"FAIL [{name}] {path}", flush=True)
            traceback.print_exc()
    print(f"[{name}] {n} inputs, {failures} failed, {time.perf_counter() - start:.1f} s",
          flush=True)
    return failures


def main(argv) -> int:
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    if not argv:
        return int(sum(replay(h, [_common.corpus_dir(h)], verbose) for h in HARNESSES) > 0)
    name, paths = argv[0], argv[1:] or [_common.corpus_dir(argv[0])]
    if name not in HARNESSES:
        sys.exit(f"unknown harness {name!r}; one of {', '.join(HARNESSES)}")
    return int(replay(name, paths, verbose) > 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
