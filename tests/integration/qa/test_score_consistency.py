"""The calibrated score, and the evidence it is computed from, are the same through the
evaluation (`qa.evaluation.evaluate_pipeline`, what the benchmarks report) and through `/ask`."""

import copy
import json
from dataclasses import replace

from fastapi.testclient import TestClient

from qa.evaluation import evaluate_pipeline
from qa.evidence import with_story_evidence
from qa.pipeline import Assistant
from qa.reader import SpanCandidate
from qa.squad import SquadExample
from tests.conftest import SAMPLE_ID, services_over
from web.app import create_app


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


def test_a_calibration_that_weighs_the_story_evidence_scores_the_same_through_both(services, tmp_path):
    """The story evidence (issue #28) reads each candidate's article; a calibration that weighs it gets
    the same evidence, and so the same score, through the evaluation and through `/ask`."""
    reader = copy.copy(services.reader)  # the same loaded model, another calibration
    shipped = services.reader.calibration
    weights = {**shipped.weights, "story_article": 2.0, "echo": -1.0, "detail": 1.0}
    reader.calibration = replace(shipped, weights=weights)
    assistant = Assistant(services.live_index, reader)
    assert assistant.story_evidence
    # "Geneva" is named nowhere in the sample article: its story evidence is short of full.
    question = "Who requested the Security Council meeting in Geneva?"
    example = SquadExample(id="q1", title="sample", context="", question=question,
                           answers=("United States, Britain and France",))
    dump = tmp_path / "dump.jsonl"
    evaluate_pipeline(assistant, [], [example], [SAMPLE_ID], dump=dump)
    top = json.loads(dump.read_text())["candidates"][0]
    served = services_over(services.settings.index_dir, services.embedder, services.live_index, reader, assistant)
    with TestClient(create_app(services=served)) as client:
        answer = client.post("/ask", json={"question": question}).json()["answers"][0]
    assert (answer["text"], answer["start"], answer["document_id"]) == (top["text"], top["start"], SAMPLE_ID)
    assert abs(answer["score"] - top["calibrated"]) <= 5e-5
    # The evidence the dump recorded is what the article gives, computed here on its own.
    document = services.live_index.get().document(SAMPLE_ID)
    (expected,) = with_story_evidence(question, [SpanCandidate(SAMPLE_ID, top["start"], top["end"], top["text"],
                                                               0.0, 0.0, 0, 0.0)],
                                      lambda _: (document.title, document.text))
    assert top["story_article"] == round(expected.story_article, 5) < 0.9
    assert top["story_best"] == top["story_article"]  # the only article
    assert top["echo"] == 0.0
    assert top["detail"] == round(expected.detail, 5)
