"""The Milvus store: hybrid retrieval in Milvus Lite (a local `.db` file) or a Milvus cluster.

`MilvusBackend(uri, collection, token)` is a place (`StoreBackend`); `MilvusBackend.open()`
returns a `MilvusStore` (`Store`), one version of the archive. The same code serves
Milvus Lite (`uri="/data/news.db"`) and a cluster (`uri="http://host:19530"`, `token`).

Layout, for `collection="newsqa"`:

    newsqa_v<ns>      one collection per version (ns: creation time in ns, so name order is time order)
    newsqa            an alias naming the current version: `current_version()` is one describe_alias
    newsqa_lock       exists only while a cluster write runs (see "Writes" below)

One collection per version holds everything, documents included, as fields of their chunks.
Why not a second collection of documents: the alias is the only atomic switch Milvus has, and
it names one collection. With documents beside the chunks, a reader that resolves the alias
between two swaps could read chunks of one version and documents of another; with one
collection, a search, a document and a listing always come from the same version. Milvus has
no joins either, so filters must be on the chunk rows anyway. A chunk row (`chunk_id` INT64 primary key):

- `text`: `passage_input(title, chunk text)`, analyzed; the BM25 function fills `sparse` from it.
  `text_offset` is where the chunk text starts in it, so `Passage.text = text[text_offset:]`
  is exactly `document.text[start:end]` with no second read.
- `dense`: the embedder's unit vector (FLOAT_VECTOR, HNSW, inner product = cosine).
- `document_id`, `part` (the chunk's position in its document), `start`, `end`, `title`.
- filter fields, repeated on every chunk of a document so filtering happens inside retrieval:
  `published` (nullable VARCHAR `YYYY-MM-DD`, `Document.date`), `source`, `section` (nullable).
  Dates stay strings: Milvus compares strings byte-wise, as Python does, so an inclusive
  `published >= date_from and published <= date_to` selects exactly what `Filters.matches`
  selects, for any string the API passes (an INT like 20050301 would need the filter parsed
  and would diverge on a malformed one). A null never satisfies a comparison, which is the
  rule "an article without a date never matches a date filter"; the same holds for sources
  and sections.
- the document itself, stored once: `segment` is `document.text[a_i:a_(i+1)]` where `a_i` is
  the start of chunk `i` (0 for the first, the text's end after the last), so the segments
  of a document in `part` order concatenate to its exact text; the first chunk (`part == 0`)
  also carries `document` (the metadata as JSON) and stands for the document in listings
  and statistics. Every row carries the document's `fingerprint`.

Retrieval. `search` runs the dense request (IP on `dense`) and the BM25 request (the question
text on `sparse`), both with the filter expression, concurrently, and fuses the two ranked
lists here by weighted reciprocal rank (`RRF_K`) rather than with `hybrid_search` and
`RRFRanker`: Milvus returns only the fused score, so `dense_rank`/`sparse_rank` would be
unknown, and `RRFRanker` has no weights while the evaluation compares weighted fusions
(`dense_weight=1.5`). The fusion is the FAISS store's, tie-breaks included, so both stores
rank and score alike; the test suite checks that with equal weights it orders chunks as
Milvus's own `hybrid_search(..., RRFRanker(60))` does. Cosines come from the stored vectors
of the returned chunks (one primary-key query), so BM25-only passages get one too.

Filters are Milvus boolean expressions with `{placeholders}` and `filter_params`, never user
input spliced into the text. Milvus Lite ignores `filter_params` (it has no expression
templates), so for a `.db` URI the same template is rendered with `_literal`, which quotes
strings with the escapes both parsers define (`\\"`, `\\\\`, `\\n`, `\\r`, `\\t`).

Writes. A full rebuild (`replace_all`) creates `newsqa_v<ns>`, inserts in batches of 1,000
rows, flushes, loads, records the manifest as a collection property and then points the alias
at it (`create_alias` the first time, `alter_alias` after), and finally drops every version
but the new and the previous one, so a server still on the previous version keeps answering
until it follows the alias. An incremental write changes the current version in place: new
chunks of changed articles are inserted first and the old chunks deleted by primary key after,
so an article never disappears mid-update (a search in between may see both copies). Writes
are serialized per place: a lock per process; Milvus Lite serves one process per `.db` file
(its data-directory lock), so nothing else is needed there; on a cluster, a lease in a lock
collection with an expiry, renewed while the write runs. Milvus has no compare-and-set, so
two builds starting within the same moment on a cluster can both get the lease: the lease is
re-read after taking it, which narrows but does not close that window; run one builder.

Reads that may return more than Milvus's 16,384-row query window (statistics, listings,
fingerprints) fall back to scanning `chunk_id` ranges, which needs no result order (Milvus
Lite returns query rows in insertion order, not by primary key).

Milvus Lite 3.2 (measured): no `english` analyzer (only `standard` and `jieba` tokenizers),
so there the text is tokenized by the standard tokenizer, lower-cased, with the same 33
English stop words as the FAISS store's BM25 and no stemming; clusters get the `english`
analyzer (stemming included). Aliases, filters on BM25 requests, nullable fields and
collection properties all work in Lite; collections come back released after a restart, so
`open` loads them.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from qa.documents import Document
from qa.stores.base import (
    ArchiveStats,
    BuildInProgressError,
    ChangeSet,
    DocumentChunks,
    DocumentPage,
    Filters,
    IndexLoadError,
    Passage,
    StoreUnavailableError,
    best_fused_score,
    check_embedding,
    fuse,
    open_older,
    passage_input,
)

LOG = logging.getLogger(__name__)
MILVUS_REBUILD = "rebuild the index (`python scripts/build_index.py` with NEWSQA_STORE=milvus)"

FORMAT_VERSION = 1
MANIFEST_PROPERTY = "newsqa_manifest"
BATCH_ROWS = 1_000
QUERY_WINDOW = 16_384  # Milvus's largest query result (offset + limit) and search top-k
SCAN_STEP = 10_000  # chunk ids per range query when a read exceeds QUERY_WINDOW
ID_BATCH = 1_000  # values per `in [...]` expression
VARCHAR_BYTES = 65_535  # Milvus's longest VARCHAR
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
MIN_EF = 128  # HNSW search breadth, as the FAISS store's efSearch
MAX_EF = 32_768
LEASE_SECONDS = 900
LEASE_RENEW_SECONDS = 60
ENGLISH_STOP_WORDS = (  # Lucene's English stop words: the FAISS store's bm25s list and Milvus's `english` analyzer's
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
)
ENGLISH_ANALYZER = {"type": "english"}
LITE_ANALYZER = {"tokenizer": "standard",
                 "filter": ["lowercase", {"type": "stop", "stop_words": list(ENGLISH_STOP_WORDS)}]}
PASSAGE_FIELDS = ["chunk_id", "document_id", "title", "start", "end", "text", "text_offset", "dense"]
DOCUMENT_FIELDS = ["document_id", "part", "segment", "document"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEARCH_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="milvus-search")
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()

T = TypeVar("T")


# -- filter expressions -----------------------------------------------------------------------
@dataclass(frozen=True)
class Expr:
    """A Milvus boolean expression: a template with `{name}` placeholders and their values."""

    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __and__(self, other: Expr) -> Expr:
        if not other.template:
            return self
        if not self.template:
            return other
        clash = set(self.params) & set(other.params)
        if clash:
            raise ValueError(f"expression parameters used twice: {sorted(clash)}")
        return Expr(f"({self.template}) and ({other.template})", {**self.params, **other.params})

    def rendered(self) -> str:
        """The template with every value written as a literal (for Milvus Lite, which has no templates)."""
        return _PLACEHOLDER.sub(lambda match: _literal(self.params[match[1]]), self.template)

    def arguments(self, templates: bool) -> dict:
        """Keyword arguments for `search`/`query`: `filter` (+ `filter_params` where the server has templates)."""
        if not self.template:
            return {"filter": ""}
        if templates:
            return {"filter": self.template, "filter_params": dict(self.params)}
        return {"filter": self.rendered()}


def _literal(value: Any) -> str:
    """A value as a Milvus expression literal. Strings are double-quoted with every character that
    could end the literal escaped, so no value can change the expression around it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
                   .replace("\t", "\\t"))
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    raise TypeError(f"no Milvus literal for {type(value).__name__}")


