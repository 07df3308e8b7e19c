"""The default store: FAISS for vectors, BM25 postings, SQLite for documents, in one folder.

An index folder holds immutable versions, a `CURRENT` file naming the live one, and the
immutable segments the versions are made of:

    index_dir/CURRENT             -> "v20261126-143000-123456789"
    index_dir/v20261126-.../manifest.json   format, model, live counts, the segments it lists, checksums
                            deleted.npy     ordinals of the listed segments' articles that are deleted
    index_dir/segments/s.../segment.json    counts, FAISS kind, checksums of the files below
                            documents.sqlite3   documents (text, metadata, fingerprint), chunks (offsets)
                            vectors.faiss   chunk vectors under their chunk ids
                            postings/       BM25 term frequencies per chunk (`postings`)

Why this layout:
- **Writes that cost the change, not the archive.** A write adds one segment holding its
  new and replaced articles (only their chunks are embedded and tokenized), marks the
  articles it replaces or deletes as deleted in the new version's `deleted.npy`, and lists
  the unchanged segments again without copying them. Disk per version grows with the
  change. Merges keep the segments few (`write.MAX_SEGMENTS`) and drop deleted articles
  (`write.MAX_DELETED_SHARE`); a full build writes one segment.
- **BM25 across segments.** Each segment stores term frequencies, not scores; a question's
  BM25 is computed from the live chunks' statistics of all segments (`postings`), so it is
  the score a fresh build of the same articles gives.
- **Atomic swap.** New segments are fsynced and renamed into `segments/` first; then the
  version's staging folder is fsynced, renamed to the new version and named in `CURRENT` by
  one `os.replace`: a reader sees the old archive or the new one, never half of an update.
  A crash anywhere leaves `CURRENT` naming a complete version; the segments of a killed write
  are listed by no version and are removed under the lock at the next write.
- **Small resident memory.** Texts stay in SQLite on disk (read for the ~10 passages of a
  question), the FAISS codes and the postings are memory-mapped, and per chunk the process
  keeps its id, its article's row, its length normalization and whether it is live (about
  17 bytes) besides FAISS's id map.
- **FAISS chosen by a segment's size** (`choose_faiss_kind`): exact inner product
  (`IndexIDMap2` over `IndexFlatIP`) up to `EXACT_SEARCH_LIMIT` chunks, then IVF with
  half-precision scalar quantization (`IndexIVFScalarQuantizer`, QT_fp16: 768 bytes a chunk
  against 1,536 for exact). sqrt(n) lists, half of them probed (`ivf_nprobe`); the recall and
  latency of these choices, measured by `scripts/benchmark_scale.py faiss`, are in
  docs/scale.md. Each segment is searched for the k best and the results are merged.
- **Filters inside retrieval.** A filter becomes a chunk mask from per-article arrays
  (date, section, source; deleted articles are always masked); FAISS searches through an
  `IDSelectorBitmap` and BM25 scores are masked. An IVF search that finds fewer than k
  matching chunks is repeated over every list, so a filter never returns fewer than k while
  more match.

Fault injection (`qa.faults`): a write pauses at `vectors_written` (vectors.faiss written in
the new segment's partial folder), `before_rename`, `before_swap` (version folder in place,
`CURRENT` not yet switched) and `after_swap` (old versions not yet pruned).

Modules: `layout` (version names, `CURRENT`, checksums, the write lock, stale partials and
unlisted segments), `build` (a segment's FAISS index: kind and building), `postings` (BM25
postings and scoring across segments), `segment` (a segment's files, `Segment` for reading),
`store` (`FaissStore`, one version over its segments), `write` (one version: its new segment,
deletions, merges), `backend` (`FaissBackend`, the place).
"""

from __future__ import annotations

from qa.stores.faiss.backend import FaissBackend
from qa.stores.faiss.layout import new_version_name
from qa.stores.faiss.store import FaissStore

__all__ = ["FaissBackend", "FaissStore", "new_version_name"]
