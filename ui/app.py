"""The Gradio chat app: talk with uploaded ECG/PPG recordings in the browser.

    from cardioagent.ui.app import build_app, launch
    launch(UISettings(port=7860))                 # what `cardioagent ui` does

``build_app`` wires the page to a ``CardioApp``, whose methods are the event handlers (plain Python, so tests
can call them without a browser). Everything goes through the agent's public API (``Assistant.upload``,
``.stream``, ``.threads``, ``.history``); the app adds only what a browser needs: per-session files,
transcripts with figures, citation links, exports.

Named API endpoints (for ``gradio_client``): ``/chat`` (message {"text", "files"}, age, sex, height_cm,
weight_kg), ``/upload``, ``/example_<key>``, ``/new_conversation``, ``/load_conversation``, ``/set_backend``,
``/export``.
"""

from __future__ import annotations

import logging
import os
import re

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry at all

import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from cardioagent.agent import EMERGENCY_ADVICE, NOT_A_MEDICAL_DEVICE, CardioAgentError, InputError
from cardioagent.ui.auth import owner_of
from cardioagent.ui.chat_events import TurnRenderer, error_message, recordings_message, user_message
from cardioagent.ui.conversations import ConversationStore, Transcript
from cardioagent.ui.file_access import FileGrants, OwnFilesOnly
from cardioagent.ui.knowledge_panel import CITATION_LINK_JS, PANEL_EMPTY, render_panel
from cardioagent.ui.report_export import export_html, export_markdown_zip, export_recording_report
from cardioagent.ui.samples import available_samples
from cardioagent.ui.session_files import SessionFiles
from cardioagent.ui.settings import UISettings
from cardioagent.ui.upload_summary import device_note, summarise_uploads

log = logging.getLogger(__name__)

DEFAULT_QUESTION = "What can you tell me about this recording?"
SEX_CHOICES = ["not given", "female", "male"]
BACKEND_KINDS = ["embedded", "local model path", "OpenAI-compatible URL"]

CSS = """
#medical-notice {background:#fff4d6;border:1px solid #e0b84c;border-radius:6px;padding:4px 12px}
#emergency-banner {background:#b00020;color:#fff;border-radius:6px;padding:8px 14px;font-size:1.1em}
#emergency-banner * {color:#fff !important}
#knowledge {max-height:75vh;overflow-y:auto}
.kb-entry {border-bottom:1px solid #ddd;padding:4px 0}
.kb-entry h4 {margin:6px 0 2px}
.kb-flash {outline:3px solid #e0b84c}
"""

AssistantFactory = Callable[[str | None], Any]


@dataclass
class SessionState:
    """What one browser tab remembers (a ``gr.State``: per session, never shared)."""

    thread_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # the transcript, figures by store path
    citations: list[dict[str, Any]] = field(default_factory=list)
    backend: str | None = None
    uploads: dict[str, str] = field(default_factory=dict)  # Gradio's upload path -> our private copy
    summarised: list[str] = field(default_factory=list)  # recording ids already shown on upload
    published: dict[str, str] = field(default_factory=dict)  # figure path in the store -> servable copy
    emergency: bool = False


class AssistantPool:
    """One ``Assistant`` per backend string, made on first use and shared by all sessions (the models are
    the expensive part; conversations are kept apart by thread id)."""

    def __init__(self, factory: AssistantFactory, default_backend: str | None) -> None:
        self.factory = factory
        self.default_backend = default_backend
        self._assistants: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def get(self, backend: str | None = None) -> Any:
        key = backend or self.default_backend
        with self._lock:
            if key not in self._assistants:
                self._assistants[key] = self.factory(key)
            return self._assistants[key]


def default_factory(settings: UISettings) -> AssistantFactory:
    def make(backend: str | None) -> Any:
        from cardioagent.agent import AgentSettings, Assistant

        return Assistant(backend, AgentSettings(home=settings.home, llm_summary=settings.llm_summary))

    return make


def public_message(error: BaseException | str, folders: list[Path]) -> str:
    """The error as the user should read it: our private folders (and Gradio's) cut from the paths, so
    "/tmp/cardioagent-ui/uploads/x/1a2b/rec.hea: ..." reads "rec.hea: ..."."""
    text = str(error)
    for folder in folders:
        text = re.sub(re.escape(str(folder)) + r"/(?:[^\s/]+/)*", "", text)
    return text


