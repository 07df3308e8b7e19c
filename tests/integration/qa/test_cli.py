"""The command line (`newsqa`, `python -m qa`, `qa.cli`): `ask` prints answers with their citations;
every subcommand runs from the installed package, never from files of the checkout's scripts/."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import qa
from qa.cli import COMMANDS, main
from qa.config import PROJECT_ROOT
from qa.stores import folder_backend
from tests.conftest import FIXTURES

CLI_DIR = Path(qa.__file__).parent / "cli"


def test_ask_prints_the_cited_answer(sample_index_dir, capsys):
    assert main(["ask", "Who requested the meeting?", "--index-dir", str(sample_index_dir)]) == 0
    out = capsys.readouterr().out
    assert "United States, Britain and France" in out
    assert "un-security-council-aleppo, characters" in out


def test_ask_rejects_an_empty_question(sample_index_dir, capsys):
    assert main(["ask", "   ", "--index-dir", str(sample_index_dir)]) == 2
    assert "must not be empty" in capsys.readouterr().err


def test_ask_rejects_a_bad_filter(sample_index_dir, capsys):
    assert main(["ask", "Who requested the meeting?", "--index-dir", str(sample_index_dir),
                 "--from", "2005-03-01", "--to", "2005-01-01"]) == 2
    assert "bad filter: date_from 2005-03-01 is after date_to 2005-01-01" in capsys.readouterr().err


def test_build_and_evaluate_subcommands(tmp_path, articles_dir):
    index_dir = tmp_path / "index"
    assert main(["build", "--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert folder_backend(index_dir).current_version() is not None
    out = tmp_path / "reader.json"
    assert main(["evaluate", str(FIXTURES / "tiny-squad.json"), "--mode", "reader", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["reader_weights_sha256"]  # which weights were measured


def test_the_cli_never_uses_the_scripts_folder():
    """No module of qa.cli imports `scripts`, loads a file by path, or names the folder."""
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "scripts" for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in ("scripts", "runpy"), path
            elif isinstance(node, ast.Attribute):
                assert node.attr not in ("spec_from_file_location", "exec_module", "run_path"), path
        assert "scripts" not in path.read_text(), f"{path.name} names the scripts folder"


def test_build_and_evaluate_run_outside_the_checkout(tmp_path, articles_dir):
    """`python -m qa build|evaluate` with the package copied outside the checkout (as a wheel installs it)
    and run from an unrelated folder: nothing of scripts/ or the checkout is needed."""
    site = tmp_path / "site"
    # As the wheel installs it (pyproject's package-data), the reader's weights aside: they are given below.
    shutil.copytree(PROJECT_ROOT / "qa", site / "qa", ignore=shutil.ignore_patterns("reader", "__pycache__"))
    assert (site / "qa" / "models" / "rarity.json.gz").exists() and not (site / "qa" / "models" / "reader").exists()
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("NEWSQA_INDEX_DIR", None)

    def run(*argv):
        done = subprocess.run([sys.executable, "-m", "qa", *argv], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    probe = run("--help")
    assert all(name in probe.stdout for name in COMMANDS)
    imported = subprocess.run([sys.executable, "-c", "import qa; print(qa.__file__)"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=60).stdout.strip()
    assert Path(imported).parent == site / "qa"  # the copy, not the checkout
    run("build", "--articles", str(articles_dir), "--index-dir", "index", "--quiet")
    assert folder_backend(work / "index").current_version() is not None
    reader = PROJECT_ROOT / "qa" / "models" / "reader"
    run("evaluate", str(FIXTURES / "tiny-squad.json"), "--mode", "reader", "--reader-model", str(reader),
        "--limit", "2")
    report = json.loads((work / "runs" / "eval" / "tiny-squad-reader-2.json").read_text())
    assert report["questions"] == 2 and report["reader_weights_sha256"]


def test_the_newsqa_console_command_is_installed():
    command = Path(sys.executable).parent / "newsqa"
    assert command.exists(), "reinstall the project: pip install -e '.[dev]' (pyproject's [project.scripts])"
    listed = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in COMMANDS)
    assert "usage: newsqa" in listed.stdout
    build_help = subprocess.run([str(command), "build", "--help"], capture_output=True, text=True, timeout=120)
    assert build_help.returncode == 0 and "--articles" in build_help.stdout
