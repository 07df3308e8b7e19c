"""The API keeps the contract its OpenAPI document states, checked by schemathesis in process (ASGI)
against the app over a private copy of the sample index, with every check: every response is
documented (status, content type, headers, body), every request the schema accepts is accepted,
every one it refuses is refused, and no request gets a 5xx.

A bounded run, seeded, for `make test`; `scripts/check_contract.py` runs 500 examples per
operation against a served index (docs/contract.json).
"""

from __future__ import annotations

import shutil
import tomllib

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from qa.config import PROJECT_ROOT, Settings
from qa.live import LiveIndex
from qa.pipeline import Assistant
from tests.conftest import SAMPLE_ARTICLES
from web.app import create_app
from web.deps import Services

CONFIG = PROJECT_ROOT / "scripts" / "schemathesis.toml"
EXAMPLES = 10  # per operation and phase (each /ask runs the models); the script runs 500
SEED = 29


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory, sample_index_dir, embedder, reader):
    """The app over its own copy of the sample index and articles: the run adds articles and feedback."""
    root = tmp_path_factory.mktemp("contract")
    shutil.copytree(sample_index_dir, root / "index")
    shutil.copytree(SAMPLE_ARTICLES, root / "articles")
    live = LiveIndex(root / "index", embedder)
    live.load()
    # A question's own time limit far above any wait on a loaded machine: a slow /ask would be a 503,
    # which `not_a_server_error` counts as a failure of the contract.
    settings = Settings(index_dir=root / "index", articles=[root / "articles"], request_timeout_s=600)
    return create_app(services=Services(settings, embedder, live, reader, Assistant(live, reader)))


def contract_run(app, **config) -> tuple[list[str], set[str], int]:
    """Run schemathesis's engine in process, every phase (examples, coverage, fuzzing, stateful) and
    every check, as `schemathesis run --checks all` does: (failures, checks run, requests made)."""
    configured = tomllib.loads(CONFIG.read_text())
    # No example database (as the file says): only this seed decides what is sent, on every machine.
    generation = {**configured.get("generation", {}), "max-examples": EXAMPLES, "database": "none"}
    settings = {**configured, "seed": SEED, "workers": 1, "generation": generation, **config}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(settings))
    failures, checks, requests = [], set(), 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            requests += len(event.recorder.interactions)
            for nodes in event.recorder.checks.values():
                checks.update(node.name for node in nodes)
                failures += [f"{event.recorder.label}: {n.failure_info.failure.title}: "
                             f"{n.failure_info.failure.message[:300]}\n{n.failure_info.code_sample[:500]}"
                             for n in nodes if n.status == Status.FAILURE and n.failure_info is not None]
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"error: {getattr(event, 'value', None) or event.exception!r}")
    return failures, checks, requests


def test_the_api_keeps_its_contract(contract_app):
    failures, checks, requests = contract_run(contract_app)
    assert not failures, "\n\n".join(failures)
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
            "positive_data_acceptance", "negative_data_rejection", "unsupported_method"} <= checks
    assert requests > 9 * EXAMPLES


def test_every_error_is_a_documented_problem(contract_app):
    """Every 4xx and 5xx of every operation is documented with the one error body, as problem+json."""
    document = contract_app.openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
            assert {"400", "413", "500"} <= set(errors), (method, path)
            for status, response in errors.items():
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
