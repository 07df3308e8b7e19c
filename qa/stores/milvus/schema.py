"""The collection of one version and its chunk rows.

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
  `published` (nullable VARCHAR `YYYY-MM-DD`, `Document.date`), `source`, `section` (nullable);
  see `qa.stores.milvus.expressions` for why dates stay strings.
- the document itself, stored once: `segment` is `document.text[a_i:a_(i+1)]` where `a_i` is
  the start of chunk `i` (0 for the first, the text's end after the last), so the segments
  of a document in `part` order concatenate to its exact text; the first chunk (`part == 0`)
  also carries `document` (the metadata as JSON) and stands for the document in listings
  and statistics. Every row carries the document's `fingerprint`.

Analyzers: Milvus Lite has no `english` analyzer (only `standard` and `jieba` tokenizers), so
there the text is tokenized by the standard tokenizer, lower-cased, with the same English stop
words as the FAISS store's BM25 and no stemming; clusters get the `english` analyzer (stemming
included). What that costs in ranking: docs/operations.md (the Milvus section).
"""

from __future__ import annotations

import json
import time

import numpy as np

from qa.stores.base import ChangeSet, DocumentChunks, passage_input

VARCHAR_BYTES = 65_535  # Milvus's longest VARCHAR
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
ENGLISH_STOP_WORDS = (  # Lucene's English stop words: the FAISS store's bm25s list and Milvus's `english` analyzer's
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
)
ENGLISH_ANALYZER = {"type": "english"}
LITE_ANALYZER = {"tokenizer": "standard",
                 "filter": ["lowercase", {"type": "stop", "stop_words": list(ENGLISH_STOP_WORDS)}]}
PASSAGE_FIELDS = ["chunk_id", "document_id", "title", "start", "end", "text", "text_offset", "dense"]
DOCUMENT_FIELDS = ["document_id", "part", "segment", "document"]
_TEXT_FIELDS = ("document_id", "text", "title", "segment", "document", "source", "section")


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
        for name in _TEXT_FIELDS:
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


def _index_params(client):
    params = client.prepare_index_params()
    params.add_index("dense", index_type="HNSW", metric_type="IP", params=dict(HNSW_PARAMS))
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    return params


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
