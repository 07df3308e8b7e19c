"""Saved web pages (.html, .htm): only the article, through trafilatura, with the page's metadata.

Menus, related links, comments, cookie banners and footers are not indexed; the page's
title, date, author, site and section are kept.
"""

from __future__ import annotations

from pathlib import Path

import lxml.html
import trafilatura

from qa.ingestion.common import TITLE_CHARS, ArticleError, _clean_lines, _guessed_date, _library_error
from qa.ingestion.markup import _collapse_markup
from qa.types import Document, SkippedFile

# Tried in order until one finds text. On the saved pages in tests/fixtures/pages precision, balanced and
# recall extract the same text; on a short page the balanced mode "rescues" the extraction with a dump of
# the whole page, menus included, so precision goes first. Balanced is the fallback: its cascade (readability,
# jusText, baseline) finds what precision does not, such as an article only in JSON-LD `articleBody`.
_EXTRACTION_MODES: tuple[dict[str, bool], ...] = ({"favor_precision": True}, {})


def _parse_page(data: bytes, path: Path | str) -> lxml.html.HtmlElement:
    """The page's HTML tree; trafilatura decodes the bytes by the page's declared or detected charset."""
    try:
        tree = trafilatura.load_html(data)
    except Exception as err:  # a parser's failure on one bad page must name the page, not end the build
        raise ArticleError(path, f"not a readable HTML page ({_library_error(err)})") from None
    if tree is None:
        raise ArticleError(path, "the page has no article text")
    _collapse_markup(tree)
    return tree


def _extract_page(path: Path | str, tree: lxml.html.HtmlElement) -> trafilatura.settings.Document:
    """The main text and metadata of a page, trying stricter modes first (see `_EXTRACTION_MODES`)."""
    for mode in _EXTRACTION_MODES:
        try:
            result = trafilatura.bare_extraction(tree, with_metadata=True, include_comments=False, **mode)
        except Exception as err:  # a parser's failure on one bad page must name the page, not end the build
            raise ArticleError(path, f"could not extract the page's text ({_library_error(err)})") from None
        if result is not None and result.text and result.text.strip():
            return result
    raise ArticleError(path, "the page has no article text")


def page_document(data: bytes, where: Path | str, document_id: str) -> Document:
    """The article of a web page's bytes (a saved file, or a page fetched from `where`, a URL):
    its main text and its title, date, author, site and section. `ArticleError` names `where`
    when the page holds no article text."""
    page = _extract_page(where, _parse_page(data, where))
    text = _clean_lines(page.text)
    if not text:
        raise ArticleError(where, "the page has no article text")
    title = " ".join((page.title or "").split()) or text.split("\n", 1)[0][:TITLE_CHARS]
    metadata = {"url": page.url, "published": _guessed_date(page.date), "source": page.sitename,
                "section": next((c for c in page.categories or () if c and c.strip()), None), "author": page.author}
    return Document(id=document_id, title=title, text=text, path=str(where),
                    **{key: value.strip() for key, value in metadata.items() if value and value.strip()})


def load(path: Path, stem: str, skipped: list[SkippedFile] | None = None) -> list[Document]:
    return [page_document(path.read_bytes(), path, stem)]
