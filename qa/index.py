"""The retrieval index: dense (FAISS over sentence-transformers) and BM25, fused.

`NewsIndex` is the one facade: `build` (chunk, embed, index), `save` (atomic,
versioned), `load` (validated against its manifest), `search` (hybrid retrieval)
and `document`. On disk an index directory holds versions and a `CURRENT` file
naming the live one:

    index_dir/CURRENT             -> "v20261125-143000-123456789"
    index_dir/v20261125-.../manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss

`save` writes a new version beside the old one and then replaces `CURRENT` in one
`os.replace`, so readers see either the old or the new index, never half of one.
Every file, the version directory and `index_dir` are fsynced around the swap, so
the switch also survives a power cut. A version is named after its UTC creation
time to the nanosecond and always sorts after every existing version, so "newest"
is simply the last name. `load` falls back to the newest valid older version when
`CURRENT` names a damaged one (and says so in `NewsIndex.fallback_reason`).

Fault injection: with `NEWSQA_TEST_PAUSE_AT=<point>` in the environment, a build
prints "NEWSQA_PAUSED <point>" on stderr and sleeps at that point, so a test can
kill it there (tests/qa/test_lifecycle.py, scripts/fault_test.py). The points, in
order: `embedding` (chunks known, nothing written), `vectors_written` (vectors.faiss
written in the staging folder, no manifest yet), `before_rename` (staging complete),
`before_swap` (version folder in place, `CURRENT` not yet switched), `after_swap`
(`CURRENT` switched, old versions not yet pruned).
"""

from __future__ import annotations

import calendar
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.chunking import Chunk, chunk_document
from qa.documents import Document
from qa.embedding import Embedder, file_sha256 as _file_sha256

LOG = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: BM25 saved beside the vectors (bm25s, stemmed)
REQUIRED_FILES = ("documents.jsonl", "chunks.jsonl", "vectors.faiss")
BM25_DIR = "bm25"
EXACT_SEARCH_LIMIT = 50_000  # above this many chunks, an HNSW graph replaces exact search
RRF_K = 60
PAUSE_ENV = "NEWSQA_TEST_PAUSE_AT"
PAUSE_POINTS = ("embedding", "vectors_written", "before_rename", "before_swap", "after_swap")
_VERSION_NAME = re.compile(r"^v(\d{8}-\d{6})-(\d{6}|\d{9})$")  # 6 digits: names of earlier releases


class IndexLoadError(RuntimeError):
    """An index that is missing, damaged, or built with another model."""


