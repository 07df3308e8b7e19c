"""Reading articles from disk: .txt, .md, .html, .json and .jsonl.

Every loader returns `Document`s whose `text` is stored exactly as indexed; all
offsets the system returns refer to it. A malformed file raises `ArticleError`
naming the file (and the line, where there is one), so a rebuild can stop before
it touches the served index.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
_FRONT_MATTER_KEYS = {"id", "title", "url", "published", "date", "source", "section", "category", "author"}
_METADATA_KEYS = ("url", "published", "source", "section", "author")


class ArticleError(ValueError):
    """A file that cannot be read as an article; the message names the file and line."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path, self.reason, self.line = str(path), reason, line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Document:
    """One article. `text` is exactly what was indexed; offsets refer to it.

    Metadata is optional and filterable: `published` is an ISO 8601 date (`2005-03-01`)
    or date-time, `source` the publication or site ("BBC News"), `section` its desk or
    category. `path` is the file the article was read from (what a sync compares).
    `pages` holds the offset where each page starts, for articles read from a PDF, so a
    citation can name its page. `summary_only` marks a feed entry indexed from its summary.
    """

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None
    source: str | None = None
    section: str | None = None
    author: str | None = None
    path: str | None = None
    pages: tuple[int, ...] | None = None
    summary_only: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.pages is not None:
            data["pages"] = list(self.pages)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        data = dict(data)
        if data.get("pages") is not None:
            data["pages"] = tuple(data["pages"])
        return cls(**data)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, for articles read from a PDF."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset) or 1

    @property
    def date(self) -> str | None:
        """`published` as `YYYY-MM-DD` (what date filters compare); a bare year or month is its first day."""
        if not self.published:
            return None
        day = self.published[:10]
        return day + "-01-01"[len(day) - 4:] if len(day) < 10 else day


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%a, %d %b %Y %H:%M:%S %z",
                 "%a, %d %b %Y %H:%M:%S %Z")


def normalize_date(value: str) -> str:
    """An ISO 8601 date or date-time from the common ways articles write dates.

    Raises ValueError for anything else: a date that cannot be read would silently fall
    out of every date filter, so it is refused with the file's name instead.
    """
    text = value.strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", text):  # a year or a month: kept as precise as it was given
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
        meta[key.strip().lower()] = value.strip().strip("\"'")
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


class _VisibleText(HTMLParser):
    """Collects the visible text of an HTML page, one line per block element."""

    _HIDDEN = {"script", "style", "head", "noscript", "template", "svg", "iframe"}
    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
               "header", "footer", "blockquote", "pre", "ul", "ol", "table", "figcaption", "main", "aside"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.hidden_depth = 0
        self.title = ""
        self.h1 = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._HIDDEN and tag != "head":
            self.hidden_depth += 1
        if tag in ("title", "h1"):
            self._in = tag
        if tag in self._BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and tag != "head" and self.hidden_depth:
            self.hidden_depth -= 1
        if tag == self._in:
            self._in = None
        if tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
            return
        if self.hidden_depth:
            return
        if self._in == "h1":
            self.h1 += data
        self.current.append(data)

    def _flush(self) -> None:
        line = " ".join("".join(self.current).split())
        if line:
            self.lines.append(line)
        self.current = []

    def result(self) -> tuple[str, str]:
        self._flush()
        title = " ".join(self.title.split()) or " ".join(self.h1.split())
        return title, "\n".join(self.lines)


def _load_html(path: Path, default_id: str) -> Document:
    parser = _VisibleText()
    parser.feed(_read_text(path))
    parser.close()
    title, text = parser.result()
    if not text.strip():
        raise ArticleError(path, "the page has no visible text")
    if not title:
        title = text.split("\n", 1)[0]
    return Document(id=default_id, title=title, text=text, path=str(path))


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


def load_file(path: Path, root: Path | None = None) -> list[Document]:
    """Read one article file; ids default to the path relative to `root`, slugified."""
    relative = path.relative_to(root) if root is not None and path != root else Path(path.name)
    stem = slugify(str(relative.with_suffix("")))
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        return [_load_plain(path, stem)]
    if suffix in (".html", ".htm"):
        return [_load_html(path, stem)]
    if suffix == ".jsonl":
        return _load_jsonl(path, stem)
    if suffix == ".json":
        return _load_json(path, stem)
    raise ArticleError(path, f"unsupported file type {suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def load_articles(paths: list[Path | str]) -> list[Document]:
    """Read files and folders (recursively, skipping hidden and unsupported files).

    Raises `ArticleError` for the first malformed file or for a duplicate id.
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
            for document in load_file(file, root):
                if document.id in seen:
                    raise ArticleError(file, f"duplicate document id {document.id!r} (also in {seen[document.id]})")
                seen[document.id] = str(file)
                documents.append(document)
    return documents
