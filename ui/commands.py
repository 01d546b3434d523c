"""Sub-command of this room: ``cardioagent ui`` (the Gradio chat app)."""

from __future__ import annotations

import argparse
import sys

from cardioagent.agent import DefaultsHelpFormatter, add_llm_summary_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="start the chat app in the browser (Gradio, http://127.0.0.1:7860)",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; use 0.0.0.0 only with CARDIOAGENT_AUTH)",
    )
    p.add_argument("--port", type=int, default=7860, help="port to listen on")
    p.add_argument(
        "--backend",
        default=None,
        help="embedded | hf:/path/to/model | openai:URL#model (default: $CARDIOAGENT_BACKEND or embedded)",
    )
    add_llm_summary_options(p)
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=None,
        help="upload size limit (default $CARDIOAGENT_MAX_UPLOAD_MB or 50)",
    )
    p.add_argument(
        "--no-warm-up", action="store_true", help="load the models on the first question instead of at start"
    )
    p.set_defaults(func=_ui)


def _ui(args: argparse.Namespace) -> int:
    from cardioagent.ui.settings import UISettings

    fields = {
        "host": args.host,
        "port": args.port,
        "backend": args.backend,
        "llm_summary": args.llm_summary,
        "warm_up": not args.no_warm_up,
    }
    if args.max_upload_mb is not None:
        fields["max_upload_mb"] = args.max_upload_mb
    settings = UISettings(**fields)
    if args.backend:
        from cardioagent.agent import validate_backend

        validate_backend(args.backend)  # a typo is reported now, as one line, not on the first question
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.auth:
        print(
            f"warning: listening on {settings.host} without a login; set CARDIOAGENT_AUTH=user:pass",
            file=sys.stderr,
        )
    from cardioagent.ui.app import launch

    print(f"cardioagent UI on http://{settings.host}:{settings.port} — not a medical device. Ctrl-C to stop.")
    launch(settings, quiet=True)
    return 0