def _waiting_for_data_file(files: list[str], error: InputError) -> bool:
    """Only WFDB headers so far, and the loader says a data file it names was not uploaded."""
    return (
        bool(files)
        and all(Path(f).suffix.lower() == ".hea" for f in files)
        and "was not uploaded" in getattr(error, "problem", "")
    )


def _session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def _owner(request: gr.Request | None) -> str:
    return owner_of(getattr(request, "username", None))


def parse_demographics(age: Any, sex: Any, height_cm: Any, weight_kg: Any) -> dict[str, Any]:
    """Only what the user entered; an empty field is 'not given', never zero."""
    out: dict[str, Any] = {}
    for key, value, lo, hi in (
        ("age", age, 0, 120),
        ("height_cm", height_cm, 40, 250),
        ("weight_kg", weight_kg, 2, 400),
    ):
        if value in (None, ""):
            continue
        v = float(value)
        if not lo <= v <= hi:
            raise InputError(key.replace("_", " "), f"{v:g} is out of range", f"a number from {lo} to {hi}")
        out[key] = v
    if sex in ("female", "male"):
        out["sex"] = sex
    return out


def backend_string(kind: str, path: str, url: str, model: str) -> str | None:
    """The Settings panel's choice as a backend string (checked by ``validate_backend``)."""
    if kind == "local model path":
        spec = f"hf:{(path or '').strip()}"
    elif kind == "OpenAI-compatible URL":
        spec = f"openai:{(url or '').strip()}" + (f"#{model.strip()}" if model and model.strip() else "")
    else:
        return None
    from cardioagent.agent import validate_backend

    return validate_backend(spec)  # raises an InputError with the reason


