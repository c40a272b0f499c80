"""The ``panoseg`` command line: :func:`main` and the assembly of the subcommands.

Each subcommand is one module here (``eval``, ``merge``, ``tune``, ``convert``, ``viz``,
``infer``, ``train``) holding its parser and a small function over the package's API; the
conventions they share (flag spellings, usage errors, common options, value types, where output
goes) live in :mod:`panoseg.cli.common`.
"""
from __future__ import annotations

import os
import sys

from .common import (
    DATA_ERRORS,
    EPILOG,
    CommandParser,
    add_debug,
    check_outputs,
    error_line,
)

# The names panoseg.cli had when it was one module (panoseg <= 0.1), for code that used them.
from .eval import (  # noqa: F401
    add_eval_parser,
    format_bootstrap,
    format_extra,
    format_per_class,
    format_summary,
    run_eval,
)
from .merge import add_merge_parser, run_merge  # noqa: F401
from .tune import add_tune_parser, run_tune  # noqa: F401

TYPE_CHECKING = False  # typing is not imported at run time (~4 ms of the commands' start-up)
if TYPE_CHECKING:
    from typing import Optional, Sequence

__all__ = ["build_parser", "main"]


def build_parser(only: Optional[str] = None) -> CommandParser:
    """The ``panoseg`` parser with every subcommand, or with subcommand ``only`` alone (the
    tools/ scripts: the other subcommands' modules are then never imported)."""
    from .._version import __version__

    parser = CommandParser(
        prog="panoseg", description="Panoptic segmentation tools for the COCO panoptic format.",
        epilog=EPILOG + " 'panoseg COMMAND -h' lists a command's flags.")
    parser.add_argument("--version", action="version", version=f"panoseg {__version__}",
                        help="print panoseg's version and exit")
    add_debug(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       help="what to do (one of the following)")
    subparsers.required = True
    for command in ("eval", "compare", "merge", "tune", "convert", "viz", "infer",
                    "train-semantic"):
        if only is None or command == only:
            _parser_adder(command)(subparsers)
    return parser


def _parser_adder(command: str):
    """The function adding ``command``'s subparser (its module imported only when asked for)."""
    if command == "eval":
        return add_eval_parser
    if command == "merge":
        return add_merge_parser
    if command == "tune":
        return add_tune_parser
    if command == "compare":
        from .compare import add_compare_parser
        return add_compare_parser
    if command == "convert":
        from .convert import add_convert_parser
        return add_convert_parser
    if command == "viz":
        from .viz import add_viz_parser
        return add_viz_parser
    if command == "infer":
        from .infer import add_infer_parser
        return add_infer_parser
    from .train import add_train_semantic_parser
    return add_train_semantic_parser


def main(argv: Optional[Sequence[str]] = None, *, prog_command: Optional[str] = None) -> int:
    """Entry point of ``panoseg``; ``prog_command`` fixes the subcommand (the tools/ scripts).

    Returns the exit status: 0 done; 1 bad input (one line on stderr saying what and where, no
    traceback; ``--debug`` or ``PANOSEG_DEBUG=1`` adds the traceback) or an internal error (one
    line too, saying so); 130 interrupted. A usage error raises SystemExit(2) after printing
    the subcommand's usage (argparse).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if prog_command is not None:
        argv = [prog_command] + argv
    args = build_parser(only=prog_command).parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("PANOSEG_DEBUG", "") not in ("", "0")
    try:
        check_outputs(args)  # every output flag's path, before any work
        return args.run(args)
    except BrokenPipeError:
        # The reader of stdout went away (`panoseg eval ... | head`): nothing more to say to
        # it; stdout goes to /dev/null so that Python's exit does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except DATA_ERRORS as e:  # bad input or settings: one clear line
        if debug:
            import traceback  # here: ~4 ms of every command's start-up otherwise

            traceback.print_exc()
        print(f"{args.command_prog}: error: {error_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{args.command_prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not the input's fault: still one line, no traceback
        if debug:
            import traceback

            traceback.print_exc()
        print(f"{args.command_prog}: internal error: {type(e).__name__}: {error_line(e)} "
              "(a bug in panoseg; rerun with --debug and report the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
