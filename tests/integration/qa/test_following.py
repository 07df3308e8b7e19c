"""A served archive that follows its folders and its feeds, with the real models: a file dropped,
changed, written slowly and removed; feed entries published and changed while feeds fail beside
them; a restart that indexes nothing twice; a feed pass killed mid-sync; two servers over one
index folder. The feeds and pages come from a web site on loopback (`tests.feedsite`).

Waits are bounded and generous (the machine may be loaded): these tests say that things happen,
`scripts/benchmark_live.py` measures how fast (docs/live.json)."""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager

from fastapi.testclient import TestClient

from qa.config import Settings
from qa.following import Follower, feeds_folder, poll_feeds_once
from qa.following.feed_records import entry_document_id
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.stores import folder_backend
from scripts.fault_test import kill, start_build_paused_at
from tests.feedsite import FeedSite, article_page, item, rss
from tests.integration.qa.test_replicas import NEW_ARTICLE
from tests.waiting import until
from web.app import create_app
from web.deps import Services

HARBOUR = NEW_ARTICLE.replace("Ellen Price", "{name}")  # the replicas' new article, its harbour master to fill in
LIGHTHOUSE = ["The lighthouse keeper Marta Olsen rescued two sailors from the rocks on Sunday night.",
              "The sailors had lost their engine in the storm, the coastguard said."]


WAIT_S = 300  # the most any one step may take on a loaded machine (it takes seconds when the machine is idle)


def _answer(client: TestClient, question: str) -> str | None:
    answers = client.post("/ask", json={"question": question}).json()["answers"]
    return answers[0]["text"] if answers else None


@contextmanager
def _served(settings: Settings, embedder, reader):
    """A server over `settings` with its follower started by the app's lifespan, as `newsqa serve` runs."""
    live = LiveIndex(settings.index_dir, embedder)
    live.load()
    services = Services(settings, embedder, live, reader, Assistant(live, reader),
                        following=Follower.from_settings(live, settings))
    with TestClient(create_app(services=services)) as client:
        yield client, services


def test_a_served_archive_follows_its_folder(tmp_path, articles_dir, sample_index_dir, embedder, reader):
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index_dir, index_dir)
    # A file must have been still for 5 s before it is read: the slow writer below writes every 0.4 s.
    settings = Settings(index_dir=index_dir, articles=[articles_dir], watch=True, watch_settle_s=5.0)
    with _served(settings, embedder, reader) as (client, services):
        follower = services.following
        assert until(follower.idle, WAIT_S)
        harbour = articles_dir / "harbour.md"
        harbour.write_text(HARBOUR.format(name="Ellen Price"))
        assert until(lambda: _answer(client, "Who is the harbour master?") == "Ellen Price", WAIT_S)

        harbour.write_text(HARBOUR.format(name="Karin Holm"))
        assert until(lambda: _answer(client, "Who is the harbour master?") == "Karin Holm", WAIT_S)
        assert client.get("/healthz").json()["documents"] == 2  # replaced, not added

        slow, parts = articles_dir / "lighthouse.md", ["# Keeper rescues sailors\n\n", *(p + "\n" for p in LIGHTHOUSE)]
        with open(slow, "w") as handle:  # an exporter writing a file in pieces, 0.4 s apart
            for part in parts:
                handle.write(part)
                handle.flush()
                time.sleep(0.4)
                assert client.get("/documents/lighthouse").status_code == 404, "read before it was written"
        document = until(lambda: client.get("/documents/lighthouse").json().get("text"), WAIT_S)
        assert document == "".join(parts)  # whole, at the first read

        harbour.unlink()
        assert until(lambda: client.get("/documents/harbour-dredging-vote").status_code == 404, WAIT_S)
        health = client.get("/healthz").json()
        assert health["following"]["watching"] and health["following"]["last_write"]["removed"] == 1
        assert health["documents"] == 2 and health["updated_at"] == health["built_at"]
        assert health["following"]["file_errors"] == [] and health["following"]["error"] is None


