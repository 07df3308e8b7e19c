"""How a failed write is told apart (a full disk in each library's words, or another I/O error),
and how NEWSQA_ARTICLES is read from the environment."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from qa.config import Settings
from qa.stores.base import DiskFullError, IndexWriteError, write_failure


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    sqlite3.OperationalError("database or disk is full"),
    RuntimeError("Error in faiss::FileIOWriter: fwrite failed: No space left on device"),
])
def test_a_full_disk_is_recognised_in_each_librarys_words(error, tmp_path):
    failure = write_failure(error, tmp_path)
    assert isinstance(failure, DiskFullError)
    assert str(failure).startswith("the index could not be written: no space left on the disk that holds it; ")
    assert "MB free" in str(failure) and str(tmp_path) not in str(failure)  # no server path for clients


@pytest.mark.parametrize("error,reason", [
    (OSError(errno.EIO, "Input/output error"), "(Input/output error)"),
    (sqlite3.OperationalError("database is locked"), "(OperationalError: database is locked)"),
])
def test_other_write_errors_are_not_called_a_full_disk(error, reason):
    failure = write_failure(error, what="the article")
    assert type(failure) is IndexWriteError
    assert str(failure) == f"the article could not be written {reason}"


@pytest.mark.parametrize("value,expected", [
    ("/data/news", [Path("/data/news")]),
    ("/data/news:/data/wire", [Path("/data/news"), Path("/data/wire")]),
    ('["/data/news", "/data/wire"]', [Path("/data/news"), Path("/data/wire")]),
])
def test_article_folders_from_the_environment(value, expected, monkeypatch):
    monkeypatch.setenv("NEWSQA_ARTICLES", value)
    assert Settings().articles == expected


def test_a_broken_json_list_of_folders_says_how_to_write_it(monkeypatch):
    monkeypatch.setenv("NEWSQA_ARTICLES", '["/data/news"')
    with pytest.raises(ValueError, match="not a valid JSON list .* give paths separated by ':' or a JSON list"):
        Settings()
