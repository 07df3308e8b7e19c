"""End to end on the sample article: cited answers, no duplicates, a real "no answer"."""


from qa.live import LiveIndex
from qa.pipeline import sentence_around
from qa.stores import folder_backend
from qa.sync import rebuild_index
from tests.conftest import SAMPLE_ID


def test_who_requested_the_meeting(services, sample_index):
    result = services.assistant.ask("Who requested the meeting?")
    top = result.answers[0]
    assert top.text in ("the United States, Britain and France", "United States, Britain and France")
    document = sample_index.document(SAMPLE_ID)
    assert top.document_id == SAMPLE_ID
    assert document.text[top.start:top.end] == top.text
    assert top.start == document.text.index("United States, Britain and France") - (4 if top.text.startswith("the") else 0)
    assert top.context.startswith("The session, to begin at 11 a.m. ET, was requested by")
    assert document.text[top.context_start:top.context_start + len(top.context)] == top.context
    assert services.assistant.threshold <= top.score <= 1.0  # confident enough to be answered


def test_answers_are_distinct_and_ranked(services, sample_index):
    result = services.assistant.ask("Who did US officials blame for the convoy strike?", top_k=5)
    assert result.answers and "Russia" in result.answers[0].text
    scores = [a.score for a in result.answers]
    assert scores == sorted(scores, reverse=True)
    for i, a in enumerate(result.answers):
        for b in result.answers[i + 1:]:
            overlap = a.document_id == b.document_id and a.start < b.end and b.start < a.end
            assert not overlap and a.text.lower() != b.text.lower()
    for answer in result.answers:
        assert sample_index.document(answer.document_id).text[answer.start:answer.end] == answer.text


def test_unrelated_question_gets_no_answer(services):
    result = services.assistant.ask("What is the boiling point of liquid nitrogen?")
    assert result.no_answer and result.answers == []
    assert result.passages  # the passages that were read are still reported


def test_sentence_around_returns_the_covering_sentence():
    text = "First one. The answer is here. Last one."
    start = text.index("answer")
    assert sentence_around(text, start, start + 6) == ("The answer is here.", text.index("The answer"))


def test_live_index_picks_up_a_rebuild_without_restart(tmp_path, articles_dir, embedder):
    index_dir = tmp_path / "index"
    rebuild_index([articles_dir], index_dir, embedder)
    live = LiveIndex(index_dir, embedder, check_interval=0.0)
    live.load()
    assert live.get().stats().documents == 1
    (articles_dir / "new.md").write_text("# Flood\n\nThe river flooded the town of Exampleton on Monday.")
    rebuild_index([articles_dir], index_dir, embedder)
    live.get()  # notices the new CURRENT and reloads in the background, old index still serving
    live.wait_for_reload()
    assert live.get().stats().documents == 2
    assert live.get().manifest["version"] == folder_backend(index_dir).current_version()
