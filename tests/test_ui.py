"""The Gradio app: handlers (with a scripted assistant, to check the wiring exactly) and the named API
endpoint driven by ``gradio_client`` (with the scripted assistant and with the real one).

The scripted assistant loads uploads with the real loaders, so malformed files fail with the loaders' own
messages; only the analysis is scripted, so that what each handler shows can be checked to the character.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import pytest
from PIL import Image

from cardioagent.agent.api import AgentEvent, Answer, ThreadInfo
from cardioagent.agent.compose import Citation
from cardioagent.agent.grounding import GroundingReport
from cardioagent.agent.safety import check_emergency
from cardioagent.agent.state import ToolCallRecord
from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.loaders import load_files
from cardioagent.ui.app import (
    CardioApp,
    SessionState,
    backend_string,
    build_app,
    launch,
    launch_kwargs,
    parse_demographics,
)
from cardioagent.ui.auth import parse_auth
from cardioagent.ui.chat_events import TurnRenderer
from cardioagent.ui.knowledge_panel import link_citations, render_panel, unlink_citations
from cardioagent.ui.report_export import export_html, export_markdown_zip
from cardioagent.ui.settings import UISettings

DATA = Path(__file__).resolve().parent / "data"
E07500 = [str(DATA / "E07500.hea"), str(DATA / "E07500.mat")]


class Request:
    """What the handlers read from ``gr.Request``."""

    def __init__(self, session_hash: str = "sess-a", username: str | None = None) -> None:
        self.session_hash = session_hash
        self.username = username


class ScriptedAssistant:
    """Real uploads, scripted analysis: one heart-rate step with a figure, then a cited answer whose rate
    is derived from the recording's length so that different records give different numbers."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.threads_seen: dict[str, list[dict]] = {}
        self.asked: list[dict] = []

    def upload(self, paths):
        return load_files([Path(p) for p in paths])

    def stream(self, question, attachments=(), thread_id=None, demographics=None):
        self.asked.append(
            {"question": question, "attachments": list(attachments), "demographics": demographics}
        )
        recs = self.upload(attachments) if attachments else []
        if recs:
            yield AgentEvent(
                kind="recordings", data={"recordings": [r.summary().model_dump(mode="json") for r in recs]}
            )
        trace = []
        if recs:
            rate = round(60 + (recs[0].duration_s or 0), 1)
            yield AgentEvent(
                kind="tool_started",
                tool="heart_rate",
                data={"tool": "heart_rate", "args": {"recording_id": recs[0].id}, "reason": "asked"},
            )
            fig = self.home / "threads" / thread_id / "figures" / "peaks.png"
            fig.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (40, 20), "white").save(fig)
            rec = ToolCallRecord(
                tool="heart_rate",
                args={"recording_id": recs[0].id},
                reason="asked",
                ok=True,
                seconds=0.25,
                summary=f"heart rate: {rate} bpm",
                quality="good",
                figures=[str(fig)],
            )
            trace.append(rec)
            yield AgentEvent(kind="tool_finished", tool="heart_rate", data=rec.model_dump(mode="json"))
            text = (
                f"**Findings**\n- **Heart rate**: {rate} bpm\n\n"
                "**Sources**\n[1] Sinus rhythm — knowledge entry `sinus_rhythm`"
            )
            cites = [Citation(n=1, entry_id="sinus_rhythm", name="Sinus rhythm", sources=["a textbook"])]
        else:
            text, cites = "No recording is attached.", []
        emergency = check_emergency(question)
        if emergency.emergency:
            text = "**Seek emergency care.**\n\n" + text
        history = self.threads_seen.setdefault(thread_id, [])
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
        answer = Answer(
            thread_id=thread_id,
            question=question,
            text=text,
            citations=cites,
            trace=trace,
            figures=[f for r in trace for f in r.figures],
            timings={},
            grounding=GroundingReport(checked_numbers=0, grounded_numbers=0, removed=[]),
            emergency=emergency,
            route="signal",
        )
        yield AgentEvent(kind="answer", answer=answer)

    def threads(self):
        return [
            ThreadInfo(thread_id=t, title=h[0]["content"][:60], turns=len(h) // 2)
            for t, h in reversed(list(self.threads_seen.items()))
        ]

    def history(self, thread_id):
        return list(self.threads_seen.get(thread_id, []))

    def warm_up(self):
        return 0.0

    def recording_quality(self, rec):
        return None  # scripted: the card shows no quality unless a test sets one


@pytest.fixture()
def ui_settings(tmp_path) -> UISettings:
    return UISettings(home=tmp_path / "home", work_dir=tmp_path / "work", auth=[], warm_up=False, port=0)


@pytest.fixture()
def scripted(ui_settings) -> ScriptedAssistant:
    return ScriptedAssistant(ui_settings.home)


@pytest.fixture()
def app(ui_settings, scripted) -> CardioApp:
    return CardioApp(ui_settings, lambda backend: scripted)


def run_turn(
    app: CardioApp,
    state: SessionState,
    text: str,
    files=(),
    request=None,
    demographics=(None, "not given", None, None),
):
    frames = list(app.chat({"text": text, "files": list(files)}, *demographics, state, request or Request()))
    return frames


def texts(messages) -> list[str]:
    return [m["content"] for m in messages if isinstance(m["content"], str)]


# -- one turn ---------------------------------------------------------------------------------------------
def test_turn_shows_steps_figures_answer_and_citations(app, ui_settings):
    state = SessionState()
    frames = run_turn(app, state, "What is the heart rate?", E07500)
    chat, box, _state, panel, threads, banner, stored = frames[-1]

    # the first frame already shows the question, before any analysis result
    assert frames[0][0][0]["role"] == "user" and frames[0][0][0]["content"].startswith(
        "What is the heart rate?"
    )
    assert "E07500.hea" in frames[0][0][0]["content"]
    # a frame in between shows the step still running
    assert any(m.get("metadata", {}).get("status") == "pending" for f in frames[:-1] for m in f[0])

    steps = [m for m in chat if m.get("metadata", {}).get("title")]
    assert len(steps) == 1
    meta = steps[0]["metadata"]
    assert meta["title"].endswith("Heart rate") and meta["status"] == "done" and meta["duration"] == 0.25
    assert meta["log"] == "quality: good"
    assert "heart rate: 70.0 bpm" in steps[0]["content"]  # E07500 lasts 10 s: the script says 60 + 10

    received = next(t for t in texts(chat) if t.startswith("📎 Received"))
    assert "E07500" in received and "12-lead ECG, 10.0 s at 500 Hz" in received

    figures = [m["content"] for m in chat if isinstance(m["content"], dict)]
    assert len(figures) == 1
    served = Path(figures[0]["path"])
    assert served.is_file() and str(served).startswith(str(ui_settings.work_dir / "figures" / "sess-a"))
    # the transcript keeps the agent's own path; the chat gets a per-session copy
    kept = [m["content"]["path"] for m in state.messages if isinstance(m["content"], dict)]
    assert kept and kept[0].startswith(str(ui_settings.home / "threads"))

    answer = texts(chat)[-1]
    assert "[knowledge entry sinus_rhythm](#kb-sinus_rhythm)" in answer
    assert "id='kb-sinus_rhythm'" in panel
    assert stored == state.thread_id and threads.value == state.thread_id
    assert banner.visible is False
    assert box.interactive is True and box.value == {"text": "", "files": []} or box.value in (None, {})


def test_uploads_are_copied_per_session_and_gradio_copy_removed(app, ui_settings, tmp_path, monkeypatch):
    gradio_dir = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_dir))
    cached = []
    for src in E07500:
        dest = gradio_dir / "abc123" / Path(src).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(src).read_bytes())
        cached.append(str(dest))
    state = SessionState()
    chat, _, _box = app.on_box_change({"text": "", "files": cached}, state, Request("sess-a"))
    assert any("signal quality" in t or "📎 Received" in t for t in texts(chat))
    assert all(Path(p).is_file() for p in cached), "still in the message box: not deleted yet"
    private = list(state.uploads.values())
    assert all(p.startswith(str(ui_settings.work_dir / "uploads" / "sess-a")) for p in private)

    run_turn(app, state, "heart rate?", cached, Request("sess-a"))
    assert not any(Path(p).exists() for p in cached), "Gradio's served copy must be gone once sent"
    assert app.pool.get(None).asked[-1]["attachments"] == private
    # the summary shown at upload is not repeated when the question is sent
    assert sum(t.startswith("📎 Received") for t in texts(state.messages)) == 1

    app.end_session(Request("sess-a"))
    assert not (ui_settings.work_dir / "uploads" / "sess-a").exists()