def filter_expression(filters: Filters | None) -> Expr:
    """The chunk rows of the documents `filters` selects (`Filters.matches` is the reference)."""
    if filters is None or not filters.active:
        return Expr()
    parts: list[str] = []
    params: dict[str, Any] = {}
    for name, values in (("document_id", filters.document_ids), ("source", filters.sources),
                         ("section", filters.sections)):
        if values:
            parts.append(f"{name} in {{{name}s}}")
            params[f"{name}s"] = [str(v) for v in values]
    if filters.date_from:
        parts.append("published >= {date_from}")
        params["date_from"] = str(filters.date_from)
    if filters.date_to:
        parts.append("published <= {date_to}")
        params["date_to"] = str(filters.date_to)
    return Expr(" and ".join(parts), params)


FIRST_PARTS = Expr("part == {first_part}", {"first_part": 0})  # one row per document


def _in(field_name: str, values: list, param: str = "values") -> Expr:
    return Expr(f"{field_name} in {{{param}}}", {param: list(values)})


# -- connection -------------------------------------------------------------------------------
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

    def count(self, collection: str, where: Expr = Expr()) -> int:
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
                where: Expr = Expr()) -> list[dict]:
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


# -- the backend ------------------------------------------------------------------------------
class MilvusBackend:
    """Versions of one archive in Milvus: `<collection>_v<ns>` collections and the alias `<collection>`."""

    name = "milvus"

    def __init__(self, uri: str, collection: str = "newsqa", token: str | None = None, timeout: float = 10.0) -> None:
        if not _NAME.match(collection):
            raise ValueError(f"Milvus collection name {collection!r}: letters, digits and _, not starting with a digit")
        self.uri = uri
        self.collection = collection
        self.timeout = timeout
        self._conn = _Connection(uri, token, timeout)
        self._version_pattern = re.compile(rf"^{re.escape(collection)}_v(\d+)$")

    def __repr__(self) -> str:
        return f"MilvusBackend({_redact(self.uri)!r}, {self.collection!r})"

    # -- versions ---------------------------------------------------------------------------
    @_guarded
    def current_version(self) -> str | None:
        """The collection the alias names; None before the first build. Two cheap calls:
        `list_aliases` first, because `describe_alias` of a missing alias logs an error."""
        client = self._conn.client
        if self.collection not in (client.list_aliases(timeout=self.timeout).get("aliases") or []):
            return None
        return client.describe_alias(self.collection, timeout=self.timeout)["collection_name"]

    @_guarded
    def versions(self) -> list[str]:
        """The version collections, oldest first (complete or not)."""
        names = [n for n in self._conn.client.list_collections(timeout=self.timeout) if self._version_pattern.match(n)]
        return sorted(names, key=self._version_ns)

    def _version_ns(self, name: str) -> int:
        match = self._version_pattern.match(name)
        return int(match[1]) if match else -1

    def _new_version_name(self) -> str:
        newest = max((self._version_ns(v) for v in self.versions()), default=-1)
        return f"{self.collection}_v{max(time.time_ns(), newest + 1)}"

    # -- opening ----------------------------------------------------------------------------
    @_guarded
    def open(self, version: str | None = None, *, embedding: dict | None = None, fallback: bool = True) -> MilvusStore:
        target = version or self.current_version()
        if target is None:
            raise IndexLoadError(f"no index in {self._conn.where} (collection {self.collection!r}): build one with "
                                 "`python scripts/build_index.py` and NEWSQA_STORE=milvus")
        try:
            return self._open_version(target, embedding)
        except StoreUnavailableError:
            raise
        except IndexLoadError as err:
            if not fallback:
                raise
            failure = err
        older = [v for v in self.versions() if self._version_ns(v) < self._version_ns(target)]
        return open_older(failure, older, lambda v: self._open_version(v, embedding))

    def _open_version(self, version: str, embedding: dict | None) -> MilvusStore:
        client = self._conn.client
        if not client.has_collection(version, timeout=self.timeout):
            raise IndexLoadError(f"index version {version} does not exist in {self._conn.where}; rebuild the index")
        manifest = self._conn.manifest(version)
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexLoadError(f"index version {version} has format {manifest.get('format')}, expected "
                                 f"{FORMAT_VERSION}; rebuild it")
        if embedding is not None:
            check_embedding(version, manifest.get("embedding_model") or {}, embedding, MILVUS_REBUILD)
        client.load_collection(version)  # Milvus Lite releases collections when its process ends
        return MilvusStore(self._conn, version, manifest)

    @_guarded
    def manifest(self, version: str) -> dict:
        return self._conn.manifest(version)

    # -- writing ----------------------------------------------------------------------------
    @_guarded
    def write(self, changes: ChangeSet) -> str:
        """Apply `changes`; returns the version now current (a new one for `replace_all`).

        An id given twice among the upserts keeps its last article, as a dict of ids would."""
        changes = replace(changes, upserts=list({item.document.id: item for item in changes.upserts}.values()))
        with self._write_lock() as renew:
            current = self.current_version()
            if changes.replace_all or current is None:
                return self._write_version(changes, current, renew)
            return self._write_in_place(current, changes, renew)

    def _write_version(self, changes: ChangeSet, previous: str | None, renew: Callable[[], None]) -> str:
        started = time.time()
        dimension = _dimension(changes)
        name = self._new_version_name()
        analyzer = self._create_version(name, dimension)
        client = self._conn.client
        try:
            next_id = self._insert(name, changes.upserts, 0, renew)
            client.flush(name)
            client.load_collection(name)
            now = _utc_now()
            manifest = {
                **changes.settings, "format": FORMAT_VERSION, "store": "milvus",
                "embedding_model": _embedding_of(changes.settings) or {"dimension": dimension},
                "documents": len(changes.upserts), "chunks": next_id, "next_chunk_id": next_id,
                "version": name, "built_at": now, "updated_at": now, "analyzer": analyzer,
                "dense_index": {"index_type": "HNSW", "metric_type": "IP", **HNSW_PARAMS},
                "build_seconds": round(time.time() - started, 2),
            }
            client.alter_collection_properties(name, properties={MANIFEST_PROPERTY: json.dumps(manifest)})
            if previous is None and self.collection not in (client.list_aliases().get("aliases") or []):
                client.create_alias(name, self.collection)
            else:
                client.alter_alias(name, self.collection)
        except BaseException:
            self._drop_quietly(name)
            raise
        for old in self.versions():
            if old not in (name, previous):
                self._drop_quietly(old)
        LOG.info("Milvus version %s: %d documents, %d chunks", name, len(changes.upserts), next_id)
        return name

    def _write_in_place(self, version: str, changes: ChangeSet, renew: Callable[[], None]) -> str:
        """Upserts and deletes in the current version: new chunks in, then old chunks out by id."""
        manifest = self._conn.manifest(version)
        incoming = _embedding_of(changes.settings)
        if incoming:
            check_embedding(version, manifest.get("embedding_model") or {}, incoming, MILVUS_REBUILD)
        client = self._conn.client
        replaced = sorted({u.document.id for u in changes.upserts} | set(changes.deletes))
        old_ids = [row["chunk_id"] for row in self._conn.scan_in(version, "document_id", replaced, ["chunk_id"])]
        next_id = self._insert(version, changes.upserts, int(manifest.get("next_chunk_id", 0)), renew)
        client.flush(version)
        for i in range(0, len(old_ids), ID_BATCH):
            client.delete(version, ids=old_ids[i:i + ID_BATCH])
        client.flush(version)
        manifest.update({
            "documents": self._conn.count(version, FIRST_PARTS), "chunks": self._conn.count(version),
            "next_chunk_id": next_id, "updated_at": _utc_now(),
        })
        client.alter_collection_properties(version, properties={MANIFEST_PROPERTY: json.dumps(manifest)})
        return version

    def _create_version(self, name: str, dimension: int) -> dict:
        """Create an empty version collection; returns the analyzer it got (see the module docstring)."""
        from pymilvus.exceptions import MilvusException

        candidates = [LITE_ANALYZER] if self._conn.lite else [ENGLISH_ANALYZER, LITE_ANALYZER]
        for analyzer in candidates:
            try:
                self._conn.client.create_collection(name, schema=_chunk_schema(dimension, analyzer),
                                                    index_params=self._index_params(), consistency_level="Strong")
                return analyzer
            except MilvusException as err:
                if analyzer is candidates[-1] or _unavailable(err):
                    raise
                LOG.warning("Milvus refused analyzer %s (%s); trying the next", analyzer, err.message)
        raise AssertionError("unreachable")

    def _index_params(self):
        params = self._conn.client.prepare_index_params()
        params.add_index("dense", index_type="HNSW", metric_type="IP", params=dict(HNSW_PARAMS))
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        return params

    def _insert(self, collection: str, upserts: list[DocumentChunks], first_id: int, renew: Callable[[], None]) -> int:
        """Insert the chunk rows of `upserts` in batches; returns the next free chunk id."""
        batch: list[dict] = []
        next_id = first_id
        for item in upserts:
            rows = document_rows(item, next_id)
            next_id += len(rows)
            batch.extend(rows)
            if len(batch) >= BATCH_ROWS:
                self._conn.client.insert(collection, batch)
                batch = []
                renew()
        if batch:
            self._conn.client.insert(collection, batch)
        return next_id

    def _drop_quietly(self, name: str) -> None:
        try:
            self._conn.client.drop_collection(name)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the error that caused it
            LOG.warning("could not drop Milvus collection %s: %s", name, err)

    # -- the write lock ---------------------------------------------------------------------
    @contextmanager
    def _write_lock(self) -> Iterator[Callable[[], None]]:
        """One write at a time per place; yields a function that renews the cluster lease."""
        key = f"{os.path.abspath(self.uri) if self._conn.lite else _redact(self.uri)}#{self.collection}"
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
        if not lock.acquire(blocking=False):
            raise BuildInProgressError(f"another write to {self.collection!r} in {self._conn.where} is running")
        try:
            if self._conn.lite:  # Milvus Lite's own data-directory lock keeps other processes out
                yield lambda: None
                return
            lease = self.acquire_lease()
            try:
                yield lease.renew
            finally:
                lease.release()
        finally:
            lock.release()

    def acquire_lease(self, seconds: float = LEASE_SECONDS) -> _Lease:
        """Take the cluster write lease (the `<collection>_lock` collection), or raise `BuildInProgressError`."""
        lease = _Lease(self._conn, f"{self.collection}_lock", seconds)
        lease.acquire()
        return lease

    def close(self) -> None:
        self._conn.close()


