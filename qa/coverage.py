"""How much of a question the sentence holding its answer repeats ("coverage").

People who ask an archive name the story ("How long is the Izumo, Japan's largest
warship?") while the sentence that holds the answer often does not repeat those words
("It is 241 meters long"). A reader that sees only that sentence's chunk cannot tell
which "it" is meant. Coverage measures this per question, so that every evaluation
report can give F1 per bucket:

- the question's content words: lower-cased word tokens of three letters or more that
  are not English stop words (scikit-learn's list, a kept library's rather than ours);
- coverage: the share of them found among the words of the sentence that holds the gold
  answer (sentences as `qa.chunking.split_sentences` finds them);
- buckets: low < 0.4 <= mid < 0.7 <= high.

This module imports nothing of the app but the sentence splitter.
"""

from __future__ import annotations

import re

# scikit-learn is installed with every install: sentence-transformers, a base dependency, requires it.
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from qa.chunking import split_sentences

LOW, HIGH = 0.4, 0.7
BUCKETS = ("low", "mid", "high")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")  # a word of `folded` text
WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")  # what one is made of


def folded(text: str) -> str:
    """`text` as words are read from it: lower case, curly apostrophes straight."""
    return text.lower().replace("’", "'")


def content_word(word: str) -> str | None:
    """A `WORD` match as a content word ("'s" dropped), or None: shorter than three letters, or a stop word."""
    word = word.removesuffix("'s")
    return word if len(word) >= 3 and word not in ENGLISH_STOP_WORDS else None


def content_words(text: str) -> set[str]:
    """Lower-cased words of three letters or more that are not stop words ("'s" dropped)."""
    return {w for w in map(content_word, WORD.findall(folded(text))) if w}


def sentence_bounds(sentences: list[tuple[int, int]], length: int, start: int,
                    end: int | None = None) -> tuple[int, int]:
    """Where the sentences (`split_sentences` spans of a text `length` long) that the span [start, end)
    touches begin and end; 200 characters either side of it when it touches none."""
    end = start + 1 if end is None or end <= start else end
    touched = [(a, b) for a, b in sentences if a < end and b > start]
    if not touched:
        return max(0, start - 200), min(length, end + 200)
    return touched[0][0], touched[-1][1]


def answer_sentence(context: str, start: int, end: int | None = None) -> str:
    """The sentence(s) of `context` that hold the span [start, end): every sentence it touches."""
    lo, hi = sentence_bounds(split_sentences(context), len(context), start, end)
    return context[lo:hi]


def coverage(question: str, context: str, start: int, end: int | None = None) -> float:
    """Share of the question's content words found in the sentence holding context[start:end].

    A question with no content word counts as fully covered (1.0): nothing of it is missing.
    """
    asked = content_words(question)
    if not asked:
        return 1.0
    said = content_words(answer_sentence(context, start, end))
    return len(asked & said) / len(asked)


def bucket(value: float) -> str:
    """'low' under 0.4, 'mid' under 0.7, else 'high'."""
    return "low" if value < LOW else "mid" if value < HIGH else "high"
