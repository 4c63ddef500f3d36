"""``newsdedup bench``: the commands run end to end on small inputs written here and print
their tables. No timing is asserted (timings belong to benchmark runs, not tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.corpus import OUTLETS, UNRELATED, WIRE, outlet_paragraphs
from worker.bench.measure import StageTimes
from worker.cli import main

pytestmark = pytest.mark.slow  # the benches end to end


def test_stage_times_quantiles() -> None:
    t = StageTimes()
    for ms in range(1, 101):
        t.add("x", float(ms))
    assert t.median("x") == 50.5 and t.quantile("x", 0.95) == 95.0
    assert t.quantile("x", 1.0) == 100.0 and t.quantile("empty", 0.5) == 0.0


def test_bench_pipeline_texts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for story in WIRE:
        for i, outlet in enumerate(OUTLETS[:2]):
            body = "\n".join(outlet_paragraphs(story, outlet))
            (tmp_path / f"{story}-{i}.txt").write_text(f"{story} headline {i}\n{body}")
    assert main(["bench", "pipeline", "--texts", str(tmp_path), "--warm", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["articles"] == 2 * len(WIRE) and out["warm_index"] == 300
    assert set(out["stages"]) == {"clean", "fingerprint", "store", "total"}
    assert out["articles_per_cpu_second"] > 0 and "reference" not in out


def test_bench_pipeline_takes_other_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text(
        "Headline\n" + "\n".join(outlet_paragraphs(next(iter(WIRE)), OUTLETS[0]))
    )
    argv = ["bench", "pipeline", "--texts", str(tmp_path), "--warm", "10", "--json"]
    assert main([*argv, "--set", "events.enabled=false", "--set", "dedup.num_perm=64"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"] == {"events.enabled": False, "dedup.num_perm": 64}
    assert main([*argv, "--set", "worker.store_batch=1"]) == 2
    assert "--set 'worker.store_batch=1'" in capsys.readouterr().err


def test_bench_pipeline_pages_has_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, paragraphs in UNRELATED.items():
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        page = f"<html><head><title>{name}</title></head><body><nav>Home</nav>"
        (tmp_path / f"{name}.html").write_text(f"{page}<article>{body}</article></body></html>")
    assert main(["bench", "pipeline", "--pages", str(tmp_path), "--warm", "100"]) == 0
    out = capsys.readouterr().out
    assert "trafilatura.extract" in out and "pipeline CPU / trafilatura.extract alone" in out


def test_bench_pipeline_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "pipeline", "--texts", str(tmp_path)]) == 1
    assert "no .txt files" in capsys.readouterr().err


def test_bench_poll_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "poll", "--feeds", "40", "--changed", "0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["first_round"]["outcomes"] == {"ok": 40}
    # Every feed polled again: the changed ones with their new entry, the rest 304.
    assert out["timed_round"]["outcomes"] == {"ok": 10, "not_modified": 30}
    for name in ("first_round", "timed_round"):  # the poll log agrees: none starved
        r = out[name]
        assert (r["feeds_polled"], r["feeds_starved"], r["feeds_polled_twice"]) == (40, 0, 0)
        assert r["server_cpu_seconds"] > 0 and r["cpu_ms_per_feed"] > 0


def test_bench_index_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    assert main(["bench", "index", "--articles", "300", "--database", url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["database"] == "sqlite" and out["articles"] == 300
    # Half the lookups are perturbed copies of stored signatures: they find candidates.
    assert 0.3 < out["lookups_with_candidates"] < 0.7
    assert out["bytes_per_article"] > 0 and out["restart_to_first_poll_seconds"] > 0
    assert out["bulk_load_per_second"] > 0 and out["worker_peak_rss_mib"] > 0
    # Measured again on what the first run left: its 300 plus the sampled inserts.
    assert main(["bench", "index", "--database", url, "--reuse", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["articles"] == 600 and again["bulk_load_per_second"] is None
    assert 0.3 < again["lookups_with_candidates"] < 0.7


def test_bench_workers_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for story, paragraphs in WIRE.items():
        (tmp_path / f"{story}.txt").write_text(f"{story} headline\n" + "\n".join(paragraphs))
    args = ["bench", "workers", "--texts", str(tmp_path), "--feeds", "2", "--counts", "1,2"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Two workers share the feeds through the leases: every article stored once either way.
    assert [(r["workers"], r["articles"]) for r in out] == [(1, len(WIRE)), (2, len(WIRE))]
    assert all(r["exit_statuses"] == [0] * r["workers"] for r in out)


def test_bench_daemon_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, paragraphs in UNRELATED.items():
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        page = f"<html><head><title>{name}</title></head><body><nav>Home</nav>"
        (tmp_path / f"{name}.html").write_text(f"{page}<article>{body}</article></body></html>")
    argv = ["bench", "daemon", "--pages", str(tmp_path), "--feeds", "2", "--items", "2"]
    assert main([*argv, "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pages = min(4, len(UNRELATED))
    assert out["pages"] == pages and out["articles_stored"] == [pages]
    assert out["loop"]["cpu_seconds"] > 0 and out["daemon"]["cpu_seconds"] > 0
    assert out["cpu_ratio"] > 0 and "clean" in out["stage_shares"]


def test_bench_daemon_skips_without_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "daemon", "--pages", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().err


def test_bench_events_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "events", "--window", "3000", "--stories", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["window_stories"] == 3000 and out["placed_stories"] == 300
    # The window moved on as stories came: it holds about as many as it was filled with.
    assert 2900 <= out["window_stories_after"] <= 3100
    assert out["joined_an_event"] > 0 and out["window_arrays_mib"] > 0
