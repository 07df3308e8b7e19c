"""Writing one version of the FAISS folder store: SQLite rows, the FAISS index and BM25, from the
current version's files (or nothing) plus a `ChangeSet`."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import faiss
import numpy as np

from qa.bm25 import FlatTokens, _vectorized_bm25, bm25_tokens
from qa.faults import pause_point
from qa.stopwatch import Stopwatch
from qa.stores.base import ChangeSet, passage_input
from qa.stores.faiss.build import faiss_kind, update_faiss
from qa.stores.faiss.layout import BM25_DIR, FORMAT_VERSION, _fsync, file_checksum

_SCHEMA = """
CREATE TABLE documents (
    ordinal INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL, text TEXT NOT NULL, url TEXT, published TEXT, day TEXT, source TEXT, section TEXT,
    author TEXT, path TEXT, pages TEXT, summary_only INTEGER NOT NULL DEFAULT 0, fingerprint TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY, ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL
);
CREATE INDEX chunks_by_document ON chunks(ordinal);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def stage_version(staging: Path, base: Path | None, changes: ChangeSet, version: str) -> None:
    """Write version `version` into the empty folder `staging`: its files, then the manifest with
    their checksums, everything fsynced (the folder becomes visible by a rename after this)."""
    manifest = write_version(staging, base, changes)
    manifest["version"] = version
    names = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    manifest["files"] = {name: file_checksum(staging / name) for name in names}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name in (*names, "manifest.json"):
        _fsync(staging / name)
    _fsync(staging / BM25_DIR)
    _fsync(staging)


def write_version(staging: Path, base: Path | None, changes: ChangeSet) -> dict:
    """Fill `staging` with `base` (or nothing) plus `changes`; returns the manifest without files."""
    started = time.time()
    watch = Stopwatch()
    db_path = staging / "store.sqlite3"
    if base is not None:
        shutil.copyfile(base / "store.sqlite3", db_path)
        faiss_index = faiss.read_index(str(base / "vectors.faiss"))
        old_manifest = json.loads((base / "manifest.json").read_text())
    else:
        faiss_index, old_manifest = None, {}
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=OFF")  # the whole folder is fsynced before it becomes visible
        if base is None:
            db.executescript(_SCHEMA)
            db.execute("INSERT INTO meta VALUES ('next_chunk_id', '0'), ('next_ordinal', '0')")
        db.execute("BEGIN")
        removed_ids = _delete_documents(db, [*changes.deletes, *(u.document.id for u in changes.upserts)])
        new_ids, new_vectors, new_inputs = _insert_documents(db, changes)
        db.execute("COMMIT")
        chunk_ids = np.array([r[0] for r in db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id")],
                             dtype=np.int64)
        counts = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        if base is not None and len(removed_ids) > 0.25 * max(1, len(chunk_ids)):
            db.execute("VACUUM")  # many rows gone: give the space back
    finally:
        db.close()
    watch.lap("sqlite")
    dimension = (changes.settings.get("embedding_model") or old_manifest.get("embedding_model") or {}).get("dimension")
    faiss_index, rebuilt = update_faiss(faiss_index, removed_ids, new_ids, new_vectors, chunk_ids, dimension,
                                        old_manifest)
    faiss.write_index(faiss_index, str(staging / "vectors.faiss"))
    watch.lap("faiss")
    pause_point("vectors_written")
    _update_bm25(staging / BM25_DIR, base / BM25_DIR if base is not None else None, removed_ids, new_ids,
                 new_inputs, chunk_ids)
    watch.lap("bm25")
    settings = changes.settings or {k: old_manifest.get(k) for k in ("embedding_model", "chunking")}
    is_ivf = faiss_kind(faiss_index) == "ivf-fp16"
    return {
        "format": FORMAT_VERSION,
        **settings,
        "documents": counts,
        "chunks": len(chunk_ids),
        "faiss_index": faiss_kind(faiss_index),
        "ivf_trained_on": (len(chunk_ids) if rebuilt else old_manifest.get("ivf_trained_on")) if is_ivf else None,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "change": {"upserted": len(changes.upserts), "deleted": len(changes.deletes), "full": base is None,
                   "added_chunks": len(new_ids), "removed_chunks": len(removed_ids)},
        "write_seconds": round(time.time() - started, 2),
        "stage_seconds": watch.stages,  # the write's own profile (what a build spends beyond embedding)
    }


def _delete_documents(db: sqlite3.Connection, document_ids: list[str]) -> np.ndarray:
    """Remove these documents and their chunks; returns the removed chunk ids."""
    removed: list[int] = []
    for start in range(0, len(document_ids), 500):
        batch = document_ids[start:start + 500]
        marks = ",".join("?" * len(batch))
        ordinals = [r[0] for r in db.execute(f"SELECT ordinal FROM documents WHERE id IN ({marks})", batch)]
        if not ordinals:
            continue
        omarks = ",".join("?" * len(ordinals))
        removed += [r[0] for r in db.execute(f"SELECT chunk_id FROM chunks WHERE ordinal IN ({omarks})", ordinals)]
        db.execute(f"DELETE FROM chunks WHERE ordinal IN ({omarks})", ordinals)
        db.execute(f"DELETE FROM documents WHERE ordinal IN ({omarks})", ordinals)
    return np.array(removed, dtype=np.int64)


def _insert_documents(db: sqlite3.Connection, changes: ChangeSet) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Insert the upserted documents and chunks under fresh ordinals and chunk ids (never reused,
    so a stale id can never point at another article's chunk)."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    next_chunk, next_ordinal = int(meta["next_chunk_id"]), int(meta["next_ordinal"])
    ids, vectors, inputs = [], [], []
    for item in changes.upserts:
        d = item.document
        db.execute(
            "INSERT INTO documents (ordinal, id, title, text, url, published, day, source, section, author, path, "
            "pages, summary_only, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (next_ordinal, d.id, d.title, d.text, d.url, d.published, d.date, d.source, d.section, d.author, d.path,
             json.dumps(list(d.pages)) if d.pages else None, int(d.summary_only), item.fingerprint))
        rows = []
        for chunk in item.chunks:
            rows.append((next_chunk, next_ordinal, chunk.start, chunk.end))
            ids.append(next_chunk)
            inputs.append(passage_input(d.title, chunk.text))
            next_chunk += 1
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?)", rows)
        if len(item.chunks):
            vectors.append(np.asarray(item.vectors, dtype=np.float32))
        next_ordinal += 1
    db.execute("UPDATE meta SET value = ? WHERE key = 'next_chunk_id'", (str(next_chunk),))
    db.execute("UPDATE meta SET value = ? WHERE key = 'next_ordinal'", (str(next_ordinal),))
    stacked = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    return np.array(ids, dtype=np.int64), stacked, inputs


