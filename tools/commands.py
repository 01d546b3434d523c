"""Sub-commands of this room: ``analyze``, ``render`` and ``tools list|check``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="classical analysis of recordings (quality, heart rate, rhythm, HRV, intervals)")
    p.add_argument("files", nargs="+", help="recording files (.hea with its .dat/.mat, .edf, .csv, .npy/.npz) or a folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of a readable report")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz for files that do not carry one")
    p.set_defaults(func=_analyze)

    p = sub.add_parser("render", help="render a recording as a 12-lead paper ECG (or a signal plot)")
    p.add_argument("file", nargs="+", help="recording file(s) of one record")
    p.add_argument("-o", "--out", required=True, help="output PNG path")
    p.add_argument("--plot", action="store_true", help="a signal plot with detected peaks instead of paper layout")
    p.add_argument("--dpi", type=int, default=100)
    p.set_defaults(func=_render)

    p = sub.add_parser("tools", help="installed tools and plugins")
    tsub = p.add_subparsers(dest="tools_command", metavar="ACTION", required=True)
    t = tsub.add_parser("list", help="list tools with their plugin, modalities and availability")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_tools_list)
    t = tsub.add_parser("check", help="validate every plugin's contract; exit 1 if any plugin is broken")
    t.set_defaults(func=_tools_check)


def _expand(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p])
    return out


def _analyze(args: argparse.Namespace) -> int:
    from cardioagent.tools.report import analyze_recording, format_report
    from cardioagent.tools.signal.loaders import load_files

    recordings = load_files(_expand(args.files), sampling_rate_hz=args.fs)
    reports = [analyze_recording(rec) for rec in recordings]
    if args.json:
        payload = [r.model_dump(mode="json") for r in reports]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=1))
    else:
        print("\n\n".join(format_report(r) for r in reports))
    return 0


def _render(args: argparse.Namespace) -> int:
    from cardioagent.tools.signal.loaders import load_files
    from cardioagent.tools.signal.recording import Modality

    recordings = load_files(_expand(args.file))
    rec = recordings[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.plot or rec.modality != Modality.ECG or len(rec.channels) < 3:
        from cardioagent.tools.analysis import detect_peaks
        from cardioagent.tools.signal.render import plot_recording

        peaks = detect_peaks(rec)
        plot_recording(rec, out, peaks={peaks.channel: peaks.samples} if peaks.samples else None)
    else:
        from cardioagent.tools.signal.render import render_12lead

        render_12lead(rec, out, dpi=args.dpi)
    print(out)
    return 0


def _tools_list(args: argparse.Namespace) -> int:
    from cardioagent.tools.registry import default_registry

    reg = default_registry(refresh=True)
    specs = reg.specs()
    if args.json:
        print(json.dumps([s.model_dump() for s in specs], indent=1))
        return 0
    for s in specs:
        state = "available" if s.available else f"unavailable: {s.unavailable_reason}"
        print(f"{s.name:22s} [{s.plugin}] {','.join(s.modalities):24s} {state}")
        print(f"{'':22s} {s.description}")
    for p in reg.problems:
        print(f"BROKEN plugin {p.plugin}{'/' + p.tool if p.tool else ''}: {p.problem}")
    return 0


def _tools_check(args: argparse.Namespace) -> int:
    from cardioagent.tools.registry import default_registry

    reg = default_registry(refresh=True)
    for s in reg.specs():
        print(f"ok      {s.name} ({s.plugin})" + ("" if s.available else f" — unavailable: {s.unavailable_reason}"))
    for p in reg.problems:
        print(f"broken  {p.plugin}{'/' + p.tool if p.tool else ''}: {p.problem}")
    return 1 if reg.problems else 0
