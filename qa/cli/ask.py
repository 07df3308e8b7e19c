"""`newsqa ask "QUESTION"`: answer one question from the index and print the citations (or the
`/ask` JSON response with --json)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from qa.cli.common import days, log_at, probability, settings_from, store_option


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="answer one question and print the citations")
    parser.add_argument("question")
    parser.add_argument("--index-dir", type=Path)
    store_option(parser)
    parser.add_argument("--top-k", type=int, default=3, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--json", action="store_true", help="print the /ask JSON response")
    parser.add_argument("--min-score", type=probability, default=0.0, metavar="0..1",
                        help="drop answers under this probability (the no-answer threshold: confident only)")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="articles published on or after")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="articles published on or before")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    parser.add_argument("--section", action="append", help="only this section (repeatable)")
    parser.add_argument("--document", action="append", metavar="ID", help="only this article (repeatable)")
    parser.add_argument("--newer-first", type=days, metavar="DAYS", default=None,
                        help="order answers by score x 0.5 ** (age / DAYS), newer articles first (off by default)")
    return parser


def load_assistant(settings):
    """The live index and the assistant, loaded as the server loads them (`web.deps.load_services`)."""
    from qa.embedding import Embedder
    from qa.live import LiveIndex
    from qa.pipeline import Assistant
    from qa.reader import ExtractiveReader
    from qa.stores import backend_from_settings

    embedder = Embedder.from_settings(settings)
    live_index = LiveIndex(backend_from_settings(settings), embedder)
    live_index.load()
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    return live_index, Assistant.from_settings(live_index, reader, settings)


def filters_from(args: argparse.Namespace):
    """The options' filters, checked as the API checks them (`qa.validation`)."""
    from qa.validation import MAX_FILTER_VALUES, InvalidInput, check_day, check_filter_values, checked_filters

    values = {"sources": args.source or [], "sections": args.section or [], "document_ids": args.document or []}
    date_from, date_to = check_day(args.date_from, "date_from"), check_day(args.date_to, "date_to")
    for field, given in values.items():
        if len(given) > MAX_FILTER_VALUES:
            raise InvalidInput(f"{field} takes at most {MAX_FILTER_VALUES} values")
        check_filter_values(given, field)
    return checked_filters(date_from, date_to, **values)


def print_answers(result, newer_first: bool = False) -> None:
    """`result` as text; the less likely answers below the confident ones, unless `newer_first`
    orders all of them by date."""
    print(f"Q: {result.question}  ({result.took_ms:.0f} ms)")
    if result.message:
        print(result.message)
    elif result.no_answer and result.answers:
        print("The archive may not answer this. Best guesses:")
    elif result.no_answer:
        print("No answer in the indexed articles.")
    elif result.several_articles:
        print("The articles differ: each answer with its article, newest first where dated.")
    answers, less_likely = result.shown(newer_first)
    for rank, answer in enumerate(answers + less_likely, 1):
        if less_likely and rank == len(answers) + 1:
            print("Less likely, but also found in the archive:")
        hedge = "" if answer.confident else ", not confident"
        print(f"{rank}. {answer.text}  [{answer.score:.0%}{hedge}]")
        meta = "".join(f", {value}" for value in (answer.source, answer.published, answer.section) if value)
        page = f", page {answer.page}" if answer.page else ""
        print(f"   {answer.title[:80]} ({answer.document_id}{meta}{page}, characters {answer.start}-{answer.end})")
        print(f"   \"{answer.context}\"")
        if answer.supporting:
            print(f"   {answer.agreeing_articles} articles agree: "
                  + "; ".join(f"{s.document_id} ({s.start}-{s.end})" for s in answer.supporting))


def ask(args: argparse.Namespace) -> int:
    from qa.validation import clean_question

    settings = settings_from(args, index_dir="index_dir", store="store")
    live_index, assistant = load_assistant(settings)
    index = live_index.get()
    if index is None:
        print(f"error: {live_index.error}; build one with "
              f"`newsqa build --index-dir {settings.index_dir}`", file=sys.stderr)
        return 2
    try:
        question = clean_question(args.question)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        filters = filters_from(args)
    except ValueError as err:
        print(f"error: bad filter: {err}", file=sys.stderr)
        return 2
    result = assistant.ask(question, args.top_k, index=index, min_score=args.min_score, filters=filters,
                           recency_half_life_days=args.newer_first)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_answers(result, newer_first=args.newer_first is not None)
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parser(prog).parse_args(argv)
    log_at(logging.WARNING)
    return ask(args)
