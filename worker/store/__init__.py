"""Persistence, SQL only: SQLAlchemy models (``models``), engine, migrations and the dedup
lock (``db``), the dedup engine's reads and writes (``articles``) and the LSH index rows
with each database's in-memory mirror of them (``index``), and the queries the pipeline
and the CLI need (``feeds``, ``stories``, ...)."""
