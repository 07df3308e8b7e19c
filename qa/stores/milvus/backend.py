"""The place: versions of one archive in Milvus, and the write path.

Layout, for `collection="newsqa"`:

    newsqa_v<ns>      one collection per version (ns: creation time in ns, so name order is time order)
    newsqa            an alias naming the current version: `current_version()` is one describe_alias
    newsqa_lock       exists only while a cluster write runs (see `qa.stores.milvus.lease`)

Writes. A full rebuild (`replace_all`) creates `newsqa_v<ns>`, inserts in batches of BATCH_ROWS
rows, flushes, loads, records the manifest as a collection property and then points the alias
at it (`create_alias` the first time, `alter_alias` after), and finally drops every version
but the new and the previous one, so a server still on the previous version keeps answering
until it follows the alias. An incremental write changes the current version in place: new
chunks of changed articles are inserted first and the old chunks deleted by primary key after,
so an article never disappears mid-update (a search in between may see both copies). Writes
are serialized per place by `lock()` (see `qa.stores.milvus.lease`).

A write that Milvus refuses part-way (a full disk, a refused insert; a server that is gone is
`StoreUnavailableError` instead) raises `IndexWriteError` and leaves the current version as it
was: a rebuild's new collection is dropped, and an incremental write's inserted rows are deleted
again, which is enough because no old row is deleted before every new one is in.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from qa.stores.base import (
    BuildInProgressError,
    ChangeSet,
    DocumentChunks,
    IndexLoadError,
    IndexWriteError,
    StoreUnavailableError,
    check_embedding,
    open_older,
    write_failure,
)
from qa.stores.milvus.connection import ID_BATCH, MANIFEST_PROPERTY, _Connection, _guarded, _redact, _unavailable
from qa.stores.milvus.expressions import FIRST_PARTS
from qa.stores.milvus.lease import LEASE_SECONDS, _Lease, acquire_lease, exclusive
from qa.stores.milvus.schema import (
    ENGLISH_ANALYZER,
    HNSW_PARAMS,
    LITE_ANALYZER,
    _chunk_schema,
    _dimension,
    _embedding_of,
    _index_params,
    _utc_now,
    document_rows,
)
from qa.stores.milvus.store import MilvusStore

LOG = logging.getLogger("qa.stores.milvus")
MILVUS_REBUILD = "rebuild the index (`newsqa build` with NEWSQA_STORE=milvus)"

FORMAT_VERSION = 1
BATCH_ROWS = 1_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


def _refused_write(err: BaseException) -> bool:
    """Whether `err` is Milvus (or the OS under Milvus Lite) refusing a write: not a server that
    is gone (`StoreUnavailableError` through `_guarded`), nor one of this package's own errors."""
    from pymilvus.exceptions import MilvusException

    if isinstance(err, (IndexLoadError, IndexWriteError, BuildInProgressError)):
        return False
    if isinstance(err, MilvusException):
        return not _unavailable(err)
    return isinstance(err, (OSError, RuntimeError))


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
        self._thread_lock = threading.RLock()
        self._depth = 0  # nesting of `lock()` by the thread that holds `_thread_lock`

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
                                 "`newsqa build` and NEWSQA_STORE=milvus")
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
        with self.lock():
            current = self.current_version()
            try:
                if changes.replace_all or current is None:
                    return self._write_version(changes, current)
                return self._write_in_place(current, changes)
            except Exception as err:
                if not _refused_write(err):
                    raise  # a lost server, a refusal of ours, or a bug
                raise write_failure(err, None, f"the index in {self._conn.where}") from None

    def _write_version(self, changes: ChangeSet, previous: str | None) -> str:
        started = time.time()
        dimension = _dimension(changes)
        name = self._new_version_name()
        analyzer = self._create_version(name, dimension)
        client = self._conn.client
        try:
            next_id = self._insert(name, changes.upserts, 0)
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

    def _write_in_place(self, version: str, changes: ChangeSet) -> str:
        """Upserts and deletes in the current version: new chunks in, then old chunks out by id."""
        manifest = self._conn.manifest(version)
        incoming = _embedding_of(changes.settings)
        if incoming:
            check_embedding(version, manifest.get("embedding_model") or {}, incoming, MILVUS_REBUILD)
        client = self._conn.client
        replaced = sorted({u.document.id for u in changes.upserts} | set(changes.deletes))
        old_ids = [row["chunk_id"] for row in self._conn.scan_in(version, "document_id", replaced, ["chunk_id"])]
        first_new = int(manifest.get("next_chunk_id", 0))
        try:
            next_id = self._insert(version, changes.upserts, first_new)
            client.flush(version)
        except BaseException:
            # Nothing is deleted before every new row is in: taking this write's rows out again
            # leaves the version as it was (its manifest is not yet changed).
            self._delete_quietly(version, f"chunk_id >= {first_new}")
            raise
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
        """Create an empty version collection; returns the analyzer it got (see `qa.stores.milvus.schema`)."""
        from pymilvus.exceptions import MilvusException

        candidates = [LITE_ANALYZER] if self._conn.lite else [ENGLISH_ANALYZER, LITE_ANALYZER]
        for analyzer in candidates:
            try:
                self._conn.client.create_collection(name, schema=_chunk_schema(dimension, analyzer),
                                                    index_params=_index_params(self._conn.client),
                                                    consistency_level="Strong")
                return analyzer
            except MilvusException as err:
                if analyzer is candidates[-1] or _unavailable(err):
                    raise
                LOG.warning("Milvus refused analyzer %s (%s); trying the next", analyzer, err.message)
        raise AssertionError("unreachable")

    def _insert(self, collection: str, upserts: list[DocumentChunks], first_id: int) -> int:
        """Insert the chunk rows of `upserts` in batches; returns the next free chunk id. (A cluster
        lease is kept renewed by the thread `lock()` starts, however long this takes.)"""
        batch: list[dict] = []
        next_id = first_id
        for item in upserts:
            rows = document_rows(item, next_id)
            next_id += len(rows)
            batch.extend(rows)
            if len(batch) >= BATCH_ROWS:
                self._conn.client.insert(collection, batch)
                batch = []
        if batch:
            self._conn.client.insert(collection, batch)
        return next_id

    def _delete_quietly(self, collection: str, expression: str) -> None:
        try:
            self._conn.client.delete(collection, filter=expression)
            self._conn.client.flush(collection)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the error that caused it
            LOG.warning("could not take back the rows of a failed write from %s: %s", collection, err)

    def _drop_quietly(self, name: str) -> None:
        try:
            self._conn.client.drop_collection(name)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the error that caused it
            LOG.warning("could not drop Milvus collection %s: %s", name, err)

    # -- the write lock ---------------------------------------------------------------------
    @contextmanager
    def lock(self, wait_s: float = 120.0) -> Iterator[None]:
        """One write at a time per place (the URI's database and `collection`). Within this backend
        object, other threads wait up to `wait_s` (two articles added at once are written one after
        the other); another backend object of the same place in this process, another process on a
        cluster (the lease) or on the same Milvus Lite file (its own lock) is another build:
        `BuildInProgressError` at once. Re-entrant for the thread that holds it, so a sync can hold
        it while it reads the current version, embeds and then calls `write`."""
        if not self._thread_lock.acquire(timeout=wait_s):
            raise BuildInProgressError(f"another write to {self.collection!r} in {self._conn.where} is running")
        try:
            self._depth += 1
            if self._depth > 1:
                yield
                return
            with exclusive(self._place(), self._conn, self.collection):
                yield
        finally:
            self._depth -= 1
            self._thread_lock.release()

    def _place(self) -> str:
        return f"{os.path.abspath(self.uri) if self._conn.lite else _redact(self.uri)}#{self.collection}"

    @_guarded
    def remove_stale_partials(self) -> list[str]:
        """Drop the version collections killed full rebuilds left behind; returns their names.

        A rebuild creates `<collection>_v<ns>` under a name newer than every existing version
        and points the alias at it last, so a version newer than the current one (every version,
        while no alias exists yet) was never made current: no reader serves it, and `open` falls
        back only to older ones. Call only under `lock`: then no write is running, so none of them
        is a rebuild in progress. Incremental writes create no collection, so they leave nothing
        of this kind (they change the current version in place)."""
        current = self.current_version()
        if current is not None and not self._version_pattern.match(current):
            return []  # an alias this code did not set: nothing here is known to be stale
        newest_kept = self._version_ns(current) if current is not None else -1
        stale = [v for v in self.versions() if self._version_ns(v) > newest_kept]
        for name in stale:
            self._drop_quietly(name)
        if stale:
            LOG.warning("removed what an interrupted build left: %s", ", ".join(stale))
        return stale

    def acquire_lease(self, seconds: float = LEASE_SECONDS) -> _Lease:
        """Take the cluster write lease (the `<collection>_lock` collection), or raise `BuildInProgressError`."""
        return acquire_lease(self._conn, self.collection, seconds)

    def close(self) -> None:
        self._conn.close()
