"""Reading articles from disk: .txt, .md, .html/.htm, .pdf, .json, .jsonl and RSS/Atom feeds.

Every loader returns `Document`s whose `text` is stored exactly as indexed; all
offsets the system returns refer to it. Each format has its own module, imported only
when a file of that format is read, so importing this package loads none of the
parsers (trafilatura, lxml, pypdf, feedparser):

- `text`: .txt and .md, with optional `---` front matter;
- `html`: saved web pages through trafilatura, so only the article is indexed (not menus,
  related links, comments, cookie banners or footers) with the page's title, date, author,
  site and section;
- `pdf`: PDFs through pypdf, page by page, so a citation can name its page;
- `feeds`: `.rss`, `.atom`, and `.xml` files that are feeds, through feedparser, one document per entry;
- `records`: `.json` and `.jsonl` records.

Text that was decoded with the wrong character set before it reached us ("mojibake": `Â£5m`
for `£5m`, `â€™` for `’`) is repaired as it is read (`repair_encoding`), so answers, titles and
highlights show what the author wrote.

A malformed file raises `ArticleError` naming the file (and the line, where there is
one), so a rebuild can stop before it touches the served index. A file that is fine
but holds nothing to index (a scanned PDF with no text layer, an `.xml` file that is
not a feed, a feed whose entries have no text) raises `SkippedArticle` instead:
`load_articles` reports it as a `SkippedFile` and goes on.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from qa.ingestion.common import ArticleError, SkippedArticle, _report, normalize_date, repair_encoding, slugify
from qa.types import Document, SkippedFile

__all__ = ["SUPPORTED_SUFFIXES", "ArticleError", "SkippedArticle", "article_files", "load_articles", "load_file",
           "normalize_date", "slugify"]

# suffix -> the module of qa.ingestion that reads it (each exposes `load(path, stem, skipped)`)
_FORMATS = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "records",
            ".jsonl": "records", ".rss": "feeds", ".atom": "feeds", ".xml": "feeds"}
SUPPORTED_SUFFIXES = tuple(_FORMATS)


def load_file(path: Path, root: Path | None = None, *, skipped: list[SkippedFile] | None = None) -> list[Document]:
    """Read one article file; ids default to the path relative to `root`, slugified.

    Raises `SkippedArticle` for a file with nothing to index; feed entries without text are
    appended to `skipped` (and logged) while the rest of the feed is read.
    """
    relative = path.relative_to(root) if root is not None and path != root else Path(path.name)
    stem = slugify(str(relative.with_suffix("")))
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ArticleError(path, f"unsupported file type {suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    reader = importlib.import_module(f"{__name__}.{_FORMATS[suffix]}")
    return [repair_encoding(document) for document in reader.load(path, stem, skipped)]


def article_files(path: Path) -> tuple[list[Path], Path]:
    """The supported files under a folder (recursively, hidden ones left out) or the file itself, and their root."""
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        return files, path
    if path.is_file():
        return [path], path.parent
    raise ArticleError(path, "no such file or folder")


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
        files, root = article_files(Path(raw))
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
