"""Windows read around the retrieved chunks (qa.reading), on hand-worked articles."""

import pytest

from qa.coverage import bucket, content_words, coverage
from qa.index import NewsIndex
from qa.pipeline import Assistant
from qa.reader import SpanCandidate
from qa.reading import plan_windows
from qa.squad import normalize_answer
from qa.types import Document, Passage
from tests.unit.fakes import FakeReader

# Ten sentences of three words each ("S0 is here." ... "S9 is here."), one space apart: sentence i
# starts at 12 * i and ends at 12 * i + 11.
ARTICLE = " ".join(f"S{i} is here." for i in range(10))
OTHER = "Izumo launched today. It is 241 meters long. Its crew is 470."


def sentence(i: int) -> tuple[int, int]:
    return 12 * i, 12 * i + 11


def hit(doc: str, text: str, first: int, last: int, rank_score: float = 1.0) -> Passage:
    start, end = sentence(first)[0], sentence(last)[1]
    return Passage(0, doc, doc, start, end, text[start:end], rank_score)


TEXTS = {"a": ARTICLE}


def test_a_window_grows_mostly_backwards_by_whole_sentences_with_exact_offsets():
    # Sentence 6 (3 words) grown to 12 words: 9 spare, 6 of them (70%) before, 3 after.
    [window] = plan_windows([hit("a", ARTICLE, 6, 6)], TEXTS.get, words=12)
    assert (window.passage.start, window.passage.end) == (sentence(4)[0], sentence(7)[1])
    assert window.passage.text == ARTICLE[window.passage.start:window.passage.end]
    assert window.hits == (0,)


def test_at_the_start_of_an_article_the_growth_goes_after():
    [window] = plan_windows([hit("a", ARTICLE, 0, 0)], TEXTS.get, words=12)
    assert (window.passage.start, window.passage.end) == (0, sentence(3)[1])


def test_at_the_end_of_an_article_the_rest_goes_before():
    [window] = plan_windows([hit("a", ARTICLE, 9, 9)], TEXTS.get, words=12)
    assert (window.passage.start, window.passage.end) == (sentence(6)[0], sentence(9)[1])


def test_hits_of_one_article_that_overlap_or_touch_are_merged_in_the_best_hits_place():
    other = Passage(0, "b", "b", 0, len(OTHER), OTHER, 0.9)
    passages = [hit("a", ARTICLE, 2, 2), other, hit("a", ARTICLE, 4, 4)]
    windows = plan_windows(passages, {**TEXTS, "b": OTHER}.get, words=6)
    # Sentence 2 grows to 2-3 (3 words spare: 2 for before do not fit a 3-word sentence, so after),
    # sentence 4 to 4-5, which touches 2-3: one window 2-5, read where the best hit is.
    assert [w.passage.document_id for w in windows] == ["a", "b"]
    first = windows[0]
    assert first.hits == (0, 2)
    assert (first.passage.start, first.passage.end) == (sentence(2)[0], sentence(5)[1])
    assert first.passage.score == 1.0  # the best hit's scores and rank stay with the window
    assert first.passage.text == ARTICLE[first.passage.start:first.passage.end]


def test_no_text_is_read_twice():
    passages = [hit("a", ARTICLE, 3, 4), hit("a", ARTICLE, 4, 4), hit("a", ARTICLE, 2, 3)]
    windows = plan_windows(passages, TEXTS.get, words=12)
    assert len(windows) == 1 and windows[0].hits == (0, 1, 2)
    spans = [(w.passage.start, w.passage.end) for w in windows]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(sorted(spans), sorted(spans)[1:]))


