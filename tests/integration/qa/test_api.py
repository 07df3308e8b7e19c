"""The JSON API contract, including every bad input (always a 4xx with a reason)."""

import pytest
from fastapi.testclient import TestClient

from qa.config import DEFAULT_FIRST_READ, Settings
from qa.live import LiveIndex
from qa.pipeline import Assistant
from web.app import create_app
from web.deps import Services
from tests.conftest import SAMPLE_ID

ANSWER_KEYS = {"text", "score", "document_id", "title", "start", "end", "context", "context_start", "confident",
               "published", "source", "section", "author", "url", "page", "supporting", "agreeing_articles"}
PASSAGE_KEYS = {"document_id", "title", "start", "end", "text", "score"}


def test_post_ask_returns_cited_answers(client):
    response = client.post("/ask", json={"question": "Who requested the meeting?", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answers", "passages", "no_answer", "message", "took_ms", "passages_read",
                         "articles_disagree"}
    assert body["articles_disagree"] is False  # one article in the archive
    assert body["message"] is None
    # Two-step reading (the default): the best passages first; this question is settled by them.
    assert len(body["passages"]) > DEFAULT_FIRST_READ and body["passages_read"] == DEFAULT_FIRST_READ
    assert body["question"] == "Who requested the meeting?" and body["no_answer"] is False
    assert 1 <= len(body["answers"]) <= 3
    assert all(set(a) == ANSWER_KEYS for a in body["answers"])
    assert all(set(p) == PASSAGE_KEYS for p in body["passages"])
    top = body["answers"][0]
    assert "United States, Britain and France" in top["text"]
    document = client.get(f"/documents/{top['document_id']}").json()
    assert document["text"][top["start"]:top["end"]] == top["text"]
    assert document["text"][top["context_start"]:top["context_start"] + len(top["context"])] == top["context"]


def test_get_ask_matches_post(client):
    got = client.get("/ask", params={"question": "Who requested the meeting?", "top_k": 2}).json()
    posted = client.post("/ask", json={"question": "Who requested the meeting?", "top_k": 2}).json()
    assert [a["text"] for a in got["answers"]] == [a["text"] for a in posted["answers"]]


def test_longest_allowed_question_is_answered(client):
    question = "Who requested the meeting " + "and why did they request it " * 34 + "?"
    assert len(question) <= 1000
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200 and response.json()["passages"]


def test_unanswerable_question_says_so(client):
    body = client.post("/ask", json={"question": "What is the boiling point of liquid nitrogen?"}).json()
    assert body["no_answer"] is True and body["answers"] == []


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        ({"question": ""}, 422, "question must not be empty"),
        ({"question": "   \n\t "}, 422, "question must not be empty"),
        ({"question": "why " * 300}, 422, "longer than 1000 characters"),
        ({"question": "Who?", "top_k": 0}, 422, "top_k"),
        ({"question": "Who?", "top_k": 11}, 422, "top_k"),
        ({"question": "Who?", "top_k": "three"}, 422, "top_k"),
        ({"top_k": 3}, 422, "question"),
        ({"question": 42}, 422, "question"),
    ],
)
def test_bad_post_bodies_are_422_with_a_reason(client, payload, status, reason):
    response = client.post("/ask", json=payload)
    assert response.status_code == status
    assert reason in response.json()["detail"]


def test_malformed_json_is_400(client):
    response = client.post("/ask", content=b'{"question": "Who', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == "the request body is not valid JSON"


@pytest.mark.parametrize(
    ("params", "reason"),
    [({}, "question"), ({"question": " "}, "must not be empty"), ({"question": "Who?", "top_k": "x"}, "top_k"),
     ({"question": "Who?", "top_k": 99}, "top_k")],
)
def test_bad_get_queries_are_422(client, params, reason):
    response = client.get("/ask", params=params)
    assert response.status_code == 422 and reason in response.json()["detail"]


def test_documents_and_health(client):
    document = client.get(f"/documents/{SAMPLE_ID}").json()
    assert document["id"] == SAMPLE_ID and document["title"].startswith("The United Nations Security Council")
    missing = client.get("/documents/no-such-article")
    assert missing.status_code == 404 and "no-such-article" in missing.json()["detail"]
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 1 and health["chunks"] > 5
    assert client.get("/docs").status_code == 200
    assert "/ask" in client.get("/openapi.json").json()["paths"]


def test_no_index_is_503_with_the_build_command(tmp_path, embedder, reader):
    live = LiveIndex(tmp_path / "empty", embedder)
    live.load()
    services = Services(Settings(index_dir=tmp_path / "empty"), embedder, live, reader, Assistant(live, reader))
    with TestClient(create_app(services=services)) as empty_client:
        response = empty_client.post("/ask", json={"question": "Who requested the meeting?"})
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "newsqa build" in detail and str(tmp_path) not in detail  # no server paths
        assert empty_client.get(f"/documents/{SAMPLE_ID}").status_code == 503
        assert empty_client.get("/healthz").json()["status"] == "no_index"
        page = empty_client.get("/", params={"q": "Who?"})
        assert page.status_code == 503 and "newsqa build" in page.text and str(tmp_path) not in page.text
