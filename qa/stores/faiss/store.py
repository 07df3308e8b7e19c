"""`FaissStore`: one opened, read-only version of the FAISS folder store."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import faiss
import numpy as np

from qa.bm25 import _import_bm25s, _stemmer, bm25_tokens, top_positions
from qa.stores.base import best_fused_score, fuse, passage_input
from qa.stores.faiss.build import ivf_nprobe
from qa.stores.faiss.layout import BM25_DIR
from qa.types import ArchiveStats, Document, DocumentPage, Filters, Passage

_DOCUMENT_CACHE = 256
_DOCUMENT_FIELDS = ("id", "title", "text", "url", "published", "source", "section", "author", "path", "pages",
                    "summary_only")


class FaissStore:
    """One opened version (see `qa.stores.faiss`). Thread-safe for reading."""

    def __init__(self, directory: Path, manifest: dict) -> None:
        self.directory = directory
        self.manifest = manifest
        # A URI (percent-encoded by as_uri, so '#', '?' or '%' in a folder name are safe):
        # read-only and immutable, since a version never changes; no locks, no journal.
        self._db = sqlite3.connect(f"{(directory / 'store.sqlite3').resolve().as_uri()}?mode=ro&immutable=1",
                                   uri=True, check_same_thread=False)
        self._db_lock = threading.Lock()
        self._documents: OrderedDict[str, Document] = OrderedDict()
        self._stats: ArchiveStats | None = None
        # Memory-mapped, zero copy: loading costs no read of the vectors, and the kernel shares
        # and pages them. Safe because a version's files never change; a pruned version's
        # file stays readable (unlinked, not truncated) while a process still maps it.
        self.faiss_index = faiss.read_index(str(directory / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
        if isinstance(ivf := faiss.downcast_index(self.faiss_index), faiss.IndexIVF):
            ivf.nprobe = ivf_nprobe(ivf.nlist)
        self._load_arrays()
        bm25s = _import_bm25s()

        self.bm25 = (bm25s.BM25.load(str(directory / BM25_DIR), mmap=True, show_progress=False)
                     if len(self.chunk_ids) else None)
        self._stemmer = _stemmer()
        self._stem_lock = threading.Lock()  # a PyStemmer stemmer is not thread-safe

    def _load_arrays(self) -> None:
        """Per chunk (in chunk-id order, which is the BM25 order): id and its article's ordinal;
        per article: ordinal -> id, date as an int, section and source codes (for filters)."""
        rows = self._db.execute("SELECT chunk_id, ordinal FROM chunks ORDER BY chunk_id").fetchall()
        array = np.array(rows, dtype=np.int64).reshape(-1, 2)
        self.chunk_ids = array[:, 0].copy()
        ordinals = array[:, 1]
        docs = self._db.execute("SELECT ordinal, id, day, section, source FROM documents ORDER BY ordinal").fetchall()
        self.doc_ids = [row[1] for row in docs]
        doc_ordinals = np.array([row[0] for row in docs], dtype=np.int64)
        self.chunk_doc = np.searchsorted(doc_ordinals, ordinals).astype(np.int32)  # chunk -> row in doc arrays
        self.doc_day = np.array([int(row[2].replace("-", "")) if row[2] else 0 for row in docs], dtype=np.int32)
        self.sections = sorted({row[3] for row in docs if row[3]})
        self.sources = sorted({row[4] for row in docs if row[4]})
        section_code = {s: i + 1 for i, s in enumerate(self.sections)}
        source_code = {s: i + 1 for i, s in enumerate(self.sources)}
        self.doc_section = np.array([section_code.get(row[3], 0) for row in docs], dtype=np.int32)
        self.doc_source = np.array([source_code.get(row[4], 0) for row in docs], dtype=np.int32)

    @property
    def version(self) -> str | None:
        return self.manifest.get("version")

    def close(self) -> None:
        with self._db_lock:
            self._db.close()

    # -- filters ------------------------------------------------------------------------------------
    def _document_mask(self, filters: Filters) -> np.ndarray:
        mask = np.ones(len(self.doc_ids), dtype=bool)
        if filters.document_ids:
            wanted = set(filters.document_ids)
            mask &= np.fromiter((d in wanted for d in self.doc_ids), dtype=bool, count=len(self.doc_ids))
        if filters.sections:
            codes = [self.sections.index(s) + 1 for s in filters.sections if s in self.sections]
            mask &= np.isin(self.doc_section, codes)
        if filters.sources:
            codes = [self.sources.index(s) + 1 for s in filters.sources if s in self.sources]
            mask &= np.isin(self.doc_source, codes)
        if filters.date_from or filters.date_to:
            mask &= self.doc_day > 0
            if filters.date_from:
                mask &= self.doc_day >= int(filters.date_from.replace("-", ""))
            if filters.date_to:
                mask &= self.doc_day <= int(filters.date_to.replace("-", ""))
        return mask

    # -- search ---------------------------------------------------------------------------------------
    def search(self, question: str, vector: np.ndarray, k: int, *, candidates: int = 50,
               filters: Filters | None = None, dense_weight: float = 1.0, sparse_weight: float = 1.0) -> list[Passage]:
        if not len(self.chunk_ids):
            return []
        chunk_mask = None
        matching = len(self.chunk_ids)
        if filters is not None and filters.active:
            chunk_mask = self._document_mask(filters)[self.chunk_doc]
            matching = int(chunk_mask.sum())
            if matching == 0:
                return []
        depth = min(max(candidates, k), matching)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        dense: list[int] = []
        similarity: dict[int, float] = {}
        if dense_weight > 0:
            scores, ids = self._dense(query, depth, chunk_mask, matching)
            dense = [int(i) for i in ids if i >= 0]
            similarity = {int(i): float(s) for i, s in zip(ids, scores) if i >= 0}
        sparse: list[int] = []
        if sparse_weight > 0 and self.bm25 is not None:
            sparse = self._sparse(question, depth, chunk_mask)
        dense_rank = {chunk: rank for rank, chunk in enumerate(dense)}
        sparse_rank = {chunk: rank for rank, chunk in enumerate(sparse)}
        best = best_fused_score(dense_weight, sparse_weight)
        ranked = fuse(dense, sparse, dense_weight, sparse_weight, k)
        unscored = [chunk for chunk, _ in ranked if chunk not in similarity]
        if unscored:  # found by BM25 alone: its cosine still informs the reader's confidence
            vectors = self.faiss_index.reconstruct_batch(np.array(unscored, dtype=np.int64))
            similarity.update(zip(unscored, (vectors @ query[0]).tolist()))
        rows = self._chunk_rows([chunk for chunk, _ in ranked])
        passages = []
        for chunk_id, score in ranked:
            document_id, start, end = rows[chunk_id]
            document = self.document(document_id)
            passages.append(Passage(
                chunk_id=chunk_id, document_id=document_id, title=document.title, start=start, end=end,
                text=document.text[start:end], score=round(score / best, 4), dense_rank=dense_rank.get(chunk_id),
                sparse_rank=sparse_rank.get(chunk_id), dense_score=similarity.get(chunk_id),
            ))
        return passages

    def _dense(self, query: np.ndarray, depth: int, chunk_mask: np.ndarray | None,
               matching: int) -> tuple[np.ndarray, np.ndarray]:
        index = faiss.downcast_index(self.faiss_index)
        ivf = index if isinstance(index, faiss.IndexIVF) else None
        if chunk_mask is None:
            scores, ids = self.faiss_index.search(query, depth)
            return scores[0], ids[0]
        bits = np.zeros(int(self.chunk_ids[-1]) + 1, dtype=bool)
        bits[self.chunk_ids[chunk_mask]] = True
        packed = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed))  # n: the bitmap's size in bytes
        if ivf is None:
            scores, ids = self.faiss_index.search(query, depth, params=faiss.SearchParameters(sel=selector))
            return scores[0], ids[0]
        for nprobe in (ivf.nprobe, ivf.nlist):  # a second pass over every list when the first finds too few
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            scores, ids = ivf.search(query, depth, params=params)
            if int((ids[0] >= 0).sum()) >= min(depth, matching):
                break
        return scores[0], ids[0]

    def _sparse(self, question: str, depth: int, chunk_mask: np.ndarray | None) -> list[int]:
        """BM25 scores from bm25s (`get_scores`), the top `depth` chosen here by `argpartition`.

        bm25s's own `retrieve` sorts through a slower path, slower still with a `weight_mask`
        (measured: README, "Scale")."""
        with self._stem_lock:
            tokens = bm25_tokens([question], self._stemmer)[0]
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        if chunk_mask is not None:
            scores = np.where(chunk_mask, scores, 0.0)
        return [int(self.chunk_ids[p]) for p in top_positions(scores, depth)]

    def _chunk_rows(self, chunk_ids: list[int]) -> dict[int, tuple[str, int, int]]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._db_lock:
            rows = self._db.execute(
                f"SELECT c.chunk_id, d.id, c.start, c.end FROM chunks c JOIN documents d ON d.ordinal = c.ordinal "
                f"WHERE c.chunk_id IN ({marks})", chunk_ids).fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    # -- documents ------------------------------------------------------------------------------------
    def document(self, document_id: str) -> Document | None:
        with self._db_lock:
            cached = self._documents.get(document_id)
            if cached is not None:
                self._documents.move_to_end(document_id)
                return cached
            row = self._db.execute(f"SELECT {', '.join(_DOCUMENT_FIELDS)} FROM documents WHERE id = ?",
                                   (document_id,)).fetchone()
            if row is None:
                return None
            document = _row_document(row)
            self._documents[document_id] = document
            if len(self._documents) > _DOCUMENT_CACHE:
                self._documents.popitem(last=False)
            return document

    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20) -> DocumentPage:
        mask = self._document_mask(filters or Filters())
        matching = [self.doc_ids[i] for i in np.flatnonzero(mask)]
        matching.sort()
        page = [self.document(i) for i in matching[offset:offset + limit]]
        return DocumentPage([d for d in page if d is not None], len(matching), offset, limit)

    def stats(self) -> ArchiveStats:
        """Counted once: a version never changes, and the page asks on every render."""
        with self._db_lock:
            if self._stats is not None:
                return self._stats
            sections = dict(self._db.execute(
                "SELECT section, COUNT(*) FROM documents WHERE section IS NOT NULL GROUP BY section").fetchall())
            sources = dict(self._db.execute(
                "SELECT source, COUNT(*) FROM documents WHERE source IS NOT NULL GROUP BY source").fetchall())
            first, last, undated = self._db.execute(
                "SELECT MIN(day), MAX(day), SUM(day IS NULL) FROM documents").fetchone()
            self._stats = ArchiveStats(len(self.doc_ids), len(self.chunk_ids), sections, sources, first, last,
                                       undated or 0)
            return self._stats

    def fingerprints(self) -> dict[str, str]:
        with self._db_lock:
            return dict(self._db.execute("SELECT id, fingerprint FROM documents").fetchall())

    def vectors_of(self, document_ids: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for document_id in document_ids:
            document = self.document(document_id)
            if document is None:
                continue
            with self._db_lock:
                rows = self._db.execute(
                    "SELECT c.chunk_id, c.start, c.end FROM chunks c JOIN documents d ON d.ordinal = c.ordinal "
                    "WHERE d.id = ?", (document_id,)).fetchall()
            if not rows:
                continue
            vectors = self.faiss_index.reconstruct_batch(np.array([r[0] for r in rows], dtype=np.int64))
            for (_, start, end), vector in zip(rows, vectors):
                found[passage_input(document.title, document.text[start:end])] = vector
        return found


def _row_document(row: tuple) -> Document:
    values = dict(zip(_DOCUMENT_FIELDS, row))
    values["pages"] = tuple(json.loads(values["pages"])) if values["pages"] else None
    values["summary_only"] = bool(values["summary_only"])
    return Document(**values)
