"""The retrieval index facade: one embedder and one store, whichever store it is.

`NewsIndex` is what the pipeline, the API and the pages use: `search` (hybrid retrieval
with filters), `document`, `documents` (a filtered listing) and `stats`. It embeds the
question with the configured sentence-transformers model and asks its `Store`
(`qa.stores.base`) for passages; the FAISS folder store and the Milvus store rank with
the same vectors.

Writing goes through `sync_index`: it compares articles with what the store holds (by a
content fingerprint per article), chunks and embeds only what changed (reusing the vectors
of chunks whose text is unchanged), and hands the store one `ChangeSet`, which it applies
as a new version swapped in atomically. `rebuild_index` syncs a store with article files
and folders (a file that is gone is removed, one that changed is replaced);
`scripts/build_index.py` is its command line.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import chunk_document
from qa.documents import Document, load_articles
from qa.embedding import Embedder
from qa.stores.base import (  # noqa: F401  (re-exported: the names callers import from here)
    ArchiveStats, BuildInProgressError, ChangeSet, DocumentChunks, DocumentPage, Filters, IndexLoadError, Passage,
    Store, StoreBackend, StoreUnavailableError, document_fingerprint, passage_input,
)
from qa.stores.faiss_store import PAUSE_ENV, PAUSE_POINTS, FaissBackend, new_version_name, pause_point  # noqa: F401

LOG = logging.getLogger(__name__)


def embedding_info(embedder: Embedder) -> dict:
    """What a store records about the model its vectors came from, and checks on open."""
    return {"name": embedder.name, "dimension": embedder.dimension, "fingerprint": embedder.fingerprint}


class NewsIndex:
    """One opened version of the archive, searched with one embedder."""

    def __init__(self, store: Store, embedder: Embedder, backend: StoreBackend | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.backend = backend
        self._keepalive = None  # the temporary folder of an index built by `build` without one

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, backend: StoreBackend, embedder: Embedder, version: str | None = None,
             fallback: bool = True) -> NewsIndex:
        """Open `version` (default: current) of `backend`, refused when built with another model."""
        return cls(backend.open(version, embedding=embedding_info(embedder), fallback=fallback), embedder, backend)

    @classmethod
    def load(cls, index_dir: str | Path, embedder: Embedder, version: str | None = None,
             fallback: bool = True) -> NewsIndex:
        """Open an index folder of the default (FAISS) store."""
        return cls.open(FaissBackend(index_dir), embedder, version, fallback)

    @staticmethod
    def current_version(index_dir: str | Path) -> str | None:
        return FaissBackend(index_dir).current_version()

    @classmethod
    def build(cls, documents: list[Document], embedder: Embedder, max_words: int = 100, overlap_sentences: int = 1,
              progress: bool = False, index_dir: str | Path | None = None,
              backend: StoreBackend | None = None) -> NewsIndex:
        """Index `documents` from scratch into `backend`, or a FAISS store in `index_dir` or in a
        temporary folder that lives as long as the returned index: what evaluations and tests use."""
        keepalive = None
        if backend is None and index_dir is None:
            keepalive = tempfile.TemporaryDirectory(prefix="newsqa-index-")
            index_dir = keepalive.name
        backend = backend or FaissBackend(index_dir)
        sync_index(backend, embedder, documents=documents, full=True, max_words=max_words,
                   overlap_sentences=overlap_sentences, progress=progress)
        index = cls.open(backend, embedder, fallback=False)
        index._keepalive = keepalive
        return index

    # -- what the version is -------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        return self.store.manifest

    @property
    def version(self) -> str | None:
        return self.store.version

    @property
    def fallback_reason(self) -> str | None:
        return self.store.manifest.get("fallback_reason")

    # -- querying ---------------------------------------------------------------------------------
    def search(self, question: str, k: int = 8, candidates: int = 50, dense_weight: float = 1.0,
               sparse_weight: float = 1.0, filters: Filters | None = None) -> list[Passage]:
        """Hybrid retrieval (see `Store.search`); the question is embedded here, once."""
        vector = self.embedder.encode([question])[0] if dense_weight > 0 else np.zeros(self.embedder.dimension,
                                                                                            dtype=np.float32)
        return self.store.search(question, vector, k, candidates=candidates, filters=filters,
                                 dense_weight=dense_weight, sparse_weight=sparse_weight)

    def document(self, document_id: str) -> Document | None:
        return self.store.document(document_id)

    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20) -> DocumentPage:
        return self.store.documents(filters, offset, limit)

    def stats(self) -> ArchiveStats:
        return self.store.stats()


@dataclass(frozen=True)
class BuildSummary:
    documents: int  # in the new version
    chunks: int
    embedded_chunks: int  # chunks embedded by this write (the rest reused their vectors)
    seconds: float
    version: str | None  # None when nothing changed and no version was written
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list = field(default_factory=list)  # `qa.documents.SkippedFile`s: files read but not indexed
    version_dir: Path | None = None  # the FAISS store's version folder


def _chunk_and_embed(documents: list[Document], embedder: Embedder, chunking: dict, fingerprints: dict[str, str],
                     reusable: dict[str, np.ndarray], progress: bool) -> tuple[list[DocumentChunks], int]:
    """Chunk the documents and embed the chunks whose input text has no stored vector; returns
    the ready documents and how many chunks were embedded."""
    prepared = []
    todo: list[tuple[int, int, str]] = []  # (document position, chunk position, input)
    for position, document in enumerate(documents):
        chunks = chunk_document(document, chunking["max_words"], chunking["overlap_sentences"])
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        for i, chunk in enumerate(chunks):
            text = passage_input(document.title, chunk.text)
            if text in reusable:
                vectors[i] = reusable[text]
            else:
                todo.append((position, i, text))
        prepared.append(DocumentChunks(document, chunks, vectors, fingerprints[document.id]))
    LOG.info("embedding %d chunks of %d documents", len(todo), len(documents))
    pause_point("embedding")
    if todo:
        encoded = embedder.encode([text for _, _, text in todo], progress=progress)
        for (position, i, _), vector in zip(todo, encoded):
            prepared[position].vectors[i] = vector
    return prepared, len(todo)


def sync_index(backend: StoreBackend, embedder: Embedder, *, documents: list[Document] | None = None,
               upserts: list[Document] | None = None, deletes: list[str] = (), full: bool = False,
               max_words: int = 100, overlap_sentences: int = 1, progress: bool = False,
               skipped: list | None = None) -> BuildSummary:
    """Bring the store up to date and write one new version; returns what changed.

    - `documents`: the whole archive. Stored articles not in it are removed, changed ones
      replaced, new ones added (a sync with the article folders).
    - `upserts`: articles to add or replace; everything else stays.
    - `deletes`: article ids to remove (unknown ids are reported by the caller, not an error here).
    - `full`: write a new version from scratch (vectors of unchanged chunks are still reused).
      Also forced when the stored version was built with another embedding model or cannot
      be opened.

    Nothing is written when nothing changed.
    """
    started = time.time()
    chunking = {"max_words": max_words, "overlap_sentences": overlap_sentences}
    settings = {"embedding_model": embedding_info(embedder), "chunking": chunking}
    lock = getattr(backend, "lock", None)
    with lock() if lock is not None else nullcontext():
        if (clean := getattr(backend, "remove_stale_partials", None)) is not None:
            clean()  # what killed builds left, removed under the lock (no build is running)
        current = None
        if backend.current_version() is not None:
            try:
                current = backend.open(embedding=embedding_info(embedder), fallback=False)
            except IndexLoadError as err:
                if isinstance(err, StoreUnavailableError):
                    raise
                LOG.warning("the current version is rebuilt from scratch: %s", err)
        try:
            stored_chunking = current.manifest.get("chunking") if current is not None else None
            if current is not None and documents is None and stored_chunking != chunking:
                raise ValueError(f"the index is chunked with {stored_chunking}, not {chunking}: adding or deleting "
                                 "articles keeps its chunking; run a full sync to change it")
            stored = current.fingerprints() if current is not None else {}
            replace_all = full or current is None
            wanted = documents if documents is not None else (upserts or [])
            if len({d.id for d in wanted}) != len(wanted):
                raise ValueError("the same article id is given twice")
            fingerprints = {d.id: document_fingerprint(d, chunking) for d in wanted}
            if replace_all and documents is None:
                raise ValueError("the index has no usable current version, so it cannot be changed article by "
                                 "article: sync it with the whole archive (`scripts/build_index.py`)")
            changed = list(wanted) if replace_all else [d for d in wanted if stored.get(d.id) != fingerprints[d.id]]
            removed = [i for i in stored if i not in fingerprints] if documents is not None else []
            removed += [i for i in deletes if i in stored and i not in removed]
            if not replace_all and not changed and not removed:
                stats = current.stats()
                return BuildSummary(stats.documents, stats.chunks, 0, round(time.time() - started, 2), None,
                                    unchanged=len(stored), skipped=list(skipped or []))
            reuse_ids = [d.id for d in changed if d.id in stored]
            reusable = current.vectors_of(reuse_ids) if current is not None and reuse_ids else {}
        finally:
            if current is not None:
                current.close()
        prepared, embedded = _chunk_and_embed(changed, embedder, chunking, fingerprints, reusable, progress)
        changes = ChangeSet(upserts=prepared, deletes=[] if replace_all else removed, replace_all=replace_all,
                            settings=settings)
        version = backend.write(changes)
    written = backend.manifest(version)  # its counts; opening the version to count would load all of it
    if replace_all:
        removed = [i for i in stored if i not in fingerprints]
    added = sum(1 for d in changed if d.id not in stored)
    replaced = sum(1 for d in changed if d.id in stored and stored[d.id] != fingerprints[d.id])
    return BuildSummary(
        documents=written["documents"], chunks=written["chunks"], embedded_chunks=embedded,
        seconds=round(time.time() - started, 2), version=version, added=added, changed=replaced,
        removed=len(removed), unchanged=len(stored) - replaced - len(removed), skipped=list(skipped or []),
        version_dir=backend.index_dir / version if isinstance(backend, FaissBackend) else None,
    )


def rebuild_index(article_paths: list[str | Path], index_dir: str | Path | StoreBackend, embedder: Embedder,
                  max_words: int = 100, overlap_sentences: int = 1, progress: bool = False,
                  full: bool = False) -> BuildSummary:
    """Sync the store with article files and folders (see `sync_index`).

    Any error (a malformed article, a full disk) leaves the current version serving.
    """
    backend = index_dir if not isinstance(index_dir, (str, Path)) else FaissBackend(index_dir)
    skipped: list = []
    documents = load_articles(list(article_paths), skipped=skipped)
    if not documents:
        raise ValueError(f"no articles found in {', '.join(map(str, article_paths))}")
    return sync_index(backend, embedder, documents=documents, full=full, max_words=max_words,
                      overlap_sentences=overlap_sentences, progress=progress, skipped=skipped)
