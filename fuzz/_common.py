"""Shared plumbing of the fuzz harnesses (see README.md).

Every harness is a module with ``test_one_input(data: bytes)`` that catches exactly the errors
its API documents for bad input and lets anything else escape (TypeError, IndexError,
RecursionError, MemoryError, a failed invariant's AssertionError, a crash). :func:`main` runs it
under atheris; ``replay.py`` runs the same function over corpus files without atheris (the form
used against the ASan + UBSan build of the core).
"""
from __future__ import annotations

import contextlib
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def corpus_dir(name: str) -> str:
    """The committed seed corpus of harness ``name`` (e.g. ``"png"``)."""
    return os.path.join(CORPUS, name)


class Reader:
    """Reads fixed-size fields off the fuzz input; past its end every field reads as zeros, so
    any input parses (the fuzzer never wastes runs on framing)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk + bytes(n - len(chunk))

    def bytes(self, n: int) -> bytes:
        """Up to ``n`` bytes, as many as are left (not padded)."""
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk

    def unpack(self, fmt: str):
        fmt = "<" + fmt
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def u8(self) -> int:
        return self.unpack("B")[0]

    def u16(self) -> int:
        return self.unpack("H")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]


def canonical_masks(offsets, intervals) -> list:
    """Interval masks (CSR) as one (k, 2) array of runs per mask with touching runs joined:
    the same pixels always give the same arrays (kernels may or may not join runs that meet,
    e.g. at the end of a row)."""
    out = []
    for k in range(len(offsets) - 1):
        pairs = intervals[2 * offsets[k]:2 * offsets[k + 1]].reshape(-1, 2)
        if len(pairs) > 1:
            keep = np.ones(len(pairs), bool)
            keep[1:] = pairs[1:, 0] != pairs[:-1, 1]
            pairs = np.stack([pairs[keep, 0], pairs[np.r_[keep[1:], True], 1]], axis=1)
        out.append(pairs)
    return out


def same_masks(a, b) -> bool:
    """Whether two CSR interval mask sets, ``(offsets, intervals)``, hold the same pixels."""
    ca, cb = canonical_masks(*a), canonical_masks(*b)
    return len(ca) == len(cb) and all(np.array_equal(x, y) for x, y in zip(ca, cb))


_ACTIVE = False


class Outcomes:
    """Coverage for code atheris cannot see: the compiled core is not instrumented, so a harness
    tells libFuzzer which outcome an input had (``outcomes.note("kBadId:gt")``). Each label
    known up front gets a function of its own, instrumented: an input that reaches a new outcome
    covers new code and is kept in the corpus. Outside the fuzzer (replay) it does nothing."""

    def __init__(self, labels):
        self.labels = list(labels)
        self._funcs = None

    def note(self, label: str) -> None:
        if not _ACTIVE:
            return
        if self._funcs is None:
            import atheris

            self._funcs = {}
            for k, name in enumerate(self.labels):
                scope = {}
                exec(compile(f"def outcome():\n    return {k}\n", f"<outcome {name}>", "exec"),
                     scope)
                self._funcs[name] = atheris.instrument_func(scope["outcome"])
        func = self._funcs.get(label)
        if func is not None:
            func()


#: Labels of every CoreError an input can end in: ``code:side``.
CORE_CODES = ("kBadId", "kDuplicateId", "kUnknownId", "kIdTooLarge", "kBadCategory", "kBadLabel",
              "kBadIntervals", "kBadBox", "kBadMask", "kPngSizeMismatch", "kPngBadFilter",
              "kRleBadCharacter", "kRleTruncated", "kRleNegativeCount", "kRleWrongTotal",
              "kBadArgument")
CORE_SIDES = (None, "gt", "pred", "instance", "stuff", "segment", "mask", "pixel")
CORE_LABELS = [f"{c}:{s}" for c in CORE_CODES for s in CORE_SIDES]


def core_label(error) -> str:
    """The outcome label of a ValueError from the core (``code:side``) or a plain one."""
    code = getattr(error, "code", None)
    return f"{code}:{getattr(error, 'side', None)}" if code else "ValueError"


def main(module_name: str, test_one_input) -> None:
    """atheris entry point: ``python fuzz/fuzz_<name>.py [libFuzzer flags] [corpus dirs]``.

    Without a corpus directory on the command line the committed seeds of the harness are used
    (read only: new inputs then go nowhere; give a writable directory first to keep them).
    Python code of panoseg is instrumented for coverage. The compiled core is not (no clang): run
    the corpus against the ASan + UBSan core with ``replay.py``.
    """
    import atheris

    global _ACTIVE
    _ACTIVE = True
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(corpus_dir(module_name))
    # The harness's own branches count as coverage too (its callees in panoseg are instrumented
    # on import; the compiled core is not).
    atheris.Setup(argv, atheris.instrument_func(test_one_input))
    atheris.Fuzz()


def instrument(active: bool):
    """Context manager around a harness's imports: with ``active`` (the harness runs as the
    fuzzer's main module) panoseg's modules imported inside it are instrumented for atheris'
    coverage; otherwise (replay.py, pytest) it does nothing and atheris is not needed."""
    if not active:
        return contextlib.nullcontext()
    import atheris

    return atheris.instrument_imports(include=["panoseg"])
