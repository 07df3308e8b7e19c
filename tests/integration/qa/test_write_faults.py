"""Writes that fail or die half-way lose nothing: a build that runs out of disk leaves the old
version served and says why (through the fault hook, and on a real small filesystem where this
machine may mount one); a server killed during an article upload leaves the article either
fully in the archive or not at all once it starts again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.cli import build as build_cli
from qa.config import Settings
from qa.faults import DISK_FULL_ENV, PAUSE_ENV
from qa.index import NewsIndex
from qa.ingestion.adding import ADDED_FOLDER, MARKER_SUFFIX
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.stores import folder_backend
from qa.stores.base import DiskFullError
from qa.sync import rebuild_index
from tests.integration.qa.test_replicas import _healthy
from tests.waiting import free_port, until
from web.app import create_app
from web.deps import Services

FLOOD = "# Flood in Exampleton\n\nThe river Exe burst its banks on Monday and flooded 40 homes in Exampleton.\n"
QUESTION = "How many homes were flooded in Exampleton?"


def _served(index_dir: Path, embedder) -> NewsIndex:
    return NewsIndex.open(folder_backend(index_dir), embedder, fallback=False)


def _leftovers(index_dir: Path) -> list[str]:
    """What a failed write left: its partial folders, and segments that no version lists."""
    backend = folder_backend(index_dir)
    listed = {entry["name"] for version in backend.versions() for entry in backend.manifest(version)["segments"]}
    return sorted([p.name for p in index_dir.iterdir() if p.name.startswith(".v") or p.name == ".CURRENT.tmp"] +
                  [p.name for p in (index_dir / "segments").iterdir() if p.name not in listed])


@pytest.mark.parametrize("point", ["vectors_written", "before_swap"])
def test_a_build_out_of_disk_keeps_the_old_version_and_says_why(point, tmp_path, articles_dir, embedder,
                                                               monkeypatch, capsys):
    index_dir = tmp_path / "index"
    first = rebuild_index([articles_dir], index_dir, embedder).version
    (articles_dir / "flood.md").write_text(FLOOD)
    monkeypatch.setenv(DISK_FULL_ENV, point)
    with pytest.raises(DiskFullError, match="no space left on the disk"):
        rebuild_index([articles_dir], index_dir, embedder)
    assert build_cli.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 4
    said = capsys.readouterr().err
    assert "no space left on the disk" in said and f"version {first} is still the one served" in said
    assert "Traceback" not in said
    served = _served(index_dir, embedder)
    assert served.version == first and served.stats().documents == 1
    assert [v.name for v in index_dir.iterdir() if v.name.startswith("v")] == [first]  # nothing of the failure kept
    assert _leftovers(index_dir) == []
    monkeypatch.delenv(DISK_FULL_ENV)
    assert rebuild_index([articles_dir], index_dir, embedder).version != first  # with space again, it builds


def _mount_small_filesystem(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_build_on_a_full_filesystem_keeps_the_old_version(tmp_path, articles_dir, embedder):
    """The real thing: the errors a full disk raises in SQLite, FAISS and the file copies, not an injected one."""
    disk = tmp_path / "small-disk"
    if not _mount_small_filesystem(disk, "4m"):
        pytest.skip("this machine cannot mount a small tmpfs (needs root); the fault-hook test covers the logic")
    try:
        index_dir = disk / "index"
        first = rebuild_index([articles_dir], index_dir, embedder).version
        free = shutil.disk_usage(disk).free
        with open(disk / "filler", "wb") as filler:  # leave less room than one more version needs
            filler.write(b"\0" * (free - 8 * 1024))  # (a version of one new article takes about 40 KB)
        left = shutil.disk_usage(disk).free
        (articles_dir / "flood.md").write_text(FLOOD)
        with pytest.raises(DiskFullError, match="no space left on the disk"):
            rebuild_index([articles_dir], index_dir, embedder)
        served = _served(index_dir, embedder)
        assert served.version == first and served.search(QUESTION, k=1)
        assert _leftovers(index_dir) == [] and shutil.disk_usage(disk).free >= left  # its space given back
        (disk / "filler").unlink()
        assert rebuild_index([articles_dir], index_dir, embedder).version != first
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_an_upload_out_of_disk_is_refused_and_leaves_nothing(tmp_path, articles_dir, embedder, reader, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    monkeypatch.setenv(DISK_FULL_ENV, "vectors_written")
    live = LiveIndex(index_dir, embedder, check_interval=3600)
    live.load()
    services = Services(Settings(index_dir=index_dir, articles=[articles_dir]), embedder, live, reader,
                        Assistant(live, reader))
    with TestClient(create_app(services=services)) as client:
        response = client.post("/documents", json={"title": "Flood in Exampleton", "text": FLOOD})
        assert response.status_code == 507, response.text
        assert "no space left" in response.json()["detail"] and "the article was not added" in response.json()["detail"]
        assert str(tmp_path) not in response.json()["detail"]
        assert client.get("/documents").json()["total"] == 1
    assert list((articles_dir / ADDED_FOLDER).iterdir()) == []


def _start_paused_server(point: str, index_dir: Path, articles_dir: Path):
    port = free_port()
    env = {**os.environ, PAUSE_ENV: point, "NEWSQA_ARTICLES": str(articles_dir), "PYTHONUNBUFFERED": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index-dir", str(index_dir), "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    assert until(lambda: _healthy(url), 120), "the server did not start"
    return server, url


def _wait_for_line(process: subprocess.Popen, text: str, seconds: float) -> bool:
    watchdog = threading.Timer(seconds, process.kill)  # a server that never pauses must not hang the suite
    watchdog.start()
    try:
        return any(text in line for line in process.stderr)
    finally:
        watchdog.cancel()


def _post_quietly(url: str, body: dict) -> None:
    try:
        httpx.post(url, json=body, timeout=300)
    except httpx.HTTPError:
        pass  # the server is killed under it


@pytest.mark.parametrize("point,kept", [("embedding", False), ("after_swap", True)])
def test_a_server_killed_during_an_upload_keeps_the_article_whole_or_not_at_all(point, kept, tmp_path, articles_dir,
                                                                               embedder):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    server, url = _start_paused_server(point, index_dir, articles_dir)
    try:
        threading.Thread(target=_post_quietly, args=(f"{url}/documents", {"title": "Flood in Exampleton",
                                                                         "text": FLOOD}), daemon=True).start()
        assert _wait_for_line(server, f"NEWSQA_PAUSED {point}", 120), f"the upload never reached {point}"
    finally:
        server.kill()
        server.wait()
        server.stderr.close()
    added = articles_dir / ADDED_FOLDER
    files = [p for p in added.iterdir() if not p.name.startswith(".")]
    assert len(files) == 1 and list(added.glob(f".*{MARKER_SUFFIX}"))  # killed half-way: the file and its marker

    settings = Settings(index_dir=index_dir, articles=[articles_dir])
    with TestClient(create_app(settings)) as client:  # the next start settles it
        listed = client.get("/documents").json()
        answer = client.post("/ask", json={"question": QUESTION}).json()
        health = client.get("/healthz").json()
    assert not list(added.glob(f".*{MARKER_SUFFIX}"))
    if kept:
        assert [p for p in added.iterdir() if not p.name.startswith(".")] == files
        assert listed["total"] == 2 and answer["answers"][0]["text"] == "40"
        assert answer["answers"][0]["document_id"] in {d["id"] for d in listed["documents"]}
        assert rebuild_index([articles_dir], index_dir, embedder).version is None  # the folder agrees with the index
    else:
        assert [p for p in added.iterdir() if not p.name.startswith(".")] == []
        assert listed["total"] == 1 and all("40" != a["text"] for a in answer["answers"])
        assert health["served_version"] == health["current_version"]