def test_a_served_archive_follows_its_feeds(tmp_path, articles_dir, sample_index_dir, embedder, reader):
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index_dir, index_dir)
    with FeedSite() as site:
        site.feed("/wire.rss", rss("Coastal Wire", []))
        site.set("/down.rss", "an error page", status=500)
        site.set("/garbage.rss", b"\x89PNG\r\n garbage", content_type="application/rss+xml")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text("\n".join(site.url(p) for p in ("/wire.rss", "/down.rss", "/garbage.rss")) + "\n")
        settings = Settings(index_dir=index_dir, articles=[articles_dir], feeds=feeds, feed_poll_s=2)

        def feeds_state(client):
            return {f["url"].rsplit("/", 1)[1]: f for f in client.get("/healthz").json()["following"]["feeds"]}

        with _served(settings, embedder, reader) as (client, _):
            assert until(lambda: all(f["status"] != "waiting" for f in feeds_state(client).values()), WAIT_S)
            site.page("/lighthouse", article_page("Keeper rescues sailors", LIGHTHOUSE))
            site.feed("/wire.rss", rss("Coastal Wire", [
                item("lh-1", site.url("/lighthouse"), "Keeper rescues sailors", "Two sailors were rescued.",
                     "Sun, 29 Nov 2026 23:40:00 GMT", "Local")]))
            assert until(lambda: _answer(client, "Who is the lighthouse keeper?") == "Marta Olsen", WAIT_S)

            state = feeds_state(client)
            assert state["wire.rss"]["status"] in ("ok", "not_modified") and state["wire.rss"]["updated_at"]
            assert state["wire.rss"]["title"] == "Coastal Wire"
            assert (state["down.rss"]["status"], state["down.rss"]["error"]) == ("error", "HTTP 500")
            assert "not an RSS or Atom feed" in state["garbage.rss"]["error"]
            entry = entry_document_id("lh-1")
            archive = client.get("/archive").text
            assert archive.index(entry) < archive.index("un-security-council-aleppo")  # newest first
            assert "Coastal Wire" in archive and "HTTP 500" in archive and 'id="archive-updated"' in archive
            assert "following <a" in client.get("/").text

            changed = [LIGHTHOUSE[0].replace("Marta Olsen", "Nils Berg"), LIGHTHOUSE[1]]
            site.page("/lighthouse", article_page("Keeper rescues sailors", changed))
            site.feed("/wire.rss", rss("Coastal Wire", [
                item("lh-1", site.url("/lighthouse"), "Keeper Nils Berg rescues sailors", "Two sailors were rescued.",
                     "Sun, 29 Nov 2026 23:40:00 GMT", "Local")]))
            assert until(lambda: _answer(client, "Who is the lighthouse keeper?") == "Nils Berg", WAIT_S)
            documents = client.get("/healthz").json()["documents"]
            assert documents == 2 and client.get(f"/documents/{entry}").json()["source"] == "Coastal Wire"

        polled = len(site.hits("/wire.rss"))
        with _served(settings, embedder, reader) as (client, _):  # a restart over the same folders
            assert until(lambda: feeds_state(client)["wire.rss"]["status"] != "waiting", WAIT_S)
            assert feeds_state(client)["wire.rss"]["status"] == "not_modified"
            assert site.hits("/wire.rss")[polled]["if-none-match"]  # what was seen survived the restart
            assert client.get("/healthz").json()["documents"] == documents


def test_a_feed_pass_killed_mid_sync_loses_nothing(tmp_path, articles_dir, sample_index_dir, embedder):
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index_dir, index_dir)
    before = folder_backend(index_dir).current_version()
    with FeedSite() as site:
        site.page("/lighthouse", article_page("Keeper rescues sailors", LIGHTHOUSE))
        site.feed("/wire.rss", rss("Coastal Wire", [
            item(f"lh-{i}", site.url("/lighthouse"), f"Keeper story {i}", "Two sailors were rescued.")
            for i in range(3)]))
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(site.url("/wire.rss") + "\n")
        build = start_build_paused_at("embedding", articles_dir, index_dir, "--feeds", str(feeds))
        kill(build)  # SIGKILL with the entries' files written and their embedding under way
        assert folder_backend(index_dir).current_version() == before  # the archive as it was
        folder = feeds_folder([articles_dir])
        assert len(list(folder.glob("[!.]*.json"))) == 3
        assert not (folder / ".state.json").exists()  # nothing marked as seen: the next pass reads it whole
        after = poll_feeds_once(feeds, [articles_dir], folder_backend(index_dir), embedder, timeout_s=5,
                                max_bytes=1 << 20)
        assert after.summary.added == 3 and after.summary.documents == 4
        again = poll_feeds_once(feeds, [articles_dir], folder_backend(index_dir), embedder, timeout_s=5,
                                max_bytes=1 << 20)
        assert again.polls[0].not_modified and again.summary is None
        assert json.loads((folder / ".state.json").read_text())["feeds"][site.url("/wire.rss")]["etag"]


def test_two_servers_over_one_index_folder(tmp_path, articles_dir, sample_index_dir, embedder):
    """Two servers following one folder write one at a time (the other waits and retries) and both
    serve the result."""
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index_dir, index_dir)
    settings = Settings(index_dir=index_dir, articles=[articles_dir], watch=True)
    servers = []
    for _ in range(2):
        live = LiveIndex(index_dir, embedder)  # each its own backend object, as in its own process
        live.load()
        servers.append((live, Follower(live, settings)))
    for _, follower in servers:
        follower.start()
    try:
        assert until(lambda: all(f.idle() for _, f in servers), WAIT_S)
        for number in range(3):
            (articles_dir / f"harbour-{number}.md").write_text(
                HARBOUR.format(name=f"Keeper {number}").replace("harbour-dredging-vote", f"harbour-{number}"))

        def both_serve(count: int) -> bool:
            return all(live.get().stats().documents == count for live, _ in servers) and all(
                f.idle() for _, f in servers)

        assert until(lambda: both_serve(4), WAIT_S)
        (articles_dir / "harbour-1.md").unlink()
        assert until(lambda: both_serve(3), WAIT_S)
        for live, follower in servers:
            assert live.get().document("harbour-1") is None and live.get().document("harbour-2") is not None
            assert follower.status()["error"] is None and follower.status()["file_errors"] == []
    finally:
        for _, follower in servers:
            follower.stop()
