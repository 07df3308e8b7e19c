"""The bare-GPU training path: its BM25 table ranks exactly as the project's ranker does."""

import gzip
import json

import pytest

from qa.stores.faiss_store import bm25_ranker
from scripts.gpu import bm25_table, train_bare
from scripts.train_reader import load_training_files
from tests.conftest import FIXTURES


def test_table_ranks_as_the_project_ranker(tmp_path):
    out = tmp_path / "table.json.gz"
    assert bm25_table.main([str(FIXTURES / "tiny-squad.json"), str(out), "--top", "4"]) == 0
    with gzip.open(out, "rt") as handle:
        table = json.load(handle)
    by_article = {}
    examples = load_training_files([str(FIXTURES / "tiny-squad.json")], 0, by_article)
    paragraphs = bm25_table.paragraph_list(by_article, examples)
    assert len(paragraphs) > 1
    real, stand_in = bm25_ranker(paragraphs), train_bare.table_ranker(table)(paragraphs)
    for example in examples:
        assert [i for i, _ in stand_in(example.question, 4)] == [i for i, _ in real(example.question, 4)]
    with pytest.raises(SystemExit):  # asks for more than the table holds
        stand_in(examples[0].question, 5)
    with pytest.raises(SystemExit):  # other paragraphs than the table's
        train_bare.table_ranker(table)(paragraphs[:-1])


def test_question_cap_is_the_readers():
    from qa.reader import MAX_QUESTION_TOKENS

    assert train_bare.question_cap() == MAX_QUESTION_TOKENS
