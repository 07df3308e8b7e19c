"""`newsqa train`: fine-tune the extractive reader (`qa.training`; `newsqa train --help` for the options)."""

from __future__ import annotations


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from qa.training.loop import train
    from qa.training.options import parse_args

    return train(parse_args(argv, prog))
