"""Command line (`newsqa`, or `python -m qa`): serve the web app, answer once, build the index, evaluate.

    newsqa serve --index-dir index/built --host 127.0.0.1 --port 8000
    newsqa ask "Who requested the meeting?" [--top-k 3] [--json]
    newsqa build [--articles PATH ...] [--index-dir DIR]     # scripts/build_index.py
    newsqa evaluate FILE [--mode reader|pipeline|retrieval]  # scripts/evaluate.py

`build` and `evaluate` hand all their arguments to the script (`newsqa build --help`).
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import json
import logging
import sys
from pathlib import Path

from qa.config import PROJECT_ROOT, Settings

SCRIPTS_DIR = PROJECT_ROOT / "scripts"
SCRIPTS = {"build": "build_index", "evaluate": "evaluate"}  # subcommand -> scripts/<name>.py


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {
        "index_dir": args.index_dir, "reader_backend": getattr(args, "reader_backend", None),
        "store": getattr(args, "store", None),
        "host": getattr(args, "host", None), "port": getattr(args, "port", None),
    }.items() if v is not None}
    return Settings(**overrides)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: reachable from elsewhere


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from qa.app import create_app

    settings = _settings(args)
    if settings.api_key is None and not is_loopback(settings.host):
        # Without a key the endpoints that change state are open to whoever can connect.
        print(f"error: refusing to serve on {settings.host}, which other machines can reach, without an API key: "
              "set NEWSQA_API_KEY (clients send it as 'Authorization: Bearer <key>') or serve on 127.0.0.1",
              file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def ask(args: argparse.Namespace) -> int:
    from qa.services import load_services

    services = load_services(_settings(args))
    index = services.live_index.get()
    if index is None:
        print(f"error: {services.live_index.error}; build one with "
              f"`python scripts/build_index.py --index-dir {services.settings.index_dir}`", file=sys.stderr)
        return 2
    try:
        from qa.api import clean_question

        question = clean_question(args.question)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        from qa.api import FiltersIn

        filters = FiltersIn(date_from=args.date_from, date_to=args.date_to, sources=args.source or [],
                            sections=args.section or [], document_ids=args.document or []).to_filters()
    except Exception as err:  # pydantic's ValidationError or the API's HTTPException: both say why
        print(f"error: bad filter: {getattr(err, 'detail', err)}", file=sys.stderr)
        return 2
    result = services.assistant.ask(question, args.top_k, index=index, min_score=args.min_score, filters=filters,
                                    recency_half_life_days=args.newer_first)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"Q: {result.question}  ({result.took_ms:.0f} ms)")
    if result.message:
        print(result.message)
    elif result.no_answer and result.answers:
        print("The archive may not answer this. Best guesses:")
    elif result.no_answer:
        print("No answer in the indexed articles.")
    elif result.several_articles:
        print("These answers come from different articles; add a name, place or date to narrow the question.")
    for rank, answer in enumerate(result.answers, 1):
        hedge = "" if answer.confident else ", not confident"
        print(f"{rank}. {answer.text}  [{answer.score:.0%}{hedge}]")
        meta = "".join(f", {value}" for value in (answer.source, answer.published, answer.section) if value)
        page = f", page {answer.page}" if answer.page else ""
        print(f"   {answer.title[:80]} ({answer.document_id}{meta}{page}, characters {answer.start}-{answer.end})")
        print(f"   \"{answer.context}\"")
    return 0


def _days(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if not 0 < number <= 36_500:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 36500 days")
    return number


def _probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def run_script(name: str, argv: list[str]) -> int:
    """`main(argv)` of `scripts/<name>.py`, loaded from the checkout beside `qa/`.

    Only `qa` is an installed package; the scripts are files of the source tree, which an
    editable install (`pip install -e .`, what `make` does) keeps in place. Loaded by path,
    not as `scripts.<name>`, so that another `scripts` package on the path is never run.
    """
    path = SCRIPTS_DIR / f"{name}.py"
    if not path.is_file():
        print(f"error: {path} is missing: this command runs the project's scripts, which only a source checkout "
              "has (install it with `pip install -e .`, or run the script from a checkout)", file=sys.stderr)
        return 2
    module_name = f"_newsqa_script_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses in the script look their module up here
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return module.main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SCRIPTS:  # every argument, --help included, is the script's
        return run_script(SCRIPTS[argv[0]], argv[1:])
    prog = "newsqa" if Path(sys.argv[0]).name == "newsqa" else "python -m qa"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the web app and the JSON API")
    serve_parser.add_argument("--index-dir", type=Path)
    serve_parser.add_argument("--store", choices=["faiss", "milvus"], help="default: NEWSQA_STORE or faiss")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"])
    serve_parser.set_defaults(func=serve)
    ask_parser = commands.add_parser("ask", help="answer one question and print the citations")
    ask_parser.add_argument("question")
    ask_parser.add_argument("--index-dir", type=Path)
    ask_parser.add_argument("--store", choices=["faiss", "milvus"], help="default: NEWSQA_STORE or faiss")
    ask_parser.add_argument("--top-k", type=int, default=3, choices=range(1, 11), metavar="1..10")
    ask_parser.add_argument("--json", action="store_true", help="print the /ask JSON response")
    ask_parser.add_argument("--min-score", type=_probability, default=0.0, metavar="0..1",
                            help="drop answers under this probability (the no-answer threshold: confident only)")
    ask_parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="articles published on or after")
    ask_parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="articles published on or before")
    ask_parser.add_argument("--source", action="append", help="only this source (repeatable)")
    ask_parser.add_argument("--section", action="append", help="only this section (repeatable)")
    ask_parser.add_argument("--document", action="append", metavar="ID", help="only this article (repeatable)")
    ask_parser.add_argument("--newer-first", type=_days, metavar="DAYS", default=None,
                            help="order answers by score x 0.5 ** (age / DAYS), newer articles first (off by default)")
    ask_parser.set_defaults(func=ask)
    # Listed for --help only: main() hands these to the scripts before parsing.
    commands.add_parser("build", add_help=False, help="build or update the index (scripts/build_index.py; "
                        "`build --help` lists its options)")
    commands.add_parser("evaluate", add_help=False, help="evaluate the reader or the pipeline on a SQuAD file "
                        "(scripts/evaluate.py; `evaluate --help` lists its options)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.command == "ask" else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
