"""The connection to Milvus Lite or a cluster, shared by a backend and the stores it opens.

Reads that may return more than Milvus's 16,384-row query window (statistics, listings,
fingerprints) fall back to scanning `chunk_id` ranges, which needs no result order (Milvus
Lite returns query rows in insertion order, not by primary key).
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from qa.stores.base import IndexLoadError, StoreUnavailableError
from qa.stores.milvus.expressions import Expr, _in

MANIFEST_PROPERTY = "newsqa_manifest"
QUERY_WINDOW = 16_384  # Milvus's largest query result (offset + limit) and search top-k
SCAN_STEP = 10_000  # chunk ids per range query when a read exceeds QUERY_WINDOW
ID_BATCH = 1_000  # values per `in [...]` expression

T = TypeVar("T")
EVERYTHING = Expr()  # no filter


def _redact(uri: str) -> str:
    """The URI without credentials (`https://user:password@host` -> `https://host`), for messages."""
    return re.sub(r"//[^/@]*@", "//", uri)


def _is_lite(uri: str) -> bool:
    return uri.endswith(".db")  # pymilvus's own rule for starting Milvus Lite


def _unavailable(error: Exception) -> bool:
    """Whether a pymilvus error means the server is gone (503) rather than a bad request (a bug)."""
    from pymilvus.exceptions import MilvusUnavailableException

    if isinstance(error, MilvusUnavailableException):
        return True
    text = f"{getattr(error, 'code', '')} {getattr(error, 'message', error)}".lower()
    return any(word in text for word in ("unavailable", "fail connecting", "deadline", "connection refused",
                                         "server closed", "socket closed", "connect failed"))


class _Connection:
    """A lazily opened `MilvusClient` shared by a backend and the stores it opens.

    Opening is deferred to the first call, so constructing a backend never touches the
    network (the app can start, and answer 503, while a cluster is down).
    """

    def __init__(self, uri: str, token: str | None, timeout: float) -> None:
        self.uri = uri
        self.token = token
        self.timeout = timeout
        self.lite = _is_lite(uri)
        self.where = f"Milvus Lite database {uri}" if self.lite else f"Milvus at {_redact(uri)}"
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self):
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        if self.lite:
            os.makedirs(os.path.dirname(os.path.abspath(self.uri)), exist_ok=True)
        try:
            return MilvusClient(uri=self.uri, token=self.token or "", timeout=self.timeout)
        except MilvusException as err:
            hint = ("; Milvus Lite serves one process per file, so another process may hold it"
                    if self.lite else "; check that the server runs and the URI and token are right")
            raise StoreUnavailableError(f"{self.where} cannot be reached ({err.message}){hint}") from None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn "the server is gone" into `StoreUnavailableError` (503), with no traceback."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as err:
            if _unavailable(err):
                raise StoreUnavailableError(f"{self.where} cannot be reached ({err.message})") from None
            raise

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- reads shared by the backend and its stores ----------------------------------------
    def query(self, collection: str, where: Expr, fields: list[str], limit: int | None = None) -> list[dict]:
        extra = {"limit": limit} if limit is not None else {}
        return list(self.client.query(collection, output_fields=fields, timeout=self.timeout,
                                      **where.arguments(not self.lite), **extra))

    def count(self, collection: str, where: Expr = EVERYTHING) -> int:
        return int(self.query(collection, where, ["count(*)"])[0]["count(*)"])

    def scan(self, collection: str, where: Expr, fields: list[str], window: int = QUERY_WINDOW) -> list[dict]:
        """Every row matching `where`: one query when the rows fit Milvus's query window, else
        queries over ranges of `chunk_id` (each range holds at most SCAN_STEP rows, whatever
        order the server returns them in)."""
        rows = self.query(collection, where, fields, limit=window)
        if len(rows) < window:
            return rows
        bound = int(self.manifest(collection).get("next_chunk_id", 0))
        step = min(SCAN_STEP, window)
        rows = []
        for low in range(0, bound, step):
            span = Expr("chunk_id >= {scan_low} and chunk_id < {scan_high}", {"scan_low": low, "scan_high": low + step})
            rows.extend(self.query(collection, span & where, fields, limit=step))
        return rows

    def scan_in(self, collection: str, field_name: str, values: list, fields: list[str],
                where: Expr = EVERYTHING) -> list[dict]:
        """`scan` for `field_name in values`, a batch of values per expression."""
        rows: list[dict] = []
        for i in range(0, len(values), ID_BATCH):
            rows.extend(self.scan(collection, _in(field_name, values[i:i + ID_BATCH], "scan_values") & where, fields))
        return rows

    def manifest(self, collection: str) -> dict:
        properties = self.client.describe_collection(collection, timeout=self.timeout).get("properties") or {}
        text = properties.get(MANIFEST_PROPERTY)
        if not text:
            raise IndexLoadError(f"index version {collection} has no manifest: its build did not finish; rebuild it")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise IndexLoadError(f"index version {collection} has an unreadable manifest; rebuild it") from None


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Run a backend or store method under its connection's `guard`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._conn.guard():
            return method(self, *args, **kwargs)

    return wrapper
