"""Fetching feeds and the pages they link to: http(s) only, a timeout, a size limit, conditional GET.

A feed is named by the operator (the feeds file), so it may live on any address, loopback and
the intranet included. A page is named by a feed, which the operator does not control: a page on a
loopback, private, link-local or NAT64 address is fetched only for a feed that is itself on one, so
that a public feed cannot make the server read, and index for anyone to see, a page of its own
network. Redirects are followed by hand, at most `MAX_REDIRECTS`, each hop checked the same way.
(The check resolves the name before the connection resolves it again: a name that changes its
address in between is not caught.)

The timeout is the most a whole fetch may take, redirects included: every step of it (resolving
the name, connecting, the TLS handshake, sending, and each read, the status line and headers as
much as the body) gets only the time left, so a server that trickles its headers or body a byte at
a time is cut off at the deadline. (Through a proxy from the environment only the body's reads keep it.)
The body is read as it came over the wire and decompressed here, in steps that never make more than
the size limit: only gzip and deflate are asked for, and any other Content-Encoding is refused.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from qa import __version__

MAX_REDIRECTS = 5
DNS_TIMEOUT_S = 5.0  # the most resolving a name may take (the system's resolver has no timeout of its own)
USER_AGENT = f"newsqa/{__version__} (feed follower)"
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
_REDIRECTS = {301, 302, 303, 307, 308}
# NAT64 (RFC 6052, RFC 8215): IPv6 addresses that reach any IPv4 address, loopback and private ones included.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class FetchError(Exception):
    """Why a URL could not be fetched, in words a log line and `/healthz` may show (no body, no secret).
    `transient`: worth trying again later (a timeout, a refused connection, a 5xx or a 429)."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class Fetched:
    """A 200 answer: the body (at most the size limit) and the validators for the next conditional GET."""

    url: str  # after redirects
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


def shown_url(url: str) -> str:
    """`url` without user name, password, query or fragment, which may carry a feed's access key:
    what logs, `/healthz` and the pages show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> str:
    """`url` stripped, if it is an absolute http(s) URL with a host; ValueError says what is wrong."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is no number raises here)
    except ValueError as err:
        raise ValueError(f"not a URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise ValueError("the URL names no host")
    return url


def resolve(host: str, timeout_s: float = DNS_TIMEOUT_S) -> list[str]:
    """The addresses of `host` (itself when it is an address), in the resolver's order. OSError when
    it does not resolve; TimeoutError when the resolver has not answered within `timeout_s` (its
    thread is left to finish on its own)."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])  # an address (an IPv6 one may name its interface)
        return [bare]
    except ValueError:
        pass
    found: dict = {}

    def lookup() -> None:
        try:
            found["addresses"] = [info[4][0] for info in socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)]
        except (OSError, UnicodeError, ValueError) as err:
            found["error"] = err

    thread = threading.Thread(target=lookup, name="resolve", daemon=True)
    thread.start()
    thread.join(max(timeout_s, 0.0))
    if thread.is_alive():
        raise TimeoutError(f"the name was not resolved within {timeout_s:g} s")
    if "error" in found:
        raise found["error"] if isinstance(found["error"], OSError) else OSError(str(found["error"]))
    return list(dict.fromkeys(found["addresses"]))


def is_internal_address(address: str) -> bool:
    """Whether `address` is one of this machine or a private network (loopback, private, link-local,
    unique-local, unspecified, reserved), or reaches one (IPv4-mapped, 6to4, NAT64)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in _NAT64):
            return True
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not embedded.is_global:
            return True
    return not ip.is_global


def is_internal_host(host: str, timeout_s: float = DNS_TIMEOUT_S) -> bool:
    """Whether `host` is, or resolves to, an internal address (`is_internal_address`); a name that
    does not resolve: False; one not resolved within `timeout_s`: TimeoutError."""
    try:
        addresses = resolve(host, timeout_s)
    except TimeoutError:
        raise
    except OSError:
        return False
    return any(is_internal_address(address) for address in addresses)


class _Deadline(threading.local):
    at: float | None = None  # time.monotonic() by which this thread's fetch must be over


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, with every step of a fetch given at most the time left until the
    deadline its thread set: resolving the name (bounded: `resolve`), connecting, the TLS handshake,
    sending, and each read. A pooled connection takes the deadline of the fetch using it now."""

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()
        self.deadline = _Deadline()

    def left(self, timeout: float | None, late: type[Exception] = httpcore.ReadTimeout) -> float | None:
        if self.deadline.at is None:
            return timeout
        left = self.deadline.at - time.monotonic()
        if left <= 0:
            raise late("the fetch's time is up")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, self.left(DNS_TIMEOUT_S, httpcore.ConnectTimeout))
        except TimeoutError as err:
            raise httpcore.ConnectTimeout(str(err)) from None
        except OSError as err:
            raise httpcore.ConnectError(f"the name does not resolve ({err})") from None
        failed: Exception = httpcore.ConnectError("the name has no address")
        for address in addresses:  # in order, as socket.create_connection tries them
            try:
                stream = self._sockets.connect_tcp(address, port, self.left(timeout, httpcore.ConnectTimeout),
                                                   local_address, socket_options)
            except httpcore.ConnectError as err:
                failed = err
                continue
            return _DeadlineStream(stream, self)
        raise failed

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("feeds are fetched over TCP only")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: _DeadlineBackend) -> None:
        self._stream, self._backend = stream, backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname,
                                        self._backend.left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport (its requests, answers and errors) over a pool of `_DeadlineBackend` sockets."""

    def __init__(self, backend: _DeadlineBackend) -> None:  # not super().__init__: it would make a pool without it
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend)


