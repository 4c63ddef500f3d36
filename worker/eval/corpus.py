"""Labelled documents for ``eval dedup``: a TSV of ``path<TAB>cluster`` plus, optionally,
a folder of distractors (each its own cluster).

Pages (``.htm``, ``.html``, ``.html.gz``) are kept as bytes: the extractor decodes them by
their own declarations, as it does a fetched page. Plain texts (``.txt``) are UTF-8 (else
windows-1252) with the headline on the first line.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("Headline\\nBody line.")
    >>> _ = (root / "labels.tsv").write_text("path\\tcluster\\na.txt\\tstorm\\n")
    >>> [(d.key, d.cluster, d.title, d.text) for d in load_labels(root / "labels.tsv")]
    [('a.txt', 'storm', 'Headline', 'Body line.')]
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from worker.errors import NewsdedupError

PAGE_SUFFIXES = (".htm", ".html", ".html.gz")
TEXT_SUFFIXES = (".txt",)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


@dataclass(frozen=True)
class Document:
    key: str  # unique: the path as the labels name it, or "distractors/<path>"
    cluster: str
    distractor: bool
    title: str
    page: bytes | None = None  # a whole web page
    text: str | None = None  # or plain text

    @property
    def kind(self) -> str:
        return "page" if self.page is not None else "text"


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_document(path: Path, key: str, cluster: str, *, distractor: bool = False) -> Document:
    name = path.name.lower()
    try:
        data = path.read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise NewsdedupError(f"{path}: cannot read: {exc}") from exc
    if name.endswith(PAGE_SUFFIXES):
        match = _TITLE.search(data)
        title = " ".join(_decode(match.group(1)).split()) if match else ""
        return Document(key, cluster, distractor, title, page=data)
    if name.endswith(TEXT_SUFFIXES):
        headline, _, body = _decode(data).replace("\r\n", "\n").partition("\n")
        return Document(key, cluster, distractor, headline.strip(), text=body.strip())
    raise NewsdedupError(f"{path}: not a page ({', '.join(PAGE_SUFFIXES)}) or text (.txt)")


def load_labels(tsv: Path) -> list[Document]:
    """The documents a ``path<TAB>cluster`` file names, paths relative to its folder."""
    try:
        handle = tsv.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise NewsdedupError(f"{tsv}: cannot read: {exc}") from exc
    docs: list[Document] = []
    with handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["path", "cluster"]:
            raise NewsdedupError(f"{tsv}:1: expected the header 'path<TAB>cluster'")
        for line, row in enumerate(rows, 2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise NewsdedupError(f"{tsv}:{line}: expected 'path<TAB>cluster', got {row!r}")
            path = tsv.parent / row[0].strip()
            if not path.is_file():
                raise NewsdedupError(f"{tsv}:{line}: {row[0]}: no such file")
            docs.append(read_document(path, row[0].strip(), row[1].strip()))
    return docs


def distractor_files(folder: Path) -> Iterator[Path]:
    suffixes = PAGE_SUFFIXES + TEXT_SUFFIXES
    return (
        p for p in sorted(folder.rglob("*")) if p.is_file() and p.name.lower().endswith(suffixes)
    )


def load_distractors(folder: Path) -> list[Document]:
    """Every page or text below ``folder``, each its own cluster."""
    if not folder.is_dir():
        raise NewsdedupError(f"{folder}: not a folder")
    docs = []
    for path in distractor_files(folder):
        key = f"distractors/{path.relative_to(folder)}"
        docs.append(read_document(path, key, key, distractor=True))
    return docs
