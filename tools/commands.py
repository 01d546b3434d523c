"""Sub-commands of this room: ``analyze``, ``render`` and ``tools list|check``."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cardioagent.tools.cli_help import DefaultsHelpFormatter

# What a recording file given through a folder may be; anything else in the folder is skipped quietly.
# WFDB data and annotation files are found through their .hea, so only the header stands for the record.
_RECORDING_SUFFIXES = {".hea", ".edf", ".csv", ".npy", ".npz", ".png", ".jpg", ".jpeg", ".zip"}
_WFDB_PARTS = {".dat", ".mat", ".atr", ".qrs"}
FS_ACCEPTED = (
    "a sampling rate given with --fs HZ (50 to 10000), or a time column in seconds named time_s in a CSV"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="classical analysis of recordings (quality, heart rate, rhythm, HRV, intervals)",
        description="Run every classical analysis on each recording and print a report (or JSON, "
        "or a CSV table of one row per recording). A folder is read record by record: files "
        "that are not recordings (labels.csv, reference tables) are skipped with a note.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "files",
        nargs="+",
        help="recording files (.hea with its .dat/.mat, .edf, .csv, .npy/.npz) or a folder",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a readable report")
    p.add_argument(
        "--table",
        type=Path,
        default=None,
        metavar="OUT.csv",
        help="also write one CSV row per recording (modality, duration, quality, heart rate, rhythm, "
        "HRV, median intervals across leads, interpretation statements)",
    )
    p.add_argument(
        "--channel",
        action="append",
        default=None,
        metavar="NAME",
        help="analyse only this channel, by name (ppg1) or kind (ecg, ppg); repeat for several",
    )
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="sampling rate in Hz for files that do not carry one (.npy, CSV without a time column)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="with --table: no report on stdout")
    p.set_defaults(func=_analyze)

    p = sub.add_parser(
        "render",
        help="render a recording as a 12-lead paper ECG (or a signal plot)",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("file", nargs="+", help="recording file(s) of one record")
    p.add_argument("-o", "--out", required=True, help="output PNG path")
    p.add_argument(
        "--plot", action="store_true", help="a signal plot with detected peaks instead of paper layout"
    )
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="sampling rate in Hz for files that do not carry one (.npy, CSV without a time column)",
    )
    p.set_defaults(func=_render)

    p = sub.add_parser(
        "digitize",
        help="turn a photo, scan or screenshot of a printed ECG into a signal (CSV or WFDB)",
        description="Find the page, undo the perspective, read each lead's trace in mV on one 500-Hz time "
        "base and write it: a .csv (one column per lead, empty where the lead was not printed) or, with "
        "an .hea name, a WFDB record. Prints the layout and each lead's digitization confidence.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("image", type=Path, help="PNG or JPEG photo, scan or screenshot, or a PDF of the page")
    p.add_argument(
        "-o", "--out", type=Path, default=Path("digitized.csv"), help="digitized.csv, or NAME.hea for WFDB"
    )
    p.add_argument("--page", type=Path, default=None, metavar="PAGE.png", help="also save the rectified page")
    p.add_argument("--json", action="store_true", help="print the digitization report as JSON")
    p.set_defaults(func=_digitize)

    p = sub.add_parser("tools", help="installed tools and plugins")
    tsub = p.add_subparsers(dest="tools_command", metavar="ACTION", required=True)
    t = tsub.add_parser("list", help="list tools with their title, plugin, modalities and availability")
    t.add_argument(
        "--json", action="store_true", help="print the tool specs (with input and output schemas) as JSON"
    )
    t.set_defaults(func=_tools_list)
    t = tsub.add_parser("check", help="validate every plugin's contract; exit 1 if any plugin is broken")
    t.set_defaults(func=_tools_check)


@contextmanager
def fs_option_hint(option: str = "--fs") -> Iterator[None]:
    """Re-raise a missing or invalid sampling rate with the command-line option that gives one (the
    loaders' own message names the app's field and the Python argument)."""
    from cardioagent.tools.errors import SamplingRateError

    try:
        yield
    except SamplingRateError as exc:
        raise SamplingRateError(exc.file, exc.problem, FS_ACCEPTED.replace("--fs", option)) from exc


def _expand(paths: list[str]) -> tuple[list[list[Path]], list[Path]]:
    """The record inputs (each a list of files to load together) and the folder entries left out.

    A file named on the command line is always tried (and its error is the command's error); in a folder,
    each candidate is loaded on its own, so that one bad or foreign file does not stop the rest."""
    named: list[Path] = []
    from_folders: list[list[Path]] = []
    ignored: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            named.append(p)
            continue
        files = sorted(q for q in p.iterdir() if q.is_file())
        headers = {q.stem for q in files if q.suffix.lower() == ".hea"}
        for q in files:
            suffix = q.suffix.lower()
            if suffix in _RECORDING_SUFFIXES:
                from_folders.append([q])
            elif not (suffix in _WFDB_PARTS and q.stem in headers):
                ignored.append(q)
    return ([named] if named else []) + from_folders, ignored


def _analyze(args: argparse.Namespace) -> int:
    from cardioagent.tools.errors import InputError
    from cardioagent.tools.report import analyze_recording, format_report
    from cardioagent.tools.report_table import table_row, write_table
    from cardioagent.tools.signal.loaders import load_files
    from cardioagent.tools.signal.select import select_channels

    inputs, ignored = _expand(args.files)
    named_count = sum(1 for p in map(Path, args.files) if not p.is_dir())
    reports, rows, skipped = [], [], []
    progress = _bar(len(inputs), enabled=len(inputs) > 3)
    for n, group in enumerate(inputs):
        from_folder = not (n == 0 and named_count)
        try:
            with fs_option_hint():
                recordings = load_files(group, sampling_rate_hz=args.fs)
            for rec in recordings:
                every_channel = rec.channel_names
                if args.channel:
                    rec = select_channels(rec, args.channel)
                report = analyze_recording(rec)
                reports.append(report)
                rows.append(table_row(report, every_channel, [Path(f).name for f in rec.source_files]))
        except InputError as exc:
            if not from_folder:
                raise
            skipped.append(f"{group[0].name}: {exc.problem}")
        progress.update(1)
    progress.close()
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    if ignored:
        print(
            f"note: {len(ignored)} file(s) that are not recordings left out: "
            + ", ".join(p.name for p in ignored[:5])
            + (" ..." if len(ignored) > 5 else ""),
            file=sys.stderr,
        )
    if not reports:
        raise InputError(
            ", ".join(args.files),
            "no recording could be read" + (f" ({len(skipped)} file(s) skipped)" if skipped else ""),
            "folders or files of recordings (.hea with .dat/.mat, .edf, .csv, .npy/.npz)",
        )
    if args.table:
        n = write_table(rows, args.table)
        print(f"wrote {n} row(s) to {args.table}", file=sys.stderr)
    if args.json:
        payload = [r.model_dump(mode="json") for r in reports]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=1))
    elif not (args.table and args.quiet):
        print("\n\n".join(format_report(r) for r in reports))
    return 0


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="analysing",
        unit="file",
        disable=not enabled or not sys.stderr.isatty(),
        file=sys.stderr,
        leave=False,
    )


def _render(args: argparse.Namespace) -> int:
    from cardioagent.tools.signal.loaders import load_files
    from cardioagent.tools.signal.recording import Modality

    with fs_option_hint():
        recordings = load_files(args.file, sampling_rate_hz=args.fs)
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


def _digitize(args: argparse.Namespace) -> int:
    import json

    from PIL import Image

    from cardioagent.tools.errors import InputError
    from cardioagent.tools.signal.digitize import NotAnEcgPageError, digitize_ecg_image
    from cardioagent.tools.signal.digitize.export import write_csv, write_wfdb
    from cardioagent.tools.signal.loaders import load_recording

    rec = load_recording(args.image)
    if rec.image is None:
        raise InputError(
            rec.name, "is not an image", "a PNG or JPEG photo, scan or screenshot, or a PDF page"
        )
    try:
        dig = digitize_ecg_image(rec.image)
    except NotAnEcgPageError as exc:
        raise InputError(
            rec.name, f"it could not be read as an ECG ({exc})", "a photo of a printed ECG"
        ) from exc
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_wfdb(dig, out.parent, out.stem) if out.suffix == ".hea" else [write_csv(dig, out)]
    if args.page:
        Image.fromarray(dig.rectified).save(args.page)
        written.append(args.page)
    if args.json:
        print(
            json.dumps({"files": [str(p) for p in written], **dig.report.model_dump(mode="json")}, indent=1)
        )
        return 0
    rep = dig.report
    print(f"{rec.name}: {rep.layout}, {rep.rows} rows, {rep.calibration_pulses} calibration pulses")
    for lead in rep.leads:
        print(
            f"  {lead.lead:4} {lead.start_s:4.1f}-{lead.start_s + lead.duration_s:4.1f} s  trace found "
            f"{lead.found_fraction:.0%}  confidence {lead.quality.value}"
        )
    for w in rep.warnings:
        print(f"  note: {w}")
    for p in written:
        print(p)
    return 0


def _tools_list(args: argparse.Namespace) -> int:
    from cardioagent.tools.registry import default_registry

    reg = default_registry(refresh=True)
    specs = reg.specs()
    if args.json:
        print(json.dumps([s.model_dump() for s in specs], indent=1))
        return 0
    # Column widths follow the longest entry, so long plugin or tool names do not shift the columns.
    head = ("tool", "title", "plugin", "modalities", "status")
    rows = [
        (
            s.name,
            s.title,
            f"[{s.plugin}]",
            ",".join(s.modalities),
            "available" if s.available else f"unavailable: {s.unavailable_reason}",
        )
        for s in specs
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    for row, spec in zip([head, *rows], [None, *specs], strict=False):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
        if spec is not None:
            print(textwrap.fill(spec.description, width=100, initial_indent="    ", subsequent_indent="    "))
    for p in reg.problems:
        print(f"BROKEN plugin {p.plugin}{'/' + p.tool if p.tool else ''}: {p.problem}")
    return 0


def _tools_check(args: argparse.Namespace) -> int:
    from cardioagent.tools.registry import default_registry

    reg = default_registry(refresh=True)
    for s in reg.specs():
        print(
            f"ok      {s.name} ({s.plugin})"
            + ("" if s.available else f" — unavailable: {s.unavailable_reason}")
        )
    for p in reg.problems:
        print(f"broken  {p.plugin}{'/' + p.tool if p.tool else ''}: {p.problem}")
    return 1 if reg.problems else 0