class CardioApp:
    """The handlers behind the page. Each takes and returns plain values (and the session state)."""

    def __init__(
        self, settings: UISettings | None = None, assistant_factory: AssistantFactory | None = None
    ) -> None:
        self.settings = settings or UISettings()
        self.pool = AssistantPool(assistant_factory or default_factory(self.settings), self.settings.backend)
        self.store = ConversationStore(self.settings.ui_dir)
        self.files = SessionFiles(self.settings.work_dir)
        self.grants = FileGrants()  # which user may fetch which file Gradio serves (see launch)
        self.samples = available_samples(self.settings.samples_dir)

    # -- helpers -----------------------------------------------------------------------------------------
    def public(self, error: BaseException | str) -> str:
        from gradio.utils import get_upload_folder

        return public_message(
            error, [self.files.root, Path(get_upload_folder()), self.settings.samples_dir, self.settings.home]
        )

    def assistant(self, state: SessionState) -> Any:
        return self.pool.get(state.backend)

    def chat_view(self, state: SessionState, session: str, owner: str = "local") -> list[dict[str, Any]]:
        """The transcript as the Chatbot gets it: figures swapped for copies this session may be served
        (and only this owner may fetch)."""
        out = []
        for m in state.messages:
            content = m.get("content")
            if isinstance(content, dict) and "path" in content:
                src = content["path"]
                if src not in state.published:
                    if not Path(src).is_file():
                        out.append(
                            {"role": m["role"], "content": f"(figure no longer available: {Path(src).name})"}
                        )
                        continue
                    state.published[src] = str(self.files.publish(src, session))
                    self.grants.serve(state.published[src], owner)
                content = {**content, "path": state.published[src]}
            out.append({**m, "content": content})
        return out

    def thread_choices(self, owner: str) -> list[tuple[str, str]]:
        try:
            threads = self.assistant(SessionState()).threads()
        except Exception as exc:  # a broken store must not take the page down
            log.warning("could not list conversations: %s", exc)
            return []
        visible = self.store.visible_threads(owner, threads)
        return [
            (f"{t.title or '(no question)'} · {t.turns} turn{'s' * (t.turns != 1)}", t.thread_id)
            for t in visible
        ]

    def threads_update(self, owner: str, selected: str | None) -> Any:
        choices = self.thread_choices(owner)
        value = selected if selected in {v for _, v in choices} else None
        return gr.Radio(choices=choices, value=value)

    def _save(self, state: SessionState, owner: str) -> None:
        if not state.thread_id:
            return
        title = next(
            (str(m["content"]).split("\n\n📎")[0][:60] for m in state.messages if m["role"] == "user"), ""
        )
        self.store.save(
            Transcript(
                thread_id=state.thread_id,
                owner=owner,
                title=title,
                messages=state.messages,
                citations=state.citations,
            )
        )

    # -- uploads -----------------------------------------------------------------------------------------
    def on_box_change(self, box: dict | None, state: SessionState, request: gr.Request | None = None):
        """Summarise recordings as soon as they are in the message box (before any question is sent)."""
        files = list((box or {}).get("files") or [])
        state.uploads = {k: v for k, v in state.uploads.items() if k in files}
        new = [f for f in files if f not in state.uploads]
        if not new:
            return gr.skip(), state, gr.skip()
        session, owner = _session_of(request), _owner(request)
        for src, private in zip(new, self.files.take_uploads(new, session), strict=False):
            state.uploads[src] = str(private)
        try:
            recs = self.assistant(state).upload([state.uploads[f] for f in files])
        except InputError as exc:
            if _waiting_for_data_file(files, exc):  # a .hea dropped first: its data file may come next
                state.messages.append(
                    error_message(
                        self.public(exc) + " Add the data file to continue.", what="Waiting for the data file"
                    )
                )
                return self.chat_view(state, session, owner), state, gr.skip()
            # The files are taken out of the message box: sending them would only fail the same way.
            state.messages.append(
                error_message(self.public(exc) + " The files were removed from your message.")
            )
            self.files.forget_gradio_copies(files)
            state.uploads = {}
            return (
                self.chat_view(state, session, owner),
                state,
                gr.MultimodalTextbox(value={"text": (box or {}).get("text") or "", "files": []}),
            )
        fresh = [r for r in recs if r.id not in state.summarised]
        if fresh:
            summaries, qualities = summarise_uploads(self.assistant(state), fresh)
            card = recordings_message(summaries, qualities)
            card["content"] += device_note(fresh)  # what a cart or watch stated, apart from what is measured
            state.messages.append(card)
            state.summarised += [r.id for r in fresh]
        return self.chat_view(state, session, owner), state, gr.skip()

    # -- chat --------------------------------------------------------------------------------------------
    def chat(
        self,
        box: dict | None,
        age: float | None = None,
        sex: str = "not given",
        height_cm: float | None = None,
        weight_kg: float | None = None,
        state: SessionState | None = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple]:
        """One turn. Yields (chatbot, box, state, knowledge panel, conversations, emergency banner,
        browser-stored thread id) each time something new is to be shown."""
        session, owner = _session_of(request), _owner(request)
        state = state if state is not None else SessionState()
        text = ((box or {}).get("text") or "").strip()
        files = list((box or {}).get("files") or [])
        if not text and not files:
            yield (gr.skip(),) * 7
            return
        text = text or DEFAULT_QUESTION
        state.thread_id = state.thread_id or uuid.uuid4().hex[:12]
        self.store.claim(state.thread_id, owner)
        private = [state.uploads.get(f) or str(self.files.take_uploads([f], session)[0]) for f in files]
        self.files.forget_gradio_copies(files)
        state.uploads = {}
        state.messages.append(user_message(text, private))
        renderer = TurnRenderer(skip_recordings=set(state.summarised))
        base = list(state.messages)

        def frame(final: bool = False) -> tuple:
            state.messages = base + renderer.messages
            chat = self.chat_view(state, session, owner)
            if not final:
                return (
                    chat,
                    gr.MultimodalTextbox(value=None, interactive=False),
                    state,
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                )
            banner = gr.Markdown(value=EMERGENCY_ADVICE, visible=state.emergency)
            return (
                chat,
                gr.MultimodalTextbox(value=None, interactive=True),
                state,
                render_panel(state.citations) if state.citations else PANEL_EMPTY,
                self.threads_update(owner, state.thread_id),
                banner,
                state.thread_id,
            )

        yield frame()
        try:
            demographics = parse_demographics(age, sex, height_cm, weight_kg)
            for event in self.assistant(state).stream(text, private, state.thread_id, demographics):
                renderer.feed(event)
                if event.kind == "recordings":
                    state.summarised += [r["id"] for r in event.data.get("recordings", [])]
                yield frame()
        except InputError as exc:
            renderer.fail(self.public(exc), "Could not use the input")
        except CardioAgentError as exc:
            renderer.fail(self.public(exc), "The analysis failed")
        except Exception as exc:  # never a traceback in the chat; the log has it
            log.exception("turn failed")
            renderer.fail(
                self.public(f"{type(exc).__name__}: {exc}"), "Something went wrong inside the agent"
            )
        if renderer.answer is not None:
            state.citations = [c.model_dump() for c in renderer.answer.citations]
            state.emergency = renderer.answer.emergency.emergency
        self._save(state, owner)
        yield frame(final=True)

    def run_example(
        self,
        key: str,
        age: Any,
        sex: Any,
        height_cm: Any,
        weight_kg: Any,
        state: SessionState,
        request: gr.Request | None = None,
    ) -> Iterator[tuple]:
        sample = next((s for s in self.samples if s.key == key), None)
        if sample is None:
            state.messages.append(error_message(f"no example named {key!r}", what="Unknown example"))
            yield (
                self.chat_view(state, _session_of(request), _owner(request)),
                gr.skip(),
                state,
                gr.skip(),
                gr.skip(),
                gr.skip(),
                gr.skip(),
            )
            return
        box = {"text": sample.question, "files": [str(p) for p in sample.paths(self.settings.samples_dir)]}
        yield from self.chat(box, age, sex, height_cm, weight_kg, state, request)

    # -- conversations -----------------------------------------------------------------------------------
    def new_conversation(self, state: SessionState, request: gr.Request | None = None) -> tuple:
        fresh = SessionState(backend=state.backend)
        return (
            [],
            fresh,
            PANEL_EMPTY,
            self.threads_update(_owner(request), None),
            gr.Markdown(visible=False),
            None,
        )

    def load_conversation(
        self, thread_id: str | None, state: SessionState, request: gr.Request | None = None
    ) -> tuple:
        owner, session = _owner(request), _session_of(request)
        if not thread_id or not self.store.may_open(thread_id, owner):
            return (
                gr.skip(),
                state,
                gr.skip(),
                self.threads_update(owner, state.thread_id),
                gr.skip(),
                gr.skip(),
            )
        transcript = self.store.load(thread_id)
        fresh = SessionState(thread_id=thread_id, backend=state.backend)
        if transcript is not None:
            fresh.messages, fresh.citations = transcript.messages, transcript.citations
        else:  # a conversation from the command line: questions and answers only
            fresh.messages = self.assistant(state).history(thread_id)
        panel = render_panel(fresh.citations) if fresh.citations else PANEL_EMPTY
        return (
            self.chat_view(fresh, session, owner),
            fresh,
            panel,
            self.threads_update(owner, thread_id),
            gr.Markdown(visible=False),
            thread_id,
        )

    def restore(
        self, stored_thread: str | None, state: SessionState, request: gr.Request | None = None
    ) -> tuple:
        """On page load: the conversation this browser had open (it survives a server restart)."""
        owner = _owner(request)
        if (
            stored_thread
            and self.store.may_open(stored_thread, owner)
            and (
                self.store.load(stored_thread) is not None
                or stored_thread in {v for _, v in self.thread_choices(owner)}
            )
        ):
            return self.load_conversation(stored_thread, state, request)
        return ([], state, PANEL_EMPTY, self.threads_update(owner, None), gr.Markdown(visible=False), None)

    # -- settings and export -----------------------------------------------------------------------------
    def set_backend(
        self, kind: str, path: str, url: str, model: str, state: SessionState
    ) -> tuple[str, SessionState]:
        try:
            state.backend = backend_string(kind, path, url, model)
        except InputError as exc:
            return f"⚠️ {self.public(exc)}", state
        shown = state.backend or f"embedded ({self.pool.default_backend or 'default'})"
        return f"Backend for this session: `{shown}` (loaded on the next question).", state

    def export(self, fmt: str, state: SessionState, request: gr.Request | None = None) -> Any:
        if not state.messages:
            raise gr.Error("Nothing to export yet: ask a question first.")
        out = self.files.scratch_dir(_session_of(request))
        title = next(
            (str(m["content"]).split("\n\n📎")[0][:80] for m in state.messages if m["role"] == "user"),
            "cardioagent conversation",
        )
        thread = state.thread_id or "unsaved"
        if fmt.upper().startswith(
            ("PDF", "FHIR")
        ):  # of the latest recording, by the `cardioagent report` analysis
            if not state.summarised:
                raise gr.Error("No recording to report on: upload one first.")
            report = export_recording_report(
                self.assistant(state),
                state.summarised[-1],
                out,
                kind="pdf" if fmt.upper().startswith("PDF") else "fhir",
            )
        elif fmt.upper().startswith("HTML"):
            report = export_html(state.messages, out, title=title, thread_id=thread)
        else:
            report = export_markdown_zip(state.messages, out, title=title, thread_id=thread)
        self.grants.serve(report, _owner(request))
        return str(report)

    def end_session(self, request: gr.Request | None = None) -> None:
        self.files.cleanup(_session_of(request))


