"""What every ``panoseg`` subcommand shares: the parser class that carries the command line's
conventions, the common options and the argparse value types.

The conventions live here once, so that every flag added anywhere inherits them:

* every long flag is accepted as ``--a-b`` and as ``--a_b`` (panopticapi spells its flags with
  underscores); help and usage show the declared spelling only (dashes);
* a usage error (unknown flag, bad value, missing flag, a flag that has no effect without
  another) exits 2 with the *subcommand's* usage, and a "did you mean" hint for a misspelt flag,
  command or choice;
* bad input data exits 1 with one line ``panoseg <cmd>: error: ...`` (:data:`DATA_ERRORS`,
  caught by :func:`panoseg.cli.main`);
* stdout carries the results (tables, a line saying what was written where); stderr carries
  progress bars, timings, notes, warnings and errors (:func:`warn`, :func:`timing`);
* every output flag (``--json-out``, ``--per-image``, ``--report``, an output folder ...) is
  declared with ``type=`` :func:`output_file` or :func:`output_folder`, and checked by
  :func:`check_outputs` *before* the command runs: not a folder where a file goes (nor a file
  where a folder goes), missing parent folders created, the folder writable; a problem exits 1
  with one line naming the flag and the path. Input flags are declared with :func:`input_file`
  / :func:`input_folder` / :func:`input_path` (and a PNG folder derived from a JSON path with
  :meth:`CommandParser.default_folder`): an output on an input exits 1 too
  (:func:`check_not_inputs`); two outputs on one file are a usage error
  (:meth:`CommandParser.writes` names the files an output folder gets);
* ``--workers``, ``--no-progress`` and ``--dask`` mean the same in every command
  (:func:`add_run_options`); the results JSON is written by ``--json-out`` (older names stay
  as aliases).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:
    from typing import Optional

#: Exceptions that mean bad input or settings, not a bug: exit 1 with one line, no traceback
#: (PanopticFormatError is a ValueError; FloatingPointError: a training run that diverged).
DATA_ERRORS = (ValueError, OSError, FloatingPointError, MemoryError)

EPILOG = ("Flags take dashes or underscores alike (--gt-json-file = --gt_json_file). "
          "Exit status: 0 done, 1 bad input (or an internal error), 2 usage error.")

def error_line(e: BaseException) -> str:
    """The one line an error is reported as: its text on one line, never empty, followed by its
    notes (``__notes__``); an ``OSError`` as ``FILE: what happened`` (no ``[Errno N]``)."""
    if isinstance(e, MemoryError):  # its text is usually empty or an allocator's detail
        detail = " ".join(str(e).split())
        return "out of memory" + (f" ({detail})" if detail else "") + \
            ": the input is larger than this machine can hold (see --max-pixels where offered)"
    if isinstance(e, OSError) and e.strerror:
        names = [n for n in (e.filename, e.filename2) if n is not None]
        message = ": ".join([str(n) for n in names] + [e.strerror])
    else:
        message = str(e)
    # Notes (BaseException.add_note, or __notes__ set by hand before 3.11) say what the error
    # left behind, e.g. the outputs written before it.
    notes = [str(n) for n in getattr(e, "__notes__", None) or () if str(n).strip()]
    message = "; ".join([message] + notes) if message else "; ".join(notes)
    message = " ".join(message.split())  # one line, whatever the exception's text
    return message or f"{type(e).__name__} (no message)"


_UNSET = object()  # "flag not given", told apart from a given value equal to the default


def _spellings(option: str) -> tuple:
    """``--a_b`` -> (``--a-b``, ``--a_b``)."""
    body = option[2:]
    return "--" + body.replace("_", "-"), "--" + body.replace("-", "_")


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (COLUMNS if a positive integer, else the width of
    the terminal on stdout, else 80), without importing shutil."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
        columns = columns or 80
    return columns


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser with panoseg's conventions (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._needs = []  # (flag, other flag, value of the other or None)
        self._default_folders = []  # (folder flag, JSON flag whose X.json gives X)
        self._writes = []  # (output folder flag, names of the files the command writes there)
        self._has_subcommands = False

    # ---------------------------------------------------------------- declaring
    def add_subparsers(self, **kwargs):
        self._has_subcommands = True
        kwargs.setdefault("parser_class", CommandParser)
        return super().add_subparsers(**kwargs)

    def _get_formatter(self):
        # argparse makes a formatter for every argument added (to check its metavar), and each
        # asks shutil for the terminal's width: shutil's import is ~2 ms of every command's
        # start-up. The same width, found as shutil finds it, without that import.
        if isinstance(self.formatter_class, type) and \
                issubclass(self.formatter_class, argparse.HelpFormatter):
            return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)
        return super()._get_formatter()

    def needs(self, flag: str, other: str, value: Optional[str] = None) -> None:
        """Declares that ``flag`` has no effect unless ``other`` is given (with ``value`` when
        not None): giving it alone is then a usage error, not silently ignored."""
        self._needs.append((flag, other, value))

    def default_folder(self, folder_flag: str, json_flag: str) -> None:
        """Declares that ``folder_flag``, when not given, is ``X`` if ``json_flag`` is
        ``X.json`` (the command derives it so): the derived folder is then compared with the
        other inputs and outputs (:func:`check_not_inputs`) as if given."""
        self._default_folders.append((folder_flag, json_flag))

    def writes(self, folder_flag: str, *names: str) -> None:
        """Declares the files of fixed ``names`` that the command writes in the output folder
        ``folder_flag`` (``--report``: ``index.html``, ``report.json``): an output file flag
        naming one of them is a usage error, not an output silently replaced by another."""
        self._writes.append((folder_flag, names))

    # ---------------------------------------------------------------- parsing
    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(self._unrecognized(extras))
        return namespace

    def parse_known_args(self, args=None, namespace=None):
        self._add_spellings()
        if args is None:
            args = sys.argv[1:]
        args = list(args)
        if not self._has_subcommands:
            # An unknown flag first: a misspelt --pred_jsn_file must not be reported as a
            # missing --pred-json-file, without the hint.
            unknown = [a for a in self._flags_in(args) if not self._known(a.split("=", 1)[0])]
            if unknown:
                self.error(self._unrecognized(unknown))
        if namespace is None:
            namespace = argparse.Namespace()
        # A sentinel default shows which of the flags in a needs() pair were given at all.
        watched = []
        for flag, other, _ in self._needs:
            for action in (self._action(flag), self._action(other)):
                if action not in watched and not hasattr(namespace, action.dest):
                    watched.append(action)
                    setattr(namespace, action.dest, _UNSET)
        namespace, extras = super().parse_known_args(args, namespace)
        given = set()
        for action in watched:
            if getattr(namespace, action.dest) is _UNSET:
                setattr(namespace, action.dest, action.default)
            else:
                given.add(action.dest)
        for flag, other, value in self._needs:
            if self._action(flag).dest not in given:
                continue
            dest = self._action(other).dest
            if dest not in given or (value is not None and getattr(namespace, dest) != value):
                self.error(f"{flag} has no effect without {other}"
                           + (f" {value}" if value is not None else ""))
        # A subcommand's parser rejects what it does not know itself, so the error shows its
        # own usage (argparse would hand the leftovers up to the top-level parser).
        if extras and not self._has_subcommands:
            self.error(self._unrecognized(extras))
        # The output and input flags given, for check_outputs (before the command runs).
        outputs = list(getattr(namespace, "output_checks", None) or ())
        inputs = list(getattr(namespace, "input_checks", None) or ())
        defaults = list(getattr(namespace, "output_defaults", None) or ())
        for action in self._actions:
            if not action.option_strings:
                continue
            flag = action.option_strings[0]
            kind = _OUTPUT_KINDS.get(action.type)
            value = getattr(namespace, action.dest, None)
            if kind and value is not None:
                outputs.append((flag, value, kind))
            kind = INPUT_KINDS.get(action.type)
            for value in (value if isinstance(value, list) else [value]) if kind else ():
                if value is None:
                    continue
                if kind == "json+folder":  # compare's --pred JSON[:DIR]
                    json_file, folder = value
                    inputs.append((flag, json_file, "file"))
                    folder = folder or _derived_folder(json_file)
                    if folder:
                        inputs.append((f"{flag} (the PNG folder of {json_file})", folder,
                                       "folder"))
                else:
                    inputs.append((flag, value, kind))
        for folder_flag, json_flag in self._default_folders:
            action = self._action(folder_flag)
            if getattr(namespace, action.dest, None) is not None:
                continue
            folder = _derived_folder(getattr(namespace, self._action(json_flag).dest, None))
            if folder:
                entry = (f"{folder_flag} (default, from {json_flag})", folder, "folder")
                (defaults if action.type in _OUTPUT_KINDS else inputs).append(entry)
        namespace.output_checks, namespace.input_checks = outputs, inputs
        namespace.output_defaults = defaults
        if not self._has_subcommands:
            self._check_outputs_apart(namespace)
        return namespace, extras

    def _check_outputs_apart(self, namespace) -> None:
        """A usage error when two output flags would write one file: two output files that
        are the same path, or an output file that a folder flag's command writes itself
        (:meth:`writes`). Streams (``/dev/stdout``...) take any number of writers."""
        from ..util.atomic import output_kind

        files = [(flag, os.fspath(path)) for flag, path, kind in namespace.output_checks
                 if kind == "file"]
        files = [(flag, path) for flag, path in files
                 if "://" not in path and output_kind(path) != "stream"]
        for k, (flag, path) in enumerate(files):
            for other, other_path in files[k + 1:]:
                if same_path(path, other_path):
                    self.error(f"{flag} and {other} name the same file {other_path}; give each "
                               "output its own file")
        folders = [(flag, os.fspath(path)) for flag, path, kind in namespace.output_checks
                   if kind == "folder" and "://" not in os.fspath(path)]
        for flag, path in files:
            for other, folder in folders:
                if same_path(path, folder):
                    self.error(f"{flag} {path} is also the folder of {other}; give each output "
                               "its own path")
        for folder_flag, names in self._writes:
            folder = getattr(namespace, self._action(folder_flag).dest, None)
            if folder is None or "://" in os.fspath(folder):
                continue
            for flag, path in files:
                name = os.path.basename(path)
                if name in names and same_path(os.path.dirname(os.path.abspath(path)), folder):
                    self.error(f"{flag} {path}: {folder_flag} writes its own {name} in "
                               f"{folder}; give {flag} a file outside it")

    @staticmethod
    def _flags_in(args) -> list:
        """The long-flag-looking strings of ``args`` (up to ``--``)."""
        out = []
        for arg in args:
            if arg == "--":
                break
            if arg.startswith("--") and len(arg) > 2 and " " not in arg:
                out.append(arg)
        return out

    def _known(self, flag: str) -> bool:
        """A declared flag, in either spelling, or an abbreviation of one."""
        if flag in self._option_string_actions:
            return True
        return self.allow_abbrev and any(option.startswith(flag)
                                         for option in self._option_string_actions)

    def _action(self, flag: str) -> argparse.Action:
        for spelling in (flag,) + _spellings(flag):
            if spelling in self._option_string_actions:
                return self._option_string_actions[spelling]
        raise KeyError(f"{self.prog}: no flag {flag}")

    def _add_spellings(self) -> None:
        """Registers the other spelling of every long flag (not shown in help)."""
        for action in self._actions:
            for option in list(action.option_strings):
                if not option.startswith("--"):
                    continue
                for twin in _spellings(option):
                    owner = self._option_string_actions.setdefault(twin, action)
                    if owner is not action:  # two flags differing only by - and _: a bug here
                        raise ValueError(f"{self.prog}: {twin} would name two flags")

    def _get_option_tuples(self, option_string):
        # An abbreviation that matches both spellings of one flag is not ambiguous.
        out, seen = [], set()
        for match in super()._get_option_tuples(option_string):
            if id(match[0]) not in seen:
                seen.add(id(match[0]))
                out.append(match)
        return out

    def _check_value(self, action, value):
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as e:
            if isinstance(value, str) and action.choices is not None:
                import difflib  # here: only a usage error needs it (~1.5 ms of start-up)

                close = difflib.get_close_matches(
                    value, [c for c in action.choices if isinstance(c, str)], n=1)
                if close:
                    raise argparse.ArgumentError(
                        action, f"{e.message}; did you mean {close[0]!r}?") from None
            raise

    # ---------------------------------------------------------------- hints
    def suggest(self, flag: str) -> Optional[str]:
        """The declared flag closest to a misspelt one, or None."""
        import difflib

        names = {}
        for action in self._actions:
            for option in action.option_strings:
                if option.startswith("--"):
                    names.setdefault(_spellings(option)[0], option)
        close = difflib.get_close_matches(_spellings(flag)[0] if flag.startswith("--") else flag,
                                          list(names), n=1, cutoff=0.6)
        return names[close[0]] if close else None

    def _unrecognized(self, extras) -> str:
        message = "unrecognized arguments: " + " ".join(extras)
        hints = []
        for arg in extras:
            if arg.startswith("--") and len(arg) > 2:
                flag = arg.split("=", 1)[0]
                guess = self.suggest(flag)
                if guess:
                    hints.append(f"{guess} (for {flag})" if len(extras) > 1 else guess)
        if hints:
            message += "; did you mean " + ", ".join(hints) + "?"
        return message


def add_command(subparsers, name: str, **kwargs) -> CommandParser:
    """``subparsers.add_parser(name, ...)`` that is always a :class:`CommandParser`, even under
    a plain ArgumentParser (argparse has no per-call parser class)."""
    kwargs.setdefault("epilog", EPILOG)
    saved = subparsers._parser_class
    subparsers._parser_class = CommandParser
    try:
        parser = subparsers.add_parser(name, **kwargs)
    finally:
        subparsers._parser_class = saved
    # The innermost command's name prefixes its messages ("panoseg convert 2ch-to-panoptic").
    parser.set_defaults(command_prog=parser.prog)
    add_debug(parser)
    return parser


def add_debug(parser) -> None:
    """``--debug``: an error's Python traceback on stderr too (for a bug report). SUPPRESS as
    default, so a nested command's parser does not reset a parent's ``--debug``."""
    if "--debug" not in parser._option_string_actions:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help="on an error, also print its Python traceback (for bug "
                                 "reports; also PANOSEG_DEBUG=1)")


def add_run_options(parser, *, workers: str = "threads (default: all available cores)",
                    workers_default: Optional[int] = None, workers_aliases=(),
                    progress: str = "no progress bar on stderr", dask: Optional[str] = None):
    """``--workers N``, ``--no-progress`` and, where a Dask runner exists, ``--dask``: the same
    flags with the same meaning in every command. Returns their argument group."""
    g = parser.add_argument_group("running")
    g.add_argument("--workers", *workers_aliases, type=positive_int, default=workers_default,
                   metavar="N", help=workers)
    g.add_argument("--no-progress", action="store_true", help=progress)
    if dask:
        g.add_argument("--dask", type=dask_spec, metavar="ADDRESS|local:N", help=dask)
    return g


# -------------------------------------------------------------------- output

MXNET_MISSING = ("needs MXNet and GluonCV: pip install 'panoseg[mxnet]' (mxnet 1.9.1 wants "
                 "numpy<1.24; for a GPU, an mxnet-cu1xx wheel: see README)")


def mxnet_missing(args) -> bool:
    """True, after saying on stderr what to install, when MXNet or GluonCV is not installed
    (looked up, not imported: only panoseg.infer imports MXNet). The caller exits 2."""
    import importlib.util

    if importlib.util.find_spec("mxnet") is None or importlib.util.find_spec("gluoncv") is None:
        print(f"{args.command_prog}: error: {MXNET_MISSING}", file=sys.stderr)
        return True
    return False


GT_AREA_HELP = ("png (default): a GT segment whose JSON area differs from its pixel count in the "
                "GT PNG is an error; json: compute with the JSON areas, as panopticapi does, "
                "and warn with the count of such segments")


def add_gt_area(p) -> None:
    """``--gt-area {png,json}`` (eval, tune): whose GT segment areas count."""
    p.add_argument("--gt-area", choices=("png", "json"), default="png", help=GT_AREA_HELP)


def add_max_pixels(p) -> None:
    """``--max-pixels N``: the pixel cap of every command that reads or makes images."""
    from ..util.limits import MAX_PIXELS

    p.add_argument("--max-pixels", type=positive_int, default=MAX_PIXELS, metavar="N",
                   help="the largest image accepted, checked from the JSON's sizes and each "
                        "PNG's header before anything is decoded or allocated (default "
                        "%(default)s)")


def warn_area_mismatch(args, n: int) -> None:
    """With ``--gt-area json``: one warning line with the count of disagreeing segments."""
    if args.gt_area == "json" and n:
        warn(args, f"{n} GT segment(s) have a JSON area that differs from their pixel count in "
                   "the GT PNG; computed with the JSON areas (--gt-area json)")


def warn(args, message: str) -> None:
    """A warning on stderr, prefixed by the command: ``panoseg eval: warning: ...``."""
    print(f"{args.command_prog}: warning: {message}", file=sys.stderr)


def timing(message: str) -> None:
    """The closing "N images in T s" line: a diagnostic, on stderr."""
    print(message, file=sys.stderr)


def percent(value: float, n: int = 1, width: int = 5) -> str:
    """A fraction in percent with one decimal, or ``-`` when it averages nothing (``n == 0``):
    a group without categories has no PQ, which 0.0 would misstate."""
    return f"{'-':>{width}s}" if n == 0 or value is None else f"{100 * value:{width}.1f}"


# -------------------------------------------------------------------- value types
# A bad value raises ArgumentTypeError: a usage error (exit 2) that says what was expected.

def _number(text: str, kind):
    try:
        return kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {name}: {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (counts, ``--workers``)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


workers_argument = positive_int  # its name in panoseg.parallel <= 0.1 (deprecated path)


def int_up_to(limit: int):
    """An integer in 1..limit: a count whose work grows with it (``--bootstrap``), so that a
    typo of a few extra digits is a usage error, not a run that never ends."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be <= {limit}")
        return value
    parse.__name__ = f"int up to {limit}"
    return parse


