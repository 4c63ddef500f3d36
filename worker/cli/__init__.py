"""Command line: ``newsdedup COMMAND [--config FILE]`` (``--config`` goes before or after
the command). Thin: parses arguments and calls the package. Each command group lives in its
own module and registers its sub-parsers.

Exit status: 0 success, 1 runtime failure, 2 configuration or usage error (one line on
stderr, no traceback), 3 ``run --once`` finished but at least one feed failed, 130
interrupted, 141 when the reader of the output went away (a closed pipe).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from worker import __version__
from worker.cli import app, bench, evaluate, exporting, ops, queries, serving
from worker.errors import ConfigError, NewsdedupError
from worker.safetext import terminal_text

Register = Callable[[argparse._SubParsersAction], None]
# Each module adds its sub-commands; a sub-parser's ``handler`` default runs it.
COMMAND_MODULES: list[Register] = [
    app.register,
    queries.register,
    evaluate.register,
    bench.register,
    ops.register,
    exporting.register,
    serving.register,
]


EXIT_USAGE = 2

CONFIG_HELP = "config file (default: $NEWSDEDUP_CONFIG or ./newsdedup.toml)"


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (the usage block would bury the reason) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _config_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--config`` after the command too (``newsdedup stories -c FILE``). SUPPRESS: a
    sub-command without it leaves the value given before the command alone."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "--config", "-c", metavar="FILE", default=argparse.SUPPRESS, help=CONFIG_HELP
                )
                _config_everywhere(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="newsdedup",
        description="Poll news feeds, strip boilerplate, fold syndicated copies into stories.",
    )
    parser.add_argument("--version", action="version", version=f"newsdedup {__version__}")
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help=CONFIG_HELP,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in COMMAND_MODULES:
        register(sub)
    _config_everywhere(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        # One line per problem, each naming file and key; messages may quote what a
        # server sent, so no escape sequence reaches the terminal.
        print(terminal_text(str(exc)), file=sys.stderr)
        return 2
    except NewsdedupError as exc:
        print(f"newsdedup: {terminal_text(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``newsdedup stories | head``): what it wanted is printed.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command killed by SIGPIPE
