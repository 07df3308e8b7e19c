"""`newsqa evaluate` (qa.cli.evaluate, also scripts/evaluate.py) on a tiny SQuAD v2-style fixture, in every mode."""

import json

import pytest

from qa.cli import evaluate
from tests.conftest import FIXTURES


def test_reader_mode_reports_em_f1_and_no_answer(tmp_path):
    out = tmp_path / "reader.json"
    assert evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "reader", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["questions"] == 4
    assert 0 <= report["exact_match"] <= report["f1"] <= 100
    assert {"no_answer_accuracy", "with_threshold_f1", "latency_ms_p50"} <= set(report)


def test_pipeline_mode_reports_answers_recall_and_latency(tmp_path, capsys):
    out = tmp_path / "pipeline.json"
    assert evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "pipeline", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["documents"] == 2 and report["questions"] == 4
    assert report["document_recall@3"] == 100.0  # two documents: the right one is always retrieved
    assert {"top1_f1", "top3_f1", "no_answer_accuracy", "latency_ms_p95"} <= set(report)
    assert report["top1_f1"] <= report["top3_f1"]
    assert "top1_f1" in capsys.readouterr().out


def test_retrieval_mode_compares_fusions(tmp_path):
    out = tmp_path / "retrieval.json"
    assert evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "retrieval", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"dense", "bm25", "rrf"} <= set(report)
    assert report["rrf"]["document_recall@8"] == 100.0


def _file(n_articles: int):
    from qa.squad import SquadArticle, SquadExample

    articles = [SquadArticle(title=f"a{i}", paragraphs=(f"Article {i} says {i}.",)) for i in range(n_articles)]
    examples = [SquadExample(id=f"q{i}-{j}", title=f"a{i}", context=articles[i].paragraphs[0],
                             question=f"What does article {i} say?", answers=(str(i),), answer_starts=(0,),
                             article_index=i) for i in range(n_articles) for j in range(2)]
    return articles, examples


def test_calibration_split_never_reports_on_a_question_it_asked():
    import random

    from qa.evaluation import calibration_split

    articles, examples = _file(30)
    split = calibration_split(articles, examples, random.Random(5), questions=10, unanswerable_share=0.33)
    asked, unseen = {e.id for e in split.asked}, {e.id for e in split.unseen}
    assert not asked & unseen and asked | unseen == {e.id for e in examples}
    assert len(split.indexed) == 15 and len(split.asked) == 10 + 4
    indexed = set(split.indexed)
    for example in split.asked + split.unseen:  # absent articles make their questions unanswerable
        assert example.is_impossible == (example.article_index not in indexed)
        assert bool(example.answers) == (example.article_index in indexed)
    again = calibration_split(articles, examples, random.Random(5), questions=10, unanswerable_share=0.33)
    assert [e.id for e in again.unseen] == [e.id for e in split.unseen]


def test_unseen_by_calibration_indexes_the_calibrated_half_only(tmp_path):
    reader = tmp_path / "reader"
    reader.mkdir()
    (reader / "calibration.json").write_text(json.dumps(
        {"fitted_on": ["tiny-squad.json"], "split": {"seed": 0, "questions": 1, "unanswerable_share": 0.5}}))
    shared = tmp_path / "shared"  # a stand-in for the crowd: two one-chunk news articles
    (shared / "corpus").mkdir(parents=True)
    (shared / "corpus" / "bbc-news-2004-2005.jsonl").write_text("".join(
        json.dumps({"id": f"news-{i}", "category": "business", "text": f"Headline {i}\n\nMarkets moved on day {i}."})
        + "\n" for i in range(2)))
    out = tmp_path / "retrieval.json"
    assert evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "retrieval", "--unseen-by-calibration",
                          "--reader-model", str(reader), "--crowd", "--crowd-train-articles", "0",
                          "--shared-dir", str(shared), "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["unseen_by_calibration"] == {"articles_indexed": 1, "of_articles": 2}
    assert report["crowd_distractor_documents"] == 2
    assert report["chunks"] == 3  # one of the file's two articles, and the two distractors


def test_unseen_by_calibration_refuses_a_file_the_calibration_never_saw(capsys):
    with pytest.raises(SystemExit) as stopped:
        evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "pipeline", "--unseen-by-calibration"])
    assert stopped.value.code == 2
    assert "was not fitted on tiny-squad.json" in capsys.readouterr().err


def test_the_reader_window_is_an_option_checked_and_recorded(tmp_path, capsys):
    out = tmp_path / "wide.json"
    assert evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "reader", "--window", "256", "--stride", "96",
                          "--out", str(out)]) == 0
    assert json.loads(out.read_text())["reader_window"] == [256, 96]
    for bad, message in ((["--window", "64"], "--window must be from 96 to 512"),
                         (["--window", "192", "--stride", "96"], "--stride must be at least 0 and under half")):
        with pytest.raises(SystemExit):
            evaluate.main([str(FIXTURES / "tiny-squad.json"), "--mode", "reader", *bad])
        assert message in capsys.readouterr().err