def seed(text: str) -> int:
    """A random seed: an integer in [0, 2^32) (what numpy's generators and the id jitter take),
    checked when the flag is parsed, not after the run."""
    value = _number(text, int)
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError("must be an integer in [0, 2^32)")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1] (thresholds, opacity)."""
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must lie in [0, 1]")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, float)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _number(text, float)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("must be a number >= 0")
    return value


def float_list(kind):
    """A type for comma-separated values, each checked by ``kind`` (e.g. :func:`unit_float`),
    each at most once (a grid that lists one twice would evaluate it twice)."""
    def parse(text: str) -> list:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise argparse.ArgumentTypeError(f"{twice[0]:g} is listed more than once in {text!r}")
        return values

    parse.__name__ = f"list of {kind.__name__}"
    return parse


def output_file(text: str) -> str:
    """An output file (``--json-out``, ``--per-image``, ...): checked by
    :func:`check_outputs` before the command runs (not a folder; parent created, writable)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    return text


def output_folder(text: str) -> str:
    """An output folder (``--report``, ``--output-folder``, ...): checked by
    :func:`check_outputs` before the command runs (not a file; parent created, writable); an
    existing folder is fine."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder path, got an empty string")
    return text


_OUTPUT_KINDS = {output_file: "file", output_folder: "folder"}


def input_file(text: str) -> str:
    """An input file (``--gt-json-file``, ...): no output of the command may be this file
    (:func:`check_not_inputs`, before the command runs)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    return text


