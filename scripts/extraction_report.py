#!/usr/bin/env python
"""What the HTML extraction indexes of saved pages: the old visible-text parser against trafilatura.

    python scripts/extraction_report.py                      # the pages in tests/fixtures/pages
    python scripts/extraction_report.py --pages DIR --json report.json

Each `NAME.html` needs a `NAME.expected` beside it: the article's own lines (headline,
standfirst, subheadings, paragraphs, pull quotes), one per line. Every line a parser
extracts is counted as article (it is one of those lines) or other (menus, related
links, comments, cookie banners, footers, bylines, captions: what should not be
indexed). For each page the report gives the chunks indexed (`chunk_document(doc, 100, 1)`,
as the build chunks), the article words kept, the other words kept, and the share of
the article's words found, for:

- `old`: the `_VisibleText` parser, read from git at `--baseline` (it has since been replaced);
- `new`: `qa.ingestion` as the build loads pages now;
- with `--modes`, also trafilatura's precision, balanced and recall modes one by one
  (each on the page as `qa.ingestion.html` prepares it), to compare them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from qa.chunking import chunk_document  # noqa: E402
from qa.ingestion import load_file  # noqa: E402
from qa.ingestion.common import _clean_lines  # noqa: E402
from qa.ingestion.html import _parse_page  # noqa: E402
from qa.types import Document  # noqa: E402

BASELINE = "cb0bdfd"  # the last commit whose qa/documents.py read HTML with `_VisibleText`
MODES = {"precision": {"favor_precision": True}, "balanced": {}, "recall": {"favor_recall": True}}

Loader = Callable[[Path], Document]


def old_loader(commit: str) -> Loader:
    """The HTML loader of `qa/documents.py` at `commit` (standard library only, so it runs as it was)."""
    source = subprocess.run(["git", "show", f"{commit}:qa/documents.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"qa_documents_at_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:qa/documents.py", "exec"), module.__dict__)
    return lambda path: module._load_html(path, path.stem)


def mode_loader(options: dict[str, bool]) -> Loader:
    """One trafilatura mode alone, on the page as `qa.ingestion.html` prepares it (whitespace, inline tags)."""
    def load(path: Path) -> Document:
        page = trafilatura.bare_extraction(_parse_page(path), with_metadata=True, include_comments=False,
                                           **options)
        text = _clean_lines(page.text) if page is not None and page.text else ""
        return Document(id=path.stem, title=path.stem, text=text)
    return load


def measure(loader: Loader, page: Path, expected: set[str]) -> dict[str, float | int]:
    document = loader(page)
    article = other = 0
    for line in document.text.split("\n"):
        words = len(line.split())
        if " ".join(line.split()) in expected:
            article += words
        else:
            other += words
    total_expected = sum(len(line.split()) for line in expected)
    chunks = len(chunk_document(document, 100, 1)) if document.text.strip() else 0
    return {"chunks": chunks, "article_words": article, "other_words": other,
            "article_found": round(article / total_expected, 3) if total_expected else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, default=ROOT / "tests" / "fixtures" / "pages")
    parser.add_argument("--baseline", default=BASELINE, help="git commit holding the old parser (default: %(default)s)")
    parser.add_argument("--modes", action="store_true", help="also each trafilatura mode alone")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args(argv)

    loaders: dict[str, Loader] = {"old": old_loader(args.baseline), "new": lambda path: load_file(path)[0]}
    if args.modes:
        loaders.update({name: mode_loader(options) for name, options in MODES.items()})
    pages = sorted(p for p in args.pages.glob("*.htm*") if p.with_suffix(".expected").is_file())
    if not pages:
        parser.error(f"no NAME.html with a NAME.expected in {args.pages}")

    report: dict[str, dict] = {}
    print(f"{'page':24} {'parser':10} {'chunks':>6} {'article words':>13} {'other words':>11} {'article found':>13}")
    for page in pages:
        expected = {" ".join(line.split()) for line in page.with_suffix(".expected").read_text().splitlines()
                    if line.strip()}
        report[page.name] = {name: measure(loader, page, expected) for name, loader in loaders.items()}
        for name, row in report[page.name].items():
            print(f"{page.stem:24} {name:10} {row['chunks']:>6} {row['article_words']:>13} {row['other_words']:>11} "
                  f"{row['article_found']:>13.1%}")
    counts = ("chunks", "article_words", "other_words")
    totals = {name: {key: sum(report[page][name][key] for page in report) for key in counts} for name in loaders}
    for name, row in totals.items():
        print(f"{'all pages':24} {name:10} {row['chunks']:>6} {row['article_words']:>13} {row['other_words']:>11}")
    if args.json:
        numbers = {"baseline": args.baseline, "pages": report, "totals": totals}
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
