"""`FaissBackend`: the place, versions of one archive in a folder (see `qa.stores.faiss`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from qa.faults import pause_point
from qa.stores.base import ChangeSet, IndexLoadError, check_embedding, open_older, write_failure
from qa.stores.faiss.layout import (
    FORMAT_VERSION,
    SEGMENTS_DIR,
    VERSION_NAME,
    FolderLock,
    _fsync,
    file_checksum,
    new_version_name,
    read_current,
    remove_stale_partials,
    remove_unlisted_segments,
    switch_current,
    version_folders,
)
from qa.stores.faiss.segment import Segment, verify_segment
from qa.stores.faiss.store import FaissStore
from qa.stores.faiss.write import DELETED_FILE, stage_version

LOG = logging.getLogger(__name__)


class FaissBackend:
    """Versions of one archive in `index_dir` (see `qa.stores.faiss`)."""

    name = "faiss"

    def __init__(self, index_dir: str | Path, keep_previous: int = 1) -> None:
        self.index_dir = Path(index_dir)
        self.keep_previous = keep_previous
        self._lock = FolderLock(self.index_dir)

    def __repr__(self) -> str:
        return f"FaissBackend({str(self.index_dir)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def current_version(self) -> str | None:
        return read_current(self.index_dir)

    def versions(self) -> list[str]:
        """The complete version folders, oldest first (name order is time order)."""
        return version_folders(self.index_dir)

    def open(self, version: str | None = None, *, embedding: dict | None = None, fallback: bool = True) -> FaissStore:
        """Open `version` (default: the one `CURRENT` names), checking files, checksums and the model.

        With `fallback`, when that version is damaged, missing or refused, the newest older
        version that loads is served instead and `manifest["fallback_reason"]` says why: a
        server that restarts after a bad disk event keeps answering from the last good index
        rather than from none. Versions newer than `CURRENT` are never tried: they were not
        made current (a write killed between renaming its folder and the swap). Messages name
        versions, not paths, so they are safe to show to clients.
        """
        version = version or self.current_version()
        if version is None:
            raise IndexLoadError(f"no index in {self.index_dir}: build one with `newsqa build "
                                 f"--index-dir {self.index_dir}`")
        try:
            return self._open(version, embedding)
        except IndexLoadError as err:
            if not fallback:
                raise
            failure = err
        ordered = VERSION_NAME.match(version) is not None
        older = [v for v in self.versions() if v != version and (v < version or not ordered)]
        return open_older(failure, older, lambda v: self._open(v, embedding))

    def manifest(self, version: str) -> dict:
        return json.loads((self.index_dir / version / "manifest.json").read_text())

    def _open(self, version: str, embedding: dict | None) -> FaissStore:
        directory = self.index_dir / version
        label = f"index version {version}"
        rebuild = "rebuild it with `newsqa build --full`"
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except OSError as err:
            raise IndexLoadError(f"{label} is damaged: unreadable manifest ({err.strerror}); {rebuild}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise IndexLoadError(f"{label} is damaged: unreadable manifest ({err}); {rebuild}") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"{label} has format {manifest.get('format')}, but this release reads format "
                                 f"{FORMAT_VERSION}; {rebuild}")
        if embedding is not None:
            check_embedding(version, manifest.get("embedding_model") or {}, embedding, rebuild)
        files = manifest.get("files") or {}
        if DELETED_FILE not in files or not isinstance(manifest.get("segments"), list):
            raise IndexLoadError(f"{label} is damaged: its manifest lists files {sorted(files)}; {rebuild}")
        for name, checksum in files.items():
            path = directory / name
            if not path.exists() or file_checksum(path) != checksum:
                raise IndexLoadError(f"{label} is damaged: {name} is missing or altered; {rebuild}")
        segments: list[Segment] = []
        try:
            for entry in manifest["segments"]:
                folder = self.index_dir / SEGMENTS_DIR / entry["name"]
                try:
                    info = verify_segment(folder, entry.get("checksum"))
                except ValueError as err:
                    raise IndexLoadError(f"{label} is damaged: {err} of segment {entry['name']} is missing or "
                                         f"altered; {rebuild}") from None
                segments.append(Segment(folder, info))
            store = FaissStore(directory, manifest, segments, np.load(directory / DELETED_FILE))
        except IndexLoadError:
            for segment in segments:
                segment.close()
            raise
        except OSError as err:
            for segment in segments:
                segment.close()
            raise IndexLoadError(f"{label} is damaged: unreadable file ({err.strerror}); {rebuild}") from None
        except (ValueError, KeyError, TypeError, RuntimeError, sqlite3.Error) as err:  # checksums matched: a bug
            for segment in segments:
                segment.close()
            raise IndexLoadError(f"{label} is damaged: {type(err).__name__} while reading it; {rebuild}") from None
        wrong = [s.name for s in segments if s.faiss_index.ntotal != s.info.get("chunks") or (
            embedding is not None and s.faiss_index.d != embedding["dimension"])]
        if wrong or manifest.get("chunks") != sum(e.get("live_chunks", -1) for e in manifest["segments"]):
            store.close()
            raise IndexLoadError(f"{label} is damaged: the vectors or counts of segment "
                                 f"{', '.join(wrong) or '(the manifest)'} disagree; {rebuild}")
        LOG.info("opened index %s: %d documents, %d chunks in %d segments (%s)", version, manifest.get("documents"),
                 manifest.get("chunks"), len(segments), manifest.get("faiss_index"))
        return store

    # -- writing ----------------------------------------------------------------------------------
    def lock(self, wait_s: float = 120.0):
        """One write at a time per index folder (see `FolderLock`): a context manager."""
        return self._lock.hold(wait_s)

    def remove_stale_partials(self) -> list[str]:
        """Delete what killed writes left behind: `.v*.partial` folders and `.CURRENT.tmp`.
        Call only under `lock`: then no write is running, so nothing deleted is in use."""
        return remove_stale_partials(self.index_dir)

    def write(self, changes: ChangeSet) -> str:
        with self.lock():
            return self._write(changes)

    def _write(self, changes: ChangeSet) -> str:
        """A new version from the current one: new segments written, fsynced and renamed into
        `segments/`, then the version's staging folder filled, fsynced, renamed to the new
        version and named in `CURRENT`; then the versions beyond `keep_previous` older ones
        and the segments no version lists any more are pruned."""
        self.remove_stale_partials()
        previous = self.current_version()
        base = None if changes.replace_all or previous is None else self.manifest(previous)
        if base is not None and base.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"index version {previous} has format {base.get('format')}: an incremental write "
                                 f"needs format {FORMAT_VERSION}; rebuild it with `newsqa build --full`")
        version = new_version_name(self.versions())
        staging = self.index_dir / f".{version}.partial"
        created: list[str] = []
        try:
            staging.mkdir()
            stage_version(self.index_dir, staging, base, changes, version, created)
            pause_point("before_rename")
            os.replace(staging, self.index_dir / version)
            _fsync(self.index_dir)
            pause_point("before_swap")
            switch_current(self.index_dir, version)
        except BaseException as err:
            # Nothing of this write is kept, so a full disk gets its space back at once and the
            # version in use stays current (a kill instead leaves what `remove_stale_partials` finds).
            shutil.rmtree(staging, ignore_errors=True)
            (self.index_dir / ".CURRENT.tmp").unlink(missing_ok=True)
            if self.current_version() == version:  # only the directory's fsync failed: it is in
                LOG.warning("version %s is current, but syncing %s failed: %s", version, self.index_dir, err)
            else:
                shutil.rmtree(self.index_dir / version, ignore_errors=True)
                for name in created:
                    shutil.rmtree(self.index_dir / SEGMENTS_DIR / name, ignore_errors=True)
                remove_stale_partials(self.index_dir)
                if isinstance(err, (OSError, sqlite3.Error, RuntimeError)):
                    raise write_failure(err, self.index_dir) from err
                raise
        pause_point("after_swap")
        others = [v for v in self.versions() if v != version]
        for old in others[: max(0, len(others) - self.keep_previous)]:
            if old != previous:
                shutil.rmtree(self.index_dir / old, ignore_errors=True)
        remove_unlisted_segments(self.index_dir)
        return version
