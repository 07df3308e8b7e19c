"""Real news in: saved web pages (main text and metadata only), PDFs page by page, RSS and Atom feeds."""

import hashlib
import logging
import shutil
from pathlib import Path

import pytest

from qa.chunking import chunk_document, split_sentences
from qa.ingestion import ArticleError, SkippedArticle, load_articles, load_file
from qa.types import SkippedFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PAGES, FEEDS = FIXTURES / "pages", FIXTURES / "feeds"


# --- saved web pages ---------------------------------------------------------------------------------------------

PAGE_CASES = {
    "harbour-dredging": dict(
        metadata=dict(title="Harbour dredging to begin in April after years of delay", published="2024-03-14",
                      author="Maria Keane", source="The Coastal Herald", section="Local News",
                      url="https://www.coastalherald.example/local/2024/03/harbour-dredging-april"),
        boilerplate=["We use cookies", "Accept all cookies", "Subscribe from 99p", "Weather and Tides",
                     "Search the Herald", "Related stories", "Harbour grant bid rejected", "Comments (3)",
                     "SaltyDog42", "Great article", "Join the conversation", "Share this article", "Privacy policy",
                     "All rights reserved"],
    ),
    "fen-drainage-blog": dict(
        metadata=dict(title="Why the old pumping station still matters", published="2023-11-02", author="Helen Ashby",
                      source="Field Notes from the Fens", section="Environment",
                      url="https://fieldnotesfens.example/2023/11/why-the-old-pumping-station-still-matters/"),
        boilerplate=["Water, land and people", "About Helen", "About this blog", "retired hydrologist", "Popular posts",
                     "Ten best fen walks", "Archives", "Get new posts by email", "Sign me up", "Previous post",
                     "Share this", "Tagged", "Proudly powered"],
    ),
    "railway-reopening": dict(
        metadata=dict(title="Branch line to reopen for passengers after 57 years", published="2022-06-08",
                      author="Tomasz Nowak", source="Midland Gazette", section=None,
                      url="https://www.midlandgazette.example/news/transport/branch-line-reopen-passengers"),
        boilerplate=["Sign in", "e-edition", "What's On", "Advertisement", "Share:", "WhatsApp", "morning briefing",
                     "Enter your email", "Most read", "Man charged", "Tigers sign", "Gazette House", "Cookie policy"],
    ),
}


@pytest.mark.parametrize("name", sorted(PAGE_CASES))
def test_saved_page_indexes_the_article_and_none_of_the_boilerplate(name):
    [doc] = load_articles([PAGES / f"{name}.html"])
    case = PAGE_CASES[name]
    assert doc.id == name  # the slug of the path, as before
    for line in (PAGES / f"{name}.expected").read_text().splitlines():
        assert line in doc.text.split("\n") or line == doc.title, line  # every paragraph, each on its own line
    for phrase in case["boilerplate"]:
        assert phrase not in doc.text, phrase
    assert {key: getattr(doc, key) for key in case["metadata"]} == case["metadata"]
    assert len(doc.text.split()) > 300


def test_saved_page_text_keeps_sentences_whole_and_offsets_exact():
    [doc] = load_articles([PAGES / "railway-reopening.html"])
    sentences = [doc.text[start:end] for start, end in split_sentences(doc.text)]
    # the pull quote is wrapped and indented in the page source; it is still one sentence
    assert any("held us back for two generations" in sentence for sentence in sentences)
    assert any(s.startswith("Passenger trains will return") and "Department for Transport confirmed" in s
               for s in sentences)  # an inline link does not cut the sentence
    for chunk in chunk_document(doc, 100, 1):
        assert doc.text[chunk.start:chunk.end] == chunk.text


def test_page_in_a_declared_legacy_charset_is_decoded(tmp_path):
    body = ("<p>Le café du port a rouvert ses portes samedi après deux ans de travaux, a annoncé la mairie.</p>" * 3)
    page = (f'<html><head><meta charset="windows-1252"><title>Café</title></head>'
            f"<body><article>{body}</article></body></html>")
    (tmp_path / "cafe.html").write_bytes(page.encode("cp1252"))
    [doc] = load_articles([tmp_path])
    assert doc.text.startswith("Le café du port a rouvert")


