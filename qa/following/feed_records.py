"""What following a feed keeps: the feeds file, each entry's identity and what it said, and the
state of what was seen (`feeds/.state.json`). `qa.following.feeds` polls with them.

- `read_feed_list`: the feed URLs of a feeds file (`FeedListError` names the file and line).
- `entry_key`, `entry_document_id`, `feed_owner`, `readable_date`, `entry_hash`: an entry's identity,
  its article id, the feed that wrote it, its date and a hash of what it said.
- `FeedPoll`: what one poll of one feed found; `FeedState`: what is kept of every feed once the
  entries a poll led to are indexed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from qa.following.fetch import check_url
from qa.following.writer import utc_now
from qa.ingestion import normalize_date, slugify
from qa.ingestion.common import write_atomic

LOG = logging.getLogger(__name__)

STATE_FILE = ".state.json"  # hidden: no article
STATE_FORMAT = 1


class FeedListError(ValueError):
    """A feeds file that cannot be used; the message names the file and line (`reason` and `line` alone)."""

    def __init__(self, path: Path, reason: str, line: int | None = None) -> None:
        self.reason, self.line = reason, line
        super().__init__(f"{path}:{line}: {reason}" if line is not None else f"{path}: {reason}")


def read_feed_list(path: Path) -> list[str]:
    """The feed URLs of a feeds file, in order, each once."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise FeedListError(path, f"cannot read the feeds file ({type(err).__name__})") from None
    urls: list[str] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            url = check_url(line)
        except ValueError as err:
            raise FeedListError(path, str(err), number) from None
        if url not in urls:
            urls.append(url)
    return urls


# -- entries --------------------------------------------------------------------------------------
def entry_key(entry) -> str | None:
    """What makes an entry the same entry: its guid, else its link."""
    return (entry.get("id") or entry.get("link") or "").strip() or None


def entry_document_id(key: str) -> str:
    """The article id of the entry with this key (`entry_key`), whichever feed carries it."""
    host = urlsplit(key).hostname if key.lower().startswith(("http://", "https://")) else None
    prefix = slugify(host.removeprefix("www.")) if host else "feed"
    return f"{prefix}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"


def feed_owner(url: str) -> str:
    """What an entry's file keeps of the feed that wrote it: a hash of its whole URL (two feeds that
    differ only in their query are two feeds; the query, which may hold a key, is not written)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def readable_date(value: str | None) -> str | None:
    """`value` normalized, when `newsqa build` reads it back as it is and it is from the year 1000
    on; None for anything else (the entry then takes another date)."""
    if not value:
        return None
    try:
        normalized = normalize_date(value)
        if normalize_date(normalized) != normalized or int(normalized[:4]) < 1000:
            return None
    except ValueError:
        return None
    return normalized


def entry_hash(entry) -> str:
    """A hash of what the entry says: a change in any of it is a changed entry."""
    said = [entry.get(name) for name in ("id", "link", "title", "summary", "published", "updated", "author")]
    said.append([content.get("value") for content in entry.get("content") or ()])
    said.append([tag.get("term") for tag in entry.get("tags") or ()])
    return hashlib.sha256(json.dumps(said, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()[:20]


@dataclass
class FeedPoll:
    """What one poll of one feed found: the files it wrote, and the state to keep once they are indexed."""

    url: str
    started: str
    error: str | None = None
    not_modified: bool = False
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    entries: dict[str, dict] = field(default_factory=dict)  # id -> {"hash", "page", "tries"}
    written: list[str] = field(default_factory=list)  # files written (new or changed entries)
    skipped: list[str] = field(default_factory=list)  # entries not written: no text anywhere, no identity
    retry_pages: bool = False  # a page to try again: the next poll asks for the whole feed
    complete: bool = True  # False: cut short (stopping); nothing of it is kept, neither validators nor entries


class FeedState:
    """`feeds/.state.json`: per feed its validators, title, when an entry of it was last indexed,
    and its entries' hashes. Written whole, atomically; safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_FILE
        self._lock = threading.Lock()
        self._feeds: dict[str, dict] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:  # a damaged state costs one full fetch of each feed
            LOG.warning("feed state %s not read (%s): every feed is fetched whole once", self.path, err)
            return
        feeds = _state_feeds(data)
        if feeds is None:
            LOG.warning("feed state %s is not one this version writes: every feed is fetched whole once", self.path)
            return
        self._feeds = feeds

    def feed(self, url: str) -> dict:
        with self._lock:
            return dict(self._feeds.get(url) or {})

    def entry(self, url: str, document_id: str) -> dict | None:
        """What was last seen of this entry, in this feed or, failing that, in another."""
        with self._lock:
            found = (self._feeds.get(url) or {}).get("entries", {}).get(document_id)
            if found is None:
                found = next((f["entries"][document_id] for f in self._feeds.values()
                              if document_id in f.get("entries", {})), None)
            return found

    def commit(self, poll: FeedPoll) -> None:
        with self._lock:
            kept = self._feeds.get(poll.url) or {}
            kept.update({"etag": None if poll.retry_pages else poll.etag,
                         "last_modified": None if poll.retry_pages else poll.last_modified,
                         "title": poll.title, "entries": poll.entries})
            if poll.written:
                kept["updated_at"] = utc_now()
            self._feeds[poll.url] = kept
            data = {"format": STATE_FORMAT, "feeds": self._feeds}
            write_atomic(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


_KEPT_TEXT = ("etag", "last_modified", "title", "updated_at")


def _state_feeds(data: object) -> dict[str, dict] | None:
    """The feeds of a state file shaped as `FeedState.commit` writes it; None for any other shape."""
    feeds = data.get("feeds") if isinstance(data, dict) and data.get("format") == STATE_FORMAT else None
    if not isinstance(feeds, dict):
        return None
    for kept in feeds.values():
        if not isinstance(kept, dict) or not all(isinstance(kept.get(k), (str, type(None))) for k in _KEPT_TEXT):
            return None
        entries = kept.get("entries", {})
        if not isinstance(entries, dict):
            return None
        for seen in entries.values():
            if not (isinstance(seen, dict) and isinstance(seen.get("hash"), (str, type(None)))
                    and isinstance(seen.get("page", True), bool)
                    and type(seen.get("tries", 0)) is int):
                return None
    return feeds


def read_record(path: Path) -> dict | None:
    """An entry's file as written, None when there is none (or it is no record of ours)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
