"""`newsqa serve`: the web app and the JSON API (`web.app.create_app`) under uvicorn.

    newsqa serve --index-dir index/built
    newsqa serve --watch --articles ~/news            # follow the folders: files added, changed, removed
    newsqa serve --feeds feeds.txt                    # follow RSS/Atom feeds (one URL a line)

With --watch the served index follows its article folders: at start one sync, as `newsqa build`
does, then every file added, changed or removed is synced within seconds (`qa.following`).
With --feeds each feed is polled every NEWSQA_FEED_POLL_S seconds and its new and changed entries
are indexed. Exit status 2: a setting that cannot work (an address beyond loopback without a key,
a feeds file that cannot be used, no article folder to watch or to keep entries in).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path

from qa.cli.common import described, log_at, settings_from, store_option

SETTINGS = {"index_dir": "index_dir", "reader_backend": "reader_backend", "store": "store", "host": "host",
            "port": "port", "articles": "articles", "watch": "watch", "feeds": "feeds"}


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: reachable from elsewhere


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("--index-dir", type=Path)
    store_option(parser)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--reader-backend", choices=["auto", "onnx", "torch"])
    parser.add_argument("--articles", nargs="+", type=Path, metavar="PATH",
                        help="the article files and folders (default: NEWSQA_ARTICLES): watched with --watch; added "
                             "articles and followed entries go into the first folder")
    parser.add_argument("--watch", action="store_true", default=None,
                        help="sync the article folders into the served index as files are added, changed or "
                             "removed (NEWSQA_WATCH)")
    parser.add_argument("--feeds", type=Path, metavar="FILE",
                        help="follow the RSS/Atom feeds listed in FILE, one http(s) URL a line, each polled every "
                             "NEWSQA_FEED_POLL_S seconds (NEWSQA_FEEDS)")
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
    if settings.watch or settings.feeds:
        from qa.following import FollowError, check_settings

        try:
            check_settings(settings)  # before the models load: a mistake is said at once
        except FollowError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = parser(prog).parse_args(argv)
    log_at(logging.INFO)
    return serve(args)
