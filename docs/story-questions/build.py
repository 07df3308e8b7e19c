"""Build the BBC story question set from its working files, check it, and split it once by article.

    python docs/story-questions/build.py [--set story|long] [--check-only] [--work FILE ...]

Working files (`work/*.jsonl`, one question a line, typed by the people who wrote the set while
reading each article):

    {"document_id": "bbc-tech-042", "question": "...?", "answer": "exact text copied from the article",
     "anchor": "optional longer exact phrase of the article that holds the answer once"}
    {"document_id": "bbc-tech-042", "question": "...?", "impossible": true,
     "searched": ["terms grepped for across the archive"], "absent_terms": ["optional strings no article holds"]}

This script finds every answer at its exact character offset (inside `anchor` when given; an answer
found more than once without an anchor is an error), runs the checks of the news question set
(`docs/news-questions/build_split.py`: contexts, titles, spans that cut no word, absent terms), records
each question's coverage (`qa.coverage`: the share of its content words that the answer's sentence
repeats) and bucket, and writes `bbc-story-questions.json`. Without --check-only it then splits the set
once by article (the same rule and seed as the news set) into `bbc-story-questions-calibration.json`
and `bbc-story-questions-report.json`. Never tune on the report half.

`--set long` builds the long-article set the same way from `long/work/*.jsonl` into `long/`: questions
on articles of 600 words or more that neither other set uses, each answer in the article's body
(starting past `LONG_BODY_SHARE` of its text), far from the lead that names the story, as in the
long news articles where our 100-word chunks cut the answer away from its subject (issue #27).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "docs" / "news-questions"))

import build_split  # noqa: E402  (the news set's checks and split rule, reused as they are)

from qa.coverage import bucket, coverage  # noqa: E402

NEWS_SET = PROJECT_ROOT / "docs" / "news-questions" / "bbc-news-questions.json"
# each set: its working files' folder, the stem of its files, the sets whose articles it may not use
SETS = {"story": (HERE, "bbc-story-questions", [NEWS_SET]),
        "long": (HERE / "long", "bbc-long-story-questions", [NEWS_SET, HERE / "bbc-story-questions.json"])}
LONG_MIN_WORDS = 600
LONG_BODY_SHARE = 0.35  # a long-set answer starts past this share of its article's characters


def locate(text: str, answer: str, anchor: str | None) -> tuple[int | None, str | None]:
    """The answer's offset in `text`, or None and why not."""
    if anchor:
        at = text.find(anchor)
        if at < 0:
            return None, f"anchor not found: {anchor!r}"
        if text.find(anchor, at + 1) >= 0:
            return None, f"anchor found more than once: {anchor!r}"
        inside = anchor.find(answer)
        if inside < 0:
            return None, f"answer {answer!r} not inside its anchor"
        return at + inside, None
    at = text.find(answer)
    if at < 0:
        return None, f"answer not found: {answer!r}"
    if text.find(answer, at + 1) >= 0:
        return None, f"answer {answer!r} occurs more than once: give an anchor"
    return at, None