class _Lease:
    """A write lease kept in the properties of a lock collection: owner and expiry (epoch seconds)."""

    def __init__(self, conn: _Connection, name: str, seconds: float) -> None:
        self.conn = conn
        self.name = name
        self.seconds = seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed = 0.0

    def _holder(self) -> tuple[str, float]:
        properties = self.conn.client.describe_collection(self.name).get("properties") or {}
        return properties.get("newsqa_lock_owner", ""), float(properties.get("newsqa_lock_expires", 0) or 0)

    def acquire(self) -> None:
        client = self.conn.client
        if client.has_collection(self.name):
            owner, expires = self._holder()
            if expires > time.time():
                raise BuildInProgressError(
                    f"another build ({owner}) holds the write lease of {self.name.removesuffix('_lock')!r} in "
                    f"{self.conn.where} until {time.strftime('%H:%M:%S', time.localtime(expires))}; if that build "
                    f"died, wait for the lease to expire or drop the collection {self.name}")
            client.drop_collection(self.name)  # expired: its build died
        client.create_collection(self.name, schema=_lock_schema())
        self.renew(force=True)
        owner, _ = self._holder()
        if owner != self.owner:
            raise BuildInProgressError(f"another build ({owner}) took the write lease of {self.name} at the same time")

    def renew(self, force: bool = False) -> None:
        if not force and time.time() - self._renewed < LEASE_RENEW_SECONDS:
            return
        expires = time.time() + self.seconds
        self.conn.client.alter_collection_properties(
            self.name, properties={"newsqa_lock_owner": self.owner, "newsqa_lock_expires": f"{expires:.3f}"})
        self._renewed = time.time()

    def release(self) -> None:
        try:
            if self.conn.client.has_collection(self.name) and self._holder()[0] == self.owner:
                self.conn.client.drop_collection(self.name)
        except Exception as err:  # noqa: BLE001 - an unreleased lease expires by itself
            LOG.warning("could not release the write lease %s: %s", self.name, err)