def test_several_formats_at_once_are_summarised_on_upload(app, tmp_path):
    zipped = tmp_path / "E07500.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for f in E07500:
            zf.write(f, Path(f).name)
    files = [
        str(zipped),
        str(DATA / "synthetic_ecg_ppg.edf"),
        str(DATA / "synthetic_ppg_accel.csv"),
        str(DATA / "synthetic_12lead.npz"),
    ]
    chat, state, _box = app.on_box_change({"text": "", "files": files}, SessionState(), Request())
    summary = texts(chat)[-1]
    assert summary.startswith("📎 Received")
    for name in ("E07500", "synthetic_ecg_ppg", "synthetic_ppg_accel", "synthetic_12lead"):
        assert f"**{name}**" in summary
    assert "12-lead ECG, 10.0 s at 500 Hz" in summary and "(EDF)" in summary and "(CSV)" in summary
    assert len(state.summarised) == 4


def test_upload_summary_includes_quality_when_the_tool_exists(app):
    """The card shows what ``Assistant.recording_quality`` says (that method runs the real tool: see
    tests/test_agent_public_api.py)."""
    assistant = app.pool.get(None)
    seen = []
    assistant.recording_quality = lambda rec: seen.append(rec.name) or "acceptable"
    chat, _state, _box = app.on_box_change({"text": "", "files": E07500}, SessionState(), Request())
    assert "signal quality: **acceptable**" in texts(chat)[-1] and seen == ["E07500"]
    assert "leads I, II, III, aVR" in texts(chat)[-1] and "age 78" in texts(chat)[-1]


