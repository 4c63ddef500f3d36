"""Article-page extraction (``page_to_text``) in worker processes, off the poll threads.

Extraction and the furniture pre-pass are pure-Python and lxml work that holds the
interpreter lock: on the poll threads, sixteen polls took turns on one core and paid for
the turns (waiting for the lock showed as 74% of lxml's self time). Here the poll threads
keep fetching, concurrently as before, and hand each page to a pool of processes, one per
core (``worker.extract_processes``, 0 = one per core, at most four, the default); ``1``
extracts in the poll thread itself.

A poll keeps its order: it starts the pages of its next entries ahead (``PagePrefetch``)
and takes their texts in arrival order, so entries are still cleaned, fingerprinted and
decided one after the other. Workers ignore SIGTERM and SIGINT (systemd and a terminal send
them to the whole group): the daemon decides when to stop, then closes the pool.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

log = logging.getLogger("newsdedup.extract")


# The automatic pool's size: extraction rarely needs more, and each process holds ~90 MiB.
AUTO_MAX_PROCESSES = 4


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _orphan_watch(parent: int) -> None:
    # A worker holds both ends of the pool's queues, so it never sees EOF when the daemon is
    # killed (SIGKILL, OOM): without this it would wait for work forever.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start_worker(parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    import worker.clean.extract  # noqa: F401  (paid once per worker, before the first page)


def _extract(content: str | bytes, url: str | None) -> tuple[str, float]:
    """A page's text, and the CPU seconds it took in the worker."""
    from worker.clean.extract import page_to_text

    started = time.process_time()
    text = page_to_text(content, url)
    return text, time.process_time() - started


class PageExtractor:
    """``page_to_text`` on a process pool (started at the first page) or in the caller."""

    def __init__(self, processes: int = 0) -> None:
        self.processes = processes if processes > 0 else min(cores(), AUTO_MAX_PROCESSES)
        self._pool: ProcessPoolExecutor | None = None
        # The pool each page in flight went to: a page whose pool broke replaces that
        # pool, never one another thread has started since.
        self._origin: weakref.WeakKeyDictionary[Future[tuple[str, float]], ProcessPoolExecutor]
        self._origin = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def in_process(self) -> bool:
        """Whether pages are extracted by the caller (no pool)."""
        return self.processes <= 1

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("page extractor closed")
            if self._pool is None:
                # spawn: the daemon has threads (scheduler, polls, listener), and a fork
                # would copy locks they hold.
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def submit(self, content: str | bytes, url: str | None) -> Future[tuple[str, float]]:
        pool = self._executor()
        try:
            future = pool.submit(_extract, content, url)
        except BrokenProcessPool:  # a worker died since the last page: a new pool takes it
            self._replace(pool)
            pool = self._executor()
            future = pool.submit(_extract, content, url)
        with self._lock:
            self._origin[future] = pool
        return future

    def text(
        self, future: Future[tuple[str, float]], content: str | bytes, url: str | None
    ) -> tuple[str, float]:
        """The text ``future`` brings. A worker that died (a page that crashes lxml, the
        OOM killer) breaks the pool and every page in it: the pool is replaced and the page
        tried once more; a second break gives up on this page (``""``: the summary stands)."""
        for attempt in range(2):
            try:
                return future.result()
            except BrokenProcessPool:
                with self._lock:
                    broken = self._origin.get(future)
                self._replace(broken)
                if attempt or self._closed:
                    break
                future = self.submit(content, url)
        log.warning("url=%s page extraction failed twice in a worker process; skipped", url)
        return "", 0.0

    def _replace(self, broken: ProcessPoolExecutor | None) -> None:
        """Drop ``broken``, a pool one of whose workers died, unless another thread has
        already replaced it (its other pages fail too, each in its own thread)."""
        with self._lock:
            if broken is None or self._pool is not broken:
                return
            log.warning("a page extraction worker died; starting a new pool")
            self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class PagePrefetch:
    """The pages of one poll's entries, started a few entries ahead of the one being
    prepared (fetched in the poll's thread, extracted in the pool), taken in order."""

    def __init__(
        self,
        extractor: PageExtractor,
        fetch: Callable[[int], tuple[str | bytes, str] | None],
        wanted: list[int],
        stop: threading.Event,
    ) -> None:
        self._extractor = extractor
        self._fetch = fetch  # entry index -> (content, final URL), None when not fetched
        self._wanted = wanted  # indices of the entries that want their page, in order
        self._position = {index: p for p, index in enumerate(wanted)}
        self._next = 0  # position in _wanted of the next page to start
        self._stop = stop
        # Enough pages in flight to keep every worker busy while this poll fetches more.
        self._ahead = extractor.processes + 1
        self._started: dict[int, tuple[Future[tuple[str, float]], str | bytes, str] | None] = {}

    def _start_until(self, position: int) -> None:
        while self._next < min(len(self._wanted), position + self._ahead):
            if self._stop.is_set():
                return
            entry = self._wanted[self._next]
            self._next += 1
            page = self._fetch(entry)
            if page is None:
                self._started[entry] = None
                continue
            content, url = page
            self._started[entry] = (self._extractor.submit(content, url), content, url)

    def text(self, index: int) -> tuple[str, float] | None:
        """The page text of entry ``index`` (``None``: it has no page; fetch it inline)."""
        position = self._position.get(index)
        if position is None:
            return None
        self._start_until(position)
        if index not in self._started:
            return None  # stopped before its page was started
        started = self._started.pop(index)
        if started is None:
            return "", 0.0  # fetch failed (logged): the summary stands
        future, content, url = started
        return self._extractor.text(future, content, url)

    def cancel(self) -> None:
        for started in self._started.values():
            if started is not None:
                started[0].cancel()
        self._started.clear()
