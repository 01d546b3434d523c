"""Guess what a channel holds from its name, and what a recording is from its channels.

File formats name their channels freely ("II", "MLII", "ecg_chest", "PLETH", "acc_x", "ABP"). Tools need
to know which columns are ECG and which are PPG, so every loader passes its names through here.
"""

from __future__ import annotations

import re

from cardioagent.tools.signal.recording import Channel, ChannelKind, Modality

# Names are compared after lower-casing and removing spaces, dashes, dots and underscores, so "V 1",
# "lead_II" and "ECG-II" all reach the same pattern.
_ECG_PATTERNS = [
    r"(lead)?(i|ii|iii|avr|avl|avf|v|v\d|v\dr|mli|mlii|mliii|mv\d|mcl\d|ml\d|cm\d|cc\d|d1|d2|d3)(lead)?",
    r"(ecg|ekg).*",
    r".*(ecg|ekg)",
]
_PPG_PATTERNS = [r"(ppg|pleth|bvp|photopleth).*", r".*(ppg|pleth)"]
_ACCEL_PATTERNS = [r"acc.*", r"a[xyz]", r".*accel.*"]
_RESP_PATTERNS = [r"(resp|respiration|breath|thor|thorax|abdo|abdomen|airflow|flow).*"]
_BP_PATTERNS = [r"(abp|art|aobp|fap|pap|nbp|uap|bp)\d*(mean|sys|dia)?", r".*(bloodpressure|arterial).*"]

_RULES: list[tuple[ChannelKind, list[re.Pattern[str]]]] = [
    (kind, [re.compile(p) for p in patterns])
    for kind, patterns in [
        (ChannelKind.ECG, _ECG_PATTERNS),
        (ChannelKind.PPG, _PPG_PATTERNS),
        (ChannelKind.ACCEL, _ACCEL_PATTERNS),
        (ChannelKind.RESP, _RESP_PATTERNS),
        (ChannelKind.BP, _BP_PATTERNS),
    ]
]

_UNIT_IN_NAME = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<unit>[^\)\]]*)[\)\]]\s*$")


def _squash(name: str) -> str:
    return re.sub(r"[\s\-_.:/]+", "", name.strip().lower())


def guess_channel_kind(name: str) -> ChannelKind:
    """ECG for limb/precordial/Holter lead names and anything called ECG/EKG; PPG for PLETH/PPG/BVP; and
    so on. OTHER when the name says nothing we recognise (e.g. ``ch1``)."""
    squashed = _squash(split_unit(name)[0])
    for kind, patterns in _RULES:
        if any(p.fullmatch(squashed) for p in patterns):
            return kind
    return ChannelKind.OTHER


def split_unit(name: str) -> tuple[str, str]:
    """``"ecg (mV)"`` -> ``("ecg", "mV")``; names without a bracketed unit come back with ``""``."""
    m = _UNIT_IN_NAME.match(name)
    if m and m.group("name"):
        return m.group("name").strip(), m.group("unit").strip()
    return name.strip(), ""


_UNIT_ALIASES = {"mv": "mV", "uv": "uV", "µv": "uV", "μv": "uV", "v": "V", "nu": "NU", "mmhg": "mmHg"}
# ECG is held in mV everywhere; other scales are converted at load time.
_TO_MILLIVOLT = {"mV": 1.0, "uV": 1e-3, "V": 1e3}


def normalise_unit(unit: str) -> str:
    u = unit.strip()
    return _UNIT_ALIASES.get(u.lower(), u)


def millivolt_scale(kind: ChannelKind, unit: str) -> tuple[float, str]:
    """Factor that brings an ECG channel to mV, and the unit to record. Non-ECG channels keep theirs."""
    unit = normalise_unit(unit)
    if kind == ChannelKind.ECG and unit in _TO_MILLIVOLT:
        return _TO_MILLIVOLT[unit], "mV"
    return 1.0, unit


def make_channels(names: list[str], units: list[str] | None = None) -> list[Channel]:
    units = units or [""] * len(names)
    return [
        Channel(name=n, kind=guess_channel_kind(n), unit=normalise_unit(u))
        for n, u in zip(names, units, strict=False)
    ]


def modality_of(channels: list[Channel]) -> Modality | None:
    """ECG if there are ECG channels and no PPG, PPG if PPG and no ECG, MIXED if both; None if neither
    (the caller decides what an unnamed recording is)."""
    kinds = {c.kind for c in channels}
    has_ecg, has_ppg = ChannelKind.ECG in kinds, ChannelKind.PPG in kinds
    if has_ecg and has_ppg:
        return Modality.MIXED
    if has_ecg:
        return Modality.ECG
    if has_ppg:
        return Modality.PPG
    return None
