"""Index and model lifecycle: version order, crash leftovers, fallback from a damaged
version, one reload at a time, degraded health, builds killed mid-way, stale model files."""

import calendar
import json
import shutil
import threading
import time

import pytest
from fastapi.testclient import TestClient

from web.app import create_app
from web.deps import Services
from qa.config import Settings
from qa.types import Document
from qa.embedding import Embedder
from qa.index import NewsIndex
from qa.stores.base import BuildInProgressError, IndexLoadError
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.stores import folder_backend
from qa.stores.faiss import new_version_name
from qa.sync import rebuild_index, sync_index
from qa.reader import (CALIBRATION_FILE, DEFAULT_READER_DIR, ONNX_FILE, WEIGHTS_FILE, ExtractiveReader,
                       ReaderModelError, weights_sha256)
from scripts.fault_test import kill, newest_segment_file, partials, start_build_paused_at


def _add_article(articles_dir, name: str) -> None:
    (articles_dir / f"{name}.md").write_text(f"# {name.title()}\n\nThe {name} report was filed on Monday in Exampleton.")


def _two_versions(articles_dir, index_dir, embedder) -> tuple[str, str]:
    rebuild_index([articles_dir], index_dir, embedder)
    first = folder_backend(index_dir).current_version()
    _add_article(articles_dir, "flood")
    rebuild_index([articles_dir], index_dir, embedder)
    return first, folder_backend(index_dir).current_version()


def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _health(live: LiveIndex, index_dir, embedder, reader) -> dict:
    services = Services(Settings(index_dir=index_dir), embedder, live, reader, Assistant(live, reader))
    with TestClient(create_app(services=services)) as client:
        return client.get("/healthz").json()


def test_version_names_sort_in_creation_order_within_one_second(tmp_path, embedder):
    now = time.time_ns()
    names: list[str] = []
    for _ in range(3):  # three builds in the same nanosecond
        names.append(new_version_name(names, now_ns=now))
    assert names == sorted(names) and len(set(names)) == 3
    assert new_version_name(names, now_ns=now - 3600 * 10**9) > names[-1]  # the clock stepped back an hour
    legacy = "v20261125-143000-123456"  # 6-digit names of earlier releases
    assert new_version_name([legacy], now_ns=calendar.timegm((2026, 11, 25, 14, 30, 0)) * 10**9) > legacy

    documents = [Document("d", "D", "One sentence. Another one.")]
    backend = folder_backend(tmp_path, keep_previous=5)
    made = [sync_index(backend, embedder, documents=documents, full=True).version for _ in range(3)]  # < 1 s
    assert made == sorted(made) == backend.versions()
    assert folder_backend(tmp_path).current_version() == made[-1]
    newest = sync_index(folder_backend(tmp_path, keep_previous=1), embedder, documents=documents, full=True).version
    assert backend.versions() == [made[-1], newest]  # pruning keeps the newest