def input_folder(text: str) -> str:
    """An input folder (``--gt-folder``, ...): no output folder of the command may be this
    folder (:func:`check_not_inputs`)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder path, got an empty string")
    return text


def input_path(text: str) -> str:
    """An input that is a file or a folder (``infer --images DIR|FILE``)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


#: The kinds of input flags' values; a type not here may register one (compare's ``--pred``
#: JSON[:DIR] gives "json+folder": a file and its PNG folder).
INPUT_KINDS = {input_file: "file", input_folder: "folder", input_path: "path"}


class OutputPathError(ValueError):
    """An output flag whose path cannot be written (exit 1, one line)."""


def check_output(flag: str, path, kind: str = "file") -> None:
    """Checks one output path before any work: ``kind`` ``"file"``: not an existing folder, nor
    a block device, socket or other non-regular file (an existing FIFO, pipe or character
    device -- ``/dev/null``, ``/dev/stdout``, ``/dev/fd/N`` -- is accepted as it is: the writers
    write it directly, :func:`panoseg.util.atomic.output_kind`); ``"folder"``: not an existing
    file. The folder it goes in is created if missing, and must be writable. Raises
    :class:`OutputPathError` naming ``flag`` and ``path``. URLs (``s3://``...)
    are left to the writer."""
    path = os.fspath(path)
    if "://" in path:
        return
    where = f"{flag} {path}"
    if kind == "file" and os.path.isdir(path):
        raise OutputPathError(f"{where}: is a folder; expected a file path")
    if kind == "file":
        from ..util.atomic import CLOSED_DESCRIPTOR, output_kind

        written = output_kind(path)
        if written == "stream":
            # A FIFO, /dev/null, /dev/stdout...: written directly, so its folder's
            # writability does not matter; the file itself must take writes.
            if not os.access(path, os.W_OK):
                raise OutputPathError(f"{where}: is not writable")
            return
        if written == CLOSED_DESCRIPTOR:  # /dev/fd/7, or /dev/stdout run with 1>&-
            raise OutputPathError(f"{where}: names a file descriptor that is not open")
        if written is not None:
            raise OutputPathError(f"{where}: is not a regular file ({written}); expected a "
                                  "file path, a FIFO or a character device")
    if kind == "folder" and os.path.lexists(path) and not os.path.isdir(path):
        raise OutputPathError(f"{where}: exists and is not a folder; expected a folder path")
    if kind == "folder" and os.path.isdir(path):
        parent = path
    else:
        parent = os.path.dirname(os.path.abspath(path))
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise OutputPathError(f"{where}: {parent} is not a folder")
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise OutputPathError(f"{where}: cannot create the folder {parent}: "
                              f"{e.strerror or e}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{where}: the folder {parent} is not writable")


