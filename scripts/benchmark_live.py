#!/usr/bin/env python
"""How fast a served archive follows its feeds and folders, and what that costs the questions.

    python scripts/benchmark_live.py                     # 100 feeds x 10 entries at a 2 s poll -> docs/live.json
    python scripts/benchmark_live.py --feeds 20 --entries 5 --check 50 --out /tmp/live.json

A web site on loopback (`tests.feedsite`) serves `--feeds` RSS feeds, empty at first, and a news
page per entry. `newsqa serve --watch --feeds FILE` runs in its own process over a copy of the
sample archive, every feed polled every `--poll` seconds. One client in this process asks the
sample questions one after another, and the script measures:

1. `/ask` latency with nothing to follow (idle);
2. one entry published in one feed: seconds until `/ask` answers it (target: 10 s at a 2 s poll);
3. `--entries` new entries in every feed at once: seconds until all are indexed, `/ask` latency
   meanwhile (target: p95 no worse than twice the idle p95), then each entry's question asked
   (`--check`: all, or that many picked at random; target: all answered from their entry);
4. a file dropped in the watched folder: seconds until `/ask` answers it, and the same less its
   embedding (target: 5 s); the file removed: seconds until it is gone (target: 5 s);
5. the server restarted: entries indexed twice (target: 0).

Each entry says who a made-up town appointed to a post, so that each question has one answer in
one article. Prints the results and writes them, dated, to `--out`. The machine's other load
matters: say so with the numbers (`--note`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import PROJECT_ROOT  # noqa: E402
from qa.evaluation import percentile  # noqa: E402
from qa.following.feed_records import entry_document_id  # noqa: E402
from scripts.load_test import QUESTIONS, machine  # noqa: E402
from tests.feedsite import FeedSite, article_page, item, rss  # noqa: E402
from tests.waiting import free_port, until  # noqa: E402

ROLES = ["harbour master", "fire chief", "head librarian", "town clerk", "chief engineer", "school inspector",
         "museum director", "park warden", "bridge keeper", "market inspector"]
FIRST = ["Ilse", "Marta", "Tomas", "Aino", "Pavel", "Greta", "Oskar", "Lena", "Ruben", "Saga", "Emil", "Vera",
         "Anton", "Hedda", "Kasper", "Mira", "Jonas", "Edith", "Leif", "Nora"]
LAST = ["Marten", "Olsen", "Brandt", "Kallio", "Novak", "Lind", "Berger", "Holm", "Rask", "Dahl", "Falk", "Moen",
        "Sorensen", "Vik", "Strand", "Koskinen", "Hansen", "Ek", "Borg", "Nyberg"]
SYLLABLES = ["var", "kel", "brun", "hol", "mar", "sten", "vik", "dal", "ost", "fen", "tor", "lun", "gar", "ask",
             "ber", "nor", "sil", "ham", "rud", "eng"]


class Fact:
    """One made-up appointment: its article, and the question only it answers."""

    def __init__(self, rng: random.Random, used: set[str]) -> None:
        while True:
            town = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
            if town not in used:
                used.add(town)
                break
        self.town, self.role = town, rng.choice(ROLES)
        self.name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        self.title = f"{town} appoints a new {self.role}"
        self.paragraphs = [f"The council of {town} appointed {self.name} as its new {self.role} on Tuesday.",
                           ("The appointment was approved by a large majority, and residents welcomed the decision "
                            "at a meeting in the town hall.")]
        self.question = f"Who did the council of {town} appoint as {self.role}?"


class Server:
    """`newsqa serve --watch --feeds FILE` in its own process."""

    def __init__(self, index_dir: Path, articles: Path, feeds: Path, poll_s: float, log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "NEWSQA_FEED_POLL_S": str(poll_s), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        self._log = open(log, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--index-dir", str(index_dir), "--articles", str(articles),
             "--watch", "--feeds", str(feeds), "--port", self.url.rsplit(":", 1)[1]],
            env=env, cwd=PROJECT_ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=60)
        if not until(self.health, 180, 0.5):
            self.stop()
            raise SystemExit("the server did not start (its log follows)")

    def health(self) -> dict | None:
        try:
            answer = self.client.get("/healthz")
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def settled(self, documents: int | None = None) -> bool:
        """Every feed polled, nothing waiting to be written (and `documents` served, when given)."""
        health = self.health() or {}
        following = health.get("following") or {}
        return (all(f["status"] != "waiting" for f in following.get("feeds", [{"status": "waiting"}]))
                and following.get("pending_files") == 0 and not following.get("writing")
                and (documents is None or health.get("documents") == documents))

    def ask(self, question: str) -> tuple[float, dict]:
        started = time.perf_counter()
        answer = self.client.post("/ask", json={"question": question}).json()
        return (time.perf_counter() - started) * 1000, answer

    def answers(self, fact: Fact, document_id: str | None = None, missed: list | None = None) -> bool:
        answer = self.ask(fact.question)[1]
        top = (answer.get("answers") or [{}])[0]
        right = top.get("text") == fact.name and (document_id is None or top.get("document_id") == document_id)
        if not right and missed is not None:
            retrieved = [p.get("document_id") for p in answer.get("passages") or []]
            missed.append({"question": fact.question, "expected": fact.name, "document_id": document_id,
                           "answered": top.get("text"), "from": top.get("document_id"), "score": top.get("score"),
                           "entry_among_passages_read": document_id in retrieved})
        return right

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.client.close()
        self._log.close()


def _latencies(server: Server, count: int | None = None, stop: threading.Event | None = None) -> list[float]:
    """Ask the sample questions one after another: `count` of them, or until `stop` is set."""
    measured: list[float] = []
    while (count is None or len(measured) < count) and not (stop is not None and stop.is_set()):
        measured.append(server.ask(QUESTIONS[len(measured) % len(QUESTIONS)])[0])
    return measured


def _summary(values: list[float]) -> dict:
    return {"asked": len(values), "p50_ms": round(percentile(values, 0.5), 1),
            "p95_ms": round(percentile(values, 0.95), 1), "max_ms": round(max(values, default=0.0), 1)}


def _publish(site: FeedSite, feed: int, facts: list[Fact]) -> None:
    """Feed `feed` now carries `facts` (newest first), each entry linking to its page."""
    items = []
    for number, fact in enumerate(facts):
        path = f"/news/{feed}/{fact.town.lower()}"
        site.page(path, article_page(fact.title, fact.paragraphs))
        items.append(item(f"urn:bench:{feed}:{fact.town}", site.url(path), fact.title,
                          "The council has made an appointment.", formatdate(time.time() - number, usegmt=True)))
    site.feed(f"/feed-{feed}.rss", rss(f"Wire {feed}", items))


def run(args) -> dict:
    """The measurements, in a temporary folder removed at the end, whatever happened (the server's
    log is printed first when something failed)."""
    work = Path(tempfile.mkdtemp(prefix="newsqa-live-"))
    try:
        return _measure(args, work)
    except BaseException:
        log = work / "server.log"
        if log.exists():
            print(f"--- the server's log ---\n{log.read_text(errors='replace')[-20000:]}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(args, work: Path) -> dict:
    rng = random.Random(args.seed)
    used: set[str] = set()
    articles, index_dir, log = work / "articles", work / "index", work / "server.log"
    shutil.copytree(PROJECT_ROOT / "index" / "articles", articles)
    subprocess.run([sys.executable, "-m", "qa", "build", "--articles", str(articles), "--index-dir", str(index_dir),
                    "--quiet"], check=True, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    base = 1
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "note": args.note,
                     "load_average_before": [round(x, 2) for x in os.getloadavg()],  # the machine's other work
                     "feeds": args.feeds, "entries_per_feed": args.entries, "poll_s": args.poll}
    with FeedSite() as site:
        for feed in range(args.feeds):
            site.feed(f"/feed-{feed}.rss", rss(f"Wire {feed}", []))
        feeds_file = work / "feeds.txt"
        feeds_file.write_text("".join(site.url(f"/feed-{feed}.rss") + "\n" for feed in range(args.feeds)))
        server = Server(index_dir, articles, feeds_file, args.poll, log)
        try:
            assert until(server.settled, 120), "the feeds were not all polled"
            _latencies(server, len(QUESTIONS))  # warm-up: the first questions of a process are slower
            idle = _latencies(server, args.idle_questions)
            results["ask_idle"] = _summary(idle)
            print(f"/ask idle: {results['ask_idle']}")

            single = Fact(rng, used)
            _publish(site, 0, [single])
            published = time.monotonic()
            answered = until(lambda: server.answers(single, entry_document_id(f"urn:bench:0:{single.town}")), 60, 0.2)
            results["one_entry_answerable_s"] = round(time.monotonic() - published, 2) if answered else None
            print(f"one feed entry answerable after {results['one_entry_answerable_s']} s")
            expected = base + 1

            burst = {feed: [Fact(rng, used) for _ in range(args.entries)] for feed in range(args.feeds)}
            stop = threading.Event()
            during: list[float] = []
            asking = threading.Thread(target=lambda: during.extend(_latencies(server, stop=stop)))
            for feed, facts in burst.items():
                _publish(site, feed, facts + ([single] if feed == 0 else []))
            published = time.monotonic()
            asking.start()
            expected += args.feeds * args.entries
            synced = until(lambda: server.settled(expected), args.sync_timeout, 0.5)
            results["burst_indexed_s"] = round(time.monotonic() - published, 1) if synced else None
            stop.set()
            asking.join()
            results["ask_during_sync"] = _summary(during)
            results["p95_during_over_idle"] = round(results["ask_during_sync"]["p95_ms"]
                                                    / max(results["ask_idle"]["p95_ms"], 1e-9), 2)
            print(f"{args.feeds * args.entries} entries indexed after {results['burst_indexed_s']} s; "
                  f"/ask meanwhile: {results['ask_during_sync']} ({results['p95_during_over_idle']} x the idle p95)")

            checked = [(feed, fact) for feed, facts in burst.items() for fact in facts]
            if args.check and args.check < len(checked):
                checked = rng.sample(checked, args.check)
            ids = [entry_document_id(f"urn:bench:{feed}:{fact.town}") for feed, fact in checked]
            indexed = sum(server.client.get(f"/documents/{i}").status_code == 200 for i in ids)
            missed: list[dict] = []
            right = sum(server.answers(fact, i, missed) for (_, fact), i in zip(checked, ids))
            results["burst_answerable"] = {"asked": len(checked), "indexed": indexed,
                                           "answered_from_their_entry": right, "missed": missed}
            print(f"indexed: {indexed} of {len(checked)}; answered from their entry: {right} of {len(checked)}")
            for miss in missed:
                print(f"  missed: {miss}")

            dropped = Fact(rng, used)
            path = articles / f"{dropped.town.lower()}.md"
            path.write_text(f"---\nid: dropped-{dropped.town.lower()}\ntitle: {dropped.title}\n---\n"
                            + "\n".join(dropped.paragraphs) + "\n")
            written = time.monotonic()
            answered = until(lambda: server.answers(dropped), 60, 0.1)
            took = time.monotonic() - written
            embedding = (((server.health() or {}).get("following") or {}).get("last_write") or {}).get("embed_seconds")
            results["dropped_file_answerable_s"] = round(took, 2) if answered else None
            results["dropped_file_embedding_s"] = embedding
            path.unlink()
            removed = time.monotonic()
            gone = until(lambda: server.client.get(f"/documents/dropped-{dropped.town.lower()}").status_code == 404,
                          60, 0.1)
            results["removed_file_gone_s"] = round(time.monotonic() - removed, 2) if gone else None
            print(f"dropped file answerable after {results['dropped_file_answerable_s']} s "
                  f"({embedding} s of it embedding); removed file gone after {results['removed_file_gone_s']} s")
        finally:
            server.stop()

        server = Server(index_dir, articles, feeds_file, args.poll, log)  # a restart
        try:
            restarted = until(lambda: server.settled(), 120, 0.5)
            documents = (server.health() or {}).get("documents")
            results["restart"] = {"settled": bool(restarted), "documents_before": expected,
                                  "documents_after": documents, "indexed_twice": (documents or 0) - expected}
            print(f"after a restart: {documents} documents (before: {expected})")
        finally:
            server.stop()
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = {
        "one_entry_within_10_s": results["one_entry_answerable_s"] is not None
        and results["one_entry_answerable_s"] <= 10,
        "burst_all_indexed": results["burst_answerable"]["indexed"] == results["burst_answerable"]["asked"],
        "burst_all_answerable": results["burst_answerable"]["answered_from_their_entry"]
        == results["burst_answerable"]["asked"],
        "p95_during_sync_at_most_twice_idle": results["p95_during_over_idle"] <= 2.0,
        "dropped_file_within_5_s_beyond_embedding": results["dropped_file_answerable_s"] is not None
        and results["dropped_file_answerable_s"] - (results["dropped_file_embedding_s"] or 0) <= 5,
        "removed_file_within_5_s": results["removed_file_gone_s"] is not None and results["removed_file_gone_s"] <= 5,
        "restart_indexes_nothing_twice": results["restart"]["indexed_twice"] == 0,
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=10, help="new entries per feed in the burst")
    parser.add_argument("--poll", type=float, default=2.0, help="NEWSQA_FEED_POLL_S")
    parser.add_argument("--idle-questions", type=int, default=60)
    parser.add_argument("--check", type=int, default=0, help="burst entries to ask about (0: all)")
    parser.add_argument("--sync-timeout", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "live.json")
    args = parser.parse_args(argv)
    results = run(args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["targets"], indent=2))
    print(f"written to {args.out}")
    return 0 if all(results["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
