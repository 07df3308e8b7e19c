"""scripts/build_index.py: summary on success; a malformed article names its file and line,
exits 1 and leaves the served index untouched."""

from qa.index import NewsIndex
from scripts import build_index


def test_build_then_reject_a_malformed_article(tmp_path, articles_dir, capsys):
    index_dir = tmp_path / "index"
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Indexed 1 documents into" in out and "chunks" in out
    served = NewsIndex.current_version(index_dir)

    (articles_dir / "feed.jsonl").write_text('{"id": "a", "title": "A", "text": "Fine."}\n{"id": "b", "title": \n')
    assert build_index.main(["--articles", str(articles_dir), "--index-dir", str(index_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "feed.jsonl:2: invalid JSON" in err and "The index was not changed." in err
    assert NewsIndex.current_version(index_dir) == served


def test_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert build_index.main(["--articles", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "ix")]) == 1
    assert "no articles found" in capsys.readouterr().err