@pytest.mark.parametrize(
    "files, expected",
    [
        (["malformed/truncated.hea", "malformed/truncated.dat"], "truncated"),
        (["malformed/not_really.edf"], "not_really.edf"),
        (["malformed/notes.txt"], "notes.txt"),
    ],
)
def test_malformed_upload_shows_the_loaders_message_and_the_session_goes_on(app, files, expected):
    paths = [str(DATA / f) for f in files]
    with pytest.raises(InputError) as loader_error:
        load_files([Path(p) for p in paths])
    # the loader's own message, with the server's folders cut from the file names
    message = str(loader_error.value).replace(str(DATA / "malformed") + "/", "")
    state = SessionState()
    chat, state, box = app.on_box_change({"text": "rate?", "files": paths}, state, Request())
    assert message in texts(chat)[-1] and expected in texts(chat)[-1]
    assert "/tmp" not in texts(chat)[-1] and str(DATA) not in texts(chat)[-1]
    assert box.value == {"text": "rate?", "files": []}  # the bad files are taken out of the message

    frames = run_turn(app, state, "What is the heart rate?", paths)
    chat = frames[-1][0]
    assert message in texts(chat)[-1]
    assert frames[-1][1].interactive is True  # the box is usable again

    chat = run_turn(app, state, "And this one?", E07500)[-1][0]
    assert "70.0 bpm" in texts(chat)[-1]


def test_header_first_then_data_file(app):
    """A .hea dropped on its own stays in the box (its data file may come next); adding it completes it."""
    state = SessionState()
    chat, state, box = app.on_box_change({"text": "", "files": [E07500[0]]}, state, Request())
    assert "E07500.mat, which was not uploaded" in texts(chat)[-1] and "Add the data file" in texts(chat)[-1]
    assert box is not None and not isinstance(box, gr.MultimodalTextbox)  # gr.skip(): the .hea stays
    chat, state, _box = app.on_box_change({"text": "", "files": E07500}, state, Request())
    assert texts(chat)[-1].startswith("📎 Received") and "E07500" in texts(chat)[-1]


