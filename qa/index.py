"""The retrieval index facade: one embedder and one store, whichever store it is.

`NewsIndex` is what the pipeline, the API and the pages use: `search` (hybrid retrieval
with filters), `document`, `documents` (a filtered listing) and `stats`. It embeds the
question with the configured sentence-transformers model and asks its `Store`
(`qa.stores.base`) for passages; every store ranks with the same vectors. Which store it is
comes from `qa.stores` (`backend_from_settings`, `folder_backend`, `temporary_backend`).

Writing goes through `qa.sync` (`sync_index`, `rebuild_index`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.config import DEFAULT_CHUNK_WORDS, DEFAULT_OVERLAP_SENTENCES
from qa.embedding import Embedder
from qa.stores.base import Store, StoreBackend
from qa.sync import embedding_info, sync_index
from qa.types import ArchiveStats, Document, DocumentPage, Filters, Passage


class NewsIndex:
    """One opened version of the archive, searched with one embedder."""

    def __init__(self, store: Store, embedder: Embedder, backend: StoreBackend | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.backend = backend

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, backend: StoreBackend, embedder: Embedder, version: str | None = None,
             fallback: bool = True) -> NewsIndex:
        """Open `version` (default: current) of `backend`, refused when built with another model."""
        return cls(backend.open(version, embedding=embedding_info(embedder), fallback=fallback), embedder, backend)

    @classmethod
    def build(cls, documents: list[Document], embedder: Embedder, max_words: int = DEFAULT_CHUNK_WORDS,
              overlap_sentences: int = DEFAULT_OVERLAP_SENTENCES,
              progress: bool = False, index_dir: str | Path | None = None,
              backend: StoreBackend | None = None) -> NewsIndex:
        """Index `documents` from scratch into `backend`, or the default folder store in `index_dir`,
        or one in a temporary folder that lives as long as the returned index (it holds the
        backend): what evaluations and tests use."""
        if backend is None:
            from qa.stores import folder_backend, temporary_backend

            backend = temporary_backend() if index_dir is None else folder_backend(index_dir)
        sync_index(backend, embedder, documents=documents, full=True, max_words=max_words,
                   overlap_sentences=overlap_sentences, progress=progress)
        return cls.open(backend, embedder, fallback=False)

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
    def embed(self, question: str) -> np.ndarray:
        """The question's vector, for searches that ask one question twice (`search(vector=...)`)."""
        return self.embedder.encode([question])[0]

    def search(self, question: str, k: int = 8, candidates: int = 50, dense_weight: float = 1.0,
               sparse_weight: float = 1.0, filters: Filters | None = None,
               vector: np.ndarray | None = None) -> list[Passage]:
        """Hybrid retrieval (see `Store.search`); the question is embedded here, once (or `vector`, its
        embedding from `embed`, is used)."""
        if vector is None:
            vector = self.embed(question) if dense_weight > 0 else np.zeros(self.embedder.dimension, dtype=np.float32)
        return self.store.search(question, vector, k, candidates=candidates, filters=filters,
                                 dense_weight=dense_weight, sparse_weight=sparse_weight)

    def document(self, document_id: str) -> Document | None:
        return self.store.document(document_id)

    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20, *,
                  newest_first: bool = False) -> DocumentPage:
        """A page of the matching articles, in id order or newest first (`Store.documents`)."""
        return self.store.documents(filters, offset, limit, newest_first=newest_first)

    def stats(self) -> ArchiveStats:
        return self.store.stats()