# -- one opened version -----------------------------------------------------------------------
class MilvusStore:
    """One version (collection) of the archive, read-only. Thread-safe."""

    def __init__(self, conn: _Connection, collection: str, manifest: dict) -> None:
        self._conn = conn
        self.collection = collection
        self.manifest = manifest

    @property
    def version(self) -> str | None:
        return self.collection

    def __repr__(self) -> str:
        return f"MilvusStore({self.collection!r})"

    # -- search -----------------------------------------------------------------------------
    @_guarded
    def search(self, question: str, vector: np.ndarray, k: int, *, candidates: int = 50,
               filters: Filters | None = None, dense_weight: float = 1.0,
               sparse_weight: float = 1.0) -> list[Passage]:
        """Dense and BM25 requests in Milvus with the filter inside both, fused here by weighted RRF."""
        if k <= 0 or (dense_weight <= 0 and sparse_weight <= 0):
            return []
        depth = min(max(candidates, k), QUERY_WINDOW)
        where = filter_expression(filters)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        dense_job = _SEARCH_POOL.submit(self._dense_ids, query, depth, where) if dense_weight > 0 else None
        sparse = self._sparse_ids(question, depth, where) if sparse_weight > 0 else []
        dense = dense_job.result() if dense_job is not None else []
        ranked = fuse(dense, sparse, dense_weight, sparse_weight, k)
        rows = {row["chunk_id"]: row for row in self._conn.scan_in(
            self.collection, "chunk_id", [chunk for chunk, _ in ranked], PASSAGE_FIELDS)}
        dense_rank = {chunk: rank for rank, chunk in enumerate(dense)}
        sparse_rank = {chunk: rank for rank, chunk in enumerate(sparse)}
        best = best_fused_score(dense_weight, sparse_weight)
        passages = []
        for chunk_id, score in ranked:
            row = rows.get(chunk_id)
            if row is None:  # deleted by an incremental write since the search
                continue
            passages.append(Passage(
                chunk_id=chunk_id, document_id=row["document_id"], title=row["title"], start=row["start"],
                end=row["end"], text=row["text"][row["text_offset"]:], score=round(score / best, 4),
                dense_rank=dense_rank.get(chunk_id), sparse_rank=sparse_rank.get(chunk_id),
                dense_score=float(np.dot(np.asarray(row["dense"], dtype=np.float32), query)),
            ))
        return passages

    def _dense_ids(self, query: np.ndarray, depth: int, where: Expr) -> list[int]:
        ids = self._dense_search(query, depth, where, max(depth, MIN_EF))
        if where.template and len(ids) < depth:
            ids = self._complete_filtered(query, depth, where, ids)
        return ids

    def _dense_search(self, query: np.ndarray, depth: int, where: Expr, ef: int) -> list[int]:
        hits = self._conn.client.search(
            self.collection, data=[query.tolist()], anns_field="dense", limit=depth, output_fields=["chunk_id"],
            search_params={"metric_type": "IP", "params": {"ef": ef}}, timeout=self._conn.timeout,
            **where.arguments(not self._conn.lite))
        return [int(hit["chunk_id"]) for hit in hits[0]]

    def _complete_filtered(self, query: np.ndarray, depth: int, where: Expr, ids: list[int]) -> list[int]:
        """An HNSW graph searched under a selective filter can run out of reachable matches and
        return fewer than `depth` when more exist. Then: exact inner products over all matching
        chunks when they fit one query, else a wider graph search."""
        matching = self._conn.count(self.collection, where)
        if matching <= len(ids):
            return ids
        if matching <= QUERY_WINDOW:
            return self.exact_dense_ids(query, depth, where)
        return self._dense_search(query, depth, where, MAX_EF)

    def exact_dense_ids(self, query: np.ndarray, depth: int, where: Expr) -> list[int]:
        """The `depth` matching chunks of largest inner product, computed from their stored vectors."""
        rows = self._conn.query(self.collection, where, ["chunk_id", "dense"], limit=QUERY_WINDOW)
        if not rows:
            return []
        ids = np.array([row["chunk_id"] for row in rows], dtype=np.int64)
        scores = np.asarray([row["dense"] for row in rows], dtype=np.float32) @ query
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:depth]
        return [int(ids[i]) for i in order]

    def _sparse_ids(self, question: str, depth: int, where: Expr) -> list[int]:
        if not question.strip():
            return []
        hits = self._conn.client.search(
            self.collection, data=[question], anns_field="sparse", limit=depth, output_fields=["chunk_id"],
            search_params={"metric_type": "BM25"}, timeout=self._conn.timeout, **where.arguments(not self._conn.lite))
        return [int(hit["chunk_id"]) for hit in hits[0]]

    # -- documents --------------------------------------------------------------------------
    @_guarded
    def document(self, document_id: str) -> Document | None:
        documents = self._assemble(self._conn.scan(self.collection, _in("document_id", [document_id]), DOCUMENT_FIELDS))
        return documents.get(document_id)

    @_guarded
    def documents(self, filters: Filters | None = None, offset: int = 0, limit: int = 20) -> DocumentPage:
        """A page of the matching documents in id order. The ids of all matching documents are
        read and sorted here (Milvus orders query results by nothing), then one page is fetched."""
        where = FIRST_PARTS & filter_expression(filters)
        ids = sorted(row["document_id"] for row in self._conn.scan(self.collection, where, ["document_id"]))
        offset, limit = max(0, offset), max(0, limit)
        page = ids[offset:offset + limit]
        rows = self._conn.scan_in(self.collection, "document_id", page, DOCUMENT_FIELDS) if page else []
        found = self._assemble(rows)
        return DocumentPage([found[i] for i in page if i in found], len(ids), offset, limit)

    @staticmethod
    def _assemble(rows: list[dict]) -> dict[str, Document]:
        """Documents from their chunk rows: metadata from part 0, text from the segments in part order."""
        by_document: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_document[row["document_id"]].append(row)
        documents = {}
        for document_id, parts in by_document.items():
            parts.sort(key=lambda row: row["part"])
            if parts[0]["part"] != 0 or not parts[0]["document"]:
                continue  # an incremental write is replacing it right now
            meta = json.loads(parts[0]["document"])
            documents[document_id] = Document.from_dict({**meta, "text": "".join(row["segment"] for row in parts)})
        return documents

    @_guarded
    def stats(self) -> ArchiveStats:
        rows = self._conn.scan(self.collection, FIRST_PARTS, ["published", "source", "section"])
        dates = sorted(row["published"] for row in rows if row.get("published"))
        return ArchiveStats(
            documents=len(rows), chunks=self._conn.count(self.collection),
            sections=dict(Counter(row["section"] for row in rows if row.get("section") is not None)),
            sources=dict(Counter(row["source"] for row in rows if row.get("source") is not None)),
            first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None,
            undated=len(rows) - len(dates),
        )

    @_guarded
    def fingerprints(self) -> dict[str, str]:
        return {row["document_id"]: row["fingerprint"]
                for row in self._conn.scan(self.collection, FIRST_PARTS, ["document_id", "fingerprint"])}

    @_guarded
    def vectors_of(self, document_ids: list[str]) -> dict[str, np.ndarray]:
        rows = self._conn.scan_in(self.collection, "document_id", list(document_ids), ["text", "dense"])
        return {row["text"]: np.asarray(row["dense"], dtype=np.float32) for row in rows}

    def close(self) -> None:
        """Nothing to release: the connection belongs to the backend, the collection stays loaded for others."""


