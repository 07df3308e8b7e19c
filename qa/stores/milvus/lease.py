"""Writes serialized per place: a lock per process, and on a cluster a lease in a lock collection.

Milvus Lite serves one process per `.db` file (its data-directory lock), so within the process
is all there is to lock there. On a cluster, the lease lives in the properties of the collection
`<collection>_lock` (owner and expiry); it exists only while a write holds it, and is renewed by
a thread for as long as the lock is held, so a long sync (embedding, then writing) keeps it.
Milvus has no compare-and-set, so two builds starting within the same moment on a cluster can
both get the lease: the lease is re-read after taking it, which narrows but does not close that
window; run one builder.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from qa.stores.base import BuildInProgressError
from qa.stores.milvus.connection import _Connection

LOG = logging.getLogger("qa.stores.milvus")

LEASE_SECONDS = 900
LEASE_RENEW_SECONDS = 60
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


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


def _keep_renewed(lease: _Lease, stop: threading.Event) -> None:
    """Renew `lease` every LEASE_RENEW_SECONDS until `stop` is set (a thread's body)."""
    while not stop.wait(LEASE_RENEW_SECONDS):
        try:
            lease.renew(force=True)
        except Exception as err:  # noqa: BLE001 - the next round tries again; the lease outlives a few misses
            LOG.warning("could not renew the write lease %s: %s", lease.name, err)


@contextmanager
def exclusive(key: str, conn: _Connection, collection: str) -> Iterator[None]:
    """Hold the place `key` for one write: the process lock of that place, taken without waiting
    (another backend object of this process writing there is another build), then on a cluster
    the lease, renewed while held. Raises `BuildInProgressError` when either is taken."""
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        raise BuildInProgressError(f"another write to {collection!r} in {conn.where} is running")
    try:
        if conn.lite:  # Milvus Lite's own data-directory lock keeps other processes out
            yield
            return
        with conn.guard():
            lease = acquire_lease(conn, collection, LEASE_SECONDS)
        stop = threading.Event()
        keeper = threading.Thread(target=_keep_renewed, args=(lease, stop), name=f"milvus-lease-{collection}",
                                  daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()
            lease.release()
    finally:
        lock.release()


def acquire_lease(conn: _Connection, collection: str, seconds: float) -> _Lease:
    """Take the cluster write lease of `collection` (the `<collection>_lock` collection), or raise
    `BuildInProgressError`."""
    lease = _Lease(conn, f"{collection}_lock", seconds)
    lease.acquire()
    return lease


def _lock_schema():
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    return schema
