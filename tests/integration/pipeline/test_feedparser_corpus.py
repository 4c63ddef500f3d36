"""feedparser's own 1,768 test feeds, served over loopback and polled in one run (runs when
shared/data/feedparser-tests is present, skipped otherwise; about half a minute)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # 1,768 feeds over loopback

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "feedparser_corpus.py"


def test_every_corpus_feed_is_stored_or_a_readable_error(shared_dir: Path, tmp_path: Path) -> None:
    data = shared_dir / "data" / "feedparser-tests"
    if not (data / "tests").is_dir():
        pytest.skip(f"{data} not found")
    spec = importlib.util.spec_from_file_location("feedparser_corpus", SCRIPT)
    assert spec and spec.loader
    corpus = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = corpus  # dataclasses look their module up there
    spec.loader.exec_module(corpus)
    report = corpus.run_corpus(data, tmp_path)
    print(
        f"corpus: {report.feeds} feeds, {report.stored} stored ({report.entries} entries), "
        f"{report.errored} errored {report.error_kinds}, {report.empty} empty"
    )
    assert report.feeds == 1768
    assert report.crashed == [] and report.unaccounted == []
    assert report.unreadable_errors == [] and report.executable == []
    assert report.stored + report.errored + report.empty == report.feeds
    assert report.stored > 800  # most of the corpus carries entries we keep
