"""`python -m qa ask` prints answers with their citations."""

from qa.__main__ import main


def test_ask_prints_the_cited_answer(sample_index_dir, capsys):
    assert main(["ask", "Who requested the meeting?", "--index-dir", str(sample_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "United States, Britain and France" in out
    assert "un-security-council-aleppo, characters" in out


def test_ask_rejects_an_empty_question(sample_index_dir, capsys):
    assert main(["ask", "   ", "--index-dir", str(sample_index_dir)]) == 2
    assert "must not be empty" in capsys.readouterr().err
