"""A small web site on loopback that serves feeds and pages a test sets and changes while it runs.

    with FeedSite() as site:
        site.page("/story-1", article_page("Title", "Text ..."))
        site.feed("/news.rss", rss("Wire", [item("g1", site.url("/story-1"), "Title")]))
        ... site.url("/news.rss") ...

Each route answers with its body, or its status; ETag and Last-Modified are sent, and a
conditional GET that matches them is answered 304 (the ETag decides when both are sent). A route
may answer slowly (`delay_s` before answering, the body dripped in pieces, or the status line and
headers dripped a byte at a time),
without a Content-Length (`chunked`), with headers of its own (`headers`: a Content-Encoding), or
with garbage. A route set for a path with a query (`/feed.rss?edition=uk`) answers that query; the
path alone answers any other. Every request is recorded with its headers (under its path, without
the query). Threaded; `close()` (or the `with` block) stops it.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (a size limit, a timeout): what the tests make it do
        super().handle_error(request, client_address)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml"
    delay_s: float = 0.0  # before the status line
    drip_s: float = 0.0  # between pieces of the body
    chunked: bool = False  # no Content-Length
    drip_headers_s: float = 0.0  # between the bytes of the status line and headers
    headers: dict[str, str] = field(default_factory=dict)  # sent as well
    location: str | None = None
    validators: bool = True
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


class FeedSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict]] = []  # (path, headers)
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # the standard library names it
                site._answer(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- setting it up -------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def set(self, path: str, body: bytes | str = b"", **options) -> Route:
        route = Route(body.encode() if isinstance(body, str) else body, **options)
        with self._lock:
            self.routes[path] = route
        return route

    def feed(self, path: str, xml: str, **options) -> Route:
        return self.set(path, xml, **options)

    def page(self, path: str, html: str, **options) -> Route:
        return self.set(path, html, content_type="text/html; charset=utf-8", **options)

    def hits(self, path: str) -> list[dict]:
        with self._lock:
            return [headers for hit, headers in self.requests if hit == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FeedSite:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- answering --------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append((path, {k.lower(): v for k, v in handler.headers.items()}))
            route = self.routes.get(handler.path) or self.routes.get(path)
        if route is None:
            return self._send(handler, 404, b"not here", "text/plain")
        if route.delay_s:
            time.sleep(route.delay_s)
        if route.drip_headers_s:
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: {route.content_type}\r\n"
                    f"X-Padding: {'x' * 200}\r\nContent-Length: {len(route.body)}\r\n\r\n").encode()
            try:
                for byte in range(len(head)):
                    handler.wfile.write(head[byte:byte + 1])
                    handler.wfile.flush()
                    time.sleep(route.drip_headers_s)
                handler.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up
                pass
            handler.close_connection = True
            return None
        if route.location is not None:
            handler.send_response(route.status)
            handler.send_header("Location", route.location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        tag, since = handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")
        # RFC 9110 13.2.2: If-None-Match, when sent, decides; If-Modified-Since only without it.
        if route.validators and route.status == 200 and (
                tag == route.etag if tag is not None else since == route.last_modified):
            handler.send_response(304)
            handler.send_header("ETag", route.etag)
            handler.end_headers()
            return None
        return self._send(handler, route.status, route.body, route.content_type, route)

    @staticmethod
    def _send(handler, status: int, body: bytes, content_type: str, route: Route | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (route.headers.items() if route is not None else ()):
            handler.send_header(name, value)
        if route is not None and route.validators and status == 200:
            handler.send_header("ETag", route.etag)
            handler.send_header("Last-Modified", route.last_modified)
        try:
            if route is not None and route.chunked:
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                for start in range(0, len(body), 4096):
                    piece = body[start:start + 4096]
                    handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.write(b"0\r\n\r\n")
                return
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if route is not None and route.drip_s:
                for start in range(0, len(body), 16):
                    handler.wfile.write(body[start:start + 16])
                    handler.wfile.flush()
                    time.sleep(route.drip_s)
                return
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a size limit, a timeout)
            pass


# -- feeds and pages ------------------------------------------------------------------------------
def item(guid: str | None, link: str | None, title: str, description: str = "", published: str | None = None,
         category: str | None = None) -> dict:
    return {"guid": guid, "link": link, "title": title, "description": description, "published": published,
            "category": category}


def rss(title: str, items: list[dict]) -> str:
    """An RSS 2.0 feed of `items` (`item(...)`)."""
    parts = [(f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{escape(title)}</title>'
              "<link>http://example.invalid/</link><description>test feed</description>")]
    for entry in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(entry['title'])}</title>")
        if entry["guid"]:
            parts.append(f'<guid isPermaLink="false">{escape(entry["guid"])}</guid>')
        if entry["link"]:
            parts.append(f"<link>{escape(entry['link'])}</link>")
        if entry["description"]:
            parts.append(f"<description>{escape(entry['description'])}</description>")
        if entry["published"]:
            parts.append(f"<pubDate>{entry['published']}</pubDate>")
        if entry["category"]:
            parts.append(f"<category>{escape(entry['category'])}</category>")
        parts.append("</item>")
    parts.append("</channel></rss>\n")
    return "".join(parts)


def article_page(title: str, paragraphs: list[str]) -> str:
    """A news page with menus, links and a footer around the article, as a site serves it."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{escape(title)} | Example News</title>"
            '<meta property="og:site_name" content="Example News"></head><body>'
            '<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>'
            f"<main><article><h1>{escape(title)}</h1>{body}</article></main>"
            "<aside><h2>Most read</h2><ul><li><a href='/x'>Another story entirely</a></li></ul></aside>"
            "<footer>Copyright Example News. Cookie settings. Contact us.</footer></body></html>")