def test_demographics_reach_the_agent_and_bad_values_are_reported(app):
    state = SessionState()
    run_turn(app, state, "heart rate?", E07500, demographics=(44, "female", 170, 65))
    assert app.pool.get(None).asked[-1]["demographics"] == {
        "age": 44.0,
        "sex": "female",
        "height_cm": 170.0,
        "weight_kg": 65.0,
    }
    chat = run_turn(app, state, "heart rate?", E07500, demographics=(300, "not given", None, None))[-1][0]
    assert "age: 300 is out of range" in texts(chat)[-1]
    assert parse_demographics(None, "not given", "", None) == {}


def test_emergency_answer_is_shown_prominently(app):
    state = SessionState()
    final = run_turn(app, state, "I have crushing chest pain, what is my heart rate?", E07500)[-1]
    banner = final[5]
    assert banner.visible is True and "emergency" in banner.value.lower()
    assert texts(final[0])[-1].startswith("🚨")
    final = run_turn(app, state, "And the rhythm?")[-1]
    assert final[5].visible is False


# -- conversations --------------------------------------------------------------------------------------
def test_conversation_survives_a_restart(app, ui_settings, scripted):
    state = SessionState()
    run_turn(app, state, "What is the heart rate?", E07500)
    thread = state.thread_id

    restarted = CardioApp(ui_settings, lambda backend: scripted)  # same store, new process state
    owner_choices = restarted.thread_choices("local")
    assert [v for _, v in owner_choices] == [thread]
    assert owner_choices[0][0].startswith("What is the heart rate?")

    chat, loaded, panel, _threads, _banner, stored = restarted.restore(
        thread, SessionState(), Request("sess-b")
    )
    assert stored == thread and loaded.thread_id == thread
    assert [m["role"] for m in chat] == [m["role"] for m in state.messages]
    fig = next(m["content"]["path"] for m in chat if isinstance(m["content"], dict))
    assert "/figures/sess-b/" in fig and Path(fig).is_file()
    assert "kb-sinus_rhythm" in panel

    # a follow-up continues the same thread
    run_turn(restarted, loaded, "And is it regular?", request=Request("sess-b"))
    assert loaded.thread_id == thread and len(scripted.history(thread)) == 4

    chat, fresh, *_ = restarted.new_conversation(loaded, Request("sess-b"))
    assert chat == [] and fresh.thread_id is None


def test_with_login_users_see_only_their_own_conversations(app):
    alice, bob = SessionState(), SessionState()
    run_turn(app, alice, "alice asks", E07500, Request("s1", "alice"))
    run_turn(app, bob, "bob asks", E07500, Request("s2", "bob"))
    assert [v for _, v in app.thread_choices("alice")] == [alice.thread_id]
    assert [v for _, v in app.thread_choices("bob")] == [bob.thread_id]
    chat, state, *_ = app.load_conversation(alice.thread_id, SessionState(), Request("s2", "bob"))
    assert state.thread_id is None and chat is not None and not isinstance(chat, list)  # refused: gr.skip()


def test_cli_conversations_open_with_their_history(app, scripted):
    scripted.threads_seen["cli123"] = [
        {"role": "user", "content": "from the terminal"},
        {"role": "assistant", "content": "an answer"},
    ]
    chat, *_ = app.load_conversation("cli123", SessionState(), Request())
    assert texts(chat) == ["from the terminal", "an answer"]


# -- settings, auth, export -----------------------------------------------------------------------------
def test_auth_parsing():
    assert parse_auth(None) == [] and parse_auth(" ") == []
    assert parse_auth("alice:s3cret,bob:pa:ss") == [("alice", "s3cret"), ("bob", "pa:ss")]
    with pytest.raises(InputError, match="not user:password"):
        parse_auth("alice")


def test_backend_choice_is_validated(app):
    assert backend_string("embedded", "", "", "") is None
    assert (
        backend_string("OpenAI-compatible URL", "", "http://127.0.0.1:8000/v1", "m")
        == "openai:http://127.0.0.1:8000/v1#m"
    )
    status, state = app.set_backend("OpenAI-compatible URL", "", "ftp://nope", "", SessionState())
    assert status.startswith("⚠️") and "ftp://nope" in status and state.backend is None
    status, state = app.set_backend("local model path", "/models/x", "", "", SessionState())
    assert state.backend == "hf:/models/x" and "hf:/models/x" in status


