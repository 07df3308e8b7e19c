#!/usr/bin/env python
"""Answer quality on saved pages before and after the HTML extraction change (issue #10).

    python scripts/extraction_quality.py
    python scripts/extraction_quality.py --questions docs/eval/saved-pages-questions.json \
        --out docs/eval/extraction-quality.json

For each parser (`old`: the `_VisibleText` parser read from git at `--baseline`, as
`extraction_report.py` loads it; `new`: `qa.ingestion` as the build loads pages now), the
saved pages in `--pages` are indexed as one archive (`NewsIndex.build`, dense + BM25, as the
build indexes), and every question of the SQuAD v1.1 file goes through `Assistant.ask`, the
code path behind `/ask`. The gold answers are spans of the article and are matched by text
(SQuAD normalisation), so the offsets of either extraction do not matter.

Per parser, the top answer is scored twice:

- always answering: the reader's best span, however unsure (EM and F1);
- with abstention: only a confident answer (at or above the calibrated threshold) counts,
  an abstention scores 0, as `/ask` would show it.

"From boilerplate" counts questions whose top answer lies on a line that is not one of the
article's own lines (the page's `NAME.expected`): a menu, a related link, a comment, a
caption, a footer. Prints a table and writes the numbers, question by question, to `--out`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from qa.config import Settings  # noqa: E402
from qa.embedding import Embedder  # noqa: E402
from qa.index import NewsIndex  # noqa: E402
from qa.ingestion import load_file  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402
from qa.reader import ExtractiveReader  # noqa: E402
from qa.squad import SquadExample, best_over_truths, exact_match, f1_score, load_squad  # noqa: E402
from qa.types import Document  # noqa: E402
from scripts.extraction_report import BASELINE, Loader, old_loader  # noqa: E402

QUESTIONS = ROOT / "docs" / "eval" / "saved-pages-questions.json"
OUT = ROOT / "docs" / "eval" / "extraction-quality.json"


def article_lines(page: Path) -> set[str]:
    """The article's own lines of `page` (its `NAME.expected`), whitespace squeezed."""
    return {" ".join(line.split()) for line in page.with_suffix(".expected").read_text().splitlines() if line.strip()}


def in_article(text: str, start: int, end: int, lines: set[str]) -> bool:
    """Whether every line of `text` that the span `start:end` touches is one of the article's lines."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    touched = text[line_start:line_end if line_end >= 0 else len(text)].split("\n")
    return all(" ".join(line.split()) in lines for line in touched)


def load_pages(loader: Loader, pages: list[Path]) -> list[Document]:
    """Each page as one document of today's `Document` class (the old module has its own), id the file's stem."""
    loaded = []
    for page in pages:
        data = loader(page).to_dict()
        data["id"] = page.stem
        loaded.append(Document.from_dict(data))
    return loaded


def evaluate(assistant: Assistant, archive: dict[str, Document], lines: dict[str, set[str]],
             examples: list[SquadExample]) -> tuple[dict[str, float], list[dict]]:
    """Top-1 EM/F1 and answers from boilerplate, always answering and with abstention, as percentages."""
    sums = dict.fromkeys(("em", "f1", "boilerplate", "answered", "confident_em", "confident_f1",
                          "confident_boilerplate"), 0.0)
    rows = []
    for example in examples:
        result = assistant.ask(example.question, top_k=1)
        best = result.candidates[0] if result.candidates else None
        forced = best[0].text if best else ""
        boilerplate = best is not None and not in_article(archive[best[0].document_id].text, best[0].start,
                                                          best[0].end, lines[best[0].document_id])
        confident = not result.no_answer
        scores = {"em": best_over_truths(exact_match, forced, example.answers),
                  "f1": best_over_truths(f1_score, forced, example.answers)}
        sums["em"] += scores["em"]
        sums["f1"] += scores["f1"]
        sums["boilerplate"] += boilerplate
        if confident:
            sums["answered"] += 1
            sums["confident_em"] += scores["em"]
            sums["confident_f1"] += scores["f1"]
            sums["confident_boilerplate"] += boilerplate
        rows.append({"id": example.id, "question": example.question, "gold": list(example.answers),
                     "answer": forced, "document": best[0].document_id if best else None,
                     "probability": round(best[1], 3) if best else None, "confident": confident,
                     "from_boilerplate": boilerplate, "f1": round(scores["f1"], 3)})
    count = max(1, len(examples))
    return {name: round(100 * value / count, 1) for name, value in sums.items()}, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="SQuAD v1.1 file (default: %(default)s)")
    parser.add_argument("--pages", type=Path, default=ROOT / "tests" / "fixtures" / "pages")
    parser.add_argument("--baseline", default=BASELINE, help="git commit holding the old parser (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON report (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    pages = sorted(p for p in args.pages.glob("*.htm*") if p.with_suffix(".expected").is_file())
    if not pages:
        parser.error(f"no NAME.html with a NAME.expected in {args.pages}")
    _, examples = load_squad(args.questions)
    lines = {page.stem: article_lines(page) for page in pages}
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    reader = ExtractiveReader(settings.reader_model, backend=settings.reader_backend, threads=settings.threads)
    loaders: dict[str, Loader] = {"old": old_loader(args.baseline), "new": lambda path: load_file(path)[0]}

    started = time.time()
    report: dict = {"questions": len(examples), "pages": [p.name for p in pages], "baseline": args.baseline,
                    "parsers": {}, "details": {}}
    for name, loader in loaders.items():
        archive = {document.id: document for document in load_pages(loader, pages)}
        index = NewsIndex.build(list(archive.values()), embedder)
        assistant = Assistant.from_settings(index, reader, settings)
        scores, rows = evaluate(assistant, archive, lines, examples)
        report["parsers"][name] = {"chunks": index.stats().chunks, **scores}
        report["details"][name] = rows
    report.update({"threshold": assistant.threshold, "passages_read": settings.passages_to_read,
                   "reader_backend": reader.backend, "reader_weights_sha256": reader.weights_sha256,
                   "seconds": round(time.time() - started, 1), "date": time.strftime("%Y-%m-%d")})

    print(f"{len(examples)} questions on {len(pages)} pages; percentages of all questions")
    print(f"{'':8}{'':>7}  {'always answering':^22}  {'with abstention':^34}")
    print(f"{'parser':8}{'chunks':>7}  {'EM':>6}{'F1':>6}{'boiler':>8}  {'answered':>10}{'EM':>6}{'F1':>6}"
          f"{'boiler':>8}")
    for name, row in report["parsers"].items():
        print(f"{name:8}{row['chunks']:>7}  {row['em']:>6}{row['f1']:>6}{row['boilerplate']:>8}  "
              f"{row['answered']:>10}{row['confident_em']:>6}{row['confident_f1']:>6}{row['confident_boilerplate']:>8}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
