#!/usr/bin/env python
"""Chunks/s of the int8 ONNX embedder on 1,200 real BBC chunks (the first articles of the shared
archive, chunked as a build does), by batch size, with all cores on each batch in turn and with
one single-threaded run per core side by side; and whether the vectors equal batch 16's.

    python scripts/benchmark_embedder_batches.py [--shared-dir ../shared]

Run it alone: it measures the two cores. The int8 model scales its activations per batch, so a
batch size changes the vectors a little; running the same batches side by side does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.chunking import chunk_document  # noqa: E402
from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.embedding import Embedder, _onnx_session  # noqa: E402
from qa.ingestion import load_articles  # noqa: E402
from qa.stores.base import passage_input  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-dir", type=Path, default=PROJECT_ROOT.parent / "shared")
    parser.add_argument("--chunks", type=int, default=1200)
    args = parser.parse_args(argv)
    documents = load_articles([args.shared_dir / "corpus" / "bbc-news-2004-2005.jsonl"])[:300]
    texts = [passage_input(d.title, c.text) for d in documents
             for c in chunk_document(d, max_words=100, overlap_sentences=1)][:args.chunks]
    embedder = Embedder.from_settings(Settings(embedding_backend="onnx"))
    embedder.encode(texts[:64])  # warm
    embedder._workers = 1  # all cores on each batch in turn
    reference = None
    for batch in (16, 32, 64):
        began = time.perf_counter()
        vectors = embedder.encode(texts, batch_size=batch)
        reference = vectors if reference is None else reference
        print(f"all cores on each batch, batch {batch}: {len(texts) / (time.perf_counter() - began):.1f} chunks/s",
              flush=True)
    single = _onnx_session(embedder._onnx_path, 1)
    order = np.argsort([len(t) for t in texts], kind="stable")
    for batch in (16, 32, 64):
        out = np.zeros((len(texts), embedder.dimension), np.float32)
        embedder.session = single

        def one(part: np.ndarray, out: np.ndarray = out, batch: int = batch) -> None:
            out[part] = embedder._encode_onnx([texts[i] for i in part], batch, False)

        began = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, [order[i:i + batch] for i in range(0, len(order), batch)]))
        seconds = time.perf_counter() - began
        print(f"one single-threaded run per core, batch {batch}: {len(texts) / seconds:.1f} chunks/s; "
              f"largest difference from batch 16's vectors {np.abs(out - reference).max():.2e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