class Fetcher:
    """GETs with limits; one connection pool, safe to share between threads. Once `close`d, it
    fetches nothing more (a fetch under way then fails).

    :param timeout_s: the most one fetch may take, resolving, connecting, waiting and reading the body
        (a server that sends a byte now and then is cut off too).
    :param max_bytes: the largest body read (decompressed); a larger one is refused without being kept.
    """

    def __init__(self, timeout_s: float, max_bytes: int) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._backend = _DeadlineBackend()
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._closed = False

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._closed:
                raise FetchError("not fetched: the feeds are no longer followed (stopping)", transient=True)
            if self._client is None:
                self._client = httpx.Client(headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
                                            follow_redirects=False, timeout=httpx.Timeout(self.timeout_s),
                                            transport=_DeadlineTransport(self._backend))
            return self._client

    def close(self) -> None:
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            internal_ok: bool = True) -> Fetched | None:
        """The body at `url`, or None when the server says it has not changed since `etag` /
        `last_modified` (304). `internal_ok=False` refuses URLs on internal addresses (see the
        module docstring). Raises `FetchError` with the reason."""
        deadline = time.monotonic() + self.timeout_s
        headers = {"Accept-Encoding": ACCEPT_ENCODING}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self._backend.deadline.at = deadline
        try:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    url = check_url(url)
                except ValueError as err:
                    raise FetchError(str(err)) from None
                if not internal_ok and self._internal(urlsplit(url).hostname or "", deadline):
                    raise FetchError("the URL is on an internal address, and the feed is not")
                answer = self._get_once(url, headers, deadline)
                if isinstance(answer, str):  # a redirect: where to
                    url = urljoin(url, answer)
                    continue
                return answer
            raise FetchError(f"more than {MAX_REDIRECTS} redirects")
        finally:
            self._backend.deadline.at = None

    def _timed_out(self, how: str = "") -> FetchError:
        return FetchError(f"timed out after {self.timeout_s:g} s{how}", transient=True)

    def _internal(self, host: str, deadline: float) -> bool:
        try:
            return is_internal_host(host, min(DNS_TIMEOUT_S, max(0.0, deadline - time.monotonic())))
        except TimeoutError:
            raise self._timed_out(" (resolving the name)") from None

    def _get_once(self, url: str, headers: dict, deadline: float) -> Fetched | str | None:
        """One request: a `Fetched`, None (304), or the Location of a redirect."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out()
        client = self._http()
        try:
            with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(left)) as response:
                if response.status_code in _REDIRECTS and response.headers.get("location"):
                    return response.headers["location"]
                if response.status_code == 304:
                    return None
                if response.status_code != 200:
                    code = response.status_code
                    raise FetchError(f"HTTP {code}", transient=code >= 500 or code == 429)
                body = self._body(response, deadline)
                return Fetched(str(response.url), body, response.headers.get("content-type", ""),
                               response.headers.get("etag"), response.headers.get("last-modified"))
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
            raise FetchError(f"not a URL that can be fetched ({err})") from None
        except httpx.HTTPError as err:  # connection refused, reset, a protocol error
            raise FetchError(f"could not be fetched ({type(err).__name__}: {str(err)[:120]})", transient=True) from None
        except RuntimeError:  # the client was closed under this fetch
            if self._closed:
                raise FetchError("not fetched: the feeds are no longer followed (stopping)", transient=True) from None
            raise

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, decompressed a step at a time, never past `max_bytes` (nor kept when over it)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"the body is over the limit of {self.max_bytes:,} bytes ({int(declared):,})")
        coding = response.headers.get("content-encoding", "")
        codings = [c.strip().lower() for c in coding.split(",") if c.strip().lower() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in _WBITS):
            raise FetchError(f"the body's Content-Encoding {coding[:40]!r} was not asked for (gzip or deflate)")
        decoder = zlib.decompressobj(_WBITS[codings[0]]) if codings else None
        first = True
        body = bytearray()

        def keep(piece: bytes) -> None:
            if len(body) + len(piece) > self.max_bytes:
                raise FetchError(f"the body is over the limit of {self.max_bytes:,} bytes")
            body.extend(piece)

        for raw in response.iter_raw():  # as it came over the wire: decompressed below, within the limit
            if time.monotonic() > deadline:
                raise self._timed_out(" (the body came too slowly)")
            if decoder is None:
                keep(raw)
                continue
            try:
                try:
                    piece = decoder.decompress(raw, self.max_bytes - len(body) + 1)
                except zlib.error:
                    if codings[0] != "deflate" or not first:
                        raise
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate sent raw, without zlib's header
                    piece = decoder.decompress(raw, self.max_bytes - len(body) + 1)
            except zlib.error:
                raise FetchError("the body could not be decoded (Content-Encoding)") from None
            first = False
            keep(piece)  # at most one byte over the room left: refused before it is kept
        if decoder is not None:
            try:
                keep(decoder.flush())
            except zlib.error:
                raise FetchError("the body could not be decoded (Content-Encoding)") from None
        return bytes(body)
