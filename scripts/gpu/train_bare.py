#!/usr/bin/env python
"""Run scripts/train_reader.py where only torch and transformers are installed.

    python scripts/gpu/train_bare.py TABLE.json.gz -- TRAIN_READER_ARGS...

`build_groups` imports two things from the serving stack: the reader's question cap
(`qa.reader.MAX_QUESTION_TOKENS`) and the BM25 ranker. Importing either pulls in faiss,
bm25s, pydantic and trafilatura, so both modules are replaced by stand-ins: the cap is
read from qa/reader.py's source, the ranking from the table `bm25_table.py` wrote. The
stand-in refuses a paragraph list other than the one the table was made over.
See scripts/gpu/README.md.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def question_cap() -> int:
    """`MAX_QUESTION_TOKENS` as qa/reader.py assigns it, without importing the module."""
    for node in ast.parse((ROOT / "qa" / "reader.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAX_QUESTION_TOKENS" for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise SystemExit("MAX_QUESTION_TOKENS not found in qa/reader.py")


def digest(paragraphs: list[str]) -> str:
    """Names the paragraph list a BM25 table was made over (`bm25_table.py` writes it, the
    stand-in ranker checks it); here, not there, because this module must import nothing heavy."""
    return hashlib.sha256("\0".join(paragraphs).encode()).hexdigest()


def table_ranker(table: dict):
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


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        raise SystemExit(__doc__)
    with gzip.open(sys.argv[1], "rt") as handle:
        table = json.load(handle)
    reader = types.ModuleType("qa.reader")
    reader.MAX_QUESTION_TOKENS = question_cap()
    stores = types.ModuleType("qa.stores")
    stores.__path__ = []
    store = types.ModuleType("qa.stores.faiss_store")
    store.bm25_ranker = table_ranker(table)
    sys.modules.update({"qa.reader": reader, "qa.stores": stores, "qa.stores.faiss_store": store})
    from scripts import train_reader

    return train_reader.main(sys.argv[3:])


if __name__ == "__main__":
    raise SystemExit(main())
