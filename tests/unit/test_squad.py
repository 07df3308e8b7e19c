"""The SQuAD scorer against values worked out by hand."""

import json

import pytest

from qa.squad import best_over_truths, exact_match, f1_score, load_squad, normalize_answer


def test_normalize_drops_case_punctuation_and_articles():
    assert normalize_answer("The  United States, Britain and France.") == "united states britain and france"


@pytest.mark.parametrize(
    ("prediction", "truth", "em", "f1"),
    [
        ("the United States, Britain and France", "United States, Britain and France", 1.0, 1.0),
        # prediction: {united, states} ; truth: {united, states, britain, and, france}
        # precision 2/2, recall 2/5 -> F1 = 2*1*0.4/1.4 = 4/7
        ("United States", "the United States, Britain and France", 0.0, 4 / 7),
        # prediction: {more, than, 250000, civilians}; truth {250000}: P=1/4 R=1 -> F1 = 0.4
        ("more than 250,000 civilians", "250,000", 0.0, 0.4),
        ("Russia", "Syria", 0.0, 0.0),
    ],
)
def test_exact_match_and_f1_by_hand(prediction, truth, em, f1):
    assert exact_match(prediction, truth) == em
    assert f1_score(prediction, truth) == pytest.approx(f1)


def test_best_over_truths_takes_the_closest_gold_and_handles_no_answer():
    assert best_over_truths(f1_score, "250,000", ["more than 250,000", "250,000"]) == 1.0
    assert best_over_truths(f1_score, "", []) == 1.0  # correctly abstained
    assert best_over_truths(f1_score, "Aleppo", []) == 0.0  # answered an unanswerable question


def test_load_squad_reads_v2_fields(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "T", "paragraphs": [{
        "context": "Paris is in France.",
        "qas": [{"id": "1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
                {"id": "2", "question": "Where is Rome?", "answers": [], "is_impossible": True}]}]}]}))
    articles, examples = load_squad(path)
    assert articles[0].paragraphs == ("Paris is in France.",)
    assert examples[0].answers == ("France",) and not examples[0].is_impossible
    assert examples[1].is_impossible and examples[1].answers == ()


def test_a_question_whose_articles_disagree_accepts_every_articles_answer(tmp_path):
    import json

    data = {"data": [
        {"title": "A", "document_id": "a", "paragraphs": [{"context": "Jobs rose by 157,000 in May.", "qas": [
            {"id": "a-q1-grp-jobs", "question": "How many jobs were added?", "answers": [
                {"text": "157,000", "answer_start": 13}]},
            {"id": "a-q2", "question": "When?", "answers": [{"text": "May", "answer_start": 24}]}]}]},
        {"title": "B", "document_id": "b", "paragraphs": [{"context": "Jobs rose by 146,000.", "qas": [
            {"id": "b-q1-grp-jobs", "question": "How many jobs were added?", "answers": [
                {"text": "146,000", "answer_start": 13}]}]}]}],
        "conflicts": [{"group": "jobs", "question": "How many jobs were added?", "answers": [
            {"document_id": "a", "text": "157,000", "answer_start": 13},
            {"document_id": "b", "text": "146,000", "answer_start": 13}]}]}
    path = tmp_path / "news.json"
    path.write_text(json.dumps(data))
    articles, examples = load_squad(path)
    assert [a.document_id for a in articles] == ["a", "b"]
    by_id = {e.id: e for e in examples}
    assert by_id["a-q1-grp-jobs"].answers == ("157,000",)  # the article's own answer, as before
    assert by_id["a-q1-grp-jobs"].accepted == ("157,000", "146,000")  # and the other article's report
    assert by_id["b-q1-grp-jobs"].accepted == ("146,000", "157,000")
    assert by_id["a-q2"].accepted == ("May",) and by_id["a-q2"].alternatives == ()
