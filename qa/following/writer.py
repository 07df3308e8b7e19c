"""The one writer of a followed archive: article files handed to it are synced into the store in batches.

The folder watcher and the feed poller hand it the paths of article files that were added, changed
or removed. It waits until a file has been still for `settle_s` (a file being written is not read
half-way), gathers what arrived meanwhile, reads the files and writes their articles with one
`qa.sync.sync_index`, the sync `newsqa build` runs: one write at a time under the store's lock,
only changed chunks embedded, a new version made current atomically. A server killed mid-sync
loses nothing: the files are still there, the previous version still current, and the next
start syncs them. The served index then loads the new version at once (`after_write`).

What a file held is remembered (path -> article ids), so that a file removed, or one that no
longer holds an article, removes those articles. A file that cannot be read is named in the log
and in `status()` and leaves what it held indexed; an id that another file already uses is
refused, as `newsqa build` refuses it. Either way whoever handed the file over is told it was not
indexed (the feed poller then keeps no record of having seen the entry).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from qa.embedding import Embedder
from qa.ingestion import SUPPORTED_SUFFIXES, ArticleError, SkippedArticle, article_files, load_file
from qa.stores.base import BuildInProgressError, IndexLoadError, IndexWriteError, StoreBackend
from qa.sync import BuildSummary, sync_index
from qa.types import Document

LOG = logging.getLogger(__name__)

BUSY_RETRY_S = 1.0  # another process holds the store's lock: try again this soon
MAX_BACKOFF_S = 60.0  # a failing store (a full disk): retries slow down to this
KEPT_FILE_ERRORS = 20

# (summary, None) once written; (summary or None, why) when the write, or one of the caller's files, failed.
Done = Callable[[BuildSummary | None, str | None], None]


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lower_priority() -> None:
    """Make the calling thread give way to questions when the CPU is busy (on Linux a thread has
    its own nice value; threads it starts inherit it). Elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


@dataclass
class _Pending:
    ready_at: float  # time.monotonic(): not read before
    settle: bool  # wait until the file has been still for settle_s
    callbacks: list[tuple[Done, tuple[str, ...]]] = field(default_factory=list)  # each with the paths it covers


@dataclass(frozen=True)
class Written:
    """What one write did: its summary (None: nothing to write), and the files not indexed (path -> why)."""

    summary: BuildSummary | None
    failed: dict[str, str] = field(default_factory=dict)

    def failure(self, covered: Iterable[str]) -> str | None:
        """Why some of `covered` (files, or folders standing for the files in them) were not indexed."""
        covered = [os.path.abspath(path) for path in covered]
        folders = tuple(os.path.join(path, "") for path in covered)
        mine = [path for path in self.failed if path in covered or path.startswith(folders)]
        if not mine:
            return None
        first = os.path.basename(mine[0])
        more = f" and {len(mine) - 1} more" if len(mine) > 1 else ""
        return f"{len(mine)} file{'s' if len(mine) > 1 else ''} not indexed ({first}{more}: {self.failed[mine[0]]})"


@dataclass
class _Batch:
    upserts: dict[str, Document] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)
    files: dict[str, list[str] | None] = field(default_factory=dict)  # path -> ids now (None: gone)
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)
    complete: bool = True  # every file was read (a full sync may then remove what no file holds)
    failed: dict[str, str] = field(default_factory=dict)  # path -> why it is not indexed


