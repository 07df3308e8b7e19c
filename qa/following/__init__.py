"""A served archive that follows its folders and its feeds (`newsqa serve --watch --feeds FILE`).

- `writer.ArchiveWriter`: the one writer. Followers hand it article files; it syncs them into the
  store in batches through `qa.sync.sync_index`, the sync of `newsqa build` (one write at a time
  under the store's lock, versions made current atomically), and the served index loads each new
  version at once.
- `folders.FolderWatcher`: the article folders, watched with watchfiles (`--watch`, `NEWSQA_WATCH`).
- `feeds.FeedPoller`: RSS and Atom feeds polled with conditional GETs (`--feeds`, `NEWSQA_FEEDS`,
  every `NEWSQA_FEED_POLL_S` seconds); each new or changed entry becomes a file in the archive
  folder, so that `newsqa build` keeps it like any article. `newsqa build --feeds` is one pass.
  Both hand the writer the whole feeds folder too, so that entry files a kill or a failed write
  left unindexed are indexed (a file unchanged since it was indexed costs no embedding).
- `fetch.Fetcher`: http(s) only, a timeout, a size limit, redirects checked hop by hop.

`Follower` puts them together for the server: a cheap constructor, `start()` and `stop()` (the
app's lifespan), `status()` (what `/healthz` and the pages show). Its own threads run at a lower
CPU priority than the questions (the embedding shares the embedder's worker threads with them).

    follower = Follower(live_index, settings)   # settings.watch and/or settings.feeds
    follower.start()
    ...
    follower.stop()
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from qa.config import Settings
from qa.embedding import Embedder
from qa.following.feed_records import FeedListError, FeedPoll, read_feed_list
from qa.following.feeds import FEEDS_FOLDER, FeedPoller
from qa.following.fetch import Fetcher
from qa.following.folders import FolderWatcher, watched_folders
from qa.following.writer import ArchiveWriter
from qa.ingestion.adding import ArticleConflict, archive_folder
from qa.live import LiveIndex
from qa.stores.base import StoreBackend
from qa.sync import BuildSummary

__all__ = ["FeedPass", "FollowError", "Follower", "check_settings", "feeds_folder", "poll_feeds_once"]

LOG = logging.getLogger(__name__)


class FollowError(ValueError):
    """Following cannot start as configured (a feeds file that cannot be used, no article folder); says why."""


def feeds_folder(articles: list[Path]) -> Path:
    """Where followed entries are kept: `feeds/` in the archive folder (where added articles go too)."""
    try:
        return archive_folder(articles) / FEEDS_FOLDER
    except ArticleConflict:
        raise FollowError("no article folder is configured (NEWSQA_ARTICLES names no folder that exists), so "
                          "there is no place to keep the feeds' entries") from None


def check_settings(settings: Settings) -> None:
    """Raise `FollowError` for what would stop a `Follower` from starting: a feeds file that cannot be
    read or names something other than http(s) URLs, no article folder to watch or keep entries in."""
    articles = list(settings.articles)
    if settings.watch and not watched_folders(articles):
        raise FollowError("--watch: none of the article paths is a folder that exists "
                          f"({', '.join(map(str, articles))})")
    if settings.feeds is not None:
        feeds_folder(articles)
        try:
            read_feed_list(settings.feeds)
        except FeedListError as err:
            raise FollowError(str(err)) from None


class Follower:
    """Keeps the served archive following its article folders and feeds.

    :param live_index: the served index; its store is written, and it loads each new version.
    :param settings: `watch`, `articles`, `watch_settle_s`, `feeds`, `feed_poll_s`, `feed_timeout_s`,
        `feed_max_bytes`.
    """

    def __init__(self, live_index: LiveIndex, settings: Settings) -> None:
        self.live_index = live_index
        self.settings = settings
        self.writer: ArchiveWriter | None = None
        self.watcher: FolderWatcher | None = None
        self.poller: FeedPoller | None = None

    @classmethod
    def from_settings(cls, live_index: LiveIndex, settings: Settings) -> Follower | None:
        """A follower when the settings ask for one (`watch` or `feeds`), else None."""
        return cls(live_index, settings) if settings.watch or settings.feeds else None

    def start(self) -> None:
        """Start the writer, the watch and the polls; a start that fails stops what it started, and raises."""
        check_settings(self.settings)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        settings = self.settings
        self.writer = ArchiveWriter(self.live_index.backend, self.live_index.embedder, settings.articles,
                                    settle_s=settings.watch_settle_s, after_write=lambda _: self.live_index.load())
        self.writer.start()
        if settings.watch:
            self.watcher = FolderWatcher(self.writer, settings.articles)
            self.watcher.start()
        if settings.feeds is not None:
            folder = feeds_folder(settings.articles)
            if folder.is_dir() and not settings.watch:  # (--watch syncs with every folder at start)
                self.writer.submit([folder], settle=False)  # what a kill or a failed write left unindexed
            fetcher = Fetcher(settings.feed_timeout_s, settings.feed_max_bytes)
            self.poller = FeedPoller(settings.feeds, folder, fetcher, settings.feed_poll_s, writer=self.writer)
            self.poller.start()
            LOG.info("following %d feeds, each polled every %g s", len(self.poller.urls), settings.feed_poll_s)

    def stop(self) -> None:
        """Stop polling and watching, then the writer after the write under way."""
        if self.poller is not None:
            self.poller.stop()
            self.poller.fetcher.close()
        if self.watcher is not None:
            self.watcher.stop()
        if self.writer is not None:
            self.writer.stop()

    def idle(self) -> bool:
        """No file waiting to be written and no write under way (the watcher's first sync done)."""
        started = self.watcher is None or self.watcher.started.is_set() or self.watcher.error is not None
        return started and (self.writer is None or self.writer.idle())

    def status(self) -> dict:
        """What `/healthz` shows under `following` (no server path, no feed URL's query or credentials)."""
        writer = self.writer.status() if self.writer is not None else {
            "pending_files": 0, "writing": False, "last_write": None, "error": None, "file_errors": []}
        return {
            "watching": self.watcher is not None and self.watcher.error is None,
            "watch_error": self.watcher.error if self.watcher is not None else None,
            "feeds": self.poller.status() if self.poller is not None else [],
            "feeds_file_error": self.poller.list_error if self.poller is not None else None,
            "poll_seconds": self.settings.feed_poll_s if self.poller is not None else None,
            **writer,
        }


@dataclass(frozen=True)
class FeedPass:
    """One pass over the feeds (`newsqa build --feeds`): each feed's poll (a feed whose entries were not
    all indexed has its `error`), and the write (None: nothing written, no entry new or left unindexed)."""

    polls: list[FeedPoll]
    summary: BuildSummary | None

    @property
    def failed(self) -> list[FeedPoll]:
        return [poll for poll in self.polls if poll.error is not None]


def poll_feeds_once(feeds_file: Path, articles: list[Path], backend: StoreBackend, embedder: Embedder, *,
                    timeout_s: float, max_bytes: int, workers: int = 4) -> FeedPass:
    """Poll every feed of `feeds_file` once and index the new and changed entries with one write,
    as the server does at each poll, with the entry files an earlier pass left unindexed. One feed's
    failure, whatever it is, is that feed's `error`. `FollowError` for a feeds file or archive that
    cannot be used; the store's errors (`BuildInProgressError`, `IndexWriteError` ...) as `newsqa
    build` meets them."""
    try:
        folder = feeds_folder(articles)
        poller = FeedPoller(feeds_file, folder, Fetcher(timeout_s, max_bytes))
        poller.load()
    except FeedListError as err:
        raise FollowError(str(err)) from None
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="feed-poll") as pool:
            polls = list(pool.map(poller.poll_safely, poller.urls))
    finally:
        poller.fetcher.close()
    written = ArchiveWriter(backend, embedder, articles).write([folder, *(p for poll in polls for p in poll.written)])
    for poll in polls:
        if poll.error is None:
            poll.error = written.failure(poll.written)  # not kept as seen: read again at the next pass
        poller.finish(poll)
    summary = written.summary if written.summary is not None and written.summary.version is not None else None
    return FeedPass(polls, summary)
