"""scripts/evaluate.py on a tiny SQuAD v2-style fixture, in both modes."""

import json

from scripts import evaluate
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