class BuildInProgressError(RuntimeError):
    """Another build holds the index directory's lock."""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `score` is the fused retrieval score in 0..1."""

    chunk_id: int
    document_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    dense_rank: int | None = None
    sparse_rank: int | None = None
    dense_score: float | None = None  # cosine of question and passage, when the dense retriever ranked it

    def to_dict(self) -> dict:
        hidden = {"dense_rank", "sparse_rank", "chunk_id", "dense_score"}
        return {k: v for k, v in asdict(self).items() if k not in hidden}


class BM25:
    """Okapi BM25 over a fixed list of texts, scored by `bm25s` (sparse matrices in numpy).

    Tokens: Unicode words of two or more characters ("Zürich" stays one token),
    lower-cased, English stop words removed, Snowball-stemmed ("requested" and
    "requests" meet at "request"). Measured on SQuAD v1.1 dev among 18,689 crowded
    chunks (600 questions), fused with the dense ranking: answer recall@10 96.3 against
    94.5 for the earlier ASCII tokens without stemming (README, "A crowded archive").
    Saved with the index and memory-mapped on load, so loading costs no rebuild.
    """

    def __init__(self, retriever, size: int) -> None:
        self.retriever = retriever
        self.n = size
        self._lock = threading.Lock()  # a PyStemmer stemmer is not thread-safe
        self._stemmer = _stemmer()

    @classmethod
    def build(cls, texts: list[str]) -> BM25:
        import bm25s

        retriever = bm25s.BM25(k1=1.2, b=0.75)
        if texts:
            retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False),
                            show_progress=False)
        return cls(retriever, len(texts))

    def tokens(self, text: str) -> list[str]:
        import bm25s

        with self._lock:
            return bm25s.tokenize([text], stopwords="en", stemmer=self._stemmer, return_ids=False,
                                  show_progress=False)[0]

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The `k` best texts with a positive score, best first: (position, score)."""
        tokens = self.tokens(query)
        k = min(k, self.n)
        if not tokens or k <= 0:
            return []
        ids, scores = self.retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        return [(int(i), float(v)) for i, v in zip(ids[0], scores[0]) if v > 0]

    def save(self, directory: Path) -> list[Path]:
        """Write the matrices and vocabulary into `directory`; returns the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(directory), show_progress=False)
        (directory / "size.json").write_text(json.dumps({"texts": self.n}) + "\n")
        return sorted(p for p in directory.iterdir() if p.is_file())

    @classmethod
    def load(cls, directory: Path) -> BM25:
        import bm25s

        size = json.loads((directory / "size.json").read_text())["texts"]
        if size == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(directory), mmap=True, show_progress=False), size)


def _stemmer():
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def corpus_fingerprint(documents: list[Document]) -> str:
    digest = hashlib.sha256()
    for document in sorted(documents, key=lambda d: d.id):
        digest.update(f"{document.id}\0{document.title}\0{document.text}\0".encode())
    return digest.hexdigest()[:16]


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to disk (a directory: the names in it)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause_point(point: str) -> None:
    """Fault-injection hook (see the module docstring): sleep here when the test asks to."""
    if os.environ.get(PAUSE_ENV) == point:
        print(f"NEWSQA_PAUSED {point}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _version_ns(name: str) -> int | None:
    """The creation time in ns encoded in a version name, or None for a name that is not a version."""
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


def _passage_input(title: str, text: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: the title gives it context."""
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def _faiss_index(vectors: np.ndarray) -> tuple[faiss.Index, str]:
    """Exact inner-product search for small corpora, an HNSW graph for large ones."""
    dimension = vectors.shape[1]
    if len(vectors) <= EXACT_SEARCH_LIMIT:
        index, kind = faiss.IndexFlatIP(dimension), "IndexFlatIP"
    else:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        kind = "IndexHNSWFlat(M=32)"
    index.add(vectors)
    return index, kind


