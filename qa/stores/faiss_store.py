"""The default store: FAISS for vectors, bm25s for BM25, SQLite for documents, in one folder.

An index folder holds immutable versions and a `CURRENT` file naming the live one:

    index_dir/CURRENT             -> "v20261126-143000-123456789"
    index_dir/v20261126-.../manifest.json   format, model, counts, checksums
                            store.sqlite3   documents (text, metadata, fingerprint) and chunks (offsets)
                            vectors.faiss   chunk vectors under their chunk ids
                            bm25/           bm25s matrices (memory-mapped) and each chunk's token ids

Why this layout:
- **Incremental writes.** A write copies the current version's files into a staging
  folder and changes only what changed: SQLite rows of the changed articles, FAISS
  `remove_ids`/`add_with_ids` under stable chunk ids, BM25 re-scored from the token ids
  stored per chunk (only new chunks are tokenized; bm25s has no incremental update, and
  re-scoring 100k stored chunks takes about 3 s). Nothing is re-embedded but new chunks.
- **Atomic swap.** The staging folder is fsynced, renamed to the new version and named in
  `CURRENT` by one `os.replace`: a reader sees the old archive or the new one, never half
  of an update. A crash anywhere leaves `CURRENT` naming a complete version.
- **Small resident memory.** Texts stay in SQLite on disk (read for the ~10 passages of a
  question), the FAISS codes and the BM25 matrices are memory-mapped, and per chunk the
  process keeps its id and its article's ordinal (12 bytes) besides FAISS's id map.
- **FAISS chosen by size** (`choose_faiss_kind`): exact inner product (`IndexIDMap2` over
  `IndexFlatIP`) up to `EXACT_SEARCH_LIMIT` chunks, then IVF with half-precision scalar
  quantization (`IndexIVFScalarQuantizer`, QT_fp16: 768 bytes a chunk against 1,536 for
  exact, and native `remove_ids`/`add_with_ids`, which HNSW lacks). sqrt(n) lists, half of
  them probed (`ivf_nprobe`). Measured by `scripts/benchmark_scale.py faiss` at 1M chunks:
  recall@10 against exact search 1.0 at p50 24 ms (exact: 149 ms); 8-bit quantization
  saturated at 0.95 and a quarter of the lists at 0.97 (README, "Scale").
- **Filters inside retrieval.** A filter becomes a chunk mask from per-article arrays
  (date, section, source); FAISS searches through an `IDSelectorBitmap` and BM25 through
  bm25s's `weight_mask`. An IVF search that finds fewer than k matching chunks is repeated
  over every list, so a filter never returns fewer than k while more match.

Fault injection: with `NEWSQA_TEST_PAUSE_AT=<point>` in the environment, a write prints
"NEWSQA_PAUSED <point>" on stderr and sleeps at that point, so a test can kill it there
(tests/qa/test_lifecycle.py, scripts/fault_test.py). The points, in order: `embedding`
(called by `qa.index` before it embeds), `vectors_written` (vectors.faiss written in the
staging folder, no manifest yet), `before_rename`, `before_swap` (version folder in place,
`CURRENT` not yet switched), `after_swap` (old versions not yet pruned).
"""

from __future__ import annotations

import calendar
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from qa.documents import Document
from qa.embedding import file_sha256
from qa.stores.base import (
    ArchiveStats, BuildInProgressError, ChangeSet, DocumentPage, Filters, IndexLoadError, Passage, best_fused_score,
    check_embedding, fuse, open_older, passage_input,
)

LOG = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 3: SQLite documents, FAISS ids, stored BM25 token ids; 2: jsonl + positional FAISS
REQUIRED_FILES = ("store.sqlite3", "vectors.faiss")
BM25_DIR = "bm25"
EXACT_SEARCH_LIMIT = 200_000  # measured (README, "Scale"): exact search p50 is 15 ms at 100k chunks, 149 ms at 1M
IVF_MIN_NPROBE = 48
IVF_RETRAIN_GROWTH = 4  # retrain the IVF centroids once the index is this many times its training size
FULL_CHECKSUM_BYTES = 64 << 20  # larger files are checked by size and sampled hash (loading must stay fast)
PAUSE_ENV = "NEWSQA_TEST_PAUSE_AT"
PAUSE_POINTS = ("embedding", "vectors_written", "before_rename", "before_swap", "after_swap")
_VERSION_NAME = re.compile(r"^v(\d{8}-\d{6})-(\d{6}|\d{9})$")  # 6 digits: names of earlier releases
_DOCUMENT_CACHE = 256