def test_page_with_the_article_only_in_json_ld_falls_back_to_it(tmp_path):
    body = "The council approved the new budget on Tuesday after a long debate about road repairs. " * 3
    (tmp_path / "app.html").write_text(
        '<html><head><title>Budget approved</title><script type="application/ld+json">'
        f'{{"@type": "NewsArticle", "headline": "Budget approved", "articleBody": "{body}"}}</script></head>'
        '<body><div class="menu"><a href="/">Home</a> | <a href="/news">News</a></div>'
        '<div id="app"></div></body></html>')
    [doc] = load_articles([tmp_path])
    assert doc.text == body.strip() and doc.title == "Budget approved"


# --- PDF -----------------------------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str] | None], info: dict[str, str] | None = None) -> bytes:
    """A small valid PDF: each page a list of text lines (Helvetica), or None for a scanned page (an image only)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(header: str, data: bytes) -> bytes:
        return f"<< {header} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    image = add(stream("/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
                       b"\x00\xff\xff\x00"))
    parent = add(b"")  # the page tree, filled in once its kids exist
    kids = []
    for lines in pages:
        if lines is None:
            content = b"q 540 0 0 700 36 46 cm /Im1 Do Q"
        else:
            content = ("BT /F1 11 Tf 14 TL 72 740 Td " + " T* ".join(f"{literal(line)} Tj" for line in lines)
                       + " ET").encode("latin-1")
        contents = add(stream("", content))
        kids.append(add(f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 612 792] /Contents {contents} 0 R "
                        f"/Resources << /Font << /F1 {font} 0 R >> /XObject << /Im1 {image} 0 R >> >> >>".encode()))
    objects[parent - 1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    catalog = add(f"<< /Type /Catalog /Pages {parent} 0 R >>".encode())
    info_ref = ""
    if info:
        entries = " ".join(f"/{key} {literal(value)}" for key, value in info.items())
        info_ref = f" /Info {add(f'<< {entries} >>'.encode('latin-1'))} 0 R"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R{info_ref} >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PAGE_ONE = ["Council approves flood defence budget",
            "The county council approved a flood defence budget of",
            "twelve million pounds on Tuesday evening, after a wet winter left",
            "three villages cut off.",
            "The money pays for new river walls and two pumping stations."]
PAGE_TWO = ["Work on the river walls will begin in May.",
            "The contractor expects to finish by the autumn of next year."]


def test_pdf_pages_are_joined_and_each_offset_knows_its_page(tmp_path):
    info = {"Title": "Flood defences approved", "Author": "Maria Keane", "CreationDate": "D:20240314093000Z"}
    (tmp_path / "reports" / "flood budget.pdf").parent.mkdir()
    (tmp_path / "reports" / "flood budget.pdf").write_bytes(make_pdf([PAGE_ONE, PAGE_TWO], info))
    [doc] = load_articles([tmp_path])
    assert doc.id == "reports-flood-budget"
    assert (doc.title, doc.author, doc.published) == ("Flood defences approved", "Maria Keane", "2024-03-14T09:30:00Z")
    first, second = doc.text.split("\n\n")
    # a line wrapped mid-sentence is joined, so the sentence stays whole; headlines keep their line
    assert first == ("Council approves flood defence budget\nThe county council approved a flood defence budget of "
                     "twelve million pounds on Tuesday evening, after a wet winter left three villages cut off.\n"
                     "The money pays for new river walls and two pumping stations.")
    assert second == "\n".join(PAGE_TWO)
    assert doc.pages == (0, len(first) + 2)
    assert doc.page_at(doc.text.index("twelve million")) == 1
    assert doc.page_at(doc.text.index("contractor")) == 2
    assert doc.page_at(len(doc.text) - 1) == 2


def test_pdf_pages_still_start_where_they_did_once_mojibake_is_repaired(tmp_path):
    """Repairing "Â£" to "£" on page one shortens it: page two's start moves with it."""
    (tmp_path / "budget.pdf").write_bytes(make_pdf([["The council approved Â£12m and Â£3m more."], PAGE_TWO]))
    [doc] = load_articles([tmp_path])
    first, second = doc.text.split("\n\n")
    assert first == "The council approved £12m and £3m more." and second == "\n".join(PAGE_TWO)
    assert doc.pages == (0, len(first) + 2)
    assert doc.page_at(doc.text.index("£3m")) == 1 and doc.page_at(doc.text.index("Work on")) == 2


def test_pdf_without_metadata_takes_its_first_line_as_title(tmp_path):
    (tmp_path / "notes.pdf").write_bytes(make_pdf([PAGE_TWO]))
    [doc] = load_articles([tmp_path])
    assert (doc.title, doc.published, doc.author, doc.pages) == (PAGE_TWO[0], None, None, (0,))