class NewsIndex:
    """Documents, their chunks, a FAISS index of chunk embeddings and a BM25 index."""

    def __init__(self, documents: list[Document], chunks: list[Chunk], faiss_index: faiss.Index,
                 embedder: Embedder, manifest: dict, bm25: BM25 | None = None) -> None:
        self.documents = {d.id: d for d in documents}
        self.chunks = chunks
        self.faiss_index = faiss_index
        self.embedder = embedder
        self.manifest = manifest
        self.fallback_reason: str | None = None  # set by `load` when it served an older version
        if isinstance(faiss_index, faiss.IndexHNSWFlat):
            faiss_index.hnsw.efSearch = 128
        self.bm25 = bm25 if bm25 is not None else BM25.build(
            [_passage_input(self.documents[c.document_id].title, c.text) for c in chunks])

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, documents: list[Document], embedder: Embedder, max_words: int = 100,
              overlap_sentences: int = 1, previous: NewsIndex | None = None, progress: bool = False) -> NewsIndex:
        """Chunk and embed `documents`. Embeddings of chunks unchanged since `previous` are reused."""
        started = time.time()
        chunks = [c for d in documents for c in chunk_document(d, max_words, overlap_sentences)]
        titles = {d.id: d.title for d in documents}
        inputs = [_passage_input(titles[c.document_id], c.text) for c in chunks]
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        reusable = previous.vectors_by_input() if previous is not None and previous.compatible_with(embedder) else {}
        todo = [i for i, text in enumerate(inputs) if text not in reusable]
        for i, text in enumerate(inputs):
            if text in reusable:
                vectors[i] = reusable[text]
        LOG.info("embedding %d of %d chunks (%d reused)", len(todo), len(chunks), len(chunks) - len(todo))
        _pause_point("embedding")
        if todo:
            vectors[todo] = embedder.encode([inputs[i] for i in todo], progress=progress)
        faiss_index, kind = _faiss_index(vectors)
        manifest = {
            "format": FORMAT_VERSION,
            "embedding_model": {"name": embedder.name, "dimension": embedder.dimension,
                                "fingerprint": embedder.fingerprint},
            "documents": len(documents),
            "chunks": len(chunks),
            "chunking": {"max_words": max_words, "overlap_sentences": overlap_sentences},
            "faiss_index": kind,
            "corpus_fingerprint": corpus_fingerprint(documents),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedded_chunks": len(todo),
            "build_seconds": round(time.time() - started, 2),
        }
        return cls(documents, chunks, faiss_index, embedder, manifest)

    def compatible_with(self, embedder: Embedder) -> bool:
        model = self.manifest["embedding_model"]
        return model["fingerprint"] == embedder.fingerprint and model["dimension"] == embedder.dimension

    def vectors_by_input(self) -> dict[str, np.ndarray]:
        vectors = self.faiss_index.reconstruct_n(0, self.faiss_index.ntotal)
        return {
            _passage_input(self.documents[c.document_id].title, c.text): vectors[i] for i, c in enumerate(self.chunks)
        }

    # -- persistence ----------------------------------------------------------------------
    def save(self, index_dir: str | Path, keep_previous: int = 1) -> Path:
        """Write a new version and make it current atomically; returns the version directory.

        Order of a save: files written and fsynced in `.<version>.partial`, the folder fsynced
        and renamed to `<version>`, `index_dir` fsynced, `CURRENT` replaced, `index_dir`
        fsynced again. A crash at any point leaves `CURRENT` naming a complete version.
        Then the versions older than the newest `keep_previous` others are pruned (the
        version `CURRENT` named before is always kept).
        """
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        previous = self.current_version(index_dir)
        version = new_version_name(self.versions(index_dir))
        staging = index_dir / f".{version}.partial"
        staging.mkdir()
        try:
            with open(staging / "documents.jsonl", "w", encoding="utf-8") as handle:
                for document in self.documents.values():
                    handle.write(json.dumps(document.to_dict(), ensure_ascii=False) + "\n")
            with open(staging / "chunks.jsonl", "w", encoding="utf-8") as handle:
                for chunk in self.chunks:
                    handle.write(json.dumps([chunk.document_id, chunk.start, chunk.end], ensure_ascii=False) + "\n")
            faiss.write_index(self.faiss_index, str(staging / "vectors.faiss"))
            _pause_point("vectors_written")
            names = [*REQUIRED_FILES, *(str(p.relative_to(staging)) for p in self.bm25.save(staging / BM25_DIR))]
            files = {name: _file_sha256(staging / name) for name in names}
            manifest = {**self.manifest, "version": version, "files": files}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            for name in (*files, "manifest.json"):
                _fsync(staging / name)
            _fsync(staging / BM25_DIR)
            _fsync(staging)
            _pause_point("before_rename")
            os.replace(staging, index_dir / version)
            _fsync(index_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _pause_point("before_swap")
        pointer = index_dir / ".CURRENT.tmp"
        with open(pointer, "w") as handle:
            handle.write(version + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer, index_dir / "CURRENT")
        _fsync(index_dir)
        _pause_point("after_swap")
        self.manifest = manifest
        others = [v for v in self.versions(index_dir) if v != version]
        for old in others[: max(0, len(others) - keep_previous)]:
            if old != previous:
                shutil.rmtree(index_dir / old, ignore_errors=True)
        return index_dir / version

    @staticmethod
    def versions(index_dir: str | Path) -> list[str]:
        """The complete version folders of `index_dir`, oldest first (name order is time order)."""
        index_dir = Path(index_dir)
        if not index_dir.is_dir():
            return []
        return sorted(p.name for p in index_dir.iterdir() if _VERSION_NAME.match(p.name) and p.is_dir())

    @staticmethod
    def current_version(index_dir: str | Path) -> str | None:
        pointer = Path(index_dir) / "CURRENT"
        try:
            return pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    @classmethod
    def load(cls, index_dir: str | Path, embedder: Embedder, version: str | None = None,
             fallback: bool = True) -> NewsIndex:
        """Load `version` (default: the one `CURRENT` names), checking files, checksums and the model.

        With `fallback`, when that version is damaged, missing or refused, the newest older
        version that loads is served instead and `fallback_reason` says why: a server that
        restarts after a bad disk event keeps answering from the last good index rather than
        from none. Versions newer than `CURRENT` are never tried: they were not made current
        (a build killed between renaming its folder and the swap). Messages name versions,
        not paths, so they are safe to show to clients.
        """
        index_dir = Path(index_dir)
        version = version or cls.current_version(index_dir)
        if version is None:
            raise IndexLoadError(f"no index in {index_dir}: build one with `python scripts/build_index.py "
                                 f"--index-dir {index_dir}`")
        try:
            return cls._load_version(index_dir, version, embedder)
        except IndexLoadError as err:
            if not fallback:
                raise
            failure = err
        ordered = _VERSION_NAME.match(version) is not None
        for older in reversed([v for v in cls.versions(index_dir) if v != version and (v < version or not ordered)]):
            try:
                index = cls._load_version(index_dir, older, embedder)
            except IndexLoadError as err:
                LOG.warning("fallback candidate not usable either: %s", err)
                continue
            index.fallback_reason = f"{failure} (serving the previous version {older} instead)"
            LOG.error("%s", index.fallback_reason)
            return index
        raise failure

    @classmethod
    def _load_version(cls, index_dir: Path, version: str, embedder: Embedder) -> NewsIndex:
        directory = index_dir / version
        label = f"index version {version}"
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except OSError as err:
            raise IndexLoadError(f"{label} is damaged: unreadable manifest ({err.strerror}); rebuild it") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise IndexLoadError(f"{label} is damaged: unreadable manifest ({err}); rebuild it") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"{label} has format {manifest.get('format')}, expected {FORMAT_VERSION}; "
                                 "rebuild it")
        model = manifest.get("embedding_model", {})
        if model.get("fingerprint") != embedder.fingerprint or model.get("dimension") != embedder.dimension:
            raise IndexLoadError(
                f"{label} was built with embedding model {model.get('name')!r} "
                f"(dimension {model.get('dimension')}), but the configured model is {embedder.name!r} "
                f"(dimension {embedder.dimension}) with weights fingerprint {embedder.fingerprint}, not the "
                f"index's {model.get('fingerprint')}; rebuild the index or configure the same model"
            )
        files = manifest.get("files") or {}
        if not set(REQUIRED_FILES) <= set(files) or not any(name.startswith(BM25_DIR + "/") for name in files):
            raise IndexLoadError(f"{label} is damaged: its manifest lists files {sorted(files)}; rebuild it")
        for name, checksum in files.items():
            path = directory / name
            if not path.exists() or _file_sha256(path) != checksum:
                raise IndexLoadError(f"{label} is damaged: {name} is missing or altered; rebuild it")
        try:
            documents = [Document.from_dict(json.loads(line)) for line in (directory / "documents.jsonl").open(encoding="utf-8")]
            by_id = {d.id: d for d in documents}
            chunks = []
            for line in (directory / "chunks.jsonl").open(encoding="utf-8"):
                document_id, start, end = json.loads(line)
                chunks.append(Chunk(document_id, start, end, by_id[document_id].text[start:end]))
            faiss_index = faiss.read_index(str(directory / "vectors.faiss"))
            bm25 = BM25.load(directory / BM25_DIR)
        except OSError as err:
            raise IndexLoadError(f"{label} is damaged: unreadable file ({err.strerror}); rebuild it") from None
        except (ValueError, KeyError, TypeError, RuntimeError) as err:  # checksums matched: written so by a bug
            raise IndexLoadError(f"{label} is damaged: {type(err).__name__} while reading it; rebuild it") from None
        if faiss_index.ntotal != len(chunks) or faiss_index.d != embedder.dimension or bm25.n != len(chunks):
            raise IndexLoadError(f"{label} is damaged: {faiss_index.ntotal} vectors and {bm25.n} BM25 entries "
                                 f"for {len(chunks)} chunks")
        LOG.info("loaded index %s: %d documents, %d chunks", version, len(documents), len(chunks))
        return cls(documents, chunks, faiss_index, embedder, manifest, bm25)

    @property
    def version(self) -> str | None:
        return self.manifest.get("version")

    # -- querying -------------------------------------------------------------------------
    def document(self, document_id: str) -> Document | None:
        return self.documents.get(document_id)

    def search(self, question: str, k: int = 8, candidates: int = 50, dense_weight: float = 1.0,
               sparse_weight: float = 1.0) -> list[Passage]:
        """Hybrid retrieval: weighted reciprocal-rank fusion of dense and BM25 rankings.

        `score` is the fused score divided by its maximum (ranked first by both), so in 0..1.
        A weight of 0 turns one retriever off (used to measure each alone).
        """
        if not self.chunks:
            return []
        depth = min(max(candidates, k), len(self.chunks))
        dense, sparse = [], []
        similarity: dict[int, float] = {}
        query = None
        if dense_weight > 0:
            query = self.embedder.encode([question])
            scores, dense_ids = self.faiss_index.search(query, depth)
            dense = [int(i) for i in dense_ids[0] if i >= 0]
            similarity = {int(i): float(s) for i, s in zip(dense_ids[0], scores[0]) if i >= 0}
        if sparse_weight > 0:
            sparse = [i for i, _ in self.bm25.top(question, depth)]
        fused: dict[int, float] = defaultdict(float)
        dense_rank = {chunk: rank for rank, chunk in enumerate(dense)}
        sparse_rank = {chunk: rank for rank, chunk in enumerate(sparse)}
        for chunk, rank in dense_rank.items():
            fused[chunk] += dense_weight / (RRF_K + rank + 1)
        for chunk, rank in sparse_rank.items():
            fused[chunk] += sparse_weight / (RRF_K + rank + 1)
        best = (dense_weight + sparse_weight) / (RRF_K + 1)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        unscored = [chunk for chunk, _ in ranked if chunk not in similarity]
        if query is not None and unscored:  # found by BM25 alone: its cosine still informs the reader's confidence
            vectors = np.stack([self.faiss_index.reconstruct(chunk) for chunk in unscored])
            similarity.update(zip(unscored, (vectors @ query[0]).tolist()))
        passages = []
        for chunk_id, score in ranked:
            chunk = self.chunks[chunk_id]
            passages.append(Passage(
                chunk_id=chunk_id, document_id=chunk.document_id, title=self.documents[chunk.document_id].title,
                start=chunk.start, end=chunk.end, text=chunk.text, score=round(score / best, 4),
                dense_rank=dense_rank.get(chunk_id), sparse_rank=sparse_rank.get(chunk_id),
                dense_score=similarity.get(chunk_id),
            ))
        return passages


