"""Sentence embeddings for the dense retriever: all-MiniLM-L6-v2, on PyTorch or int8 ONNX.

`Embedder(path, backend=...)` loads a sentence-transformers model directory once and
turns texts into unit vectors (mean pooling, L2 normalisation, as the model's own
`modules.json` prescribes).

- `torch`: the model through `sentence_transformers.SentenceTransformer`, on a CUDA GPU when
  torch sees one (never required).
- `onnx` (the default): the same weights exported once to ONNX and quantized to int8 (dynamic,
  per channel) by ONNX Runtime, run with dynamic padding over length-sorted
  batches. The export is made on first use from the local weights and kept in the
  cache folder (`NEWSQA_CACHE_DIR`), never downloaded.

Why not sentence-transformers' own `backend="onnx"`: it loads through `optimum`,
whose current release pins transformers < 5 while sentence-transformers 6 needs
transformers >= 5, so the two cannot be installed together here. The export and
the pooling below are the few lines that backend would run.

The two back ends give slightly different vectors, so the fingerprint an index is
checked against names the back end too: an index is never searched with vectors of
another back end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

LOG = logging.getLogger(__name__)
ONNX_NAME = "embedder.int8.onnx"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("NEWSQA_CACHE_DIR") or Path.home() / ".cache" / "newsqa")


class Embedder:
    """A sentence-transformers model, loaded once, that embeds texts into unit vectors. Thread-safe."""

    def __init__(self, model_path: str | Path, name: str | None = None, backend: str = "torch",
                 cache_dir: str | Path | None = None, threads: int | None = None) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"embedding back end must be 'torch' or 'onnx', not {backend!r}")
        self.path = Path(model_path)
        self.name = name or self.path.name
        self.backend = backend
        weights = self.model_fingerprint(self.path, self.name)
        self.fingerprint = weights if backend == "torch" else f"{weights}-onnx-int8"
        config = json.loads((self.path / "sentence_bert_config.json").read_text()) \
            if (self.path / "sentence_bert_config.json").exists() else {}
        self.max_length = int(config.get("max_seq_length", 256))
        if backend == "torch":
            import torch
            from sentence_transformers import SentenceTransformer

            device = "cuda" if torch.cuda.is_available() else "cpu"
            self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
            self.dimension = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                                 else self.model.get_sentence_embedding_dimension())
        else:
            from transformers import AutoTokenizer

            onnx_path = Path(cache_dir or default_cache_dir()) / f"{self.name}-{weights}" / ONNX_NAME
            if not onnx_path.exists():
                export_onnx(self.path, onnx_path)
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            self._tokenizer_lock = threading.Lock()  # a fast tokenizer is not safe across threads
            self.session = _onnx_session(onnx_path, threads)  # one text or one batch: all cores on it
            self._onnx_path = onnx_path
            # Many batches (a build): one single-threaded run per core side by side embedded 63.8
            # chunks/s against 49.5 with all cores on each batch in turn (1,000 BBC articles,
            # docs/scale.md#where-a-builds-time-goes), with the same vectors: the batches, and so
            # the int8 activation scales, are the same. Made on first use.
            self._workers = max(1, threads or os.cpu_count() or 1)
            self._batch_session = None
            self._batch_session_lock = threading.Lock()
            self.inputs = {i.name for i in self.session.get_inputs()}
            self.dimension = int(json.loads((self.path / "config.json").read_text())["hidden_size"])

    @classmethod
    def from_settings(cls, settings) -> Embedder:
        """The embedder that `settings` (a `qa.config.Settings`) configure."""
        return cls(settings.embedding_model_path(), settings.embedding_model_name, backend=settings.embedding_backend,
                   cache_dir=settings.cache_dir, threads=settings.threads)

    @staticmethod
    def model_fingerprint(path: Path, name: str) -> str:
        """A hash of the model's config and weight bytes: the identity an index is checked against.

        Contents, not names and sizes, so retrained or patched weights of the same size are
        told apart. Hashing all-MiniLM-L6-v2's 91 MB takes 123-141 ms (measured, warm page
        cache, shared 2-core CPU), once per process beside ~6 s of model loading: not cached,
        since a (size, mtime) cache could only live in the process that hashes once anyway,
        or in a file written beside weights that usually sit in a read-only site-packages.
        """
        config = path / "config.json"
        weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
        digest = hashlib.sha256(config.read_bytes() if config.exists() else name.encode())
        for weight in weights:
            digest.update(file_sha256(weight).encode())
        return digest.hexdigest()[:16]

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if self.backend == "torch":
            return self._encode_torch(texts, batch_size, progress)
        return self._encode_onnx(texts, batch_size, progress)

    def _encode_torch(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        def run(part: list[str]) -> np.ndarray:
            vectors = self.model.encode(part, batch_size=batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(part), self.dimension)

        if not progress or not texts:
            return run(texts)
        # sentence-transformers' own bar counts batches; a build's bar counts chunks (as the ONNX
        # path does), so the texts go through in length-sorted slices of a few batches each.
        from tqdm import tqdm

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with tqdm(total=len(texts), desc="embedding", unit="chunk", mininterval=2) as bar:
            for start in range(0, len(order), batch_size * 8):
                part = order[start:start + batch_size * 8]
                out[part] = run([texts[i] for i in part])
                bar.update(len(part))
        return out

    def _parallel_session(self):
        with self._batch_session_lock:
            if self._batch_session is None:
                self._batch_session = _onnx_session(self._onnx_path, 1)
            return self._batch_session

    def _encode_onnx(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths pad little
        batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
        bar = None
        if progress:  # counted in chunks, so the rate and the time left read as a build's
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="chunk", mininterval=2)
        side_by_side = len(batches) > 1 and self._workers > 1
        session = self._parallel_session() if side_by_side else self.session

        def embed(batch: np.ndarray) -> None:
            with self._tokenizer_lock:
                encoded = self.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                         max_length=self.max_length, return_tensors="np")
            feeds = {k: v.astype(np.int64) for k, v in encoded.items() if k in self.inputs}
            hidden = session.run(None, feeds)[0]
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out[batch] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if bar is not None:
                bar.update(len(batch))

        try:
            if side_by_side:  # ONNX Runtime runs one session from several threads at once
                with ThreadPoolExecutor(self._workers, thread_name_prefix="embed") as pool:
                    list(pool.map(embed, batches))
            else:
                for batch in batches:
                    embed(batch)
        finally:
            if bar is not None:
                bar.close()
        return out


def _onnx_session(path: Path, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    # No spinning after a run: in /ask the search and the reader's own thread pool come next,
    # on the same cores (see qa.reader._OnnxRunner).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the encoder of `model_dir` to ONNX and quantize it to int8 at `target` (atomic)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    LOG.info("exporting %s to int8 ONNX at %s (once)", model_dir, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True).float().eval()

    class Hidden(torch.nn.Module):  # keyword arguments: the positional order of forward() varies by release
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state

    model = Hidden().eval()
    dummy = (torch.ones((2, 16), dtype=torch.long), torch.ones((2, 16), dtype=torch.long),
             torch.zeros((2, 16), dtype=torch.long))
    axes = {0: "batch", 1: "sequence"}
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        torch.onnx.export(model, dummy, str(fp32), input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], dynamic_axes={
                              "input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes}, opset_version=17, dynamo=False)
        quantized = Path(tmp) / ONNX_NAME
        quantize_dynamic(str(fp32), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(quantized, target)
    return target
