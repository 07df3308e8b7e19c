"""The retrieval index: dense (FAISS over sentence-transformers) and BM25, fused.

`NewsIndex` is the one facade: `build` (chunk, embed, index), `save` (atomic,
versioned), `load` (validated against its manifest), `search` (hybrid retrieval)
and `document`. On disk an index directory holds versions and a `CURRENT` file
naming the live one:

    index_dir/CURRENT             -> "v20261125-143000-123456"
    index_dir/v20261125-.../manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss

`save` writes a new version beside the old one and then replaces `CURRENT` in one
`os.replace`, so readers see either the old or the new index, never half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.chunking import Chunk, chunk_document
from qa.documents import Document

LOG = logging.getLogger(__name__)
FORMAT_VERSION = 1
EXACT_SEARCH_LIMIT = 50_000  # above this many chunks, an HNSW graph replaces exact search
RRF_K = 60


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

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in {"dense_rank", "sparse_rank", "chunk_id"}}


class Embedder:
    """A sentence-transformers model, loaded once, that embeds texts into unit vectors."""

    def __init__(self, model_path: str | Path, name: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.path = Path(model_path)
        self.name = name or self.path.name
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                             else self.model.get_sentence_embedding_dimension())
        config = self.path / "config.json"
        weights = sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin"))
        identity = (config.read_text() if config.exists() else self.name) + "".join(
            f"{w.name}:{w.stat().st_size}" for w in weights
        )
        self.fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:16]

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that "
    "these those there their they them he she his her him we our you your i me my who whom whose what which "
    "when where why how do does did done has have had not no so than then too very can could would should "
    "will shall may might must into about over after before up down out off s".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stop words, for BM25."""
    return [t for t in _TOKEN.findall(text.lower().replace("’", "'")) if t not in _STOPWORDS]


class BM25:
    """Okapi BM25 over a fixed list of texts, with an in-memory inverted index."""

    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(texts)
        lengths = np.zeros(self.n, dtype=np.float32)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths[i] = sum(counts.values())
            for term, tf in counts.items():
                postings[term].append((i, tf))
        average = float(lengths.mean()) if self.n else 1.0
        norm = k1 * (1 - b + b * lengths / max(average, 1e-9))
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, entries in postings.items():
            ids = np.fromiter((e[0] for e in entries), dtype=np.int64, count=len(entries))
            tf = np.fromiter((e[1] for e in entries), dtype=np.float32, count=len(entries))
            idf = math.log(1 + (self.n - len(entries) + 0.5) / (len(entries) + 0.5))
            self.postings[term] = (ids, (idf * tf * (k1 + 1) / (tf + norm[ids])).astype(np.float32))

    def scores(self, query: str) -> np.ndarray:
        scores = np.zeros(self.n, dtype=np.float32)
        for term in set(tokenize(query)):
            if term in self.postings:
                ids, weights = self.postings[term]
                scores[ids] += weights
        return scores

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.scores(query)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]


def corpus_fingerprint(documents: list[Document]) -> str:
    digest = hashlib.sha256()
    for document in sorted(documents, key=lambda d: d.id):
        digest.update(f"{document.id}\0{document.title}\0{document.text}\0".encode())
    return digest.hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
                 embedder: Embedder, manifest: dict) -> None:
        self.documents = {d.id: d for d in documents}
        self.chunks = chunks
        self.faiss_index = faiss_index
        self.embedder = embedder
        self.manifest = manifest
        if isinstance(faiss_index, faiss.IndexHNSWFlat):
            faiss_index.hnsw.efSearch = 128
        self.bm25 = BM25([_passage_input(self.documents[c.document_id].title, c.text) for c in chunks])

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
        """Write a new version and make it current atomically; returns the version directory."""
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        version = "v" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}"
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
            files = {name: _file_sha256(staging / name) for name in ("documents.jsonl", "chunks.jsonl", "vectors.faiss")}
            manifest = {**self.manifest, "version": version, "files": files}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            os.replace(staging, index_dir / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        pointer = index_dir / ".CURRENT.tmp"
        pointer.write_text(version + "\n")
        os.replace(pointer, index_dir / "CURRENT")
        self.manifest = manifest
        versions = sorted(p for p in index_dir.glob("v*") if p.is_dir() and p.name != version)
        for old in versions[: max(0, len(versions) - keep_previous)]:
            shutil.rmtree(old, ignore_errors=True)
        return index_dir / version

    @staticmethod
    def current_version(index_dir: str | Path) -> str | None:
        pointer = Path(index_dir) / "CURRENT"
        try:
            return pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    @classmethod
    def load(cls, index_dir: str | Path, embedder: Embedder) -> NewsIndex:
        """Load the current version, checking files, checksums and the embedding model."""
        index_dir = Path(index_dir)
        version = cls.current_version(index_dir)
        if version is None:
            raise IndexLoadError(f"no index in {index_dir}: build one with `python scripts/build_index.py "
                                 f"--index-dir {index_dir}`")
        directory = index_dir / version
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise IndexLoadError(f"index {directory} is damaged: unreadable manifest ({err}); rebuild it") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"index {directory} has format {manifest.get('format')}, expected {FORMAT_VERSION}; "
                                 "rebuild it")
        model = manifest.get("embedding_model", {})
        if model.get("fingerprint") != embedder.fingerprint or model.get("dimension") != embedder.dimension:
            raise IndexLoadError(
                f"index {directory} was built with embedding model {model.get('name')!r} "
                f"(dimension {model.get('dimension')}), but the configured model is {embedder.name!r} "
                f"(dimension {embedder.dimension}); rebuild the index or configure the same model"
            )
        for name, checksum in manifest.get("files", {}).items():
            path = directory / name
            if not path.exists() or _file_sha256(path) != checksum:
                raise IndexLoadError(f"index {directory} is damaged: {name} is missing or altered; rebuild it")
        documents = [Document(**json.loads(line)) for line in (directory / "documents.jsonl").open(encoding="utf-8")]
        by_id = {d.id: d for d in documents}
        chunks = []
        for line in (directory / "chunks.jsonl").open(encoding="utf-8"):
            document_id, start, end = json.loads(line)
            chunks.append(Chunk(document_id, start, end, by_id[document_id].text[start:end]))
        faiss_index = faiss.read_index(str(directory / "vectors.faiss"))
        if faiss_index.ntotal != len(chunks) or faiss_index.d != embedder.dimension:
            raise IndexLoadError(f"index {directory} is damaged: {faiss_index.ntotal} vectors for {len(chunks)} chunks")
        LOG.info("loaded index %s: %d documents, %d chunks", version, len(documents), len(chunks))
        return cls(documents, chunks, faiss_index, embedder, manifest)

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
        if dense_weight > 0:
            _, dense_ids = self.faiss_index.search(self.embedder.encode([question]), depth)
            dense = [int(i) for i in dense_ids[0] if i >= 0]
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
        passages = []
        for chunk_id, score in ranked:
            chunk = self.chunks[chunk_id]
            passages.append(Passage(
                chunk_id=chunk_id, document_id=chunk.document_id, title=self.documents[chunk.document_id].title,
                start=chunk.start, end=chunk.end, text=chunk.text, score=round(score / best, 4),
                dense_rank=dense_rank.get(chunk_id), sparse_rank=sparse_rank.get(chunk_id),
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
