"""Writing one version of the FAISS folder store: a segment for the new articles, the replaced
and deleted ones marked deleted, small or mostly deleted segments merged (see `qa.stores.faiss`).

What a write costs grows with the change, not with the archive: the unchanged segments are
listed again, not copied. Only a merge rewrites old articles, and the merge policy bounds
both the number of segments a question searches (`MAX_SEGMENTS`) and the share of deleted
articles a segment carries (`MAX_DELETED_SHARE`).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np

from qa.faults import pause_point
from qa.stopwatch import Stopwatch
from qa.stores.base import ChangeSet, passage_input
from qa.stores.faiss.layout import FORMAT_VERSION, _fsync, file_checksum
from qa.stores.faiss.postings import POSTINGS_DIR, text_postings, write_postings
from qa.stores.faiss.segment import (DOCUMENTS_FILE, SEGMENTS_DIR, Segment, new_database, read_only, seal_segment,
                                     write_vectors)

MAX_SEGMENTS = 8  # above this, the smallest segments are merged down to half as many
MAX_DELETED_SHARE = 0.5  # a segment with more of its chunks deleted is rewritten without them
DELETED_FILE = "deleted.npy"


def stage_version(index_dir: Path, staging: Path, base: dict | None, changes: ChangeSet, version: str,
                  created: list[str]) -> dict:
    """Write version `version`: new segments into `index_dir/segments` (their names appended to
    `created` as each appears, so a failed write can remove them), then the version's own files
    into the empty folder `staging`, fsynced. `base` is the current version's manifest (None for
    a full write). Returns the manifest (also written as `staging/manifest.json`)."""
    started = time.time()
    watch = Stopwatch()
    segments_dir = index_dir / SEGMENTS_DIR
    segments_dir.mkdir(exist_ok=True)
    settings = changes.settings or {k: (base or {}).get(k) for k in ("embedding_model", "chunking")}
    dimension = (settings.get("embedding_model") or {}).get("dimension")
    if dimension is None:
        raise ValueError("a write needs the embedding model's dimension in ChangeSet.settings")
    entries, deleted, next_chunk, next_ordinal = _base_state(index_dir, base)
    gone = [*changes.deletes, *(u.document.id for u in changes.upserts)] if base is not None else []
    deleted, removed_chunks = _mark_deleted(segments_dir, entries, deleted, gone)
    watch.lap("sqlite")

    merged = _to_merge(entries, bool(changes.upserts))
    dropped = [e for e in entries if e in merged or e["live_documents"] == 0]
    kept = [e for e in entries if e not in dropped]
    if merged or changes.upserts:
        name = "s" + version[1:]
        entry = _write_segment(segments_dir, name, merged, deleted, changes, next_chunk, next_ordinal, dimension,
                               watch, created)
        kept.append(entry)
        next_chunk += sum(len(u.chunks) for u in changes.upserts)
        next_ordinal += len(changes.upserts)
    if dropped:
        deleted = _still_listed(segments_dir, kept, deleted)  # ordinals of segments no longer listed go

    np.save(staging / DELETED_FILE, np.asarray(deleted, dtype=np.int64))
    largest = max(kept, key=lambda e: e["live_chunks"], default=None)
    manifest = {
        "format": FORMAT_VERSION,
        **settings,
        "version": version,
        "documents": sum(e["live_documents"] for e in kept),
        "chunks": sum(e["live_chunks"] for e in kept),
        "faiss_index": largest["faiss_index"] if largest else "flat",
        "segments": kept,
        "deleted_documents": len(deleted),
        "next_chunk_id": next_chunk,
        "next_ordinal": next_ordinal,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "change": {"upserted": len(changes.upserts), "deleted": len(changes.deletes), "full": base is None,
                   "added_chunks": sum(len(u.chunks) for u in changes.upserts), "removed_chunks": removed_chunks,
                   "merged_segments": [e["name"] for e in merged]},
        "write_seconds": round(time.time() - started, 2),
        "stage_seconds": {stage: watch.stages.get(stage, 0.0) for stage in ("sqlite", "faiss", "bm25")},
        "files": {DELETED_FILE: file_checksum(staging / DELETED_FILE)},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name in (DELETED_FILE, "manifest.json"):
        _fsync(staging / name)
    _fsync(staging)
    return manifest


def _base_state(index_dir: Path, base: dict | None) -> tuple[list[dict], np.ndarray, int, int]:
    """What a write starts from: the base version's segment entries (copies, to be updated), its
    deleted ordinals, and the next free chunk id and ordinal; nothing for a full write."""
    if base is None:
        return [], np.zeros(0, np.int64), 0, 0
    deleted = np.load(index_dir / base["version"] / DELETED_FILE)
    return [dict(e) for e in base["segments"]], deleted, base["next_chunk_id"], base["next_ordinal"]


def _mark_deleted(segments_dir: Path, entries: list[dict], deleted: np.ndarray,
                  document_ids: list[str]) -> tuple[np.ndarray, int]:
    """Mark these articles deleted wherever a listed segment holds them live; updates the
    entries' live counts and returns (all deleted ordinals, sorted; chunks newly deleted)."""
    if not document_ids or not entries:
        return deleted, 0
    already = set(deleted.tolist())
    added: list[int] = []
    removed_chunks = 0
    for entry in entries:
        db = read_only(segments_dir / entry["name"] / DOCUMENTS_FILE)
        try:
            for batch, marks in _in_batches(document_ids):
                ordinals = [r[0] for r in db.execute(f"SELECT ordinal FROM documents WHERE id IN ({marks})", batch)
                            if r[0] not in already]
                if not ordinals:
                    continue
                omarks = ",".join("?" * len(ordinals))
                chunks = db.execute(f"SELECT COUNT(*) FROM chunks WHERE ordinal IN ({omarks})", ordinals).fetchone()[0]
                entry["live_documents"] -= len(ordinals)
                entry["live_chunks"] -= chunks
                removed_chunks += chunks
                added += ordinals
                already.update(ordinals)
        finally:
            db.close()
    return np.union1d(deleted, np.array(added, dtype=np.int64)), removed_chunks


