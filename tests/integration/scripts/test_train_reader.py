"""Reader training (qa.training, `newsqa train`, scripts/train_reader.py): feature labels, and a smoke run
that saves a model which loads and answers."""

import json
import random

import pytest
from transformers import AutoTokenizer

from qa.cli.train import main as train_main
from qa.reader import ExtractiveReader
from qa.squad import SquadExample, load_squad
from qa.training.features import build_features
from qa.training.groups import build_groups
from qa.training.options import default_base_model
from qa.types import Passage
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(default_base_model())


def test_features_label_the_answer_and_hard_negatives(tokenizer):
    articles, examples = load_squad(FIXTURES / "tiny-squad.json")
    examples = [e for e in examples if e.answers]
    paragraphs = {i: list(a.paragraphs) for i, a in enumerate(articles)}
    features = build_features(examples, paragraphs, tokenizer, random.Random(0), 36, 44, 1.0)
    positives = [f for f in features if f.start > 0]
    assert len(positives) == len(examples)
    for feature, example in zip(positives, examples):
        span = tokenizer.decode(feature.input_ids[feature.start:feature.end + 1])
        assert span == example.answers[0].lower()
        assert len(feature.input_ids) <= 44
    # A paragraph longer than the window, answer first: a window can leave the answer out.
    context = "Mayor Elena Ruiz opened the bridge. " + "Traffic across the bay was light that morning. " * 8
    examples = [SquadExample("x", "Bridge", context, "Who opened the bridge?", ("Mayor Elena Ruiz",), (0,))]
    features = build_features(examples, {0: [context]}, tokenizer, random.Random(0), 36, 44, 1.0)
    answers_by_question = {e.question.lower(): [a.lower() for a in e.answers] for e in examples}
    negatives = [f for f in features if f.start == 0]
    assert negatives  # negative_rate=1.0: hard negatives were made
    for negative in negatives:
        assert negative.end == 0
        context_from = negative.token_type_ids.index(1)
        question = tokenizer.decode(negative.input_ids[1:context_from - 1])
        context = tokenizer.decode(negative.input_ids[context_from:])
        assert not any(answer in context for answer in answers_by_question[question])


def test_smoke_training_saves_a_model_that_loads_and_answers(tmp_path, caplog):
    args = ["--train-files", str(FIXTURES / "tiny-squad.json"), "--output-dir", str(tmp_path / "model"),
            "--work-dir", str(tmp_path / "work"), "--batch-size", "1", "--checkpoint-every", "1", "--threads", "1"]
    assert train_main(args + ["--max-steps", "2"]) == 0
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["steps"] == 2 and info["questions"] == 4
    assert (tmp_path / "model" / "model.safetensors").exists()

    caplog.set_level("INFO")
    assert train_main(args + ["--max-steps", "3", "--resume"]) == 0
    assert "resumed at step 2" in caplog.text
    assert json.loads((tmp_path / "model" / "training.json").read_text())["steps"] == 3

    reader = ExtractiveReader(tmp_path / "model", backend="torch")
    text = "The new harbor bridge was opened by Mayor Elena Ruiz."
    candidates = reader.read("Who opened the bridge?", [Passage(0, "d", "D", 10, 10 + len(text), text, 1.0)])
    assert candidates  # an untrained head still proposes real spans with exact offsets
    for candidate in candidates:
        assert text[candidate.start - 10:candidate.end - 10] == candidate.text


def test_extra_files_are_mixed_in_oversampled(tmp_path):
    """`--extra` (a feedback export) joins the training questions after --limit, each --extra-repeat times."""
    args = ["--train-files", str(FIXTURES / "tiny-squad.json"), "--limit", "1", "--extra",
            str(FIXTURES / "tiny-squad.json"), "--extra-repeat", "2", "--output-dir", str(tmp_path / "model"),
            "--work-dir", str(tmp_path / "work"), "--batch-size", "2", "--threads", "1", "--max-steps", "1"]
    assert train_main(args) == 0
    info = json.loads((tmp_path / "model" / "training.json").read_text())
    assert info["extra_files"] == ["tiny-squad.json"] and info["extra_questions"] == 4
    assert info["questions"] == 1 + 4 * 2


def test_shared_norm_groups_read_the_gold_window_beside_retrieved_negatives(tokenizer):
    """Each group: the gold window holding the answer, then BM25's best other paragraphs, none
    holding a gold answer; and one shared-normalization training step runs on them."""
    gold = "The new harbor bridge in Portmouth was opened on 3 May 2019 by Mayor Elena Ruiz."
    near = ["A second bridge over the harbor was opened in 1990 by the governor.",
            "Harbor traffic rose after the bridge opened, the port said.",
            "Mayor Elena Ruiz opened the harbor bridge, the city said."]  # holds the answer: never a negative
    far = "Scientists found that the Halden glacier lost 12 percent of its ice."
    example = SquadExample("q", "Bridge", gold, "Who opened the harbor bridge?", ("Mayor Elena Ruiz",),
                           (gold.index("Mayor"),))
    groups = build_groups([example], {0: [gold, *near], 1: [far]}, tokenizer, random.Random(0), 64, 2, 0.0)
    assert len(groups) == 1
    (group,) = groups
    window, start, end = group.answer
    assert window == 0 and tokenizer.decode(group.windows[0][0][start:end + 1]) == "mayor elena ruiz"
    negatives = sorted(tokenizer.decode(ids[ids.index(tokenizer.sep_token_id) + 1:-1]) for ids, _ in group.windows[1:])
    assert negatives == sorted(t.lower() for t in near[:2])  # BM25's two best, without the answer-bearing one
    assert all(len(ids) <= 64 for ids, _ in group.windows)


def test_bm25_ranker_ranks_by_the_stores_tokens():
    from qa.bm25 import bm25_ranker

    top = bm25_ranker(["The mayor opened the bridge.", "Rain fell on the harbour.", "Bridges were requested."])
    assert [i for i, _ in top("Who requested a bridge?", 3)] == [2, 0]  # stemmed: bridge/bridges, requested
    assert top("the of and", 3) == []  # stop words only: nothing to rank by
