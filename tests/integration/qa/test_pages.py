"""The server-rendered pages: answers highlighted, citations, escaping, error states."""

import html
import re

from fastapi.testclient import TestClient

from qa.config import Settings
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.sync import rebuild_index
from web.app import create_app
from web.deps import Services
from tests.conftest import SAMPLE_ID


def test_home_shows_the_question_box(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<input id="q" name="q"' in page.text and "1 article indexed" in page.text


def test_answers_are_highlighted_and_cited(client):
    page = client.get("/", params={"q": "Who requested the meeting?"})
    assert page.status_code == 200
    marks = re.findall(r"<mark>(.*?)</mark>", page.text)
    assert marks and "United States, Britain and France" in html.unescape(marks[0])
    link = re.search(r'href="(/articles/[^"]+)"', page.text).group(1)
    assert link.startswith(f"/articles/{SAMPLE_ID}?start=")
    article = client.get(html.unescape(link))
    assert article.status_code == 200
    cited = re.search(r'<mark id="cited">(.*?)</mark>', article.text, re.S).group(1)
    assert "United States, Britain and France" in html.unescape(cited)


def test_no_answer_and_bad_input_states(client):
    page = client.get("/", params={"q": "What is the boiling point of liquid nitrogen?"})
    assert page.status_code == 200 and "No answer in the indexed articles" in page.text
    blank = client.get("/", params={"q": "   "})
    assert blank.status_code == 422 and "must not be empty" in blank.text
    assert client.get("/", params={"q": "x" * 1001}).status_code == 422
    missing = client.get("/articles/nope")
    assert missing.status_code == 404 and "No article with id" in missing.text
    outside = client.get(f"/articles/{SAMPLE_ID}", params={"start": 10, "end": 999999})
    assert outside.status_code == 200 and "outside this article" in outside.text


def test_article_text_is_escaped(tmp_path, embedder, reader):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "evil.html").write_text(
        "<title>Evil &lt;b&gt;page</title><p>The mayor said &lt;script&gt;alert('x')&lt;/script&gt; "
        "was posted by the hacker group Zeta on Monday.</p>")
    rebuild_index([articles], tmp_path / "index", embedder)
    live = LiveIndex(tmp_path / "index", embedder)
    live.load()
    services = Services(Settings(index_dir=tmp_path / "index"), embedder, live, reader, Assistant(live, reader, threshold=0.0))
    with TestClient(create_app(services=services)) as evil_client:
        article = evil_client.get("/articles/evil")
        assert "<script>alert" not in article.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in article.text
        assert "Evil &lt;b&gt;page" in article.text
        answers = evil_client.get("/", params={"q": "Who posted the script?"})
        assert "<script>alert" not in answers.text
