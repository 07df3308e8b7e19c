"""Following folders and feeds without a model (the fake embedder, a real folder store, a loopback
web site): fetching with limits, the feeds file, entries as articles (new, changed, their page or
their summary, once across restarts), the faults a feed can have, and the writer's reading of
changed files (settled, batched, removed, moved, refused). Waits are bounded and generous: the
machine may be loaded; no test asserts how fast something was."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
import time
import zlib
from pathlib import Path

import pytest

from qa.config import Settings
from qa.following import Follower, FollowError, check_settings, feeds_folder, poll_feeds_once
from qa.following.feed_records import FeedListError, entry_document_id, entry_key, feed_owner, read_feed_list
from qa.following.feeds import FeedPoller
from qa.following.fetch import Fetcher, FetchError, check_url, is_internal_address, is_internal_host, shown_url
from qa.following.writer import ArchiveWriter
from qa.ingestion import load_file, normalize_date
from qa.ingestion.feeds import parse_feed
from qa.live import LiveIndex
from qa.stores import folder_backend
from qa.sync import sync_index
from qa.types import Document
from tests.feedsite import FeedSite, article_page, item, rss
from tests.waiting import until

STORY = ["The harbour master Ellen Price said on Monday that dredging of the old harbour will start in March.",
         "The work will cost 4.2 million pounds, the council said, and will take two years."]


@pytest.fixture
def site():
    with FeedSite() as running:
        yield running


@pytest.fixture
def archive(tmp_path, fake_embedder):
    """An article folder with one article, indexed into a folder store."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "council.md").write_text("# Council meets\n\nThe council met on Tuesday to approve the budget.\n")
    backend = folder_backend(tmp_path / "index")
    sync_index(backend, fake_embedder, documents=[Document("council", "Council meets", "The council met.")])
    return articles, backend


def _stored(backend) -> dict[str, Document]:
    store = backend.open()
    try:
        return {d.id: d for d in store.documents(limit=1000).documents}
    finally:
        store.close()


# -- fetching ---------------------------------------------------------------------------------------
def test_only_http_urls_and_no_secrets_shown():
    assert check_url(" https://news.example/feed.rss ") == "https://news.example/feed.rss"
    for bad in ("ftp://news.example/feed", "file:///etc/passwd", "/feed.rss", "news.example/feed", "http:///x"):
        with pytest.raises(ValueError):
            check_url(bad)
    assert shown_url("https://user:secret@wire.example:8443/feed?key=abc#top") == "https://wire.example:8443/feed"


def test_fetch_conditional_get_and_faults(site):
    fetcher = Fetcher(timeout_s=60, max_bytes=2048)  # what succeeds is given all the time a loaded machine needs
    quick = Fetcher(timeout_s=0.6, max_bytes=2048)  # what must time out: a server far slower than 0.6 s
    route = site.feed("/feed.rss", rss("Wire", []))
    first = fetcher.get(site.url("/feed.rss"))
    assert first.body == route.body and first.etag == route.etag
    assert fetcher.get(site.url("/feed.rss"), etag=first.etag) is None  # 304
    assert site.hits("/feed.rss")[-1]["if-none-match"] == route.etag
    assert fetcher.get(site.url("/feed.rss"), last_modified=first.last_modified) is None
    site.set("/moved", status=301, location="/feed.rss")
    assert fetcher.get(site.url("/moved")).body == route.body
    cases = {
        "/missing": ({}, "HTTP 404", False),
        "/broken": ({"body": "oops", "status": 500}, "HTTP 500", True),
        "/big": ({"body": "x" * 4096}, "over the limit", False),
        "/big-chunked": ({"body": "x" * 9000, "chunked": True}, "over the limit", False),
        "/to-file": ({"status": 302, "location": "file:///etc/passwd"}, "only http and https", False),
        "/loop": ({"status": 302, "location": "/loop"}, "redirects", False),
    }
    for path, (options, reason, transient) in cases.items():
        if options:
            site.set(path, **options)
        with pytest.raises(FetchError, match=reason) as raised:
            fetcher.get(site.url(path))
        assert raised.value.transient == transient, path
    # A server that would answer in 3 s, or drip its body for 2.5 s: the 0.6 s timeout cuts both off.
    for path, options in {"/slow": {"delay_s": 3.0}, "/drip": {"drip_s": 0.1}}.items():
        site.set(path, "y" * 400, **options)
        with pytest.raises(FetchError, match="timed out") as raised:
            quick.get(site.url(path))
        assert raised.value.transient, path
    with pytest.raises(FetchError, match="internal address"):  # a page a public feed links to
        fetcher.get(site.url("/feed.rss"), internal_ok=False)
    fetcher.close()
    quick.close()