def test_scanned_pdf_is_reported_by_name_and_skipped_not_indexed_empty(tmp_path, caplog):
    (tmp_path / "scan.pdf").write_bytes(make_pdf([None, None]))
    (tmp_path / "story.txt").write_text("A story.\n")
    skipped: list[SkippedFile] = []
    assert [d.id for d in load_articles([tmp_path], skipped=skipped)] == ["story"]
    assert skipped == [SkippedFile(str(tmp_path / "scan.pdf"), skipped[0].reason)]
    assert "no text layer" in skipped[0].reason and "OCR" in skipped[0].reason
    with pytest.raises(SkippedArticle):
        load_file(tmp_path / "scan.pdf")
    with caplog.at_level(logging.WARNING, logger="qa.ingestion"):
        assert [d.id for d in load_articles([tmp_path / "scan.pdf", tmp_path / "story.txt"])] == ["story"]
    assert "scan.pdf" in caplog.text and "no text layer" in caplog.text  # callers without the list still hear of it


def test_pdf_with_one_scanned_page_keeps_the_page_numbers_right(tmp_path, caplog):
    (tmp_path / "mixed.pdf").write_bytes(make_pdf([PAGE_TWO, None, PAGE_ONE]))
    with caplog.at_level(logging.WARNING, logger="qa.ingestion"):
        [doc] = load_articles([tmp_path])
    assert len(doc.pages) == 3 and doc.page_at(doc.text.index("Council approves")) == 3
    assert "no text on page 2" in caplog.text


# --- feeds ---------------------------------------------------------------------------------------------------------


def entry_id(stem: str, key: str) -> str:
    return f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def test_rss_items_become_documents_with_their_metadata(caplog):
    skipped: list[SkippedFile] = []
    dredging, lifeboat = load_articles([FEEDS / "coastal-herald-local.rss"], skipped=skipped)
    assert dredging.id == entry_id("coastal-herald-local", "coastalherald-2024-03-14-harbour-dredging")  # from the guid
    assert dredging.title == "Harbour dredging to begin in April after years of delay"
    assert dredging.text.split("\n") == [
        "Work to deepen the main channel of Port Elwyn harbour will begin on 2 April, the harbour board confirmed on "
        "Wednesday, ending a dispute over funding that has delayed the project for almost four years.",
        "The board said a dredger chartered from a Dutch contractor would remove about 180,000 cubic metres of silt "
        "from the approach channel and the inner basin over eleven weeks.",
        "The work will cost 6.4 million pounds, of which the county council is contributing 2.1 million.",
    ]  # content:encoded, not the shorter description
    assert (dredging.published, dredging.source, dredging.author, dredging.section, dredging.summary_only) == (
        "2024-03-14T09:30:00Z", "The Coastal Herald", "Maria Keane", "Local News", False)
    assert dredging.url == "https://www.coastalherald.example/local/2024/03/harbour-dredging-april"
    assert lifeboat.summary_only  # only a description: indexed, and marked as a summary
    assert lifeboat.text.startswith("Two walkers were rescued") and "\nThe volunteer" in lifeboat.text
    assert lifeboat.id == entry_id("coastal-herald-local", lifeboat.url)  # no guid of its own: the link
    # the photo gallery has neither content nor description: reported, not indexed empty
    assert skipped == [SkippedFile(str(FEEDS / "coastal-herald-local.rss"), skipped[0].reason,
                                   "https://www.coastalherald.example/local/2024/03/spring-tides-gallery")]
    assert skipped[0].reason == ("entry 'https://www.coastalherald.example/local/2024/03/spring-tides-gallery' "
                                 "has no text (no content, no summary)")  # names the entry on its own


def test_atom_entries_with_html_xhtml_and_summary_only_bodies():
    pumping, eels, walk = load_articles([FEEDS / "fen-notes.atom"])
    assert pumping.text.split("\n")[1] == "A landscape that keeps sinking"  # escaped HTML content, block by block
    assert (pumping.published, pumping.section, pumping.author, pumping.source) == (
        "2023-11-02T08:00:00Z", "Environment", "Helen Ashby", "Field Notes from the Fens")
    assert not pumping.summary_only and "A visit to the Stretham engine" not in pumping.text
    assert eels.text.startswith("European eels still climb the sluices at Denver every spring, although their numbers")
    assert eels.published == "2023-11-09T06:30:00Z"  # no <published>: <updated>, in UTC
    assert eels.section == "wildlife"
    assert (walk.summary_only, walk.text, walk.author) == (
        True, "Twenty-one miles of straight bank, two pubs and a great many swans.", None)
    assert walk.id == entry_id("fen-notes", "tag:fieldnotesfens.example,2023:post-801")


