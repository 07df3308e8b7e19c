"""Sentence splitting and chunking keep exact offsets and never cut a sentence in half."""

from qa.chunking import chunk_document, split_sentences
from qa.ingestion import load_articles
from qa.types import Document
from tests.conftest import SAMPLE_ARTICLES


def test_sentences_respect_abbreviations_and_decimals():
    text = "Mr. Smith met U.S. officials at 11 a.m. ET on Sunday. Growth was 2.5 percent! Was it? Yes."
    sentences = [text[a:b] for a, b in split_sentences(text)]
    assert sentences == [
        "Mr. Smith met U.S. officials at 11 a.m. ET on Sunday.",
        "Growth was 2.5 percent!",
        "Was it?",
        "Yes.",
    ]


def test_headline_lines_are_their_own_sentences():
    text = "Western ministers condemn assault\nThe ministers met on Friday. They spoke."
    assert [text[a:b] for a, b in split_sentences(text)][0] == "Western ministers condemn assault"


def test_chunks_keep_offsets_whole_sentences_and_overlap():
    document = load_articles([SAMPLE_ARTICLES])[0]
    chunks = chunk_document(document, max_words=60, overlap_sentences=1)
    sentences = {(a, b) for a, b in split_sentences(document.text)}
    starts = {a for a, _ in sentences}
    ends = {b for _, b in sentences}
    assert len(chunks) > 3
    for chunk in chunks:
        assert document.text[chunk.start:chunk.end] == chunk.text
        assert chunk.start in starts and chunk.end in ends  # no sentence cut in half
    for previous, following in zip(chunks, chunks[1:]):
        sentences_in_previous = sum(1 for a, b in sentences if previous.start <= a and b <= previous.end)
        if sentences_in_previous > 1:  # its last sentence opens the next chunk
            last_start = max(a for a, b in sentences if previous.start <= a and b <= previous.end)
            assert following.start == last_start
        else:
            assert following.start > previous.start
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for a, b in sentences for i in range(a, b))


def test_only_an_overlong_sentence_is_cut_at_word_boundaries():
    text = " ".join(f"word{i}" for i in range(250)) + "."
    chunks = chunk_document(Document("long", "Long", text), max_words=100)
    assert [len(c.text.split()) for c in chunks] == [100, 100, 50]
    assert all(text[c.start:c.end] == c.text for c in chunks)
