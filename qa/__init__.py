"""newsqa: an offline question-answering assistant for news archives.

Articles are split into offset-preserving chunks, indexed for dense (sentence-transformers) and
sparse (BM25) retrieval, and answered by an extractive transformer reader that
returns cited spans with calibrated scores.
"""

__version__ = "0.1.0"
