"""Evidence features for the calibration (qa.evidence), on hand-built candidates."""

import pytest

from qa.evidence import NEAR_BEFORE, story_weights, type_fit, with_evidence, with_story_evidence
from qa.reader import FEATURES, SpanCandidate
from qa.squad import normalize_answer


def candidate(document_id: str, text: str, answer_probability: float) -> SpanCandidate:
    return SpanCandidate(document_id=document_id, start=0, end=len(text), text=text, span_score=0.0, null_score=0.0,
                         passage_rank=0, passage_score=0.0, probability=answer_probability,
                         answer_probability=answer_probability, normalized=normalize_answer(text))


@pytest.mark.parametrize("question,answer,expected", [
    ("How many passengers were injured?", "23", 1.0),
    ("How many passengers were injured?", "twenty-three", 1.0),  # "three" is a number word
    ("How many passengers were injured?", "the pilots", 0.0),
    ("How many passengers were injured?", "three", 1.0),
    ("How many passengers were injured?", "the crew", 0.0),
    ("How much did the shares fall?", "5%", 1.0),
    ("When will the Security Council meet?", "Sunday", 1.0),
    ("When will the Security Council meet?", "3 p.m. ET Sunday", 1.0),
    ("When did the strike start?", "the union", 0.0),
    ("In what year was the firm founded?", "1998", 1.0),
    ("Who requested the meeting?", "the United States, Britain and France", 1.0),
    ("Who requested the meeting?", "the delegates", 0.0),
    ("Where did the flight depart from?", "Atlanta", 1.0),
    ("What did the minister announce?", "a review", 0.5),  # "what" says nothing about the shape
])
def test_type_fit(question: str, answer: str, expected: float) -> None:
    assert type_fit(question, answer) == expected


def test_agreement_rival_and_length() -> None:
    candidates = [
        candidate("a", "Ban Ki-moon", 0.5),
        candidate("b", "Ban Ki-moon", 0.5),  # the same answer from a second article
        candidate("c", "Ban Ki-moon.", 0.5),  # normalizes to the same text: a third article
        candidate("a", "Kofi Annan", 0.3),  # a rival, but only from article a
        candidate("d", "Javier Solana", 0.1),  # a rival from another article
    ]
    out = with_evidence("Who is the secretary general?", candidates)
    assert [c.articles for c in out] == [3, 3, 3, 1, 1]
    # Ban's best rival from another article: Kofi Annan counts for b and c (a gives it), not for a.
    assert [c.other_probability for c in out] == [0.1, 0.3, 0.3, 0.5, 0.5]
    assert [c.words for c in out] == [2, 2, 2, 2, 2]
    assert [c.type_fit for c in out] == [1.0] * 5
    assert [c.text for c in out] == [c.text for c in candidates]  # same order, same spans


def test_no_rival_in_a_one_article_archive() -> None:
    out = with_evidence("How many were hurt?", [candidate("a", "23", 0.6), candidate("a", "24 people", 0.2)])
    assert [c.other_probability for c in out] == [0.0, 0.0]
    assert [c.articles for c in out] == [1, 1]
    assert [c.words for c in out] == [1, 2]


# -- the story evidence (issue #28) -----------------------------------------------------------
IZUMO = ("Japan's new warship", "Japan has unveiled the Izumo, its largest warship since World War II. " + "The "
         "ceremony in Yokohama drew a crowd of officials and veterans, and the navy band played. " * 8
         + "It is 241 meters long and can carry nine helicopters.")
BRIDGE = ("Walkway reopens", "A walkway in southern Spain reopened on Saturday after repairs. It is 3 kilometers "
          "long and hangs above a gorge.")
QUESTION = "How long is the Izumo, Japan's largest warship?"


