"""Replicas: two `newsqa serve` processes over one index folder (as over a shared disk) both
follow a rebuild within seconds, each serving either the old version or the new one whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.waiting import free_port, until

NEW_ARTICLE = """---
id: harbour-dredging-vote
title: Council votes to dredge the harbour
published: 2026-11-30
---
The town council voted on Monday to dredge the old harbour. The work will cost 4.2 million pounds
and is due to start in March, the harbour master Ellen Price said.
"""


def _healthy(url: str):
    try:
        response = httpx.get(f"{url}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_two_servers_over_one_folder_follow_a_rebuild(sample_index_dir, articles_dir, tmp_path):
    index_dir = tmp_path / "shared-index"
    subprocess.run(["cp", "-r", str(sample_index_dir), str(index_dir)], check=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index-dir", str(index_dir), "--port",
                                 str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        before = [until(lambda url=url: _healthy(url), 120) for url in urls]
        assert all(before) and before[0]["served_version"] == before[1]["served_version"]
        (Path(articles_dir) / "harbour.md").write_text(NEW_ARTICLE)
        build = subprocess.run([sys.executable, "-m", "qa", "build", "--articles", str(articles_dir), "--index-dir",
                                str(index_dir), "--quiet"], env=env, capture_output=True, text=True, timeout=300)
        assert build.returncode == 0, build.stderr
        built = time.monotonic()
        for url in urls:
            followed = until(lambda url=url: httpx.get(f"{url}/documents/harbour-dredging-vote").status_code
                             == 200, 10)
            assert followed, f"{url} did not follow the rebuild"
            assert time.monotonic() - built < 10
            health = _healthy(url)
            assert health["served_version"] == health["current_version"] != before[0]["served_version"]
            assert health["documents"] == 2  # the whole new version: the sample and the new article
            answer = httpx.post(f"{url}/ask", json={"question": "Who is the harbour master?"}, timeout=60).json()
            assert answer["answers"][0]["text"] == "Ellen Price"
            assert answer["answers"][0]["document_id"] == "harbour-dredging-vote"
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
