"""Adding an article to a running server (API and the page form): saved in the archive
folder, indexed incrementally, answerable at once without a restart, kept by the next
sync; bad uploads are refused with a reason and leave nothing behind."""

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from web.app import create_app
from web.deps import Services
from qa.config import Settings
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.sync import rebuild_index
from tests.conftest import FIXTURES, SAMPLE_ID
from tests.unit.test_document_formats import make_pdf

QUESTION = "Which ferry company will run the new route to Lundy?"
TEXT = ("Harbour officials in Bideford said on Friday that the Torridge Ferry Company will run a new daily route "
        "to Lundy from May. The crossing will take ninety minutes.")


@pytest.fixture
def archive(tmp_path, articles_dir, embedder, reader):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)

    def start(api_key: str | None = None) -> TestClient:
        settings = Settings(index_dir=index_dir, articles=[articles_dir],
                            api_key=SecretStr(api_key) if api_key else None)
        live = LiveIndex(index_dir, embedder, check_interval=3600)  # no polling: the add itself must reload
        live.load()
        return TestClient(create_app(services=Services(settings, embedder, live, reader, Assistant(live, reader))))

    return start, articles_dir, index_dir


def test_pasted_article_is_answerable_at_once_and_kept_by_the_next_sync(archive, embedder):
    start, articles_dir, index_dir = archive
    with start() as client:
        before = client.post("/ask", json={"question": QUESTION}).json()
        assert all("Torridge" not in a["text"] for a in before["answers"])
        response = client.post("/documents", json={"title": "New Lundy ferry", "text": TEXT, "published": "2026-11-20",
                                                   "source": "North Devon Gazette", "section": "transport"})
        assert response.status_code == 201, response.text
        added = response.json()
        assert added["embedded_chunks"] == 1 and len(added["document_ids"]) == 1
        answer = client.post("/ask", json={"question": QUESTION}).json()["answers"][0]
        assert "Torridge" in answer["text"] and answer["document_id"] == added["document_ids"][0]
        assert (answer["source"], answer["published"], answer["section"]) == ("North Devon Gazette", "2026-11-20",
                                                                            "transport")
        assert client.get("/healthz").json()["served_version"] == added["index_version"]
    saved = list((articles_dir / "added").glob("*.md"))
    assert len(saved) == 1 and "source: North Devon Gazette" in saved[0].read_text()
    summary = rebuild_index([articles_dir], index_dir, embedder)  # the folder sync keeps the added article
    assert summary.version is None and summary.unchanged == 2


def test_uploaded_page_and_the_form(archive):
    start, articles_dir, _ = archive
    with start() as client:
        page = (FIXTURES / "pages" / "harbour-dredging.html").read_bytes()
        response = client.post("/documents/upload", files={"file": ("harbour-dredging.html", page, "text/html")})
        assert response.status_code == 201, response.text
        document = client.get(f"/documents/{response.json()['document_ids'][0]}").json()
        assert document["source"] and document["published"] and "cookie" not in document["text"].lower()

        assert client.get("/add").status_code == 200
        form = {"title": "Lundy ferry", "text": TEXT, "published": "2026-11-20", "source": "Gazette"}
        posted = client.post("/add", data=form, follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"].startswith("/articles/added-lundy-ferry-")
        shown = client.get(posted.headers["location"])
        assert "Added to the archive and indexed" in shown.text and "Gazette" in shown.text


def test_bad_articles_are_refused_and_leave_nothing_behind(archive):
    start, articles_dir, _ = archive
    with start(api_key="s3cret") as client:
        served = client.get("/healthz").json()["served_version"]
        assert client.post("/documents", json={"title": "T", "text": TEXT}).status_code == 401
        key = {"X-API-Key": "s3cret"}
        cases = [
            ({"title": "T", "text": "   "}, "needs its text"),
            ({"title": "T", "text": TEXT, "published": "next Tuesday"}, "must be a date YYYY-MM-DD or a date-time"),
            ({"title": "T", "text": TEXT, "published": "2099-13-01"}, "must be a date YYYY-MM-DD"),
            ({"title": "Two\nlines", "text": TEXT}, "one line"),
            ({"title": "T", "text": TEXT, "colour": "red"}, "colour"),
        ]
        for body, reason in cases:
            response = client.post("/documents", json=body, headers=key)
            assert response.status_code == 422 and reason in response.json()["detail"], (body, response.text)
        scanned = make_pdf([None, None])
        response = client.post("/documents/upload", headers=key, files={"file": ("scan.pdf", scanned, "application/pdf")})
        assert response.status_code == 422 and "no text" in response.json()["detail"]
        response = client.post("/documents/upload", headers=key, files={"file": ("notes.docx", b"PK..", "x")})
        assert response.status_code == 422 and "unsupported file type '.docx'" in response.json()["detail"]
        form = client.post("/add", data={"title": "T", "text": TEXT, "key": "wrong"})
        assert form.status_code == 401 and "API key" in form.text
        both = client.post("/add", data={"title": "T", "key": "s3cret"},
                           files={"file": ("a.txt", b"Some text.", "text/plain")})
        assert both.status_code == 422 and "brings its own title" in both.text
        taken = client.post("/documents/upload", headers=key,
                            files={"file": ("x.md", f"---\nid: {SAMPLE_ID}\n---\nA rival text.".encode(), "text/markdown")})
        assert taken.status_code == 409 and "already used by another article" in taken.json()["detail"]
        twice = b'{"id": "a", "text": "One."}\n{"id": "a", "text": "Two."}\n'
        response = client.post("/documents/upload", headers=key, files={"file": ("two.jsonl", twice, "x")})
        assert response.status_code == 422 and "same article id twice" in response.json()["detail"]
        response = client.post("/documents/upload", headers={**key, "Sec-Fetch-Site": "cross-site"},
                               files={"file": ("a.txt", b"Some text.", "text/plain")})
        assert response.status_code == 403
        assert client.get("/healthz").json()["served_version"] == served  # nothing was indexed
    assert list((articles_dir / "added").glob("*")) == []  # and nothing was left behind


def test_articles_added_at_once_are_all_kept(archive):
    """Two threads adding at the same time: the writes are serialized, neither article is lost."""
    import threading

    start, _, _ = archive
    with start() as client:
        results = []

        def add(i: int) -> None:
            body = {"title": f"Harbour note {i}", "text": f"Harbour note number {i} says the pier reopened on day {i}."}
            results.append(client.post("/documents", json=body))

        threads = [threading.Thread(target=add, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.status_code for r in results] == [201, 201, 201], [r.text for r in results]
        ids = [r.json()["document_ids"][0] for r in results]
        assert all(client.get(f"/documents/{i}").status_code == 200 for i in ids)
        assert client.get("/documents").json()["total"] == 4


def test_add_article_errors_carry_no_http_status(tmp_path):
    """The web layer maps the errors to status codes: a conflict with the archive is its own kind."""
    from qa.ingestion.adding import AddArticleError, ArticleConflict, archive_folder, pasted_article

    with pytest.raises(ArticleConflict, match="no article folder is configured"):
        archive_folder([tmp_path / "missing.txt"])
    with pytest.raises(AddArticleError) as caught:
        pasted_article("T", "   ")
    assert type(caught.value) is AddArticleError and not hasattr(caught.value, "status")
