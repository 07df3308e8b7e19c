"""Fixtures of the store tests: the fake embedder (no model), so the contract runs on small
deterministic vectors."""

from __future__ import annotations

import pytest

from tests.unit.fakes import FakeEmbedder


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()
