"""RSS and Atom feeds through feedparser (.rss, .atom, and .xml files that are feeds): one document per entry.

An `.xml` file that is no feed, and a feed whose entries have no text, are skipped and reported;
entries without text, and repeated entries, are reported while the rest of the feed is read.
"""

from __future__ import annotations

import hashlib
import io
import logging
import xml.sax
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html

from qa.ingestion.common import TITLE_CHARS, ArticleError, SkippedArticle, _clean_lines, _library_error, _report, normalize_date
from qa.ingestion.markup import _collapse_markup
from qa.types import Document, SkippedFile

logger = logging.getLogger(__name__)

_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "header",
               "footer", "blockquote", "pre", "ul", "ol", "table", "figure", "figcaption", "dd", "dt", "hr")
# What feedparser reports as (X)HTML; anything else (text/plain) is already text.
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _fragment_text(markup: str) -> str:
    """The text of an HTML fragment (a feed entry's body), one paragraph per line.

    A feed entry is the article already, so there is no boilerplate to find: only the
    markup to drop, with block elements becoming line breaks and source line breaks spaces.
    """
    if not markup.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except Exception:  # lxml refuses some fragments (only a comment, say): keep their text as it stands
        return _clean_lines(markup)
    lxml.etree.strip_elements(root, "script", "style", lxml.etree.Comment, with_tail=False)
    _collapse_markup(root)
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n" + (element.text or "")
    return _clean_lines(root.text_content())


def _parse_feed(path: Path) -> feedparser.FeedParserDict:
    """The parsed feed; an `.xml` file that is no feed is skipped, a broken `.rss`/`.atom` is refused."""
    return parse_feed(path.read_bytes(), path, not_a_feed=SkippedArticle if path.suffix.lower() == ".xml" else None)


def parse_feed(data: bytes, where: Path | str, not_a_feed: type[ArticleError] | None = None,
               base_url: str | None = None) -> feedparser.FeedParserDict:
    """`data` parsed as an RSS or Atom feed (a file's bytes, or a body fetched from `base_url`,
    against which relative links are resolved); errors name `where`.

    feedparser reads real-world feeds leniently (an unescaped `&` is common): a feed it could read
    entries from despite errors is kept, with a warning; one it could read nothing from is an
    `ArticleError` naming `where` and the line (`not_a_feed` instead, when given, for bytes that
    are no feed at all).
    """
    # Read as a file is (the server's content type is often wrong for feeds), links resolved against base_url.
    headers = {"content-location": base_url, "content-type": "application/xml"} if base_url else None
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    except Exception as err:  # feedparser should not raise, but a library failure must still name the file
        raise ArticleError(where, f"not a readable feed ({_library_error(err)})") from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    malformed = isinstance(problem, xml.sax.SAXException)  # other reasons (an encoding override) are benign
    line, why = _xml_problem(data, problem) if malformed else (None, "")
    if not parsed.get("version"):
        raise (not_a_feed or ArticleError)(where, "not an RSS or Atom feed" + why, line)
    if malformed and not parsed.entries:
        raise ArticleError(where, "malformed feed" + why, line)
    if malformed:
        logger.warning("%s:%s: malformed feed read leniently%s", where, line, why)
    return parsed


def _xml_problem(data: bytes, problem: xml.sax.SAXException) -> tuple[int | None, str]:
    """The line of an XML error in the file (feedparser adds a declaration line when it has none) and its text."""
    line = problem.getLineNumber() if isinstance(problem, xml.sax.SAXParseException) else None
    if line is not None and not data.removeprefix(b"\xef\xbb\xbf").startswith(b"<?xml"):
        line = max(line - 1, 1)
    return line, f" ({problem.getMessage()})"


def entry_text(entry: feedparser.FeedParserDict) -> tuple[str, bool]:
    """The entry's full content, else its summary; the flag says the text is only the summary."""
    content = (entry.get("content") or [None])[0]
    for detail, summary_only in ((content, False), (entry.get("summary_detail"), True)):
        text = _detail_text(detail) if detail else ""
        if text:
            return text, summary_only
    return "", False


def _detail_text(detail: feedparser.FeedParserDict) -> str:
    value = detail.get("value") or ""
    return _fragment_text(value) if (detail.get("type") or "text/html") in _HTML_TYPES else _clean_lines(value)


def entry_date(entry: feedparser.FeedParserDict) -> str | None:
    """When the entry was published (else last updated), in UTC as feedparser normalizes it."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return normalize_date(datetime(*parsed[:6], tzinfo=timezone.utc).isoformat())


def entry_section(entry: feedparser.FeedParserDict) -> str | None:
    """The entry's first category (its label, else its term)."""
    return next((t.get("label") or t.get("term") for t in entry.get("tags") or () if t.get("label") or t.get("term")),
                None)


def _entry_document(entry: feedparser.FeedParserDict, stem: str, source: str | None, path: Path,
                    text: str, summary_only: bool) -> Document:
    key = entry.get("id") or entry.get("link") or f"{entry.get('title', '')}\n{text}"
    metadata = {"url": entry.get("link"), "published": entry_date(entry), "source": source,
                "section": entry_section(entry), "author": entry.get("author")}
    return Document(
        id=f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:10]}",
        title=" ".join((entry.get("title") or "").split()) or text.split("\n", 1)[0][:TITLE_CHARS],
        text=text,
        path=str(path),
        summary_only=summary_only,
        **{name: " ".join(value.split()) for name, value in metadata.items() if value and value.strip()},
    )


def _load_feed(path: Path, stem: str, skipped: list[SkippedFile] | None) -> list[Document]:
    """One document per entry with text; entries without any, and repeated entries, are reported."""
    parsed = _parse_feed(path)
    source = " ".join((parsed.feed.get("title") or "").split()) or None
    documents: list[Document] = []
    passed_over: list[SkippedFile] = []
    seen: set[str] = set()
    for number, entry in enumerate(parsed.entries, start=1):
        name = entry.get("id") or entry.get("link") or entry.get("title") or f"#{number}"
        text, summary_only = entry_text(entry)
        if not text:
            passed_over.append(SkippedFile(str(path), f"entry {name!r} has no text (no content, no summary)", name))
            continue
        document = _entry_document(entry, stem, source, path, text, summary_only)
        if document.id in seen:
            passed_over.append(SkippedFile(str(path), f"entry {name!r} repeats an earlier one (same id or link)", name))
            continue
        seen.add(document.id)
        documents.append(document)
    if not documents:
        count = len(parsed.entries)
        raise SkippedArticle(path, f"none of its {count} entries has any text" if count else "the feed has no entries")
    for record in passed_over:
        _report(skipped, record)
    return documents


def load(path: Path, stem: str, skipped: list[SkippedFile] | None = None) -> list[Document]:
    return _load_feed(path, stem, skipped)
