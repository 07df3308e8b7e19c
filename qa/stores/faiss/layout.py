"""The FAISS store's folder layout: version names, `CURRENT`, manifests' checksums, the write lock
and what killed writes leave behind (see `qa.stores.faiss` for the layout itself)."""

from __future__ import annotations

import calendar
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from qa.embedding import file_sha256
from qa.stores.base import BuildInProgressError

LOG = logging.getLogger(__name__)

# 4: shared segments (each its SQLite, FAISS and BM25 postings) and deleted ordinals per version;
# 3: one SQLite, FAISS and bm25s score matrix per version; 2: jsonl + positional FAISS
FORMAT_VERSION = 4
SEGMENTS_DIR = "segments"
FULL_CHECKSUM_BYTES = 64 << 20  # larger files are checked by size and sampled hash (loading must stay fast)
VERSION_NAME = re.compile(r"^v(\d{8}-\d{6})-(\d{6}|\d{9})$")  # 6 digits: names of earlier releases


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to disk (a directory: the names in it)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_checksum(path: Path) -> str:
    """sha256 of the file; above `FULL_CHECKSUM_BYTES`, of its size and first and last 4 MiB.

    Every load verifies the checksums, and hashing a 1.5 GB vector file would take seconds
    on each start: a large file is checked by size (truncation) and by sampled content
    (a file replaced by another)."""
    size = path.stat().st_size
    if size <= FULL_CHECKSUM_BYTES:
        return file_sha256(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(str(size).encode())
        digest.update(handle.read(4 << 20))
        handle.seek(size - (4 << 20))
        digest.update(handle.read())
    return "sampled:" + digest.hexdigest()


def _version_ns(name: str) -> int | None:
    match = VERSION_NAME.match(name)
    if match is None:
        return None
    seconds = calendar.timegm(time.strptime(match[1], "%Y%m%d-%H%M%S"))
    return seconds * 1_000_000_000 + int(match[2].ljust(9, "0"))


def new_version_name(existing: list[str], now_ns: int | None = None) -> str:
    """`v%Y%m%d-%H%M%S-<ns within the second, 9 digits>` (UTC) from one clock reading.

    The fixed width makes name order time order, and a name is always bumped past the
    newest existing version, so two builds in the same nanosecond, or after the clock
    stepped back, still sort in the order they were made.
    """
    ns = time.time_ns() if now_ns is None else now_ns
    newest = max(existing, default=None)
    if newest is not None and (newest_ns := _version_ns(newest)) is not None:
        ns = max(ns, newest_ns + 1)
    seconds, within = divmod(ns, 1_000_000_000)
    name = "v" + time.strftime("%Y%m%d-%H%M%S", time.gmtime(seconds)) + f"-{within:09d}"
    if newest is not None and name <= newest:
        raise RuntimeError(f"version name {name} would not sort after {newest}")
    return name


def version_folders(index_dir: Path) -> list[str]:
    """The complete version folders, oldest first (name order is time order)."""
    if not index_dir.is_dir():
        return []
    return sorted(p.name for p in index_dir.iterdir() if VERSION_NAME.match(p.name) and p.is_dir())


def read_current(index_dir: Path) -> str | None:
    """The version `CURRENT` names, None when there is none."""
    try:
        return (index_dir / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None


def switch_current(index_dir: Path, version: str) -> None:
    """Name `version` in `CURRENT`: written to `.CURRENT.tmp`, fsynced, renamed over it in one step."""
    pointer = index_dir / ".CURRENT.tmp"
    with open(pointer, "w") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / "CURRENT")
    _fsync(index_dir)


def remove_stale_partials(index_dir: Path) -> list[str]:
    """Delete what killed writes left behind: `.v*.partial` folders, `.CURRENT.tmp`, partial
    segments and segments that no version lists. Call only under the folder's lock: then no
    write is running, so nothing deleted is in use."""
    removed = []
    segments = index_dir / SEGMENTS_DIR
    for path in [*sorted(index_dir.glob(".v*.partial")), *sorted(index_dir.glob(".CURRENT.tmp")),
                 *sorted(segments.glob(".s*.partial"))]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    removed += remove_unlisted_segments(index_dir)
    if removed:
        LOG.warning("removed what an interrupted build left: %s", ", ".join(removed))
    return removed


def remove_unlisted_segments(index_dir: Path) -> list[str]:
    """Delete the segments that no version folder lists (those of pruned versions, or of a write
    that was killed before its version appeared). Under the folder's lock only. When a version's
    manifest cannot be read, nothing is deleted: what it lists is unknown."""
    folder = index_dir / SEGMENTS_DIR
    if not folder.is_dir():
        return []
    listed: set[str] = set()
    for version in version_folders(index_dir):
        try:
            manifest = json.loads((index_dir / version / "manifest.json").read_text())
            if manifest.get("format", 0) < 4 and "segments" not in manifest:
                continue  # an earlier release's version: it has no segments
            listed.update(entry["name"] for entry in manifest["segments"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            LOG.warning("segments not pruned: the manifest of %s cannot be read (%s)", version, err)
            return []
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith(".") and path.name not in listed:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"{SEGMENTS_DIR}/{path.name}")
    return removed


class FolderLock:
    """One write at a time per index folder: across processes by `flock` (a second build
    fails at once with `BuildInProgressError`), within this process by a lock that other
    threads wait up to `wait_s` for (two articles added at once are written one after
    the other). Re-entrant for the thread that holds it, so a sync can hold it while it
    reads the current version, embeds and then calls `write`."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._thread_lock = threading.RLock()
        self._depth = 0  # nesting by the thread that holds `_thread_lock`

    @contextmanager
    def hold(self, wait_s: float = 120.0):
        if not self._thread_lock.acquire(timeout=wait_s):
            raise BuildInProgressError(f"another write on {self.index_dir} is still running")
        try:
            self._depth += 1
            if self._depth > 1:
                yield
                return
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with open(self.index_dir / ".build.lock", "w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise BuildInProgressError(f"another build is running on {self.index_dir}") from None
                yield
        finally:
            self._depth -= 1
            self._thread_lock.release()
