"""Shared-norm training on a bare GPU machine (only torch and transformers installed).

`build_groups` ranks each question's negatives with the project's BM25 retriever and cuts
questions at the reader's serving cap; both come from the serving stack (bm25s, PyStemmer,
pydantic, the vector index ...). The work is split (see scripts/gpu/README.md):

1. Where the project is installed, `table_main` (`scripts/gpu/bm25_table.py`) writes the BM25
   order of the training paragraphs for every question, and the reader's question cap, to a
   small table.
2. On the GPU machine, `bare_main` (`scripts/gpu/train_bare.py`) trains with `qa.training` itself,
   handing `build_groups` a ranker that reads the table (`table_ranker`) and the recorded cap.
   The ranker refuses a paragraph list other than the one the table was made over, so the
   groups are exactly those the full stack builds.

This module imports nothing heavy at import time: the bare path must not pull in the serving stack.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import sys
from pathlib import Path

from qa.training.data import first_examples, load_training_files, training_paragraphs

BARE_USAGE = """Train the reader where only torch and transformers are installed.

    python scripts/gpu/train_bare.py TABLE.json.gz -- TRAIN_READER_ARGS...

TABLE.json.gz is what scripts/gpu/bm25_table.py wrote; the arguments after -- are newsqa train's.
See scripts/gpu/README.md."""
_TOP = None  # the ranker, shared with forked workers


def digest(paragraphs: list[str]) -> str:
    """Names the paragraph list a BM25 table was made over (`build_table` writes it, `table_ranker` checks it)."""
    return hashlib.sha256("\0".join(paragraphs).encode()).hexdigest()


def table_ranker(table: dict):
    """A stand-in for `qa.bm25.bm25_ranker` that reads the order from `table`."""
    def bm25_ranker(texts: list[str]):
        if len(texts) != table["paragraphs"] or digest(texts) != table["sha256"]:
            raise SystemExit("the training paragraphs differ from those the BM25 table was made over")

        def top(question: str, k: int) -> list[tuple[int, float]]:
            if k > table["top"]:
                raise SystemExit(f"the table holds {table['top']} paragraphs per question; {k} asked")
            if question not in table["table"]:
                raise SystemExit(f"question not in the BM25 table (made with another --limit?): {question!r}")
            return [(i, 0.0) for i in table["table"][question][:k]]  # build_groups reads only the order

        return top

    return bm25_ranker


def table_question_tokens(table: dict) -> int:
    """The reader's question cap the table recorded where it was made."""
    if "question_tokens" not in table:
        raise SystemExit("the BM25 table records no question cap (made by an older bm25_table.py): make it again")
    return int(table["question_tokens"])


def _rank(job: tuple[list[str], int]) -> list[tuple[str, list[int]]]:
    """One worker's share: the indices of each question's best paragraphs, best first."""
    questions, top = job
    return [(q, [i for i, _ in _TOP(q, top)]) for q in questions]


def build_table(paragraphs: list[str], questions: list[str], top: int, workers: int | None = None) -> dict:
    """The table `table_ranker` reads, with the reader's question cap. BM25 scoring is
    single-threaded, so large question sets are split over forked workers (timing in
    scripts/gpu/README.md); a few hundred are ranked in this process."""
    from qa.bm25 import bm25_ranker
    from qa.reader import MAX_QUESTION_TOKENS

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
    return {"paragraphs": len(paragraphs), "sha256": digest(paragraphs), "top": top,
            "question_tokens": MAX_QUESTION_TOKENS, "table": table}


def table_main(argv: list[str] | None = None) -> int:
    """`scripts/gpu/bm25_table.py TRAIN.json OUT.json.gz [--top 11] [--limit N]`."""
    parser = argparse.ArgumentParser(
        description="The BM25 negatives `build_groups` would retrieve, as a table for a bare GPU machine: the "
                    "same paragraph list and order, the project's own BM25 ranker, the top --top paragraph "
                    "indices (build_groups asks for negatives + 8) for every distinct question. "
                    "See scripts/gpu/README.md.")
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


def bare_main(argv: list[str] | None = None) -> int:
    """`scripts/gpu/train_bare.py TABLE.json.gz -- TRAIN_READER_ARGS...`: train with the table's ranker and cap."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit(BARE_USAGE)
    with gzip.open(argv[0], "rt") as handle:
        table = json.load(handle)
    from qa.training.loop import train
    from qa.training.options import parse_args

    return train(parse_args(argv[2:]), ranker=table_ranker(table), question_tokens=table_question_tokens(table))
