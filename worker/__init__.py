"""newsdedup: poll news feeds, strip boilerplate, fold syndicated copies into stories.

The packages, in the order one poll runs through them::

    config -> daemon (scheduler) -> pipeline.poll -> reader (fetch, parse) -> clean
           -> dedup (fingerprint, engine) -> store

``config``, ``clock``, ``errors``, ``logs``, ``metrics``, ``outcomes`` and ``files`` are the
bottom layer every package may use; ``cli`` is the command line; ``eval`` and ``bench``
measure the daemon's own code.
"""

__version__ = "0.1.0"
