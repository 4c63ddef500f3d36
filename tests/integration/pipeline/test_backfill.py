"""Long jobs: `newsdedup import` (JSON Lines and HTML pages through the normal store path,
bad lines named and skipped, resumable) and `newsdedup reindex` (fingerprints and LSH rows
recomputed under new dedup settings, resumable), with progress lines when not on a TTY."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fixtures.corpus import UNRELATED, WIRE
from tests.helpers import make_config
from worker.cli import main
from worker.config import Config, load_config
from worker.dedup.fingerprint import fingerprint
from worker.pipeline.backfill import (
    Checkpoint,
    Progress,
    _settings_key,
    checkpoint_path,
    run_import,
    run_reindex,
)
from worker.pipeline.build import dedup_policy
from worker.store.db import Database
from worker.store.models import Article, Feed, LshKeys, Story


def _articles_file(tmp_path: Path) -> Path:
    lines = []
    for name, paragraphs in list(WIRE.items())[:3]:
        lines.append({"url": f"https://wire.example/{name}", "title": name, "text": "\n".join(paragraphs),
                      "published": "2026-11-20T08:00:00+00:00"})  # fmt: skip
        lines.append({"url": f"https://copy.example/{name}?utm_source=x", "title": f"{name} (copy)",
                      "html": "".join(f"<p>{p}</p>" for p in paragraphs[:-1]), "feed": "copies"})  # fmt: skip
    lines.append({"title": "no body"})
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines[:3]) + "\nnot json\n"
                    + "\n".join(json.dumps(x) for x in lines[3:]) + "\n")  # fmt: skip
    return path


def _config(db: Database, tmp_path: Path, extra: str = "") -> Config:
    make_config(db.url.replace("+psycopg", ""), {}, tmp_path, extra=extra)
    return load_config(str(tmp_path / "newsdedup.toml"))


def test_import_jsonl_stores_through_dedup_and_names_bad_lines(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _articles_file(tmp_path)
    config = _config(db, tmp_path)
    with caplog.at_level(logging.INFO, logger="newsdedup.backfill"):
        report = run_import(config, db, source, progress_every=0)
    assert report.stored == {"new": 3, "near": 3} and report.bad == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"{source}:4: ") for m in messages)  # "not json"
    assert any(m.startswith(f"{source}:8: ") and "text" in m for m in messages)  # no body
    assert any(m.startswith("import articles.jsonl: ") and "(100%)" in m for m in messages)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Story)) == 3
        assert s.scalar(select(func.max(Story.variant_count))) == 2
    assert not checkpoint_path(config, "import").exists()  # finished: nothing to resume
    # Run again: every record is already stored.
    assert run_import(config, db, source).stored == {"unchanged": 6}


def test_import_resumes_from_its_checkpoint(db: Database, tmp_path: Path) -> None:
    source = _articles_file(tmp_path)
    config = _config(db, tmp_path)
    # An earlier run was interrupted after four lines.
    Checkpoint(checkpoint_path(config, "import"), f"{source.resolve()}|import").save(4)
    report = run_import(config, db, source)
    assert report.skipped == 4 and report.bad == 1
    with db.session() as s:
        guids = set(s.scalars(select(Article.guid)))
    assert len(guids) == 3 and "https://wire.example/vaccine" not in guids


def test_import_folder_of_pages(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pages"
    (folder / "2026").mkdir(parents=True)
    story = next(iter(UNRELATED.values()))
    for n, chrome in enumerate(["Home | World | Sport", "Subscribe to our newsletter"]):
        (folder / "2026" / f"page{n}.html").write_text(
            f"<html><head><title>Page {n}</title><link rel='canonical' href='https://p{n}.example/a'>"
            f"</head><body><nav>{chrome}</nav><article>{''.join(f'<p>{p}</p>' for p in story)}"
            "</article><footer>All rights reserved</footer></body></html>"
        )
    _config(db, tmp_path)
    assert (
        main(["-c", str(tmp_path / "newsdedup.toml"), "import", str(folder), "--feed", "archive"])
        == 0
    )
    assert "1 content, 1 new" in capsys.readouterr().out
    with db.session() as s:
        rows = s.execute(select(Article.guid, Article.url, Article.title, Article.clean_text)).all()
    assert sorted(r.guid for r in rows) == ["2026/page0.html", "2026/page1.html"]
    assert {r.title for r in rows} == {"Page 0", "Page 1"}
    assert all(story[0] in r.clean_text and "newsletter" not in r.clean_text for r in rows)


def test_reindex_recomputes_under_new_settings_and_resumes(db: Database, tmp_path: Path) -> None:
    source = _articles_file(tmp_path)
    run_import(_config(db, tmp_path), db, source)
    new = _config(db, tmp_path, extra="[dedup]\nnum_perm = 64\nlsh_threshold = 0.4")
    bands = dedup_policy(new).lsh.bands
    with db.session() as s:
        ids = list(s.scalars(select(Article.id).order_by(Article.id)))
    # Resume after the first two articles: those are left as they were.
    Checkpoint(checkpoint_path(new, "reindex"), _settings_key(new)).save(ids[1])
    assert run_reindex(new, db, batch=2) == len(ids) - 2
    with db.session() as s:
        perms = dict(s.execute(select(Article.id, Article.sig_num_perm)).all())
        rows = dict(s.execute(select(LshKeys.article_id, func.length(LshKeys.keys) / 8)).all())
        text = s.scalar(select(Article.clean_text).where(Article.id == ids[2]))
        signature = s.scalar(select(Article.signature).where(Article.id == ids[2]))
    assert [perms[i] for i in ids] == [128, 128] + [64] * (len(ids) - 2)
    assert all(rows[i] == bands for i in ids[2:])
    assert signature == fingerprint(text, num_perm=64, seed=1).to_bytes()
    assert run_reindex(new, db, restart=True) == len(ids)
    # Copies still fold under the new index.
    run_import(new, db, source, feed="again", restart=True)
    with db.session() as s:
        query = select(Article.match_kind).join(Feed, Feed.id == Article.feed_id)
        kinds = list(s.scalars(query.where(Feed.name == "again")))
    assert kinds and "new" not in kinds


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress("reindex", 4, stream=stream)
    for _ in range(4):
        progress.advance()
    progress.close()
    frames = stream.getvalue().split("\r")
    assert frames[-1].startswith("reindex [" + "#" * 30 + "] 4/4 (100%)")
    assert stream.getvalue().endswith("\n")
