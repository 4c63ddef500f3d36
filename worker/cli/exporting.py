"""``export``: canonical stories for downstream tools (Atom, JSON, JSON Lines)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
