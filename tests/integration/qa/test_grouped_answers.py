"""Answers grouped by story, with the real models: three reports of one storm, two agreeing on
the toll and a later one that gives a higher toll. Through the pipeline, the API, the page and
the command line: agreement counted, disagreement shown, dates newest first."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from qa.cli.ask import print_answers
from qa.index import NewsIndex
from qa.live import LiveIndex
from qa.pipeline import Assistant
from qa.types import Document
from web.app import create_app

STORY = [
    Document(id="storm-first", title="Storm hits Marlow", published="2024-03-01",
             text="A storm hit the coastal town of Marlow on Thursday night. The storm killed 12 people, "
                  "officials said on Friday, and hundreds of homes lost power."),
    Document(id="storm-second", title="Marlow counts the cost", published="2024-03-02",
             text="Residents of Marlow began clearing debris on Saturday. Officials said the storm killed 12 people "
                  "and damaged the harbour wall."),
    Document(id="storm-later", title="Marlow toll rises", published="2024-03-05",
             text="The death toll from the storm in Marlow has risen. Officials said on Tuesday that the storm "
                  "killed 15 people, after three more bodies were found near the harbour."),
    Document(id="budget", title="Council budget", published="2024-02-20",
             text="The council approved its budget for the year. Spending on roads will rise by 4%."),
]
QUESTION = "How many people did the storm in Marlow kill?"


@pytest.fixture(scope="module")
def story_assistant(embedder, reader, tmp_path_factory):
    folder = tmp_path_factory.mktemp("story")
    NewsIndex.build(STORY, embedder, index_dir=folder)
    live = LiveIndex(folder, embedder)
    live.load()
    return Assistant(live, reader, threshold=0.0)  # every answer shown as confident


def test_the_pipeline_groups_agreeing_articles_and_shows_the_other_toll(story_assistant):
    result = story_assistant.ask(QUESTION, top_k=3)
    by_text = {re.sub(r"\D", "", a.text): a for a in result.answers}
    assert set(by_text) >= {"12", "15"}
    twelve, fifteen = by_text["12"], by_text["15"]
    assert twelve.agreeing_articles == 2 and fifteen.agreeing_articles == 1
    assert {twelve.document_id, *(s.document_id for s in twelve.supporting)} == {"storm-first", "storm-second"}
    for support in twelve.supporting:
        text = next(d.text for d in STORY if d.id == support.document_id)
        assert text[support.start:support.end] == support.text
    assert result.several_articles


def test_the_api_carries_the_support_and_the_disagreement(story_assistant, services):
    app = create_app(services=dataclasses.replace(services, assistant=story_assistant,
                                                   live_index=story_assistant.index))
    with TestClient(app) as client:
        body = client.post("/ask", json={"question": QUESTION, "top_k": 3}).json()
    assert body["articles_disagree"] is True
    twelve = next(a for a in body["answers"] if "12" in a["text"])
    assert twelve["agreeing_articles"] == 2
    assert [s["published"] for s in twelve["supporting"]] in (["2024-03-01"], ["2024-03-02"])


def test_the_page_and_the_command_line_show_the_reports_newest_first(story_assistant, services, capsys):
    app = create_app(services=dataclasses.replace(services, assistant=story_assistant,
                                                   live_index=story_assistant.index))
    with TestClient(app) as client:
        page = client.get("/", params={"q": QUESTION}).text
    assert "The articles differ" in page and "2 articles agree" in page
    shown = re.findall(r'<span class="answer-text">([^<]*)</span>', page)
    assert shown.index(next(s for s in shown if "15" in s)) < shown.index(next(s for s in shown if "12" in s))
    print_answers(story_assistant.ask(QUESTION, top_k=3))
    out = capsys.readouterr().out
    assert "The articles differ" in out and "2 articles agree" in out
    assert out.index("storm-later") < out.index("2024-03-0")  # the newest report first


def test_with_the_shipped_threshold_the_later_toll_is_shown_below_the_confident_answer(
        embedder, reader, tmp_path_factory, services, capsys):
    """The disagreement is not hidden behind a confident first answer: "12" (two reports) is confident,
    the later report's "15" comes after it as a less likely answer with its own score, and "12 people"
    (the same answer in more words) is not shown a second time."""
    folder = tmp_path_factory.mktemp("story-shipped")
    NewsIndex.build(STORY, embedder, index_dir=folder)
    live = LiveIndex(folder, embedder)
    live.load()
    assistant = Assistant(live, reader)  # the shipped threshold
    result = assistant.ask(QUESTION, top_k=3)
    first, *rest = result.answers
    assert re.sub(r"\D", "", first.text) == "12" and first.confident and first.agreeing_articles == 2
    fifteen = next(a for a in rest if "15" in a.text)
    assert not fifteen.confident and 0.2 <= fifteen.score < first.score and fifteen.document_id == "storm-later"
    assert [re.sub(r"\D", "", a.text) for a in result.answers].count("12") == 1
    app = create_app(services=dataclasses.replace(services, assistant=assistant, live_index=live))
    with TestClient(app) as client:
        body = client.post("/ask", json={"question": QUESTION}).json()
        page = client.get("/", params={"q": QUESTION}).text
        newer = client.get("/", params={"q": QUESTION, "recent": "true"}).text
    assert "Less likely" not in newer and newer.index("<mark>15</mark>") < newer.index("<mark>12</mark>")  # by date
    assert body["no_answer"] is False and [a["confident"] for a in body["answers"]][:2] == [True, False]
    assert "Less likely, but also found in the archive:" in page
    assert page.index("<mark>15</mark>") > page.index('id="alternatives"') > page.index("2 articles agree")
    print_answers(result)
    out = capsys.readouterr().out
    assert out.index("Less likely") < out.index("15  [") and "not confident" in out
