"""Shared fixtures: the real embedding model, the shipped reader and a real index
of the sample article, each loaded once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.live import LiveIndex  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.sync import rebuild_index  # noqa: E402
from qa.reader import ExtractiveReader  # noqa: E402
from web.app import create_app  # noqa: E402
from web.deps import Services  # noqa: E402

SAMPLE_ARTICLES = PROJECT_ROOT / "index" / "articles"
SAMPLE_ID = "un-security-council-aleppo"
FIXTURES = Path(__file__).parent / "fixtures"


def loaded_live_index(index_dir: Path, embedder: Embedder) -> LiveIndex:
    """The index in `index_dir`, served as the app serves it."""
    live = LiveIndex(index_dir, embedder)
    live.load()
    return live


def services_over(index_dir: Path, embedder: Embedder, live: LiveIndex, reader: ExtractiveReader,
                  assistant: Assistant | None = None) -> Services:
    """What the app serves from `index_dir`: by default the assistant the server builds."""
    return Services(Settings(index_dir=index_dir), embedder, live, reader, assistant or Assistant(live, reader))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.from_settings(Settings())


@pytest.fixture(scope="session")
def reader() -> ExtractiveReader:
    return ExtractiveReader(Settings().reader_model)


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory, embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("sample-index")
    rebuild_index([SAMPLE_ARTICLES], index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def live_index(sample_index_dir, embedder) -> LiveIndex:
    return loaded_live_index(sample_index_dir, embedder)


@pytest.fixture(scope="session")
def sample_index(live_index):
    return live_index.get()


@pytest.fixture(scope="session")
def services(sample_index_dir, embedder, live_index, reader) -> Services:
    return services_over(sample_index_dir, embedder, live_index, reader)


@pytest.fixture(scope="session")
def client(services):
    from fastapi.testclient import TestClient

    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def articles_dir(tmp_path) -> Path:
    """A private copy of the sample articles, free to modify."""
    target = tmp_path / "articles"
    shutil.copytree(SAMPLE_ARTICLES, target)
    return target