def test_the_timeout_bounds_a_server_that_trickles_its_headers(site):
    """Each read's own timeout never runs out when a byte comes every 0.2 s: the deadline of the whole
    fetch does (the headers would take about a minute)."""
    site.set("/trickle.rss", rss("Wire", []), drip_headers_s=0.2)
    fetcher = Fetcher(timeout_s=1.0, max_bytes=64 * 1024)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out") as raised:
        fetcher.get(site.url("/trickle.rss"))
    assert raised.value.transient
    assert time.monotonic() - started < 30, "held until the headers were whole, not cut at the deadline"
    fetcher.close()


def test_a_name_that_resolves_slowly_is_given_up_on(monkeypatch):
    release = threading.Event()

    def hanging(*args, **kwargs):  # a resolver that never answers (until the test ends)
        release.wait(120)
        raise socket.gaierror("gave up")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            is_internal_host("news.example", timeout_s=0.3)
        fetcher = Fetcher(timeout_s=0.5, max_bytes=1024)
        with pytest.raises(FetchError, match="timed out") as raised:  # the page check, then the connection
            fetcher.get("http://news.example/story", internal_ok=False)
        assert raised.value.transient
        with pytest.raises(FetchError, match="timed out"):
            fetcher.get("http://news.example/feed.rss")
        fetcher.close()
        assert time.monotonic() - started < 60
    finally:
        release.set()


def test_internal_addresses_include_those_reached_through_ipv6():
    for address in ("127.0.0.1", "10.1.2.3", "::1", "fe80::1", "::ffff:192.168.1.1", "64:ff9b::a00:1",
                    "64:ff9b::7f00:1", "64:ff9b:1::8", "2002:7f00:1::1"):
        assert is_internal_address(address), address
    for address in ("93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"):
        assert not is_internal_address(address), address
    assert is_internal_host("[64:ff9b::7f00:1]") and not is_internal_host("93.184.215.14")


def test_bodies_are_decompressed_within_the_limit_and_other_encodings_refused(site):
    fetcher = Fetcher(timeout_s=60, max_bytes=4096)
    text = rss("Wire", [item("g-1", None, "Harbour", "Dredging is planned.")]).encode()
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for path, body, coding in (("/gzip.rss", gzip.compress(text), "gzip"),
                               ("/zlib.rss", zlib.compress(text), "deflate"),
                               ("/raw.rss", raw_deflate.compress(text) + raw_deflate.flush(), "deflate"),
                               ("/plain.rss", text, "identity")):
        site.set(path, body, headers={"Content-Encoding": coding})
        assert fetcher.get(site.url(path)).body == text, path
    assert site.hits("/gzip.rss")[-1]["accept-encoding"] == "gzip, deflate"
    site.set("/bomb.rss", gzip.compress(b"\0" * 50_000_000), headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="over the limit"):  # 50 MB from 49 KB, stopped at 4 KB
        fetcher.get(site.url("/bomb.rss"))
    site.set("/broken.rss", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="could not be decoded"):
        fetcher.get(site.url("/broken.rss"))
    for coding in ("br", "zstd", "gzip, br", "compress"):
        site.set("/other.rss", text, headers={"Content-Encoding": coding})
        with pytest.raises(FetchError, match="Content-Encoding"):
            fetcher.get(site.url("/other.rss"))
    fetcher.close()


def test_a_closed_fetcher_fetches_nothing_more(site):
    site.feed("/feed.rss", rss("Wire", []))
    fetcher = Fetcher(timeout_s=60, max_bytes=4096)
    assert fetcher.get(site.url("/feed.rss")).body
    fetcher.close()
    with pytest.raises(FetchError, match="no longer followed"):
        fetcher.get(site.url("/feed.rss"))
    assert fetcher._client is None  # no new connection pool made after close


