"""Articles as JSON records: `.jsonl` (one object a line) and `.json` (an object, a list, or `{"documents": [...]}`).

A record is `{"id"?, "title"?, "text", "url"?, "published"?, "source"?, "section"? or "category"?, "author"?,
"summary_only"?}`; other keys are ignored (a followed feed's entry keeps its `"feed"` there).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qa.ingestion.common import TITLE_CHARS, ArticleError, _metadata, _read_text
from qa.types import Document, SkippedFile


def record_document(path: Path, record: object, default_id: str, line: int | None = None) -> Document:
    """The article a record gives, as `newsqa build` reads it; `ArticleError` (naming `path` and `line`) if none."""
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
    summary_only = record.get("summary_only", False)
    if not isinstance(summary_only, bool):
        raise ArticleError(path, "'summary_only' must be true or false", line)
    text = text.replace("\r\n", "\n")
    return Document(
        id=str(doc_id) if doc_id not in (None, "") else default_id,
        title=(title or "").strip() or text.strip().split("\n", 1)[0][:TITLE_CHARS],
        text=text,
        path=str(path),
        summary_only=summary_only,
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
        documents.append(record_document(path, record, default_id, number))
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
            documents.append(record_document(path, record, default_id, None))
        except ArticleError as err:
            raise ArticleError(path, f"record {index}: {err.reason}") from None
    return documents


def load(path: Path, stem: str, skipped: list[SkippedFile] | None = None) -> list[Document]:
    if path.suffix.lower() == ".jsonl":
        return _load_jsonl(path, stem)
    return _load_json(path, stem)
