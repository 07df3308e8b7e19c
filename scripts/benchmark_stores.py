#!/usr/bin/env python
"""The FAISS store against Milvus Lite on the same archive: write, open, search, add, delete.

    python scripts/benchmark_stores.py --articles 20000

The archive is the 2,225 BBC articles replicated to `--articles` (real text, synthetic
dates and sources, vectors derived from the real ones as in `scripts/benchmark_scale.py`),
written to both stores as the same `ChangeSet`. Embedding is left out of the write times:
both stores receive the same vectors, so it would add the same minutes to each. Milvus
Lite is Milvus embedded in this process from a local file, not a cluster: these are
single-machine numbers and say nothing about a cluster's throughput.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import Settings  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.stores import folder_backend  # noqa: E402
from qa.stores.base import ChangeSet  # noqa: E402
from qa.stores.milvus import MilvusBackend  # noqa: E402
from qa.sync import embedding_info  # noqa: E402
from qa.types import Filters  # noqa: E402
from scripts.benchmark_scale import CHUNKING, QUESTIONS, base_vectors, scaled_archive, timed  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "scale" / "stores.json")
    args = parser.parse_args(argv)
    settings = Settings()
    embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name)
    base = base_vectors()
    archive = scaled_archive(args.articles * 6, base)[:args.articles]  # BBC articles average 4.7 chunks
    changes = ChangeSet(upserts=archive, replace_all=True,
                        settings={"embedding_model": embedding_info(embedder), "chunking": CHUNKING})
    extra = archive[:100]
    queries = embedder.encode(QUESTIONS)
    report: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "articles": len(archive), "chunks": sum(len(a.chunks) for a in archive),
                    "note": "embedding excluded (the same vectors go to both stores); Milvus Lite, not a cluster",
                    "stores": {}}
    filters = {"none": None, "section": Filters(sections=("politics",)),
               "month": Filters(date_from="2005-03-01", date_to="2005-03-31")}
    with tempfile.TemporaryDirectory(prefix="newsqa-stores-") as tmp:
        for name, backend in (("faiss", folder_backend(Path(tmp) / "faiss")),
                              ("milvus-lite", MilvusBackend(str(Path(tmp) / "milvus.db"), "bench"))):
            row: dict = {}
            started = time.perf_counter()
            backend.write(changes)
            row["full_write_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            store = backend.open(embedding=embedding_info(embedder))
            row["open_s"] = round(time.perf_counter() - started, 2)
            for label, chosen in filters.items():
                row[f"search_{label}"] = timed(lambda i: store.search(QUESTIONS[i % 20], queries[i % 20], 10,
                                                                      filters=chosen), 100)
            renamed = [replace(a, document=replace(a.document, id=a.document.id + "-new")) for a in extra]
            started = time.perf_counter()
            backend.write(ChangeSet(upserts=renamed, settings=changes.settings))
            row["add_100_articles_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            backend.write(ChangeSet(deletes=[a.document.id for a in renamed], settings=changes.settings))
            row["delete_100_articles_s"] = round(time.perf_counter() - started, 2)
            store.close()
            if hasattr(backend, "close"):
                backend.close()
            report["stores"][name] = row
            print(name, row, flush=True)
            gc.collect()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
