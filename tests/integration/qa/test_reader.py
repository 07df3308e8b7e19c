"""The shipped reader: real weights, exact offsets, calibrated scores, a real "no answer"."""

import pytest

from qa.types import Passage
from qa.reader import ExtractiveReader
from tests.conftest import SAMPLE_ID

SENTENCE = ("The session, to begin at 11 a.m. ET, was requested by the United States, Britain and France in the "
            "wake of the furious Syrian assault to retake rebel-held parts of eastern Aleppo in recent days, a UN "
            "source confirmed to CNN.")


@pytest.fixture(scope="module")
def torch_reader() -> ExtractiveReader:
    """The PyTorch back end: its logits do not depend on the other rows of a batch (int8 ONNX
    quantizes each batch's activations with one scale), so two reads can be compared exactly."""
    from qa.config import Settings

    return ExtractiveReader(Settings().reader_model, backend="torch", threads=1)


def passage(text: str, start: int = 0) -> Passage:
    return Passage(0, SAMPLE_ID, "Sample", start, start + len(text), text, 1.0)


def test_reads_the_answer_span_with_exact_offsets(reader):
    offset = 175  # the passage's position in its document
    candidates = reader.read("Who requested the meeting?", [passage(SENTENCE, offset)])
    best = candidates[0]
    assert "United States, Britain and France" in best.text
    assert SENTENCE[best.start - offset:best.end - offset] == best.text
    # The answer (all spans reading "United States, Britain and France") is likelier than "no answer".
    assert best.answer_probability > best.no_answer_probability


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


def test_shared_normalization_over_two_windows_hand_worked():
    """Two windows of three positions ([CLS], t1, t2); every number below is worked by hand."""
    import math

    import numpy as np

    from qa.reader import SharedNormalizer

    start = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    end = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
    context = np.array([[False, True, True], [False, True, True]])
    shared = SharedNormalizer.fit(start, end, context)
    # Window no-answer scores: 1 + 1 = 2 and 0 + 0.5 = 0.5; the shared one is the lower (window 2's [CLS]).
    assert shared.null_score == pytest.approx(0.5)
    # Starts: e^2 + e^0 (window 1) + e^1 + e^3 (window 2) + e^0 (shared [CLS]) = 32.1930
    z_start = math.e ** 2 + 1 + math.e + math.e ** 3 + 1
    # Ends: e^0 + e^2 + e^1 + e^0 + e^0.5 = 13.7560
    z_end = 1 + math.e ** 2 + math.e + 1 + math.e ** 0.5
    assert math.exp(shared.log_z_start) == pytest.approx(z_start) == pytest.approx(32.1930, abs=1e-3)
    assert math.exp(shared.log_z_end) == pytest.approx(z_end) == pytest.approx(13.7560, abs=1e-3)
    # Span t2..t2 of window 2: e^(3 + 0) / (32.1930 * 13.7560) = 0.04536
    assert shared.probability(3.0 + 0.0) == pytest.approx(0.04536, abs=1e-4)
    # Span t1..t2 of window 1: e^(2 + 2) / (32.1930 * 13.7560) = 0.12328
    assert shared.probability(2.0 + 2.0) == pytest.approx(0.12328, abs=1e-4)
    # No answer: e^0.5 / (32.1930 * 13.7560) = 0.003723
    assert shared.no_answer_probability == pytest.approx(0.003723, abs=1e-5)


def test_shared_probabilities_rank_the_answering_passage_over_a_distractor(reader):
    """Scores of spans in different passages are comparable: the right passage's span wins clearly."""
    distractor = ("Arsenal beat Chelsea 2-1 on Saturday, and the manager said the club had requested a replay "
                  "of the cup tie after a late goal from Thierry Henry was disallowed.")
    passages = [Passage(0, "sport", "FA", 0, len(distractor), distractor, 1.0), passage(SENTENCE, 175)]
    candidates = reader.read("Who requested the meeting of the UN Security Council on Aleppo?", passages)
    best = max(candidates, key=lambda c: c.answer_probability)  # evidence for the answer text, all spans
    assert best.document_id == SAMPLE_ID and "United States, Britain and France" in best.text
    best_distractor = max((c for c in candidates if c.document_id == "sport"), key=lambda c: c.answer_probability)
    assert best.answer_probability > 2 * best_distractor.answer_probability
    total = sum({(c.document_id, c.start, c.end): c.probability for c in candidates}.values())
    assert total + best.no_answer_probability <= 1.0 + 1e-6


def test_shared_normalization_over_two_forward_passes_matches_one():
    """Windows read in two passes, each padded to its own length, normalize as if read in one:
    the hand-worked windows above, the second padded by one masked position."""
    import numpy as np

    from qa.reader import SharedNormalizer

    start = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    end = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
    context = np.array([[False, True, True], [False, True, True]])
    one = SharedNormalizer.fit(start, end, context)
    padded = (np.array([[0.0, 1.0, 3.0, 9.0]]), np.array([[0.5, 1.0, 0.0, 9.0]]), np.array([[False, True, True, False]]))
    two = SharedNormalizer.fit_batches([(start[:1], end[:1], context[:1]), padded])
    assert two.log_z_start == pytest.approx(one.log_z_start) and two.log_z_end == pytest.approx(one.log_z_end)
    assert two.null_score == pytest.approx(0.5)  # the shared no-answer is found across passes


def test_reading_the_best_passages_first(torch_reader):
    """`read_first` stops after the first passages when an answer there is likely enough, and
    otherwise reads the rest and gives what one read of all passages gives."""
    distractor = ("Arsenal beat Chelsea 2-1 on Saturday, and the manager said the club had requested a replay "
                  "of the cup tie after a late goal from Thierry Henry was disallowed.")
    passages = [passage(SENTENCE, 175), Passage(1, "sport", "FA", 0, len(distractor), distractor, 0.5)]
    question = "Who requested the meeting of the UN Security Council on Aleppo?"
    whole = torch_reader.read(question, passages)
    enough = torch_reader.read_first(question, passages, first=1, enough=0.0)
    assert enough.passages_read == 1 and {c.document_id for c in enough.candidates} == {SAMPLE_ID}
    both = torch_reader.read_first(question, passages, first=1, enough=1.01)  # never enough: reads on
    assert both.passages_read == 2 and {c.document_id for c in both.candidates} == {SAMPLE_ID, "sport"}
    assert [(c.document_id, c.start, c.end) for c in both.candidates] == [(c.document_id, c.start, c.end) for c in whole]
    assert [c.probability for c in both.candidates] == pytest.approx([c.probability for c in whole], rel=1e-3)
    assert [c.answer_probability for c in both.candidates] == pytest.approx(
        [c.answer_probability for c in whole], rel=1e-3)
    # Stopping after the first step gives exactly a read of the first passages alone.
    alone = torch_reader.read(question, passages[:1])
    assert [(c.start, c.end) for c in enough.candidates] == [(c.start, c.end) for c in alone]
    assert [c.probability for c in enough.candidates] == pytest.approx([c.probability for c in alone], rel=1e-3)