def _browser_secret(settings: UISettings) -> str:
    """A fixed key for the encrypted thread id kept in the browser, so it can be read after a restart."""
    path = settings.ui_dir / "browser_secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def build_app(
    assistant_factory: AssistantFactory | None = None, settings: UISettings | None = None
) -> gr.Blocks:
    """The page. ``assistant_factory(backend) -> Assistant`` (default: a real Assistant on ``settings.home``)."""
    settings = settings or UISettings()
    return _page(CardioApp(settings, assistant_factory), settings)


def _page(app: CardioApp, settings: UISettings) -> gr.Blocks:
    """The page of ``app`` (``build_app``; ``launch`` keeps ``app`` itself for the warm-up and the file guard)."""
    # delete_cache: Gradio's own copies (figures sent, uploads) go after an hour; ours at session end.
    with gr.Blocks(
        title="cardioagent", analytics_enabled=False, delete_cache=(600, 3600), fill_height=True
    ) as demo:
        state = gr.State(SessionState())
        stored_thread = gr.BrowserState(
            None, storage_key="cardioagent-thread", secret=_browser_secret(settings)
        )
        gr.Markdown("## cardioagent — chat with your ECG and PPG recordings")
        gr.Markdown(f"⚕️ **Not a medical device.** {NOT_A_MEDICAL_DEVICE}", elem_id="medical-notice")
        emergency = gr.Markdown(EMERGENCY_ADVICE, visible=False, elem_id="emergency-banner")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                new_btn = gr.Button("➕ New conversation", variant="secondary", elem_id="new-conversation")
                threads = gr.Radio(choices=[], label="Past conversations", elem_id="threads")
                with gr.Accordion("Try an example recording", open=True):
                    example_buttons = [
                        (gr.Button(s.label, size="sm", elem_id=f"example-{s.key}"), s) for s in app.samples
                    ]
                    if not app.samples:
                        gr.Markdown("_No example recordings found._")
                with gr.Accordion("About you (optional)", open=False):
                    age = gr.Number(label="Age (years)", minimum=0, maximum=120, value=None)
                    sex = gr.Radio(SEX_CHOICES, value="not given", label="Sex")
                    height = gr.Number(label="Height (cm)", minimum=40, maximum=250, value=None)
                    weight = gr.Number(label="Weight (kg)", minimum=2, maximum=400, value=None)
                    gr.Markdown(
                        "_Sent with each question to the vitals tools; never stored outside this conversation._"
                    )
                with gr.Accordion("Model backend", open=False):
                    kind = gr.Radio(BACKEND_KINDS, value="embedded", label="Backend")
                    path = gr.Textbox(label="Local model folder (hf)", placeholder="/path/to/model")
                    url = gr.Textbox(label="OpenAI-compatible URL", placeholder="http://127.0.0.1:8000/v1")
                    model = gr.Textbox(label="Model name (for the URL)", placeholder="my-model")
                    apply = gr.Button("Use this backend", size="sm")
                    backend_status = gr.Markdown(f"Backend: `{settings.backend or 'embedded (default)'}`")
                with gr.Accordion("Export", open=False):
                    fmt = gr.Radio(
                        [
                            "Markdown + figures (.zip)",
                            "HTML",
                            "PDF report (latest recording)",
                            "FHIR R4 bundle (latest recording)",
                        ],
                        value="HTML",
                        label="Format",
                    )
                    export_btn = gr.Button("Export this conversation", size="sm")
                    export_file = gr.File(label="Report", interactive=False)
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="cardioagent",
                    elem_id="chat",
                    height="65vh",
                    buttons=["copy"],
                    feedback_options=None,
                    placeholder="Upload a recording (WFDB .hea + .dat/.mat or a .zip, EDF, CSV, NPY, DICOM, HL7 "
                    "aECG, SCP-ECG, Philips or GE MUSE XML, an Apple Watch ECG export, or an ECG image/PDF) and ask "
                    "about it — or try an example on the left.",
                )
                box = gr.MultimodalTextbox(
                    # No file_types filter: the loaders check every file and say what is accepted, which
                    # reads better than Gradio's generic "invalid file type".
                    file_count="multiple",
                    sources=["upload"],
                    elem_id="chat-input",
                    placeholder="Ask about your recording, e.g. “What is the heart rate?”",
                    show_label=False,
                )
            with gr.Column(scale=1, min_width=260):
                gr.Markdown("### Knowledge cited")
                knowledge = gr.HTML(PANEL_EMPTY, elem_id="knowledge")

        demographics = [age, sex, height, weight]
        turn_outputs = [chatbot, box, state, knowledge, threads, emergency, stored_thread]
        box.change(
            app.on_box_change,
            [box, state],
            [chatbot, state, box],
            api_name="upload",
            show_progress="hidden",
            trigger_mode="always_last",
        )
        box.submit(
            app.chat, [box, *demographics, state], turn_outputs, api_name="chat", show_progress="hidden"
        )
        for button, sample in example_buttons:
            button.click(
                app.run_example,
                [gr.State(sample.key), *demographics, state],
                turn_outputs,
                api_name=f"example_{sample.key}",
                api_visibility="undocumented",
                show_progress="hidden",
            )
        conv_outputs = [chatbot, state, knowledge, threads, emergency, stored_thread]
        new_btn.click(app.new_conversation, [state], conv_outputs, api_name="new_conversation")
        chatbot.clear(app.new_conversation, [state], conv_outputs, api_visibility="private")  # its trash icon
        threads.input(app.load_conversation, [threads, state], conv_outputs, api_name="load_conversation")
        apply.click(
            app.set_backend, [kind, path, url, model, state], [backend_status, state], api_name="set_backend"
        )
        export_btn.click(app.export, [fmt, state], [export_file], api_name="export")
        demo.load(app.restore, [stored_thread, state], conv_outputs, api_visibility="private")
        demo.unload(app.end_session)
    demo.cardio = app  # handlers, for tests and the bench
    return demo


