#!/usr/bin/env python
"""Kill index builds at every fault-injection point and count the articles lost.

    python scripts/fault_test.py                 # the sample articles, results in docs/faults.json

For each point of `qa.faults.PAUSE_POINTS` (embedding, vectors_written, before_rename,
before_swap, after_swap) a new article is added to a private copy of the articles
and `scripts/build_index.py` is started with `NEWSQA_TEST_PAUSE_AT=<point>`; when it
reports that it has paused there, it gets SIGKILL (no clean-up handler runs, as in a
crash or an OOM kill). Then:

- the index `CURRENT` names must load as it is (no fallback needed) and answer a
  search; "lost" counts the articles served before the kill that it no longer has
  (must be 0: a kill may only lose the article the killed build was adding);
- the next build must succeed and leave no `.partial` folder behind.

Prints a table and writes it with the date to docs/faults.json. Exit status 1 when an
article was lost or a recovery failed. Each kill costs one build process start
(~5-10 s on a 2-core CPU, mostly loading the embedding model).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import PROJECT_ROOT, Settings  # noqa: E402
from qa.faults import PAUSE_ENV, PAUSE_POINTS  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.index import NewsIndex  # noqa: E402
from qa.stores.base import IndexLoadError  # noqa: E402
from qa.stores import folder_backend  # noqa: E402
from qa.sync import rebuild_index  # noqa: E402

BUILD_SCRIPT = Path(__file__).resolve().parent / "build_index.py"
PAUSE_TIMEOUT_S = 180


def start_build_paused_at(point: str, articles: Path, index_dir: Path, *options: str) -> subprocess.Popen:
    """Start `build_index.py` (with `options`, e.g. `--feeds FILE`) as a subprocess and return once it
    sleeps at `point`."""
    env = {**os.environ, PAUSE_ENV: point, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, str(BUILD_SCRIPT), "--articles", str(articles), "--index-dir", str(index_dir), "--quiet",
         *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT,
    )
    watchdog = threading.Timer(PAUSE_TIMEOUT_S, process.kill)  # a build that never pauses must not hang us
    watchdog.start()
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if line.strip() == f"NEWSQA_PAUSED {point}":
                return process
    finally:
        watchdog.cancel()
    process.wait()
    raise RuntimeError(f"the build exited with {process.returncode} before pausing at {point}:\n{''.join(seen[-20:])}")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()


def partials(index_dir: Path) -> list[str]:
    return sorted(p.name for p in [*index_dir.glob(".v*.partial"), *index_dir.glob("segments/.s*.partial")])


def newest_segment_file(index_dir: Path, version: str, name: str) -> Path:
    """A file (`vectors.faiss`, `documents.sqlite3`, ...) of the newest segment that `version` lists:
    the one this version wrote, which no older version shares."""
    manifest = json.loads((index_dir / version / "manifest.json").read_text())
    return index_dir / "segments" / max(entry["name"] for entry in manifest["segments"]) / name


def served(index_dir: Path, embedder: Embedder) -> tuple[NewsIndex | None, str | None]:
    """The index `CURRENT` names, loaded strictly (no fallback), or the reason it does not load."""
    try:
        return NewsIndex.open(folder_backend(index_dir), embedder, fallback=False), None
    except IndexLoadError as err:
        return None, str(err)


def kill_and_check(point: str, articles: Path, index_dir: Path, embedder: Embedder, question: str) -> dict:
    """One round: add an article, kill a build at `point`, check the served index, rebuild."""
    before, _ = served(index_dir, embedder)
    before_ids = set(before.store.fingerprints())
    (articles / f"fault-{point}.md").write_text(
        f"# Fault drill {point}\n\nThe drill at {point} added this article to the archive on Tuesday.")
    kill(start_build_paused_at(point, articles, index_dir))
    after, error = served(index_dir, embedder)
    after_ids = set(after.store.fingerprints()) if after is not None else set()
    row = {
        "point": point,
        "version_before": before.version,
        "version_after_kill": after.version if after is not None else None,
        "load_error_after_kill": error,
        "documents_before": len(before_ids),
        "documents_after_kill": len(after_ids),
        "articles_lost": len(before_ids - after_ids),
        "search_answers_after_kill": bool(after is not None and after.search(question, k=3)),
        "partials_after_kill": partials(index_dir),
    }
    try:
        summary = rebuild_index([articles], index_dir, embedder)
        row["next_build"] = f"ok: {summary.documents} documents"
    except Exception as err:  # noqa: BLE001 - reported, and fails the run
        row["next_build"] = f"failed: {err}"
    row["partials_after_next_build"] = partials(index_dir)
    return row


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=PROJECT_ROOT / "index" / "articles")
    parser.add_argument("--points", nargs="+", default=list(PAUSE_POINTS), choices=PAUSE_POINTS)
    parser.add_argument("--question", default="Who requested the meeting?")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "faults.json")
    args = parser.parse_args(argv)

    started = time.time()
    embedder = Embedder.from_settings(settings)
    rows = []
    with tempfile.TemporaryDirectory(prefix="newsqa-faults-") as tmp:
        articles, index_dir = Path(tmp) / "articles", Path(tmp) / "index"
        shutil.copytree(args.articles, articles)
        rebuild_index([articles], index_dir, embedder)
        for point in args.points:
            rows.append(kill_and_check(point, articles, index_dir, embedder, args.question))

    failed = [r["point"] for r in rows if r["articles_lost"] or r["load_error_after_kill"]
              or not r["search_answers_after_kill"] or not r["next_build"].startswith("ok")
              or r["partials_after_next_build"]]
    header = f"{'killed at':<16} {'docs before':>11} {'docs after':>10} {'lost':>4} {'search':>6} " \
             f"{'.partial left':>13} {'next build':<16} {'.partial after':>14}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['point']:<16} {r['documents_before']:>11} {r['documents_after_kill']:>10} "
              f"{r['articles_lost']:>4} {'yes' if r['search_answers_after_kill'] else 'NO':>6} "
              f"{len(r['partials_after_kill']):>13} {r['next_build']:<16} {len(r['partials_after_next_build']):>14}")
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "python scripts/fault_test.py",
        "what": "build_index.py SIGKILLed at each fault-injection point (NEWSQA_TEST_PAUSE_AT); the index "
                "CURRENT names is then loaded strictly; articles_lost = articles served before the kill "
                "and missing after it",
        "articles_lost_total": sum(r["articles_lost"] for r in rows),
        "failed_points": failed,
        "seconds": round(time.time() - started, 1),
        "rows": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\narticles lost: {report['articles_lost_total']}; failed points: {failed or 'none'}; "
          f"{report['seconds']} s -> {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
