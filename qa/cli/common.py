"""What several subcommands share: the Settings their options override, the log format, and
argument types."""

from __future__ import annotations

import argparse
import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def described(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """A parser whose --help shows the module's docstring `doc` as written."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def settings_from(args: argparse.Namespace, **fields: str):
    """`qa.config.Settings` with the options given on the command line (`fields`: setting -> option name)
    overriding the environment's."""
    from qa.config import Settings

    overrides = {setting: getattr(args, option, None) for setting, option in fields.items()}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def log_at(level: int) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


def store_option(parser: argparse.ArgumentParser, default: str | None = None, **extra) -> None:
    """`--store`, one of the stores `qa.stores` knows."""
    from qa.stores import STORE_NAMES

    extra.setdefault("help", f"default: NEWSQA_STORE or {STORE_NAMES[0]}")
    parser.add_argument("--store", choices=list(STORE_NAMES), default=default, **extra)


def reading_options(parser: argparse.ArgumentParser, settings) -> None:
    """The reader and how many passages it reads (evaluate and calibrate ask as the server does)."""
    from pathlib import Path

    from qa.config import DEFAULT_READER_STRIDE, DEFAULT_READER_WINDOW

    parser.add_argument("--reader-model", type=Path, default=settings.reader_model)
    parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"], default=settings.reader_backend)
    parser.add_argument("--passages", type=int, default=settings.passages_to_read, help="passages read per question")
    parser.add_argument("--first-read", type=int, default=settings.first_read,
                        help="passages read first, the rest only when no answer among them is likely enough; 0: all")
    parser.add_argument("--first-read-enough", type=float, default=settings.first_read_enough,
                        help="the reader's answer probability among the first passages that spares the rest")
    parser.add_argument("--first-read-confident", type=float, default=settings.first_read_confident,
                        help="the calibrated probability of the answer shown first from the first passages that "
                             "also spares the rest; 0: off")
    parser.add_argument("--read-words", type=int, default=settings.read_words,
                        help="words of the window read around each retrieved chunk (qa.reading); 0: the chunk")
    parser.add_argument("--read-budget", type=int, default=settings.read_budget_words,
                        help="words read per question at most; 0: no budget")
    parser.add_argument("--read-min-article-words", type=int, default=settings.read_min_article_words,
                        help="windows only in articles of at least this many words (shorter ones: the chunk); "
                             "0: every article")
    parser.add_argument("--story-chunks", type=int, default=settings.story_chunks,
                        help="chunks of the best passage's article, searched alone, read with the first passages "
                             "(qa.reading.with_story_chunks); 0: off")
    parser.add_argument("--window", type=int, default=DEFAULT_READER_WINDOW, metavar="96..512",
                        help="tokens per reader window, question included (an ablation knob: the server reads "
                             "as the default does)")
    parser.add_argument("--stride", type=int, default=DEFAULT_READER_STRIDE,
                        help="tokens two windows of one long passage share (under half the window)")


def reading_choices(args: argparse.Namespace) -> dict:
    """The `Assistant` arguments that `reading_options` parsed: how many passages are read, which first,
    and what around them."""
    return {"passages_to_read": args.passages, "first_read": args.first_read,
            "first_read_enough": args.first_read_enough, "first_read_confident": args.first_read_confident,
            "read_words": args.read_words, "read_budget_words": args.read_budget,
            "read_min_article_words": args.read_min_article_words,
            "story_chunks": args.story_chunks}


def reader_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """`ExtractiveReader`'s window arguments from --window and --stride, checked."""
    if not 96 <= args.window <= 512:  # the question needs room, and the model has 512 positions
        parser.error(f"--window must be from 96 to 512 tokens, not {args.window}")
    if not 0 <= args.stride < args.window // 2:
        parser.error(f"--stride must be at least 0 and under half of --window ({args.window // 2})")
    return {"max_length": args.window, "stride": args.stride}


def chunking_options(parser: argparse.ArgumentParser) -> None:
    """--max-words and --overlap-sentences, defaulting to the project's chunking (qa.config)."""
    from qa.config import DEFAULT_CHUNK_WORDS, DEFAULT_OVERLAP_SENTENCES

    parser.add_argument("--max-words", type=int, default=DEFAULT_CHUNK_WORDS, help="chunk size in words")
    parser.add_argument("--overlap-sentences", type=int, default=DEFAULT_OVERLAP_SENTENCES,
                        help="sentences repeated at the start of the next chunk")


def days(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if not 0 < number <= 36_500:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 36500 days")
    return number


def probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number
