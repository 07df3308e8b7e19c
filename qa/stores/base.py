"""The storage interface: what the index facade (`qa.index.NewsIndex`) and the writer
(`qa.sync.sync_index`) need from a store.

Two back ends implement it: `qa.stores.faiss` (FAISS + bm25s + SQLite in a local folder, the
default) and the Milvus store (Milvus Lite or a Milvus cluster). Nothing outside `qa.stores`
names either: `qa.stores` makes them (`backend_from_settings`, `folder_backend`,
`temporary_backend`), and the configuration picks one (`NEWSQA_STORE=faiss|milvus`).

Two objects per back end:

- a `StoreBackend` is a *place* (an index folder, a Milvus URI and collection name). It
  says which version is current (cheap, polled by `qa.live.LiveIndex`), opens a version for
  reading, holds the write lock, and writes a `ChangeSet`.
- a `Store` is one opened version: hybrid search with filters, documents by id, a
  filtered listing and archive statistics.

What a write promises, per store:

- FAISS folder store: every write, full or incremental, makes a new immutable version
  (the unchanged segments listed again, one new segment for the new articles, the replaced
  and deleted ones marked) and then switches `CURRENT` to it with one atomic rename: a
  reader sees the old archive or the new one, never half of an update, and a killed write
  leaves `CURRENT` naming a complete version.
- Milvus: a full rebuild (`replace_all`, or no current version) fills a new collection and
  then points the alias at it, so readers switch at once from the old archive to the new
  one (the previous collection is kept, older ones dropped). An incremental write (upserts
  and deletes) is NOT a new version: it changes the current collection in place and returns
  its unchanged name. The new chunks of changed articles are inserted first and their old
  chunks deleted after, so an article never disappears mid-update, but a search in between
  may see both copies of it, or some of the write's articles and not yet the others.

Embedding stays outside the stores: `NewsIndex` embeds the question and `qa.sync` the chunks
with the one configured sentence-transformers model and hands vectors to the store, so both
stores rank with exactly the same vectors.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from qa.types import ArchiveStats, Chunk, Document, DocumentPage, Filters, Passage  # noqa: F401

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009), the same in both stores
T = TypeVar("T")


class IndexLoadError(RuntimeError):
    """An index that is missing, damaged, built with another model, or a store that cannot be reached."""


class StoreUnavailableError(IndexLoadError):
    """The store's server cannot be reached (a Milvus cluster that is down): a 503, not a bug."""


@dataclass
class DocumentChunks:
    """One article ready to store: its chunks (offsets into `document.text`) and their vectors.

    `vectors[i]` is the L2-normalized embedding of `passage_input(document.title, chunks[i].text)`.
    `fingerprint` identifies the content (see `document_fingerprint`), so a later sync knows
    whether the article changed.
    """

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    fingerprint: str


@dataclass
class ChangeSet:
    """What one write does: articles added or replaced (by id), and ids removed.

    With `replace_all`, the new version holds exactly `upserts` (a full rebuild);
    otherwise it is the current version with these changes applied.
    """

    upserts: list[DocumentChunks] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    replace_all: bool = False
    settings: dict = field(default_factory=dict)  # embedding model and chunking, recorded in the manifest

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.deletes and not self.replace_all


