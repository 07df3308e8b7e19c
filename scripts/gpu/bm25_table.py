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
import json
import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from qa.stores.faiss_store import bm25_ranker  # noqa: E402
from scripts.gpu.train_bare import digest  # noqa: E402
from scripts.train_reader import first_examples, load_training_files, training_paragraphs  # noqa: E402

_TOP = None  # the ranker, shared with forked workers


def _rank(job: tuple[list[str], int]) -> list[tuple[str, list[int]]]:
    """One worker's share: the indices of each question's best paragraphs, best first."""
    questions, top = job
    return [(q, [i for i, _ in _TOP(q, top)]) for q in questions]


def build_table(paragraphs: list[str], questions: list[str], top: int, workers: int | None = None) -> dict:
    """The table `train_bare.table_ranker` reads. BM25 scoring is single-threaded, so large
    question sets are split over forked workers (SQuAD train: 87,355 questions in about 25 s
    on 2 cores); a few hundred are ranked in this process."""
    global _TOP
    _TOP = bm25_ranker(paragraphs)
    questions = sorted(set(questions))
    table: dict[str, list[int]] = {}
    if len(questions) < 1000 or workers == 1:
        table.update(_rank((questions, top)))
    else:
        jobs = [(questions[i::40], top) for i in range(40)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap_unordered(_rank, jobs):
                table.update(part)
    return {"paragraphs": len(paragraphs), "sha256": digest(paragraphs), "top": top, "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train_file", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--top", type=int, default=11, help="paragraphs per question (train_reader: negatives + 8)")
    parser.add_argument("--limit", type=int, default=None, help="as train_reader.py --limit")
    args = parser.parse_args(argv)
    by_article: dict[int, list[str]] = {}
    examples, by_article = first_examples(load_training_files([str(args.train_file)], 0, by_article), by_article,
                                          args.limit)
    paragraphs = training_paragraphs(by_article, examples)
    table = build_table(paragraphs, [e.question for e in examples], args.top)
    with gzip.open(args.out, "wt") as handle:
        json.dump(table, handle)
    print(f"{len(table['table'])} questions over {len(paragraphs)} paragraphs -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
