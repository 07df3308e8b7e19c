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
