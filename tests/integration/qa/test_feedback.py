"""Feedback on answers: the SQLite store, `POST /feedback` and its refusals, the page forms,
the SQuAD export, and a server killed right after a write losing nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from qa.config import PROJECT_ROOT
from qa.feedback import FEEDBACK_FILE, Feedback, FeedbackStore, context_window, find_span, to_squad
from qa.sync import rebuild_index
from qa.squad import load_squad
from web.app import create_app
from scripts import export_feedback
from tests.waiting import free_port
from tests.conftest import SAMPLE_ARTICLES, SAMPLE_ID

ANSWER = "United States, Britain and France"
QUESTION = "Who requested the meeting?"


@pytest.fixture(scope="module")
def text(sample_index) -> str:
    return sample_index.document(SAMPLE_ID).text


@pytest.fixture(scope="module")
def cited(text) -> dict:
    """A /feedback body citing the sample answer as /ask returns it."""
    start = text.index(ANSWER)
    return {"question": QUESTION, "answer": ANSWER, "document_id": SAMPLE_ID, "start": start,
            "end": start + len(ANSWER)}


def _app(services, **settings):
    return create_app(services=dataclasses.replace(services, settings=services.settings.model_copy(update=settings)))


def _stored(services, feedback_id: int) -> Feedback:
    return next(f for f in services.feedback.all() if f.id == feedback_id)


def test_the_store_keeps_every_field_durably(tmp_path):
    store = FeedbackStore(tmp_path / "index" / FEEDBACK_FILE)
    assert not store.path.exists()  # opened on first use, not when the server starts
    first = store.add(Feedback("Who?", "Ann", "doc", 0, 3, "right", index_version="v1", model_version="abc"))
    second = store.add(Feedback("Who?", "Ann", "doc", 0, 3, "wrong", 10, 13, "Bob", note="it was Bob"))
    assert (first.id, second.id) == (1, 2)
    rows = store.all()
    assert rows == [first, second]
    assert rows[1].corrected_text == "Bob" and rows[1].note == "it was Bob" and rows[0].model_version == "abc"
    created = datetime.fromisoformat(rows[0].created_at)
    assert created.utcoffset().total_seconds() == 0  # UTC
    connection = store._connect()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    assert FeedbackStore(store.path).all() == rows


def test_find_span_prefers_the_occurrence_nearest_the_answer():
    text = "Ann met Bob. Later, Bob met Carol; bob left."
    assert find_span(text, "Bob", 30) == (20, 23)
    assert find_span(text, "Bob", 0) == (8, 11)
    assert find_span(text, " met\n Carol ", 0) == (24, 33)  # whitespace may differ
    assert find_span(text, "CAROL", 0) == (28, 33)  # case only when nothing matches exactly
    assert find_span(text, "Dave", 0) is None and find_span(text, "  ", 0) is None


def test_context_window_holds_whole_paragraphs_around_the_span(text):
    start = text.index(ANSWER)
    lo, hi = context_window(text, start, start + len(ANSWER))
    assert lo <= start and start + len(ANSWER) <= hi and hi - lo <= 1500
    assert lo == 0 or text[lo - 1] == "\n"
    assert hi == len(text) or text[hi] == "\n"
    long = "word " * 1000 + ANSWER + " word" * 1000
    lo, hi = context_window(long, 5000, 5000 + len(ANSWER), 300)
    assert lo <= 5000 and 5000 + len(ANSWER) <= hi and hi - lo <= 300
    assert long[lo:hi].startswith("word") and long[lo:hi].endswith("word")


def test_post_feedback_stores_right_and_corrected_answers(client, services, cited, text, sample_index):
    response = client.post("/feedback", json={**cited, "verdict": "right", "note": "checked in the article"})
    assert response.status_code == 201, response.text
    body = response.json()
    stored = _stored(services, body["id"])
    assert (stored.verdict, stored.answer, stored.start, stored.note) == ("right", ANSWER, cited["start"],
                                                                          "checked in the article")
    assert stored.index_version == sample_index.version and stored.model_version == services.reader.weights_sha256
    assert body["model_version"] == services.reader.weights_sha256 and body["created_at"] == stored.created_at

    start = text.index("Britain")
    response = client.post("/feedback", json={**cited, "verdict": "wrong", "corrected_start": start,
                                              "corrected_end": start + len("Britain")})
    assert response.status_code == 201, response.text
    assert response.json()["corrected_text"] == "Britain"
    assert _stored(services, response.json()["id"]).corrected_start == start


@pytest.mark.parametrize(("change", "status", "reason"), [
    ({"document_id": "no-such-article"}, 404, "no document with id"),
    # Offsets that do not cite the answer in the article as it is now: a conflict with the article.
    ({"end": 10 ** 7}, 409, "0 <= start < end"),
    ({"answer": "the United Kingdom"}, 409, "is not the article's text"),
    ({"verdict": "wrong", "corrected_start": 0, "corrected_end": 10 ** 7}, 409, "corrected_start and corrected_end"),
    # What the request alone gets wrong (its schema, and a span that ends where it starts, say so): 422.
    ({"start": 5, "end": 5}, 422, "start must be before end"),
    ({"verdict": "wrong", "corrected_start": 10, "corrected_end": 10}, 422,
     "corrected_start must be before corrected_end"),
    ({"start": -1}, 422, "start"),
    ({"answer": ""}, 422, "answer"),
    ({"verdict": "maybe"}, 422, "verdict"),
    ({"verdict": "wrong", "corrected_start": 3}, 422, "send both or neither"),
    ({"verdict": "wrong", "corrected_start": 3, "corrected_end": None}, 422, "send both or neither"),
    ({"verdict": "right", "corrected_start": 0, "corrected_end": 3}, 422, "goes with verdict 'wrong'"),
    ({"question": "  "}, 422, "must not be empty"),
    ({"question": "who \x07"}, 422, "control character"),
    ({"color": "blue"}, 422, "unknown field 'color'"),
])
def test_bad_feedback_is_refused_with_a_reason(client, cited, change, status, reason):
    response = client.post("/feedback", json={**cited, "verdict": "right", **change})
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"] and response.json()["status"] == status


def test_whitespace_correction_and_malformed_json_are_refused(client, cited, text):
    space = text.index(" ")
    response = client.post("/feedback", json={**cited, "verdict": "wrong", "corrected_start": space,
                                              "corrected_end": space + 1})
    assert response.status_code == 409 and "only whitespace" in response.json()["detail"]
    response = client.post("/feedback", content=b'{"question": ', headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_feedback_needs_the_key_when_one_is_set(services, cited):
    with TestClient(_app(services, api_key=SecretStr("s3cret-key"))) as keyed:
        body = {**cited, "verdict": "right"}
        missing = keyed.post("/feedback", json=body)
        assert missing.status_code == 401 and "API key" in missing.json()["detail"]
        assert keyed.post("/feedback", json={**body, "verdict": "maybe"}).status_code == 401  # key first
        assert keyed.post("/feedback", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert keyed.post("/feedback", json=body, headers={"Authorization": "Bearer s3cret-key"}).status_code == 201

        form = {**{k: str(v) for k, v in cited.items()}, "verdict": "right"}
        page = keyed.get("/", params={"q": QUESTION})
        assert 'name="key"' in page.text  # the forms ask for the key
        refused = keyed.post("/feedback/form", data=form, follow_redirects=False)
        assert refused.status_code == 401 and "API key" in refused.text
        assert keyed.post("/feedback/form", data={**form, "key": "nope"}, follow_redirects=False).status_code == 401
        accepted = keyed.post("/feedback/form", data={**form, "key": "s3cret-key"}, follow_redirects=False)
        assert accepted.status_code == 303
    assert 'name="key"' not in TestClient(_app(services)).get("/", params={"q": QUESTION}).text


def test_an_unwritable_feedback_file_is_503_not_500(services, cited, tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    broken = dataclasses.replace(services, feedback=FeedbackStore(tmp_path / "not-a-folder" / FEEDBACK_FILE))
    with TestClient(create_app(services=broken)) as app:
        response = app.post("/feedback", json={**cited, "verdict": "right"})
        assert response.status_code == 503 and "could not be written" in response.json()["detail"]
        assert str(tmp_path) not in response.json()["detail"]
        form = {**{k: str(v) for k, v in cited.items()}, "verdict": "right"}
        assert app.post("/feedback/form", data=form).status_code == 503


def test_page_forms_record_feedback_and_thank(client, services, cited, text):
    page = client.get("/", params={"q": QUESTION})
    assert 'action="/feedback/form"' in page.text and "correct=1" in page.text
    form = {**{k: str(v) for k, v in cited.items()}, "verdict": "right", "back": "/"}
    response = client.post("/feedback/form", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    feedback_id = int(parse_qs(location.query)["feedback"][0])
    assert _stored(services, feedback_id).verdict == "right"
    thanked = client.get(response.headers["location"])
    assert "Thank you: your feedback (#%d) was recorded." % feedback_id in thanked.text

    correcting = client.get(f"/articles/{SAMPLE_ID}", params={"start": cited["start"], "end": cited["end"],
                                                               "q": QUESTION, "correct": "1"})
    assert 'id="correction"' in correcting.text and 'name="corrected_text"' in correcting.text
    # Without JavaScript the right answer is pasted; the server finds it in the article.
    wrong = {**form, "verdict": "wrong", "corrected_text": "  Britain\n and France ", "corrected_start": "",
             "corrected_end": ""}
    response = client.post("/feedback/form", data=wrong, follow_redirects=False)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    stored = _stored(services, int(query["feedback"][0]))
    assert stored.corrected_text == "Britain and France" == text[stored.corrected_start:stored.corrected_end]
    assert (int(query["start"][0]), int(query["end"][0])) == (stored.corrected_start, stored.corrected_end)
    assert "Thank you: your correction" in client.get(response.headers["location"]).text

    # Offsets from the selection script win when they match the box.
    start = text.index("France")
    selected = {**wrong, "corrected_text": "France", "corrected_start": str(start), "corrected_end": str(start + 6)}
    response = client.post("/feedback/form", data=selected, follow_redirects=False)
    assert _stored(services, int(parse_qs(urlsplit(response.headers["location"]).query)["feedback"][0])
                   ).corrected_start == start

    missing = client.post("/feedback/form", data={**wrong, "corrected_text": "the Vatican"}, follow_redirects=False)
    assert missing.status_code == 422 and "does not occur in this article" in missing.text
    unmarked = client.post("/feedback/form", data={**wrong, "corrected_text": ""}, follow_redirects=False)
    assert unmarked.status_code == 303
    assert _stored(services, int(parse_qs(urlsplit(unmarked.headers["location"]).query)["feedback"][0])
                   ).corrected_start is None  # "wrong", right answer unknown
    bad = client.post("/feedback/form", data={**form, "start": "x"}, follow_redirects=False)
    assert bad.status_code == 422 and "character offset" in bad.text
    assert client.post("/feedback/form", data={**form, "answer": "Britain"}).status_code == 422
    cross = client.post("/feedback/form", data=form, headers={"sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    assert client.post("/feedback/form", json=form).status_code == 415
    outside = client.post("/feedback/form", data={**form, "answer": "x", "back": "//evil.example/"})
    assert 'href="/"' in outside.text and "evil.example" not in outside.text


def test_export_writes_squad_that_the_loaders_read(services, sample_index_dir, cited, text, tmp_path, capsys):
    store = services.feedback
    right = store.add(Feedback(QUESTION, ANSWER, SAMPLE_ID, cited["start"], cited["end"], "right"))
    start = text.index("eastern Aleppo")
    corrected = store.add(Feedback("Where is the assault?", ANSWER, SAMPLE_ID, cited["start"], cited["end"], "wrong",
                                   start, start + len("eastern Aleppo"), "eastern Aleppo"))
    unknown = store.add(Feedback("Who chairs?", ANSWER, SAMPLE_ID, cited["start"], cited["end"], "wrong"))
    stale = store.add(Feedback("Who?", "Gone", "deleted-article", 0, 4, "right"))
    out = tmp_path / "feedback.json"
    assert export_feedback.main(["--index-dir", str(sample_index_dir), "--out", str(out)]) == 0
    assert "wrong without a correction" in capsys.readouterr().out

    raw = json.loads(out.read_text())
    assert raw["version"] == "1.1" and raw["data"][0]["title"]
    _, examples = load_squad(out)
    by_id = {e.id: e for e in examples}
    for record, answer in ((right, ANSWER), (corrected, "eastern Aleppo")):
        example = by_id[f"feedback-{record.id}"]
        assert example.answers == (answer,) and example.question == record.question
        assert example.context[example.answer_starts[0]:].startswith(answer)
        assert len(example.context) <= 1500 and example.context in text
    assert f"feedback-{unknown.id}" not in by_id and f"feedback-{stale.id}" not in by_id
    squad, counts = to_squad([unknown, stale], services.live_index.get().document)
    assert squad["data"] == [] and counts["skipped_wrong_without_correction"] == counts["skipped_stale"] == 1


def test_export_without_feedback_says_so(tmp_path, capsys):
    assert export_feedback.main(["--index-dir", str(tmp_path), "--out", str(tmp_path / "f.json")]) == 1
    assert "no feedback at" in capsys.readouterr().err


def test_feedback_survives_a_killed_server(tmp_path, embedder, cited):
    """The server is SIGKILLed the moment its 201 arrives: the row is on disk already."""
    index_dir = tmp_path / "index"
    rebuild_index([SAMPLE_ARTICLES], index_dir, embedder)
    port = free_port()
    env = {**os.environ, "NEWSQA_THREADS": "1"}
    env.pop("NEWSQA_API_KEY", None)  # loopback without a key: writes open
    server = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index-dir", str(index_dir), "--port", str(port)],
                              cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                if httpx.get(url + "/healthz", timeout=2).json().get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        response = httpx.post(url + "/feedback", json={**cited, "verdict": "right"}, timeout=30)
        server.kill()
        assert response.status_code == 201, response.text
    finally:
        server.kill()
        server.wait(timeout=30)
    assert server.returncode == -9
    rows = FeedbackStore(index_dir / FEEDBACK_FILE).all()
    assert [(r.id, r.answer, r.verdict) for r in rows] == [(response.json()["id"], ANSWER, "right")]
