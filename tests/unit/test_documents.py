"""Each article format, stable ids, and malformed files named with their line."""

import json

import pytest

from qa.ingestion import ArticleError, load_articles


def write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_txt_title_is_first_line_and_text_is_kept_verbatim(tmp_path):
    body = "\nCouncil meets Sunday\nThe council will meet.\r\n"
    write(tmp_path / "world" / "Council Meets.txt", body)
    [doc] = load_articles([tmp_path])
    assert doc.id == "world-council-meets"  # derived from the path, stable
    assert doc.title == "Council meets Sunday"
    assert doc.text == "\nCouncil meets Sunday\nThe council will meet.\n"


def test_markdown_heading_and_front_matter(tmp_path):
    write(tmp_path / "a.md", "# Heading here\n\nBody text.")
    write(tmp_path / "b.md", "---\nid: custom-id\ntitle: From front matter\nurl: https://example.org/b\n"
                             "published: 2016-09-25\n---\n# Ignored heading\nBody.")
    a, b = load_articles([tmp_path])
    assert (a.id, a.title) == ("a", "Heading here")
    assert (b.id, b.title, b.url, b.published) == ("custom-id", "From front matter", "https://example.org/b", "2016-09-25")
    assert b.text == "# Ignored heading\nBody."


def test_html_keeps_the_article_text_not_menus_scripts_or_footers(tmp_path):
    write(tmp_path / "page.html", "<html><head><title>Page title</title><style>p{}</style></head><body>"
                                  "<nav><ul><li><a href='/'>Home</a></li><li><a href='/sport'>Sport</a></li></ul></nav>"
                                  "<h1>Headline</h1><script>alert(1)</script><p>First &amp; only <b>paragraph</b>.</p>"
                                  "<nav><ul><li>Item</li></ul></nav><footer><p>Copyright 2024 Example News.</p>"
                                  "<p>All rights reserved.</p></footer></body></html>")
    [doc] = load_articles([tmp_path / "page.html"])
    assert doc.title == "Headline"  # the page's headline wins over its <title>
    assert doc.text == "First & only paragraph."  # one sentence: inline markup does not break the line
    for boilerplate in ("alert", "Item", "Home", "Sport", "Copyright"):
        assert boilerplate not in doc.text


def test_html_title_falls_back_to_h1(tmp_path):
    write(tmp_path / "p.htm", "<body><h1>Only headline</h1><p>Text.</p></body>")
    assert load_articles([tmp_path])[0].title == "Only headline"


def test_jsonl_and_json_records(tmp_path):
    write(tmp_path / "feed.jsonl", json.dumps({"id": "n1", "title": "One", "text": "First.", "url": "u"}) + "\n\n"
          + json.dumps({"title": "Two", "text": "Second."}) + "\n")
    write(tmp_path / "list.json", json.dumps([{"id": 7, "title": "Seven", "text": "Seventh.", "published": "2020"}]))
    write(tmp_path / "single.json", json.dumps({"title": "Single", "text": "Alone."}))
    docs = {d.title: d for d in load_articles([tmp_path])}
    assert docs["One"].id == "n1" and docs["One"].url == "u"
    assert docs["Two"].id.startswith("feed-")  # content-derived, stable across reordering
    assert load_articles([tmp_path])[1].id == docs["Two"].id
    assert docs["Seven"].id == "7" and docs["Seven"].published == "2020"
    assert docs["Single"].id == "single"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": "a", "text": "ok"}\n{"id": "b", "text": \n', "bad.jsonl:2: invalid JSON"),
        ("bad.jsonl", '{"id": "a", "text": "ok"}\n\n{"id": "b"}\n', "bad.jsonl:3: record has no 'text'"),
        ("bad.jsonl", '["not", "an", "object"]\n', "bad.jsonl:1: expected an object"),
        ("bad.json", '{\n  "title": "x",\n  "text": }', "bad.json:3: invalid JSON"),
        ("bad.json", '[{"title": "x", "text": 5}]', "bad.json: record 0: record has no 'text'"),
        ("empty.txt", "  \n\n", "empty.txt: the article has no text"),
        ("bad.md", "---\ntitle: x\ncolour: y\n---\nBody", "bad.md:3: front matter line"),
        ("bad.md", "---\ntitle: x\nBody", "bad.md:1: front matter opened"),
        ("blank.html", "<html><script>x()</script></html>", "blank.html: the page has no article text"),
        ("empty.html", "", "empty.html: the page has no article text"),
        ("broken.pdf", "%PDF-1.4 not really", "broken.pdf: not a readable PDF"),
        ("broken.rss", "<rss><channel><title>x</title>", "broken.rss:1: malformed feed (no element found)"),
        ("text.atom", "just some text", "text.atom:1: not an RSS or Atom feed"),
        ("latin1.txt", b"Caf\xe9\nsecond line\n", "latin1.txt:1: not valid UTF-8"),
    ],
)
def test_malformed_files_are_named_with_their_line(tmp_path, name, content, message):
    write(tmp_path / name, content)
    with pytest.raises(ArticleError) as caught:
        load_articles([tmp_path])
    assert message in str(caught.value)


