"""Adding one article to a running archive: from the browser form or `POST /documents`.

The article is written as a file into the archive folder (`<first NEWSQA_ARTICLES
folder>/added/`), then indexed with the same code path as `newsqa build --add`:
`load_file` with the archive folder as root (so the id is the one a later sync derives)
and `sync_index(upserts=...)`, which embeds only the new chunks and swaps a new version
in atomically. The server then loads that version at once. Because the file lives in the
archive folder, the next full sync keeps the article instead of removing it.

An add is all or nothing, even when the server is killed half-way: a hidden marker
(`added/.<name>.adding`, naming the process) is written before the file and removed once the
article is in the current version or the file is gone again. At the next start,
`finish_interrupted_adds` looks at the markers left by dead processes: an article the index
holds stays, any other file is removed (its client never got an answer).

Pasted text is saved as Markdown with `---` front matter (title, published, source,
section, author, url); an uploaded file is saved as it came, under a safe name, and
its metadata comes from the file itself (HTML metadata, PDF properties, front matter).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from qa.index import NewsIndex
from qa.ingestion import SUPPORTED_SUFFIXES, ArticleError, load_file, normalize_date, slugify
from qa.ingestion.common import write_atomic
from qa.stores.base import IndexWriteError, write_failure
from qa.sync import sync_index
from qa.types import Document, SkippedFile

LOG = logging.getLogger(__name__)
ADDED_FOLDER = "added"
MARKER_SUFFIX = ".adding"
NOT_ADDED = "; the article was not added"  # closes the message of a write error while adding


class AddArticleError(ValueError):
    """The article cannot be added; the message says why. Raised as is, the article itself is at fault
    (no title, an unreadable date, a file that holds no article); see `ArticleConflict` for the rest."""


class ArticleConflict(AddArticleError):
    """The article cannot be added because of the archive's state: no archive folder, an index that cannot be
    written, an id another article already uses."""


@dataclass(frozen=True)
class AddedArticle:
    document_ids: list[str]
    version: str | None  # the index version that holds it (None: it was already there, unchanged)
    embedded_chunks: int
    seconds: float


def archive_folder(articles: list[Path]) -> Path:
    """The archive folder: the first configured article folder that exists (added articles go to its
    `added/`, followed feeds' entries to its `feeds/`)."""
    for path in articles:
        if Path(path).is_dir():
            return Path(path)
    raise ArticleConflict("no article folder is configured (NEWSQA_ARTICLES names no folder), so there is no "
                          "place to keep an added article")


def _single_line(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    if "\n" in value or "\r" in value:
        raise AddArticleError(f"{name} must be one line")
    return value.strip()


def pasted_article(title: str, text: str, *, published: str | None = None, source: str | None = None,
                   section: str | None = None, author: str | None = None, url: str | None = None) -> tuple[str, bytes]:
    """A Markdown file (name, bytes) with front matter for pasted text."""
    fields = {"title": _single_line(title, "title"), "published": _single_line(published, "published"),
              "source": _single_line(source, "source"), "section": _single_line(section, "section"),
              "author": _single_line(author, "author"), "url": _single_line(url, "url")}
    if not fields["title"]:
        raise AddArticleError("an added article needs a title")
    if not text or not text.strip():
        raise AddArticleError("an added article needs its text")
    if fields["published"]:
        try:
            fields["published"] = normalize_date(fields["published"])
        except ValueError as err:
            raise AddArticleError(f"published: {err}") from None
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"
    header = "".join(f"{key}: {value}\n" for key, value in fields.items() if value)
    digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:8]
    return f"{slugify(fields['title'])[:60]}-{digest}.md", f"---\n{header}---\n{body}".encode()


def uploaded_article(filename: str, data: bytes) -> tuple[str, bytes]:
    """A safe file name for an upload (its extension decides how it is read)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise AddArticleError(f"unsupported file type {suffix or '(none)'!r}: "
                              f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if not data:
        raise AddArticleError("the uploaded file is empty")
    digest = hashlib.sha1(data).hexdigest()[:8]
    return f"{slugify(Path(filename).stem)[:60]}-{digest}{suffix}", data


def add_article(name: str, data: bytes, articles: list[Path], index: NewsIndex) -> AddedArticle:
    """Save the file in the archive folder and index its articles into `index`'s store.

    A file that cannot be read as an article, or that cannot be indexed, is removed again and
    nothing is indexed; a kill half-way is undone at the next start (`finish_interrupted_adds`).
    """
    started = time.time()
    root = archive_folder(articles)
    folder = root / ADDED_FOLDER
    path = folder / name
    marker = folder / f".{name}{MARKER_SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        if not existed:
            write_atomic(marker, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        write_atomic(path, data)
    except OSError as err:
        marker.unlink(missing_ok=True)
        raise write_failure(err, folder, "the article") from err
    try:
        documents = _read(path, root, index)
        if index.backend is None:
            raise ArticleConflict("this index cannot be written to")
        chunking = index.manifest.get("chunking") or {}
        try:
            summary = sync_index(index.backend, index.embedder, upserts=documents, **chunking)
        except ValueError as err:  # e.g. no usable current version to change article by article
            raise ArticleConflict(f"the article cannot be added now: {err}") from None
        except IndexWriteError as err:
            raise type(err)(f"{err}{NOT_ADDED}") from err
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)  # nothing half-added: the next sync must not find it either
        raise
    finally:
        marker.unlink(missing_ok=True)
    return AddedArticle([d.id for d in documents], summary.version, summary.embedded_chunks,
                        round(time.time() - started, 2))


def finish_interrupted_adds(articles: list[Path], index: NewsIndex | None) -> list[str]:
    """Settle the adds a killed process left half-done (see the module docstring); returns the
    names of the files removed. Call at start-up with the index being served: with no index
    (none built, or its store unreachable) nothing can be told, so the markers wait."""
    try:
        folder = archive_folder(articles) / ADDED_FOLDER
    except ArticleConflict:
        return []
    if index is None or not folder.is_dir():
        return []
    removed = []
    for marker in sorted(folder.glob(f".*{MARKER_SUFFIX}")):
        if _writer_may_be_running(marker):
            continue
        path = folder / marker.name[1: -len(MARKER_SUFFIX)]
        if path.exists() and not _indexed(path, folder.parent, index):
            path.unlink(missing_ok=True)
            removed.append(path.name)
            LOG.warning("removed %s: its add was interrupted before the article was indexed", path)
        marker.unlink(missing_ok=True)
    return removed


def _writer_may_be_running(marker: Path) -> bool:
    """Whether the process that wrote `marker` may still be adding (alive here, or on another host)."""
    try:
        writer = json.loads(marker.read_text())
        pid, host = int(writer["pid"]), str(writer["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: killed while it was being written, before its article was
    if host != socket.gethostname():
        return True  # a replica on another machine over a shared folder: its own start settles it
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and another user's
    return True


def _indexed(path: Path, root: Path, index: NewsIndex) -> bool:
    try:
        documents = load_file(path, root)
    except ArticleError:
        return False
    return bool(documents) and all(
        (stored := index.document(d.id)) is not None and stored.path is not None
        and Path(stored.path).resolve() == path.resolve() for d in documents)


def _read(path: Path, root: Path, index: NewsIndex) -> list[Document]:
    """The file's articles, refused when it holds none, repeats an id, or claims the id of an
    article that came from another file (an upload must not replace someone else's article)."""
    skipped: list[SkippedFile] = []
    try:
        documents = load_file(path, root, skipped=skipped)
    except ArticleError as err:
        raise AddArticleError(f"the file was not indexed: {err.reason}") from None
    if not documents:
        raise AddArticleError(f"the file was not indexed: {skipped[0].reason if skipped else 'it holds no article'}")
    ids = [d.id for d in documents]
    if len(set(ids)) != len(ids):
        raise AddArticleError("the file gives the same article id twice")
    for document in documents:
        stored = index.document(document.id)
        if stored is not None and (stored.path is None or Path(stored.path).resolve() != path.resolve()):
            raise ArticleConflict(f"the id {document.id!r} is already used by another article; give this one "
                                  "another id (or none)")
    return documents
