"""Argument types shared by the commands: times (``--since``, read by
``worker.clock.parse_when`` as the API reads them) and counts, each failing as a usage error
(exit 2, one line) rather than a traceback."""

from __future__ import annotations

import argparse
from datetime import datetime

from worker.clock import WHEN_HELP, parse_when

__all__ = ["WHEN_HELP", "parse_when", "positive_int", "when"]


def when(value: str) -> datetime:
    """``parse_when`` as an argparse ``type``: a bad value is a usage error."""
    try:
        return parse_when(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{value!r}: must be {minimum} or more")
    return number


def positive_int(value: str) -> int:
    return _at_least(value, 1)


def seq_number(value: str) -> int:
    """A change feed number (``--after``): a whole number, 0 or more."""
    return _at_least(value, 0)
