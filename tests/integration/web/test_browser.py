"""A real browser (Debian Chromium driven by Playwright) asks the sample question,
sees the highlighted answer, follows the citation and finds the cited span.
Screenshots are saved under test-artifacts/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.config import PROJECT_ROOT
from web.app import create_app, serve_in_background

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url(services):
    with serve_in_background(create_app(services=services)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: install the Debian package 'chromium' (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"],
        )
        yield chromium
        chromium.close()


def test_ask_in_the_browser_and_follow_the_citation(browser, server_url):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server_url + "/")
    page.fill("input[name=q]", "Who requested the meeting?")
    page.click("button[type=submit]")
    page.wait_for_selector("ol.answers mark")
    first = page.locator("ol.answers li.answer").first
    assert "United States, Britain and France" in first.locator("mark").inner_text()
    page.screenshot(path=str(ARTIFACTS / "answers.png"), full_page=True)

    first.locator("a.cite").click()
    page.wait_for_selector("mark#cited")
    cited = page.locator("mark#cited")
    assert "United States, Britain and France" in cited.inner_text()
    assert cited.is_visible()
    box = cited.bounding_box()
    assert box is not None and 0 <= box["y"] <= 900  # scrolled into view
    page.screenshot(path=str(ARTIFACTS / "article.png"))
    page.close()


def test_phone_width_layout(browser, server_url):
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(server_url + "/?q=How+many+civilians+are+besieged%3F")
    page.wait_for_selector("ol.answers, #no-answer")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # no horizontal scrolling on a phone
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    page.close()


# The sample article reports the request for the meeting, never who will chair it: the
# reader finds candidates (names of officials), none of them confident.
UNANSWERED = "Who will chair the next meeting?"


def test_hedged_best_guesses_in_the_browser(browser, server_url):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server_url + "/")
    page.fill("input[name=q]", UNANSWERED)
    page.click("button[type=submit]")
    page.wait_for_selector("#no-answer")
    notice = page.locator("#no-answer").inner_text()
    assert "The archive may not answer this. Best guesses:" in notice
    guesses = page.locator("ol#guesses li.answer.guess")
    assert guesses.count() >= 1
    assert "not confident" in guesses.first.locator(".score").inner_text()
    assert guesses.first.locator("mark").inner_text().strip()  # the guess is highlighted in its sentence
    page.screenshot(path=str(ARTIFACTS / "hedged.png"), full_page=True)
    page.close()


SELECT_TEXT = """([wanted, near]) => {
  // Select `wanted` (the occurrence nearest `near`) in the article text, across text nodes, as a mouse would.
  const box = document.querySelector(".article-text");
  const text = box.textContent;
  let at = text.indexOf(wanted), best = at;
  while (at >= 0) { if (Math.abs(at - near) < Math.abs(best - near)) best = at; at = text.indexOf(wanted, at + 1); }
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let seen = 0, node;
  while ((node = walker.nextNode())) {
    const length = node.data.length;
    if (best >= seen && best <= seen + length) range.setStart(node, best - seen);
    if (best + wanted.length >= seen && best + wanted.length <= seen + length) { range.setEnd(node, best + wanted.length - seen); break; }
    seen += length;
  }
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return best;
}"""


def test_mark_an_answer_wrong_and_select_the_right_span(browser, server_url, services, sample_index, tmp_path):
    from qa.feedback import to_squad
    from qa.squad import load_squad
    from tests.conftest import SAMPLE_ID

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server_url + "/")
    page.fill("input[name=q]", "Who requested the meeting?")
    page.click("button[type=submit]")
    page.wait_for_selector("ol.answers mark")
    page.locator("ol.answers li.answer").first.locator("a.wrong").click()
    page.wait_for_selector("form#correction")
    assert "United States, Britain and France" in page.locator("#correct-help mark").inner_text()

    # The right span starts before the cited answer and ends inside it: it crosses the <mark>.
    wanted = "by the United States"
    text = sample_index.document(SAMPLE_ID).text
    start = page.evaluate(SELECT_TEXT, [wanted, text.index("United States, Britain")])
    assert text[start:start + len(wanted)] == wanted  # the page's text is the article's, offset for offset
    page.wait_for_function("document.querySelector('#correction [name=corrected_start]').value !== ''")
    assert page.input_value("#corrected_text") == wanted
    page.screenshot(path=str(ARTIFACTS / "correct.png"))
    page.click("#correction button[type=submit]")
    page.wait_for_selector("#feedback-thanks")
    assert page.locator("mark#cited").inner_text() == wanted  # the corrected span, highlighted
    feedback_id = int(page.url.split("feedback=")[1].split("&")[0].split("#")[0])
    page.close()

    stored = next(f for f in services.feedback.all() if f.id == feedback_id)
    assert (stored.verdict, stored.corrected_start, stored.corrected_text) == ("wrong", start, wanted)
    squad, _ = to_squad(services.feedback.all(), sample_index.document)
    out = tmp_path / "feedback.json"
    out.write_text(json.dumps(squad))
    example = next(e for e in load_squad(out)[1] if e.id == f"feedback-{feedback_id}")
    assert example.question == "Who requested the meeting?" and example.answers == (wanted,)
    assert example.context[example.answer_starts[0]:].startswith(wanted)


@pytest.mark.parametrize("path", ["/", "/?q=Who+requested+the+meeting%3F", "/articles/un-security-council-aleppo"])
def test_pages_load_without_a_console_error(browser, server_url, path):
    """Nothing the browser asks for fails (the icon included) and the console stays clean; the page says
    what it is to a search engine (a description) and has an icon."""
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"script: {error}"))
    page.on("response", lambda reply: reply.status >= 400 and problems.append(f"{reply.status} {reply.url}"))
    page.goto(server_url + path, wait_until="networkidle")
    assert problems == []
    assert page.locator('meta[name="description"]').get_attribute("content").strip()
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(icon).status == 200
    page.close()
