"""PDF articles through pypdf, page by page, so a citation can name its page.

A PDF with no text layer (a scan) is skipped and reported, not indexed empty.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pypdf

from qa.ingestion.common import TITLE_CHARS, ArticleError, SkippedArticle, _guessed_date, _library_error
from qa.types import Document, SkippedFile

logger = logging.getLogger(__name__)

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
    title = meta.pop("title", None) or next(line.strip() for line in text.split("\n") if line.strip())[:TITLE_CHARS]
    return Document(id=default_id, title=title, text=text, path=str(path), pages=tuple(starts), **meta)


def load(path: Path, stem: str, skipped: list[SkippedFile] | None = None) -> list[Document]:
    return [_load_pdf(path, stem)]
