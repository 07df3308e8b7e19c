#!/usr/bin/env python
"""The peer, side by side: Haystack 2.x running this project's reader weights over the same
crowded archives and questions as `newsqa evaluate --mode pipeline --crowd`.

Haystack is not a dependency of this project; run this script from an environment that has it
and this project importable (docs/evaluation.md#the-peer-side-by-side shows one way):

    python scripts/peer_haystack.py ../shared/data/qa/squad-dev-v1.1.json --limit 1000 \\
        docs/news-questions/bbc-news-questions-report.json --shared-dir ../shared --out docs/eval/peer

The peer is set up as issue #18 describes it: `DocumentSplitter(split_by="word",
split_length=150, split_overlap=30)`; `InMemoryBM25Retriever(top_k=10)` and
`InMemoryEmbeddingRetriever(top_k=10)` on the same all-MiniLM-L6-v2 (local weights),
joined by `DocumentJoiner(join_mode="reciprocal_rank_fusion")`; `ExtractiveReader` with the
shipped reader's weights saved as fp32 transformers, `top_k=3`, its defaults otherwise; always
answering (the best answer with text). One document store holds every file's archive: the
crowd (the BBC archive and SQuAD train articles, as `crowd_documents` picks them) and each
file's own articles, tagged with the file they come from, and a question searches only its
own file's articles among the crowd (a metadata filter), so each file meets exactly the
archive `newsqa evaluate --crowd` builds for it. The crowd is embedded once.

`--build-only PATH`: time only the peer's build (split, embed, write) of the articles at PATH,
read as `newsqa build` reads them, for the side-by-side build (docs/scale.md#where-a-builds-time-goes).

Scored with this project's metrics (token F1, exact match, "right" at F1 >= 0.5, the same
accepted answers), on the same seeded question sample (`qa.evaluation.sample`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.evaluation import CORRECT_F1, ByCoverage, crowd_documents, documents_from_squad, percentile, sample, with_crowd  # noqa: E402
from qa.squad import best_over_truths, exact_match, f1_score, load_squad  # noqa: E402

CROWD = "crowd"


def fp32_reader(reader_dir: Path, target: Path) -> Path:
    """The shipped reader's weights as an fp32 transformers model (the peer loads transformers models)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    if not (target / "config.json").exists():
        model = AutoModelForQuestionAnswering.from_pretrained(str(reader_dir), dtype=torch.float32)
        model.save_pretrained(str(target))
        AutoTokenizer.from_pretrained(str(reader_dir)).save_pretrained(str(target))
    return target


def haystack_documents(files: list[tuple[Path, list, list]], shared_dir: Path):
    """Every file's archive in one list of Haystack documents, each tagged with the file it belongs to."""
    from haystack import Document as HaystackDocument

    crowd = crowd_documents(shared_dir)
    crowd_ids = {d.id for d in crowd}
    tagged = [(d, CROWD) for d in crowd]
    for path, articles, _ in files:
        own = [d for d in with_crowd(documents_from_squad(articles), crowd) if d.id not in crowd_ids]
        tagged += [(d, path.name) for d in own]
    return [HaystackDocument(id=d.id, content=d.text, meta={"title": d.title, "origin": origin})
            for d, origin in tagged]


def build(documents, embedding_model: Path, reader_model: Path):
    from haystack import Pipeline
    from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.readers import ExtractiveReader
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.document_stores.types import DuplicatePolicy

    store = InMemoryDocumentStore()
    started = time.time()
    splitter = DocumentSplitter(split_by="word", split_length=150, split_overlap=30)
    chunks = splitter.run(documents=documents)["documents"]
    embedder = SentenceTransformersDocumentEmbedder(model=str(embedding_model), local_files_only=True,
                                                    progress_bar=True)
    embedder.warm_up()
    store.write_documents(embedder.run(documents=chunks)["documents"], policy=DuplicatePolicy.SKIP)
    build_seconds = time.time() - started

    pipeline = Pipeline()
    pipeline.add_component("text_embedder", SentenceTransformersTextEmbedder(model=str(embedding_model),
                                                                             local_files_only=True,
                                                                             progress_bar=False))
    pipeline.add_component("bm25", InMemoryBM25Retriever(document_store=store, top_k=10))
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(document_store=store, top_k=10))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion"))
    pipeline.add_component("reader", ExtractiveReader(model=str(reader_model), top_k=3))
    pipeline.connect("text_embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25", "joiner")
    pipeline.connect("dense", "joiner")
    pipeline.connect("joiner", "reader")
    pipeline.warm_up()
    return pipeline, len(chunks), build_seconds


