#!/usr/bin/env python
"""Build (or rebuild) the search index from article files and folders.

    python scripts/build_index.py                                  # the sample articles
    python scripts/build_index.py --articles ~/news more.jsonl --index-dir /data/news-index

Formats: .txt/.md (optional `---` front matter: id, title, url, published), .html,
.json and .jsonl records {"id", "title", "text", "url"?, "published"?}. Folders are
read recursively. The new index is built beside the current one and swapped in at
the end; unchanged chunks reuse their embeddings. A malformed article stops the
build with its file (and line) named, and the current index keeps serving.
Exit status: 0 built, 1 bad input, 2 another build running.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qa.config import Settings  # noqa: E402
from qa.documents import ArticleError  # noqa: E402
from qa.index import BuildInProgressError, Embedder, IndexLoadError, NewsIndex, rebuild_index  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", nargs="+", type=Path, default=settings.articles, metavar="PATH",
                        help="article files or folders (default: %(default)s)")
    parser.add_argument("--index-dir", type=Path, default=settings.index_dir, help="default: %(default)s")
    parser.add_argument("--max-words", type=int, default=100, help="chunk size in words")
    parser.add_argument("--overlap-sentences", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--if-needed", action="store_true",
                        help="build only when no version of the index can be served (none built, all damaged, "
                             "or built with another embedding model); `make run` uses this")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    embedder = Embedder.from_settings(settings)
    if args.if_needed and NewsIndex.current_version(args.index_dir) is not None:
        try:
            index = NewsIndex.load(args.index_dir, embedder)  # an older good version counts
        except IndexLoadError as err:
            print(f"the current index cannot be served ({err}); rebuilding it", file=sys.stderr)
        else:
            print(f"index {index.manifest.get('version')} is up to date ({len(index.documents)} documents); "
                  "not rebuilt")
            return 0
    try:
        summary = rebuild_index(args.articles, args.index_dir, embedder, args.max_words, args.overlap_sentences,
                                progress=not args.quiet)
    except ArticleError as err:
        print(f"error: {err}\nThe index was not changed.", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"error: {err}\nThe index was not changed.", file=sys.stderr)
        return 1
    except BuildInProgressError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Indexed {summary.documents} documents into {summary.chunks} chunks "
          f"({summary.embedded_chunks} embedded, {summary.chunks - summary.embedded_chunks} reused) "
          f"in {summary.seconds:.1f} s -> {summary.version_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
