"""The shipped reader: real weights, exact offsets, calibrated scores, a real "no answer"."""

import pytest

from qa.index import Passage
from qa.reader import ExtractiveReader
from tests.conftest import SAMPLE_ID

SENTENCE = ("The session, to begin at 11 a.m. ET, was requested by the United States, Britain and France in the "
            "wake of the furious Syrian assault to retake rebel-held parts of eastern Aleppo in recent days, a UN "
            "source confirmed to CNN.")


def passage(text: str, start: int = 0) -> Passage:
    return Passage(0, SAMPLE_ID, "Sample", start, start + len(text), text, 1.0)


def test_reads_the_answer_span_with_exact_offsets(reader):
    offset = 175  # the passage's position in its document
    candidates = reader.read("Who requested the meeting?", [passage(SENTENCE, offset)])
    best = candidates[0]
    assert "United States, Britain and France" in best.text
    assert SENTENCE[best.start - offset:best.end - offset] == best.text
    assert best.margin > 0  # the reader prefers this span over "no answer"


def test_candidates_never_cross_a_line_break(reader):
    text = "Western ministers condemn assault\nThe foreign ministers of the United States met in Paris on Friday."
    for candidate in reader.read("Where did the ministers meet?", [passage(text)]):
        assert "\n" not in candidate.text and text[candidate.start:candidate.end] == candidate.text


def test_long_passages_are_read_in_windows_in_one_batch(reader):
    filler = " ".join(["The weather was mild and nothing else happened that day."] * 40)
    text = filler + " The treaty was signed in Geneva by twelve nations."
    candidates = reader.read("Where was the treaty signed?", [passage(text), passage(SENTENCE)])
    best = candidates[0]
    assert best.start >= len(filler)  # found in the last window of the long passage
    assert "Geneva" in best.text and text[best.start:best.end] == best.text


def test_probability_prefers_the_right_span(reader):
    candidates = reader.read("Who requested the meeting?", [passage(SENTENCE)])
    probabilities = [reader.calibration.probability(c) for c in candidates]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities[0] == max(probabilities)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_backends_agree(reader, backend):
    if backend == "onnx" and not (reader.model_dir / "model.int8.onnx").exists():
        pytest.skip("no ONNX export shipped")
    other = ExtractiveReader(reader.model_dir, backend=backend)
    best = other.read("Who requested the meeting?", [passage(SENTENCE)])[0]
    assert "United States, Britain and France" in best.text
