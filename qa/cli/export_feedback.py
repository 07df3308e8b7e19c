"""Export the feedback people gave on answers as SQuAD v1.1 training data.

    newsqa export-feedback --index-dir index/built --out feedback.json
    newsqa train --base-model qa/models/reader --output-dir runs/reader-feedback \\
        --sample 2000 --extra feedback.json          # fine-tune on it (see README, "Feedback")

Reads the feedback database (`<index-dir>/feedback.sqlite3` unless NEWSQA_FEEDBACK_DB says
otherwise; written by `POST /feedback` and the page's buttons).
A 'right' verdict becomes a question whose answer is the cited span; a 'wrong' one with
a correction, the corrected span; a 'wrong' one without a correction is skipped (it says
nothing about where the answer is), and so is feedback whose article is no longer
indexed or changed at the span. The context of each question is the paragraph(s)
around the span, up to about 1,500 characters, with `answer_start` relative to it.
Prints what was exported and skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from qa.cli.common import described, log_at
from qa.config import Settings
from qa.feedback import MAX_CONTEXT_CHARS, FeedbackStore, FeedbackUnavailable, to_squad
from qa.squad import load_squad


def parser(settings: Settings, prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("--index-dir", type=Path, default=settings.index_dir, help="default: %(default)s")
    parser.add_argument("--out", type=Path, required=True, help="the SQuAD v1.1 JSON file to write")
    parser.add_argument("--max-context-chars", type=int, default=MAX_CONTEXT_CHARS,
                        help="longest context around an answer (default: %(default)s)")
    return parser


def read_feedback(path: Path) -> list:
    store = FeedbackStore(path)
    try:
        return store.all()
    finally:
        store.close()


def open_index(settings: Settings):
    from qa.embedding import Embedder
    from qa.index import NewsIndex
    from qa.stores import backend_from_settings

    return NewsIndex.open(backend_from_settings(settings), Embedder.from_settings(settings))


def write_checked(squad: dict, out: Path, exported: int) -> list[str] | None:
    """Write the export and read it back as training will; the ids that do not read back (None: all do)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(squad, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _, examples = load_squad(out)  # what training will read: every answer at its offset
    bad = [e.id for e in examples if e.context[e.answer_starts[0]:][:len(e.answers[0])] != e.answers[0]]
    return bad if bad or len(examples) != exported else None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from qa.stores.base import IndexLoadError

    args = parser(Settings(), prog).parse_args(argv)
    log_at(logging.WARNING)
    settings = Settings(index_dir=args.index_dir)
    path = settings.feedback_path()
    if not path.is_file():
        print(f"error: no feedback at {path}: none was given yet, or --index-dir is not the served index",
              file=sys.stderr)
        return 1
    try:
        records = read_feedback(path)
        index = open_index(settings)
    except (FeedbackUnavailable, IndexLoadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    squad, counts = to_squad(records, index.document, args.max_context_chars)
    bad = write_checked(squad, args.out, counts["exported"])
    if bad is not None:
        print(f"error: the export does not read back as written ({bad[:5]})", file=sys.stderr)
        return 1
    print(f"Exported {counts['exported']} questions ({counts['right']} right, {counts['corrected']} corrected) "
          f"of {counts['feedback']} feedback to {args.out}; skipped {counts['skipped_wrong_without_correction']} "
          f"wrong without a correction and {counts['skipped_stale']} whose article changed or is gone")
    return 0
