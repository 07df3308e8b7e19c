#!/usr/bin/env python
"""Benchmarks: index build time and `/ask` latency over real HTTP.

    python scripts/benchmark.py [--articles 1000] [--questions 200] [--out docs/benchmarks.json]

1. Builds the sample corpus index.
2. Builds an index of N generated news-length articles (consecutive paragraphs of
   SQuAD v1.1 train articles, about 500 words each, written as one .jsonl file),
   then rebuilds it after changing 1% of the articles (incremental embedding).
3. Serves each index with uvicorn and times `POST /ask` from an HTTP client: the
   sample questions on the sample index, and questions about the generated
   articles on the large one. Reports p50/p95/mean in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from web.app import create_app, serve_in_background  # noqa: E402
from web.deps import Services  # noqa: E402
from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.evaluation import percentile  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.live import LiveIndex  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.sync import rebuild_index  # noqa: E402
from qa.reader import ExtractiveReader  # noqa: E402
from qa.squad import load_squad  # noqa: E402

SQUAD_TRAIN = PROJECT_ROOT.parent / "shared" / "data" / "qa" / "squad-train-v1.1.json"
SAMPLE_QUESTIONS = [
    "Who requested the meeting?", "How many civilians are besieged?", "Who did US officials blame for the convoy strike?",
    "When is the Security Council meeting?", "What did the Syrian government announce on Thursday?",
    "Which refugee camp did government troops seize?", "Who backs the Syrian government?",
    "What is the boiling point of liquid nitrogen?",
]


def generated_articles(path: Path, count: int, paragraphs_per_article: int = 4) -> list[tuple[str, str]]:
    """Writes `count` articles as JSONL; returns (question, article id) pairs about them."""
    articles, examples = load_squad(SQUAD_TRAIN)
    records, questions, by_paragraph = [], [], {}
    for e in examples:
        by_paragraph.setdefault((e.article_index, e.paragraph_index), []).append(e.question)
    for a_index, article in enumerate(articles):
        for p in range(0, len(article.paragraphs), paragraphs_per_article):
            if len(records) == count:
                break
            doc_id = f"{article.title.lower()}-{p // paragraphs_per_article}"
            records.append({"id": doc_id, "title": f"{article.title.replace('_', ' ')} ({p // paragraphs_per_article + 1})",
                            "text": "\n\n".join(article.paragraphs[p:p + paragraphs_per_article])})
            for q in range(p, min(p + paragraphs_per_article, len(article.paragraphs))):
                questions.extend((question, doc_id) for question in by_paragraph.get((a_index, q), []))
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return questions


def serve_and_time(services: Services, questions: list[str]) -> dict:
    latencies, server_ms = [], []
    with serve_in_background(create_app(services=services)) as url, httpx.Client(base_url=url, timeout=60) as client:
        client.post("/ask", json={"question": questions[0]})  # warm-up
        for question in questions:
            started = time.perf_counter()
            response = client.post("/ask", json={"question": question, "top_k": 3})
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            server_ms.append(response.json()["took_ms"])
    return {"requests": len(latencies), "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1), "mean_ms": round(statistics.fmean(latencies), 1),
            "server_p50_ms": round(percentile(server_ms, 0.5), 1)}


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.json")
    args = parser.parse_args(argv)

    started = time.time()
    embedder = Embedder.from_settings(settings)
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    load_seconds = time.time() - started
    report: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "reader_backend": reader.backend, "passages_read": settings.passages_to_read,
                    "model_load_seconds": round(load_seconds, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sample = rebuild_index(settings.articles, tmp / "sample-index", embedder)
        report["sample_build"] = {"documents": sample.documents, "chunks": sample.chunks, "seconds": sample.seconds}

        corpus = tmp / "generated" / "articles.jsonl"
        corpus.parent.mkdir()
        pairs = generated_articles(corpus, args.articles)
        big = rebuild_index([corpus.parent], tmp / "big-index", embedder)
        lines = corpus.read_text().splitlines()
        changed = max(1, len(lines) // 100)
        for i in range(changed):
            record = json.loads(lines[i])
            record["text"] += "\n\nUpdate: this article was revised."
            lines[i] = json.dumps(record)
        corpus.write_text("\n".join(lines) + "\n")
        again = rebuild_index([corpus.parent], tmp / "big-index", embedder)
        report["generated_build"] = {"documents": big.documents, "chunks": big.chunks, "seconds": big.seconds,
                                     "chunks_per_second": round(big.chunks / big.seconds, 1)}
        report["incremental_rebuild"] = {"changed_documents": changed, "embedded_chunks": again.embedded_chunks,
                                         "seconds": again.seconds}

        for name, index_dir, questions in (
            ("ask_sample", tmp / "sample-index", SAMPLE_QUESTIONS * (args.questions // len(SAMPLE_QUESTIONS) + 1)),
            ("ask_generated", tmp / "big-index", [q for q, _ in random.Random(0).sample(pairs, args.questions)]),
        ):
            live = LiveIndex(index_dir, embedder)
            live.load()
            services = Services(settings, embedder, live, reader,
                                Assistant.from_settings(live, reader, settings))
            report[name] = serve_and_time(services, questions[: args.questions])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