def test_safe_launch_defaults(ui_settings, monkeypatch):
    monkeypatch.delenv("CARDIOAGENT_AUTH", raising=False)
    kw = launch_kwargs(UISettings())
    assert kw["server_name"] == "127.0.0.1" and kw["share"] is False and kw["auth"] is None
    assert kw["max_file_size"] == "50mb" and kw["mcp_server"] is False
    monkeypatch.setenv("CARDIOAGENT_AUTH", "u:p")
    monkeypatch.setenv("CARDIOAGENT_MAX_UPLOAD_MB", "5")
    kw = launch_kwargs(UISettings())
    assert kw["auth"] == [("u", "p")] and kw["max_file_size"] == "5mb"
    assert str(UISettings().home) in kw["blocked_paths"]
    demo = build_app(lambda b: None, ui_settings)
    assert demo.analytics_enabled is False


def test_export_markdown_and_html_hold_the_figures(app, tmp_path):
    state = SessionState()
    run_turn(app, state, "What is the heart rate?", E07500)
    zipped = export_markdown_zip(state.messages, tmp_path / "x", title="t", thread_id=state.thread_id)
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        report = zf.read("report.md").decode()
    figure = next(n for n in names if n.startswith("figures/"))
    assert f"]({figure})" in report and "70.0 bpm" in report and "not a medical device" in report
    assert "knowledge entry `sinus_rhythm`" in report and "Heart rate" in report

    page = export_html(state.messages, tmp_path / "y", title="t", thread_id=state.thread_id).read_text()
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{40,}"', page)
    assert "70.0 bpm" in page and "not a medical device" in page

    served = app.export("HTML", state, Request())
    assert Path(served).is_file() and Path(served).suffix == ".html"


def test_citation_links_round_trip_and_panel_reads_the_corpus():
    text = "[1] Sinus bradycardia — knowledge entry `sinus_bradycardia` (after x)"
    assert unlink_citations(link_citations(text)) == text
    panel = render_panel([Citation(n=1, entry_id="sinus_bradycardia", name="Sinus bradycardia")])
    assert "id='kb-sinus_bradycardia'" in panel and "Criteria" in panel and "Definition" in panel


def test_renderer_marks_failed_steps():
    r = TurnRenderer()
    r.feed(AgentEvent(kind="tool_started", tool="ecg_intervals", data={"args": {}, "reason": "r"}))
    r.feed(
        AgentEvent(
            kind="tool_finished",
            tool="ecg_intervals",
            data={"ok": False, "seconds": 0.1, "error": "E07500: too short for QT"},
        )
    )
    meta = r.messages[0]["metadata"]
    assert (
        "failed" in meta["title"]
        and meta["status"] == "done"
        and r.messages[0]["content"] == "E07500: too short for QT"
    )


def test_cli_registers_ui_command():
    from cardioagent.ui.cli import build_parser

    args = build_parser().parse_args(["ui", "--port", "7999"])
    assert args.host == "127.0.0.1" and args.port == 7999 and args.func.__name__ == "_ui"


