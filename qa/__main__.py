"""Command line: `python -m qa serve` runs the web app; `python -m qa ask "..."` answers once.

    python -m qa serve --index-dir index/built --host 127.0.0.1 --port 8000
    python -m qa ask "Who requested the meeting?" [--top-k 3] [--json]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from pathlib import Path

from qa.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {
        "index_dir": args.index_dir, "reader_backend": getattr(args, "reader_backend", None),
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
    result = services.assistant.ask(question, args.top_k, index=index, min_score=args.min_score)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(f"Q: {result.question}  ({result.took_ms:.0f} ms)")
    if result.no_answer and result.answers:
        print("The archive may not answer this. Best guesses:")
    elif result.no_answer:
        print("No answer in the indexed articles.")
    elif result.several_articles:
        print("These answers come from different articles; add a name, place or date to narrow the question.")
    for rank, answer in enumerate(result.answers, 1):
        hedge = "" if answer.confident else ", not confident"
        print(f"{rank}. {answer.text}  [{answer.score:.0%}{hedge}]")
        dated = f", {answer.published}" if answer.published else ""
        print(f"   {answer.title[:80]} ({answer.document_id}{dated}, characters {answer.start}-{answer.end})")
        print(f"   \"{answer.context}\"")
    return 0


def _probability(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the web app and the JSON API")
    serve_parser.add_argument("--index-dir", type=Path)
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"])
    serve_parser.set_defaults(func=serve)
    ask_parser = commands.add_parser("ask", help="answer one question and print the citations")
    ask_parser.add_argument("question")
    ask_parser.add_argument("--index-dir", type=Path)
    ask_parser.add_argument("--top-k", type=int, default=3, choices=range(1, 11), metavar="1..10")
    ask_parser.add_argument("--json", action="store_true", help="print the /ask JSON response")
    ask_parser.add_argument("--min-score", type=_probability, default=0.0, metavar="0..1",
                            help="drop answers under this probability (the no-answer threshold: confident only)")
    ask_parser.set_defaults(func=ask)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.command == "ask" else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
