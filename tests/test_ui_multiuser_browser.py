"""Two users of one shared server, in a real headless browser (Debian's chromium driven by Playwright).

The app is started as ``cardioagent ui`` would be on a LAN, with ``CARDIOAGENT_AUTH=alice:pw1,bob:pw2``, on
127.0.0.1 and a free port, serving the real assistant. Alice logs in, uploads a recording, asks for the heart
rate and exports the conversation; every file URL her page shows or fetched (her upload, the figures, the
report) is collected. Bob, logged in from his own browser context, must not see her conversation, must not
be served any of her files, and cannot load her conversation by id; a visitor who never logged in gets the
login page and no file either.

A screenshot of each user's final page is saved under ``test-artifacts/`` (``CARDIOAGENT_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import unquote

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from cardioagent.ui.app import SessionState, launch
from cardioagent.ui.settings import UISettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
RECORD = [DATA / "E07500.hea", DATA / "E07500.mat"]
ARTIFACTS = Path(os.environ.get("CARDIOAGENT_TEST_ARTIFACTS", REPO / "test-artifacts"))
USERS = {"alice": "pw1", "bob": "pw2"}
ANSWER_TIMEOUT_MS = 300_000  # the first question may build the knowledge store (two shared cores)
FILE_URL = re.compile(r"/gradio_api/file(?:=|/)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(shared_home, tmp_path_factory):
    """The real app with two logins, configured the way an operator does it: through the environment."""
    saved = {k: os.environ.get(k) for k in ("CARDIOAGENT_AUTH", "GRADIO_TEMP_DIR")}
    os.environ["CARDIOAGENT_AUTH"] = ",".join(f"{u}:{p}" for u, p in USERS.items())
    os.environ["GRADIO_TEMP_DIR"] = str(
        tmp_path_factory.mktemp("gradio")
    )  # Gradio's cache, for this module only
    settings = UISettings(
        home=shared_home,
        work_dir=tmp_path_factory.mktemp("ui-work"),
        llm_summary=False,
        warm_up=False,
        host="127.0.0.1",
        port=_free_port(),
    )
    assert settings.auth == list(USERS.items())
    demo = launch(settings, prevent_thread_lock=True, quiet=True)
    demo.cardio.pool.get(None).warm_up()
    yield demo
    demo.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui_multiuser_{name}.png"), full_page=True)


def _login_form(page):
    password = page.locator("input[type=password]")
    password.wait_for(timeout=60_000)
    return page.locator("input:not([type=password]):not([type=hidden])").first, password


def _log_in(page, url: str, user: str) -> None:
    page.goto(url)
    name, password = _login_form(page)
    name.fill(user)
    password.fill(USERS[user])
    password.press("Enter")
    page.wait_for_selector("#chat-input textarea", timeout=60_000)


def _file_urls_in(page) -> set[str]:
    """Every file URL the page refers to: images, links, media sources."""
    found = page.eval_on_selector_all(
        "[src], [href]", "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"
    )
    return {u for u in found if u and FILE_URL.search(u)}


def _absolute(base: str, url: str) -> str:
    if url.startswith("http"):
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


def _path_of(url: str) -> str:
    return unquote(FILE_URL.split(url, maxsplit=1)[1])


def _leak(who: str, url: str, response) -> str | None:
    """A description of the response if the file was served (any status below 400), else None."""
    if response.status < 400:
        return f"{who} was served {url}: HTTP {response.status}, {len(response.body())} bytes"
    return None


def test_two_users_cannot_reach_each_others_conversations_uploads_or_figures(browser, server):
    base = server.local_url
    assert base.startswith("http://127.0.0.1:")

    # -- an unauthenticated visitor gets the login page, not the app ------------------------------------
    visitor = browser.new_context(viewport={"width": 1200, "height": 900})
    vpage = visitor.new_page()
    vpage.goto(base)
    _login_form(vpage)
    assert vpage.locator("#chat-input").count() == 0
    _screenshot(vpage, "login_page")

    # -- alice: upload, ask, export; collect every file URL ---------------------------------------------
    alice_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    alice = alice_ctx.new_page()
    uploaded_paths: list[str] = []
    fetched: set[str] = set()

    def on_response(response):
        if response.request.method == "POST" and response.url.split("?")[0].endswith("/gradio_api/upload"):
            uploaded_paths.extend(json.loads(response.body()))
        elif FILE_URL.search(response.url):
            fetched.add(response.url)

    alice.on("response", on_response)
    _log_in(alice, base, "alice")
    alice.locator("#chat-input input[type=file]").set_input_files([str(f) for f in RECORD])
    alice.wait_for_function(
        "document.querySelector('#chat').innerText.includes('12-lead ECG, 10.0 s at 500 Hz')",
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert len(uploaded_paths) == 2, uploaded_paths
    upload_urls = {f"{base}gradio_api/file={p}" for p in uploaded_paths}
    # Between upload and question, Gradio's copy of the upload exists: bob must not get it.
    bob_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    bob = bob_ctx.new_page()
    _log_in(bob, base, "bob")
    leaked = []
    for url in sorted(upload_urls):
        assert alice_ctx.request.get(url).status == 200, f"alice cannot fetch her own upload {url}"
        leaked += [
            _leak("bob (before the question)", url, bob_ctx.request.get(url)),
            _leak("a visitor (before the question)", url, visitor.request.get(url)),
        ]

    alice.locator("#chat-input textarea").fill("What is the heart rate?")
    alice.locator("#chat-input textarea").press("Enter")
    alice.wait_for_function(
        "document.querySelector('#chat').innerText.includes('not a medical device') && "
        "document.querySelectorAll('#chat img').length > 0",
        timeout=ANSWER_TIMEOUT_MS,
    )
    alice.wait_for_function(
        "document.querySelector('#threads').innerText.includes('What is the heart rate?')", timeout=60_000
    )
    widths = alice.eval_on_selector_all("#chat img", "imgs => imgs.map(i => i.naturalWidth)")
    assert max(widths) > 100  # alice's own figure loads
    alice.get_by_text("Export", exact=True).click()
    alice.get_by_role("button", name="Export this conversation").click()
    alice.wait_for_function(
        "[...document.querySelectorAll('a[href]')].some(a => a.href.includes('file=') && a.href.endsWith('.html'))",
        timeout=120_000,
    )
    _screenshot(alice, "alice")

    figure_urls = {_absolute(base, u) for u in _file_urls_in(alice)}
    figure_urls |= {u for u in fetched if not any(p in unquote(u) for p in uploaded_paths)}
    assert any(re.search(r"\.png$", _path_of(u)) for u in figure_urls), figure_urls
    assert any(_path_of(u).endswith(".html") for u in figure_urls), figure_urls  # the exported report
    for url in sorted(figure_urls):
        response = alice_ctx.request.get(url)
        assert response.status == 200, f"alice cannot fetch her own file {url}: HTTP {response.status}"

    thread_ids = [t for t, owner in server.cardio.store.owners().items() if owner == "alice"]
    assert len(thread_ids) == 1, server.cardio.store.owners()
    alice_thread = thread_ids[0]

    # -- bob: his own list, none of alice's files, not her conversation -----------------------------------
    bob.reload()
    bob.wait_for_selector("#chat-input textarea", timeout=60_000)
    bob.wait_for_timeout(1500)  # the page's load event fills the conversation list
    assert "What is the heart rate?" not in bob.locator("#threads").inner_text()
    assert "heart rate" not in bob.locator("#chat").inner_text().lower()
    assert [v for _, v in server.cardio.thread_choices("bob")] == []
    for url in sorted(figure_urls | upload_urls):
        leaked.append(_leak("bob", url, bob_ctx.request.get(url)))
        leaked.append(_leak("a visitor", url, visitor.request.get(url)))
    leaked = [leak for leak in leaked if leak]
    assert not leaked, "alice's files were served to others:\n" + "\n".join(leaked)
    # bob's browser, given the URL of alice's figure in an <img>, shows nothing
    figure = next(u for u in sorted(figure_urls) if _path_of(u).endswith(".png"))
    width = bob.evaluate(
        """url => new Promise(done => { const i = new Image();
        i.onload = () => done(i.naturalWidth); i.onerror = () => done(0); i.src = url; })""",
        figure,
    )
    assert width == 0
    _screenshot(bob, "bob")

    # -- bob cannot load alice's conversation by id through the named endpoint ----------------------------
    from gradio_client import Client

    client = Client(base, auth=("bob", USERS["bob"]), verbose=False)
    try:
        result = client.predict(alice_thread, api_name="/load_conversation")
    except Exception as exc:  # noqa: BLE001  refused by the app or by Gradio's choice check: either is a refusal
        result = str(exc)
    assert "heart rate" not in str(result).lower() and "E07500" not in str(result), str(result)[:2000]
    # and the handler itself refuses bob, whatever Gradio's input check lets through
    state = server.cardio.load_conversation(alice_thread, SessionState(), _Request("bob"))[1]
    assert state.thread_id is None and not state.messages

    for ctx in (visitor, alice_ctx, bob_ctx):
        ctx.close()


class _Request:
    """What the handlers read from ``gr.Request``: a logged-in user on their own session."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.session_hash = f"direct-{username}"
