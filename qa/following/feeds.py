"""Following RSS and Atom feeds (`newsqa serve --feeds FILE`, `newsqa build --feeds FILE`).

Each feed of the feeds file (one http(s) URL a line; blank lines and `#` comments allowed) is
fetched every `poll_s` seconds with a conditional GET (ETag, Last-Modified). Each new or changed
entry becomes an article file, a JSON record in `<archive folder>/feeds/` (the archive folder is
the first folder of `NEWSQA_ARTICLES`, where added articles go too), and the `ArchiveWriter`
indexes it. Because the entry lives in the archive folder like any article, `newsqa build`
keeps it, and a lost index is rebuilt with it.

- Its id comes from the entry's guid, else its link (`<host>-<12 hex of sha1>`): an entry is one
  article whichever feed carries it, however often it is seen, across restarts. An entry with
  neither is known by its feed's URL and its title (an edit of its text replaces it; two such
  entries of one feed with the same title are one article), and one without a title either is
  skipped (nothing tells it apart from the next edit of itself). A changed entry (title, text,
  link, dates or categories) is written again under its id and so replaced.
- Its text is the linked page's main text, extracted by trafilatura as a saved page is, when the
  page can be fetched (and holds at least as much text as the entry), else the entry's own content
  or summary (marked summary-only). A page that failed for a passing reason (a timeout, a 5xx), or
  that one poll had no time left for (`PAGES_BUDGET_S`), is tried again at the next polls,
  `PAGE_TRIES` times in all.
- Title, date (the entry's, else the page's, else when first seen; a date before the year 1000
  counts as none), source (the feed's title), section (the entry's first category), author and URL
  come along. Each record is read back as `newsqa build` reads it before it is written: a record
  that would not load is skipped with the reason in the log, never written.
- The file names the feed that wrote it by a hash of its whole URL (`feed.owner`; `feed.url`, shown,
  has no query): an entry that several feeds carry is kept by the first, while it is followed.

A feed that cannot be read (an HTTP error, a timeout, a body over the limit, no feed at all) is
skipped until its next poll, with the reason in the log and in `status()`; the others go on.
What was seen of each feed (validators, and per entry a hash of what it said) is kept in
`feeds/.state.json` once the entries it led to are indexed: a server killed before that fetches
the feed whole again and writes the same files, which the sync then finds unchanged. A poll cut
short (the server stopping) keeps nothing, nor does one whose files were not all indexed. At start,
and in each `newsqa build --feeds`, the whole `feeds/` folder is handed to the writer, so that
files a kill or a failed write left unindexed are indexed (unchanged ones cost no embedding).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qa.following.feed_records import (
    FeedListError,
    FeedPoll,
    FeedState,
    entry_document_id,
    entry_hash,
    entry_key,
    feed_owner,
    read_feed_list,
    read_record,
    readable_date,
)
from qa.following.fetch import Fetcher, FetchError, check_url, is_internal_host, shown_url
from qa.following.writer import ArchiveWriter, lower_priority, utc_now
from qa.ingestion import ArticleError
from qa.ingestion.common import write_atomic
from qa.types import Document

LOG = logging.getLogger(__name__)

FEEDS_FOLDER = "feeds"  # inside the archive folder
PAGE_TRIES = 3
PAGES_BUDGET_S = 60.0  # one poll fetches pages for this long at most; the rest wait for the next poll
_HTML_TYPES = ("text/html", "application/xhtml+xml", "")


def _one_line(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


@dataclass
class _Page:
    document: Document | None = None
    done: bool = True  # fetched, or failed for good: not tried again while the entry stays the same


# -- polling ------------------------------------------------------------------------------------
class FeedPoller:
    """Polls the feeds of a feeds file and writes their new and changed entries as article files.

    :param feeds_file: the feeds file (read again when it changes; a line that is no http(s) URL
        is refused with its number).
    :param folder: where the entries' files go (`<archive folder>/feeds`).
    :param fetcher: fetches feeds and pages with the timeout and size limit.
    :param poll_s: seconds between two polls of one feed.
    :param writer: indexes the files (`start` hands them over; `poll` alone does not).
    """

    def __init__(self, feeds_file: Path, folder: Path, fetcher: Fetcher, poll_s: float = 300.0,
                 writer: ArchiveWriter | None = None, workers: int = 4) -> None:
        self.feeds_file = Path(feeds_file)
        self.folder = Path(folder)
        self.fetcher = fetcher
        self.poll_s = poll_s
        self.writer = writer
        self.workers = workers
        self.urls: list[str] = []
        self._listed: float | None = None  # the feeds file's mtime when read
        self._list_error: str | None = None
        self.state: FeedState | None = None
        self._status: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def load(self) -> None:
        """Read the feeds file and the state; `FeedListError` when the file cannot be used."""
        self.urls = read_feed_list(self.feeds_file)
        self._listed = self._mtime()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = FeedState(self.folder)

    def _mtime(self) -> float | None:
        try:
            return self.feeds_file.stat().st_mtime
        except OSError:
            return None

    # -- one poll ---------------------------------------------------------------------------------
    def poll(self, url: str) -> FeedPoll:
        """Fetch one feed and write the files of its new and changed entries (not indexed yet)."""
        poll = FeedPoll(url, utc_now())
        known = self.state.feed(url)
        retry = any(not e.get("page", True) for e in (known.get("entries") or {}).values())
        try:
            fetched = self.fetcher.get(url, etag=None if retry else known.get("etag"),
                                       last_modified=None if retry else known.get("last_modified"))
        except FetchError as err:
            poll.error = str(err)
            return poll
        if fetched is None:
            poll.not_modified = True
            return poll
        from qa.ingestion.feeds import parse_feed

        try:
            parsed = parse_feed(fetched.body, shown_url(url), base_url=fetched.url)
        except ArticleError as err:
            poll.error = err.reason if err.line is None else f"{err.reason} (line {err.line})"
            return poll
        poll.title = _one_line(parsed.feed.get("title"))
        poll.etag, poll.last_modified = fetched.etag, fetched.last_modified
        try:
            internal = is_internal_host(urlsplit(url).hostname or "")
        except TimeoutError:
            internal = False  # not known: its pages are held to a public feed's rule
        budget = time.monotonic() + PAGES_BUDGET_S  # slow page hosts must not hold a worker for long
        for entry in parsed.entries:
            if self._stop.is_set():
                # Stopping: nothing of this poll is kept, so that the next start fetches the feed
                # whole (a kept ETag would get a 304 and never the entries not reached). The files
                # written so far are indexed at the next start.
                poll.complete = False
                break
            self._entry(poll, entry, internal, budget)
        return poll

    def poll_safely(self, url: str) -> FeedPoll:
        """`poll`, with a surprise (a full disk, a bug) made the feed's error: one feed's failure
        must not stop the others (`newsqa build --feeds` and the server alike)."""
        try:
            return self.poll(url)
        except Exception as err:
            if self._stop.is_set():
                return FeedPoll(url, utc_now(), complete=False)  # stopping: the fetcher was closed under it
            LOG.exception("feed %s failed", shown_url(url))
            why = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
            return FeedPoll(url, utc_now(), error=f"the feed's entries could not be kept ({why})")

    def _entry(self, poll: FeedPoll, entry, internal: bool, budget: float) -> None:
        """Write the entry's file when it is new or changed (or its page is to be tried again).

        An entry that several feeds carry is one file, kept by the feed that wrote it first (its
        title is the article's source); the others only note that they saw it."""
        from qa.ingestion.feeds import entry_text

        own_text, summary_only = entry_text(entry)
        key = entry_key(entry)
        if key is None:  # no guid, no link: known by its feed and title (see the module docstring)
            title = _one_line(entry.get("title"))
            if title is None:
                poll.skipped.append("an entry with no guid, link or title")
                return
            key = f"{poll.url}\n{title}"
        document_id = entry_document_id(key)
        if document_id in poll.entries:
            return  # the feed repeats it
        said = entry_hash(entry)
        seen = self.state.entry(poll.url, document_id)
        if seen is not None and seen.get("hash") == said and seen.get("page", True):
            poll.entries[document_id] = seen
            return
        path = self.folder / f"{document_id}.json"
        if not self._keeps(poll.url, read_record(path)):
            poll.entries[document_id] = {"hash": said, "page": True, "tries": 0}
            return
        tries = seen.get("tries", 0) + 1 if seen is not None and seen.get("hash") == said else 1
        page = self._page(entry, document_id, internal) if time.monotonic() < budget else _Page(done=False)
        if not page.done and tries >= PAGE_TRIES:
            page.done = True
        poll.entries[document_id] = {"hash": said, "page": page.done, "tries": tries}
        poll.retry_pages = poll.retry_pages or not page.done
        record = self._record(entry, key, document_id, poll, page.document, own_text, summary_only)
        if record is None:
            poll.skipped.append(_one_line(entry.get("title")) or key)
            return
        from qa.ingestion.records import record_document

        try:  # read back as `newsqa build` will read the file: a file it refuses is never written
            record_document(path, record, document_id)
        except ArticleError as err:
            LOG.warning("feed %s: entry %s not kept: %s", shown_url(poll.url), document_id, err.reason)
            poll.skipped.append(_one_line(entry.get("title")) or document_id)
            return
        data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
        if not path.exists():
            if not write_atomic(path, data, new=True) and not self._keeps(poll.url, read_record(path)):
                return  # another feed wrote it a moment ago
        elif path.read_bytes() != data:
            write_atomic(path, data)
        poll.written.append(str(path))

    def _keeps(self, url: str, record: dict | None) -> bool:
        """Whether the feed at `url` keeps the entry file `record`: there is none yet, it is this
        feed's, or the feed that wrote it is followed no more (feeds told apart by their whole URL)."""
        feed = record.get("feed") if record is not None else None
        owner = feed.get("owner") if isinstance(feed, dict) else None
        if owner is None or owner == feed_owner(url):
            return True
        return owner not in {feed_owner(u) for u in self.urls}

    def _page(self, entry, document_id: str, internal: bool) -> _Page:
        """The linked page's article, when the page can be fetched and holds one."""
        link = (entry.get("link") or "").strip()
        try:
            check_url(link)
        except ValueError:
            return _Page()
        try:
            fetched = self.fetcher.get(link, internal_ok=internal)
        except FetchError as err:
            LOG.info("page %s not fetched (%s): the entry's own text is indexed", shown_url(link), err)
            return _Page(done=not err.transient)
        if fetched is None or fetched.content_type.split(";")[0].strip().lower() not in _HTML_TYPES:
            return _Page()
        from qa.ingestion.html import page_document

        try:
            return _Page(page_document(fetched.body, shown_url(link), document_id))
        except ArticleError as err:
            LOG.info("page %s: %s: the entry's own text is indexed", shown_url(link), err.reason)
            return _Page()

    def _record(self, entry, key: str, document_id: str, poll: FeedPoll, page: Document | None,
                own_text: str, summary_only: bool) -> dict | None:
        """The article file's JSON record; None when neither the page nor the entry has text."""
        if page is not None and len(page.text) >= len(own_text):
            text, summary_only = page.text, False
        else:
            text = own_text
        if not text:
            return None
        from qa.ingestion.feeds import entry_date, entry_section

        def of_page(name: str) -> str | None:
            return getattr(page, name) if page is not None else None

        try:
            dated = entry_date(entry)
        except (ValueError, OverflowError):  # a year feedparser reads but no date holds (0)
            dated = None

        record = {
            "id": document_id,
            "title": _one_line(entry.get("title")) or of_page("title"),
            "text": text,
            "url": _one_line(entry.get("link")) or of_page("url"),
            "published": readable_date(dated) or readable_date(of_page("published")) or self._first_seen(document_id),
            "source": poll.title or of_page("source") or urlsplit(poll.url).hostname,
            "section": _one_line(entry_section(entry)) or of_page("section"),
            "author": _one_line(entry.get("author")) or of_page("author"),
            "summary_only": summary_only,
            "feed": {"url": shown_url(poll.url), "owner": feed_owner(poll.url),
                     **({"guid": key} if key == entry_key(entry) else {})},
        }
        return {name: value for name, value in record.items() if value not in (None, "")}

    def _first_seen(self, document_id: str) -> str:
        """An undated entry's date: when it was first written (kept when it is written again)."""
        try:
            kept = json.loads((self.folder / f"{document_id}.json").read_text(encoding="utf-8"))["published"]
        except (OSError, ValueError, KeyError, TypeError):
            kept = None
        return readable_date(kept if isinstance(kept, str) else None) or utc_now()

    # -- after the poll ---------------------------------------------------------------------------
    def finish(self, poll: FeedPoll, error: str | None = None) -> None:
        """Record the poll: its state is kept when it was whole and its files were indexed (`error`
        None); a state that cannot be written is the feed's error (the next poll tries again)."""
        try:
            if poll.complete and poll.error is None and not poll.not_modified and error is None:
                try:
                    self.state.commit(poll)
                except OSError as err:
                    error = (f"what was seen of the feed could not be kept ({err.strerror or type(err).__name__}): "
                             "it is fetched whole again after a restart")
                    LOG.error("feed %s: %s", shown_url(poll.url), error)
            if poll.error is not None:
                LOG.warning("feed %s skipped until its next poll: %s", shown_url(poll.url), poll.error)
            if not poll.complete:
                return  # stopping: the last whole poll's status stands
            with self._lock:
                status = self._status.setdefault(poll.url, {})
                status["checked_at"] = poll.started
                status["error"] = poll.error or error
                status["status"] = "error" if status["error"] else "not_modified" if poll.not_modified else "ok"
                if poll.title:
                    status["title"] = poll.title
                if poll.error is None and not poll.not_modified:
                    status["entries"] = len(poll.entries)
                    status["new_or_changed"] = len(poll.written)
        finally:
            with self._lock:
                self._in_flight.discard(poll.url)  # polled again at its next turn, whatever happened

    def status(self) -> list[dict]:
        """Per feed: its URL (without query or credentials), title, when it was last checked and with
        what result, when an entry of it last reached the index."""
        with self._lock:
            shown = []
            for url in self.urls:
                kept = self.state.feed(url) if self.state is not None else {}
                live = self._status.get(url, {})
                shown.append({"url": shown_url(url), "title": live.get("title") or kept.get("title"),
                              "status": live.get("status", "waiting"), "error": live.get("error"),
                              "checked_at": live.get("checked_at"), "updated_at": kept.get("updated_at"),
                              "entries": live.get("entries", len(kept.get("entries") or {}))})
            return shown

    @property
    def list_error(self) -> str | None:
        return self._list_error

    # -- the schedule -------------------------------------------------------------------------------
    def start(self) -> None:
        """Poll every feed now and then every `poll_s` seconds, handing the files to the writer."""
        if self._thread is not None:
            return
        if self.state is None:
            self.load()
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="feed-poll", initializer=lower_priority)
        self._thread = threading.Thread(target=self._run, name="feed-schedule", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._reread_list()
            now = time.monotonic()
            with self._lock:
                due = [u for u in self.urls if u not in self._in_flight and self._due.get(u, 0.0) <= now]
                for url in due:
                    self._in_flight.add(url)
                    self._due[url] = now + self.poll_s
                following = min((self._due.get(u, now) for u in self.urls), default=now + 1.0)
            for url in due:
                try:
                    self._pool.submit(self._poll_and_index, url)
                except RuntimeError:  # the pool was shut down: we are stopping
                    return
            self._stop.wait(min(1.0, max(0.05, following - time.monotonic())))

    def _poll_and_index(self, url: str) -> None:
        handed = False  # to the writer (whose callback finishes it) or to `finish`
        try:
            poll = self.poll_safely(url)
            if poll.written and self.writer is not None:
                self.writer.submit(poll.written, settle=False, done=lambda _summary, error: self.finish(poll, error))
                handed = True
            else:
                handed = True
                self.finish(poll)
        finally:
            if not handed:  # the writer refused it (a bug): the feed must still be polled at its next turn
                with self._lock:
                    self._in_flight.discard(url)

    def _reread_list(self) -> None:
        """Follow the feeds file as it is edited; a broken edit keeps the feeds as they were."""
        mtime = self._mtime()
        if mtime == self._listed:
            return
        self._listed = mtime
        try:
            urls = read_feed_list(self.feeds_file)
        except FeedListError as err:
            LOG.error("the feeds file was not read again, the feeds stay as they were: %s", err)
            self._list_error = f"line {err.line}: {err.reason}" if err.line is not None else err.reason
            return
        with self._lock:
            self.urls, self._list_error = urls, None
        LOG.info("following %d feeds", len(urls))