def ask(pipeline, question: str, origin: str) -> tuple[str, float]:
    filters = {"field": "meta.origin", "operator": "in", "value": [CROWD, origin]}
    began = time.perf_counter()
    result = pipeline.run({"text_embedder": {"text": question}, "bm25": {"query": question, "filters": filters},
                           "dense": {"filters": filters}, "reader": {"query": question}})
    took = (time.perf_counter() - began) * 1000
    answers = [a for a in result["reader"]["answers"] if a.data]  # always answering: the best with text
    return (answers[0].data if answers else ""), took


def score(pipeline, path: Path, examples) -> dict:
    rows, latencies = [], []
    by_coverage = ByCoverage()  # F1 per coverage bucket, as `newsqa evaluate` reports it
    for number, example in enumerate(examples):
        answer, took = ask(pipeline, example.question, path.name)
        latencies.append(took)
        truths = () if example.is_impossible else example.accepted
        by_coverage.add(example, forced_top1_f1=best_over_truths(f1_score, answer, truths) if truths else 0.0)
        rows.append({"id": example.id, "answer": answer, "impossible": example.is_impossible,
                     "f1": best_over_truths(f1_score, answer, truths) if truths else 0.0,
                     "em": best_over_truths(exact_match, answer, truths) if truths else 0.0})
        if number % 50 == 0:
            print(f"{path.name}: {number}/{len(examples)}", flush=True)
    answerable = [r for r in rows if not r["impossible"]]
    return {"questions": len(rows), "answerable": len(answerable),
            "top1_f1": round(100 * statistics.fmean(r["f1"] for r in answerable), 2),
            "top1_exact_match": round(100 * statistics.fmean(r["em"] for r in answerable), 2),
            "right_at_top": round(100 * statistics.fmean(r["f1"] >= CORRECT_F1 for r in answerable), 2),
            **by_coverage.report(),
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1), "answers": rows}


def build_only(path: Path, embedding_model: Path) -> dict:
    """The peer's build of the articles at `path` alone: split, embed and write, timed."""
    from haystack import Document as HaystackDocument
    from haystack.components.embedders import SentenceTransformersDocumentEmbedder
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.document_stores.types import DuplicatePolicy

    from qa.ingestion import load_articles

    documents = [HaystackDocument(id=d.id, content=d.text, meta={"title": d.title}) for d in load_articles([path])]
    embedder = SentenceTransformersDocumentEmbedder(model=str(embedding_model), local_files_only=True,
                                                    progress_bar=False)
    embedder.warm_up()  # model loading is not counted, as a build's own summary does not count it
    started = time.time()
    chunks = DocumentSplitter(split_by="word", split_length=150, split_overlap=30).run(documents=documents)["documents"]
    store = InMemoryDocumentStore()
    store.write_documents(embedder.run(documents=chunks)["documents"], policy=DuplicatePolicy.SKIP)
    seconds = time.time() - started
    return {"documents": len(documents), "chunks": len(chunks), "seconds": round(seconds, 1),
            "chunks_per_s": round(len(chunks) / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="SQuAD-format question files")
    parser.add_argument("--build-only", type=Path, help="time only the peer's build of these articles")
    parser.add_argument("--limit", type=int, help="questions per file (the same seeded sample as evaluate)")
    parser.add_argument("--shared-dir", type=Path, default=PROJECT_ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "eval" / "peer")
    args = parser.parse_args(argv)
    import haystack

    settings = Settings()
    if args.build_only:
        print(json.dumps({"peer": f"haystack-ai {haystack.__version__}",
                          **build_only(args.build_only, settings.embedding_model_path())}))
        return 0
    files = [(path, *load_squad(path)) for path in args.files]
    with tempfile.TemporaryDirectory() as tmp:
        reader = fp32_reader(settings.reader_model, Path(tmp) / "reader-fp32")
        pipeline, chunks, build_seconds = build(haystack_documents(files, args.shared_dir),
                                                settings.embedding_model_path(), reader)
        args.out.mkdir(parents=True, exist_ok=True)
        for path, _, examples in files:
            chosen = sample(examples, args.limit)
            report = {"peer": f"haystack-ai {haystack.__version__}", "file": path.name, "chunks_all_files": chunks,
                      "build_seconds_all_files": round(build_seconds, 1), **score(pipeline, path, chosen),
                      "date": time.strftime("%Y-%m-%d"), "machine": f"{os.uname().machine}, {os.cpu_count()} cores"}
            target = args.out / f"{path.stem}-haystack.json"
            target.write_text(json.dumps(report, indent=1) + "\n")
            print(json.dumps({k: v for k, v in report.items() if k != "answers"}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
