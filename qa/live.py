"""The served index, kept current: `LiveIndex` notices when a write has made another version
current and loads it in the background while the old one keeps serving.

It builds its store only through `qa.stores` (a path means the default folder store there),
so it works the same over any store.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qa.embedding import Embedder
from qa.index import NewsIndex
from qa.stores.base import IndexLoadError, StoreBackend

LOG = logging.getLogger(__name__)

NO_INDEX = "no index has been built yet"


@dataclass(frozen=True)
class IndexHealth:
    """What `/healthz` reports about the index, from one consistent look at `LiveIndex`."""

    served_version: str | None  # the version answering questions, None when none is loaded
    current_version: str | None  # what `CURRENT` names on disk right now
    error: str | None  # why the last load failed (or fell back); cleared by the next good load
    loading: bool

    @property
    def status(self) -> str:
        """"degraded" only when an error is why the served version is not the current one:
        a reload that is merely under way (versions differ, no error) is still "ok"."""
        if self.served_version is None:
            return "no_index"
        if self.error is not None and self.served_version != self.current_version:
            return "degraded"
        return "ok"


class LiveIndex:
    """The current version of a store, reloaded when a rebuild swaps it.

    One load runs at a time: the check of `CURRENT` and the claim of the loading flag
    happen under one lock, so concurrent requests start one reload, not one each. A
    failed hot reload keeps the old index serving and is kept in `error` (and shown as
    "degraded" by `/healthz`); the broken version is not retried until `CURRENT` changes
    or `load` is called. Error texts name versions, never paths, so clients may see them.
    """

    def __init__(self, backend: StoreBackend | str | Path, embedder: Embedder, check_interval: float = 1.0) -> None:
        if isinstance(backend, (str, Path)):
            from qa.stores import folder_backend

            backend = folder_backend(backend)
        self.backend = backend
        self.embedder = embedder
        self.check_interval = check_interval
        self._index: NewsIndex | None = None
        self._attempted: str | None = None  # the `CURRENT` value last loaded or tried
        self._error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._loading = False
        self.reloads = 0  # loads started, the first one included

    def load(self, timeout: float = 60.0) -> None:
        """Load the current version now (at start-up, or when asked to); a failure is kept as `error`.

        With nothing served yet, a damaged current version falls back to the newest valid
        older one (`error` then says so); a load already running is waited for first.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._loading:
                    self._loading = True
                    self.reloads += 1
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("another index load is still running")
            time.sleep(0.05)
        try:
            version = self._current_version()
        except IndexLoadError as err:  # the store cannot be reached: say why, serve nothing new
            LOG.error("index not loaded: %s", err)
            with self._lock:
                self._error, self._loading = str(err), False
            return
        self._reload(version)

    def _reload(self, version: str | None) -> None:
        """Load `version`; the caller has claimed `_loading`, which this releases."""
        try:
            if version is None:
                with self._lock:
                    self._attempted, self._error = None, None if self._index is not None else NO_INDEX
                return
            fallback = self._index is None  # while serving, a bad new version must not replace a good one
            index = NewsIndex.open(self.backend, self.embedder, version=version, fallback=fallback)
            try:
                index.store.warm_up()  # the first question must not pay for reading the archive
            except BaseException:
                index.store.close()  # its files and connections go now, not at garbage collection
                raise
        except (IndexLoadError, OSError, ValueError, KeyError) as err:
            LOG.error("index version %s not loaded: %s", version, err)
            with self._lock:
                self._error = str(err)
                self._attempted = version  # do not retry the same broken version in a loop
        else:
            with self._lock:
                self._index, self._attempted, self._error = index, version, index.fallback_reason
        finally:
            with self._lock:
                self._loading = False

    def get(self) -> NewsIndex | None:
        """The served index; starts a background reload when the current version has changed.

        The version is looked up outside the lock: for a store on a server it is a network call,
        which must not hold up other requests (nor `/healthz`) while it waits."""
        now = time.monotonic()
        with self._lock:
            if self._loading or now - self._checked < self.check_interval:
                return self._index
            self._checked = now
        try:
            version = self._current_version()
        except IndexLoadError as err:  # a store server that is down: keep serving what is loaded
            with self._lock:
                self._error = str(err)
                return self._index
        with self._lock:
            if self._loading or version is None or version == self._attempted:
                return self._index
            self._loading = True
            self.reloads += 1
            served = self._index
        if served is None:
            self._reload(version)  # nothing to serve yet: load in the foreground
            return self._index
        threading.Thread(target=self._reload, args=(version,), daemon=True, name="index-reload").start()
        return served

    def _current_version(self) -> str | None:
        return self.backend.current_version()

    def health(self) -> IndexHealth:
        try:
            current = self._current_version()
        except IndexLoadError as err:
            with self._lock:
                served = self._index.version if self._index is not None else None
                return IndexHealth(served, None, str(err), self._loading)
        with self._lock:
            served = self._index.version if self._index is not None else None
            return IndexHealth(served, current, self._error, self._loading)

    @property
    def error(self) -> str | None:
        return self._error

    def wait_for_reload(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._loading and time.monotonic() < deadline:
            time.sleep(0.05)
