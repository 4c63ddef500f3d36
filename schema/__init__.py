"""Alembic migrations of the newsdedup database (installed as ``worker.schema``)."""