def test_stale_partial_is_removed_at_the_next_build_but_never_during_one(tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    stale = index_dir / ".v20260101-000000-000000000.partial"
    stale.mkdir()
    (stale / "vectors.faiss").write_bytes(b"half")
    with folder_backend(index_dir).lock():  # a build is running: its staging folder must survive
        with pytest.raises(BuildInProgressError):
            rebuild_index([articles_dir], index_dir, embedder)
        assert stale.exists()
    rebuild_index([articles_dir], index_dir, embedder)
    assert not stale.exists() and partials(index_dir) == []


def test_damaged_current_version_falls_back_and_health_is_degraded(tmp_path, articles_dir, embedder, reader):
    index_dir = tmp_path / "index"
    first, second = _two_versions(articles_dir, index_dir, embedder)
    _truncate(newest_segment_file(index_dir, second, "vectors.faiss"))

    index = NewsIndex.open(folder_backend(index_dir), embedder)
    assert index.version == first and index.stats().documents == 1
    assert f"index version {second} is damaged: vectors.faiss of segment s{second[1:]}" in index.fallback_reason
    with pytest.raises(IndexLoadError, match="damaged: vectors.faiss of segment s.* is missing or altered"):
        NewsIndex.open(folder_backend(index_dir), embedder, fallback=False)

    live = LiveIndex(index_dir, embedder, check_interval=0.0)
    live.load()
    health = _health(live, index_dir, embedder, reader)
    assert health["status"] == "degraded"
    assert health["served_version"] == health["index_version"] == first and health["current_version"] == second
    assert second in health["error"] and str(tmp_path) not in health["error"]

    rebuild_index([articles_dir], index_dir, embedder)  # a good build clears it
    live.get()
    live.wait_for_reload()
    health = _health(live, index_dir, embedder, reader)
    assert health["status"] == "ok" and health["error"] is None
    assert health["served_version"] == health["current_version"] == folder_backend(index_dir).current_version()

    (index_dir / "CURRENT").write_text("v20991231-000000-000000000\n")  # names a version that is not there
    assert NewsIndex.open(folder_backend(index_dir), embedder).version == health["served_version"]


def test_concurrent_gets_start_one_reload(tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    live = LiveIndex(index_dir, embedder, check_interval=0.0)
    live.load()
    _add_article(articles_dir, "storm")
    rebuild_index([articles_dir], index_dir, embedder)
    barrier = threading.Barrier(8)

    def request():
        barrier.wait()
        for _ in range(20):
            assert live.get() is not None

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    live.wait_for_reload()
    assert live.reloads == 2  # the start-up load and exactly one reload
    assert live.get().version == folder_backend(index_dir).current_version() and live.get().stats().documents == 2


def test_failed_hot_reload_keeps_serving_and_shows_in_health(tmp_path, articles_dir, embedder, reader):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    first = folder_backend(index_dir).current_version()
    live = LiveIndex(index_dir, embedder, check_interval=0.0)
    live.load()
    _add_article(articles_dir, "drought")
    rebuild_index([articles_dir], index_dir, embedder)
    second = folder_backend(index_dir).current_version()
    _truncate(newest_segment_file(index_dir, second, "documents.sqlite3"))
    live.get()
    live.wait_for_reload()
    assert live.get().version == first  # the old index keeps answering
    health = _health(live, index_dir, embedder, reader)
    assert health["status"] == "degraded" and health["served_version"] == first
    assert health["current_version"] == second and "documents.sqlite3 of segment" in health["error"]
    assert live.reloads == 2  # the broken version is not retried on every request


@pytest.mark.parametrize("point", ["embedding", "vectors_written", "before_swap"])
def test_a_build_killed_midway_loses_nothing(point, tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    served = folder_backend(index_dir).current_version()
    shared = {p: (p.stat().st_ino, p.stat().st_size) for p in (index_dir / "segments").rglob("*") if p.is_file()}
    _add_article(articles_dir, "wildfire")
    kill(start_build_paused_at(point, articles_dir, index_dir))
    # The served version's segment files, which the killed write would have shared, are untouched.
    assert {p: (p.stat().st_ino, p.stat().st_size) for p in shared} == shared

    index = NewsIndex.open(folder_backend(index_dir), embedder, fallback=False)
    assert index.version == served and index.stats().documents == 1
    assert index.search("Who requested the meeting?", k=3)
    summary = rebuild_index([articles_dir], index_dir, embedder)
    assert summary.documents == 2 and folder_backend(index_dir).current_version() == summary.version
    assert partials(index_dir) == [] and not (index_dir / ".CURRENT.tmp").exists()
    backend = folder_backend(index_dir)
    listed = {e["name"] for v in backend.versions() for e in backend.manifest(v)["segments"]}
    assert {p.name for p in (index_dir / "segments").iterdir()} == listed  # the killed write's segment is gone


@pytest.fixture(scope="module")
def reader_copy(tmp_path_factory):
    """A private copy of the shipped reader folder, free to modify."""
    target = tmp_path_factory.mktemp("reader") / "reader"
    shutil.copytree(DEFAULT_READER_DIR, target)
    return target


def _flip_last_byte(path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))


def test_shipped_reader_files_record_their_weights():
    import onnxruntime as ort

    weights = weights_sha256(DEFAULT_READER_DIR)
    session = ort.InferenceSession(str(DEFAULT_READER_DIR / ONNX_FILE), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["weights_sha256"] == weights
    assert json.loads((DEFAULT_READER_DIR / CALIBRATION_FILE).read_text())["weights_sha256"] == weights


def test_stale_onnx_and_calibration_are_refused(reader_copy):
    _flip_last_byte(reader_copy / WEIGHTS_FILE)  # "retrained" weights beside the old export and calibration
    with pytest.raises(ReaderModelError, match="model.int8.onnx was made from other weights .* re-export it"):
        ExtractiveReader(reader_copy, backend="onnx")
    with pytest.raises(ReaderModelError, match="calibration.json was made from other weights .* refit it"):
        ExtractiveReader(reader_copy, backend="torch")


def test_embedder_fingerprint_follows_the_weight_bytes(tmp_path, embedder):
    copy = tmp_path / "embedder"
    shutil.copytree(embedder.path, copy)
    weights = Embedder.model_fingerprint(embedder.path, embedder.name)
    assert embedder.fingerprint in (weights, f"{weights}-onnx-int8")  # the int8 export is told apart
    assert Embedder.model_fingerprint(copy, embedder.name) == weights
    _flip_last_byte(copy / "model.safetensors")
    assert Embedder.model_fingerprint(copy, embedder.name) != weights