@contextmanager
def build_lock(index_dir: str | Path):
    """Only one build at a time per index directory."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgressError(f"another build is running on {index_dir}") from None
        yield


def remove_stale_partials(index_dir: str | Path) -> list[str]:
    """Delete what killed builds left behind: `.v*.partial` folders and `.CURRENT.tmp`.

    Call only under `build_lock`: then no build is running, so nothing deleted is in use.
    """
    removed = []
    for path in sorted(Path(index_dir).glob(".v*.partial")) + sorted(Path(index_dir).glob(".CURRENT.tmp")):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    if removed:
        LOG.warning("removed what an interrupted build left: %s", ", ".join(removed))
    return removed


@dataclass(frozen=True)
class BuildSummary:
    documents: int
    chunks: int
    embedded_chunks: int
    seconds: float
    version_dir: Path


def rebuild_index(article_paths: list[str | Path], index_dir: str | Path, embedder: Embedder,
                  max_words: int = 100, overlap_sentences: int = 1, progress: bool = False) -> BuildSummary:
    """Read articles, build a new index beside the current one and swap it in.

    Embeddings of unchanged chunks are taken from the current index (incremental).
    Any error (a malformed article, a full disk) leaves the current index serving.
    """
    from qa.documents import load_articles

    started = time.time()
    with build_lock(index_dir):
        remove_stale_partials(index_dir)
        documents = load_articles(list(article_paths))
        if not documents:
            raise ValueError(f"no articles found in {', '.join(map(str, article_paths))}")
        previous = None
        if NewsIndex.current_version(index_dir) is not None:
            try:
                previous = NewsIndex.load(index_dir, embedder)
            except IndexLoadError as err:
                LOG.warning("previous index not reused: %s", err)
        index = NewsIndex.build(documents, embedder, max_words, overlap_sentences, previous=previous,
                                progress=progress)
        version_dir = index.save(index_dir)
    return BuildSummary(len(documents), len(index.chunks), index.manifest["embedded_chunks"],
                        round(time.time() - started, 2), version_dir)
