"""Reading articles from disk: .txt, .md, .html/.htm, .pdf, .json, .jsonl and RSS/Atom feeds.

Every loader returns `Document`s whose `text` is stored exactly as indexed; all
offsets the system returns refer to it. Saved web pages go through trafilatura, so
only the article is indexed (not menus, related links, comments, cookie banners or
footers) with the page's title, date, author, site and section; PDFs through pypdf,
page by page, so a citation can name its page; feeds (`.rss`, `.atom`, and `.xml`
files that are feeds) through feedparser, one document per entry.

A malformed file raises `ArticleError` naming the file (and the line, where there is
one), so a rebuild can stop before it touches the served index. A file that is fine
but holds nothing to index (a scanned PDF with no text layer, an `.xml` file that is
not a feed, a feed whose entries have no text) raises `SkippedArticle` instead:
`load_articles` reports it as a `SkippedFile` and goes on.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import xml.sax
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pypdf
import trafilatura

from qa.types import Document, SkippedFile  # noqa: F401  (re-exported until callers move)

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".json", ".jsonl", ".rss", ".atom", ".xml")
_FRONT_MATTER_KEYS = {"id", "title", "url", "published", "date", "source", "section", "category", "author"}
_METADATA_KEYS = ("url", "published", "source", "section", "author")


class ArticleError(ValueError):
    """A file that cannot be read as an article; the message names the file and line."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path, self.reason, self.line = str(path), reason, line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


class SkippedArticle(ArticleError):
    """A readable file with nothing to index; `load_articles` reports it and goes on instead of stopping.

    Indexing it empty would make it look covered while no question could ever find it.
    """


def _library_error(err: Exception) -> str:
    """A parser's own message, kept short: some quote the raw bytes they choked on."""
    message = f"{type(err).__name__}: {err}"
    return message if len(message) <= 160 else message[:157] + "..."


def _report(skipped: list[SkippedFile] | None, record: SkippedFile) -> None:
    """Log a skipped file or entry by name, and hand it to the caller when it asked for the list."""
    logger.warning("skipped %s", record)
    if skipped is not None:
        skipped.append(record)


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%a, %d %b %Y %H:%M:%S %z",
                 "%a, %d %b %Y %H:%M:%S %Z")


