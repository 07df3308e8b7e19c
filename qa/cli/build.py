"""Build the search index, or bring it up to date with the article folders.

    newsqa build                                  # sync with the sample articles
    newsqa build --articles ~/news more.jsonl --index-dir /data/news-index
    newsqa build --add new-story.html             # add or replace these files' articles only
    newsqa build --delete bbc-politics-012 old-id  # remove articles by id
    newsqa build --full                           # a new version from scratch
    newsqa build --feeds feeds.txt                # one pass over these RSS/Atom feeds (one URL a line)
    NEWSQA_STORE=... newsqa build                 # the same, into the store configured (docs/operations.md)

A sync compares the articles with what the index holds (a content fingerprint per
article): new articles are added, changed ones replaced (only chunks whose text changed
are embedded again), and articles whose file is gone are removed. The change is written
as a new version and swapped in atomically, so a running server never sees half of it.

Formats: .txt/.md (optional `---` front matter: id, title, url, published, source,
section, author), .html/.htm (the article only, with the page's title, date, author, site
and section), .pdf (page by page), RSS/Atom feeds (.rss, .atom, or .xml; one article per
entry), .json and .jsonl records {"id", "title", "text", "url"?, "published"?, "source"?,
"section" or "category"?, "author"?}. Folders are read recursively; a scanned PDF with no
text layer, an .xml file that is no feed or a feed entry without text is named and skipped.
A malformed article stops the build with its file (and line) named, and the current index
keeps serving.
With --feeds, each feed is fetched once (a conditional GET) and each new or changed entry is saved
as an article file in `feeds/` of the first article folder, with the linked page's main text, and
indexed; nothing else is synced. `newsqa serve --feeds FILE` does the same every NEWSQA_FEED_POLL_S.
Exit status: 0 done (or nothing to do), 1 bad input, 2 another build running, 3 store unreachable,
4 the index could not be written, 5 (--feeds) some feeds could not be read (named; the others were indexed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from qa.cli.common import chunking_options, described, log_at, settings_from, store_option
from qa.embedding import Embedder
from qa.index import NewsIndex
from qa.ingestion import ArticleError, load_articles
from qa.stores import backend_from_settings
from qa.stores.base import BuildInProgressError, IndexLoadError, IndexWriteError, StoreBackend, StoreUnavailableError
from qa.sync import BuildSummary, rebuild_index, sync_index


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = described(__doc__, prog)
    parser.add_argument("--articles", nargs="+", type=Path, default=None, metavar="PATH",
                        help="article files or folders to sync with (default: NEWSQA_ARTICLES or the sample)")
    parser.add_argument("--add", nargs="+", type=Path, metavar="PATH",
                        help="add or replace the articles of these files only; nothing else is removed")
    parser.add_argument("--delete", nargs="+", metavar="ID", help="remove these article ids; nothing is read")
    parser.add_argument("--full", action="store_true", help="write a new version from scratch (a sync)")
    parser.add_argument("--feeds", type=Path, metavar="FILE",
                        help="one pass over the RSS/Atom feeds listed in FILE (one http(s) URL a line): new and "
                             "changed entries are saved in <first article folder>/feeds/ and indexed")
    parser.add_argument("--index-dir", type=Path, default=None, help="the folder store's folder (default: NEWSQA_INDEX_DIR)")
    store_option(parser)
    chunking_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--if-needed", action="store_true",
                        help="build only when no version of the index can be served (none built, all damaged, "
                             "or built with another embedding model); `make run` uses this")
    return parser


def report(summary: BuildSummary, target: str) -> None:
    for skipped in summary.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if summary.version is None:
        print(f"{target} is up to date: {summary.documents} documents, {summary.chunks} chunks; nothing written")
        return
    print(f"{target} version {summary.version}: {summary.documents} documents, {summary.chunks} chunks "
          f"({summary.added} added, {summary.changed} changed, {summary.removed} removed, {summary.unchanged} "
          f"unchanged; {summary.embedded_chunks} chunks embedded) in {summary.seconds:.1f} s")
    if summary.stages:
        print("stages: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in summary.stages.items()))


def servable(backend: StoreBackend, embedder: Embedder) -> bool:
    """`--if-needed`: whether a version of the index can be served as it is (an older good one counts)."""
    if backend.current_version() is None:
        return False
    try:
        index = NewsIndex.open(backend, embedder)
    except IndexLoadError as err:
        if isinstance(err, StoreUnavailableError):
            raise
        print(f"the current index cannot be served ({err}); rebuilding it", file=sys.stderr)
        return False
    print(f"index {index.version} can be served ({index.stats().documents} documents); not rebuilt")
    return True


def follow_feeds(args: argparse.Namespace, settings, backend: StoreBackend, embedder: Embedder) -> int:
    """--feeds: one pass over the feeds; the exit status (5 when a feed could not be read)."""
    from qa.following import poll_feeds_once
    from qa.following.fetch import shown_url

    done = poll_feeds_once(args.feeds, args.articles or settings.articles, backend, embedder,
                           timeout_s=settings.feed_timeout_s, max_bytes=settings.feed_max_bytes)
    for poll in done.polls:
        if poll.error is not None:
            print(f"feed {shown_url(poll.url)} skipped: {poll.error}", file=sys.stderr)
        elif poll.not_modified:
            print(f"feed {shown_url(poll.url)}: not modified")
        else:
            print(f"feed {shown_url(poll.url)}: {len(poll.entries)} entries, {len(poll.written)} new or changed"
                  + (f", {len(poll.skipped)} not kept (no text, or no guid, link or title)" if poll.skipped else ""))
    if done.summary is not None:
        report(done.summary, f"the {backend.name} index")
    return 5 if done.failed else 0


def write(args: argparse.Namespace, settings, backend: StoreBackend, embedder: Embedder) -> BuildSummary:
    """The sync, --add or --delete the options ask for."""
    chunking = {"max_words": args.max_words, "overlap_sentences": args.overlap_sentences}
    if args.delete:
        summary = sync_index(backend, embedder, deletes=args.delete, **chunking)
        unknown = len(args.delete) - summary.removed
        if unknown:
            print(f"{unknown} of the ids given are not in the index", file=sys.stderr)
        return summary
    if args.add:
        skipped: list = []
        documents = load_articles(args.add, skipped=skipped)
        return sync_index(backend, embedder, upserts=documents, progress=not args.quiet, skipped=skipped, **chunking)
    return rebuild_index(args.articles or settings.articles, backend, embedder, progress=not args.quiet,
                         full=args.full, **chunking)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    options = parser(prog)
    args = options.parse_args(argv)
    if sum(bool(x) for x in (args.add, args.delete, args.feeds, args.articles and (args.add or args.delete))) > 1 or (
            args.full and (args.add or args.delete or args.feeds)):
        options.error("use one of: a sync (--articles, optionally --full), --add, --delete, or --feeds (with "
                      "--articles naming the folder that keeps the entries)")
    log_at(logging.WARNING if args.quiet else logging.INFO)
    settings = settings_from(args, index_dir="index_dir", store="store")
    backend = backend_from_settings(settings)
    embedder = Embedder.from_settings(settings)
    try:
        if args.if_needed and servable(backend, embedder):
            return 0
        if args.feeds:
            return follow_feeds(args, settings, backend, embedder)
        summary = write(args, settings, backend, embedder)
    except (ArticleError, ValueError) as err:
        print(f"error: {err}\nThe index was not changed.", file=sys.stderr)
        return 1
    except BuildInProgressError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except StoreUnavailableError as err:
        print(f"error: {err}\nThe index was not changed.", file=sys.stderr)
        return 3
    except IndexWriteError as err:
        current = backend.current_version()
        kept = f"version {current} is still the one served" if current else "there was no index before"
        print(f"error: {err} ({backend}).\nNothing of this build was kept; {kept}. "
              "Free some space and run the build again.", file=sys.stderr)
        return 4
    report(summary, f"the {backend.name} index")
    return 0
