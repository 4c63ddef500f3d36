"""Start-up: each command imports what it uses. `--help` loads no dependency at all, and a
query on a current database loads neither the migration machinery nor the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "sqlalchemy", "alembic", "trafilatura", "lxml", "numpy", "httpx")
# The API's stack: only a listening daemon and `serve` load it.
SERVING = ("fastapi", "starlette", "uvicorn", "jinja2")


def _modules_after(argv: list[str], cwd: Path) -> set[str]:
    """Top-level packages imported by ``newsdedup ARGV`` (run in a fresh interpreter)."""
    code = (
        "import json, sys\n"
        "from worker.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_the_band_index_is_made_at_first_use(tmp_path: Path) -> None:
    from worker.store.db import Database

    url = f"sqlite:///{tmp_path / 'n.db'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    # A session opened before the band index exists still reaches it.
    code = (
        "import sys\n"
        "from worker.store.db import Database\n"
        f"db = Database({url!r})\n"
        "reader = db.session()\n"
        "assert 'numpy' not in sys.modules, 'a Database imported numpy'\n"
        "print(db.index.hits(reader, {5}, since=0.0), db.index.size()[0])\n"
        "assert 'numpy' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{}", "0"]


def test_help_imports_no_dependency(tmp_path: Path) -> None:
    assert not _modules_after(["--help"], tmp_path) & {*HEAVY, *SERVING}


def test_stories_imports_no_migration_or_pipeline(tmp_path: Path) -> None:
    (tmp_path / "newsdedup.toml").write_text(
        f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\n'
    )
    from worker.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    db.dispose()
    loaded = _modules_after(["stories"], tmp_path)
    assert {"pydantic", "sqlalchemy"} <= loaded  # it did read the config and the database
    # Every Database holds an LSH index mirror; its band index (numpy) is made at first use,
    # which a query never makes.
    assert not loaded & {
        "alembic",
        "numpy",
        "trafilatura",
        "lxml",
        "httpx",
        "datasketch",
        "scipy",
        *SERVING,
    }


def test_run_once_with_nothing_new_imports_no_migration_or_scipy(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>http://x.invalid/</link><description>d</description></channel></rss>"
    )
    (tmp_path / "newsdedup.toml").write_text(
        f'[worker]\ndatabase = "sqlite:///{tmp_path / "n.db"}"\nlog_level = "warning"\n\n'
        '[[feeds]]\nname = "local"\nurl = "file:feed.xml"\n'
    )
    from worker.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.upgrade()
    db.dispose()
    loaded = _modules_after(["run", "--once"], tmp_path)
    assert "sqlalchemy" in loaded
    # alembic only to migrate; datasketch (and scipy, which its package imports: half a
    # second) only at the first signature, which a poll with nothing new never makes.
    assert not loaded & {"alembic", "scipy", "datasketch"}
