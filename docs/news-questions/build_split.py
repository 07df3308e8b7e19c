"""Check the BBC news question set against the archive, then split it once, by article, into two halves.

    python docs/news-questions/build_split.py [--archive PATH] [--check-only]

Reads bbc-news-questions.json (next to this script) and the archive it was written on
(default: <project>/../shared/corpus/bbc-news-2004-2005.jsonl, as scripts/benchmark_scale.py finds `shared`).
Every check below must pass before anything is written:

* each data item names an archive id (document_id); its single context equals that record's `text`
  exactly as the project's loader stores it (CRLF -> LF, which changes nothing in this archive, and
  mojibake repaired: the archive's `Â£` is stored as `£`) and its title is the
  title the project derives (first line of the text, 120 characters);
* every answer is non-empty, context[answer_start:answer_start+len(text)] == text, and the span neither
  starts nor ends inside a word or number, nor on . , ; : ! ? quotes, brackets or a hyphen (a leading
  currency sign or a trailing % belongs to an amount and is allowed); an answer holds balanced double quotes;
* unanswerable questions (is_impossible) have no answers, and none of their absent_terms occurs
  (case-insensitively) anywhere in the archive;
* question ids are unique; a question text appears once per article;
* every conflict lists each article of its group with that article's own answer, the group has at
  least two articles and at least two different answers, and the question text is the same on all of them.

Split rule: articles are joined into units when they share a conflict group or are near-identical
twins (twin_document_ids) both present in the set; the units, in order of their smallest document id,
are shuffled once with random.Random(2026) and dealt in that order, each to the half that holds fewer
questions so far (calibration on a tie). All questions of an article, and all articles of a conflict,
land in the same half. Output: bbc-news-questions-calibration.json and bbc-news-questions-report.json.
Never tune on the report half.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
DEFAULT_ARCHIVE = PROJECT_ROOT.parent / "shared" / "corpus" / "bbc-news-2004-2005.jsonl"
SOURCE = HERE / "bbc-news-questions.json"
HALVES = {"calibration": HERE / "bbc-news-questions-calibration.json",
          "report": HERE / "bbc-news-questions-report.json"}
SEED = 2026
BAD_EDGE = set(".,;:!?\"'()[]{}-/ \n\t")


def load_archive(path: Path) -> dict[str, dict]:
    """The archive's records, each with `text` and `title` as the project's loader stores them
    (`qa.ingestion.load_articles`: it repairs mojibake, so the archive's `Â£` is `£`, and derives
    the title from the text's first line): offsets are into that text."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from qa.ingestion import load_articles

    stored = {d.id: d for d in load_articles([path])}
    records = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            record = json.loads(line)
            document = stored[str(record["id"])]
            record["text"], record["title"] = document.text, document.title
            records[str(record["id"])] = record
    return records


def inside_token(text: str, start: int, end: int) -> bool:
    """True when the span [start, end) cuts a word or a number (1.5, 1,000) in two."""
    if start > 0 and (text[start - 1].isalnum()
                      or (text[start - 1] in ".," and start >= 2 and text[start - 2].isdigit() and text[start].isdigit())):
        return True
    if end < len(text) and (text[end].isalnum()
                            or (text[end] in ".," and end + 1 < len(text) and text[end + 1].isdigit()
                                and text[end - 1].isdigit())):
        return True
    return False


def check(data: dict, archive: dict[str, dict]) -> list[str]:
    errors: list[str] = []
    lowered = [record["text"].lower() for record in archive.values()]
    ids: set[str] = set()
    by_group: dict[str, dict[str, dict]] = defaultdict(dict)
    items = data["data"]
    seen_docs = Counter(item.get("document_id") for item in items)
    for doc, count in seen_docs.items():
        if count > 1:
            errors.append(f"{doc}: {count} data items (one per article expected)")
    for item in items:
        doc = item.get("document_id")
        if doc not in archive:
            errors.append(f"{doc}: not an id of the archive")
            continue
        text = archive[doc]["text"].replace("\r\n", "\n")
        if len(item["paragraphs"]) != 1:
            errors.append(f"{doc}: expected exactly one paragraph (the whole article)")
        context = item["paragraphs"][0]["context"]
        if context != text:
            errors.append(f"{doc}: context differs from the archive text")
        if item.get("title") != archive[doc]["title"]:
            errors.append(f"{doc}: title differs from the derived title")
        if item.get("section") != archive[doc].get("category"):
            errors.append(f"{doc}: section differs from the archive category")
        questions = Counter()
        for qa in item["paragraphs"][0]["qas"]:
            qid = qa["id"]
            if qid in ids:
                errors.append(f"{qid}: duplicate id")
            ids.add(qid)
            questions[qa["question"]] += 1
            if not qa["question"].endswith("?"):
                errors.append(f"{qid}: question does not end with '?'")
            answers = qa.get("answers", [])
            if qa.get("is_impossible"):
                if answers:
                    errors.append(f"{qid}: unanswerable but has answers")
                terms = qa.get("absent_terms") or []
                if not terms:
                    errors.append(f"{qid}: unanswerable without absent_terms")
                for term in terms:
                    if any(term.lower() in t for t in lowered):
                        errors.append(f"{qid}: absent term {term!r} occurs in the archive")
            else:
                if not answers:
                    errors.append(f"{qid}: answerable but no answers")
                for answer in answers:
                    span, start = answer["text"], answer["answer_start"]
                    if not span or context[start:start + len(span)] != span:
                        errors.append(f"{qid}: offset {start} does not hold {span!r}")
                        continue
                    if span[0] in BAD_EDGE or span[-1] in BAD_EDGE:
                        errors.append(f"{qid}: span starts or ends on punctuation: {span!r}")
                    if inside_token(context, start, start + len(span)):
                        errors.append(f"{qid}: span cuts a word or number: {span!r}")
                    if span.count('"') % 2:
                        errors.append(f"{qid}: unbalanced quote in {span!r}")
            if qa.get("group"):
                if qa["group"] in by_group and doc in by_group[qa["group"]]:
                    errors.append(f"{qid}: group {qa['group']} twice on {doc}")
                by_group[qa["group"]][doc] = qa
        for question, count in questions.items():
            if count > 1:
                errors.append(f"{doc}: question asked {count} times: {question}")
    listed = set()
    for conflict in data.get("conflicts", []):
        group = conflict["group"]
        listed.add(group)
        members = by_group.get(group, {})
        docs = [a["document_id"] for a in conflict["answers"]]
        if set(docs) != set(members) or len(docs) != len(set(docs)):
            errors.append(f"conflict {group}: articles {sorted(docs)} differ from the questions' {sorted(members)}")
        if len(set(docs)) < 2:
            errors.append(f"conflict {group}: fewer than two articles")
        texts = {re.sub(r"\W+", " ", a["text"].lower()).strip() for a in conflict["answers"]}
        if len(texts) < 2:
            errors.append(f"conflict {group}: the answers do not differ")
        for answer in conflict["answers"]:
            qa = members.get(answer["document_id"])
            if qa is None:
                continue
            if qa["question"] != conflict["question"]:
                errors.append(f"conflict {group}: question on {answer['document_id']} differs")
            if not qa["answers"] or qa["answers"][0]["text"] != answer["text"] \
                    or qa["answers"][0]["answer_start"] != answer["answer_start"]:
                errors.append(f"conflict {group}: answer on {answer['document_id']} differs from its question's")
    for group in set(by_group) - listed:
        errors.append(f"group {group}: questions carry it but conflicts does not list it")
    return errors


def units(items: list[dict]) -> list[list[str]]:
    """Articles that must stay together: a conflict group, or near-identical twins both in the set."""
    docs = [item["document_id"] for item in items]
    present = set(docs)
    parent = {d: d for d in docs}

    def find(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    def join(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_of_group: dict[str, str] = {}
    for item in items:
        doc = item["document_id"]
        for twin in item.get("twin_document_ids", []):
            if twin in present:
                join(doc, twin)
        for qa in item["paragraphs"][0]["qas"]:
            group = qa.get("group")
            if group:
                join(doc, first_of_group.setdefault(group, doc))
    grouped: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        grouped[find(doc)].append(doc)
    return sorted((sorted(members) for members in grouped.values()), key=lambda members: members[0])


def split(data: dict) -> dict[str, dict]:
    items = {item["document_id"]: item for item in data["data"]}
    size = {doc: len(item["paragraphs"][0]["qas"]) for doc, item in items.items()}
    order = units(data["data"])
    random.Random(SEED).shuffle(order)
    assigned: dict[str, list[str]] = {"calibration": [], "report": []}
    load = {"calibration": 0, "report": 0}
    for members in order:
        half = "calibration" if load["calibration"] <= load["report"] else "report"
        assigned[half].extend(members)
        load[half] += sum(size[d] for d in members)
    halves = {}
    for half, docs in assigned.items():
        keep = set(docs)
        halves[half] = {
            "version": data["version"],
            "_about": f"The {half} half of bbc-news-questions.json, split by article with random.Random({SEED}) "
                      f"(build_split.py). Never tune on the report half.",
            "split": half,
            "data": [item for item in data["data"] if item["document_id"] in keep],
            "conflicts": [c for c in data.get("conflicts", [])
                          if all(a["document_id"] in keep for a in c["answers"])],
        }
    return halves


def counts(data: dict) -> dict:
    qas = [(item, qa) for item in data["data"] for qa in item["paragraphs"][0]["qas"]]
    return {
        "questions": len(qas),
        "articles": len(data["data"]),
        "answerable": sum(not qa["is_impossible"] for _, qa in qas),
        "unanswerable": sum(bool(qa["is_impossible"]) for _, qa in qas),
        "short_no_subject": sum(bool(qa.get("short")) for _, qa in qas),
        "short_no_subject_distinct_texts": len({qa["question"] for _, qa in qas if qa.get("short")}),
        "conflict_questions": sum(bool(qa.get("group")) for _, qa in qas),
        "conflict_groups": len(data.get("conflicts", [])),
        "conflict_articles": len({a["document_id"] for c in data.get("conflicts", []) for a in c["answers"]}),
        "questions_per_section": dict(sorted(Counter(item["section"] for item, _ in qas).items())),
        "articles_per_section": dict(sorted(Counter(item["section"] for item in data["data"]).items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--check-only", action="store_true", help="verify, write nothing")
    args = parser.parse_args()
    archive = load_archive(args.archive)
    data = json.loads(SOURCE.read_text(encoding="utf-8"))
    errors = check(data, archive)
    if errors:
        print(f"{len(errors)} problem(s):", *errors[:50], sep="\n  ")
        return 1
    print("all offsets, contexts, ids, unanswerable terms and conflicts check out against", args.archive)
    print(json.dumps({"all": counts(data)}, indent=1))
    if args.check_only:
        return 0
    halves = split(data)
    for half, content in halves.items():
        problems = check(content, archive)
        if problems:
            print(f"{half}: {len(problems)} problem(s) after the split", *problems[:20], sep="\n  ")
            return 1
        HALVES[half].write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(json.dumps({half: counts(content)}, indent=1))
    shared = {i["document_id"] for i in halves["calibration"]["data"]} & {i["document_id"] for i in halves["report"]["data"]}
    assert not shared, shared
    return 0


if __name__ == "__main__":
    sys.exit(main())
