"""Segments: the immutable parts a version of the FAISS folder store is made of.

A segment holds some articles whole: their rows (SQLite), their chunk vectors (FAISS, under
the chunks' ids) and their BM25 postings. It is written once, into `segments/.<name>.partial`,
fsynced and renamed to `segments/<name>`, and never changed after; every version that lists
it shares its files. A write adds a segment for its new articles and marks the articles it
replaces or deletes as deleted in the new version (`deleted.npy`, by ordinal); a merge
rewrites several segments' live articles into one (`qa.stores.faiss.write`).

Files of a segment:

    segment.json        counts, the FAISS kind and the checksums of the files below
    documents.sqlite3   documents (text, metadata, fingerprint) and chunks (offsets)
    vectors.faiss       chunk vectors under their chunk ids
    postings/           BM25 postings (`qa.stores.faiss.postings`)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import faiss
import numpy as np

from qa.stores.faiss.build import build_faiss, faiss_kind, ivf_nprobe
from qa.stores.faiss.layout import SEGMENTS_DIR, _fsync, file_checksum
from qa.stores.faiss.postings import POSTINGS_DIR, Postings, PostingsFiles, write_postings

SEGMENT_FILE = "segment.json"
DOCUMENTS_FILE = "documents.sqlite3"
VECTORS_FILE = "vectors.faiss"

SCHEMA = """
CREATE TABLE documents (
    ordinal INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL, text TEXT NOT NULL, url TEXT, published TEXT, day TEXT, source TEXT, section TEXT,
    author TEXT, path TEXT, pages TEXT, summary_only INTEGER NOT NULL DEFAULT 0, fingerprint TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL
);
CREATE INDEX chunks_by_document ON chunks(ordinal);
"""


def read_only(path: Path) -> sqlite3.Connection:
    """A segment's SQLite file, read-only and immutable (a segment never changes): no locks, no
    journal. A URI (percent-encoded by as_uri, so '#', '?' or '%' in a folder name are safe)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def segment_files(folder: Path) -> list[str]:
    """The files of a (staged) segment, relative to it, `segment.json` left out."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != SEGMENT_FILE)


def verify_segment(folder: Path, expected_checksum: str | None) -> dict:
    """The segment's `segment.json` after checking it and every file it lists; raises
    `ValueError` naming the first file that is missing or altered."""
    info_path = folder / SEGMENT_FILE
    if not info_path.exists() or (expected_checksum and file_checksum(info_path) != expected_checksum):
        raise ValueError(SEGMENT_FILE)
    info = json.loads(info_path.read_text())
    for name, checksum in (info.get("files") or {}).items():
        path = folder / name
        if not path.exists() or file_checksum(path) != checksum:
            raise ValueError(name)
    return info


def seal_segment(folder: Path, info: dict) -> str:
    """Record the files' checksums in `segment.json` and fsync everything; returns the
    checksum of `segment.json` (what a version's manifest records)."""
    names = segment_files(folder)
    info["files"] = {name: file_checksum(folder / name) for name in names}
    (folder / SEGMENT_FILE).write_text(json.dumps(info, indent=2) + "\n")
    for name in (*names, SEGMENT_FILE):
        _fsync(folder / name)
    _fsync(folder / POSTINGS_DIR)
    _fsync(folder)
    return file_checksum(folder / SEGMENT_FILE)


class Segment:
    """One opened segment: its SQLite rows, FAISS index (memory-mapped) and postings.

    Per chunk, in chunk-id order (the postings' positions): `chunk_ids` and `chunk_ordinals`;
    per article, in ordinal order: `doc_ordinals` and `doc_rows` (id, day, section, source).
    Those and `postings` are read on first use: a write that only needs the fingerprints of
    a big archive does not read a million chunk rows.
    """

    _LAZY = frozenset({"chunk_ids", "chunk_ordinals", "doc_rows", "doc_ordinals", "postings"})

    def __init__(self, folder: Path, info: dict) -> None:
        self.folder, self.info, self.name = folder, info, folder.name
        self._lock = threading.Lock()
        self.db = read_only(folder / DOCUMENTS_FILE)
        # Memory-mapped, zero copy: loading costs no read of the vectors, and the kernel shares
        # and pages them. Safe because a segment's files never change; a pruned segment's file
        # stays readable (unlinked, not truncated) while a process still maps it.
        try:
            self.faiss_index = faiss.read_index(str(folder / VECTORS_FILE), faiss.IO_FLAG_MMAP_IFC)
            # Opened now and read on first use, like the SQLite file: what this process opened
            # stays readable after later writes prune the version (see `PostingsFiles`).
            self._postings_files: PostingsFiles | None = PostingsFiles(folder / POSTINGS_DIR)
        except BaseException:
            self.db.close()
            raise
        if isinstance(ivf := faiss.downcast_index(self.faiss_index), faiss.IndexIVF):
            ivf.nprobe = ivf_nprobe(ivf.nlist)

    def __getattr__(self, name: str):
        """The lazily read attributes (`_LAZY`), read once under the segment's lock."""
        if name not in Segment._LAZY:
            raise AttributeError(name)
        with self._lock:
            if name == "postings" and name not in self.__dict__:
                # `Postings` closes the small files, read or not: a failed read is retried from the folder
                files, self._postings_files = self._postings_files, None
                self.postings = Postings(files or PostingsFiles(self.folder / POSTINGS_DIR))
            elif name not in self.__dict__:
                self._read_rows()
        return self.__dict__[name]

    def _read_rows(self) -> None:
        rows = self.db.execute("SELECT chunk_id, ordinal FROM chunks ORDER BY chunk_id").fetchall()
        array = np.array(rows, dtype=np.int64).reshape(-1, 2)
        self.chunk_ordinals = array[:, 1].copy()
        self.doc_rows = self.db.execute("SELECT ordinal, id, day, section, source FROM documents "
                                        "ORDER BY ordinal").fetchall()
        self.doc_ordinals = np.array([row[0] for row in self.doc_rows], dtype=np.int64)
        self.chunk_ids = array[:, 0].copy()

    @property
    def is_ivf(self) -> bool:
        return isinstance(faiss.downcast_index(self.faiss_index), faiss.IndexIVF)

    def close(self) -> None:
        self.db.close()
        if self._postings_files is not None:
            self._postings_files.close()
            self._postings_files = None


def new_database(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")  # the whole segment is fsynced before any version lists it
        db.executescript(SCHEMA)
    except BaseException:
        db.close()  # an open file would keep its disk space after the failed write removes it
        raise
    return db


def write_vectors(folder: Path, vectors: np.ndarray, chunk_ids: np.ndarray) -> str:
    """The segment's FAISS index (its kind chosen by its size); returns the kind."""
    index = build_faiss(vectors, chunk_ids)
    faiss.write_index(index, str(folder / VECTORS_FILE))
    return faiss_kind(index)


__all__ = ["DOCUMENTS_FILE", "SEGMENTS_DIR", "SEGMENT_FILE", "Segment", "VECTORS_FILE", "new_database",
           "read_only", "seal_segment", "segment_files", "verify_segment", "write_postings", "write_vectors"]
