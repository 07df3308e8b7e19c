#!/usr/bin/env python
"""An answer check the reader does not control (issue #28, item 1): an experiment, measured, not served
(docs/evaluation.md, "An answer check trained here").

A cross-encoder started from the shipped reader's encoder reads the question with a candidate answer
and the text around it in its article, and says whether the answer is right. It is trained on the
pipeline's own candidates, right and wrong, for questions none of the calibration or report sets ask:

    python scripts/answer_check.py collect   # SQuAD v1.1 train questions through the pipeline, crowded
    python scripts/answer_check.py train     # one pass on the 2 cores (checkpoint in runs/check/model)
    python scripts/answer_check.py score DUMP... # adds each candidate's `check` (the logit) to copies of dumps

`collect` indexes 60 SQuAD train articles (never the crowd's 20) among the crowded archive of
`newsqa evaluate --crowd`, asks 2,400 of their questions and 800 questions about 20 other train
articles left out of the archive (so no article answers them), and keeps each question's first
four distinct candidates as `Assistant.ask` ranks them, labelled right at F1 >= 0.5. The scored
dumps are refitted with `newsqa calibrate --features … check` to see what the check adds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.evidence import NEAR_AFTER, NEAR_BEFORE  # noqa: E402  the check reads what `story_near` counts

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "check"
MAX_TOKENS = 160


def check_text(answer: str, text: str, start: int, end: int) -> str:
    """What the check reads beside the question: the answer, then the text around it, cut at spaces."""
    lo, hi = max(0, start - NEAR_BEFORE), min(len(text), end + NEAR_AFTER)
    if lo > 0:
        lo = text.find(" ", lo, start) + 1 or lo
    if hi < len(text):
        hi = max(text.rfind(" ", end, hi), 0) or hi
    return f"{answer} [SEP] {text[lo:hi]}"


def collect(args) -> None:
    from qa.config import Settings
    from qa.embedding import Embedder
    from qa.evaluation import (CachingEmbedder, crowd_documents, crowd_train_articles, documents_from_squad,
                               with_crowd)
    from qa.index import NewsIndex
    from qa.pipeline import Assistant
    from qa.reader import ExtractiveReader
    from qa.squad import best_over_truths, f1_score, load_squad
    from qa.types import Document

    shared = Path(args.shared_dir)
    articles, examples = load_squad(shared / "data" / "qa" / "squad-train-v1.1.json")
    crowd_ids = set(crowd_train_articles(len(articles), 20))
    rng = random.Random(31)
    pool = [i for i in range(len(articles)) if i not in crowd_ids]
    chosen = rng.sample(pool, 80)
    indexed, absent = set(chosen[:60]), set(chosen[60:])
    documents = documents_from_squad(articles)
    kept = [Document(id=f"check-{d.id}", title=d.title, text=d.text) for d in (documents[i] for i in sorted(indexed))]
    settings = Settings()
    embedder = CachingEmbedder(Embedder.from_settings(settings), Path(args.cache_dir))
    archive = with_crowd(kept, crowd_documents(shared))
    index = NewsIndex.build(archive, embedder, progress=True)
    embedder.save()
    texts = {d.id: d.text for d in archive}
    assistant = Assistant.from_settings(index, ExtractiveReader(settings.reader_model), settings, threshold=1.0)
    asked = rng.sample([e for e in examples if e.article_index in indexed], 2400)
    asked += rng.sample([e for e in examples if e.article_index in absent], 800)
    rng.shuffle(asked)
    OUT.mkdir(parents=True, exist_ok=True)
    started, rows = time.time(), 0
    with open(OUT / "train.jsonl", "w", encoding="utf-8") as out:
        for n, example in enumerate(asked):
            truths = () if example.article_index in absent else example.answers
            result = assistant.ask(example.question, top_k=3)
            for rank, (candidate, _) in enumerate(result.candidates[:4]):
                f1 = best_over_truths(f1_score, candidate.text, truths)
                out.write(json.dumps({
                    "question": example.question, "answer": candidate.text, "rank": rank,
                    "article": example.title, "unanswerable": not truths,
                    "text": check_text(candidate.text, texts[candidate.document_id], candidate.start, candidate.end),
                    "right": int(f1 >= 0.5)}) + "\n")
                rows += 1
            if n % 400 == 0:
                print(f"{n}/{len(asked)} questions, {rows} candidates, {time.time() - started:.0f} s", flush=True)
    print(f"{rows} candidates from {len(asked)} questions in {time.time() - started:.0f} s -> {OUT / 'train.jsonl'}")


def train(args) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(2)
    rows = [json.loads(line) for line in open(OUT / "train.jsonl", encoding="utf-8")]
    random.Random(0).shuffle(rows)
    tokenizer = AutoTokenizer.from_pretrained(str(ROOT / "qa" / "models" / "reader"), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(ROOT / "qa" / "models" / "reader"), num_labels=1,
                                                               local_files_only=True, dtype=torch.float32)
    model.train()
    steps = (len(rows) + args.batch - 1) // args.batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    positives = sum(r["right"] for r in rows)
    weight = torch.tensor((len(rows) - positives) / max(positives, 1))  # right answers are the rarer class
    started = time.time()
    for step in range(steps):
        batch = rows[step * args.batch:(step + 1) * args.batch]
        encoded = tokenizer([r["question"] for r in batch], [r["text"] for r in batch], truncation="only_second",
                            max_length=MAX_TOKENS, padding=True, return_tensors="pt")
        logits = model(**encoded).logits.squeeze(-1)
        labels = torch.tensor([float(r["right"]) for r in batch])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f} {time.time() - started:.0f} s", flush=True)
    model.save_pretrained(OUT / "model")
    tokenizer.save_pretrained(OUT / "model")
    (OUT / "model" / "training.json").write_text(json.dumps({
        "examples": len(rows), "right": positives, "batch": args.batch, "lr": args.lr, "steps": steps,
        "max_tokens": MAX_TOKENS, "seconds": round(time.time() - started), "date": time.strftime("%Y-%m-%d")}) + "\n")
    print(f"trained {steps} steps on {len(rows)} candidates in {time.time() - started:.0f} s")


def articles_for(dump: Path, shared: Path) -> dict[str, str]:
    """The texts of every article a dump's candidates may come from: the crowd, and the file it asked about."""
    from qa.evaluation import crowd_documents, documents_from_squad
    from qa.squad import load_squad

    texts = {d.id: d.text for d in crowd_documents(shared)}
    name = dump.name
    files = {"tydiqa": shared / "data/qa/tydiqa-en-train.json", "squad-dev": shared / "data/qa/squad-dev-v1.1.json",
             "bbc-news-questions-calibration": ROOT / "docs/news-questions/bbc-news-questions-calibration.json",
             "bbc-story-questions-calibration": ROOT / "docs/story-questions/bbc-story-questions-calibration.json",
             "news-report": ROOT / "docs/news-questions/bbc-news-questions-report.json",
             "story-report": ROOT / "docs/story-questions/bbc-story-questions-report.json",
             "tydi-unseen": shared / "data/qa/tydiqa-en-train.json",
             "sample": ROOT / "docs/sample-questions.json"}
    for key, path in files.items():
        if key in name:
            texts.update({d.id: d.text for d in documents_from_squad(load_squad(path)[0])})
    return texts  # the calibration's SQuAD train questions are about the crowd's own articles: in the crowd


