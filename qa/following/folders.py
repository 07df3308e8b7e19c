"""Watching the article folders (`newsqa serve --watch`) with watchfiles (the OS's file events:
inotify, FSEvents, ReadDirectoryChangesW), handing what changed to the `ArchiveWriter`.

At start the writer syncs once with the folders, as `newsqa build` does, so what changed while the
server was down is caught up; the watch starts first, so nothing that happens meanwhile is missed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from qa.following.writer import ArchiveWriter

LOG = logging.getLogger(__name__)

STEP_MS = 100  # a burst of changes is handed over once nothing changed for this long (watchfiles' step)
DEBOUNCE_MS = 1000  # ... or after this long at most
STOP_CHECK_MS = 500  # how often the watch looks at its stop event


def watched_folders(articles: list[Path]) -> list[Path]:
    """What to watch for these article paths: each folder, and the folder of each single file
    (a path that does not exist is not watched)."""
    folders = []
    for path in map(Path, articles):
        folder = path if path.is_dir() else path.parent if path.is_file() else None
        if folder is not None and folder not in folders:
            folders.append(folder)
    return folders


class FolderWatcher:
    """Hands the writer every article file added, changed or removed under `articles`.

    :param writer: the archive's writer (it reads a file once it has been still, and ignores
        what is no article file of these paths: hidden files, other suffixes).
    :param articles: the article files and folders (`NEWSQA_ARTICLES`).
    """

    def __init__(self, writer: ArchiveWriter, articles: list[Path]) -> None:
        self.writer = writer
        self.articles = [Path(p) for p in articles]
        self.folders: list[Path] = []
        self._stop = threading.Event()
        self.started = threading.Event()  # the watches are in place
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> None:
        """Start watching, then ask the writer for the catching-up sync."""
        if self._thread is not None:
            return
        self.folders = watched_folders(self.articles)
        if not self.folders:
            self.error = "none of the article paths is a folder that exists: nothing is watched"
            LOG.error("%s (%s)", self.error, ", ".join(map(str, self.articles)))
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="folder-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        import watchfiles

        try:
            # yield_on_timeout: the first (empty) yield says the OS watches are in place, and only
            # then is the catching-up sync asked for, so that no change falls between the two.
            for changes in watchfiles.watch(*self.folders, watch_filter=None, debounce=DEBOUNCE_MS, step=STEP_MS,
                                            stop_event=self._stop, rust_timeout=STOP_CHECK_MS,
                                            yield_on_timeout=True, raise_interrupt=False):
                if not self.started.is_set():
                    self.writer.request_full_sync()
                    self.started.set()
                if changes:
                    self.writer.submit(sorted({path for _, path in changes}))
        except Exception as err:  # a folder removed, too many watches: say so; the server goes on
            self.error = f"the folders are no longer watched ({type(err).__name__}; the server's log says more)"
            LOG.exception("folder watch ended")