def launch_kwargs(settings: UISettings) -> dict[str, Any]:
    """The safe server options: loopback by default, no share link, size limit, private folders blocked."""
    return dict(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        auth=settings.auth or None,
        auth_message="cardioagent: log in (CARDIOAGENT_AUTH)" if settings.auth else None,
        max_file_size=f"{settings.max_upload_mb:g}mb",
        blocked_paths=[str(settings.home), str(SessionFiles(settings.work_dir).uploads_root)],
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        show_error=False,
        css=CSS,
        head=CITATION_LINK_JS,
        footer_links=["api"],
    )


def launch(
    settings: UISettings | None = None,
    assistant_factory: AssistantFactory | None = None,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> gr.Blocks:
    """Build and serve the app. With ``prevent_thread_lock`` it returns at once (tests, the bench)."""
    settings = settings or UISettings()
    app = CardioApp(settings, assistant_factory)
    demo = _page(app, settings)
    if settings.warm_up:
        # Load the models while the page opens; the first question waits on the same locks if it is quicker.
        threading.Thread(target=_warm, args=(app,), daemon=True, name="cardioagent-warm-up").start()
    demo.queue(default_concurrency_limit=4)
    # Gradio serves any file in its cache to whoever has the URL; this lets each user fetch only their own.
    from gradio.utils import get_upload_folder
    from starlette.middleware import Middleware

    own_files = Middleware(
        OwnFilesOnly, grants=app.grants, guarded=lambda: [get_upload_folder(), settings.work_dir]
    )
    demo.launch(
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        app_kwargs={"middleware": [own_files]},
        **launch_kwargs(settings),
    )
    return demo


def _warm(app: CardioApp) -> None:
    try:
        app.pool.get(None).warm_up()
    except Exception as exc:  # a failed warm-up shows up again, with its message, on the first question
        log.warning("warm-up failed: %s", exc)
