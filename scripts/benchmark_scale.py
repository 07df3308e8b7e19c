#!/usr/bin/env python
"""Scale benchmarks: embedding throughput, FAISS by size, the store at 100k chunks, /ask with filters.

    python scripts/benchmark_scale.py embedding          # fp32 (PyTorch) against int8 (ONNX), real chunks
    python scripts/benchmark_scale.py faiss --sizes 100000 1000000
    python scripts/benchmark_scale.py store --chunks 100000
    python scripts/benchmark_scale.py all                # everything, into docs/scale/<date>.json

Data. Text is real: the 2,225 BBC articles (`../shared/corpus/`), SQuAD dev and TyDi
contexts. Embedding 1M chunks would take hours on two cores, so the 100k and 1M
collections are **synthetic vectors derived from real ones**: the BBC chunks' real
MiniLM vectors (embedded once, cached in runs/embedding-cache), each replica moved by
Gaussian noise (sigma 0.02 per dimension, then re-normalized) so no two are equal. The
replicated articles keep their real text (for BM25) and get synthetic dates spread over
2004-2005, so filters select realistic fractions. Every table row says which it is.

Run it alone: a reader training run or a test suite on the same two cores spoils the
timings. Results are printed and written as JSON (`--out`).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.chunking import chunk_document  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.ingestion import load_articles  # noqa: E402
from qa.types import Document  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.evaluation import CachingEmbedder, percentile  # noqa: E402
from qa.index import NewsIndex  # noqa: E402
from qa.stores import folder_backend  # noqa: E402
from qa.stores.base import ChangeSet, DocumentChunks, document_fingerprint, passage_input  # noqa: E402
from qa.stores.faiss import build as faiss_build  # noqa: E402  (this benchmark measures the FAISS index kinds)
from qa.stores.faiss.build import build_faiss  # noqa: E402
from qa.sync import embedding_info, sync_index  # noqa: E402
from qa.types import Filters  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
CACHE = PROJECT_ROOT / "runs" / "embedding-cache"
CHUNKING = {"max_words": 100, "overlap_sentences": 1}
NOISE = 0.02
QUESTIONS = [
    "Who won the election?", "What did the chancellor say about the budget?", "Which film won the award?",
    "How much did the company's profits rise?", "Who was injured before the match?", "What is the new mobile phone?",
    "Why did the shares fall?", "Who will play in the final?", "What did the minister announce?",
    "Which band topped the charts?", "How many jobs will be cut?", "Who is the new coach?",
    "What did the report say about broadband?", "When will the trial start?", "Which country did they visit?",
    "What did the court rule?", "Who criticised the plan?", "How many people watched the show?",
    "What was the price of oil?", "Who resigned from the party?",
]


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of this process, or of process `pid` (Linux)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def anon_rss_mb() -> float:
    """Resident memory that is not a file mapping: what the process really holds (mmap'd BM25
    matrices and the page cache of SQLite are file-backed and can be dropped by the kernel)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn, repeat: int) -> dict:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2), "n": repeat}


def bbc_documents() -> list[Document]:
    return load_articles([SHARED / "corpus" / "bbc-news-2004-2005.jsonl"])


def real_chunk_texts(limit: int) -> list[str]:
    """Chunk inputs of real text: BBC articles, then SQuAD dev and TyDi contexts."""
    texts = []
    for document in bbc_documents():
        texts += [passage_input(document.title, c.text) for c in chunk_document(document, **CHUNKING)]
    from qa.squad import load_squad

    for name in ("squad-dev-v1.1.json", "tydiqa-en-train.json"):
        path = SHARED / "data" / "qa" / name
        if len(texts) >= limit or not path.exists():
            continue
        articles, _ = load_squad(path)
        texts += [p for a in articles for p in a.paragraphs]
    return texts[:limit]