def span(document_id: str, text: str, answer: str) -> SpanCandidate:
    start = text.index(answer)
    return SpanCandidate(document_id=document_id, start=start, end=start + len(answer), text=answer, span_score=0.0,
                         null_score=0.0, passage_rank=0, passage_score=0.0, normalized=normalize_answer(answer))


def test_an_answer_from_the_story_s_article_against_one_from_another_story() -> None:
    articles = {"izumo": IZUMO, "bridge": BRIDGE}
    right, other = with_story_evidence(QUESTION, [span("izumo", IZUMO[1], "241 meters"),
                                                  span("bridge", BRIDGE[1], "3 kilometers")], articles.get)
    assert right.story_article == pytest.approx(1.0)  # every word of the question is in its article
    assert right.story_best == other.story_best == pytest.approx(1.0)
    # "long" is the only word of the question the walkway's article has, and it is a common one:
    weights = story_weights(QUESTION)
    assert other.story_article == pytest.approx(weights["long"] / sum(weights.values()))
    assert other.story_article < 0.2
    assert FEATURES["story_gap"](other) == pytest.approx(other.story_article - 1.0)
    assert FEATURES["story_gap"](right) == 0.0


def test_the_story_named_near_the_answer_or_only_far_from_it() -> None:
    # The answer sits over 400 characters after the sentence that names the Izumo: its article names
    # the story, its surroundings only say "It ... long".
    (far,) = with_story_evidence(QUESTION, [span("izumo", IZUMO[1], "241 meters")], {"izumo": IZUMO}.get)
    assert IZUMO[1].index("241") - IZUMO[1].index("Izumo") > NEAR_BEFORE
    weights = story_weights(QUESTION)
    assert far.story_near == pytest.approx(weights["long"] / sum(weights.values()))
    (near,) = with_story_evidence(QUESTION, [span("izumo", IZUMO[1], "World War II")], {"izumo": IZUMO}.get)
    assert near.story_near == pytest.approx(1 - weights["long"] / sum(weights.values()))  # all but "long"


def test_rare_words_weigh_more_than_common_ones() -> None:
    weights = story_weights(QUESTION)
    assert set(weights) == {"long", "largest", "izumo", "japan", "warship"}  # stop words and "how" left out
    assert weights["izumo"] > weights["warship"] > weights["japan"] > weights["long"]
    # An article naming only the rare words (the Izumo, a warship) names the story more than one with
    # only the common ones (Japan, long, largest), though it has fewer of the question's words.
    rare = with_story_evidence(QUESTION, [span("a", "The Izumo warship.", "Izumo")], {"a": ("", "The Izumo warship.")}.get)
    common = "Japan's largest bridge is long."
    plain = with_story_evidence(QUESTION, [span("b", common, "bridge")], {"b": ("", common)}.get)
    assert rare[0].story_article > 0.5 > plain[0].story_article


def test_words_meet_at_their_stems_and_the_title_counts() -> None:
    text = "The United States, Britain and France asked for the session."
    (candidate,) = with_story_evidence("Who requested the meeting?", [span("a", text, "United States")],
                                       {"a": ("Council meets at the request of three members", text)}.get)
    assert candidate.story_article == pytest.approx(1.0)  # "requested" and "meeting" meet "request" and "meets"
    assert candidate.story_near == 0.0  # the text itself names neither


def test_a_gone_article_stays_neutral_and_each_article_is_read_once() -> None:
    asked = []

    def article(document_id):
        asked.append(document_id)
        return {"izumo": IZUMO}.get(document_id)

    candidates = [span("izumo", IZUMO[1], "241 meters"), span("izumo", IZUMO[1], "nine helicopters"),
                  SpanCandidate("gone", 0, 3, "abc", 0.0, 0.0, 0, 0.0)]
    result = with_story_evidence(QUESTION, candidates, article)
    assert sorted(asked) == ["gone", "izumo"]
    assert (result[2].story_article, result[2].story_near) == (1.0, 1.0)
    assert result[2].story_best == pytest.approx(1.0)