_SCHEMA = """
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
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_DOCUMENT_FIELDS = ("id", "title", "text", "url", "published", "source", "section", "author", "path", "pages",
                    "summary_only")


# -- helpers shared by reading and writing ---------------------------------------------------------
def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to disk (a directory: the names in it)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pause_point(point: str) -> None:
    """Fault-injection hook (see the module docstring): sleep here when the test asks to."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"NEWSQA_PAUSED {point}", file=sys.stderr, flush=True)
        time.sleep(3600)


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
    match = _VERSION_NAME.match(name)
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


def _import_bm25s():
    """bm25s, imported on first use; its import sets its logger to DEBUG, which would print a
    line for every index build, so the level is set back after it."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _stemmer():
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str], stemmer=None) -> list[list[str]]:
    """BM25 tokens: Unicode words of two or more characters ("Zürich" stays one token),
    lower-cased, English stop words removed, Snowball-stemmed ("requested" and "requests"
    meet at "request"). Measured on SQuAD v1.1 dev among 18,689 crowded chunks, fused with
    the dense ranking: answer recall@10 96.3 against 94.5 for ASCII tokens without stemming."""
    return _import_bm25s().tokenize(texts, stopwords="en", stemmer=stemmer or _stemmer(), return_ids=False,
                                    show_progress=False)


def bm25_ranker(texts: list[str]):
    """`top(question, k) -> [(text index, score), ...]`: an in-memory BM25 over `texts` with
    the store's tokenization. Reader training picks its retrieved negatives with it, so they
    are the near-misses this project's own retriever returns."""
    stemmer = _stemmer()
    retriever = _import_bm25s().BM25(k1=1.2, b=0.75)
    retriever.index(bm25_tokens(texts, stemmer), show_progress=False)

    def top(question: str, k: int) -> list[tuple[int, float]]:
        tokens = bm25_tokens([question], stemmer)[0]
        if not tokens or not texts:
            return []
        scores = retriever.get_scores(tokens)
        return [(int(i), float(scores[i])) for i in top_positions(scores, k)]

    return top