def _derived_folder(json_file) -> Optional[str]:
    """The PNG folder ``X`` of ``X.json`` (:func:`panoseg.io.paths.default_folder`), or None
    (no path, no extension: the command itself reports that)."""
    if json_file is None:
        return None
    from ..errors import PanopticFormatError
    from ..io.paths import default_folder

    try:
        return default_folder(json_file)
    except PanopticFormatError:
        return None


def check_outputs(args) -> None:
    """:func:`check_output` of every output flag given (those declared with ``type=``
    :func:`output_file` / :func:`output_folder`), after :func:`check_not_inputs`;
    :func:`panoseg.cli.main` calls it before the command runs."""
    outputs = getattr(args, "output_checks", None) or ()
    # First the comparison, which changes nothing: a refused run creates no folders.
    check_not_inputs(list(outputs) + list(getattr(args, "output_defaults", None) or ()),
                     getattr(args, "input_checks", None) or ())
    for flag, value, kind in outputs:
        check_output(flag, value, kind)


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(path)))


def same_path(a: str, b: str) -> bool:
    """Whether two paths name one file or folder: ``os.path.samefile`` when both exist (hard
    links, symbolic links, ``a/../a``), else their normalized real paths."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return _real(a) == _real(b)


def check_not_inputs(outputs, inputs) -> None:
    """Refuses (:class:`OutputPathError`, one line naming both flags) an output file that is an
    input file, or an output folder that is an input folder: the run would replace its own
    inputs. ``outputs``, ``inputs``: ``(flag, path, kind)`` as in ``args.output_checks`` and
    ``args.input_checks``, kind ``"file"``, ``"folder"`` or, for an input, ``"path"`` (either).
    A stream output (``/dev/stdout``, a FIFO) and URLs are not compared."""
    from ..util.atomic import output_kind

    for out_flag, out_path, out_kind in outputs:
        out_path = os.fspath(out_path)
        if "://" in out_path or (out_kind == "file" and output_kind(out_path) == "stream"):
            continue
        for in_flag, in_path, in_kind in inputs:
            in_path = os.fspath(in_path)
            if "://" in in_path or in_kind not in (out_kind, "path"):
                continue
            if same_path(out_path, in_path):
                what = "file" if out_kind == "file" else "folder"
                raise OutputPathError(
                    f"{out_flag} {out_path}: the output {what} is the input {what} of {in_flag}; "
                    f"refusing to overwrite the input" + ("s" if what == "folder" else ""))


def dask_spec(text: str) -> str:
    """``--dask``: a scheduler address, ``local`` or ``local:N`` (N >= 1 worker processes)."""
    if text == "local" or text.startswith("local:"):
        n = text.partition(":")[2]
        if n and not (n.isdigit() and int(n) >= 1):
            raise argparse.ArgumentTypeError(f"expected local:N with N workers (N >= 1), "
                                             f"or a scheduler address; got {text!r}")
    elif not text:
        raise argparse.ArgumentTypeError("expected a scheduler address or local:N")
    return text
