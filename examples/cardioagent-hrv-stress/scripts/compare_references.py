"""Print the index this plugin reports next to independent references (the figures in the README).

    python examples/cardioagent-hrv-stress/scripts/compare_references.py [SHARED_DATA_FOLDER]

References: the cardiologists' N-to-N intervals of MIT-BIH record 100, and neurokit2's own R-peaks of
simulated ECGs put through the same math. Needs the real data of ``../shared/data`` (or the folder given)
for the MIT-BIH and ICU rows; the simulated rows always run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import neurokit2 as nk
import numpy as np
from cardioagent_hrv_stress import clean_rr, stress_index

from cardioagent.tools.contract import ToolContext
from cardioagent.tools.registry import ToolRegistry
from cardioagent.tools.signal.loaders import load_files
from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality, Recording

REPO = Path(__file__).resolve().parents[3]
BEAT_SYMBOLS = list("NLRBAaJSVrFejnE/fQ?")


def run_tool(registry: ToolRegistry, rec: Recording, channel: str | None = None):
    ctx = ToolContext(get_recording={rec.id: rec}.__getitem__, artifacts_dir=Path(tempfile.mkdtemp()))
    return registry.run("hrv_stress_index", {"recording_id": rec.id, "channel": channel}, ctx)


def row(label: str, result, reference: str) -> None:
    value = "-" if result.stress_index.value is None else f"{result.stress_index.value:.1f}"
    print(f"| {label} | {value} ({result.quality.value}), {result.intervals_used} intervals | {reference} |")


def main() -> None:
    shared = Path(
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("CARDIOAGENT_SHARED_DATA", REPO.parent / "shared" / "data")
    )
    registry = ToolRegistry().discover()
    print("| recording | this tool | reference |\n|---|---|---|")
    mitbih = shared / "mitbih"
    if mitbih.is_dir():
        rec = load_files(sorted(mitbih.glob("100.*")))[0]
        atr = next(a for a in rec.annotations if a.source == "atr")
        beat = np.isin(atr.symbols, BEAT_SYMBOLS)
        samples, symbols = np.asarray(atr.samples)[beat], np.asarray(atr.symbols)[beat]
        normal = (symbols[1:] == "N") & (symbols[:-1] == "N")
        ref = stress_index((np.diff(samples) / rec.sampling_rate_hz)[normal])
        row("MIT-BIH 100, MLII", run_tool(registry, rec), f"{ref:.1f} from the annotated N-to-N intervals")
    icu = shared / "icu_ppg_ecg"
    if icu.is_dir():
        rec = load_files(sorted(icu.glob("a103l.*")))[0]
        for channel in ("V", "II", "PLETH"):
            row(f"ICU a103l, {channel}", run_tool(registry, rec, channel), "no reference (channels compared)")
    for std in (1, 6):
        ecg = nk.ecg_simulate(
            duration=120, sampling_rate=250, heart_rate=70, heart_rate_std=std, random_state=1
        )
        rec = Recording(
            id=f"sim{std}",
            name=f"sim{std}",
            source_files=[],
            format="numpy",
            modality=Modality.ECG,
            sampling_rate_hz=250,
            channels=[Channel(name="II", kind=ChannelKind.ECG, unit="mV")],
            signal=ecg.reshape(-1, 1),
        )
        _, info = nk.ecg_peaks(ecg, sampling_rate=250)
        kept, _ = clean_rr(np.diff(info["ECG_R_Peaks"]) / 250)
        row(
            f"ecg_simulate 120 s, 70 bpm, heart_rate_std={std}",
            run_tool(registry, rec),
            f"{stress_index(kept):.1f} from neurokit2's R-peaks, same math",
        )


if __name__ == "__main__":
    main()
