#!/usr/bin/env python
"""`/ask`'s code path with each embedder back end, in one session: the sample article indexed
afresh, 80 questions (the sample's and the news set's report half) asked one after the other
through `Assistant.ask`, and the question's embedding timed alone.

    python scripts/benchmark_embedder_latency.py onnx torch onnx torch   # alternate, on a quiet machine

Prints p50 / p95 of `ask` and p50 of embedding one question, per run.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.index import NewsIndex  # noqa: E402
from qa.ingestion import load_articles  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.reader import ExtractiveReader  # noqa: E402

SAMPLE = PROJECT_ROOT / "index" / "articles"
QUESTION_FILES = (PROJECT_ROOT / "docs" / "sample-questions.json",
                  PROJECT_ROOT / "docs" / "news-questions" / "bbc-news-questions-report.json")


def questions(limit: int = 80) -> list[str]:
    found = []
    for path in QUESTION_FILES:
        data = json.loads(path.read_text())["data"]
        found += [q["question"] for article in data for p in article["paragraphs"] for q in p["qas"]]
    return found[:limit]


def run(backend: str, asked: list[str]) -> str:
    settings = Settings(embedding_backend=backend)
    embedder = Embedder.from_settings(settings)
    index = NewsIndex.build(load_articles([SAMPLE]), embedder)
    assistant = Assistant.from_settings(index, ExtractiveReader(settings.reader_model, threads=settings.threads),
                                        settings)
    for question in asked[:5]:  # warm
        assistant.ask(question)
    took, encoding = [], []
    for question in asked:
        began = time.perf_counter()
        embedder.encode([question])
        encoding.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        assistant.ask(question)
        took.append((time.perf_counter() - began) * 1000)
    took.sort()
    return (f"{backend}: ask p50 {statistics.median(took):.0f} ms, p95 {took[int(0.95 * len(took))]:.0f} ms; "
            f"embedding one question p50 {statistics.median(encoding):.1f} ms")


def main(argv: list[str]) -> int:
    asked = questions()
    for backend in argv or ["onnx", "torch"]:
        print(run(backend, asked), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