def read_work(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise SystemExit(f"{path.name}:{number}: not JSON: {error}")
                rows.append({**row, "_where": f"{path.name}:{number}"})
    return rows


def assemble(rows: list[dict], archive: dict[str, dict], prefix: str = "story") -> tuple[dict, list[str]]:
    errors: list[str] = []
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        doc = row.get("document_id")
        if doc not in archive:
            errors.append(f"{row['_where']}: {doc!r} is not an id of the archive")
            continue
        text = archive[doc]["text"]
        qa = {"id": f"{prefix}-{doc}-{len(by_doc[doc]) + 1:02d}", "question": row["question"].strip()}
        if row.get("impossible"):
            qa.update(answers=[], is_impossible=True)
            if row.get("absent_terms"):
                qa["absent_terms"] = row["absent_terms"]
            qa["searched"] = row.get("searched") or []
            if not qa["searched"] and not row.get("absent_terms"):
                errors.append(f"{row['_where']}: unanswerable without 'searched' terms")
        else:
            start, why = locate(text, row.get("answer", ""), row.get("anchor"))
            if start is None:
                errors.append(f"{row['_where']}: {why}")
                continue
            answer = row["answer"]
            value = coverage(qa["question"], text, start, start + len(answer))
            qa.update(answers=[{"text": answer, "answer_start": start}], is_impossible=False,
                      coverage=round(value, 3), coverage_bucket=bucket(value))
        by_doc[doc].append(qa)
    items = []
    for doc in sorted(by_doc):
        record = archive[doc]
        items.append({"title": record["title"], "document_id": doc, "section": record.get("category"),
                      "paragraphs": [{"context": record["text"], "qas": by_doc[doc]}]})
    return {"version": "v2.0", "data": items, "conflicts": []}, errors


def long_errors(data: dict) -> list[str]:
    """The long set's own rules: long articles, answers in the body rather than the lead."""
    errors = []
    for item in data["data"]:
        text = item["paragraphs"][0]["context"]
        words = len(text.split())
        if words < LONG_MIN_WORDS:
            errors.append(f"{item['document_id']}: {words} words, under {LONG_MIN_WORDS}")
        for qa in item["paragraphs"][0]["qas"]:
            for answer in qa["answers"]:
                if answer["answer_start"] < LONG_BODY_SHARE * len(text):
                    errors.append(f"{qa['id']}: answer at {answer['answer_start'] / len(text):.0%} of the article, "
                                  f"in its lead (the long set asks for answers past {LONG_BODY_SHARE:.0%})")
    return errors


def counts(data: dict) -> dict:
    qas = [(item, qa) for item in data["data"] for qa in item["paragraphs"][0]["qas"]]
    answerable = [qa for _, qa in qas if not qa["is_impossible"]]
    buckets = Counter(qa["coverage_bucket"] for qa in answerable)
    return {"questions": len(qas), "articles": len(data["data"]), "answerable": len(answerable),
            "unanswerable": len(qas) - len(answerable),
            "coverage_buckets": {b: buckets.get(b, 0) for b in ("low", "mid", "high")},
            "low_share": round(buckets.get("low", 0) / max(1, len(answerable)), 3),
            "questions_per_section": dict(sorted(Counter(item["section"] for item, _ in qas).items()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="story", help="which question set (default: story)")
    parser.add_argument("--archive", type=Path, default=build_split.DEFAULT_ARCHIVE)
    parser.add_argument("--check-only", action="store_true", help="verify and print, write nothing")
    parser.add_argument("--work", type=Path, nargs="*", help="working files (default: all of work/*.jsonl)")
    parser.add_argument("--show", action="store_true", help="print each question's coverage")
    args = parser.parse_args()
    archive = build_split.load_archive(args.archive)
    folder, stem, others = SETS[args.set]
    rows = read_work(args.work or sorted((folder / "work").glob("*.jsonl")))
    data, errors = assemble(rows, archive, prefix=args.set)
    for other in others:
        used = {item["document_id"] for item in json.loads(other.read_text(encoding="utf-8"))["data"]}
        errors += [f"{item['document_id']}: already in {other.name}" for item in data["data"]
                   if item["document_id"] in used]
    if args.set == "long":
        errors += long_errors(data)
    errors += [e for e in build_split.check(data, archive) if "unanswerable without absent_terms" not in e]
    if args.show:
        for item in data["data"]:
            for qa in item["paragraphs"][0]["qas"]:
                shown = "impossible" if qa["is_impossible"] else f"{qa['coverage']:.2f} {qa['coverage_bucket']:4}"
                print(f"{qa['id']:28} {shown:11} {qa['question']}  ->  "
                      f"{qa['answers'][0]['text'] if qa['answers'] else '-'}")
    if errors:
        print(f"{len(errors)} problem(s):", *errors[:80], sep="\n  ")
        return 1
    print(json.dumps({"all": counts(data)}, indent=1))
    if args.check_only:
        return 0
    data["_about"] = ("BBC story questions: written by reading, naming the story in words the answer's sentence "
                      "often does not repeat (docs/story-questions/README.md). Built by build.py"
                      + (" --set long: long articles, answers in their body." if args.set == "long" else "."))
    (folder / f"{stem}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    halves = build_split.split(data)
    for half, content in halves.items():
        content["_about"] = (f"The {half} half of {stem}.json, split by article with "
                             f"random.Random({build_split.SEED}) (build.py). Never tune on the report half.")
        (folder / f"{stem}-{half}.json").write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n",
                                                    encoding="utf-8")
        print(json.dumps({half: counts(content)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
