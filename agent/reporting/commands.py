"""``cardioagent report FILE -o report.pdf [--fhir bundle.json]``: the analysis ``cardioagent analyze`` runs,
written as a PDF report and, on request, as a FHIR R4 bundle."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="analyse a recording and write a PDF report (and a FHIR R4 bundle)")
    p.add_argument("file", nargs="+", help="the recording: one file, or a WFDB header with its data file")
    p.add_argument("-o", "--out", default="report.pdf", help="PDF to write (default: report.pdf)")
    p.add_argument("--fhir", default=None, help="also write a FHIR R4 Bundle (JSON) to this path")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz, for files that state none")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from cardioagent.agent.reporting.content import content_of_recording
    from cardioagent.agent.reporting.pdf import write_pdf
    from cardioagent.tools.signal.loaders import load_files, load_recording

    rec = (
        load_recording(args.file[0], sampling_rate_hz=args.fs)
        if len(args.file) == 1
        else load_files(args.file, sampling_rate_hz=args.fs)[0]
    )
    content = content_of_recording(rec)
    print(write_pdf(content, args.out, rec))
    if args.fhir:
        from cardioagent.agent.reporting.fhir import bundle_json

        out = Path(args.fhir)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(bundle_json(content, rec), encoding="utf-8")
        print(out)
    return 0
