"""Keys of the PostgreSQL advisory locks the workers share (SQLite's write lock plays
their part there). One key serialises every transaction that decides or changes stories
(``Database.dedup_transaction``) and the writing of the change feed
(``worker.store.changes``): held to commit, it makes change sequence numbers commit in
order. The key below it serialises migrations."""

from __future__ import annotations

import hashlib

DEDUP_LOCK_KEY = int.from_bytes(hashlib.sha1(b"newsdedup:dedup").digest()[:8], "big", signed=True)
MIGRATION_LOCK_KEY = DEDUP_LOCK_KEY - 1
