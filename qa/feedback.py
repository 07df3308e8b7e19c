"""People's verdicts on answers ("right" / "wrong", with the span that is right), kept for
fine-tuning the reader.

Feedback lives in one SQLite file, by default next to the index (`<index_dir>/feedback.sqlite3`;
`NEWSQA_FEEDBACK_DB` puts it elsewhere, see `Settings.feedback_path`), outside the version
folders, so rebuilds and their pruning never touch it. Each row
records the answer exactly as cited (document id and character offsets), so that
`scripts/export_feedback.py` can turn it into SQuAD training data later; the index and
reader versions it was given against say which archive and which weights it judged.

Durability: WAL journal with `synchronous=FULL`, one transaction per write, so a
feedback whose write has returned survives the process being killed and the machine
losing power. One connection, opened on first use and shared under a lock: writes are
rare and short, and a lock is simpler than a connection per worker thread.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from qa.config import FEEDBACK_FILE
from qa.types import Document

VERDICTS = ("right", "wrong")
MAX_NOTE_CHARS = 2000
_QUOTED = 80  # characters of article text quoted in an error message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    document_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong')),
    corrected_start INTEGER,
    corrected_end INTEGER,
    corrected_text TEXT,
    created_at TEXT NOT NULL,
    index_version TEXT,
    model_version TEXT,
    note TEXT
)
"""


class FeedbackError(ValueError):
    """Feedback that cannot be stored, and why (offsets that do not cite the article, ...)."""


class UnknownDocumentError(FeedbackError):
    """The feedback cites an article the index does not hold."""


class FeedbackUnavailable(RuntimeError):
    """The feedback file cannot be opened or written (a read-only or full disk): the service is
    unavailable for now, not a bug."""


@dataclass(frozen=True)
class Feedback:
    """One verdict on one cited answer. `corrected_*` is the span the person selected as right
    (only with verdict 'wrong'); `id` and `created_at` are set when it is stored."""

    question: str
    answer: str
    document_id: str
    start: int
    end: int
    verdict: str
    corrected_start: int | None = None
    corrected_end: int | None = None
    corrected_text: str | None = None
    note: str | None = None
    index_version: str | None = None
    model_version: str | None = None
    id: int | None = None
    created_at: str | None = None

    @property
    def training_span(self) -> tuple[int, int, str] | None:
        """(start, end, text) of the right answer, as far as this feedback says; None when unknown."""
        if self.verdict == "right":
            return self.start, self.end, self.answer
        if self.corrected_start is not None and self.corrected_end is not None and self.corrected_text:
            return self.corrected_start, self.corrected_end, self.corrected_text
        return None

    def to_dict(self) -> dict:
        return asdict(self)


def _quote(text: str) -> str:
    return repr(text if len(text) <= _QUOTED else text[:_QUOTED] + "…")


def validate(feedback: Feedback, document: Document | None) -> Feedback:
    """`feedback` checked against the article it cites, with `corrected_text` filled in.

    Offsets must cite the article as indexed: the answer must be exactly
    `document.text[start:end]`, so that the exported training span is what the person saw.
    Raises FeedbackError (UnknownDocumentError for an article the index does not hold) with the reason.
    """
    if feedback.verdict not in VERDICTS:
        raise FeedbackError(f"verdict must be 'right' or 'wrong', not {feedback.verdict!r}")
    if document is None:
        raise UnknownDocumentError(f"no document with id {feedback.document_id!r}")
    text, length = document.text, len(document.text)
    if not 0 <= feedback.start < feedback.end <= length:
        raise FeedbackError(f"start and end must satisfy 0 <= start < end <= {length} (the article's length); "
                            f"got {feedback.start} and {feedback.end}")
    if text[feedback.start:feedback.end] != feedback.answer:
        raise FeedbackError(f"answer {_quote(feedback.answer)} is not the article's text at {feedback.start}-"
                            f"{feedback.end}, which is {_quote(text[feedback.start:feedback.end])}")
    if feedback.note is not None and len(feedback.note) > MAX_NOTE_CHARS:
        raise FeedbackError(f"note is longer than {MAX_NOTE_CHARS} characters")
    corrected = (feedback.corrected_start, feedback.corrected_end)
    if corrected == (None, None):
        return replace(feedback, corrected_text=None)
    if None in corrected:
        raise FeedbackError("corrected_start and corrected_end go together: send both or neither")
    if feedback.verdict != "wrong":
        raise FeedbackError("a corrected span goes with verdict 'wrong'")
    start, end = corrected
    if not 0 <= start < end <= length:
        raise FeedbackError(f"corrected_start and corrected_end must satisfy 0 <= start < end <= {length} "
                            f"(the article's length); got {start} and {end}")
    if not text[start:end].strip():
        raise FeedbackError("the corrected span is only whitespace")
    return replace(feedback, corrected_text=text[start:end])


def find_span(text: str, wanted: str, near: int) -> tuple[int, int] | None:
    """Where `wanted` (text a person pasted) occurs in `text`, the occurrence nearest `near`.

    Whitespace between words may differ (a pasted line break, a squeezed space), and
    case only when no occurrence matches it exactly. None when it does not occur.
    """
    words = wanted.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(word) for word in words)
    for flags in (0, re.IGNORECASE):
        spans = [match.span() for match in re.finditer(pattern, text, flags)]
        if spans:
            return min(spans, key=lambda span: (abs(span[0] - near), span[0]))
    return None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


_COLUMNS = tuple(f.name for f in fields(Feedback) if f.name != "id")


