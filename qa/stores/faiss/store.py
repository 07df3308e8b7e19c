"""`FaissStore`: one opened, read-only version of the FAISS folder store."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import faiss
import numpy as np

from qa.bm25 import _stemmer, bm25_tokens, top_positions
from qa.stores.base import IndexLoadError, best_fused_score, fuse, newest_first_order, passage_input
from qa.stores.faiss.postings import SegmentedBM25
from qa.stores.faiss.segment import Segment
from qa.types import ArchiveStats, Document, DocumentPage, Filters, Passage

_DOCUMENT_CACHE = 256
_DOCUMENT_FIELDS = ("id", "title", "text", "url", "published", "source", "section", "author", "path", "pages",
                    "summary_only")


class FaissStore:
    """One opened version (see `qa.stores.faiss`): its segments, less the deleted articles.
    Thread-safe for reading.

    Chunks have global positions: segment s holds `offsets[s]` up to `offsets[s + 1]`, each
    segment's chunks in chunk-id order (the order of its BM25 postings). Per position the
    store keeps the chunk's id, its article's row in the per-article arrays and whether it is
    live (its article not deleted): about 13 bytes a chunk.
    """

    # Read on first use (`__getattr__`): a write that opens the current version of a big archive
    # for its fingerprints does not read every chunk's row; a server reads them at its warm-up.
    _ARRAYS = frozenset({"offsets", "chunk_ids", "doc_ids", "doc_live", "chunk_doc", "chunk_live", "live_chunks",
                         "doc_day", "sections", "sources", "doc_section", "doc_source", "_live_bitmap", "bm25"})

    def __init__(self, directory: Path, manifest: dict, segments: list[Segment], deleted: np.ndarray) -> None:
        self.directory = directory
        self.manifest = manifest
        self.segments = segments
        self._db_lock = threading.RLock()  # the segments' connections, and reading the arrays once
        self._documents: OrderedDict[str, Document] = OrderedDict()
        self._stats: ArchiveStats | None = None
        self._newest: np.ndarray | None = None  # article rows, newest first (read on first use)
        self._deleted_array = np.asarray(deleted, dtype=np.int64)
        self._deleted = {int(o) for o in deleted}
        self._stemmer = _stemmer()
        self._stem_lock = threading.Lock()  # a PyStemmer stemmer is not thread-safe

    def __getattr__(self, name: str):
        if name not in FaissStore._ARRAYS:
            raise AttributeError(name)
        with self._db_lock:
            if "bm25" not in self.__dict__:
                self._load_arrays()
        return self.__dict__[name]

    def warm_up(self) -> None:
        """Read every chunk's row and the BM25 postings now rather than at the first question."""
        try:
            self.bm25  # noqa: B018 (reading it loads the arrays)
        except (OSError, ValueError, KeyError, sqlite3.Error) as err:  # the checksums matched: a bug or a bad disk
            raise IndexLoadError(f"index version {self.version} could not be read ({type(err).__name__}); "
                                 f"rebuild it with `newsqa build --full`") from None

    def _load_arrays(self) -> None:
        """Per chunk position: id, its article's row and whether it is live; per article row:
        id, date as an int, section and source codes (for filters) and whether it is live; the
        BM25 over the live chunks. `bm25` is set last: its presence says the arrays are read."""
        sizes = [len(s.chunk_ids) for s in self.segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.chunk_ids = np.concatenate([s.chunk_ids for s in self.segments]) if sizes else np.zeros(0, np.int64)
        rows = [row for s in self.segments for row in s.doc_rows]
        doc_ordinals = np.array([row[0] for row in rows], dtype=np.int64)
        self.doc_ids = [row[1] for row in rows]
        self.doc_live = ~np.isin(doc_ordinals, self._deleted_array)
        chunk_doc, first = [], 0
        for segment in self.segments:  # an article's chunks are in its own segment
            chunk_doc.append(np.searchsorted(segment.doc_ordinals, segment.chunk_ordinals) + first)
            first += len(segment.doc_ordinals)
        self.chunk_doc = np.concatenate(chunk_doc).astype(np.int32) if chunk_doc else np.zeros(0, np.int32)
        self.chunk_live = self.doc_live[self.chunk_doc] if len(self.chunk_doc) else np.zeros(0, dtype=bool)
        self.live_chunks = int(self.chunk_live.sum())
        self.doc_day = np.array([int(row[2].replace("-", "")) if row[2] else 0 for row in rows], dtype=np.int32)
        self.sections = sorted({row[3] for row, live in zip(rows, self.doc_live) if row[3] and live})
        self.sources = sorted({row[4] for row, live in zip(rows, self.doc_live) if row[4] and live})
        section_code = {s: i + 1 for i, s in enumerate(self.sections)}
        source_code = {s: i + 1 for i, s in enumerate(self.sources)}
        self.doc_section = np.array([section_code.get(row[3], 0) for row in rows], dtype=np.int32)
        self.doc_source = np.array([source_code.get(row[4], 0) for row in rows], dtype=np.int32)
        # Searching past the deleted chunks: a bitmap of the live chunk ids for FAISS's selector.
        self._live_bitmap = None if self.chunk_live.all() else self._bitmap(self.chunk_live)
        self.bm25 = SegmentedBM25([s.postings for s in self.segments], self.offsets[:-1], self.chunk_live)

    def _bitmap(self, mask: np.ndarray) -> np.ndarray:
        bits = np.zeros(int(self.chunk_ids.max(initial=0)) + 1, dtype=bool)
        bits[self.chunk_ids[mask]] = True
        return np.packbits(bits, bitorder="little")

    def _segment_of(self, chunk_ids: list[int]) -> dict[int, list[int]]:
        """Chunk ids grouped by the segment (index) that holds them."""
        grouped: dict[int, list[int]] = {}
        for chunk_id in chunk_ids:
            for number, segment in enumerate(self.segments):
                at = int(np.searchsorted(segment.chunk_ids, chunk_id))
                if at < len(segment.chunk_ids) and segment.chunk_ids[at] == chunk_id:
                    grouped.setdefault(number, []).append(chunk_id)
                    break
        return grouped

    @property
    def version(self) -> str | None:
        return self.manifest.get("version")

    def close(self) -> None:
        with self._db_lock:
            for segment in self.segments:
                segment.close()

    # -- filters ------------------------------------------------------------------------------------
    def _document_mask(self, filters: Filters) -> np.ndarray:
        mask = self.doc_live.copy()
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
        if not self.live_chunks:
            return []
        chunk_mask = None if self._live_bitmap is None else self.chunk_live
        matching = self.live_chunks
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
            scores, ids = self._dense(query, depth, chunk_mask)
            dense = [int(i) for i in ids]
            similarity = {int(i): float(s) for i, s in zip(ids, scores)}
        sparse: list[int] = []
        if sparse_weight > 0:
            sparse = self._sparse(question, depth, chunk_mask)
        dense_rank = {chunk: rank for rank, chunk in enumerate(dense)}
        sparse_rank = {chunk: rank for rank, chunk in enumerate(sparse)}
        best = best_fused_score(dense_weight, sparse_weight)
        ranked = fuse(dense, sparse, dense_weight, sparse_weight, k)
        unscored = [chunk for chunk, _ in ranked if chunk not in similarity]
        for number, chunk_ids in self._segment_of(unscored).items():
            # found by BM25 alone: its cosine still informs the reader's confidence
            vectors = self.segments[number].faiss_index.reconstruct_batch(np.array(chunk_ids, dtype=np.int64))
            similarity.update(zip(chunk_ids, (vectors @ query[0]).tolist()))
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

    def _dense(self, query: np.ndarray, depth: int, chunk_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The `depth` nearest chunks over every segment (each searched through the chunk mask
        as a FAISS selector), best first."""
        packed = None if chunk_mask is None else (
            self._live_bitmap if chunk_mask is self.chunk_live else self._bitmap(chunk_mask))
        found_scores, found_ids = [], []
        for number, segment in enumerate(self.segments):
            here = slice(self.offsets[number], self.offsets[number + 1])
            matching = len(segment.chunk_ids) if chunk_mask is None else int(chunk_mask[here].sum())
            if matching == 0:
                continue
            scores, ids = self._segment_dense(segment, query, min(depth, matching), packed, matching)
            keep = ids >= 0
            found_scores.append(scores[keep])
            found_ids.append(ids[keep])
        if not found_ids:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, ids = np.concatenate(found_scores), np.concatenate(found_ids)
        best = np.lexsort((ids, -scores))[:depth]
        return scores[best], ids[best]

    @staticmethod
    def _segment_dense(segment: Segment, query: np.ndarray, depth: int, packed: np.ndarray | None,
                       matching: int) -> tuple[np.ndarray, np.ndarray]:
        index = faiss.downcast_index(segment.faiss_index)
        if packed is None:
            scores, ids = segment.faiss_index.search(query, depth)
            return scores[0], ids[0]
        selector = faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed))  # n: the bitmap's size in bytes
        if not isinstance(index, faiss.IndexIVF):
            scores, ids = segment.faiss_index.search(query, depth, params=faiss.SearchParameters(sel=selector))
            return scores[0], ids[0]
        for nprobe in (index.nprobe, index.nlist):  # a second pass over every list when the first finds too few
            scores, ids = index.search(query, depth, params=faiss.SearchParametersIVF(sel=selector, nprobe=nprobe))
            if int((ids[0] >= 0).sum()) >= min(depth, matching):
                break
        return scores[0], ids[0]

    def _sparse(self, question: str, depth: int, chunk_mask: np.ndarray | None) -> list[int]:
        """BM25 over every segment (`SegmentedBM25`), the top `depth` chosen by `argpartition`."""
        with self._stem_lock:
            tokens = bm25_tokens([question], self._stemmer)[0]
        if not tokens:
            return []
        scores = self.bm25.scores(tokens)
        if chunk_mask is not None:
            scores = np.where(chunk_mask, scores, 0.0)
        return [int(self.chunk_ids[p]) for p in top_positions(scores, depth)]

    def _chunk_rows(self, chunk_ids: list[int]) -> dict[int, tuple[str, int, int]]:
        found: dict[int, tuple[str, int, int]] = {}
        for number, ids in self._segment_of(chunk_ids).items():
            marks = ",".join("?" * len(ids))
            with self._db_lock:
                rows = self.segments[number].db.execute(
                    f"SELECT c.chunk_id, d.id, c.start, c.end FROM chunks c JOIN documents d ON d.ordinal = c.ordinal "
                    f"WHERE c.chunk_id IN ({marks})", ids).fetchall()
            found.update({row[0]: (row[1], row[2], row[3]) for row in rows})
        return found

    # -- documents ------------------------------------------------------------------------------------
    def _locate(self, document_id: str) -> tuple[Segment, tuple] | None:
        """The segment and row that hold the live article `document_id` (call under `_db_lock`)."""
        for segment in reversed(self.segments):  # the newest first: a replaced article lives there
            row = segment.db.execute(f"SELECT ordinal, {', '.join(_DOCUMENT_FIELDS)} FROM documents WHERE id = ?",
                                     (document_id,)).fetchone()
            if row is not None and row[0] not in self._deleted:
                return segment, row[1:]
        return None

    def document(self, document_id: str) -> Document | None:
        with self._db_lock:
            cached = self._documents.get(document_id)
            if cached is not None:
                self._documents.move_to_end(document_id)
                return cached
            located = self._locate(document_id)
            if located is None:
                return None
            document = _row_document(located[1])
            self._documents[document_id] = document
            if len(self._documents) > _DOCUMENT_CACHE:
                self._documents.popitem(last=False)
            return document

    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20, *,
                  newest_first: bool = False) -> DocumentPage:
        mask = self._document_mask(filters or Filters())
        if newest_first:
            order = self._newest_first()
            matching = [self.doc_ids[i] for i in order[mask[order]]]
        else:
            matching = sorted(self.doc_ids[i] for i in np.flatnonzero(mask))
        page = [self.document(i) for i in matching[offset:offset + limit]]
        return DocumentPage([d for d in page if d is not None], len(matching), offset, limit)

    def _newest_first(self) -> np.ndarray:
        """The per-article rows newest first (`newest_first_order`), worked out once per version
        from the segments' dates, when a listing first asks for that order."""
        with self._db_lock:
            if self._newest is None:
                published = [value for segment in self.segments for (value,) in
                             segment.db.execute("SELECT published FROM documents ORDER BY ordinal")]
                rows = newest_first_order(range(len(self.doc_ids)), self.doc_ids.__getitem__, published.__getitem__)
                self._newest = np.asarray(rows, dtype=np.int64)
            return self._newest

    def stats(self) -> ArchiveStats:
        """Counted once, from the per-article arrays: a version never changes, and the page asks
        on every render."""
        with self._db_lock:
            if self._stats is not None:
                return self._stats
            live = self.doc_live
            sections = np.bincount(self.doc_section[live], minlength=len(self.sections) + 1)
            sources = np.bincount(self.doc_source[live], minlength=len(self.sources) + 1)
            days = self.doc_day[live & (self.doc_day > 0)]
            self._stats = ArchiveStats(
                int(live.sum()), self.live_chunks,
                {name: int(sections[i + 1]) for i, name in enumerate(self.sections) if sections[i + 1]},
                {name: int(sources[i + 1]) for i, name in enumerate(self.sources) if sources[i + 1]},
                _day(int(days.min())) if len(days) else None, _day(int(days.max())) if len(days) else None,
                int((live & (self.doc_day == 0)).sum()))
            return self._stats

    def fingerprints(self) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._db_lock:
            for segment in self.segments:
                for ordinal, document_id, fingerprint in segment.db.execute(
                        "SELECT ordinal, id, fingerprint FROM documents"):
                    if ordinal not in self._deleted:
                        found[document_id] = fingerprint
        return found

    def vectors_of(self, document_ids: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for document_id in document_ids:
            with self._db_lock:
                located = self._locate(document_id)
                if located is None:
                    continue
                segment, row = located
                rows = segment.db.execute(
                    "SELECT c.chunk_id, c.start, c.end FROM chunks c JOIN documents d ON d.ordinal = c.ordinal "
                    "WHERE d.id = ?", (document_id,)).fetchall()
            if not rows:
                continue
            document = _row_document(row)
            vectors = segment.faiss_index.reconstruct_batch(np.array([r[0] for r in rows], dtype=np.int64))
            for (_, start, end), vector in zip(rows, vectors):
                found[passage_input(document.title, document.text[start:end])] = vector
        return found


def _day(day: int) -> str:
    return f"{day // 10000:04d}-{day // 100 % 100:02d}-{day % 100:02d}"


def _row_document(row: tuple) -> Document:
    values = dict(zip(_DOCUMENT_FIELDS, row))
    values["pages"] = tuple(json.loads(values["pages"])) if values["pages"] else None
    values["summary_only"] = bool(values["summary_only"])
    return Document(**values)
