"""The bare-GPU training path builds exactly the training groups the full stack builds."""

import random
import sys
import types

import pytest
from transformers import AutoTokenizer

from qa.config import DEFAULT_READER_DIR
from qa.squad import load_squad
from scripts import train_reader
from scripts.gpu import bm25_table, train_bare
from tests.conftest import FIXTURES

# Paragraphs beside the fixture's, sharing its questions' words, so BM25 has an order to get right.
DISTRACTORS = [
    "The old bridge over the bay was opened long ago and cost far less than planned.",
    "Engineers designed a tunnel under the river; the bridge was closed while it was built.",
    "The glacier in the north lost ice every summer, the survey of the bay found.",
    "A ferry crossed the bay before any bridge or tunnel was opened.",
    "An architect from the capital designed the harbor and drew the station too.",
    "The ice on the lake did not lose its cover until late spring.",
    "The cost of the tunnel rose when the glacier melt flooded the works.",
    "Scientists measured how much the harbor silted up each year.",
]


def _setup():
    articles, examples = load_squad(FIXTURES / "tiny-squad.json")
    by_article = {i: list(a.paragraphs) for i, a in enumerate(articles)}
    by_article[99] = DISTRACTORS
    return by_article, [e for e in examples if e.answers]


def test_groups_from_the_table_equal_the_full_stacks(monkeypatch):
    by_article, examples = _setup()
    tokenizer = AutoTokenizer.from_pretrained(str(DEFAULT_READER_DIR))
    paragraphs = train_reader.training_paragraphs(by_article, examples)
    table = bm25_table.build_table(paragraphs, [e.question for e in examples], top=3 + 8)  # negatives + 8
    real = train_reader.build_groups(examples, by_article, tokenizer, random.Random(3), 192, 3, 0.0)
    assert real and all(len(g.windows) == 4 for g in real)  # the gold window and 3 negatives each
    stand_in = types.ModuleType("qa.stores.faiss_store")
    stand_in.bm25_ranker = train_bare.table_ranker(table)
    monkeypatch.setitem(sys.modules, "qa.stores.faiss_store", stand_in)
    bare = train_reader.build_groups(examples, by_article, tokenizer, random.Random(3), 192, 3, 0.0)
    assert [(g.windows, g.answer) for g in bare] == [(g.windows, g.answer) for g in real]


def test_the_stand_in_refuses_what_the_table_cannot_answer():
    by_article, examples = _setup()
    paragraphs = train_reader.training_paragraphs(by_article, examples)
    table = bm25_table.build_table(paragraphs, [e.question for e in examples], top=4)
    ranker = train_bare.table_ranker(table)
    top = ranker(paragraphs)
    assert len(top(examples[0].question, 4)) == 4
    with pytest.raises(SystemExit):  # more paragraphs than the table holds
        top(examples[0].question, 5)
    with pytest.raises(SystemExit):  # a question it was not made for
        top("Who won the cup in 1999?", 2)
    with pytest.raises(SystemExit):  # other paragraphs than the table's
        ranker(paragraphs[:-1])


def test_question_cap_is_the_readers():
    from qa.reader import MAX_QUESTION_TOKENS

    assert train_bare.question_cap() == MAX_QUESTION_TOKENS