# -- embedding ------------------------------------------------------------------------------------
def bench_embedding(args) -> dict:
    settings = Settings()
    texts = real_chunk_texts(args.embed_chunks)
    report = {"chunks": len(texts), "text": "real (BBC chunks, SQuAD dev and TyDi contexts)", "backends": {}}
    for backend, count in (("onnx", len(texts)), ("torch", min(len(texts), args.fp32_chunks))):
        embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name, backend=backend)
        embedder.encode(texts[:64])  # warm
        for batch in (32, 64, 128) if backend == "onnx" else (64,):
            subset = texts[:count] if batch == 64 else texts[:min(count, 2000)]
            started = time.perf_counter()
            embedder.encode(subset, batch_size=batch)
            seconds = time.perf_counter() - started
            report["backends"][f"{backend}-batch{batch}"] = {
                "chunks": len(subset), "seconds": round(seconds, 1), "chunks_per_s": round(len(subset) / seconds, 1)}
            print(backend, batch, report["backends"][f"{backend}-batch{batch}"], flush=True)
        del embedder
        gc.collect()
    return report


# -- FAISS alone ----------------------------------------------------------------------------------
def base_vectors() -> np.ndarray:
    """The real vectors of the BBC chunks (fp32 MiniLM), embedded once and cached."""
    settings = Settings()
    embedder = CachingEmbedder(Embedder(settings.embedding_model_path(), settings.embedding_model_name), CACHE)
    texts = [passage_input(d.title, c.text) for d in bbc_documents() for c in chunk_document(d, **CHUNKING)]
    vectors = embedder.encode(texts, progress=True)
    embedder.save()
    return vectors


