"""Plain-text and Markdown articles (.txt, .md), with optional `---` front matter."""

from __future__ import annotations

from pathlib import Path

from qa.ingestion.common import ArticleError, _metadata, _read_text, _split_front_matter
from qa.types import Document, SkippedFile


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


def load(path: Path, stem: str, skipped: list[SkippedFile] | None = None) -> list[Document]:
    return [_load_plain(path, stem)]
