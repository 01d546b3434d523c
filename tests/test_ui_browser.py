"""End to end in a real headless browser: Debian's chromium driven by Playwright, against the app serving
the real assistant (rules planner, no language-model paragraph, so the answer is deterministic).

A screenshot of each test's final page is saved under ``test-artifacts/`` (override with
``CARDIOAGENT_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.loaders import load_files
from cardioagent.ui.app import launch
from cardioagent.ui.settings import UISettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
ARTIFACTS = Path(os.environ.get("CARDIOAGENT_TEST_ARTIFACTS", REPO / "test-artifacts"))
HEART_RATE_LINE = re.compile(
    r"Heart rate[^\n]*?(\d+(?:\.\d+)?)\s*(?:±\s*\d+(?:\.\d+)?\s*)?bpm", re.IGNORECASE
)
ANSWER_TIMEOUT_MS = 240_000  # the first question may build the knowledge store


@pytest.fixture(scope="module")
def server(shared_home, tmp_path_factory):
    settings = UISettings(
        home=shared_home,
        work_dir=tmp_path_factory.mktemp("ui-work"),
        llm_summary=False,
        auth=[],
        warm_up=False,
    ).model_copy(update={"port": None})
    demo = launch(settings, prevent_thread_lock=True, quiet=True)
    demo.cardio.pool.get(None).warm_up()
    yield demo
    demo.close()


@pytest.fixture()
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.goto(server.local_url)
    pg.wait_for_selector("#chat-input textarea")
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"ui_browser_{request.node.name}.png"), full_page=True)
    context.close()


def _chat_text(page) -> str:
    return page.locator("#chat").inner_text()


def _send(page, text: str, files: list[Path] = ()) -> None:
    if files:
        page.locator("#chat-input input[type=file]").set_input_files([str(f) for f in files])
    page.locator("#chat-input textarea").fill(text)
    page.locator("#chat-input textarea").press("Enter")


def test_upload_ask_heart_rate_see_number_and_figure(page):
    record = [DATA / "E07500.hea", DATA / "E07500.mat"]
    page.locator("#chat-input input[type=file]").set_input_files([str(f) for f in record])
    # the recording is summarised as soon as it is uploaded, before any question
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('12-lead ECG, 10.0 s at 500 Hz')",
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert re.search(r"signal quality: (good|acceptable|poor|unusable)", _chat_text(page))
    _send(page, "What is the heart rate?")
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('not a medical device') && "
        "document.querySelectorAll('#chat img').length > 0",
        timeout=ANSWER_TIMEOUT_MS,
    )
    text = _chat_text(page)
    match = HEART_RATE_LINE.search(text)
    assert match, f"no heart rate with a number in the answer:\n{text[-1500:]}"
    assert 20 <= float(match.group(1)) <= 250
    # the figure is an image the browser actually loaded (not a broken link)
    widths = page.eval_on_selector_all("#chat img", "imgs => imgs.map(i => i.naturalWidth)")
    assert max(widths) > 100
    # the tool step is a collapsible step with its title
    assert page.locator("#chat", has_text="Heart rate").count() == 1
    assert "Not a medical device" in page.locator("#medical-notice").inner_text()
    # the conversation is listed once the turn is saved
    page.wait_for_function(
        "document.querySelector('#threads').innerText.includes('What is the heart rate?')", timeout=30_000
    )
    page.locator("#chat img").first.scroll_into_view_if_needed()  # the screenshot shows the figure


def test_malformed_upload_shows_loader_error_then_session_goes_on(page):
    bad = DATA / "malformed" / "not_really.edf"
    with pytest.raises(InputError) as loader_error:
        load_files([bad])
    page.locator("#chat-input input[type=file]").set_input_files([str(bad)])
    message = str(loader_error.value).replace(str(bad.parent) + "/", "")
    page.wait_for_function(
        f"document.querySelector('#chat').innerText.includes({message[:60]!r})", timeout=ANSWER_TIMEOUT_MS
    )
    assert message in _chat_text(page)
    _send(page, "What is the heart rate?", [DATA / "E07500.hea", DATA / "E07500.mat"])
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('not a medical device') && "
        "document.querySelectorAll('#chat img').length > 0",
        timeout=ANSWER_TIMEOUT_MS,
    )
    text = _chat_text(page)
    assert message in text  # the error stays in the conversation, above the answer that followed it
    assert text.index(message) < text.index("Findings")
    assert HEART_RATE_LINE.search(text[text.index("Findings") :])


def test_a_phone_photo_of_a_printed_ecg_shows_the_page_the_strip_and_the_answer(page):
    """Issue 16: a real phone photo (Paper2Pulse, MIT; PTB-XL record 1442, CC BY 4.0) dropped into the chat
    shows the straightened page, the digitized leads, a download of the signal and a measured answer."""
    _send(page, "What is the heart rate on this ECG photo?", [DATA / "photos" / "01442_hr-0.jpg"])
    page.wait_for_function(
        "document.querySelector('#chat').innerText.includes('not a medical device') && "
        "document.querySelectorAll('#chat img').length >= 2",
        timeout=ANSWER_TIMEOUT_MS,
    )
    text = _chat_text(page)
    assert "ECG image, digitized" in text, text[-2000:]
    assert "digitized from the image" in text
    bpm = re.search(r"heart rate:?\s*(\d+(?:\.\d+)?)[^\n]*bpm[^\n]*\(digitized\)", text, re.IGNORECASE)
    assert bpm and 60 <= float(bpm.group(1)) <= 90, text[-2000:]
    # the page and the digitized strip are images the browser loaded
    widths = page.eval_on_selector_all("#chat img", "imgs => imgs.map(i => i.naturalWidth)")
    assert sum(w > 300 for w in widths) >= 2
    # the digitized signal is offered as a file to download
    hrefs = page.eval_on_selector_all("#chat a", "links => links.map(a => a.getAttribute('href') || '')")
    assert any(h.endswith("-digitized.csv") for h in hrefs), hrefs
    page.locator("#chat img").last.scroll_into_view_if_needed()