def test_only_articles_of_the_minimum_length_are_grown():
    # ARTICLE has 30 words, OTHER 11: with a minimum of 20 words ARTICLE's chunk is grown, OTHER's
    # chunk (its second sentence alone) is read exactly as retrieved, and its neighbours are not read.
    start = OTHER.index("It is")
    short = Passage(1, "b", "b", start, start + len("It is 241 meters long."), "It is 241 meters long.", 0.9)
    windows = plan_windows([hit("a", ARTICLE, 6, 6), short], {**TEXTS, "b": OTHER}.get, words=12,
                           min_article_words=20)
    assert (windows[0].passage.start, windows[0].passage.end) == (sentence(4)[0], sentence(7)[1])
    assert windows[1].passage == short and windows[1].hits == (1,)
    # 0 grows every article; a minimum above ARTICLE's length grows none
    grown = plan_windows([short], {"b": OTHER}.get, words=12, min_article_words=0)[0].passage
    assert (grown.start, grown.end) == (0, len(OTHER))
    [kept] = plan_windows([hit("a", ARTICLE, 6, 6)], TEXTS.get, words=12, min_article_words=31)
    assert (kept.passage.start, kept.passage.end) == sentence(6)


def test_far_apart_hits_of_one_article_stay_two_windows():
    windows = plan_windows([hit("a", ARTICLE, 0, 0), hit("a", ARTICLE, 9, 9)], TEXTS.get, words=6)
    assert [(w.passage.start, w.passage.end) for w in windows] == [(0, sentence(1)[1]),
                                                                  (sentence(8)[0], sentence(9)[1])]


def test_the_budget_is_respected_and_the_first_window_always_read():
    passages = [hit("a", ARTICLE, 0, 0), hit("a", ARTICLE, 9, 9)]
    # 12 + 12 words wanted, 18 allowed: the second is read ungrown (3 words: 15 in all).
    windows = plan_windows(passages, TEXTS.get, words=12, budget=18)
    words = sum(len(w.passage.text.split()) for w in windows)
    assert words == 15 and words <= 18
    assert (windows[1].passage.start, windows[1].passage.end) == sentence(9)
    # Under the first window's own size, the first is still read and nothing else.
    [only] = plan_windows(passages, TEXTS.get, words=12, budget=5)
    assert only.hits == (0,)


def test_a_chunk_whose_article_is_unknown_is_read_as_retrieved():
    loose = Passage(3, "gone", "Gone", 10, 20, "some text.", 0.5)
    [window] = plan_windows([loose], TEXTS.get, words=50)
    assert window.passage == loose and window.hits == (0,)


def test_coverage_counts_the_questions_content_words_in_the_answers_sentence():
    context = ("The Izumo is Japan's largest warship since World War II. It is 241 meters long. "
               "It carries 470 crew.")
    at = context.index("241 meters")
    question = "How long is the Izumo, Japan's largest warship?"
    assert content_words(question) == {"long", "izumo", "japan", "largest", "warship"}
    # "It is 241 meters long." repeats only "long": 1 of 5.
    assert coverage(question, context, at, at + len("241 meters")) == 0.2
    assert bucket(0.2) == "low"
    first = context.index("Japan's largest")
    # The first sentence holds "izumo", "japan", "largest", "warship" but not "long": 4 of 5.
    assert coverage(question, context, first, first + 5) == 0.8
    assert bucket(0.8) == "high" and bucket(0.4) == "mid" and bucket(0.7) == "high" and bucket(0.39) == "low"
    assert coverage("Who is it?", context, at) == 1.0  # no content word: nothing missing


# -- the reading order and stop rule, through the pipeline with a fake reader -------------------------
LONG = Document(
    id="izumo", title="Japan launches Izumo",
    text="Japan launched the Izumo on Tuesday. The Izumo is Japan's largest warship since World War II. "
         "Officials in Tokyo praised the shipyard. It is 241 meters long. It carries a crew of 470. "
         "Neighbours voiced concern. China said it was watching closely. The ship cost 1.2 billion dollars.",
)
SHORT = Document(id="harbour", title="Harbour", text="The harbour reopened after repairs. Boats returned on Friday.")


