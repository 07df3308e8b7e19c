#!/usr/bin/env python
"""Export the feedback people gave on answers as SQuAD v1.1 training data.

    python scripts/export_feedback.py --index-dir index/built --out feedback.json
    python scripts/train_reader.py --base-model qa/models/reader --output-dir runs/reader-feedback \\
        --sample 2000 --extra feedback.json          # fine-tune on it (see README, "Feedback")

Reads `<index-dir>/feedback.sqlite3` (written by `POST /feedback` and the page's buttons).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import Settings  # noqa: E402
from qa.feedback import FEEDBACK_FILE, MAX_CONTEXT_CHARS, FeedbackStore, FeedbackUnavailable, to_squad  # noqa: E402
from qa.index import Embedder, IndexLoadError, NewsIndex  # noqa: E402
from qa.squad import load_squad  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=settings.index_dir, help="default: %(default)s")
    parser.add_argument("--out", type=Path, required=True, help="the SQuAD v1.1 JSON file to write")
    parser.add_argument("--max-context-chars", type=int, default=MAX_CONTEXT_CHARS,
                        help="longest context around an answer (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    path = args.index_dir / FEEDBACK_FILE
    if not path.is_file():
        print(f"error: no feedback at {path}: none was given yet, or --index-dir is not the served index",
              file=sys.stderr)
        return 1
    store = FeedbackStore(path)
    try:
        records = store.all()
    except FeedbackUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        store.close()
    try:
        index = NewsIndex.load(args.index_dir, Embedder.from_settings(settings))
    except IndexLoadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    squad, counts = to_squad(records, index.document, args.max_context_chars)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(squad, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _, examples = load_squad(args.out)  # what training will read: every answer at its offset
    bad = [e.id for e in examples if e.context[e.answer_starts[0]:][:len(e.answers[0])] != e.answers[0]]
    if bad or len(examples) != counts["exported"]:
        print(f"error: the export does not read back as written ({bad[:5]})", file=sys.stderr)
        return 1
    print(f"Exported {counts['exported']} questions ({counts['right']} right, {counts['corrected']} corrected) "
          f"of {counts['feedback']} feedback to {args.out}; skipped {counts['skipped_wrong_without_correction']} "
          f"wrong without a correction and {counts['skipped_stale']} whose article changed or is gone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
