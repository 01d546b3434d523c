"""Sub-commands of this room: ``ask``, ``chat``, ``demo``, and (from ``evaluation/commands.py``) ``eval`` and
``bench build|compare``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data"
DEMO_RECORD = ["E07500.hea", "E07500.mat"]
DEMO_QUESTION = "What is the heart rate and is the rhythm regular?"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask the agent one question, optionally about recordings")
    p.add_argument("question")
    p.add_argument("--file", "-f", action="append", default=[], help="a recording file (repeat for .hea + .dat)")
    _common(p)
    p.add_argument("--json", action="store_true", help="print the whole Answer (text, citations, trace) as JSON")
    p.set_defaults(func=_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.add_argument("--file", "-f", action="append", default=[], help="a recording to talk about")
    _common(p)
    p.set_defaults(func=_chat)

    p = sub.add_parser("demo", help="analyse a bundled sample record, then chat about it")
    _common(p)
    p.set_defaults(func=_demo)

    from cardioagent.agent.evaluation.commands import register as register_evaluation

    register_evaluation(sub)
    _register_train_parser(sub)


def _register_train_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.choices.get("train")
    if train is None:  # the models room did not load: no `train` command to join
        return
    tsub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    p = tsub.add_parser(
        "parser", help="train the question-type classifier of question reading (ships only if it beats the rules)",
        description="Generate phrasings from the clinical vocabulary (agent/question_phrasings.py), fit the "
        "question-type classifier on the tune template families, compare it with the word rules by "
        "leave-one-family-out cross-validation, and write the model beside agent/question.py only when it is "
        "better. The report is written either way.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="phrasing generator seed")
    p.add_argument("--per-template", type=int, default=12, help="questions generated per template")
    p.add_argument("--c", type=float, default=4.0, help="inverse L2 regularisation of the logistic regression")
    p.set_defaults(func=_train_parser)


def _train_parser(args: argparse.Namespace) -> int:
    import json

    from cardioagent.agent.question_phrasings import TUNE_FAMILIES, generate
    from cardioagent.agent.question_type import train

    report = train(generate(seed=args.seed, per_template=args.per_template), TUNE_FAMILIES, c=args.c)
    print(json.dumps(report, indent=2))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=None, help="embedded | hf:/path/to/model | openai:URL#model (default: $CARDIOAGENT_BACKEND or embedded)")
    p.add_argument("--thread", default=None, help="conversation id to continue")
    p.add_argument("--age", type=float, default=None)
    p.add_argument("--sex", choices=["male", "female"], default=None)
    llm = p.add_mutually_exclusive_group()
    llm.add_argument("--no-llm", dest="llm_summary", action="store_false", default=None,
                     help="no plain-words paragraph by the language model")
    llm.add_argument("--llm-summary", dest="llm_summary", action="store_true",
                     help="add the language model's plain-words paragraph (default: only for a configured model)")


def _assistant(args: argparse.Namespace):
    from cardioagent.agent.api import Assistant
    from cardioagent.agent.config import AgentSettings

    settings = AgentSettings(llm_summary=args.llm_summary)
    return Assistant(args.backend, settings)


def _demographics(args: argparse.Namespace) -> dict:
    return {k: v for k, v in {"age": args.age, "sex": args.sex}.items() if v is not None}


def _ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    answer = assistant.ask(args.question, args.file, thread_id=args.thread, demographics=_demographics(args))
    if args.json:
        print(json.dumps(answer.model_dump(mode="json"), indent=1))
    else:
        print(answer.text)
        if answer.figures:
            print("\nFigures: " + ", ".join(answer.figures))
        print(f"\n(thread {answer.thread_id}; continue with --thread {answer.thread_id})")
    return 0


def _chat(args: argparse.Namespace, first_question: str | None = None) -> int:
    from cardioagent.tools.errors import CardioAgentError

    assistant = _assistant(args)
    thread = args.thread
    files = list(args.file)
    print("cardioagent chat — not a medical device. Empty line or Ctrl-D to quit; ':file PATH' to attach.")
    question = first_question
    while True:
        if question is None:
            if not sys.stdin.isatty() and sys.stdin.closed:
                return 0
            try:
                question = input("\nyou> ").strip()
            except EOFError:
                return 0
            if not question:
                return 0
        if question.startswith(":file "):
            files.append(question[6:].strip())
            print(f"attached {files[-1]} (sent with your next question)")
            question = None
            continue
        try:
            answer = assistant.ask(question, files, thread_id=thread, demographics=_demographics(args))
        except CardioAgentError as exc:
            print(f"error: {exc}")
            files, question = [], None
            continue
        thread, files, question = answer.thread_id, [], None
        for step in answer.trace:
            status = f"{step.seconds:.2f} s" if step.ok else f"failed: {step.error}"
            print(f"  [tool] {step.tool} — {status}")
        print("\ncardioagent> " + answer.text)


def _demo(args: argparse.Namespace) -> int:
    files = [REPO_SAMPLES / name for name in DEMO_RECORD]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: the demo record is missing ({', '.join(missing)}); run from a source checkout", file=sys.stderr)
        return 2
    args.file = [str(f) for f in files]
    print(f"Demo: {DEMO_QUESTION}  [record {DEMO_RECORD[0]}, CinC 2021, CC BY 4.0]")
    if not sys.stdin.isatty():
        args.question, args.json = DEMO_QUESTION, False
        return _ask(args)
    return _chat(args, first_question=DEMO_QUESTION)