class ArchiveWriter:
    """Writes the articles of the files it is handed, in batches, from one background thread
    (`start`/`stop`), or at once (`write_now`).

    :param backend: the store written to (its lock makes this one writer among all).
    :param embedder: embeds the new chunks.
    :param articles: the article files and folders (`NEWSQA_ARTICLES`): ids are derived from a
        file's path under the folder it is in, as `newsqa build` derives them; files elsewhere are ignored.
    :param settle_s: how long a file must have been still before it is read.
    :param batch_s: how long to gather more files once one is ready.
    :param after_write: called with each summary that wrote a version (the server loads it).
    """

    def __init__(self, backend: StoreBackend, embedder: Embedder, articles: Iterable[str | Path], *,
                 settle_s: float = 1.0, batch_s: float = 0.2,
                 after_write: Callable[[BuildSummary], None] | None = None) -> None:
        self.backend = backend
        self.embedder = embedder
        self.articles = [Path(p) for p in articles]
        self.settle_s = settle_s
        self.batch_s = batch_s
        self.after_write = after_write
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: dict[str, _Pending] = {}
        self._full_sync = False
        self._resume_at = 0.0  # monotonic: nothing is written before (backing off)
        self._backoff = 0.0
        self._ids: dict[str, list[str]] = {}  # path -> ids it held when last written
        self._owner: dict[str, str] = {}  # id -> path
        self._stamps: dict[str, tuple[int, int]] = {}  # path -> (mtime_ns, size) when last read
        self._last_write: dict | None = None
        self._error: str | None = None
        self._file_errors: deque[dict] = deque(maxlen=KEPT_FILE_ERRORS)
        self._writing = False

    # -- what followers call --------------------------------------------------------------------
    def submit(self, paths: Iterable[str | Path], *, settle: bool = True, done: Done | None = None) -> None:
        """Sync these files (added, changed or removed) soon. `settle=False` for files written
        whole (renamed into place): they are taken together, in one batch. `done` is called once,
        from the writer's thread, when the batch holding them was written or failed (at once when
        there are no files)."""
        paths = [os.path.abspath(p) for p in paths]
        if done is not None and not paths:
            done(None, None)
            return
        now = time.monotonic()
        with self._cond:
            for path in paths:
                item = self._pending.setdefault(path, _Pending(now, settle))
                if not settle:  # whole now: not held back by an earlier event that asked to wait
                    item.settle, item.ready_at = False, min(item.ready_at, now)
            if done is not None:
                self._pending[paths[-1]].callbacks.append((done, tuple(paths)))
            self._cond.notify_all()

    def request_full_sync(self) -> None:
        """Sync with all the article folders before anything else (as `newsqa build`)."""
        with self._cond:
            self._full_sync = True
            self._cond.notify_all()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="archive-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the write under way, if any (a kill at any point would lose nothing either)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """Nothing pending and no write under way."""
        with self._cond:
            return not self._pending and not self._full_sync and not self._writing

    def status(self) -> dict:
        with self._cond:
            return {"pending_files": len(self._pending), "writing": self._writing, "last_write": self._last_write,
                    "error": self._error, "file_errors": list(self._file_errors)}

    # -- writing at once ----------------------------------------------------------------------------
    def write_now(self, paths: Iterable[str | Path] = (), *, full: bool = False) -> BuildSummary | None:
        """Read and write these files now, in this thread; errors are raised. The summary only."""
        return self.write(paths, full=full).summary

    def write(self, paths: Iterable[str | Path] = (), *, full: bool = False) -> Written:
        """`write_now`, with the files that were not indexed (`newsqa build --feeds`)."""
        return self._write([os.path.abspath(p) for p in paths], full)

    def _write(self, paths: list[str], full: bool) -> Written:
        if not full and self.backend.current_version() is None:
            full = True  # no archive to add to yet: sync with the folders, as `newsqa build` would
        batch = self._full_batch() if full else self._read(paths)
        return Written(self._apply(batch, full), dict(batch.failed))

    # -- the thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        lower_priority()
        while not self._stop.is_set():
            taken = self._take()
            if taken is None:
                continue
            paths, callbacks, full = taken
            written = Written(None)
            outcome: tuple[BuildSummary | None, str | None] = (None, None)
            try:
                written = self._write(paths, full)
                outcome = (written.summary, None)
            except BuildInProgressError:  # its message names the index folder: not for clients
                outcome = (None, "another build or server is writing the index; trying again")
                self._retry(paths, full, BUSY_RETRY_S, outcome[1])
            except (IndexWriteError, IndexLoadError, OSError) as err:  # a full disk, a store that is down
                # The store's errors name versions, never paths; an OSError names its file: only its reason.
                reason = f"{err.strerror or type(err).__name__}" if isinstance(err, OSError) else str(err)
                outcome = (None, reason)
                with self._cond:
                    self._backoff = min(MAX_BACKOFF_S, max(2.0, self._backoff * 2))
                self._retry(paths, full, self._backoff, reason)
            except Exception as err:  # a bug must not end the writer; say so and go on
                LOG.exception("the archive writer failed")
                outcome = (None, f"the write failed ({type(err).__name__}; the server's log says more)")
                with self._cond:
                    self._error = outcome[1]
            finally:
                with self._cond:
                    self._writing = False
            for callback, covered in callbacks:
                try:
                    callback(outcome[0], outcome[1] or written.failure(covered))
                except Exception:  # a follower's bookkeeping must not stop the writer
                    LOG.exception("a follower failed after a write")

    def _take(self) -> tuple[list[str], list[tuple[Done, tuple[str, ...]]], bool] | None:
        """Wait for files ready to read (or the full sync), gather for `batch_s`, and take them."""
        with self._cond:
            while not self._stop.is_set():
                wait = self._next_ready()
                if wait <= 0:
                    break
                self._cond.wait(min(wait, 1.0))
            else:
                return None
        if self._stop.wait(self.batch_s):
            return None
        with self._cond:
            self._next_ready()  # files that changed meanwhile settle again
            now = time.monotonic()
            paths = [p for p, item in self._pending.items() if item.ready_at <= now]
            callbacks = [c for p in paths for c in self._pending.pop(p).callbacks]
            full, self._full_sync = self._full_sync, False
            if not paths and not full:
                return None
            self._writing = True
            return paths, callbacks, full

    def _next_ready(self) -> float:
        """Seconds until something may be taken (<= 0: now); moves on files not yet still. Under the lock."""
        now = time.monotonic()
        if self._resume_at > now:
            return self._resume_at - now
        if self._full_sync:
            return 0.0
        soonest = float("inf")
        for path, item in self._pending.items():
            if item.settle and item.ready_at <= now:
                item.ready_at = now + self._unsettled_for(path)
            soonest = min(soonest, item.ready_at - now)
        return soonest

    def _unsettled_for(self, path: str) -> float:
        """How much longer `path` must stay still (0 when it has been still long enough, or is gone)."""
        try:
            age = max(0.0, time.time() - os.stat(path).st_mtime)  # a file dated in the future: still now
        except OSError:
            return 0.0
        return max(0.0, self.settle_s - age)

    def _retry(self, paths: list[str], full: bool, delay: float, error: str) -> None:
        LOG.warning("archive not written, trying again in %.0f s: %s", delay, error)
        with self._cond:
            now = time.monotonic()
            for path in paths:
                self._pending.setdefault(path, _Pending(now, False))
            self._full_sync = self._full_sync or full
            self._resume_at = now + delay
            self._error = error

    # -- reading the files ----------------------------------------------------------------------------
    def _root_of(self, path: str) -> Path | None:
        """The folder ids are derived under for `path`, None when it is no article file of ours."""
        for configured in self.articles:
            base = os.path.abspath(configured)
            if path == base and not os.path.isdir(base):
                return Path(base).parent
            if path.startswith(base + os.sep):
                relative = Path(path[len(base) + 1:])
                if any(part.startswith(".") for part in relative.parts):
                    return None  # hidden, as `newsqa build` skips them (our own temporary files too)
                return Path(base)
        return None

    def _read(self, paths: list[str]) -> _Batch:
        """What these files add, replace and remove; a folder stands for the files in and under it."""
        loaded: dict[str, list[Document] | None] = {}
        stamps: dict[str, tuple[int, int]] = {}
        failed: dict[str, str] = {}
        for path in self._expand(paths):
            root = self._root_of(path)
            known = path in self._ids
            if root is None or not (known or Path(path).suffix.lower() in SUPPORTED_SUFFIXES):
                continue
            try:
                stat = os.stat(path)
            except OSError:
                if known:
                    loaded[path] = None  # removed
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            if os.path.isdir(path) or self._stamps.get(path) == stamp:
                continue  # read already as it is now (the watcher seeing a file the writer was handed)
            documents = self._load(path, root, failed)
            if documents is not None:
                loaded[path], stamps[path] = documents, stamp
        return self._plan(loaded, stamps, failed=failed)

    def _expand(self, paths: list[str]) -> list[str]:
        """Files stand for themselves; a folder (moved in, or removed) for the files in it now and
        those known under it before."""
        files: list[str] = []
        for path in paths:
            if os.path.isdir(path):
                try:
                    found, _ = article_files(Path(path))
                except (ArticleError, OSError):
                    found = []
                files += [os.path.abspath(f) for f in found]
            else:
                files.append(path)
            prefix = path + os.sep
            files += [known for known in self._ids if known.startswith(prefix)]
        return list(dict.fromkeys(files))

    def _load(self, path: str, root: Path, failed: dict[str, str]) -> list[Document] | None:
        """The file's articles ([] for a file with nothing to index); None when it cannot be read
        (`failed` then says why)."""
        try:
            return load_file(Path(path), root)
        except SkippedArticle:
            return []
        except ArticleError as err:
            failed[path] = self._file_error(path, err.reason, err.line)
        except OSError as err:
            failed[path] = self._file_error(path, err.strerror or type(err).__name__, None)
        return None

    def _plan(self, loaded: dict[str, list[Document] | None], stamps: dict[str, tuple[int, int]],
              remembered: bool = True, failed: dict[str, str] | None = None) -> _Batch:
        """The batch that writes what the files hold now (`loaded`: path -> articles, None for a file
        that is gone). A file that gives an id twice, or an id another file holds, is refused whole
        (in path order, the first file keeps the id), as `newsqa build` refuses it."""
        batch = _Batch(stamps=dict(stamps), failed=dict(failed or {}))
        holder: dict[str, str] = {}
        for path in sorted(loaded):
            documents = loaded[path]
            if documents is None:
                batch.files[path] = None
                batch.deletes.update(self._ids.get(path, ()))
                continue
            ids = [d.id for d in documents]
            problem = "the file gives the same article id twice" if len(set(ids)) != len(ids) else None
            for document_id in ids if problem is None else ():
                other = holder.get(document_id) or (self._holder(document_id, path, loaded) if remembered else None)
                if other is not None:
                    problem = f"duplicate document id {document_id!r} (also in {self._name(other)})"
                    break
            if problem is not None:
                batch.failed[path] = self._file_error(path, problem, None)
                batch.stamps.pop(path, None)
                batch.complete = False
                continue
            holder.update({i: path for i in ids})
            batch.files[path] = ids
            batch.deletes.update(set(self._ids.get(path, ())) - set(ids))
            batch.upserts.update({d.id: d for d in documents})
        batch.deletes -= set(batch.upserts)  # an article that moved to another file stays
        return batch

    def _holder(self, document_id: str, path: str, loaded: dict) -> str | None:
        """Another file, not read in this batch and still there, that holds `document_id`."""
        owner = self._owner.get(document_id)
        if owner is None or owner == path or owner in loaded or not os.path.exists(owner):
            return None
        return owner

    def _name(self, path: str) -> str:
        """`path` as shown to clients: relative to its article folder (never a server path)."""
        root = self._root_of(path)
        return os.path.relpath(path, root) if root is not None else os.path.basename(path)

    def _file_error(self, path: str, reason: str, line: int | None) -> str:
        """Log and keep (for `status()`) why `path` was not indexed; returns the reason."""
        where = f"{self._name(path)}:{line}" if line is not None else self._name(path)
        LOG.error("%s not indexed: %s", path, reason)
        with self._cond:
            self._file_errors.append({"file": where, "reason": reason, "at": utc_now()})
        return reason if line is None else f"{reason} (line {line})"

    def _full_batch(self) -> _Batch:
        """Every file of the article folders. A file that cannot be read keeps its articles indexed,
        so then nothing is removed."""
        loaded: dict[str, list[Document] | None] = {}
        stamps: dict[str, tuple[int, int]] = {}
        failed: dict[str, str] = {}
        complete = True
        for configured in self.articles:
            try:
                files, root = article_files(configured)
            except ArticleError:
                LOG.error("article path %s is missing: nothing is removed from the index", configured)
                complete = False
                continue
            for file in files:
                path = os.path.abspath(file)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                documents = self._load(path, root, failed)
                if documents is None:
                    complete = False
                    continue
                loaded[path], stamps[path] = documents, (stat.st_mtime_ns, stat.st_size)
        batch = self._plan(loaded, stamps, remembered=False, failed=failed)
        batch.complete = batch.complete and complete
        return batch

    # -- writing ------------------------------------------------------------------------------------
    def _apply(self, batch: _Batch, full: bool) -> BuildSummary | None:
        """Write `batch` (a sync with the whole archive when `full` and every file was read). A full
        batch with no article at all writes nothing: an empty or missing folder is more likely a
        mistake than an empty archive."""
        documents = list(batch.upserts.values())
        if full and not documents:
            LOG.warning("no articles in %s: the index is left as it is", ", ".join(map(str, self.articles)))
            return None
        current = self.backend.current_version()
        chunking = (self.backend.manifest(current).get("chunking") if current else None) or {}
        if full and (batch.complete or current is None):
            summary = sync_index(self.backend, self.embedder, documents=documents, **chunking)
        elif documents or batch.deletes:
            summary = sync_index(self.backend, self.embedder, upserts=documents, deletes=sorted(batch.deletes),
                                 **chunking)
        else:
            summary = None
        self._remember(batch, full)
        if summary is not None and summary.version is not None:
            LOG.info("archive version %s: %d added, %d changed, %d removed (%d chunks embedded) in %.1f s",
                     summary.version, summary.added, summary.changed, summary.removed, summary.embedded_chunks,
                     summary.seconds)
            with self._cond:
                self._last_write = {"at": utc_now(), "version": summary.version, "added": summary.added,
                                    "changed": summary.changed, "removed": summary.removed,
                                    "embedded_chunks": summary.embedded_chunks, "seconds": summary.seconds,
                                    "embed_seconds": round(summary.stages.get("embed", 0.0), 3)}
            if self.after_write is not None:  # the write is done whatever happens here
                try:
                    self.after_write(summary)
                except Exception:
                    LOG.exception("version %s was written, but loading it after the write failed", summary.version)
        with self._cond:
            self._error, self._backoff = None, 0.0
        return summary

    def _remember(self, batch: _Batch, full: bool) -> None:
        """What each file now holds, once written."""
        if full:
            self._ids, self._owner, self._stamps = {}, {}, {}
        for path, ids in batch.files.items():
            for old in self._ids.pop(path, ()):
                if self._owner.get(old) == path:
                    del self._owner[old]
            self._stamps.pop(path, None)
            if ids is not None:
                self._ids[path] = ids
                self._owner.update({i: path for i in ids})
        self._stamps.update(batch.stamps)
