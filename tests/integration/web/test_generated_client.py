"""A client generated from /openapi.json (openapi-python-client) works as the document says: it asks
a question and reads the answer, a 422 and a 404 as typed objects (`Problem`, with the refused field)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = "news_qa_generated_client"


def _generate(document: dict, folder: Path) -> None:
    (folder / "openapi.json").write_text(json.dumps(document))
    (folder / "config.yaml").write_text("post_hooks: []\n")  # no formatting pass: not needed to import it
    generator = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run([str(generator), "generate", "--path", "openapi.json", "--config", "config.yaml",
                           "--meta", "none", "--output-path", PACKAGE, "--fail-on-warning"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr  # a document it reads without a warning


def test_a_generated_client_asks_and_reads_typed_errors(client, tmp_path):
    _generate(client.get("/openapi.json").json(), tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module(PACKAGE)
        ask_post = importlib.import_module(f"{PACKAGE}.api.ask.ask_post")
        get_document = importlib.import_module(f"{PACKAGE}.api.documents.get_document")
        models = importlib.import_module(f"{PACKAGE}.models")

        api = generated.Client(base_url="http://testserver", raise_on_unexpected_status=True)
        api.set_httpx_client(client)  # the test client is an httpx.Client over the app

        answer = ask_post.sync(client=api, body=models.AskRequest(question="Who requested the meeting?"))
        assert isinstance(answer, models.AskResponse) and not answer.no_answer
        assert "United States, Britain and France" in answer.answers[0].text

        refused = ask_post.sync_detailed(client=api, body=models.AskRequest(question="Who?", top_k=11))
        problem = refused.parsed
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert isinstance(problem, models.Problem) and problem.status == 422
        assert problem.title == "Unprocessable Content" and "top_k" in problem.detail
        assert [(e.location.value, e.field) for e in problem.errors] == [("body", "top_k")]

        missing = get_document.sync_detailed(client=api, document_id="no-such-article")
        assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)
        assert missing.parsed.status == 404 and "no-such-article" in missing.parsed.detail
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
