"""The default store: FAISS for vectors, bm25s for BM25, SQLite for documents, in one folder.

An index folder holds immutable versions and a `CURRENT` file naming the live one:

    index_dir/CURRENT             -> "v20261126-143000-123456789"
    index_dir/v20261126-.../manifest.json   format, model, counts, checksums
                            store.sqlite3   documents (text, metadata, fingerprint) and chunks (offsets)
                            vectors.faiss   chunk vectors under their chunk ids
                            bm25/           bm25s matrices (memory-mapped) and each chunk's token ids

Why this layout:
- **Incremental writes.** A write copies the current version's files into a staging
  folder and changes only what changed: SQLite rows of the changed articles, FAISS
  `remove_ids`/`add_with_ids` under stable chunk ids, BM25 re-scored from the token ids
  stored per chunk (only new chunks are tokenized; bm25s has no incremental update).
  Nothing is re-embedded but new chunks.
- **Atomic swap.** The staging folder is fsynced, renamed to the new version and named in
  `CURRENT` by one `os.replace`: a reader sees the old archive or the new one, never half
  of an update. A crash anywhere leaves `CURRENT` naming a complete version.
- **Small resident memory.** Texts stay in SQLite on disk (read for the ~10 passages of a
  question), the FAISS codes and the BM25 matrices are memory-mapped, and per chunk the
  process keeps its id and its article's ordinal (12 bytes) besides FAISS's id map.
- **FAISS chosen by size** (`choose_faiss_kind`): exact inner product (`IndexIDMap2` over
  `IndexFlatIP`) up to `EXACT_SEARCH_LIMIT` chunks, then IVF with half-precision scalar
  quantization (`IndexIVFScalarQuantizer`, QT_fp16: 768 bytes a chunk against 1,536 for
  exact, and native `remove_ids`/`add_with_ids`, which HNSW lacks). sqrt(n) lists, half of
  them probed (`ivf_nprobe`); the recall and latency of these choices, measured by
  `scripts/benchmark_scale.py faiss`, are in the README ("Scale").
- **Filters inside retrieval.** A filter becomes a chunk mask from per-article arrays
  (date, section, source); FAISS searches through an `IDSelectorBitmap` and BM25 through
  bm25s's `weight_mask`. An IVF search that finds fewer than k matching chunks is repeated
  over every list, so a filter never returns fewer than k while more match.

Fault injection (`qa.faults`): a write pauses at `vectors_written` (vectors.faiss written in
the staging folder, no manifest yet), `before_rename`, `before_swap` (version folder in place,
`CURRENT` not yet switched) and `after_swap` (old versions not yet pruned).

Modules: `layout` (version names, `CURRENT`, checksums, the write lock, stale partials),
`build` (the FAISS index: kind, building, updating), `store` (`FaissStore`, reading),
`write` (one version's files), `backend` (`FaissBackend`, the place).
"""

from __future__ import annotations

from qa.stores.faiss.backend import FaissBackend
from qa.stores.faiss.layout import new_version_name
from qa.stores.faiss.store import FaissStore

__all__ = ["FaissBackend", "FaissStore", "new_version_name"]
