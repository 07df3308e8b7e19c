"""What every article format shares: the errors, dates, ids, text reading, front matter and metadata.

Standard library only (ftfy is imported where text is repaired), so that importing `qa.ingestion`
loads none of the format parsers.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path

from qa.types import Document, SkippedFile

logger = logging.getLogger(__name__)

_FRONT_MATTER_KEYS = {"id", "title", "url", "published", "date", "source", "section", "category", "author"}
TITLE_CHARS = 120  # an article without a title takes its first line's first this many characters
_METADATA_KEYS = ("url", "published", "source", "section", "author")


def shown_title(title: str) -> str:
    """`title` as a page shows it: one derived from a long first line (cut at `TITLE_CHARS`, often in
    the middle of a word) ends at its last whole word, with an ellipsis. The stored title, which the
    API returns and the index embeds, is unchanged."""
    if len(title) < TITLE_CHARS or " " not in title:
        return title
    return title.rsplit(" ", 1)[0].rstrip(" ,;:-–—") + "…"


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
    # Written by hand, not strftime: the C library writes a year before 1000 without its leading
    # zeros ("99-01-01"), a date no reader, this one included, takes back.
    day = f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d}"
    if len(text) <= 10 or (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0) and "T" not in text:
        return day
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        day = f"{parsed.year:04d}-{parsed.month:02d}-{parsed.day:02d}"
    return f"{day}T{parsed.hour:02d}:{parsed.minute:02d}:{parsed.second:02d}Z"


def _guessed_date(value: str | None) -> str | None:
    """An extracted date, normalized; a date the file does not state readably is left out, not an error."""
    if not value:
        return None
    try:
        return normalize_date(value)
    except ValueError:
        return None


def write_atomic(path: Path, data: bytes, *, new: bool = False) -> bool:
    """`data` at `path`, whole or not at all: a hidden temporary file beside it, fsynced, then renamed
    over it. With `new`, only if no file is there yet (linked into place): False when one was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not new:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        Path(temporary).unlink(missing_ok=True)


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


def repair_encoding(document: Document) -> Document:
    """`document` with mojibake repaired in its title and text: UTF-8 that was once decoded as
    Latin-1 or Windows-1252 (`Â£197bn` for `£197bn`, `â€œ` for `“`). 1,402 pound signs of
    the BBC archive came this way. ftfy's `fix_encoding` rather than our own table: it
    recognizes every such sequence and leaves real accented text ("café", "naïve") alone.
    Only the encoding is fixed (not quotes, widths or line breaks). A PDF's page starts are
    recomputed, each page repaired on its own, so citations still name the right page."""
    from ftfy import fix_encoding

    title, raw_first_line = document.title, document.text.strip().split("\n", 1)[0]
    if title and raw_first_line.startswith(title):  # derived from the text: derive it again, so that a
        # title cut at a length is cut in the repaired text (never inside a mojibake sequence)
        first_line = fix_encoding(raw_first_line)
        title = first_line if title == raw_first_line else first_line[: len(title)]
    elif title:
        title = fix_encoding(title)
    if not document.pages:
        text = fix_encoding(document.text)
        return document if (text, title) == (document.text, document.title) else replace(
            document, text=text, title=title)
    bounds = sorted({0, *document.pages, len(document.text)})
    pieces = [fix_encoding(document.text[a:b]) for a, b in pairwise(bounds)]
    moved, position = {}, 0  # each old boundary -> where it lies in the repaired text
    for start, piece in zip(bounds, pieces):
        moved[start] = position
        position += len(piece)
    moved[len(document.text)] = position
    pages = tuple(moved[p] for p in document.pages)
    return replace(document, text="".join(pieces), title=title, pages=pages)


def _clean_lines(text: str) -> str:
    """One paragraph per line, each stripped, no empty lines: what the chunker splits sentences in."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


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