# -- rows and schema --------------------------------------------------------------------------
def document_rows(item: DocumentChunks, first_id: int) -> list[dict]:
    """The chunk rows of one article (see the module docstring for the fields)."""
    document = item.document
    order = sorted(range(len(item.chunks)), key=lambda i: (item.chunks[i].start, item.chunks[i].end))
    if not order:
        raise ValueError(f"article {document.id!r} has no chunks: it cannot be stored")
    if len(item.vectors) != len(item.chunks):
        raise ValueError(f"article {document.id!r}: {len(item.vectors)} vectors for {len(item.chunks)} chunks")
    starts = [0] + [item.chunks[i].start for i in order[1:]] + [len(document.text)]
    meta = json.dumps({k: v for k, v in document.to_dict().items() if k != "text"}, ensure_ascii=False)
    rows = []
    for part, i in enumerate(order):
        chunk = item.chunks[i]
        text = passage_input(document.title, chunk.text)
        row = {
            "chunk_id": first_id + part, "document_id": document.id, "part": part, "start": chunk.start,
            "end": chunk.end, "text": text, "text_offset": len(text) - len(chunk.text),
            "dense": np.asarray(item.vectors[i], dtype=np.float32).tolist(), "title": document.title,
            "published": document.date, "source": document.source, "section": document.section,
            "segment": document.text[starts[part]:starts[part + 1]], "document": meta if part == 0 else "",
            "fingerprint": item.fingerprint,
        }
        for name in ("document_id", "text", "title", "segment", "document", "source", "section"):
            if row[name] is not None and len(row[name].encode("utf-8")) > VARCHAR_BYTES:
                raise ValueError(f"article {document.id!r}, chunk {part}: its {name} is over Milvus's "
                                 f"{VARCHAR_BYTES:,}-byte VARCHAR limit")
        rows.append(row)
    return rows


def _chunk_schema(dimension: int, analyzer: dict):
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("chunk_id", DataType.INT64, is_primary=True)
    schema.add_field("document_id", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("part", DataType.INT32)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_BYTES, enable_analyzer=True,
                     analyzer_params=analyzer)
    schema.add_field("text_offset", DataType.INT32)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("published", DataType.VARCHAR, max_length=32, nullable=True)
    schema.add_field("source", DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    schema.add_field("section", DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    schema.add_field("segment", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("document", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field("fingerprint", DataType.VARCHAR, max_length=256)
    schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    return schema


def _lock_schema():
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    return schema


def _embedding_of(settings: dict) -> dict:
    return dict(settings.get("embedding_model") or settings.get("embedding") or {})


def _dimension(changes: ChangeSet) -> int:
    for item in changes.upserts:
        if len(item.vectors):
            return int(np.asarray(item.vectors).shape[1])
    dimension = _embedding_of(changes.settings).get("dimension")
    if not dimension:
        raise ValueError("cannot create a Milvus version without vectors or settings['embedding_model']['dimension']")
    return int(dimension)


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