# -- the feeds file -----------------------------------------------------------------------------------
def test_feeds_file_lines(tmp_path):
    listed = tmp_path / "feeds.txt"
    listed.write_text("# wires\n\nhttps://a.example/rss\n  http://b.example/atom  \nhttps://a.example/rss\n")
    assert read_feed_list(listed) == ["https://a.example/rss", "http://b.example/atom"]
    listed.write_text("https://a.example/rss\nfile:///etc/passwd\n")
    with pytest.raises(FeedListError, match=r"feeds.txt:2: only http and https"):
        read_feed_list(listed)
    settings = Settings(articles=[tmp_path / "none"], feeds=listed)
    with pytest.raises(FollowError, match="no article folder"):
        check_settings(settings)
    with pytest.raises(FollowError, match="--watch"):
        check_settings(Settings(articles=[tmp_path / "none"], watch=True))


def test_an_entry_is_one_article_whichever_feed_carries_it():
    guid = "https://news.example/world/story-1"
    one = parse_feed(rss("A", [item(guid, None, "Story", "Text.")]).encode(), "a.rss").entries[0]
    other = parse_feed(rss("B", [item(guid, "https://mirror.example/story", "Story, updated", "More text.")]).encode(),
                       "b.rss").entries[0]
    assert entry_document_id(entry_key(one)) == entry_document_id(entry_key(other))
    assert entry_document_id(entry_key(one)).startswith("news-example-")
    assert entry_document_id("urn:uuid:1234").startswith("feed-")
    assert entry_document_id(guid) != entry_document_id(guid + "?v=2")


# -- entries as articles ------------------------------------------------------------------------------
def _feeds_file(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "feeds.txt"
    path.write_text("\n".join(urls) + "\n")
    return path


def _pass(tmp_path, articles, backend, fake_embedder, *urls, **limits):
    limits = {"timeout_s": 1.0, "max_bytes": 64 * 1024, **limits}
    return poll_feeds_once(_feeds_file(tmp_path, *urls), [articles], backend, fake_embedder, **limits)


def test_entries_become_articles_once_and_changes_replace_them(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.page("/harbour", article_page("Harbour to be dredged", STORY))
    site.feed("/wire.rss", rss("Coastal Wire", [
        item("wire-1", site.url("/harbour"), "Harbour to be dredged", "Dredging is planned.",
             "Mon, 30 Nov 2026 09:15:00 GMT", "Local"),
        item(None, site.url("/gone"), "Ferry cancelled", "The evening ferry was cancelled because of the storm."),
        item("wire-3", None, "No text at all"),
    ]))
    done = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert done.failed == [] and done.summary.added == 2
    stored = _stored(backend)
    harbour = stored[entry_document_id("wire-1")]
    assert harbour.text.endswith("\n".join(STORY))  # the page's main text (headline and story) ...
    assert not any(word in harbour.text for word in ("Home", "Most read", "Cookie"))  # ... no menu, aside or footer
    assert (harbour.title, harbour.published, harbour.source, harbour.section, harbour.url) == (
        "Harbour to be dredged", "2026-11-30T09:15:00Z", "Coastal Wire", "Local", site.url("/harbour"))
    ferry = stored[entry_document_id(site.url("/gone"))]  # no guid: its link; the page is a 404
    assert ferry.text == "The evening ferry was cancelled because of the storm." and ferry.summary_only
    assert Path(harbour.path).parent == feeds_folder([articles])  # a file of the archive folder
    record = json.loads(Path(harbour.path).read_text())
    assert record["feed"] == {"url": site.url("/wire.rss"), "owner": feed_owner(site.url("/wire.rss")),
                              "guid": "wire-1"}

    again = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))  # 304: nothing read
    assert again.polls[0].not_modified and again.summary is None
    assert site.hits("/wire.rss")[-1]["if-none-match"] == site.routes["/wire.rss"].etag

    site.feed("/wire.rss", rss("Coastal Wire", [
        item("wire-1", site.url("/harbour"), "Harbour dredging delayed", "Dredging is delayed.",
             "Mon, 30 Nov 2026 09:15:00 GMT", "Local"),
        item("wire-4", site.url("/harbour"), "Harbour costs", "The work will cost 4.2 million pounds."),
    ]))
    changed = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert (changed.summary.added, changed.summary.changed, changed.summary.removed) == (1, 1, 0)
    stored = _stored(backend)
    assert stored[entry_document_id("wire-1")].title == "Harbour dredging delayed"
    assert len(stored) == 4  # council, harbour (replaced), ferry (no longer in the feed: kept), costs
    assert sorted(p.name for p in feeds_folder([articles]).glob("[!.]*")) == sorted(
        f"{i}.json" for i in stored if i != "council")


