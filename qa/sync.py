"""Writing the archive into a store: `sync_index` and `rebuild_index`.

`sync_index` compares articles with what the store holds (by a content fingerprint per
article), chunks and embeds only what changed (reusing the vectors of chunks whose text is
unchanged), and hands the store one `ChangeSet`, which it applies as a new version made
current atomically (what that means per store: `qa.stores.base`). `rebuild_index` syncs a
store with article files and folders (a file that is gone is removed, one that changed is
replaced); `newsqa build` is its command line.

The whole sync holds the store's write lock (`StoreBackend.lock`): what it read from the
current version is still current when it writes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.chunking import chunk_document
from qa.config import DEFAULT_CHUNK_WORDS, DEFAULT_OVERLAP_SENTENCES
from qa.ingestion import load_articles
from qa.embedding import Embedder
from qa.faults import pause_point
from qa.stopwatch import Stopwatch
from qa.stores.base import (
    ChangeSet, DocumentChunks, IndexLoadError, Store, StoreBackend, StoreUnavailableError, document_fingerprint,
    passage_input,
)
from qa.types import ArchiveStats, Document

LOG = logging.getLogger(__name__)


def embedding_info(embedder: Embedder) -> dict:
    """What a store records about the model its vectors came from, and checks on open."""
    return {"name": embedder.name, "dimension": embedder.dimension, "fingerprint": embedder.fingerprint}


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
    skipped: list = field(default_factory=list)  # `qa.types.SkippedFile`s: files read but not indexed
    stages: dict = field(default_factory=dict)  # seconds per stage: read, plan, chunk, embed, write (+ the store's)


@dataclass
class _Plan:
    """What a sync will write, worked out from the current version before anything is embedded."""

    stored: dict[str, str]  # document id -> fingerprint in the current version
    fingerprints: dict[str, str]  # of the wanted documents
    changed: list[Document]  # to chunk, embed and store
    removed: list[str]
    replace_all: bool
    reusable: dict[str, np.ndarray] = field(default_factory=dict)  # passage input -> stored vector
    unchanged_stats: ArchiveStats | None = None  # set when there is nothing to write


def _chunk_and_embed(documents: list[Document], embedder: Embedder, chunking: dict, fingerprints: dict[str, str],
                     reusable: dict[str, np.ndarray], progress: bool,
                     watch: Stopwatch | None = None) -> tuple[list[DocumentChunks], int]:
    """Chunk the documents and embed the chunks whose input text has no stored vector; returns
    the ready documents and how many chunks were embedded (each step a lap of `watch`)."""
    watch = watch or Stopwatch()
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
    watch.lap("chunk")
    LOG.info("embedding %d chunks of %d documents", len(todo), len(documents))
    pause_point("embedding")
    watch.restart()
    if todo:
        encoded = embedder.encode([text for _, _, text in todo], progress=progress)
        for (position, i, _), vector in zip(todo, encoded):
            prepared[position].vectors[i] = vector
    watch.lap("embed")
    return prepared, len(todo)


def _open_current(backend: StoreBackend, embedder: Embedder) -> Store | None:
    """The current version, or None when there is none or it cannot be used (then the sync
    rebuilds from scratch). A store that cannot be reached is an error, not a rebuild."""
    if backend.current_version() is None:
        return None
    try:
        return backend.open(embedding=embedding_info(embedder), fallback=False)
    except StoreUnavailableError:
        raise
    except IndexLoadError as err:
        LOG.warning("the current version is rebuilt from scratch: %s", err)
        return None


def _plan(current: Store | None, chunking: dict, documents: list[Document] | None, upserts: list[Document] | None,
          deletes: list[str], full: bool) -> _Plan:
    """Compare the wanted articles with the current version (see `sync_index` for the arguments)."""
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
                         "article: sync it with the whole archive (`newsqa build`)")
    changed = list(wanted) if replace_all else [d for d in wanted if stored.get(d.id) != fingerprints[d.id]]
    removed = [i for i in stored if i not in fingerprints] if documents is not None else []
    removed += [i for i in deletes if i in stored and i not in removed]
    plan = _Plan(stored, fingerprints, changed, removed, replace_all)
    if not replace_all and not changed and not removed:
        plan.unchanged_stats = current.stats()
        return plan
    reuse_ids = [d.id for d in changed if d.id in stored]
    if current is not None and reuse_ids:
        plan.reusable = current.vectors_of(reuse_ids)
    return plan


def _summary(plan: _Plan, written: dict, version: str, embedded: int, started: float,
             skipped: list | None, stages: dict) -> BuildSummary:
    """What a sync that wrote `version` (its manifest: `written`) changed."""
    stored, fingerprints, changed = plan.stored, plan.fingerprints, plan.changed
    removed = [i for i in stored if i not in fingerprints] if plan.replace_all else plan.removed
    added = sum(1 for d in changed if d.id not in stored)
    replaced = sum(1 for d in changed if d.id in stored and stored[d.id] != fingerprints[d.id])
    return BuildSummary(
        documents=written["documents"], chunks=written["chunks"], embedded_chunks=embedded,
        seconds=round(time.time() - started, 2), version=version, added=added, changed=replaced,
        removed=len(removed), unchanged=len(stored) - replaced - len(removed), skipped=list(skipped or []),
        stages={**stages, **_store_stages(stages.get("write", 0.0), written.get("stage_seconds") or {})},
    )


def _store_stages(write: float, store: dict[str, float]) -> dict[str, float]:
    """The store's own profile of its write (when it keeps one), and the rest of the write's
    time: checksums, fsync and the swap."""
    if not store:
        return {}
    return {**{f"write: {k}": v for k, v in store.items()},
            "write: checksums, fsync, swap": round(max(0.0, write - sum(store.values())), 3)}


def sync_index(backend: StoreBackend, embedder: Embedder, *, documents: list[Document] | None = None,
               upserts: list[Document] | None = None, deletes: list[str] = (), full: bool = False,
               max_words: int = DEFAULT_CHUNK_WORDS, overlap_sentences: int = DEFAULT_OVERLAP_SENTENCES, progress: bool = False,
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
    watch = Stopwatch()
    chunking = {"max_words": max_words, "overlap_sentences": overlap_sentences}
    settings = {"embedding_model": embedding_info(embedder), "chunking": chunking}
    with backend.lock():
        backend.remove_stale_partials()  # what killed writes left, removed under the lock (none is running)
        current = _open_current(backend, embedder)
        try:
            plan = _plan(current, chunking, documents, upserts, deletes, full)
        finally:
            if current is not None:
                current.close()
        if (stats := plan.unchanged_stats) is not None:
            return BuildSummary(stats.documents, stats.chunks, 0, round(time.time() - started, 2), None,
                                unchanged=len(plan.stored), skipped=list(skipped or []))
        watch.lap("plan")
        prepared, embedded = _chunk_and_embed(plan.changed, embedder, chunking, plan.fingerprints, plan.reusable,
                                              progress, watch)
        changes = ChangeSet(upserts=prepared, deletes=[] if plan.replace_all else plan.removed,
                            replace_all=plan.replace_all, settings=settings)
        version = backend.write(changes)
        watch.lap("write")
    written = backend.manifest(version)  # its counts; opening the version to count would load all of it
    return _summary(plan, written, version, embedded, started, skipped, watch.stages)


def rebuild_index(article_paths: list[str | Path], target: str | Path | StoreBackend, embedder: Embedder,
                  max_words: int = DEFAULT_CHUNK_WORDS, overlap_sentences: int = DEFAULT_OVERLAP_SENTENCES, progress: bool = False,
                  full: bool = False) -> BuildSummary:
    """Sync the store `target` (a backend, or a folder for the default folder store) with
    article files and folders (see `sync_index`).

    Any error (a malformed article, a full disk) leaves the current version serving.
    """
    if isinstance(target, (str, Path)):
        from qa.stores import folder_backend

        target = folder_backend(target)
    skipped: list = []
    watch = Stopwatch()
    documents = load_articles(list(article_paths), skipped=skipped)
    if not documents:
        raise ValueError(f"no articles found in {', '.join(map(str, article_paths))}")
    watch.lap("read")
    summary = sync_index(target, embedder, documents=documents, full=full, max_words=max_words,
                         overlap_sentences=overlap_sentences, progress=progress, skipped=skipped)
    return replace(summary, stages={**watch.stages, **summary.stages})