@contextmanager
def _unavailable_on_error(path: Path):
    """SQLite and file-system failures as `FeedbackUnavailable`, which says what failed."""
    try:
        yield
    except (sqlite3.Error, OSError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err  # no server paths in the text
        raise FeedbackUnavailable(f"the feedback file {path.name} could not be written or read: {reason}") from err


class FeedbackStore:
    """Feedback in a SQLite file. Thread-safe; the file is created on the first write or read."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @classmethod
    def for_index(cls, index_dir: str | Path) -> FeedbackStore:
        return cls(Path(index_dir) / FEEDBACK_FILE)

    def _connect(self) -> sqlite3.Connection:
        """The shared connection (the caller holds the lock), opened and set up on first use."""
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
                connection.execute(_SCHEMA)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def add(self, feedback: Feedback) -> Feedback:
        """Store `feedback` (validated by the caller) in one transaction; returns it with id and time."""
        stored = replace(feedback, created_at=feedback.created_at or utc_now())
        values = [getattr(stored, name) for name in _COLUMNS]
        columns = ", ".join(f'"{name}"' for name in _COLUMNS)
        with self._lock, _unavailable_on_error(self.path):
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                cursor = connection.execute(
                    f"INSERT INTO feedback ({columns}) VALUES ({', '.join('?' * len(_COLUMNS))})", values)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        return replace(stored, id=cursor.lastrowid)

    def all(self) -> list[Feedback]:
        """Every stored feedback, oldest first."""
        columns = ", ".join(f'"{name}"' for name in ("id", *_COLUMNS))
        with self._lock, _unavailable_on_error(self.path):
            rows = self._connect().execute(f"SELECT {columns} FROM feedback ORDER BY id").fetchall()
        return [Feedback(**dict(zip(("id", *_COLUMNS), row))) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


# -- export as SQuAD training data ----------------------------------------------------------
MAX_CONTEXT_CHARS = 1500  # about a reader window or two: the paragraph(s) around the answer


def context_window(text: str, start: int, end: int, max_chars: int = MAX_CONTEXT_CHARS) -> tuple[int, int]:
    """The stretch of `text` around [start, end) to train on: whole paragraphs (lines) around
    the span while they fit in `max_chars`, or a cut of one long paragraph at word boundaries.

    Paragraphs rather than the whole article so that each example looks like what the
    reader reads (a passage), with the answer somewhere inside, not always centred.
    """
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi < 0 else hi
    if hi - lo > max_chars:  # one long paragraph: a window around the span, cut at spaces
        width = max(max_chars, end - start)
        paragraph_start, lo = lo, max(lo, start - (width - (end - start)) // 2)
        hi = min(hi, lo + width)
        lo = max(paragraph_start, hi - width)
        if lo < start and (space := text.find(" ", lo, start)) >= 0:
            lo = space + 1
        if hi > end and (space := text.rfind(" ", end, hi)) >= 0:
            hi = space
        return lo, hi
    while True:  # grow by whole paragraphs, the shorter neighbour first, while they fit
        options = []
        if lo > 0:  # text[lo - 1] is the newline that ends the paragraph before
            before = text.rfind("\n", 0, lo - 1) + 1
            options.append((lo - before, before, hi))
        if hi < len(text):  # text[hi] is the newline that starts the paragraph after
            after = text.find("\n", hi + 1)
            after = len(text) if after < 0 else after
            options.append((after - hi, lo, after))
        fitting = [option for option in options if option[2] - option[1] <= max_chars]
        if not fitting:
            return lo, hi
        _, lo, hi = min(fitting)


def to_squad(records: list[Feedback], document: Callable[[str], Document | None],
             max_chars: int = MAX_CONTEXT_CHARS) -> tuple[dict, dict]:
    """SQuAD v1.1 JSON of the feedback that names a right answer, and counts of what was left out.

    `document` maps an id to the article (`NewsIndex.document`). A 'right' verdict trains
    on the cited answer, a corrected 'wrong' on the corrected span; a 'wrong' without a
    correction says nothing about where the answer is and is skipped, as is feedback on
    an article that is gone or whose text changed at the span since (stale).
    """
    counts = {"feedback": len(records), "exported": 0, "right": 0, "corrected": 0,
              "skipped_wrong_without_correction": 0, "skipped_stale": 0}
    articles: dict[str, dict] = {}
    paragraphs: dict[tuple[str, str], dict] = {}
    for record in records:
        span = record.training_span
        if span is None:
            counts["skipped_wrong_without_correction"] += 1
            continue
        start, end, answer = span
        article = document(record.document_id)
        if article is None or article.text[start:end] != answer:
            counts["skipped_stale"] += 1
            continue
        lo, hi = context_window(article.text, start, end, max_chars)
        context = article.text[lo:hi]
        assert context[start - lo:end - lo] == answer  # the span's offsets hold in the exported context
        key = (record.document_id, context)
        if key not in paragraphs:
            paragraphs[key] = {"context": context, "qas": []}
            articles.setdefault(record.document_id, {"title": article.title, "paragraphs": []})
            articles[record.document_id]["paragraphs"].append(paragraphs[key])
        paragraphs[key]["qas"].append({"id": f"feedback-{record.id}", "question": record.question,
                                       "answers": [{"text": answer, "answer_start": start - lo}]})
        counts["exported"] += 1
        counts["right" if record.verdict == "right" else "corrected"] += 1
    return {"version": "1.1", "data": list(articles.values())}, counts