# -- the named API endpoint through gradio_client -------------------------------------------------------
@pytest.fixture()
def served(ui_settings, scripted, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    demo = launch(
        ui_settings.model_copy(update={"port": None}),
        lambda backend: scripted,
        prevent_thread_lock=True,
        quiet=True,
    )
    yield demo
    demo.close()


def _answer_of(result) -> tuple[str, list[str]]:
    chat = result[0]
    answer = ""
    files = []
    for m in chat:
        for part in m["content"] if isinstance(m["content"], list) else [m["content"]]:
            if isinstance(part, dict) and part.get("type") == "text":
                answer = part["text"] if m["role"] == "assistant" and not m.get("metadata") else answer
            elif isinstance(part, dict) and part.get("type") == "file":
                f = part["file"]  # gradio_client downloads files and gives their local path
                files.append(f if isinstance(f, str) else f["path"])
    return answer, files


def test_gradio_client_chat_endpoint(served):
    from gradio_client import Client, handle_file

    client = Client(served.local_url, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/chat" in endpoints
    result = client.predict(
        {"text": "What is the heart rate?", "files": [handle_file(p) for p in E07500]}, api_name="/chat"
    )
    answer, files = _answer_of(result)
    assert "70.0 bpm" in answer
    assert len(files) == 1 and files[0].endswith(".png") and Image.open(files[0]).size == (40, 20)

    # what was uploaded is not left where Gradio serves files from
    cached = [p.name for p in (Path(os.environ["GRADIO_TEMP_DIR"])).rglob("E07500.*")]
    assert cached == [], cached
    assert not (served.cardio.settings.work_dir / "figures" / "anonymous").exists()  # the session was known

    bad = client.predict(
        {"text": "rate?", "files": [handle_file(str(DATA / "malformed" / "not_really.edf"))]},
        api_name="/chat",
    )
    with pytest.raises(InputError) as loader_error:
        load_files([DATA / "malformed" / "not_really.edf"])
    message = str(loader_error.value).replace(str(DATA / "malformed") + "/", "")
    assert message in _answer_of(bad)[0]


# -- the real assistant through the named endpoint ------------------------------------------------------
@pytest.mark.slow
def test_gradio_client_real_assistant_gives_the_apis_answer(shared_home, tmp_path_factory):
    """The /chat endpoint, serving the real Assistant, shows exactly the answer ``Assistant.ask`` gives
    for the same record and question, with the heart-rate number and its figure."""
    import inspect

    from gradio_client import Client, handle_file

    settings = UISettings(
        home=shared_home,
        work_dir=tmp_path_factory.mktemp("ui-work"),
        llm_summary=False,
        auth=[],
        warm_up=False,
    ).model_copy(update={"port": None})
    demo = launch(settings, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        result = client.predict(
            {"text": "What is the heart rate?", "files": [handle_file(p) for p in E07500]}, api_name="/chat"
        )
        shown, files = _answer_of(result)
        direct = demo.cardio.pool.get(None).ask("What is the heart rate?", E07500)
    finally:
        demo.close()
    assert unlink_citations(shown) == inspect.cleandoc(direct.text)
    rate = re.search(r"Heart rate[^\n]*?(\d+(?:\.\d+)?)\s*(?:±\s*[\d.]+\s*)?bpm", shown, re.IGNORECASE)
    assert rate and 20 <= float(rate.group(1)) <= 250, shown
    assert direct.figures and len(files) == len(direct.figures)
    steps = [m for m in result[0] if m.get("metadata") and m["metadata"].get("title")]
    assert {s["metadata"]["status"] for s in steps} == {"done"} and any(
        "Heart rate" in s["metadata"]["title"] for s in steps
    )


def test_login_is_required_when_configured(ui_settings, scripted):
    import httpx
    from gradio_client import Client

    demo = launch(
        ui_settings.model_copy(update={"port": None, "auth": [("alice", "s3cret")]}),
        lambda backend: scripted,
        prevent_thread_lock=True,
        quiet=True,
    )
    try:
        assert httpx.get(demo.local_url + "config").status_code == 401
        with pytest.raises(ValueError, match="Could not login"):
            Client(demo.local_url, auth=("alice", "wrong"), verbose=False)
        client = Client(demo.local_url, auth=("alice", "s3cret"), verbose=False)
        result = client.predict({"text": "hello", "files": []}, api_name="/chat")
        assert _answer_of(result)[0] == "No recording is attached."
        assert demo.cardio.store.owners() and set(demo.cardio.store.owners().values()) == {"alice"}
    finally:
        demo.close()


@pytest.mark.slow
def test_cardioagent_ui_command_serves_on_loopback(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CARDIOAGENT_HOME": str(tmp_path / "home"), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("CARDIOAGENT_AUTH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardioagent.ui.cli", "ui", "--port", str(port), "--no-warm-up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        else:
            pytest.fail("the app did not start within 120 s")
        assert page.status_code == 200 and "cardioagent" in page.text
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()
        assert config.get("analytics_enabled") is False and not config.get("share_url")
        names = {d.get("api_name") for d in config["dependencies"]}
        assert {"chat", "upload", "export", "load_conversation", "new_conversation"} <= names
        with socket.socket() as sock:  # not reachable on another interface of this machine
            sock.settimeout(1)
            other = socket.gethostbyname(socket.gethostname())
            if other != "127.0.0.1" and not other.startswith("127."):
                assert sock.connect_ex((other, port)) != 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