def top_positions(scores: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the `depth` best positive scores, best first; ties by position, so results
    are stable. `argpartition` rather than a full sort: O(n) over every chunk's score."""
    depth = min(depth, len(scores))
    if depth <= 0:
        return np.arange(0)
    top = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
    top = top[scores[top] > 0]
    return top[np.lexsort((top, -scores[top]))]


class FlatTokens:
    """Every chunk's token ids in one array: chunk i is `ids[offsets[i]:offsets[i + 1]]`."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray) -> None:
        self.ids, self.offsets = ids, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1


@functools.cache
def _vectorized_bm25():
    """The `VectorizedBM25` class (made once: bm25s is imported on first use)."""
    bm25s = _import_bm25s()

    class VectorizedBM25(bm25s.BM25):
        """bm25s, with its score matrix built by numpy array operations from `FlatTokens`.

        `build_index_from_ids` is the extension point bm25s documents for building the index
        another way. Its own build loops over documents in Python: 5.4 of the 8 s an incremental
        write took at 100k chunks. This one computes the same Lucene BM25 scores (tested equal
        to bm25s's within float32 rounding) in a few hundred milliseconds; retrieval, saving
        and memory-mapped loading stay bm25s's.
        """

        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True, leave_progress=False):
            if not isinstance(corpus_token_ids, FlatTokens):
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
            if self.method != "lucene" or self.idf_method != "lucene":
                raise ValueError("the vectorized build computes Lucene BM25 only")
            import scipy.sparse as sp

            self.nonoccurrence_array = None  # Lucene BM25 needs none (BM25L and BM25+ do)
            tokens = corpus_token_ids
            n_docs, n_vocab = len(tokens), len(unique_token_ids)
            lengths = np.diff(tokens.offsets)
            docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
            counts = sp.csc_matrix((np.ones(len(tokens.ids), dtype=np.float32), (docs, tokens.ids.astype(np.int64))),
                                   shape=(n_docs, n_vocab))  # duplicates summed: term frequencies
            counts.sum_duplicates()
            counts.sort_indices()
            df = np.diff(counts.indptr).astype(np.float64)
            idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            column = np.repeat(np.arange(n_vocab), np.diff(counts.indptr))
            tf = counts.data.astype(np.float64)
            average = lengths.mean() if n_docs else 0.0
            norm = self.k1 * (1 - self.b + self.b * lengths[counts.indices] / average)
            data = (idf[column] * tf / (tf + norm)).astype(self.dtype)
            return {"data": data, "indices": counts.indices.astype(self.int_dtype),
                    "indptr": counts.indptr.astype(self.int_dtype), "num_docs": n_docs}

    return VectorizedBM25


# -- FAISS ----------------------------------------------------------------------------------------------
def choose_faiss_kind(size: int) -> str:
    return "flat" if size <= EXACT_SEARCH_LIMIT else "ivf-fp16"


def ivf_nprobe(nlist: int) -> int:
    """Lists searched per question: half of them (see the module docstring for the measurement)."""
    return min(nlist, max(IVF_MIN_NPROBE, nlist // 2))


def build_faiss(vectors: np.ndarray, ids: np.ndarray, kind: str | None = None) -> faiss.Index:
    """A new FAISS index of `vectors` under `ids`, of the kind chosen for its size."""
    dimension = vectors.shape[1]
    kind = kind or choose_faiss_kind(len(vectors))
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    else:
        # sqrt(n) lists: k-means over 4*sqrt(n) lists of 1M vectors takes minutes on two cores,
        # and nprobe makes up the difference (README, "Scale").
        nlist = int(max(64, min(16_384, np.sqrt(len(vectors)))))
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > 64 * nlist:  # k-means needs ~40-100 points per list, not all of them
            sample = vectors[np.random.default_rng(0).choice(len(vectors), 64 * nlist, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.quantizer_trains_alone = 0
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def faiss_kind(index: faiss.Index) -> str:
    return "ivf-fp16" if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else "flat"


def _all_vectors(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.vstack([index.reconstruct_batch(ids[i:i + 65_536].astype(np.int64)) for i in range(0, len(ids), 65_536)])


# -- the opened version ---------------------------------------------------------------------------------
class FaissStore:
    """One opened version (see the module docstring). Thread-safe for reading."""

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

        bm25s's own `retrieve` sorts through a slower path: measured at 300k chunks, 14 ms a
        question without a filter and 46 ms with a `weight_mask`, against 2 ms for the same
        scores selected here."""
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


# -- the place: versions in a folder -------------------------------------------------------------------
class FaissBackend:
    """Versions of one archive in `index_dir` (see the module docstring)."""

    name = "faiss"

    def __init__(self, index_dir: str | Path, keep_previous: int = 1) -> None:
        self.index_dir = Path(index_dir)
        self.keep_previous = keep_previous
        self._thread_lock = threading.RLock()
        self._depth = 0  # nesting of `lock()` by the thread that holds `_thread_lock`

    def __repr__(self) -> str:
        return f"FaissBackend({str(self.index_dir)!r})"

    # -- reading ----------------------------------------------------------------------------------
    def current_version(self) -> str | None:
        try:
            return (self.index_dir / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def versions(self) -> list[str]:
        """The complete version folders, oldest first (name order is time order)."""
        if not self.index_dir.is_dir():
            return []
        return sorted(p.name for p in self.index_dir.iterdir() if _VERSION_NAME.match(p.name) and p.is_dir())

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
            raise IndexLoadError(f"no index in {self.index_dir}: build one with `python scripts/build_index.py "
                                 f"--index-dir {self.index_dir}`")
        try:
            return self._open(version, embedding)
        except IndexLoadError as err:
            if not fallback:
                raise
            failure = err
        ordered = _VERSION_NAME.match(version) is not None
        older = [v for v in self.versions() if v != version and (v < version or not ordered)]
        return open_older(failure, older, lambda v: self._open(v, embedding))

    def manifest(self, version: str) -> dict:
        return json.loads((self.index_dir / version / "manifest.json").read_text())

    def _open(self, version: str, embedding: dict | None) -> FaissStore:
        directory = self.index_dir / version
        label = f"index version {version}"
        rebuild = "rebuild it with `python scripts/build_index.py --full`"
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
        if not set(REQUIRED_FILES) <= set(files) or not any(name.startswith(BM25_DIR + "/") for name in files):
            raise IndexLoadError(f"{label} is damaged: its manifest lists files {sorted(files)}; {rebuild}")
        for name, checksum in files.items():
            path = directory / name
            if not path.exists() or file_checksum(path) != checksum:
                raise IndexLoadError(f"{label} is damaged: {name} is missing or altered; {rebuild}")
        try:
            store = FaissStore(directory, manifest)
        except OSError as err:
            raise IndexLoadError(f"{label} is damaged: unreadable file ({err.strerror}); {rebuild}") from None
        except (ValueError, KeyError, TypeError, RuntimeError, sqlite3.Error) as err:  # checksums matched: a bug
            raise IndexLoadError(f"{label} is damaged: {type(err).__name__} while reading it; {rebuild}") from None
        stored = store.faiss_index.ntotal
        bm25_size = store.bm25.scores["num_docs"] if store.bm25 is not None else 0
        if stored != len(store.chunk_ids) or bm25_size != len(store.chunk_ids) or (
                embedding is not None and store.faiss_index.d != embedding["dimension"]):
            raise IndexLoadError(f"{label} is damaged: {stored} vectors and {bm25_size} BM25 entries for "
                                 f"{len(store.chunk_ids)} chunks; {rebuild}")
        LOG.info("loaded index %s: %d documents, %d chunks (%s)", version, len(store.doc_ids), len(store.chunk_ids),
                 faiss_kind(store.faiss_index))
        return store

    # -- writing ----------------------------------------------------------------------------------
    @contextmanager
    def lock(self, wait_s: float = 120.0):
        """One write at a time per index folder: across processes by `flock` (a second build
        fails at once with `BuildInProgressError`), within this process by a lock that other
        threads wait up to `wait_s` for (two articles added at once are written one after
        the other). Re-entrant for the thread that holds it, so a sync can hold it while it
        reads the current version, embeds and then calls `write`."""
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

    def remove_stale_partials(self) -> list[str]:
        """Delete what killed writes left behind: `.v*.partial` folders and `.CURRENT.tmp`.
        Call only under `lock`: then no write is running, so nothing deleted is in use."""
        removed = []
        for path in sorted(self.index_dir.glob(".v*.partial")) + sorted(self.index_dir.glob(".CURRENT.tmp")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
        if removed:
            LOG.warning("removed what an interrupted build left: %s", ", ".join(removed))
        return removed

    def write(self, changes: ChangeSet) -> str:
        with self.lock():
            return self._write(changes)

    def _write(self, changes: ChangeSet) -> str:
        self.remove_stale_partials()
        previous = self.current_version()
        base = None if changes.replace_all or previous is None else self.index_dir / previous
        version = new_version_name(self.versions())
        staging = self.index_dir / f".{version}.partial"
        staging.mkdir()
        try:
            manifest = _write_version(staging, base, changes)
            manifest["version"] = version
            names = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
            manifest["files"] = {name: file_checksum(staging / name) for name in names}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            for name in (*names, "manifest.json"):
                _fsync(staging / name)
            _fsync(staging / BM25_DIR)
            _fsync(staging)
            pause_point("before_rename")
            os.replace(staging, self.index_dir / version)
            _fsync(self.index_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        pause_point("before_swap")
        pointer = self.index_dir / ".CURRENT.tmp"
        with open(pointer, "w") as handle:
            handle.write(version + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer, self.index_dir / "CURRENT")
        _fsync(self.index_dir)
        pause_point("after_swap")
        others = [v for v in self.versions() if v != version]
        for old in others[: max(0, len(others) - self.keep_previous)]:
            if old != previous:
                shutil.rmtree(self.index_dir / old, ignore_errors=True)
        return version


def _write_version(staging: Path, base: Path | None, changes: ChangeSet) -> dict:
    """Fill `staging` with `base` (or nothing) plus `changes`; returns the manifest without files."""
    started = time.time()
    db_path = staging / "store.sqlite3"
    if base is not None:
        shutil.copyfile(base / "store.sqlite3", db_path)
        faiss_index = faiss.read_index(str(base / "vectors.faiss"))
        old_manifest = json.loads((base / "manifest.json").read_text())
    else:
        faiss_index, old_manifest = None, {}
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=OFF")  # the whole folder is fsynced before it becomes visible
        if base is None:
            db.executescript(_SCHEMA)
            db.execute("INSERT INTO meta VALUES ('next_chunk_id', '0'), ('next_ordinal', '0')")
        db.execute("BEGIN")
        removed_ids = _delete_documents(db, [*changes.deletes, *(u.document.id for u in changes.upserts)])
        new_ids, new_vectors, new_inputs = _insert_documents(db, changes)
        db.execute("COMMIT")
        chunk_ids = np.array([r[0] for r in db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id")],
                             dtype=np.int64)
        counts = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        if base is not None and len(removed_ids) > 0.25 * max(1, len(chunk_ids)):
            db.execute("VACUUM")  # many rows gone: give the space back
    finally:
        db.close()
    dimension = (changes.settings.get("embedding_model") or old_manifest.get("embedding_model") or {}).get("dimension")
    faiss_index, rebuilt = _update_faiss(faiss_index, removed_ids, new_ids, new_vectors, chunk_ids, dimension,
                                         old_manifest)
    faiss.write_index(faiss_index, str(staging / "vectors.faiss"))
    pause_point("vectors_written")
    _update_bm25(staging / BM25_DIR, base / BM25_DIR if base is not None else None, removed_ids, new_ids,
                 new_inputs, chunk_ids)
    settings = changes.settings or {k: old_manifest.get(k) for k in ("embedding_model", "chunking")}
    is_ivf = faiss_kind(faiss_index) == "ivf-fp16"
    return {
        "format": FORMAT_VERSION,
        **settings,
        "documents": counts,
        "chunks": len(chunk_ids),
        "faiss_index": faiss_kind(faiss_index),
        "ivf_trained_on": (len(chunk_ids) if rebuilt else old_manifest.get("ivf_trained_on")) if is_ivf else None,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "change": {"upserted": len(changes.upserts), "deleted": len(changes.deletes), "full": base is None,
                   "added_chunks": len(new_ids), "removed_chunks": len(removed_ids)},
        "write_seconds": round(time.time() - started, 2),
    }


def _kept_training(old_manifest: dict, size: int) -> bool:
    trained = old_manifest.get("ivf_trained_on") or 0
    return trained > 0 and size <= IVF_RETRAIN_GROWTH * trained


def _delete_documents(db: sqlite3.Connection, document_ids: list[str]) -> np.ndarray:
    """Remove these documents and their chunks; returns the removed chunk ids."""
    removed: list[int] = []
    for start in range(0, len(document_ids), 500):
        batch = document_ids[start:start + 500]
        marks = ",".join("?" * len(batch))
        ordinals = [r[0] for r in db.execute(f"SELECT ordinal FROM documents WHERE id IN ({marks})", batch)]
        if not ordinals:
            continue
        omarks = ",".join("?" * len(ordinals))
        removed += [r[0] for r in db.execute(f"SELECT chunk_id FROM chunks WHERE ordinal IN ({omarks})", ordinals)]
        db.execute(f"DELETE FROM chunks WHERE ordinal IN ({omarks})", ordinals)
        db.execute(f"DELETE FROM documents WHERE ordinal IN ({omarks})", ordinals)
    return np.array(removed, dtype=np.int64)


def _insert_documents(db: sqlite3.Connection, changes: ChangeSet) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Insert the upserted documents and chunks under fresh ordinals and chunk ids (never reused,
    so a stale id can never point at another article's chunk)."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    next_chunk, next_ordinal = int(meta["next_chunk_id"]), int(meta["next_ordinal"])
    ids, vectors, inputs = [], [], []
    for item in changes.upserts:
        d = item.document
        db.execute(
            "INSERT INTO documents (ordinal, id, title, text, url, published, day, source, section, author, path, "
            "pages, summary_only, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (next_ordinal, d.id, d.title, d.text, d.url, d.published, d.date, d.source, d.section, d.author, d.path,
             json.dumps(list(d.pages)) if d.pages else None, int(d.summary_only), item.fingerprint))
        rows = []
        for chunk in item.chunks:
            rows.append((next_chunk, next_ordinal, chunk.start, chunk.end))
            ids.append(next_chunk)
            inputs.append(passage_input(d.title, chunk.text))
            next_chunk += 1
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?)", rows)
        if len(item.chunks):
            vectors.append(np.asarray(item.vectors, dtype=np.float32))
        next_ordinal += 1
    db.execute("UPDATE meta SET value = ? WHERE key = 'next_chunk_id'", (str(next_chunk),))
    db.execute("UPDATE meta SET value = ? WHERE key = 'next_ordinal'", (str(next_ordinal),))
    stacked = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    return np.array(ids, dtype=np.int64), stacked, inputs


def _update_faiss(index: faiss.Index | None, removed: np.ndarray, new_ids: np.ndarray, new_vectors: np.ndarray,
                  all_ids: np.ndarray, dimension: int | None, old_manifest: dict) -> tuple[faiss.Index, bool]:
    """Apply removals and additions; rebuild when the size calls for another kind (or IVF retraining).
    Returns the index and whether it was built anew."""
    if index is None:
        if dimension is None:
            raise ValueError("a first write needs the embedding model's dimension in ChangeSet.settings")
        return build_faiss(new_vectors.reshape(-1, dimension), new_ids), True
    if len(removed):
        # IVF keeps a hash table from id to list (the direct map), which removes by an id array
        # only; the flat index scans its ids once against a hash set (IDSelectorBatch).
        selector = (faiss.IDSelectorArray if faiss_kind(index) == "ivf-fp16" else faiss.IDSelectorBatch)(
            len(removed), faiss.swig_ptr(removed))
        index.remove_ids(selector)
    wanted = choose_faiss_kind(len(all_ids))
    stale_ivf = wanted == "ivf-fp16" and not _kept_training(old_manifest, len(all_ids))
    if faiss_kind(index) != wanted or stale_ivf:
        kept = all_ids[~np.isin(all_ids, new_ids)]
        vectors = np.vstack([_all_vectors(index, kept), new_vectors.reshape(-1, index.d)])
        LOG.info("rebuilding the FAISS index as %s for %d chunks", wanted, len(all_ids))
        return build_faiss(vectors, np.concatenate([kept, new_ids]), wanted), True
    if len(new_ids):
        index.add_with_ids(np.ascontiguousarray(new_vectors, dtype=np.float32), new_ids)
    return index, False


def _update_bm25(target: Path, base: Path | None, removed: np.ndarray, new_ids: np.ndarray, new_inputs: list[str],
                 all_ids: np.ndarray) -> None:
    """Re-score BM25 over every chunk from stored token ids; only new chunks are tokenized.

    The token ids of each chunk are kept in `tokens.npy` (flat) with `token_offsets.npy`,
    in chunk-id order, with the vocabulary in `vocabulary.json`.
    """
    target.mkdir(parents=True, exist_ok=True)
    if base is not None:
        vocabulary: dict[str, int] = json.loads((base / "vocabulary.json").read_text())
        old_ids = np.load(base / "chunk_ids.npy")
        flat = np.load(base / "tokens.npy")
        offsets = np.load(base / "token_offsets.npy")
    else:
        vocabulary, old_ids = {}, np.zeros(0, np.int64)
        flat, offsets = np.zeros(0, np.int32), np.zeros(1, np.int64)
    # Kept chunks: one gather over the flat array (old ids are sorted; new ids are all larger).
    keep = ~np.isin(old_ids, removed)
    starts, ends = offsets[:-1][keep], offsets[1:][keep]
    kept_lengths = ends - starts
    gather = np.repeat(starts - np.concatenate([[0], np.cumsum(kept_lengths)[:-1]]), kept_lengths) + \
        np.arange(int(kept_lengths.sum()))
    new_tokens = [np.array([vocabulary.setdefault(t, len(vocabulary)) for t in tokens], dtype=np.int32)
                  for tokens in (bm25_tokens(new_inputs) if new_inputs else [])]
    ids = np.concatenate([old_ids[keep], new_ids])
    if len(ids) != len(all_ids) or (len(ids) and not np.array_equal(ids, all_ids)):
        raise RuntimeError("BM25 chunk ids disagree with the document store")
    lengths = np.concatenate([kept_lengths, [len(t) for t in new_tokens]]).astype(np.int64)
    flat = np.concatenate([flat[gather], *new_tokens]).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    np.save(target / "chunk_ids.npy", ids)
    np.save(target / "tokens.npy", flat)
    np.save(target / "token_offsets.npy", offsets)
    (target / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    if len(ids):
        retriever = _vectorized_bm25()(k1=1.2, b=0.75)
        from bm25s.tokenization import Tokenized

        retriever.index(Tokenized(ids=FlatTokens(flat, offsets), vocab=dict(vocabulary)), show_progress=False)
        retriever.save(str(target), show_progress=False)