def test_a_restart_indexes_nothing_twice(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.page("/harbour", article_page("Harbour to be dredged", STORY))
    site.feed("/a.rss", rss("A", [item("shared-1", site.url("/harbour"), "Harbour to be dredged")]))
    site.feed("/b.rss", rss("B", [item("shared-1", site.url("/harbour"), "Harbour to be dredged")]))
    first = _pass(tmp_path, articles, backend, fake_embedder, site.url("/a.rss"), site.url("/b.rss"))
    assert first.summary.added == 1 and len(_stored(backend)) == 2  # one article, in two feeds
    (feeds_folder([articles]) / ".state.json").unlink()  # even without what was seen: same files, same ids
    fake_embedder.encoded = 0
    again = _pass(tmp_path, articles, backend, fake_embedder, site.url("/a.rss"), site.url("/b.rss"))
    assert again.summary is None or again.summary.version is None
    assert fake_embedder.encoded == 0 and len(_stored(backend)) == 2


def test_a_failing_feed_is_skipped_with_its_reason_and_the_others_go_on(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.page("/harbour", article_page("Harbour to be dredged", STORY))
    site.feed("/good.rss", rss("Good", [item("g-1", site.url("/harbour"), "Harbour to be dredged")]))
    site.set("/error.rss", "server error", status=500)
    site.set("/garbage.rss", b"\x00\x01 this is <not a feed", content_type="application/rss+xml")
    site.set("/html.rss", "<html><body><p>Welcome</p></body></html>", content_type="text/html")
    site.feed("/huge.rss", rss("Huge", [item(f"h-{i}", None, f"Entry {i}", "x" * 500) for i in range(300)]))
    site.feed("/slow.rss", rss("Slow", []), delay_s=3.0)
    urls = [site.url(p) for p in ("/error.rss", "/garbage.rss", "/html.rss", "/huge.rss", "/slow.rss", "/good.rss")]
    done = _pass(tmp_path, articles, backend, fake_embedder, *urls)
    reasons = {shown_url(p.url).rsplit("/", 1)[1]: p.error for p in done.polls}
    assert reasons["good.rss"] is None and done.summary.added == 1
    assert reasons["error.rss"] == "HTTP 500"
    assert "not an RSS or Atom feed" in reasons["garbage.rss"] and "not an RSS or Atom feed" in reasons["html.rss"]
    assert "over the limit" in reasons["huge.rss"] and "timed out" in reasons["slow.rss"]
    state = json.loads((feeds_folder([articles]) / ".state.json").read_text())["feeds"]
    assert set(state) == {site.url("/good.rss")}  # a failed feed keeps no validators: fetched whole next time


def test_a_page_that_failed_for_now_is_tried_again(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.set("/harbour", "busy", status=503)
    site.feed("/wire.rss", rss("Wire", [item("w-1", site.url("/harbour"), "Harbour", "Dredging is planned.")]))
    first = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert first.summary.added == 1 and _stored(backend)[entry_document_id("w-1")].summary_only
    site.page("/harbour", article_page("Harbour to be dredged", STORY))
    second = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert "if-none-match" not in site.hits("/wire.rss")[-1]  # the whole feed again, for the page
    assert second.summary.changed == 1 and _stored(backend)[entry_document_id("w-1")].text.endswith(STORY[-1])
    third = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert third.polls[0].not_modified


# -- the writer -----------------------------------------------------------------------------------------
def _writer(articles, backend, fake_embedder, **options) -> ArchiveWriter:
    return ArchiveWriter(backend, fake_embedder, [articles], settle_s=options.pop("settle_s", 0.0), **options)


def test_the_writer_follows_files_added_changed_moved_and_removed(archive, fake_embedder, tmp_path):
    articles, backend = archive
    writer = _writer(articles, backend, fake_embedder)
    first = writer.write_now(full=True)  # the start: a sync with the folder, as `newsqa build`
    assert set(_stored(backend)) == {"council"} and first.changed == 1  # now the file's article
    (articles / "world").mkdir()
    story = articles / "world" / "Storm Hits.md"
    story.write_text("# Storm hits the coast\n\nA storm hit the coast on Friday.\n")
    (articles / ".hidden.md").write_text("# Hidden\n\nNot an article.\n")
    (articles / "notes.tmp").write_text("a temporary file")
    writer.write_now([story, articles / ".hidden.md", articles / "notes.tmp"])
    assert set(_stored(backend)) == {"council", "world-storm-hits"}
    story.write_text("# Storm hits the coast\n\nA storm hit the coast on Friday night.\n")
    writer.write_now([story])
    assert _stored(backend)["world-storm-hits"].text.endswith("Friday night.\n")
    outside = tmp_path / "elsewhere"
    (articles / "world").rename(outside)  # a folder moved out: its articles go
    writer.write_now([articles / "world"])
    assert set(_stored(backend)) == {"council"}
    outside.rename(articles / "world")  # ... and back in
    writer.write_now([articles / "world"])
    assert set(_stored(backend)) == {"council", "world-storm-hits"}
    story.unlink()
    summary = writer.write_now([story])
    assert summary.removed == 1 and set(_stored(backend)) == {"council"}


def test_the_writer_refuses_what_build_refuses_and_keeps_the_rest(archive, fake_embedder):
    articles, backend = archive
    writer = _writer(articles, backend, fake_embedder)
    (articles / "broken.json").write_text('{"title": "no text"}')
    writer.write_now(full=True)
    assert set(_stored(backend)) == {"council"}
    assert writer.status()["file_errors"][-1]["file"] == "broken.json"  # named relative to its folder
    twin = articles / "twin.md"
    twin.write_text("---\nid: council\n---\nAnother article claiming the id.\n")
    writer.write_now([twin])
    assert _stored(backend)["council"].text.startswith("# Council meets")
    assert "duplicate document id 'council' (also in council.md)" in writer.status()["file_errors"][-1]["reason"]
    for path in articles.iterdir():
        path.unlink()
    assert writer.write_now(full=True) is None  # an emptied folder is no reason to empty the index
    assert set(_stored(backend)) == {"council"}


def test_the_writer_waits_for_a_file_being_written_and_batches(archive, fake_embedder):
    articles, backend = archive
    written: list = []
    # A file must be still for 5 s, and it is written every 0.25 s: 20 times the gap, for a loaded machine.
    writer = _writer(articles, backend, fake_embedder, settle_s=5.0, batch_s=0.1,
                     after_write=lambda summary: written.append(summary))
    writer.start()
    try:
        slow = articles / "slow.md"
        with open(slow, "w") as handle:
            for part in range(5):
                handle.write(f"Part {part} of a slow article. ")
                handle.flush()
                writer.submit([slow])  # as the watcher would, at every change
                time.sleep(0.25)
        for number in range(3):
            (articles / f"quick-{number}.md").write_text(f"# Quick {number}\n\nA quick article.\n")
        writer.submit([articles / f"quick-{number}.md" for number in range(3)])
        assert until(writer.idle, 120, 0.05)
    finally:
        writer.stop()
    assert _stored(backend)["slow"].text.startswith("Part 0") and "Part 4" in _stored(backend)["slow"].text
    assert sum(s.added for s in written) == 4 and len(written) <= 2  # in one or two writes ...
    assert all(s.changed == 0 for s in written)  # ... and never half of the slow file first


def test_serve_refuses_what_cannot_be_followed(tmp_path, capsys):
    from qa.cli import serve

    listed = tmp_path / "feeds.txt"
    listed.write_text("https://a.example/rss\nfile:///etc/passwd\n")
    assert serve.main(["--feeds", str(listed), "--articles", str(tmp_path)]) == 2
    assert "feeds.txt:2: only http and https" in capsys.readouterr().err
    assert serve.main(["--watch", "--articles", str(tmp_path / "missing")]) == 2
    assert "none of the article paths is a folder" in capsys.readouterr().err


# -- what a poll keeps, and what it does not ----------------------------------------------------------
def _poller(tmp_path, articles, *urls, timeout_s: float = 60.0) -> FeedPoller:
    poller = FeedPoller(_feeds_file(tmp_path, *urls), feeds_folder([articles]), Fetcher(timeout_s, 64 * 1024))
    poller.load()
    return poller


def test_a_poll_cut_short_by_a_stop_keeps_nothing(tmp_path, archive, site, fake_embedder):
    """Stopping half-way through a feed's entries keeps neither its ETag nor its entries, so that the
    next start reads the whole feed (a kept ETag would get a 304, and the rest would wait for a change)."""
    articles, _ = archive
    site.feed("/wire.rss", rss("Wire", [item(f"w-{i}", None, f"Story {i}", f"Text of story {i}.") for i in range(4)]))
    url = site.url("/wire.rss")
    poller = _poller(tmp_path, articles, url)
    entry = poller._entry

    def then_stop(poll, *args):  # the server is stopped while the first entry is written
        entry(poll, *args)
        poller._stop.set()

    poller._entry = then_stop
    poll = poller.poll(url)
    assert len(poll.written) == 1 and not poll.complete
    poller.finish(poll)
    poller.fetcher.close()
    state = feeds_folder([articles]) / ".state.json"
    assert not state.exists() or url not in json.loads(state.read_text())["feeds"]

    again = _poller(tmp_path, articles, url)  # the restart
    second = again.poll(url)
    assert not second.not_modified and "if-none-match" not in site.hits("/wire.rss")[-1]
    assert len(second.written) == 4  # every entry handed over: the three it had not reached among them
    again.fetcher.close()


def test_a_state_that_cannot_be_written_is_the_feeds_error_and_it_is_polled_again(tmp_path, archive, site):
    articles, _ = archive
    site.feed("/wire.rss", rss("Wire", [item("w-1", None, "Story", "Text.")]))
    url = site.url("/wire.rss")
    poller = _poller(tmp_path, articles, url)

    def full_disk(poll):
        raise OSError(28, "No space left on device")

    poller.state.commit = full_disk
    poller._in_flight.add(url)
    poller.finish(poller.poll(url))  # does not raise
    shown = poller.status()[0]
    assert shown["status"] == "error" and "No space left on device" in shown["error"]
    assert url not in poller._in_flight  # polled again at its next turn

    class Refusing:  # a writer that fails to take the files (a bug): the feed must not stay "in flight"
        def submit(self, *args, **kwargs):
            raise RuntimeError("refused")

    poller.writer = Refusing()
    poller._in_flight.add(url)
    (feeds_folder([articles]) / f"{entry_document_id('w-1')}.json").unlink()  # written again: handed over
    with pytest.raises(RuntimeError):
        poller._poll_and_index(url)
    assert url not in poller._in_flight
    poller.fetcher.close()


@pytest.mark.parametrize("state", [  # valid JSON, but not what `FeedState.commit` writes (URL: the feed's)
    {"format": 1, "feeds": ["URL"]},
    {"format": 1, "feeds": {"URL": ["etag"]}},
    {"format": 1, "feeds": {"URL": {"entries": ["ID"]}}},
    {"format": 1, "feeds": {"URL": {"entries": {"ID": ["hash"]}}}},
    {"format": 1, "feeds": {"URL": {"entries": {"ID": {"hash": "x", "tries": "2"}}}}},
    {"format": 1, "feeds": {"URL": {"etag": 5}}},
    ["format", 1],
])
def test_a_state_file_of_another_shape_is_started_over(tmp_path, archive, site, state):
    articles, _ = archive
    site.feed("/wire.rss", rss("Wire", [item("w-1", None, "Story", "Text.")]))
    folder = feeds_folder([articles])
    folder.mkdir()
    text = json.dumps(state).replace('"URL"', json.dumps(site.url("/wire.rss")))
    (folder / ".state.json").write_text(text.replace('"ID"', json.dumps(entry_document_id("w-1"))))
    poller = _poller(tmp_path, articles, site.url("/wire.rss"))
    assert poller.status()[0]["status"] == "waiting"  # /healthz, / and /archive show it
    poll = poller.poll(site.url("/wire.rss"))
    assert poll.error is None and len(poll.written) == 1
    poller.finish(poll)
    assert poller.status()[0]["entries"] == 1
    poller.fetcher.close()


def test_a_date_before_the_year_1000_is_no_date(tmp_path, archive, site, fake_embedder):
    """feedparser reads 'pubDate ... 0099'; the entry takes the date it was first seen instead, and its
    file is one `newsqa build` reads back."""
    assert normalize_date("0099-01-01T10:00:00+00:00") == "0099-01-01T10:00:00Z"  # zero-padded: it reads back
    assert normalize_date(normalize_date("0099-01-01T10:00:00+00:00")) == "0099-01-01T10:00:00Z"
    articles, backend = archive
    site.feed("/old.rss", rss("Old", [item("o-1", None, "Ancient", "A story dated long ago.",
                                           "Thu, 01 Jan 0099 10:00:00 GMT")]))
    done = _pass(tmp_path, articles, backend, fake_embedder, site.url("/old.rss"))
    assert done.failed == [] and done.summary.added == 1
    stored = _stored(backend)[entry_document_id("o-1")]
    assert stored.published >= "2020" and stored.published == normalize_date(stored.published)
    for path in feeds_folder([articles]).glob("[!.]*.json"):
        load_file(path, articles)  # every file reads back
    writer = _writer(articles, backend, fake_embedder)
    writer.write_now(full=True)  # `newsqa build` over the archive
    assert writer.status()["file_errors"] == []


def test_an_entry_the_writer_cannot_index_is_not_kept_as_seen(tmp_path, archive, site, fake_embedder, monkeypatch):
    """A file that does not load is an error for the poll that wrote it: its entry is read again next time."""
    articles, backend = archive
    site.feed("/wire.rss", rss("Wire", [item("w-1", None, "Story", "Text of the story.")]))
    import qa.following.writer as writer_module

    real = writer_module.load_file

    def refusing(path, root, *args, **kwargs):
        if Path(path).parent.name == "feeds":
            raise writer_module.ArticleError(path, "unreadable date '99-01-01T10:00:00Z'")
        return real(path, root, *args, **kwargs)

    monkeypatch.setattr(writer_module, "load_file", refusing)
    done = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert len(done.failed) == 1 and "not indexed" in done.failed[0].error and "unreadable date" in done.failed[0].error
    state = feeds_folder([articles]) / ".state.json"
    assert not state.exists() or site.url("/wire.rss") not in json.loads(state.read_text())["feeds"]
    monkeypatch.setattr(writer_module, "load_file", real)
    again = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert again.failed == [] and not again.polls[0].not_modified and again.summary.added == 1


def test_the_writer_tells_the_caller_which_of_its_files_failed(archive, fake_embedder):
    articles, backend = archive
    writer = _writer(articles, backend, fake_embedder)
    writer.start()
    told: list = []
    try:
        good, bad = articles / "good.md", articles / "bad.json"
        good.write_text("# Good\n\nA good article.\n")
        bad.write_text('{"title": "no text"}')
        writer.submit([good], settle=False, done=lambda summary, error: told.append(("good", error)))
        writer.submit([bad], settle=False, done=lambda summary, error: told.append(("bad", error)))
        assert until(lambda: len(told) == 2, 120)
    finally:
        writer.stop()
    errors = dict(told)
    assert errors["good"] is None and "bad.json" in errors["bad"] and "no 'text'" in errors["bad"]


def test_entries_without_guid_or_link_are_known_by_feed_and_title(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.feed("/wire.rss", rss("Wire", [item(None, None, "Ferry cancelled", "The evening ferry was cancelled."),
                                        item(None, None, "", "An entry with nothing to know it by.")]))
    first = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert first.summary.added == 1 and first.polls[0].skipped == ["an entry with no guid, link or title"]
    site.feed("/wire.rss", rss("Wire", [item(None, None, "Ferry cancelled", "The ferry was cancelled: a storm.")]))
    edited = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert (edited.summary.added, edited.summary.changed) == (0, 1)  # the edit replaced it
    assert len(_stored(backend)) == 2 and len(list(feeds_folder([articles]).glob("[!.]*.json"))) == 1


def test_feeds_that_differ_only_in_their_query_are_two_feeds(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    uk, us = site.url("/wire.rss?edition=uk"), site.url("/wire.rss?edition=us")
    site.feed("/wire.rss?edition=uk", rss("UK Wire", [item("shared-1", None, "Harbour to be dredged", "Dredging.")]))
    site.feed("/wire.rss?edition=us", rss("US Wire", [item("shared-1", None, "Harbour dredging planned", "Dredging.")]))
    _pass(tmp_path, articles, backend, fake_embedder, uk)
    _pass(tmp_path, articles, backend, fake_embedder, uk, us)
    document = _stored(backend)[entry_document_id("shared-1")]
    assert (document.source, document.title) == ("UK Wire", "Harbour to be dredged")  # the first feed keeps it
    record = json.loads(Path(document.path).read_text())
    assert record["feed"]["owner"] == feed_owner(uk) and "edition" not in json.dumps(record)


def test_one_feeds_surprise_is_its_error_in_a_pass(tmp_path, archive, site, fake_embedder, monkeypatch):
    articles, backend = archive
    site.feed("/good.rss", rss("Good", [item("g-1", None, "Harbour", "Dredging is planned.")]))
    site.feed("/full.rss", rss("Full", [item("f-1", None, "Ferry", "The ferry was cancelled.")]))
    entry = FeedPoller._entry

    def disk_full_for_one(self, poll, *args):
        if poll.url.endswith("/full.rss"):
            raise OSError(28, "No space left on device")
        return entry(self, poll, *args)

    monkeypatch.setattr(FeedPoller, "_entry", disk_full_for_one)
    done = _pass(tmp_path, articles, backend, fake_embedder, site.url("/full.rss"), site.url("/good.rss"))
    reasons = {shown_url(p.url).rsplit("/", 1)[1]: p.error for p in done.polls}
    assert reasons == {"full.rss": "the feed's entries could not be kept (No space left on device)", "good.rss": None}
    assert done.summary.added == 1 and entry_document_id("g-1") in _stored(backend)


def test_entry_files_left_unindexed_are_indexed_by_the_next_pass(tmp_path, archive, site, fake_embedder):
    """A kill between writing an entry's file and indexing it, or a write that failed: the next pass
    indexes the file although its feed now answers 304."""
    articles, backend = archive
    site.feed("/wire.rss", rss("Wire", [item("w-1", None, "Story", "Text of the story.")]))
    first = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert first.summary.added == 1
    folder = feeds_folder([articles])
    (folder / "left-behind.json").write_text(json.dumps({"id": "left-behind", "title": "Left behind",
                                                         "text": "An entry whose write was cut short."}))
    fake_embedder.encoded = 0
    again = _pass(tmp_path, articles, backend, fake_embedder, site.url("/wire.rss"))
    assert again.polls[0].not_modified and again.summary.added == 1 and again.summary.changed == 0
    assert "left-behind" in _stored(backend)


def test_a_feeds_only_server_indexes_what_was_left_at_start(tmp_path, archive, site, fake_embedder):
    articles, backend = archive
    site.feed("/wire.rss", rss("Wire", []))
    folder = feeds_folder([articles])
    folder.mkdir()
    (folder / "left-behind.json").write_text(json.dumps({"id": "left-behind", "title": "Left behind",
                                                         "text": "An entry whose write was cut short."}))
    live = LiveIndex(backend, fake_embedder)
    live.load()
    follower = Follower(live, Settings(articles=[articles], feeds=_feeds_file(tmp_path, site.url("/wire.rss")),
                                       feed_poll_s=600))
    follower.start()
    try:
        assert until(lambda: "left-behind" in _stored(backend) and follower.idle(), 120)
    finally:
        follower.stop()


def test_a_start_that_fails_stops_what_it_started(tmp_path, archive, site, fake_embedder, monkeypatch):
    articles, backend = archive
    site.feed("/wire.rss", rss("Wire", []))
    live = LiveIndex(backend, fake_embedder)
    live.load()

    def failing(self):
        raise RuntimeError("cannot start the polls")

    monkeypatch.setattr(FeedPoller, "start", failing)
    follower = Follower(live, Settings(articles=[articles], feeds=_feeds_file(tmp_path, site.url("/wire.rss"))))
    with pytest.raises(RuntimeError, match="cannot start"):
        follower.start()
    assert until(lambda: not any(t.name == "archive-writer" and t.is_alive() for t in threading.enumerate()), 60)
    with pytest.raises(FetchError):  # its fetcher was closed too
        follower.poller.fetcher.get(site.url("/wire.rss"))


def test_a_failed_load_after_a_write_is_not_a_failed_write(archive, fake_embedder):
    articles, backend = archive

    def failing_load(summary):
        raise RuntimeError("the served index could not load it")

    writer = _writer(articles, backend, fake_embedder, after_write=failing_load)
    writer.start()
    told: list = []
    try:
        story = articles / "story.md"
        story.write_text("# Story\n\nA new article.\n")
        writer.submit([story], settle=False, done=lambda summary, error: told.append((summary, error)))
        assert until(lambda: told, 120)
    finally:
        writer.stop()
    summary, error = told[0]
    assert error is None and summary.added == 1 and writer.status()["error"] is None


def test_a_file_dated_in_the_future_is_not_held_back(archive, fake_embedder):
    articles, backend = archive
    writer = _writer(articles, backend, fake_embedder, settle_s=2.0)
    story = articles / "story.md"
    story.write_text("# Story\n\nA new article.\n")
    day = 24 * 3600
    os.utime(story, (time.time() + day, time.time() + day))  # a clock that is wrong, or a copied mtime
    assert writer._unsettled_for(os.path.abspath(story)) <= 2.0