@runtime_checkable
class Store(Protocol):
    """One opened, read-only version of the archive."""

    manifest: dict  # format, embedding model, chunking, counts, version, built_at ...

    @property
    def version(self) -> str | None: ...

    def search(self, question: str, vector: np.ndarray, k: int, *, candidates: int = 50,
               filters: Filters | None = None, dense_weight: float = 1.0,
               sparse_weight: float = 1.0) -> list[Passage]:
        """Hybrid retrieval: dense (inner product of `vector`, shape (dim,), with the chunk
        vectors) and BM25 over `question`, fused by reciprocal rank (`RRF_K`), best first.

        Only chunks of documents matching `filters` are returned, and filtering happens
        inside retrieval: when at least `k` matching chunks exist, `k` come back.
        `score` is the fused score divided by its maximum, so in 0..1; `dense_score` is the
        cosine for every returned passage. A weight of 0 turns that retriever off.
        """
        ...

    def document(self, document_id: str) -> Document | None: ...

    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20, *,
                  newest_first: bool = False) -> DocumentPage:
        """A page of the documents matching `filters`, in id order, or `newest_first` (the order of
        `newest_first_order`)."""
        ...

    def stats(self) -> ArchiveStats: ...

    def fingerprints(self) -> dict[str, str]:
        """document id -> content fingerprint, for every stored document (what a sync compares)."""
        ...

    def vectors_of(self, document_ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these documents' chunks, keyed by passage input text: a changed
        article re-embeds only the chunks whose text changed."""
        ...

    def warm_up(self) -> None:
        """Read now what questions need and a store reads lazily (the server calls it before it
        serves a version); a no-op for a store that reads nothing lazily."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StoreBackend(Protocol):
    """A place where versions of one archive live."""

    name: str  # "faiss" or "milvus"

    def current_version(self) -> str | None:
        """The version readers should serve now; cheap, polled about once a second."""
        ...

    def open(self, version: str | None = None, *, embedding: dict | None = None, fallback: bool = True) -> Store:
        """Open `version` (default: current). `embedding` ({"name", "dimension", "fingerprint"})
        must match the one the version was built with, or `IndexLoadError` says to rebuild.
        With `fallback`, a damaged current version falls back to the newest valid older one
        (and `store.manifest["fallback_reason"]` says why)."""
        ...

    def manifest(self, version: str) -> dict:
        """What `version` records about itself (format, model, chunking, `documents` and `chunks`
        counts ...), read without opening it."""
        ...

    def lock(self) -> AbstractContextManager:
        """The place's write lock (a context manager), held around a whole sync: one write at a
        time per place. Other threads of this backend object wait for it a while; a write through
        another backend object of the same place, in this process or another, makes it raise
        `BuildInProgressError` at once. Re-entrant for the thread that holds it (`write` takes
        it too, inside a sync that already holds it)."""
        ...

    def remove_stale_partials(self) -> list[str]:
        """Remove what a killed write left behind (half-written versions); returns their names.
        Call only under `lock`: then no write is running, so nothing removed is in use."""
        ...

    def write(self, changes: ChangeSet) -> str:
        """Apply `changes` and make them current (what that means per store: the module
        docstring); returns the version now current. Takes `lock`."""
        ...


class BuildInProgressError(RuntimeError):
    """Another build holds the index's write lock."""


class IndexWriteError(RuntimeError):
    """A write failed part-way (an I/O error, a full disk): the version in use is unchanged and
    nothing of the failed write is kept. The message names no server path."""


class DiskFullError(IndexWriteError):
    """The write ran out of disk space (`ENOSPC`, a quota, SQLite's "disk is full")."""


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_WORDS = ("no space left", "disk is full", "disk quota")


def write_failure(err: BaseException, folder: Path | None = None, what: str = "the index") -> IndexWriteError:
    """`err`, raised while writing (by the OS, SQLite or FAISS's C++ as a RuntimeError), as the
    `IndexWriteError` that says why; a `DiskFullError` with the space left in `folder` when the
    disk is full. Recognised by errno where there is one and by the message where not: FAISS
    and SQLite report a full disk only in words."""
    text = str(err).lower()
    full = getattr(err, "errno", None) in _DISK_FULL_ERRNOS or any(w in text for w in _DISK_FULL_WORDS)
    if not full:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else f"{type(err).__name__}: {err}"
        return IndexWriteError(f"{what} could not be written ({reason})")
    free = ""
    if folder is not None:
        try:
            free = f"; {shutil.disk_usage(folder).free / 1e6:.1f} MB free"
        except OSError:
            pass
    return DiskFullError(f"{what} could not be written: no space left on the disk that holds it{free}")


def fuse(dense: list[int], sparse: list[int], dense_weight: float, sparse_weight: float,
         k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of two ranked chunk-id lists: the `k` best (chunk, score),
    ties by lower id. Both stores fuse with this, so they rank and score alike; a score divided
    by `best_fused_score` is the 0..1 `Passage.score`."""
    fused: dict[int, float] = {}
    for weight, ranking in ((dense_weight, dense), (sparse_weight, sparse)):
        for rank, chunk in enumerate(ranking):
            fused[chunk] = fused.get(chunk, 0.0) + weight / (RRF_K + rank + 1)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]


def best_fused_score(dense_weight: float, sparse_weight: float) -> float:
    """The fused score of a chunk ranked first by both retrievers (a retriever turned off counts 0)."""
    return (max(dense_weight, 0.0) + max(sparse_weight, 0.0)) / (RRF_K + 1)


def check_embedding(version: str, built: dict, configured: dict, rebuild: str) -> None:
    """Refuse a version built with another embedding model (fingerprint or dimension): its vectors
    would not compare with the question's. `rebuild` says how to rebuild in this store."""
    if all(built.get(key) == configured.get(key) for key in ("fingerprint", "dimension")):
        return
    raise IndexLoadError(
        f"index version {version} was built with embedding model {built.get('name')!r} (dimension "
        f"{built.get('dimension')}), but the configured model is {configured.get('name')!r} (dimension "
        f"{configured.get('dimension')}) with weights fingerprint {configured.get('fingerprint')}, not the index's "
        f"{built.get('fingerprint')}; {rebuild} or configure the same model")


def open_older(failure: IndexLoadError, older: list[str], open_version) -> Store:
    """The newest of `older` (oldest first) that `open_version` opens, its manifest saying in
    `fallback_reason` why the current version was not served; `failure` when none opens.
    A store that cannot be reached is not a damaged version: that error goes up at once."""
    import logging

    log = logging.getLogger("qa.stores")
    for version in reversed(older):
        try:
            store = open_version(version)
        except StoreUnavailableError:
            raise
        except IndexLoadError as err:
            log.warning("fallback candidate not usable either: %s", err)
            continue
        store.manifest["fallback_reason"] = f"{failure} (serving the previous version {version} instead)"
        log.error("%s", store.manifest["fallback_reason"])
        return store
    raise failure


def newest_first_order(items: Iterable[T], document_id: Callable[[T], str],
                       published: Callable[[T], str | None]) -> list[T]:
    """`items` (one per document) newest first: by `published` descending (normalized ISO 8601
    sorts as text in time order; a full date-time before a bare date of the same day), the undated
    last, ties by id. Both stores list with this, so they list alike."""
    ordered = sorted(items, key=document_id)
    ordered.sort(key=lambda item: published(item) or "", reverse=True)  # stable: ties stay in id order
    return ordered


def passage_input(title: str, text: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: the title gives it context."""
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def document_fingerprint(document: Document, chunking: dict) -> str:
    """A content hash of what a stored article depends on: its text, title and metadata,
    and the chunking settings. A sync replaces a document whose fingerprint changed."""
    import hashlib
    import json

    payload = json.dumps([document.to_dict() | {"path": None}, chunking], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