def score(args) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(OUT / "model"), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(OUT / "model"), local_files_only=True).eval()
    shared = Path(args.shared_dir)
    for dump in map(Path, args.dumps):
        texts = articles_for(dump, shared)
        records = [json.loads(line) for line in dump.open(encoding="utf-8")]
        pairs, where = [], []
        for r, record in enumerate(records):
            for c, candidate in enumerate(record["candidates"][:args.top]):
                text = texts.get(candidate["document_id"])
                if text is None or text[candidate["start"]:candidate["end"]] != candidate["text"]:
                    continue
                pairs.append((record["question"], check_text(candidate["text"], text, candidate["start"],
                                                             candidate["end"])))
                where.append((r, c))
        logits = []
        with torch.no_grad():
            for i in range(0, len(pairs), 64):
                chunk = pairs[i:i + 64]
                encoded = tokenizer([q for q, _ in chunk], [t for _, t in chunk], truncation="only_second",
                                    max_length=MAX_TOKENS, padding=True, return_tensors="pt")
                logits += model(**encoded).logits.squeeze(-1).tolist()
        for (r, c), logit in zip(where, logits):
            records[r]["candidates"][c]["check"] = round(logit, 4)
        out = OUT / "dumps" / dump.name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        total = sum(min(len(r["candidates"]), args.top) for r in records)
        print(f"{dump.name}: {len(logits)} of {total} candidates checked -> {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-dir", default=str(ROOT.parent / "shared"))
    parser.add_argument("--cache-dir", default=str(ROOT / "runs" / "embedding-cache"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("collect")
    training = commands.add_parser("train")
    training.add_argument("--batch", type=int, default=16)
    training.add_argument("--lr", type=float, default=3e-5)
    scoring = commands.add_parser("score")
    scoring.add_argument("dumps", nargs="+")
    scoring.add_argument("--top", type=int, default=3, help="candidates checked per question, as served")
    args = parser.parse_args()
    {"collect": collect, "train": train, "score": score}[args.command](args)


if __name__ == "__main__":
    main()