def test_duplicate_ids_name_both_files(tmp_path):
    write(tmp_path / "a.jsonl", json.dumps({"id": "same", "text": "A."}) + "\n")
    write(tmp_path / "b.json", json.dumps({"id": "same", "text": "B."}))
    with pytest.raises(ArticleError, match=r"b\.json: duplicate document id 'same' \(also in .*a\.jsonl\)"):
        load_articles([tmp_path])


def test_missing_path_and_unsupported_files(tmp_path):
    with pytest.raises(ArticleError, match="no such file"):
        load_articles([tmp_path / "nope"])
    write(tmp_path / "notes.docx", "x")
    write(tmp_path / ".hidden" / "x.txt", "hidden")
    write(tmp_path / "ok.txt", "Fine.")
    assert [d.id for d in load_articles([tmp_path])] == ["ok"]  # folders skip other types and hidden files
    with pytest.raises(ArticleError, match="unsupported file type"):
        load_articles([tmp_path / "notes.docx"])


def test_importing_ingestion_loads_no_parser_library():
    """Each format's parser is imported only when a file of that format is read."""
    import subprocess
    import sys

    code = "import qa.ingestion, sys; assert not {'trafilatura','pypdf','feedparser','lxml'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mojibake_is_repaired_as_articles_are_read_and_real_accents_are_kept(tmp_path):
    """UTF-8 once decoded as Latin-1 ("Â£197bn", "â€™"), as in the BBC archive, is stored repaired,
    in the text and in a derived title; accented words are left as they are."""
    record = {"id": "b1", "text": "Deficit hits Â£197bn\nThe chancellorâ€™s figure of Â£197bn surprised the cafÃ©."}
    (tmp_path / "news.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (tmp_path / "note.txt").write_text("Menu\nThe café served a naïve crème brûlée for £4.", encoding="utf-8")
    docs = {d.id: d for d in load_articles([tmp_path])}
    assert docs["b1"].title == "Deficit hits £197bn"
    assert docs["b1"].text == "Deficit hits £197bn\nThe chancellor’s figure of £197bn surprised the café."
    assert docs["note"].text == "Menu\nThe café served a naïve crème brûlée for £4."


def test_a_title_cut_from_a_long_first_line_is_cut_in_the_repaired_text(tmp_path):
    """The title derived from a record's first line is its first 120 characters: with mojibake at
    the cut, the repaired title is still 120 characters and ends on a whole pound sign."""
    first_line = "x" * 118 + "Â£5m budget approved by the council"
    (tmp_path / "long.jsonl").write_text(json.dumps({"id": "l1", "text": first_line + "\nBody."}) + "\n",
                                         encoding="utf-8")
    [doc] = load_articles([tmp_path])
    assert doc.title == "x" * 118 + "£5"
    assert doc.text == "x" * 118 + "£5m budget approved by the council\nBody."


def test_a_title_cut_from_a_long_first_line_is_shown_to_its_last_whole_word(tmp_path):
    from qa.ingestion.common import TITLE_CHARS, shown_title

    line = ("Trial date is set for Balco case A US judge has set a preliminary trial date for the Balco steroid "
            "distribution case which involves four men")
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "balco", "text": line + "\n\nMore text."}) + "\n")
    document = load_articles([tmp_path / "a.jsonl"])[0]
    assert len(document.title) == TITLE_CHARS and document.title.endswith("case whi")  # stored as cut
    assert shown_title(document.title) == ("Trial date is set for Balco case A US judge has set a preliminary trial "
                                           "date for the Balco steroid distribution case…")
    assert shown_title("Storm hits Marlow") == "Storm hits Marlow"  # a short title is shown as it is
    assert shown_title("x" * TITLE_CHARS) == "x" * TITLE_CHARS  # no word to end at
