"""newsdedup: poll news feeds, strip boilerplate, fold syndicated copies into stories.

The pipeline, one module per stage::

    config -> scheduler -> reader.fetcher -> reader.parser -> clean -> dedup -> store

``worker.ingest.poll_feed`` wires the stages for one feed; ``worker.cli`` is the command line.
"""

__version__ = "0.1.0"
