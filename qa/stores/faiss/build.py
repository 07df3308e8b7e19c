"""The FAISS index of a version: which kind for its size, building it, and updating it by id."""

from __future__ import annotations

import logging

import faiss
import numpy as np

LOG = logging.getLogger(__name__)

EXACT_SEARCH_LIMIT = 200_000  # chunks searched exactly; above, IVF (the latencies measured: README, "Scale")
IVF_MIN_NPROBE = 48
IVF_RETRAIN_GROWTH = 4  # retrain the IVF centroids once the index is this many times its training size


def choose_faiss_kind(size: int) -> str:
    return "flat" if size <= EXACT_SEARCH_LIMIT else "ivf-fp16"


def ivf_nprobe(nlist: int) -> int:
    """Lists searched per question: half of them (the recall measured: README, "Scale")."""
    return min(nlist, max(IVF_MIN_NPROBE, nlist // 2))


def build_faiss(vectors: np.ndarray, ids: np.ndarray, kind: str | None = None) -> faiss.Index:
    """A new FAISS index of `vectors` under `ids`, of the kind chosen for its size."""
    dimension = vectors.shape[1]
    kind = kind or choose_faiss_kind(len(vectors))
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    else:
        # sqrt(n) lists: k-means over 4*sqrt(n) lists of 1M vectors takes minutes on two cores,
        # and nprobe makes up the difference (README, "Scale").
        nlist = int(max(64, min(16_384, np.sqrt(len(vectors)))))
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > 64 * nlist:  # k-means needs ~40-100 points per list, not all of them
            sample = vectors[np.random.default_rng(0).choice(len(vectors), 64 * nlist, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.quantizer_trains_alone = 0
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def faiss_kind(index: faiss.Index) -> str:
    return "ivf-fp16" if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else "flat"


def _all_vectors(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.vstack([index.reconstruct_batch(ids[i:i + 65_536].astype(np.int64)) for i in range(0, len(ids), 65_536)])


def _kept_training(old_manifest: dict, size: int) -> bool:
    trained = old_manifest.get("ivf_trained_on") or 0
    return trained > 0 and size <= IVF_RETRAIN_GROWTH * trained


def update_faiss(index: faiss.Index | None, removed: np.ndarray, new_ids: np.ndarray, new_vectors: np.ndarray,
                 all_ids: np.ndarray, dimension: int | None, old_manifest: dict) -> tuple[faiss.Index, bool]:
    """Apply removals and additions; rebuild when the size calls for another kind (or IVF retraining).
    Returns the index and whether it was built anew."""
    if index is None:
        if dimension is None:
            raise ValueError("a first write needs the embedding model's dimension in ChangeSet.settings")
        return build_faiss(new_vectors.reshape(-1, dimension), new_ids), True
    if len(removed):
        # IVF keeps a hash table from id to list (the direct map), which removes by an id array
        # only; the flat index scans its ids once against a hash set (IDSelectorBatch).
        selector = (faiss.IDSelectorArray if faiss_kind(index) == "ivf-fp16" else faiss.IDSelectorBatch)(
            len(removed), faiss.swig_ptr(removed))
        index.remove_ids(selector)
    wanted = choose_faiss_kind(len(all_ids))
    stale_ivf = wanted == "ivf-fp16" and not _kept_training(old_manifest, len(all_ids))
    if faiss_kind(index) != wanted or stale_ivf:
        kept = all_ids[~np.isin(all_ids, new_ids)]
        vectors = np.vstack([_all_vectors(index, kept), new_vectors.reshape(-1, index.d)])
        LOG.info("rebuilding the FAISS index as %s for %d chunks", wanted, len(all_ids))
        return build_faiss(vectors, np.concatenate([kept, new_ids]), wanted), True
    if len(new_ids):
        index.add_with_ids(np.ascontiguousarray(new_vectors, dtype=np.float32), new_ids)
    return index, False
