#!/usr/bin/env python
"""The BM25 negatives `train_reader.build_groups` would retrieve, as a table for a bare GPU machine.

    python scripts/gpu/bm25_table.py TRAIN.json OUT.json.gz [--top 11] [--limit N]

Same paragraph list and order as `build_groups`, the project's own `bm25_ranker`, the top
`--top` paragraph indices (build_groups asks for negatives + 8) for every distinct question.
See scripts/gpu/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from qa.stores.faiss_store import bm25_ranker  # noqa: E402
from scripts.train_reader import load_training_files  # noqa: E402

_TOP = None  # the ranker, shared with forked workers


def paragraph_list(paragraphs_by_article: dict[int, list[str]], examples) -> list[str]:
    """Exactly `build_groups`'s list: every paragraph once, sorted."""
    return sorted({p for ps in paragraphs_by_article.values() for p in ps} | {e.context for e in examples})


def digest(paragraphs: list[str]) -> str:
    return hashlib.sha256("\0".join(paragraphs).encode()).hexdigest()


def _rank(job: tuple[list[str], int]) -> list[tuple[str, list[int]]]:
    questions, top = job
    return [(q, [i for i, _ in _TOP(q, top)]) for q in questions]


def main(argv: list[str] | None = None) -> int:
    global _TOP
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train_file", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--top", type=int, default=11, help="paragraphs per question (train_reader: negatives + 8)")
    parser.add_argument("--limit", type=int, default=None, help="as train_reader.py --limit")
    args = parser.parse_args(argv)
    by_article: dict[int, list[str]] = {}
    examples = load_training_files([str(args.train_file)], 0, by_article)
    if args.limit:
        examples = examples[: args.limit]
        keep = {e.article_index for e in examples}
        by_article = {a: v for a, v in by_article.items() if a in keep}
    paragraphs = paragraph_list(by_article, examples)
    _TOP = bm25_ranker(paragraphs)
    questions = sorted({e.question for e in examples})
    jobs = [(questions[i::40], args.top) for i in range(40)]
    table: dict[str, list[int]] = {}
    with multiprocessing.get_context("fork").Pool() as pool:
        for part in pool.imap_unordered(_rank, jobs):
            table.update(part)
    with gzip.open(args.out, "wt") as handle:
        json.dump({"paragraphs": len(paragraphs), "sha256": digest(paragraphs), "top": args.top, "table": table},
                  handle)
    print(f"{len(questions)} questions over {len(paragraphs)} paragraphs -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
