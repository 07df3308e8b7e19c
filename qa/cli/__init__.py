"""Command line (`newsqa`, or `python -m qa`): serve the web app, answer once, build the index,
evaluate, calibrate and train the reader, and the tools around them.

    newsqa serve --index-dir index/built --host 127.0.0.1 --port 8000
    newsqa ask "Who requested the meeting?" [--top-k 3] [--json]
    newsqa build [--articles PATH ...] [--index-dir DIR]
    newsqa evaluate FILE [--mode reader|pipeline|retrieval]
    newsqa calibrate | train | export-feedback | export-onnx | average-readers ...

Each subcommand is a module of `qa.cli` with its own options (`newsqa build --help`) and a
`main(argv)`; the project's command-line files only call those. Nothing here needs the source
checkout: an installed wheel runs every subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# subcommand -> (module of qa.cli, one line for --help). Every module has `main(argv, prog) -> int`
# that parses the subcommand's own arguments, --help included; modules are imported only when run.
COMMANDS = {
    "serve": ("serve", "serve the web app and the JSON API"),
    "ask": ("ask", "answer one question and print the citations"),
    "build": ("build", "build or update the index (`build --help` lists its options)"),
    "evaluate": ("evaluate", "evaluate the reader or the pipeline on a SQuAD file (`evaluate --help` lists its "
                             "options)"),
    "calibrate": ("calibrate", "fit the reader's answer probability and confidence threshold"),
    "train": ("train", "fine-tune the extractive reader"),
    "export-feedback": ("export_feedback", "export the feedback given on answers as SQuAD training data"),
    "export-onnx": ("export_onnx", "export the reader to int8 ONNX for fast CPU inference"),
    "average-readers": ("average_readers", "average the weights of readers fine-tuned from one start"),
}


def prog() -> str:
    return "newsqa" if Path(sys.argv[0]).name == "newsqa" else "python -m qa"


def _overview() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, add_help=False, help=summary)  # listed only: main() hands argv to the module
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:  # every argument after it, --help included, is the subcommand's
        module = importlib.import_module(f"qa.cli.{COMMANDS[argv[0]][0]}")
        return module.main(argv[1:], prog=f"{prog()} {argv[0]}")
    _overview().parse_args(argv)  # --help, or the error that names the missing or unknown command
    return 2
