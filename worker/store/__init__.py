"""Persistence: SQLAlchemy models (``models``), engine and migrations (``db``), and the
queries the pipeline and the CLI need (``articles``, ``feeds``, ``stories``)."""