def test_feed_ids_are_stable_when_entries_move(tmp_path):
    text = (FEEDS / "fen-notes.atom").read_text()
    head, rest = text.split("<entry>", 1)
    entries = ["<entry>" + part for part in rest.split("<entry>")]
    last = entries[-1].replace("</feed>", "")
    (tmp_path / "fen-notes.atom").write_text(head + last + "".join(entries[:-1]) + "</feed>\n")
    reordered = {d.id for d in load_articles([tmp_path])}
    assert reordered == {d.id for d in load_articles([FEEDS / "fen-notes.atom"])}


def test_xml_files_are_read_when_they_are_feeds_and_reported_otherwise(tmp_path):
    shutil.copy(FEEDS / "coastal-herald-local.rss", tmp_path / "export.xml")
    (tmp_path / "sitemap.xml").write_text('<?xml version="1.0"?>\n<urlset><url><loc>https://x.example/</loc></url>'
                                          "</urlset>\n")
    skipped: list[SkippedFile] = []
    docs = load_articles([tmp_path], skipped=skipped)
    assert [d.title for d in docs][0] == "Harbour dredging to begin in April after years of delay"
    assert len(docs) == 2
    files = [(Path(s.path).name, s.reason) for s in skipped if s.entry is None]
    assert files == [("sitemap.xml", "not an RSS or Atom feed")]


def test_feed_whose_entries_have_no_text_is_skipped_as_a_whole(tmp_path):
    (tmp_path / "gallery.rss").write_text('<rss version="2.0"><channel><title>Photos</title>'
                                          "<item><title>One</title><link>https://x.example/1</link></item>"
                                          "<item><title>Two</title><link>https://x.example/2</link></item>"
                                          "</channel></rss>")
    (tmp_path / "empty.atom").write_text('<feed xmlns="http://www.w3.org/2005/Atom"><title>Nothing yet</title></feed>')
    skipped: list[SkippedFile] = []
    assert load_articles([tmp_path], skipped=skipped) == []
    assert sorted((Path(s.path).name, s.reason) for s in skipped) == [
        ("empty.atom", "the feed has no entries"), ("gallery.rss", "none of its 2 entries has any text")]


def test_a_feed_with_an_unescaped_ampersand_is_read_leniently(tmp_path, caplog):
    (tmp_path / "loose.rss").write_text('<?xml version="1.0"?>\n'
                                        '<rss version="2.0"><channel><title>Town & Gown</title>\n'
                                        "<item><title>Fish & chips</title><guid>a1</guid>"
                                        "<description>The chip shop reopened.</description></item>\n</channel></rss>")
    with caplog.at_level(logging.WARNING, logger="qa.ingestion"):
        [doc] = load_articles([tmp_path])
    assert (doc.title, doc.text, doc.source) == ("Fish & chips", "The chip shop reopened.", "Town & Gown")
    assert "loose.rss:2: malformed feed read leniently" in caplog.text


def test_unreadable_feed_is_an_error_naming_the_file_and_line(tmp_path):
    (tmp_path / "cut.rss").write_text('<?xml version="1.0"?>\n<rss version="2.0">\n<channel><title>Cut off')
    with pytest.raises(ArticleError, match=r"cut\.rss:3: malformed feed \(no element found\)"):
        load_articles([tmp_path])


def test_an_entry_repeated_in_a_feed_is_indexed_once_and_reported(tmp_path):
    item = ("<item><title>Ferry timetable</title><guid>ferry-1</guid>"
            "<description>Summer sailings start on 1 May.</description></item>")
    feed = f'<rss version="2.0"><channel><title>Ferries</title>{item * 2}</channel></rss>'
    (tmp_path / "ferries.rss").write_text(feed)
    skipped: list[SkippedFile] = []
    [doc] = load_articles([tmp_path], skipped=skipped)
    assert doc.id == entry_id("ferries", "ferry-1")
    assert [(s.entry, s.reason) for s in skipped] == [
        ("ferry-1", "entry 'ferry-1' repeats an earlier one (same id or link)")]
