"""`python -m qa ask` prints answers with their citations; `newsqa` (the same CLI) also runs the
build and evaluation scripts."""

import json
import subprocess
import sys
from pathlib import Path

from qa.__main__ import main


def test_ask_prints_the_cited_answer(sample_index_dir, capsys):
    assert main(["ask", "Who requested the meeting?", "--index-dir", str(sample_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "United States, Britain and France" in out
    assert "un-security-council-aleppo, characters" in out


def test_ask_rejects_an_empty_question(sample_index_dir, capsys):
    assert main(["ask", "   ", "--index-dir", str(sample_index_dir)]) == 2
    assert "must not be empty" in capsys.readouterr().err


def test_build_and_evaluate_run_the_scripts(tmp_path, articles_dir):
    from qa.index import NewsIndex
    from tests.conftest import FIXTURES

    index_dir = tmp_path / "index"
    assert main(["build", "--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert NewsIndex.current_version(index_dir) is not None  # build_index.py built it
    out = tmp_path / "reader.json"
    assert main(["evaluate", str(FIXTURES / "tiny-squad.json"), "--mode", "reader", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["reader_weights_sha256"]  # which weights were measured


def test_a_missing_script_is_a_clear_error(monkeypatch, tmp_path, capsys):
    import qa.__main__ as cli

    monkeypatch.setattr(cli, "SCRIPTS_DIR", tmp_path)
    assert main(["build"]) == 2
    assert "build_index.py is missing" in capsys.readouterr().err


def test_the_newsqa_console_command_is_installed():
    command = Path(sys.executable).parent / "newsqa"
    assert command.exists(), "reinstall the project: pip install -e '.[dev]' (pyproject's [project.scripts])"
    listed = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in ("serve", "ask", "build", "evaluate"))
    assert "usage: newsqa" in listed.stdout
    build_help = subprocess.run([str(command), "build", "--help"], capture_output=True, text=True, timeout=120)
    assert build_help.returncode == 0 and "--articles" in build_help.stdout
