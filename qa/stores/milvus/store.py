"""One opened version (collection) of the archive in Milvus: hybrid search, documents, listings.

Retrieval. `search` runs the dense request (IP on `dense`) and the BM25 request (the question
text on `sparse`), both with the filter expression, concurrently, and fuses the two ranked
lists here by weighted reciprocal rank (`RRF_K`) rather than with `hybrid_search` and
`RRFRanker`: Milvus returns only the fused score, so `dense_rank`/`sparse_rank` would be
unknown, and `RRFRanker` has no weights while the evaluation compares weighted fusions
(`dense_weight=1.5`). The fusion is the FAISS store's, tie-breaks included, so both stores
rank and score alike; the test suite checks that with equal weights it orders chunks as
Milvus's own `hybrid_search(..., RRFRanker(60))` does. Cosines come from the stored vectors
of the returned chunks (one primary-key query), so BM25-only passages get one too.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter

import numpy as np

from qa.stores.base import best_fused_score, fuse, newest_first_order
from qa.stores.milvus.connection import QUERY_WINDOW, _Connection, _guarded
from qa.stores.milvus.expressions import FIRST_PARTS, Expr, _in, filter_expression
from qa.stores.milvus.schema import DOCUMENT_FIELDS, PASSAGE_FIELDS
from qa.types import ArchiveStats, Document, DocumentPage, Filters, Passage

MIN_EF = 128  # HNSW search breadth, as the FAISS store's efSearch
MAX_EF = 32_768
_SEARCH_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="milvus-search")


class MilvusStore:
    """One version (collection) of the archive, read-only. Thread-safe."""

    def __init__(self, conn: _Connection, collection: str, manifest: dict) -> None:
        self._conn = conn
        self.collection = collection
        self.manifest = manifest

    @property
    def version(self) -> str | None:
        return self.collection

    def __repr__(self) -> str:
        return f"MilvusStore({self.collection!r})"

    # -- search -----------------------------------------------------------------------------
    @_guarded
    def search(self, question: str, vector: np.ndarray, k: int, *, candidates: int = 50,
               filters: Filters | None = None, dense_weight: float = 1.0,
               sparse_weight: float = 1.0) -> list[Passage]:
        """Dense and BM25 requests in Milvus with the filter inside both, fused here by weighted RRF."""
        if k <= 0 or (dense_weight <= 0 and sparse_weight <= 0):
            return []
        depth = min(max(candidates, k), QUERY_WINDOW)
        where = filter_expression(filters)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        dense_job = _SEARCH_POOL.submit(self._dense_ids, query, depth, where) if dense_weight > 0 else None
        sparse = self._sparse_ids(question, depth, where) if sparse_weight > 0 else []
        dense = dense_job.result() if dense_job is not None else []
        ranked = fuse(dense, sparse, dense_weight, sparse_weight, k)
        rows = {row["chunk_id"]: row for row in self._conn.scan_in(
            self.collection, "chunk_id", [chunk for chunk, _ in ranked], PASSAGE_FIELDS)}
        dense_rank = {chunk: rank for rank, chunk in enumerate(dense)}
        sparse_rank = {chunk: rank for rank, chunk in enumerate(sparse)}
        best = best_fused_score(dense_weight, sparse_weight)
        passages = []
        for chunk_id, score in ranked:
            row = rows.get(chunk_id)
            if row is None:  # deleted by an incremental write since the search
                continue
            passages.append(Passage(
                chunk_id=chunk_id, document_id=row["document_id"], title=row["title"], start=row["start"],
                end=row["end"], text=row["text"][row["text_offset"]:], score=round(score / best, 4),
                dense_rank=dense_rank.get(chunk_id), sparse_rank=sparse_rank.get(chunk_id),
                dense_score=float(np.dot(np.asarray(row["dense"], dtype=np.float32), query)),
            ))
        return passages

    def _dense_ids(self, query: np.ndarray, depth: int, where: Expr) -> list[int]:
        ids = self._dense_search(query, depth, where, max(depth, MIN_EF))
        if where.template and len(ids) < depth:
            ids = self._complete_filtered(query, depth, where, ids)
        return ids

    def _dense_search(self, query: np.ndarray, depth: int, where: Expr, ef: int) -> list[int]:
        hits = self._conn.client.search(
            self.collection, data=[query.tolist()], anns_field="dense", limit=depth, output_fields=["chunk_id"],
            search_params={"metric_type": "IP", "params": {"ef": ef}}, timeout=self._conn.timeout,
            **where.arguments(not self._conn.lite))
        return [int(hit["chunk_id"]) for hit in hits[0]]

    def _complete_filtered(self, query: np.ndarray, depth: int, where: Expr, ids: list[int]) -> list[int]:
        """An HNSW graph searched under a selective filter can run out of reachable matches and
        return fewer than `depth` when more exist. Then: exact inner products over all matching
        chunks when they fit one query, else a wider graph search."""
        matching = self._conn.count(self.collection, where)
        if matching <= len(ids):
            return ids
        if matching <= QUERY_WINDOW:
            return self.exact_dense_ids(query, depth, where)
        return self._dense_search(query, depth, where, MAX_EF)

    def exact_dense_ids(self, query: np.ndarray, depth: int, where: Expr) -> list[int]:
        """The `depth` matching chunks of largest inner product, computed from their stored vectors."""
        rows = self._conn.query(self.collection, where, ["chunk_id", "dense"], limit=QUERY_WINDOW)
        if not rows:
            return []
        ids = np.array([row["chunk_id"] for row in rows], dtype=np.int64)
        scores = np.asarray([row["dense"] for row in rows], dtype=np.float32) @ query
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:depth]
        return [int(ids[i]) for i in order]

    def _sparse_ids(self, question: str, depth: int, where: Expr) -> list[int]:
        if not question.strip():
            return []
        hits = self._conn.client.search(
            self.collection, data=[question], anns_field="sparse", limit=depth, output_fields=["chunk_id"],
            search_params={"metric_type": "BM25"}, timeout=self._conn.timeout, **where.arguments(not self._conn.lite))
        return [int(hit["chunk_id"]) for hit in hits[0]]

    # -- documents --------------------------------------------------------------------------
    @_guarded
    def document(self, document_id: str) -> Document | None:
        documents = self._assemble(self._conn.scan(self.collection, _in("document_id", [document_id]), DOCUMENT_FIELDS))
        return documents.get(document_id)

    @_guarded
    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20, *,
                  newest_first: bool = False) -> DocumentPage:
        """A page of the matching documents in id order (or newest first). The ids of all matching
        documents are read and sorted here (Milvus orders query results by nothing), then one page is fetched."""
        where = FIRST_PARTS & filter_expression(filters)
        rows = self._conn.scan(self.collection, where, ["document_id", "published"])
        if newest_first:
            rows = newest_first_order(rows, itemgetter("document_id"), lambda row: row.get("published"))
        else:
            rows = sorted(rows, key=itemgetter("document_id"))
        ids = [row["document_id"] for row in rows]
        offset, limit = max(0, offset), max(0, limit)
        page = ids[offset:offset + limit]
        rows = self._conn.scan_in(self.collection, "document_id", page, DOCUMENT_FIELDS) if page else []
        found = self._assemble(rows)
        return DocumentPage([found[i] for i in page if i in found], len(ids), offset, limit)

    @staticmethod
    def _assemble(rows: list[dict]) -> dict[str, Document]:
        """Documents from their chunk rows: metadata from part 0, text from the segments in part order."""
        by_document: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_document[row["document_id"]].append(row)
        documents = {}
        for document_id, parts in by_document.items():
            parts.sort(key=lambda row: row["part"])
            if parts[0]["part"] != 0 or not parts[0]["document"]:
                continue  # an incremental write is replacing it right now
            meta = json.loads(parts[0]["document"])
            documents[document_id] = Document.from_dict({**meta, "text": "".join(row["segment"] for row in parts)})
        return documents

    @_guarded
    def stats(self) -> ArchiveStats:
        rows = self._conn.scan(self.collection, FIRST_PARTS, ["published", "source", "section"])
        dates = sorted(row["published"] for row in rows if row.get("published"))
        return ArchiveStats(
            documents=len(rows), chunks=self._conn.count(self.collection),
            sections=dict(Counter(row["section"] for row in rows if row.get("section") is not None)),
            sources=dict(Counter(row["source"] for row in rows if row.get("source") is not None)),
            first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None,
            undated=len(rows) - len(dates),
        )

    @_guarded
    def fingerprints(self) -> dict[str, str]:
        return {row["document_id"]: row["fingerprint"]
                for row in self._conn.scan(self.collection, FIRST_PARTS, ["document_id", "fingerprint"])}

    @_guarded
    def vectors_of(self, document_ids: list[str]) -> dict[str, np.ndarray]:
        rows = self._conn.scan_in(self.collection, "document_id", list(document_ids), ["text", "dense"])
        return {row["text"]: np.asarray(row["dense"], dtype=np.float32) for row in rows}

    def warm_up(self) -> None:
        """Nothing to read: the collection is loaded by the backend."""

    def close(self) -> None:
        """Nothing to release: the connection belongs to the backend, the collection stays loaded for others."""
