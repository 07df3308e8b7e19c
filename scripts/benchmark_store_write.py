"""The FAISS folder store's own costs at scale, one commit against another: a full write, opening
a version, searching and a sync that deletes 100 articles.

    python scripts/benchmark_store_write.py --chunks 1000000 --out runs/store-write.json

It uses only the store's public interface (`folder_backend`, `ChangeSet`, `open`, `search`,
`sync_index`), so the same file measures an older checkout too: copy it there and run it
with that checkout's code (docs/scale.md, "The FAISS store at 1M chunks", compares the
copy-per-version store with the segments this way). The archive is `benchmark_scale.py`'s:
replicated BBC articles with synthetic vectors. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from scripts import benchmark_scale as scale  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.stores import folder_backend  # noqa: E402
from qa.stores.base import ChangeSet  # noqa: E402
from qa.sync import embedding_info, sync_index  # noqa: E402


def p50_ms(call, repeat: int = 60) -> float:
    seconds = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - started)
    return round(1000 * float(np.median(seconds)), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    embedder = Embedder(settings.embedding_model_path(), settings.embedding_model_name)
    archive = scale.scaled_archive(args.chunks, scale.base_vectors())
    report: dict = {"date": time.strftime("%Y-%m-%d"), "chunks": sum(len(a.chunks) for a in archive)}
    with tempfile.TemporaryDirectory(prefix="newsqa-store-write-") as tmp:
        backend = folder_backend(tmp)
        started = time.perf_counter()
        backend.write(ChangeSet(upserts=archive, replace_all=True,
                                settings={"embedding_model": embedding_info(embedder), "chunking": scale.CHUNKING}))
        report["full_write_s"] = round(time.perf_counter() - started, 2)
        report["full_write_stages_s"] = backend.manifest(backend.current_version()).get("stage_seconds")
        del archive
        started = time.perf_counter()
        store = backend.open()
        report["open_s"] = round(time.perf_counter() - started, 2)
        getattr(store, "warm_up", lambda: None)()  # stores that read lazily: what serving needs
        report["open_and_warm_up_s"] = round(time.perf_counter() - started, 2)
        questions = scale.QUESTIONS
        vectors = embedder.encode(questions)
        report["search_p50_ms"] = [p50_ms(lambda i: store.search(questions[i % 20], vectors[i % 20], 10))
                                   for _ in range(2)]
        report["bm25_p50_ms"] = p50_ms(lambda i: store.search(questions[i % 20], vectors[i % 20], 10,
                                                              dense_weight=0.0))
        report["dense_p50_ms"] = p50_ms(lambda i: store.search(questions[i % 20], vectors[i % 20], 10,
                                                               sparse_weight=0.0))
        doomed = list(store.fingerprints())[:100]
        store.close()
        started = time.perf_counter()
        summary = sync_index(backend, embedder, deletes=doomed)
        report["delete_100_s"] = round(time.perf_counter() - started, 2)
        report["delete_100_stages_s"] = summary.stages
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
