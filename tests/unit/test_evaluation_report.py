"""`evaluate_pipeline`'s report, from questions answered by a fake reader over the tiny store."""

from __future__ import annotations

import json

from qa.evaluation import evaluate_pipeline
from qa.pipeline import Assistant
from qa.squad import SquadExample
from tests.unit.conftest import DOCUMENTS, NEW, REPORT
from tests.unit.fakes import FakeReader, span


class QuestionReader(FakeReader):
    """Candidates chosen per question."""

    def __init__(self, by_question: dict, threshold: float = 0.5) -> None:
        super().__init__([], threshold=threshold)
        self.by_question = by_question

    def read_first(self, question, passages, first=0, enough=1.0, settled=None):
        self.candidates = self.by_question.get(question, [])
        return super().read_first(question, passages, first, enough, settled)


EXAMPLES = [
    SquadExample("e1", "t", "", "Who is the head coach?", answers=("Anna Berg",), article_index=0),
    SquadExample("e2", "t", "", "Who audited the accounts?", answers=("Clara Voss",), article_index=1),
    SquadExample("e3", "t", "", "What is the capital of the moon?", is_impossible=True, article_index=0),
]
READER = {
    "Who is the head coach?": [span(NEW, "Anna Berg", 0.9), span(NEW, "Tom Hale", 0.6)],  # right, confident
    "Who audited the accounts?": [span(REPORT, "Page two", 0.3)],  # a wrong guess under the threshold
}


def test_the_pipeline_report(tiny_index, tmp_path):
    assistant = Assistant(tiny_index, QuestionReader(READER))
    dump = tmp_path / "dump.jsonl"
    report = evaluate_pipeline(assistant, DOCUMENTS, EXAMPLES, ["coach-2024", "report"], details=True, dump=dump)
    assert (report["mode"], report["questions"], report["documents"], report["threshold"]) == ("pipeline", 3, 5, 0.5)
    # Answerable: e1 right and answered, e2 not answered (its guess is under the threshold).
    assert (report["top1_exact_match"], report["top3_exact_match"], report["answered"]) == (50.0, 50.0, 50.0)
    assert (report["forced_top1_exact_match"], report["confident_accuracy"]) == (50.0, 100.0)
    # With the unanswerable e3 (nothing read: rejected): right decisions for e1 and e3.
    assert (report["no_answer_accuracy"], report["unanswerable_rejected"]) == (66.67, 100.0)
    assert (report["document_recall@10"], report["passages_read_mean"]) == (100.0, 5.0)
    # Best candidates: e1 0.9 (F1 1), e2 0.3 (F1 0), e3 none (0): from 0.5 on only e1 is answered.
    curve = {point["threshold"]: (point["coverage"], point["accuracy"]) for point in report["risk_coverage"]}
    assert (curve[0.1], curve[0.3], curve[0.5], curve[0.9]) == ((66.7, 50.0), (66.7, 50.0), (33.3, 100.0),
                                                                (33.3, 100.0))
    assert [(p["id"], p["answer"], p["score"], p["f1"]) for p in report["predictions"]] == [
        ("e1", "Anna Berg", 0.9, 100.0), ("e2", "", 0.3, 0.0), ("e3", "", None, 100.0)]
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert [(line["id"], line["gold_document"], len(line["candidates"])) for line in lines] == [
        ("e1", "coach-2024", 2), ("e2", "report", 1), ("e3", None, 0)]
    assert list(report)[:6] == ["mode", "questions", "documents", "top1_exact_match", "top1_f1", "top3_exact_match"]