@pytest.fixture(scope="module")
def chunked_index(fake_embedder):
    return NewsIndex.build([LONG, SHORT], fake_embedder, max_words=10, overlap_sentences=0)


def test_the_reader_reads_windows_with_exact_offsets_the_first_hits_windows_first(chunked_index):
    reader = FakeReader([])
    assistant = Assistant(chunked_index, reader, passages_to_read=4, first_read=2, read_words=25)
    result = assistant.ask("How long is the Izumo, Japan's largest warship?")
    call = reader.calls[0]
    windows = call["passages"]
    texts = {"izumo": LONG.text, "harbour": SHORT.text}
    for window in windows:
        assert window.text == texts[window.document_id][window.start:window.end]
    # Every retrieved chunk's text is inside one window, and no two windows of an article overlap.
    for hit in result.passages:
        assert any(w.document_id == hit.document_id and w.start <= hit.start and hit.end <= w.end for w in windows)
    for a in windows:
        for b in windows:
            if a is not b and a.document_id == b.document_id:
                assert a.end <= b.start or b.end <= a.start
    # `first`: the windows that hold the two best hits, which come first in the reading order.
    best_two = result.passages[:2]
    holding = [i for i, w in enumerate(windows)
               if any(w.document_id == h.document_id and w.start <= h.start and h.end <= w.end for h in best_two)]
    assert call["first"] == len(holding) and holding == list(range(len(holding)))
    assert result.passages_read == len(result.passages)  # the fake read every window


def test_passages_read_counts_the_hits_inside_the_windows_read(chunked_index):
    reader = FakeReader([], passages_read=1)  # the first window was enough
    assistant = Assistant(chunked_index, reader, passages_to_read=4, first_read=1, read_words=25)
    result = assistant.ask("How long is the Izumo, Japan's largest warship?")
    first_window = reader.calls[0]["passages"][0]
    inside = [h for h in result.passages if h.document_id == first_window.document_id
              and first_window.start <= h.start and h.end <= first_window.end]
    assert result.passages_read == len(inside) >= 1
    assert reader.calls[0]["first"] == 1


def test_without_read_words_the_chunks_are_read_as_retrieved(chunked_index):
    reader = FakeReader([])
    result = Assistant(chunked_index, reader, passages_to_read=4, first_read=2, read_words=0).ask(
        "How long is the Izumo?")
    assert reader.calls[0]["passages"] == result.passages and reader.calls[0]["first"] == 2


def test_each_article_is_asked_for_once():
    asked = []

    def text_of(document_id):
        asked.append(document_id)
        return TEXTS.get(document_id)

    plan_windows([hit("a", ARTICLE, 0, 0), hit("a", ARTICLE, 5, 5), hit("a", ARTICLE, 9, 9)], text_of, words=6)
    assert asked == ["a"]


# -- the story evidence, through the pipeline (issue #28) ---------------------------------------------
def _span(document: Document, text: str) -> SpanCandidate:
    start = document.text.index(text)
    return SpanCandidate(document.id, start, start + len(text), text, 1.0, 0.0, 0, 0.0, probability=0.6,
                         answer_probability=0.6, normalized=normalize_answer(text))


def test_the_story_evidence_is_filled_in_only_when_asked_for(chunked_index):
    candidates = [_span(LONG, "241 meters"), _span(SHORT, "Friday")]
    question = "How long is the Izumo, Japan's largest warship?"
    asked = Assistant(chunked_index, FakeReader(candidates), story_evidence=True).ask(question)
    by_text = {c.text: c for c, _ in asked.candidates}
    assert by_text["241 meters"].story_article == pytest.approx(1.0)  # the Izumo's article names every word
    assert by_text["Friday"].story_article < 0.2 and by_text["Friday"].story_best == pytest.approx(1.0)
    # The fake calibration weighs no story feature: by default nothing is computed, the fields stay neutral.
    plain = Assistant(chunked_index, FakeReader(candidates)).ask(question)
    assert all((c.story_article, c.story_near, c.story_best, c.echo, c.detail) == (1.0, 1.0, 1.0, 0.0, 0.5)
               for c, _ in plain.candidates)


