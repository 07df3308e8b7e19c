"""The FAISS index of a segment: which kind for its size, and building it."""

from __future__ import annotations

import faiss
import numpy as np

EXACT_SEARCH_LIMIT = 200_000  # chunks searched exactly; above, IVF (the latencies measured: README, "Scale")
IVF_MIN_NPROBE = 48


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
        nlist = min(len(vectors), int(max(64, min(16_384, np.sqrt(len(vectors))))))  # k-means needs a point a list
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > 64 * nlist:  # k-means needs ~40-100 points per list, not all of them
            sample = vectors[np.random.default_rng(0).choice(len(vectors), 64 * nlist, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.quantizer_trains_alone = 0
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct by id (merges; BM25 hits' cosine)
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
    return index


def faiss_kind(index: faiss.Index) -> str:
    return "ivf-fp16" if isinstance(faiss.downcast_index(index), faiss.IndexIVF) else "flat"
