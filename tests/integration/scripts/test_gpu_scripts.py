"""The bare-GPU training path (qa.training.table, scripts/gpu/) builds exactly the training groups the
full stack builds, and runs where only torch and transformers are installed."""

import gzip
import json
import random
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

from qa.config import DEFAULT_READER_DIR, PROJECT_ROOT
from qa.squad import load_squad
from qa.training.data import training_paragraphs
from qa.training.groups import build_groups
from qa.training.table import build_table, table_question_tokens, table_ranker
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
# What a bare machine lacks: the serving stack, pydantic (qa.config), and the modules that need them.
# Imported by the bare path, any of these fails the run below.
SERVING_STACK = ("pydantic", "pydantic_settings", "faiss", "bm25s", "Stemmer", "trafilatura", "pypdf", "feedparser",
                 "pymilvus", "fastapi", "sentence_transformers", "onnxruntime", "sklearn", "qa.config", "qa.reader",
                 "qa.bm25", "qa.index", "qa.stores", "qa.embedding")
BLOCKER = """
import runpy, sys
sys.modules.update(dict.fromkeys({blocked!r}))  # None: importing fails, importlib.util.find_spec says absent
sys.argv = {argv!r}
runpy.run_path({script!r}, run_name="__main__")
"""


def _setup():
    articles, examples = load_squad(FIXTURES / "tiny-squad.json")
    by_article = {i: list(a.paragraphs) for i, a in enumerate(articles)}
    by_article[99] = DISTRACTORS
    return by_article, [e for e in examples if e.answers]


def test_groups_from_the_table_equal_the_full_stacks():
    by_article, examples = _setup()
    tokenizer = AutoTokenizer.from_pretrained(str(DEFAULT_READER_DIR))
    paragraphs = training_paragraphs(by_article, examples)
    table = build_table(paragraphs, [e.question for e in examples], top=3 + 8)  # negatives + 8
    real = build_groups(examples, by_article, tokenizer, random.Random(3), 192, 3, 0.0)
    assert real and all(len(g.windows) == 4 for g in real)  # the gold window and 3 negatives each
    bare = build_groups(examples, by_article, tokenizer, random.Random(3), 192, 3, 0.0,
                        ranker=table_ranker(table), question_tokens=table_question_tokens(table))
    assert [(g.windows, g.answer) for g in bare] == [(g.windows, g.answer) for g in real]


def test_the_stand_in_refuses_what_the_table_cannot_answer():
    by_article, examples = _setup()
    paragraphs = training_paragraphs(by_article, examples)
    table = build_table(paragraphs, [e.question for e in examples], top=4)
    ranker = table_ranker(table)
    top = ranker(paragraphs)
    assert len(top(examples[0].question, 4)) == 4
    with pytest.raises(SystemExit):  # more paragraphs than the table holds
        top(examples[0].question, 5)
    with pytest.raises(SystemExit):  # a question it was not made for
        top("Who won the cup in 1999?", 2)
    with pytest.raises(SystemExit):  # other paragraphs than the table's
        ranker(paragraphs[:-1])
    with pytest.raises(SystemExit):  # a table that records no question cap
        table_question_tokens({k: v for k, v in table.items() if k != "question_tokens"})


def test_the_table_records_the_readers_question_cap():
    from qa.reader import MAX_QUESTION_TOKENS

    table = build_table(["One paragraph."], ["A question?"], top=1)
    assert table_question_tokens(table) == MAX_QUESTION_TOKENS


@pytest.mark.slow
def test_the_bare_scripts_train_without_the_serving_stack(tmp_path):
    """bm25_table.py here, then train_bare.py in a process where the serving stack cannot be imported:
    one shared-norm step saves a reader."""
    train_file = tmp_path / "train.json"  # the fixture and an article of distractors: negatives to retrieve
    squad = json.loads((FIXTURES / "tiny-squad.json").read_text())
    squad["data"].append({"title": "Distractors", "paragraphs": [{"context": p, "qas": []} for p in DISTRACTORS]})
    train_file.write_text(json.dumps(squad))
    table = tmp_path / "bm25.json.gz"
    made = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "gpu" / "bm25_table.py"),
                           str(train_file), str(table)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    with gzip.open(table, "rt") as handle:
        assert json.load(handle)["question_tokens"]
    script = str(PROJECT_ROOT / "scripts" / "gpu" / "train_bare.py")
    argv = [script, str(table), "--", "--train-files", str(train_file), "--base-model",
            str(DEFAULT_READER_DIR), "--output-dir", str(tmp_path / "model"), "--work-dir", str(tmp_path / "work"),
            "--shared-norm", "--negatives", "1", "--max-length", "96", "--batch-size", "2", "--max-steps", "1",
            "--threads", "1"]
    code = BLOCKER.format(blocked=SERVING_STACK, argv=argv, script=script)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["steps"] == 1 and info["config"]["shared_norm"] and info["features"] >= 2
    assert (tmp_path / "model" / "model.safetensors").exists()