def normalize_date(value: str) -> str:
    """An ISO 8601 date or date-time from the common ways articles write dates.

    Raises ValueError for anything else: a date that cannot be read would silently fall
    out of every date filter, so it is refused with the file's name instead.
    """
    text = value.strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", text):  # a year or a month: kept as precise as it was given
        try:
            datetime.strptime(text, "%Y-%m" if len(text) == 7 else "%Y")
        except ValueError:
            raise ValueError(f"unreadable date {value!r} (use YYYY-MM-DD)") from None
        return text
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unreadable date {value!r} (use YYYY-MM-DD)") from None
    if len(text) <= 10 or (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0) and "T" not in text:
        return parsed.strftime("%Y-%m-%d")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def slugify(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug or "document"


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ArticleError(path, f"not valid UTF-8 (byte {err.start})", line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unquote(value: str) -> str:
    """`value` without one pair of matching surrounding quotes ('"Stop" says mayor' keeps its own)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, str], str]:
    """`---` / `key: value` / `---` at the top of a .txt or .md file."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        raise ArticleError(path, "front matter opened with '---' is never closed", 1)
    meta: dict[str, str] = {}
    for number, line in enumerate(text[4:end].split("\n"), start=2):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() not in _FRONT_MATTER_KEYS:
            raise ArticleError(path, f"front matter line is not one of {sorted(_FRONT_MATTER_KEYS)}: {line!r}", number)
        meta[key.strip().lower()] = _unquote(value.strip())
    body_start = text.find("\n", end + 1)
    return meta, text[body_start + 1 :] if body_start >= 0 else ""


def _load_plain(path: Path, default_id: str) -> Document:
    meta, text = _split_front_matter(path, _read_text(path))
    if not text.strip():
        raise ArticleError(path, "the article has no text")
    title = meta.get("title")
    if not title:
        first = next(line for line in text.split("\n") if line.strip())
        title = first.strip().lstrip("#").strip() if path.suffix == ".md" else first.strip()
    return Document(id=meta.get("id") or default_id, title=title, text=text, path=str(path),
                    **_metadata(path, meta, None))


def _metadata(path: Path, record: dict, line: int | None) -> dict:
    """The optional metadata of a record or front matter: `category` is a section, `date` a published date."""
    values = dict(record)
    if values.get("section") in (None, "") and values.get("category") not in (None, ""):
        values["section"] = values["category"]
    if values.get("published") in (None, "") and values.get("date") not in (None, ""):
        values["published"] = values["date"]
    found = {}
    for key in _METADATA_KEYS:
        value = values.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise ArticleError(path, f"'{key}' must be a string", line)
        found[key] = value.strip()
    if "published" in found:
        try:
            found["published"] = normalize_date(found["published"])
        except ValueError as err:
            raise ArticleError(path, str(err), line) from None
    return found


# Tried in order until one finds text. On the saved pages in tests/fixtures/pages precision, balanced and
# recall extract the same text; on a short page the balanced mode "rescues" the extraction with a dump of
# the whole page, menus included, so precision goes first. Balanced is the fallback: its cascade (readability,
# jusText, baseline) finds what precision does not, such as an article only in JSON-LD `articleBody`.
_EXTRACTION_MODES: tuple[dict[str, bool], ...] = ({"favor_precision": True}, {})
# Inline formatting carries no boilerplate signal, but in trafilatura's whole-page fallback each text node
# becomes a line, which would cut "First <b>only</b> paragraph." into three sentences.
_FORMATTING_TAGS = ("b", "strong", "i", "em", "u", "small", "big", "mark", "font", "abbr", "dfn", "tt")
_PREFORMATTED_TAGS = {"pre", "textarea", "script", "style"}
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # lxml refuses to set text holding these


def _collapse_markup(tree: lxml.html.HtmlElement) -> None:
    """Make the page's whitespace what a browser shows: source line breaks are not paragraph breaks.

    trafilatura keeps the raw whitespace of some nodes (a `<blockquote>`, the text after a `<br>`), and
    a line break mid-sentence would end the sentence for the chunker. Control characters are dropped.
    """
    lxml.etree.strip_tags(tree, *_FORMATTING_TAGS)
    for element in tree.iter():
        inside_pre = any(ancestor.tag in _PREFORMATTED_TAGS for ancestor in element.iterancestors())
        if isinstance(element.tag, str) and element.text and not inside_pre and element.tag not in _PREFORMATTED_TAGS:
            element.text = _HTML_SPACE.sub(" ", _NOT_XML.sub("", element.text))
        if element.tail and not inside_pre:
            element.tail = _HTML_SPACE.sub(" ", _NOT_XML.sub("", element.tail))


def _parse_page(path: Path) -> lxml.html.HtmlElement:
    """The page's HTML tree; trafilatura decodes the bytes by the page's declared or detected charset."""
    try:
        tree = trafilatura.load_html(path.read_bytes())
    except Exception as err:  # a parser's failure on one bad page must name the page, not end the build
        raise ArticleError(path, f"not a readable HTML page ({_library_error(err)})") from None
    if tree is None:
        raise ArticleError(path, "the page has no article text")
    _collapse_markup(tree)
    return tree


def _extract_page(path: Path, tree: lxml.html.HtmlElement) -> trafilatura.settings.Document:
    """The main text and metadata of a page, trying stricter modes first (see `_EXTRACTION_MODES`)."""
    for mode in _EXTRACTION_MODES:
        try:
            result = trafilatura.bare_extraction(tree, with_metadata=True, include_comments=False, **mode)
        except Exception as err:  # a parser's failure on one bad page must name the page, not end the build
            raise ArticleError(path, f"could not extract the page's text ({_library_error(err)})") from None
        if result is not None and result.text and result.text.strip():
            return result
    raise ArticleError(path, "the page has no article text")


def _clean_lines(text: str) -> str:
    """One paragraph per line, each stripped, no empty lines: what the chunker splits sentences in."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _guessed_date(value: str | None) -> str | None:
    """An extracted date, normalized; a date the page does not state readably is left out, not an error."""
    if not value:
        return None
    try:
        return normalize_date(value)
    except ValueError:
        return None


def _load_html(path: Path, default_id: str) -> Document:
    page = _extract_page(path, _parse_page(path))
    text = _clean_lines(page.text)
    if not text:
        raise ArticleError(path, "the page has no article text")
    title = " ".join((page.title or "").split()) or text.split("\n", 1)[0][:120]
    metadata = {"url": page.url, "published": _guessed_date(page.date), "source": page.sitename,
                "section": next((c for c in page.categories or () if c and c.strip()), None), "author": page.author}
    return Document(id=default_id, title=title, text=text, path=str(path),
                    **{key: value.strip() for key, value in metadata.items() if value and value.strip()})


# A line break inside a paragraph, as a PDF wraps it: the line does not end a sentence and the next one
# goes on in lower case. Joined, so the chunker does not end a sentence at every wrapped line. A next line
# starting with a capital or a digit (a heading, a list item, a table row) keeps its line.
_LOWER = "a-zß-öø-ÿ"
_WRAPPED_LINE = re.compile(rf"(?<=[\w,;])[ \t]*\n[ \t]*(?=[{_LOWER}])")
_HYPHENATED_LINE = re.compile(rf"(?<=\w-)[ \t]*\n[ \t]*(?=[{_LOWER}])")


def _open_pdf(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path)
        encrypted = reader.is_encrypted and not reader.decrypt("")
        pages = list(reader.pages)
    except Exception as err:  # pypdf raises many kinds of errors on broken files; the build must name the file
        raise ArticleError(path, f"not a readable PDF ({_library_error(err)})") from None
    if encrypted:
        raise SkippedArticle(path, "the PDF is encrypted and cannot be read without its password")
    if not pages:
        raise ArticleError(path, "the PDF has no pages")
    return reader


def _page_text(path: Path, page: pypdf.PageObject, number: int) -> str:
    """One page's text in reading order, wrapped lines joined, trailing spaces and blank lines dropped."""
    try:
        raw = page.extract_text() or ""
    except Exception as err:  # a broken content stream must name the file and page, not end in a traceback
        raise ArticleError(path, f"page {number}: cannot extract text ({_library_error(err)})") from None
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    return _WRAPPED_LINE.sub(" ", _HYPHENATED_LINE.sub("", text))


def _pdf_metadata(reader: pypdf.PdfReader) -> dict[str, str]:
    """Title, author and creation date from the PDF's document information, where they are set and readable."""
    try:
        info = reader.metadata
        if info is None:
            return {}
        found = {"title": info.title, "author": info.author}
        created = info.creation_date
    except Exception:  # a malformed information dictionary or date only loses the metadata, not the article
        return {}
    if created is not None:
        found["published"] = _guessed_date(created.isoformat())
    return {key: " ".join(str(value).split()) for key, value in found.items() if value and str(value).strip()}


def _load_pdf(path: Path, default_id: str) -> Document:
    """All pages joined by a blank line; `pages` holds where each starts, so a citation can name its page."""
    reader = _open_pdf(path)
    texts = [_page_text(path, page, number) for number, page in enumerate(reader.pages, start=1)]
    if not any(text.strip() for text in texts):
        raise SkippedArticle(path, f"no text layer on any of its {len(texts)} pages (a scan? run OCR on it first)")
    empty = [str(number) for number, text in enumerate(texts, start=1) if not text.strip()]
    if empty:
        logger.warning("%s: no text on page %s (scanned pages are not indexed)", path, ", ".join(empty))
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 2
    text = "\n\n".join(texts)
    meta = _pdf_metadata(reader)
    title = meta.pop("title", None) or next(line.strip() for line in text.split("\n") if line.strip())[:120]
    return Document(id=default_id, title=title, text=text, path=str(path), pages=tuple(starts), **meta)


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
    """The parsed feed; an `.xml` file that is no feed is skipped, a broken `.rss`/`.atom` is refused.

    feedparser reads real-world feeds leniently (an unescaped `&` is common): a feed it could read
    entries from despite errors is kept, with a warning; one it could read nothing from is an error.
    """
    data = path.read_bytes()
    try:
        parsed = feedparser.parse(io.BytesIO(data))
    except Exception as err:  # feedparser should not raise, but a library failure must still name the file
        raise ArticleError(path, f"not a readable feed ({_library_error(err)})") from None
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    malformed = isinstance(problem, xml.sax.SAXException)  # other reasons (an encoding override) are benign
    line, why = _xml_problem(data, problem) if malformed else (None, "")
    if not parsed.get("version"):
        if path.suffix.lower() == ".xml":
            raise SkippedArticle(path, "not an RSS or Atom feed")
        raise ArticleError(path, "not an RSS or Atom feed" + why, line)
    if malformed and not parsed.entries:
        raise ArticleError(path, "malformed feed" + why, line)
    if malformed:
        logger.warning("%s:%s: malformed feed read leniently%s", path, line, why)
    return parsed


def _xml_problem(data: bytes, problem: xml.sax.SAXException) -> tuple[int | None, str]:
    """The line of an XML error in the file (feedparser adds a declaration line when it has none) and its text."""
    line = problem.getLineNumber() if isinstance(problem, xml.sax.SAXParseException) else None
    if line is not None and not data.removeprefix(b"\xef\xbb\xbf").startswith(b"<?xml"):
        line = max(line - 1, 1)
    return line, f" ({problem.getMessage()})"


def _entry_text(entry: feedparser.FeedParserDict) -> tuple[str, bool]:
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


def _entry_date(entry: feedparser.FeedParserDict) -> str | None:
    """When the entry was published (else last updated), in UTC as feedparser normalizes it."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return normalize_date(datetime(*parsed[:6], tzinfo=timezone.utc).isoformat())


def _entry_document(entry: feedparser.FeedParserDict, stem: str, source: str | None, path: Path,
                    text: str, summary_only: bool) -> Document:
    key = entry.get("id") or entry.get("link") or f"{entry.get('title', '')}\n{text}"
    tag = next((t.get("label") or t.get("term") for t in entry.get("tags") or () if t.get("label") or t.get("term")),
               None)
    metadata = {"url": entry.get("link"), "published": _entry_date(entry), "source": source, "section": tag,
                "author": entry.get("author")}
    return Document(
        id=f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:10]}",
        title=" ".join((entry.get("title") or "").split()) or text.split("\n", 1)[0][:120],
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
        text, summary_only = _entry_text(entry)
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


def _record_to_document(path: Path, record: object, default_id: str, line: int | None) -> Document:
    if not isinstance(record, dict):
        raise ArticleError(path, f"expected an object with 'title' and 'text', got {type(record).__name__}", line)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError(path, "record has no 'text' (a non-empty string is required)", line)
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise ArticleError(path, "'title' must be a string", line)
    doc_id = record.get("id")
    if doc_id is not None and not isinstance(doc_id, (str, int)):
        raise ArticleError(path, "'id' must be a string or a number", line)
    text = text.replace("\r\n", "\n")
    return Document(
        id=str(doc_id) if doc_id not in (None, "") else default_id,
        title=(title or "").strip() or text.strip().split("\n", 1)[0][:120],
        text=text,
        path=str(path),
        **_metadata(path, record, line),
    )


def _content_id(stem: str, record: dict) -> str:
    digest = hashlib.sha1(f"{record.get('title', '')}\n{record.get('text', '')}".encode()).hexdigest()[:10]
    return f"{stem}-{digest}"


def _load_jsonl(path: Path, stem: str) -> list[Document]:
    documents = []
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ArticleError(path, f"invalid JSON: {err.msg} (column {err.colno})", number) from None
        default_id = _content_id(stem, record) if isinstance(record, dict) else stem
        documents.append(_record_to_document(path, record, default_id, number))
    if not documents:
        raise ArticleError(path, "the file holds no records")
    return documents


def _load_json(path: Path, stem: str) -> list[Document]:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ArticleError(path, f"invalid JSON: {err.msg} (column {err.colno})", err.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("documents"), list):
        data = data["documents"]
    records = data if isinstance(data, list) else [data]
    if not records:
        raise ArticleError(path, "the file holds no records")
    documents = []
    for index, record in enumerate(records):
        default_id = stem if len(records) == 1 else (_content_id(stem, record) if isinstance(record, dict) else stem)
        try:
            documents.append(_record_to_document(path, record, default_id, None))
        except ArticleError as err:
            raise ArticleError(path, f"record {index}: {err.reason}") from None
    return documents


def load_file(path: Path, root: Path | None = None, *, skipped: list[SkippedFile] | None = None) -> list[Document]:
    """Read one article file; ids default to the path relative to `root`, slugified.

    Raises `SkippedArticle` for a file with nothing to index; feed entries without text are
    appended to `skipped` (and logged) while the rest of the feed is read.
    """
    relative = path.relative_to(root) if root is not None and path != root else Path(path.name)
    stem = slugify(str(relative.with_suffix("")))
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        return [_load_plain(path, stem)]
    if suffix in (".html", ".htm"):
        return [_load_html(path, stem)]
    if suffix == ".pdf":
        return [_load_pdf(path, stem)]
    if suffix in (".rss", ".atom", ".xml"):
        return _load_feed(path, stem, skipped)
    if suffix == ".jsonl":
        return _load_jsonl(path, stem)
    if suffix == ".json":
        return _load_json(path, stem)
    raise ArticleError(path, f"unsupported file type {suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def load_articles(paths: list[Path | str], *, skipped: list[SkippedFile] | None = None) -> list[Document]:
    """Read files and folders (recursively, skipping hidden and unsupported files).

    Raises `ArticleError` for the first malformed file or for a duplicate id. A file with
    nothing to index (a scanned PDF, an `.xml` file that is no feed) or a feed entry without
    text is not indexed: it is logged as a warning and, when `skipped` is given, appended to it
    as a `SkippedFile`, so the build can name it.
    """
    documents: list[Document] = []
    seen: dict[str, str] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            root = path
        elif path.is_file():
            files, root = [path], path.parent
        else:
            raise ArticleError(path, "no such file or folder")
        for file in files:
            try:
                loaded = load_file(file, root, skipped=skipped)
            except SkippedArticle as err:
                _report(skipped, SkippedFile(err.path, err.reason))
                continue
            for document in loaded:
                if document.id in seen:
                    raise ArticleError(file, f"duplicate document id {document.id!r} (also in {seen[document.id]})")
                seen[document.id] = str(file)
                documents.append(document)
    return documents