def _in_batches(values: list, size: int = 500):
    """`values` in slices within SQLite's limit on parameters, each with its "?,?,..." placeholders."""
    for start in range(0, len(values), size):
        batch = values[start:start + size]
        yield batch, ",".join("?" * len(batch))


def _to_merge(entries: list[dict], adding: bool) -> list[dict]:
    """The segments this write rewrites: those with most of their chunks deleted, then, when
    there would be more than `MAX_SEGMENTS`, the smallest, down to half that many (their size
    grows geometrically, so an article is rewritten a logarithmic number of times)."""
    alive = [e for e in entries if e["live_documents"] > 0]
    merged = [e for e in alive if e["live_chunks"] < (1 - MAX_DELETED_SHARE) * e["chunks"]]
    rest = [e for e in alive if e not in merged]
    count = len(rest) + (1 if adding or merged else 0)
    if count > MAX_SEGMENTS:
        merged += sorted(rest, key=lambda e: (e["live_chunks"], e["name"]))[: count - MAX_SEGMENTS // 2 + 1]
    return merged


def _still_listed(segments_dir: Path, entries: list[dict], deleted: np.ndarray) -> np.ndarray:
    """The deleted ordinals that a listed segment still holds (the others left with their segment)."""
    if not len(deleted):
        return deleted
    keep: list[int] = []
    wanted = deleted.tolist()
    for entry in entries:
        if entry["live_documents"] == entry["documents"]:
            continue
        db = read_only(segments_dir / entry["name"] / DOCUMENTS_FILE)
        try:
            for batch, marks in _in_batches(wanted):
                keep += [r[0] for r in db.execute(f"SELECT ordinal FROM documents WHERE ordinal IN ({marks})", batch)]
        finally:
            db.close()
    return np.unique(np.array(keep, dtype=np.int64))


def _write_segment(segments_dir: Path, name: str, merged: list[dict], deleted: np.ndarray, changes: ChangeSet,
                   next_chunk: int, next_ordinal: int, dimension: int, watch: Stopwatch,
                   created: list[str]) -> dict:
    """One new segment: the live articles of the `merged` segments (under their own ids and
    ordinals) and the upserted ones (under fresh ones), in chunk-id order."""
    folder = segments_dir / f".{name}.partial"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    db = new_database(folder / DOCUMENTS_FILE)
    ids, vectors, postings, lengths = [], [], [], []
    first = 0  # where the next piece starts in the concatenated (not yet sorted) chunk order
    try:
        db.execute("BEGIN")
        db.execute("CREATE TEMP TABLE gone (ordinal INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO gone VALUES (?)", ((int(o),) for o in deleted))
        for entry in merged:
            source = Segment(segments_dir / entry["name"], entry)
            try:
                piece_ids, piece_vectors, piece_postings, piece_lengths = _copy_live(db, source, deleted, first,
                                                                                     dimension)
            finally:
                source.close()
            ids.append(piece_ids)
            vectors.append(piece_vectors)
            postings.append(piece_postings)
            lengths.append(piece_lengths)
            first += len(piece_ids)
        upserted_ids, upserted_vectors, inputs = _insert_documents(db, changes, next_chunk, next_ordinal)
        db.execute("COMMIT")
        documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    finally:
        db.close()
    watch.lap("sqlite")
    if inputs:
        terms, term_ids, positions, tf, token_counts = text_postings(inputs, first)
        postings.append((terms, term_ids, positions, tf))
        lengths.append(token_counts)
    ids.append(upserted_ids)
    vectors.append(upserted_vectors.reshape(-1, dimension))
    all_ids = np.concatenate(ids)
    stacked = vectors[0] if len(vectors) == 1 else np.vstack(vectors)
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    if np.any(all_ids[1:] < all_ids[:-1]):  # merged pieces interleave by id (upserts always come last)
        order = np.argsort(all_ids, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        all_ids, stacked, lengths = all_ids[order], stacked[order], lengths[order]
        postings = [(t, i, rank[p], f) for t, i, p, f in postings]
    watch.lap("bm25")
    kind = write_vectors(folder, np.ascontiguousarray(stacked, dtype=np.float32), all_ids)
    watch.lap("faiss")
    pause_point("vectors_written")
    write_postings(folder / POSTINGS_DIR, postings, lengths)
    watch.lap("bm25")
    info = {"name": name, "documents": documents, "chunks": len(all_ids), "faiss_index": kind}
    checksum = seal_segment(folder, dict(info))
    folder.rename(segments_dir / name)
    created.append(name)
    _fsync(segments_dir)
    return {**info, "checksum": checksum, "live_documents": documents, "live_chunks": len(all_ids)}


def _copy_live(db: sqlite3.Connection, source: Segment, deleted: np.ndarray, first: int, dimension: int):
    """Copy the live articles of segment `source` into the new segment's database `db` (inside
    its open transaction, which is committed and begun again around the attach); returns their
    chunk ids, vectors, BM25 postings (positions from `first` on, in the concatenated chunk
    order) and token counts."""
    db.execute("COMMIT")  # a database is attached and detached outside a transaction
    db.execute("ATTACH DATABASE ? AS source", (str(source.folder / DOCUMENTS_FILE),))
    db.execute("BEGIN")
    db.execute("INSERT INTO documents SELECT * FROM source.documents WHERE ordinal NOT IN (SELECT ordinal FROM gone)")
    db.execute("INSERT INTO chunks SELECT * FROM source.chunks WHERE ordinal NOT IN (SELECT ordinal FROM gone)")
    db.execute("COMMIT")
    db.execute("DETACH DATABASE source")
    db.execute("BEGIN")
    live = ~np.isin(source.chunk_ordinals, deleted)
    ids = source.chunk_ids[live]
    vectors = np.vstack([source.faiss_index.reconstruct_batch(ids[i:i + 65_536]) for i in range(0, len(ids), 65_536)]
                        ) if len(ids) else np.zeros((0, dimension), np.float32)
    terms, term_ids, positions, tf = source.postings.coo()
    keep = live[positions]
    new_position = np.cumsum(live) - 1 + first  # a live chunk's place in the concatenation
    return ids, vectors, (terms, term_ids[keep], new_position[positions[keep]], tf[keep]), source.postings.lengths[live]


def _insert_documents(db: sqlite3.Connection, changes: ChangeSet, next_chunk: int,
                      next_ordinal: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Insert the upserted documents and chunks under fresh ordinals and chunk ids (never reused,
    so a stale id can never point at another article's chunk)."""
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
    stacked = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    return np.array(ids, dtype=np.int64), stacked, inputs
