"""`newsqa build` (qa.cli.build, also scripts/build_index.py): summary on success; a malformed article
names its file and line, exits 1 and leaves the served index untouched."""

import subprocess
import sys

from qa.cli import build as build_index
from qa.config import PROJECT_ROOT
from qa.index import NewsIndex
from qa.stores import folder_backend


def test_the_script_is_an_entry_point_to_the_same_command():
    from scripts import build_index as script

    assert script.main is build_index.main
    shown = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "build_index.py"), "--help"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "--if-needed" in shown.stdout


def test_build_then_reject_a_malformed_article(tmp_path, articles_dir, capsys):
    index_dir = tmp_path / "index"
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 documents, 11 chunks (1 added, 0 changed, 0 removed, 0 unchanged; 11 chunks embedded)" in out
    served = folder_backend(index_dir).current_version()

    (articles_dir / "feed.jsonl").write_text('{"id": "a", "title": "A", "text": "Fine."}\n{"id": "b", "title": \n')
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "feed.jsonl:2: invalid JSON" in err and "The index was not changed." in err
    assert folder_backend(index_dir).current_version() == served


def test_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert build_index.main(["--articles", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "ix")]) == 1
    assert "no articles found" in capsys.readouterr().err


def test_sync_add_and_delete(tmp_path, articles_dir, capsys, embedder):
    """A sync removes what is gone and replaces what changed; --add touches only its files;
    --delete removes by id; an unchanged archive writes nothing."""
    index_dir = tmp_path / "index"
    (articles_dir / "flood.md").write_text("# Flood\n\nThe river Exe flooded Exeter on Monday.")
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert "2 documents" in capsys.readouterr().out
    first = folder_backend(index_dir).current_version()
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert "is up to date" in capsys.readouterr().out and folder_backend(index_dir).current_version() == first

    (articles_dir / "flood.md").write_text("# Flood\n\nThe river Exe flooded Exeter on Tuesday.")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "storm.md").write_text("# Storm\n\nA storm closed the port of Dover.")
    assert build_index.main(["--add", str(outside / "storm.md"), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert "(1 added, 0 changed, 0 removed, 2 unchanged; 1 chunks embedded)" in capsys.readouterr().out
    index = NewsIndex.open(folder_backend(index_dir), embedder)
    assert index.document("storm") is not None and "Monday" in index.document("flood").text  # --add only

    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    assert "(0 added, 1 changed, 1 removed, 1 unchanged; 1 chunks embedded)" in capsys.readouterr().out
    index = NewsIndex.open(folder_backend(index_dir), embedder)
    assert index.document("storm") is None and "Tuesday" in index.document("flood").text

    assert build_index.main(["--delete", "flood", "no-such-id", "--index-dir", str(index_dir), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "1 removed" in captured.out and "1 of the ids given are not in the index" in captured.err
    index = NewsIndex.open(folder_backend(index_dir), embedder)
    assert index.document("flood") is None and index.stats().documents == 1
    assert all(p.document_id != "flood" for p in index.search("Which river flooded Exeter?", k=20))