def test_a_question_without_content_words_is_fully_named() -> None:
    (candidate,) = with_story_evidence("Who is it?", [span("b", BRIDGE[1], "3 kilometers")], {"b": BRIDGE}.get)
    assert (candidate.story_article, candidate.story_near) == (1.0, 1.0)


def test_an_answer_that_repeats_the_question_echoes_it() -> None:
    text = "Maajid Nawaz heads the Quilliam Foundation, a think tank in London."
    question = "Who heads the Quilliam Foundation?"
    named, echoed, partly, bare = with_story_evidence(question, [
        span("a", text, "Maajid Nawaz"), span("a", text, "Quilliam Foundation"),
        span("a", text, "the Quilliam Foundation, a think tank"), span("a", text, "the")], {"a": ("", text)}.get)
    assert (named.echo, echoed.echo, bare.echo) == (0.0, 1.0, 0.0)  # "the" has no content word to echo
    weights = story_weights("Quilliam Foundation think tank")
    assert partly.echo == pytest.approx((weights["quilliam"] + weights["foundat"]) / sum(weights.values()))


# The detail asked: the question's words that its article's title and first sentence do not use.
LG_CARD = ("LG Card rescue agreed", "Creditors of LG Card have agreed to a rescue of the troubled firm. "
           "The company has seven million customers across South Korea. Its shares rose 5% on Monday.")


def test_the_detail_asked_is_in_the_right_answer_s_sentence_not_the_story_s_name() -> None:
    # "Izumo", "Japan", "largest" and "warship" are in the title and first sentence: the story. "long" is
    # what the question asks of it, and only the 241 meters' sentence says it.
    right, wrong = with_story_evidence(QUESTION, [span("izumo", IZUMO[1], "241 meters"),
                                                  span("izumo", IZUMO[1], "Yokohama")], {"izumo": IZUMO}.get)
    assert right.detail == 1.0 and wrong.detail == 0.0
    # Only "long" is near the 241 meters: the plain share of the question near it is low.
    assert right.story_near < 0.2


def test_a_detail_no_sentence_gives_is_not_answered_from_the_story_s_article() -> None:
    # "How many people does LG Card employ?": the article names LG Card and gives its customers, never
    # its staff. A number of the story's own article is no answer.
    question = "How many people does LG Card employ?"
    (customers,) = with_story_evidence(question, [span("lg", LG_CARD[1], "seven million")], {"lg": LG_CARD}.get)
    weights = story_weights(question)  # "LG" is too short to count: "card" names the story
    assert customers.story_article == pytest.approx(weights["card"] / sum(weights.values()))  # the story...
    assert customers.detail == 0.0  # ...but none of the detail asked
    staff = (LG_CARD[0], LG_CARD[1] + " It employs 5,000 people.")
    (employs,) = with_story_evidence(question, [span("lg", staff[1], "5,000")], {"lg": staff}.get)
    # "employs" meets "employ" at its stem; "does" is the one detail word the sentence lacks
    assert employs.detail == pytest.approx(1 - weights["doe"] / (sum(weights.values()) - weights["card"]))
    assert employs.detail > 0.6


def test_the_answer_s_own_words_are_not_its_sentence_s_evidence() -> None:
    article = ("Minister speaks", "The minister spoke on Monday. He announced a cut in taxes.")
    question = "What did the minister announce about taxes?"
    (candidate,) = with_story_evidence(question, [span("a", article[1], "a cut in taxes")], {"a": article}.get)
    weights = story_weights(question)  # "minister" is the story (the title's); the rest is the detail
    assert set(weights) == {"minist", "announc", "tax", "did"}
    detail = weights["announc"] + weights["tax"] + weights["did"]
    assert candidate.detail == pytest.approx(weights["announc"] / detail)  # "taxes" is the answer's own word


