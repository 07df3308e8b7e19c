"""Hostile input, concurrency, overload, time limits and the write key: every refusal
is a 4xx (or a deliberate 503) with a `detail` reason, never a 5xx."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from qa.cli import main
from qa.cli.serve import is_loopback
from web.app import create_app, serve_in_background
from tests.conftest import SAMPLE_ID

JSON = {"content-type": "application/json"}


def _app(services, **settings):
    """An app over the shared (already loaded) models with some settings changed."""
    return create_app(services=dataclasses.replace(services, settings=services.settings.model_copy(update=settings)))


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'{"question": "\\ud800 who requested the meeting?"}', 422, "lone surrogate U+D800"),
        (b'{"question": "who \\udfff"}', 422, "lone surrogate U+DFFF"),
        ('{"question": "who \udc80"}'.encode("utf-8", "surrogatepass"), 422, "lone surrogate U+DC80"),
        (b'{"question": "who \xff requested"}', 400, "parsing the body"),
        (b'{"question": "Who\\u0000 requested the meeting?"}', 422, "control character U+0000"),
        (b'{"question": "\\u001b[31mWho requested?"}', 422, "control character U+001B"),
        (b'{"question": "Who\\u007f?"}', 422, "control character U+007F"),
        (b'{"question": "Who\\u0085?"}', 422, "control character U+0085"),
        (b'{"question": "Who requested the meeting?", "topk": 2}', 422, "unknown field 'topk'"),
        (b'{"question": "Who?", "\\ud800": 1}', 422, "unicode string"),
        (b'[{"question": "Who requested the meeting?"}]', 422, "must be a JSON object"),
        (b'"Who requested the meeting?"', 422, "must be a JSON object"),
        (b"42", 422, "must be a JSON object"),
        (b"null", 422, "request body"),
        (b"", 422, "request body is missing"),
        (b"[" * 40_000, 400, "body"),
        (b'{"question": "Who?", "top_k": 1' + b"0" * 5000 + b"}", 400, "body"),
        (b'{"question": ["Who?"]}', 422, "question"),
        (b'{"question": {"$gt": ""}}', 422, "question"),
        (b'{"question": "Who?", "top_k": 1e400}', 422, "top_k"),
    ],
)
def test_hostile_post_bodies_are_4xx_with_a_reason(client, body, status, reason):
    response = client.post("/ask", content=body, headers=JSON)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]


def test_ordinary_whitespace_is_squeezed_not_refused(client):
    response = client.post("/ask", json={"question": "Who\trequested\r\nthe\x0bmeeting?\x0c"})
    assert response.status_code == 200 and response.json()["question"] == "Who requested the meeting?"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/ask?question=%ED%A0%80who", "not valid UTF-8"),  # a UTF-8-encoded lone surrogate
        ("/ask?question=who%FF", "not valid UTF-8"),
        ("/ask?question=Who%00requested", "control character U+0000"),
        ("/ask?question=Who%1B%5B2J", "control character U+001B"),
        ("/documents/%00", "control character U+0000"),
        ("/documents/%ED%A0%80", "not valid UTF-8"),
        (f"/documents/{'x' * 1001}", "longer than 1000"),
        (f"/articles/{SAMPLE_ID}?q=%00", "control character"),
        ("/articles/%ED%A0%80", "not valid UTF-8"),
    ],
)
def test_hostile_urls_are_422_with_a_reason(client, url, reason):
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


@pytest.mark.parametrize(("query", "reason"), [("%ED%A0%80", "not valid UTF-8"), ("Who%07", "control character")])
def test_hostile_page_questions_are_422_pages(client, query, reason):
    response = client.get(f"/?q={query}")
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert reason in response.text


@pytest.fixture(scope="module")
def server(services):
    """The real app over HTTP on loopback, with room for the concurrency test."""
    with serve_in_background(_app(services, max_in_flight=64)) as url:
        yield url


def test_oversized_bodies_are_413_with_and_without_content_length(server):
    big = b'{"question": "' + b"a" * 70_000 + b'"}'
    with httpx.Client(base_url=server, timeout=30) as http:
        declared = http.post("/ask", content=big, headers=JSON)
        assert declared.status_code == 413 and "larger than 65536 bytes" in declared.json()["detail"]

        def chunks():  # no Content-Length: Transfer-Encoding: chunked
            for start in range(0, len(big), 8192):
                yield big[start:start + 8192]

        streamed = http.post("/ask", content=chunks(), headers=JSON)
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413 and "larger than 65536 bytes" in streamed.json()["detail"]
        assert http.post("/ask", json={"question": "Who requested the meeting?"}).status_code == 200


SHORT = ["Who requested the meeting?", "How many civilians are besieged?", "Where is Aleppo?",
         "When does the session begin?", "What is the boiling point of liquid nitrogen?"]
LONG = [q + " " + "Please answer from the report about the Security Council and Aleppo. " * 2 for q in SHORT]


def _answers(body: dict) -> list[tuple]:
    return [(a["text"], a["document_id"], a["start"], a["end"], a["score"]) for a in body["answers"]]


def test_concurrent_questions_get_the_single_thread_answers(server):
    questions = SHORT + LONG  # long ones (over 64 characters) take the tokenizer's other path
    assert all(len(q) > 64 for q in LONG)
    with httpx.Client(base_url=server, timeout=60) as http:
        expected = {q: _answers(http.post("/ask", json={"question": q}).json()) for q in questions}

    local = threading.local()

    def ask(question: str) -> tuple[str, int, list[tuple] | None]:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=server, timeout=60)
        response = local.http.post("/ask", json={"question": question})
        return question, response.status_code, _answers(response.json()) if response.status_code == 200 else None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, [questions[i % len(questions)] for i in range(200)]))
    assert [status for _, status, _ in results if status != 200] == []
    assert all(answers == expected[question] for question, _, answers in results)


def test_overload_is_503_with_retry_after_then_recovers(services):
    # No queue: one question in flight, the others refused at once.
    with serve_in_background(_app(services, max_in_flight=1, max_queued=0)) as url:
        barrier = threading.Barrier(6)

        def ask(_):
            with httpx.Client(base_url=url, timeout=60) as http:
                barrier.wait()
                return http.post("/ask", json={"question": LONG[0]})

        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(ask, range(6)))
        busy = [r for r in responses if r.status_code == 503]
        assert busy and all(r.headers.get("retry-after") == "1" and "queue is full" in r.json()["detail"]
                            for r in busy)
        assert {r.status_code for r in responses} <= {200, 503}
        with httpx.Client(base_url=url, timeout=60) as http:
            assert http.get("/healthz").status_code == 200
            assert http.post("/ask", json={"question": "Who requested the meeting?"}).status_code == 200
            assert http.get("/", params={"q": "Who requested the meeting?"}).status_code == 200


def test_a_question_past_the_time_limit_is_503_with_a_reason(services):
    with TestClient(_app(services, request_timeout_s=1e-6)) as slow:
        response = slow.post("/ask", json={"question": "Who requested the meeting?"})
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "time limit" in response.json()["detail"] and "NEWSQA_REQUEST_TIMEOUT_S" in response.json()["detail"]
        assert slow.get("/ask", params={"question": "Who?"}).status_code == 503
        page = slow.get("/", params={"q": "Who requested the meeting?"})
        assert page.status_code == 503 and "time limit" in page.text
        assert slow.get("/healthz").status_code == 200


def test_writes_need_the_key_reads_do_not(services):
    with TestClient(_app(services, api_key=SecretStr("s3cret-key"))) as keyed:
        missing = keyed.post("/admin/reload")
        assert missing.status_code == 401 and "API key" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"
        assert keyed.post("/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert keyed.post("/admin/reload", headers={"X-API-Key": "s3cret-key "}).status_code == 401
        reloaded = keyed.post("/admin/reload", headers={"Authorization": "Bearer s3cret-key"})
        assert reloaded.status_code == 200
        assert reloaded.json()["index_version"] == keyed.get("/healthz").json()["index_version"]
        assert keyed.post("/admin/reload", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert keyed.post("/ask", json={"question": "Who requested the meeting?"}).status_code == 200
        assert keyed.get(f"/documents/{SAMPLE_ID}").status_code == 200
    with TestClient(_app(services, api_key=None)) as open_app:  # loopback-only servers may run without a key
        assert open_app.post("/admin/reload").status_code == 200


def test_serve_refuses_a_public_address_without_a_key(sample_index_dir, monkeypatch, capsys):
    monkeypatch.delenv("NEWSQA_API_KEY", raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.20", "news.example.org"):
        assert main(["serve", "--host", host, "--index-dir", str(sample_index_dir)]) == 2
        assert "NEWSQA_API_KEY" in capsys.readouterr().err
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))


def test_a_burst_waits_its_turn_in_the_queue_instead_of_being_refused(services):
    # One slot, a queue long enough for the burst and a generous wait: every question is answered.
    with serve_in_background(_app(services, max_in_flight=1, max_queued=8, queue_wait_s=60)) as url:
        barrier = threading.Barrier(5)

        def ask(_):
            with httpx.Client(base_url=url, timeout=120) as http:
                barrier.wait()
                return http.post("/ask", json={"question": "Who requested the meeting?"})

        with ThreadPoolExecutor(5) as pool:
            responses = list(pool.map(ask, range(5)))
        assert [r.status_code for r in responses] == [200] * 5
        assert {r.json()["answers"][0]["start"] for r in responses} == {233}