def test_a_calibration_that_weighs_a_story_feature_turns_the_evidence_on(chunked_index):
    from qa.reader import Calibration

    reader = FakeReader([])
    reader.calibration = Calibration(weights={"margin": 1.0, "story_gap": 2.0})
    assert Assistant(chunked_index, reader).story_evidence is True
    reader.calibration = Calibration(weights={"margin": 1.0}, ranking={"echo": -1.0})
    assert Assistant(chunked_index, reader).story_evidence is True
    reader.calibration = Calibration(weights={"margin": 1.0})
    assert Assistant(chunked_index, reader).story_evidence is False


# -- search within the story (qa.reading.with_story_chunks) -------------------------------------------
def chunk(chunk_id: int, doc: str = "a") -> Passage:
    start, end = sentence(chunk_id)
    return Passage(chunk_id, doc, doc, start, end, ARTICLE[start:end], 1.0)


def test_story_chunks_not_yet_retrieved_are_read_with_the_first_passages():
    from qa.reading import with_story_chunks

    retrieved = [chunk(0), chunk(1, "b"), chunk(2), chunk(3, "b"), chunk(4, "c")]
    story = [chunk(2), chunk(7), chunk(0), chunk(9), chunk(8)]  # the article searched alone, best first
    passages, first = with_story_chunks(retrieved, story, first=2, limit=2)
    # 2 is retrieved already, so the story adds 7 and 9 (its best new ones, in its order) after the first
    # two, in place of the last two retrieved: as many passages are read as before
    assert [p.chunk_id for p in passages] == [0, 1, 7, 9, 2]
    assert first == 4
    # everything read at once stays so
    assert [p.chunk_id for p in with_story_chunks(retrieved, story, first=0, limit=2)[0]] == [0, 1, 2, 7, 9]
    assert with_story_chunks(retrieved, story, first=0, limit=2)[1] == 0
    # a first read of all the passages: the added one replaces the last, and is read first too
    passages, first = with_story_chunks(retrieved, story, first=5, limit=1)
    assert [p.chunk_id for p in passages] == [0, 1, 2, 3, 7] and first == 5
    # more new chunks than passages after the first read: the first read's own last ones give way,
    # never the best passage
    passages, first = with_story_chunks(retrieved[:3], story, first=2, limit=3)
    assert [p.chunk_id for p in passages] == [0, 7, 9] and first == 3
    # nothing new in the story: the passages and the first read are as retrieved
    assert with_story_chunks(retrieved, [chunk(0), chunk(2)], first=2, limit=3) == (retrieved, 2)


def test_the_pipeline_reads_the_best_articles_other_chunks_first(chunked_index):
    reader = FakeReader([])
    question = "How long is the Izumo, Japan's largest warship?"
    plain = Assistant(chunked_index, FakeReader([]), passages_to_read=2, first_read=1).retrieve(
        chunked_index, question, 3, None)  # `ask` retrieves top_k=3 passages when that is more
    assert plain[1] == 1 and len(plain[0]) == 3
    Assistant(chunked_index, reader, passages_to_read=2, first_read=1, story_chunks=2).ask(question)
    call = reader.calls[0]
    read = call["passages"]
    best = read[0].document_id
    retrieved = {p.chunk_id for p in plain[0]}
    added = read[1:3]
    # two chunks of the best passage's article that the search of the archive did not return, read first,
    # in place of the last two it returned
    assert len(read) == 3 and call["first"] == 3
    assert all(p.document_id == best and p.chunk_id not in retrieved for p in added)
    assert read[0].chunk_id == plain[0][0].chunk_id
    texts = {"izumo": LONG.text, "harbour": SHORT.text}
    assert all(p.text == texts[p.document_id][p.start:p.end] for p in read)