def test_nothing_to_tell_when_the_lead_has_every_word_or_the_article_is_gone() -> None:
    (lead,) = with_story_evidence("Who agreed the LG Card rescue?", [span("lg", LG_CARD[1], "Creditors")],
                                  {"lg": LG_CARD}.get)
    assert lead.detail == 0.5
    gone = SpanCandidate("gone", 0, 3, "abc", 0.0, 0.0, 0, 0.0)
    assert with_story_evidence(QUESTION, [gone], {}.get)[0].detail == 0.5
    assert FEATURES["detail"](lead) == 0.5


@pytest.mark.parametrize("text,aligned", [
    ("Japan's new warship: the Izumo. It is 241 meters long; rock'n'roll fans and abc'd1 users, "
     "John’s crew's 10:30 meeting.\n\nU.S. firms' shares rose 5% (to £3.2bn) on Monday's news, it's said.", True),
    ("İstanbul's mayor, whose lower case is longer than his name, met the Izumo's captain.", False),
])
def test_words_found_in_a_stretch_are_those_of_the_stretch_itself(text: str, aligned: bool) -> None:
    # The story evidence finds the question's words in the text near each answer from the article's
    # words, found once; reading each stretch afresh must give the same words, cut words included
    # ("warship" cut to "ship", "abc'd1" cut to "d1").
    from qa.evidence import _Article, _words_of, stems

    assert _words_of(text).aligned is aligned  # the second text's lower case is longer: read afresh
    wanted = stems(text) | {"ship", "war", "izumo", "rock", "roll", "crew", "abc", "ohn"}
    article = _Article("A title", text, dict.fromkeys(wanted, 1.0))
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 3):
            assert article.found_between(a, b) == stems(text[a:b]) & wanted, (a, b, text[a:b])
    with pytest.raises(ValueError):
        article.found_between(-3, 17)


def test_the_word_characters_are_the_word_pattern_s() -> None:
    import string

    from qa.coverage import WORD, WORD_CHARACTERS

    # `found_between` asks whether a character could join the word after it: one of a word's own
    # characters, or the apostrophe of its suffix.
    assert WORD.pattern == r"[a-z0-9]+(?:'[a-z]+)?"
    assert WORD_CHARACTERS == frozenset(string.ascii_lowercase + string.digits + "'")


def test_words_found_in_stretches_of_a_real_article() -> None:
    import random

    from qa.evidence import _Article, stems
    from tests.conftest import SAMPLE_ARTICLES, SAMPLE_ID

    text = (SAMPLE_ARTICLES / f"{SAMPLE_ID}.txt").read_text(encoding="utf-8")
    wanted = stems(text)
    article = _Article("UN Security Council", text, dict.fromkeys(wanted, 1.0))
    draw = random.Random(7)
    for _ in range(500):
        a = draw.randrange(len(text))
        b = a + draw.randrange(1, 700)
        assert article.found_between(a, b) == stems(text[a:b]) & wanted


def test_the_story_evidence_of_a_question_is_worked_out_once_across_calls() -> None:
    # The pipeline asks it of the first passages' candidates (the calibrated stop), then of all.
    from qa.evidence import StoryEvidence

    asked = []

    def article(document_id):
        asked.append(document_id)
        return {"izumo": IZUMO, "bridge": BRIDGE}.get(document_id)

    first = [span("bridge", BRIDGE[1], "3 kilometers")]
    everything = first + [span("izumo", IZUMO[1], "241 meters")]
    evidence = StoryEvidence(QUESTION, article)
    (early,) = evidence(first)
    assert early.story_best == early.story_article < 0.2  # the best among the articles read so far
    later = evidence(everything)
    assert sorted(asked) == ["bridge", "izumo"]  # each article asked of the store once
    assert later == with_story_evidence(QUESTION, everything, {"izumo": IZUMO, "bridge": BRIDGE}.get)
    assert later[0].story_best == pytest.approx(1.0) and later[1].detail == 1.0
