"""The calibrated score, and the evidence it is computed from, are the same through the
evaluation (`qa.evaluation.evaluate_pipeline`, what the benchmarks report) and through `/ask`."""

import json

from qa.evaluation import evaluate_pipeline
from qa.squad import SquadExample
from tests.conftest import SAMPLE_ID


def test_the_same_question_gets_the_same_score_through_the_evaluation_and_ask(client, services, tmp_path):
    question = "Who requested the meeting?"
    example = SquadExample(id="q1", title="sample", context="", question=question,
                           answers=("United States, Britain and France",))
    dump = tmp_path / "dump.jsonl"
    report = evaluate_pipeline(services.assistant, [], [example], [SAMPLE_ID], dump=dump)
    top = json.loads(dump.read_text())["candidates"][0]
    answer = client.post("/ask", json={"question": question}).json()["answers"][0]
    assert (answer["text"], answer["start"], answer["document_id"]) == (top["text"], 233, SAMPLE_ID)
    assert abs(answer["score"] - top["calibrated"]) <= 5e-5  # the same score (the dump keeps 5 digits, /ask 4)
    # The evidence behind it: one article, a name for "who", five words, no rival article.
    assert (top["articles"], top["type_fit"], top["words"], top["other_probability"]) == (1, 1.0, 5, 0.0)
    assert report["forced_top1_f1"] == 100.0
