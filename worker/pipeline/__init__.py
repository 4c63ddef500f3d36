"""One poll of one feed as the daemon runs it: claim, fetch, parse, clean, decide, store
(``poll``), the entries of a poll in batches (``entries``), long imports and reindexing
(``backfill``), and the stage objects a config describes (``build``)."""
