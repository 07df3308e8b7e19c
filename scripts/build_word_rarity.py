"""Build `qa/models/rarity.json.gz`: how many paragraphs of general English prose use each word stem.

The story evidence (`qa.evidence.with_story_evidence`) weighs the question's words by how rare
they are, so that "Caminito" counts for more than "long". The weights come from this fixed table,
not from the archive being asked:
- they are the same for every store (no store has to expose its term statistics) and for an
  archive of one article, where the archive's own IDF says nothing;
- a calibration feature built on them does not drift as the archive grows.

The prose: the paragraphs of the training files only (SQuAD v1.1 train and TyDi QA English train,
Wikipedia), never a dev or report set. Words as `qa.coverage.content_words` finds them, stemmed
with the Snowball stemmer the BM25 index uses. Stems used by fewer than `--min-count` paragraphs
are left out; a stem not in the table counts as used by none (the rarest).

    python scripts/build_word_rarity.py --shared-dir ../shared
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.evidence import RARITY_FILE, stems  # noqa: E402

SOURCES = ("squad-train-v1.1.json", "tydiqa-en-train.json")


def paragraphs(path: Path):
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            yield paragraph["context"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-dir", default="../shared")
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--out", default=str(RARITY_FILE))
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    documents = 0
    for name in SOURCES:
        seen: set[str] = set()
        for text in paragraphs(Path(args.shared_dir) / "data" / "qa" / name):
            if text in seen:  # TyDi repeats a paragraph for each of its questions
                continue
            seen.add(text)
            documents += 1
            counts.update(stems(text))
    frequency = {stem: n for stem, n in sorted(counts.items()) if n >= args.min_count}
    table = {"sources": list(SOURCES), "documents": documents, "min_count": args.min_count, "frequency": frequency}
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as out:
        json.dump(table, out, separators=(",", ":"))
    print(f"{documents} paragraphs, {len(frequency)} stems -> {args.out} ({Path(args.out).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
