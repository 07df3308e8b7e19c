"""Hedged answers: under the threshold the best guesses still come back, marked not confident,
through the pipeline, the API, the page and the CLI; `min_score` keeps confident answers only."""

import pytest
from fastapi.testclient import TestClient

from qa.cli import main
from qa.pipeline import Assistant
from web.app import create_app
from web.deps import Services

QUESTION = "Who requested the meeting?"
# Several countries in the sample article fit this one, so it has several distinct answers to cut between
# (the question above may have one: its other spans overlap the winner and are merged into it).
AMBIGUOUS = "Which country backs the Syrian government?"


@pytest.fixture(scope="module")
def strict(services):
    """The same models and index, with a threshold no answer can reach."""
    assistant = Assistant(services.live_index, services.reader, threshold=0.999)
    return Services(services.settings, services.embedder, services.live_index, services.reader, assistant)


@pytest.fixture(scope="module")
def strict_client(strict):
    with TestClient(create_app(services=strict)) as test_client:
        yield test_client


def test_pipeline_returns_guesses_marked_not_confident(strict, services):
    confident = services.assistant.ask(QUESTION)
    hedged = strict.assistant.ask(QUESTION)
    assert not confident.no_answer and confident.answers[0].confident
    assert hedged.no_answer and hedged.answers
    assert all(not a.confident for a in hedged.answers)
    # The guesses are the same candidates with the same scores: only the verdict changed.
    assert hedged.answers[0].text == confident.answers[0].text
    assert hedged.answers[0].score == confident.answers[0].score


def test_min_score_keeps_confident_answers_only(strict, services):
    assert strict.assistant.ask(QUESTION, min_score=0.999).answers == []
    lenient = Assistant(services.live_index, services.reader, threshold=0.0)  # every candidate is confident
    answers = lenient.ask(AMBIGUOUS, top_k=5).answers
    assert len(answers) >= 2, "needs two answers to put a cut between them"
    cut = (answers[0].score + answers[1].score) / 2
    kept = lenient.ask(AMBIGUOUS, top_k=5, min_score=cut).answers
    assert [a.text for a in kept] == [a.text for a in answers if a.score >= cut] == [answers[0].text]


def test_api_hedged_answers_and_min_score(strict_client):
    body = strict_client.post("/ask", json={"question": QUESTION}).json()
    assert body["no_answer"] is True and body["answers"]
    assert all(a["confident"] is False for a in body["answers"])
    assert "United States, Britain and France" in body["answers"][0]["text"]
    only_confident = strict_client.post("/ask", json={"question": QUESTION, "min_score": 0.999}).json()
    assert only_confident["no_answer"] is True and only_confident["answers"] == []
    got = strict_client.get("/ask", params={"question": QUESTION, "min_score": 0.999}).json()
    assert got["answers"] == []
    for bad in (-0.1, 1.5, "high"):
        response = strict_client.post("/ask", json={"question": QUESTION, "min_score": bad})
        assert response.status_code == 422 and "min_score" in response.json()["detail"]


def test_page_shows_the_best_guesses_block(strict_client):
    page = strict_client.get("/", params={"q": QUESTION})
    assert page.status_code == 200
    assert "The archive may not answer this. Best guesses:" in page.text
    assert 'class="answer guess"' in page.text and "not confident" in page.text
    assert "<mark>United States, Britain and France</mark>" in page.text
    none = strict_client.get("/", params={"q": QUESTION, "min_score": 0.999})
    assert "No answer in the indexed articles" in none.text and 'class="answer guess"' not in none.text


def test_cli_prints_hedged_answers(sample_index_dir, capsys, monkeypatch):
    monkeypatch.setenv("NEWSQA_NO_ANSWER_THRESHOLD", "0.999")
    assert main(["ask", QUESTION, "--index-dir", str(sample_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "The archive may not answer this. Best guesses:" in out
    assert "United States, Britain and France" in out and "not confident" in out
    assert main(["ask", QUESTION, "--index-dir", str(sample_index_dir), "--min-score", "0.999"]) == 0
    assert "No answer in the indexed articles." in capsys.readouterr().out