def synthetic(base: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """`size` vectors: replicas of `base`, each moved by Gaussian noise and re-normalized."""
    rng = np.random.default_rng(seed)
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        block = base[np.arange(start, stop) % len(base)] + rng.normal(0, NOISE, (stop - start, base.shape[1]))
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_faiss(args, base: np.ndarray, queries: np.ndarray) -> dict:
    import faiss

    report = {"vectors": f"synthetic: real BBC chunk vectors + N(0, {NOISE}) noise, re-normalized", "sizes": {}}
    for size in args.sizes:
        vectors = synthetic(base, size)
        ids = np.arange(size, dtype=np.int64)
        row: dict = {}
        exact_scores = queries @ vectors.T
        truth = np.argpartition(-exact_scores, 10, axis=1)[:, :10]  # the exact top 10 (order does not matter)
        del exact_scores
        for kind in ("flat", "ivf-fp16"):
            started = time.perf_counter()
            index = build_faiss(vectors, ids, kind)
            build_s = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as tmp:
                path = f"{tmp}/v.faiss"
                faiss.write_index(index, path)
                file_bytes = os.path.getsize(path)
                started = time.perf_counter()
                faiss.read_index(path)
                load_s = time.perf_counter() - started
            entry = {"build_s": round(build_s, 1), "load_s": round(load_s, 2),
                     "bytes_per_vector": round(file_bytes / size, 1), "search": {}}
            nlist = faiss.downcast_index(index).nlist if kind != "flat" else 0
            probes = (None,) if kind == "flat" else sorted({16, 48, 128, nlist // 4, faiss_build.ivf_nprobe(nlist)})
            for nprobe in probes:
                ivf = faiss.downcast_index(index)
                if nprobe is not None:
                    ivf.nprobe = nprobe
                found = index.search(queries, 10)[1]
                recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
                latency = timed(lambda i: index.search(queries[i % len(queries)][None], 50), 200)
                entry["search"][f"nprobe={nprobe}" if nprobe else "exact"] = {"recall_at_10": round(recall, 4),
                                                                            **latency}
                print(size, kind, nprobe, entry["search"][f"nprobe={nprobe}" if nprobe else "exact"], flush=True)
            if kind != "flat":
                entry["nlist"], entry["nprobe_used"] = nlist, faiss_build.ivf_nprobe(nlist)
            row[kind] = entry
            del index
            gc.collect()
        report["sizes"][str(size)] = row
        del vectors
        gc.collect()
    return report


# -- the whole store at scale -------------------------------------------------------------------------
def scaled_archive(size_chunks: int, base: np.ndarray) -> list[DocumentChunks]:
    """BBC articles replicated (ids suffixed, synthetic dates) up to about `size_chunks` chunks,
    with their real vectors moved by noise (see the module docstring)."""
    documents = bbc_documents()
    chunked = [(d, chunk_document(d, **CHUNKING)) for d in documents]
    rng = np.random.default_rng(1)
    prepared, offset, replica = [], 0, 0
    base_offsets = np.cumsum([0] + [len(c) for _, c in chunked])
    total = 0
    while total < size_chunks:
        for position, (document, chunks) in enumerate(chunked):
            if total >= size_chunks:
                break
            day = np.datetime64("2004-01-01") + int(rng.integers(0, 730))
            copy = replace(document, id=f"{document.id}-r{replica}", published=str(day), source=f"Desk {replica % 4}")
            vectors = base[base_offsets[position]:base_offsets[position + 1]]
            vectors = vectors + rng.normal(0, NOISE, vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            prepared.append(DocumentChunks(copy, chunks, vectors.astype(np.float32),
                                           document_fingerprint(copy, CHUNKING)))
            total += len(chunks)
        replica += 1
    del offset
    return prepared


def bench_store(args, base: np.ndarray, embedder: Embedder) -> dict:
    from qa.pipeline import Assistant
    from qa.reader import ExtractiveReader

    report: dict = {"vectors": f"synthetic: real BBC chunk vectors + N(0, {NOISE}) noise; real text; synthetic dates"}
    with tempfile.TemporaryDirectory(prefix="newsqa-scale-") as tmp:
        backend = folder_backend(tmp)
        archive = scaled_archive(args.chunks, base)
        index_settings = {"embedding_model": embedding_info(embedder), "chunking": CHUNKING}
        started = time.perf_counter()
        backend.write(ChangeSet(upserts=archive, replace_all=True, settings=index_settings))
        chunks = sum(len(a.chunks) for a in archive)
        report["full_write"] = {"documents": len(archive), "chunks": chunks,
                                "seconds_without_embedding": round(time.perf_counter() - started, 1)}
        del archive
        gc.collect()
        print(report["full_write"], flush=True)

        rss_before, anon_before = rss_mb(), anon_rss_mb()
        started = time.perf_counter()
        index = NewsIndex.open(backend, embedder)
        report["load"] = {"seconds": round(time.perf_counter() - started, 2),
                          "rss_mb": round(rss_mb() - rss_before, 1), "anon_rss_mb": round(anon_rss_mb() - anon_before, 1),
                          "faiss_index": index.manifest["faiss_index"]}
        queries = embedder.encode(QUESTIONS)
        store = index.store
        filters = {"none": None, "section=politics": Filters(sections=("politics",)),
                   "one month": Filters(date_from="2005-03-01", date_to="2005-03-31"),
                   "section+month": Filters(sections=("tech",), date_from="2005-03-01", date_to="2005-03-31")}
        report["search"] = {}
        for name, chosen in filters.items():
            report["search"][name] = timed(lambda i: store.search(QUESTIONS[i % 20], queries[i % 20], 10,
                                                                  filters=chosen), 100)
        report["load"]["rss_mb_after_searches"] = round(rss_mb() - rss_before, 1)
        # Beyond the text (which stays in SQLite on disk): what the process holds privately, and
        # everything resident including the memory-mapped vectors and BM25 pages searches touched.
        report["load"]["anon_bytes_per_chunk"] = round((anon_rss_mb() - anon_before) * 2**20 / chunks, 1)
        report["load"]["resident_bytes_per_chunk"] = round((rss_mb() - rss_before) * 2**20 / chunks, 1)
        [segment] = index.store.segments  # a full write makes one segment
        report["load"]["file_bytes_per_chunk"] = {
            "vectors.faiss": round((segment.folder / "vectors.faiss").stat().st_size / chunks, 1),
            "postings": round(folder_bytes(segment.folder / "postings") / chunks, 1),
            "documents.sqlite3 (text included)": round((segment.folder / "documents.sqlite3").stat().st_size / chunks,
                                                       1)}
        print(report["load"], report["search"], flush=True)

        reader = ExtractiveReader()
        assistant = Assistant.from_settings(index, reader, Settings())
        assistant.ask(QUESTIONS[0])
        report["ask"] = {name: timed(lambda i: assistant.ask(QUESTIONS[i % 20], filters=chosen), 40)
                         for name, chosen in filters.items()}
        print(report["ask"], flush=True)
        del assistant, index, store
        gc.collect()

        # 100 new real articles (SQuAD train paragraphs: text the archive does not hold), embedded for real
        from qa.squad import load_squad

        articles, _ = load_squad(SHARED / "data" / "qa" / "squad-train-v1.1.json")
        new = [Document(f"new-{i}", a.title.replace("_", " "), "\n\n".join(a.paragraphs[:4]), published="2005-06-01")
               for i, a in enumerate(articles[:100])]
        def timed_write(**change) -> dict:
            """One sync: its seconds, the embedding's share and the disk the new version added."""
            disk_before = folder_bytes(Path(tmp))
            started = time.perf_counter()
            summary = sync_index(backend, embedder, **change)
            seconds = time.perf_counter() - started
            embedding = summary.stages.get("embed", 0.0)
            return {"seconds": round(seconds, 2), "embedding_seconds": round(embedding, 2),
                    "beyond_embedding_seconds": round(seconds - embedding, 2),
                    "embedded_chunks": summary.embedded_chunks, "chunks_after": summary.chunks,
                    "disk_added_mb": round((folder_bytes(Path(tmp)) - disk_before) / 2**20, 1),
                    "segments": len(backend.manifest(summary.version)["segments"]), "embedder": embedder.backend}

        report["add_100_articles"] = timed_write(upserts=new)
        report["delete_100_articles"] = timed_write(deletes=[d.id for d in new])
        # News-length articles too: 100 BBC texts (about 380 words each) under new ids, embedded anew.
        news = [replace(d, id=f"news-{i}", published="2005-06-02") for i, d in enumerate(bbc_documents()[::22][:100])]
        report["add_100_news_articles"] = timed_write(upserts=news)
        # One article, as the browser's add form writes it (`qa.ingestion.adding` calls the same sync).
        one = replace(bbc_documents()[7], id="one-more", published="2005-06-03")
        report["add_1_article"] = timed_write(upserts=[one])
        for name in ("add_100_articles", "delete_100_articles", "add_100_news_articles", "add_1_article"):
            print(name, report[name], flush=True)

        # Searching after the writes: several segments and deleted articles.
        index = NewsIndex.open(backend, embedder)
        store = index.store
        report["search_after_writes"] = {
            "segments": len(store.segments), "deleted_documents": index.manifest["deleted_documents"],
            **{name: timed(lambda i: store.search(QUESTIONS[i % 20], queries[i % 20], 10, filters=chosen), 100)
               for name, chosen in filters.items()}}
        print(report["search_after_writes"], flush=True)
    return report


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["embedding", "faiss", "store", "all"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunks", type=int, default=100_000, help="store benchmark size")
    parser.add_argument("--embed-chunks", type=int, default=10_000)
    parser.add_argument("--fp32-chunks", type=int, default=2_000, help="fp32 is slow: time it on fewer chunks")
    parser.add_argument("--embedding-backend", choices=["torch", "onnx"], default="onnx",
                        help="embedder for questions and new articles in the store benchmark")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "faiss_thresholds": {"exact_search_limit": faiss_build.EXACT_SEARCH_LIMIT,
                                         "ivf_nprobe": "half of sqrt(n) lists"}}
    if args.what in ("embedding", "all"):
        report["embedding"] = bench_embedding(args)
    if args.what in ("faiss", "store", "all"):
        base = base_vectors()
        settings = Settings()
        if args.what in ("faiss", "all"):
            questions = Embedder(settings.embedding_model_path(), settings.embedding_model_name).encode(QUESTIONS * 5)
            report["faiss"] = bench_faiss(args, base, synthetic(questions, len(questions), seed=5))
        if args.what in ("store", "all"):
            embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name,
                                backend=args.embedding_backend)
            # the synthetic vectors are fp32-derived; the index records the chosen embedder
            report["store"] = bench_store(args, base, embedder)
    out = args.out or PROJECT_ROOT / "docs" / "scale" / f"{report['date']}-{args.what}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