def _update_bm25(target: Path, base: Path | None, removed: np.ndarray, new_ids: np.ndarray, new_inputs: list[str],
                 all_ids: np.ndarray) -> None:
    """Re-score BM25 over every chunk from stored token ids; only new chunks are tokenized.

    The token ids of each chunk are kept in `tokens.npy` (flat) with `token_offsets.npy`,
    in chunk-id order, with the vocabulary in `vocabulary.json`.
    """
    target.mkdir(parents=True, exist_ok=True)
    if base is not None:
        vocabulary: dict[str, int] = json.loads((base / "vocabulary.json").read_text())
        old_ids = np.load(base / "chunk_ids.npy")
        flat = np.load(base / "tokens.npy")
        offsets = np.load(base / "token_offsets.npy")
    else:
        vocabulary, old_ids = {}, np.zeros(0, np.int64)
        flat, offsets = np.zeros(0, np.int32), np.zeros(1, np.int64)
    # Kept chunks: one gather over the flat array (old ids are sorted; new ids are all larger).
    keep = ~np.isin(old_ids, removed)
    starts, ends = offsets[:-1][keep], offsets[1:][keep]
    kept_lengths = ends - starts
    gather = np.repeat(starts - np.concatenate([[0], np.cumsum(kept_lengths)[:-1]]), kept_lengths) + \
        np.arange(int(kept_lengths.sum()))
    new_tokens = [np.array([vocabulary.setdefault(t, len(vocabulary)) for t in tokens], dtype=np.int32)
                  for tokens in (bm25_tokens(new_inputs) if new_inputs else [])]
    ids = np.concatenate([old_ids[keep], new_ids])
    if len(ids) != len(all_ids) or (len(ids) and not np.array_equal(ids, all_ids)):
        raise RuntimeError("BM25 chunk ids disagree with the document store")
    lengths = np.concatenate([kept_lengths, [len(t) for t in new_tokens]]).astype(np.int64)
    flat = np.concatenate([flat[gather], *new_tokens]).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    np.save(target / "chunk_ids.npy", ids)
    np.save(target / "tokens.npy", flat)
    np.save(target / "token_offsets.npy", offsets)
    (target / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    if len(ids):
        retriever = _vectorized_bm25()(k1=1.2, b=0.75)
        from bm25s.tokenization import Tokenized

        retriever.index(Tokenized(ids=FlatTokens(flat, offsets), vocab=dict(vocabulary)), show_progress=False)
        retriever.save(str(target), show_progress=False)
