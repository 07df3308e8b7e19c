"""`newsqa serve`: the web app and the JSON API (`web.app.create_app`) under uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path

from qa.cli.common import log_at, settings_from, store_option

SETTINGS = {"index_dir": "index_dir", "reader_backend": "reader_backend", "store": "store", "host": "host",
            "port": "port"}


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: reachable from elsewhere


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="serve the web app and the JSON API")
    parser.add_argument("--index-dir", type=Path)
    store_option(parser)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"])
    return parser


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import create_app

    settings = settings_from(args, **SETTINGS)
    if settings.api_key is None and not is_loopback(settings.host):
        # Without a key the endpoints that change state are open to whoever can connect.
        print(f"error: refusing to serve on {settings.host}, which other machines can reach, without an API key: "
              "set NEWSQA_API_KEY (clients send it as 'Authorization: Bearer <key>') or serve on 127.0.0.1",
              file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parser(prog).parse_args(argv)
    log_at(logging.INFO)
    return serve(args)
