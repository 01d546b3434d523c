"""Choosing which channels of a recording to analyse (``cardioagent analyze --channel``).

A multi-sensor file (the SPC-2015 wrist recordings hold two PPG channels, accelerometry and a chest ECG) is
analysed as a whole by default, which picks the ECG; ``--channel ppg1`` or ``--channel ppg`` analyses the PPG.
"""

from __future__ import annotations

from cardioagent.tools.errors import InputError
from cardioagent.tools.signal.loaders.channel_kinds import modality_of
from cardioagent.tools.signal.recording import ChannelKind, Recording


def select_channels(rec: Recording, wanted: list[str]) -> Recording:
    """A copy of ``rec`` with only the channels named in ``wanted`` (names, case-insensitive, or a kind:
    'ecg', 'ppg'), its modality recomputed. Raises ``InputError`` naming the channels it has."""
    if rec.signal is None:
        raise InputError(
            rec.name, "an image has no channels to choose", "--channel only with signal recordings"
        )
    names = [c.name.lower() for c in rec.channels]
    kinds = {k.value for k in ChannelKind}
    picked: list[int] = []
    for w in wanted:
        key = w.strip().lower()
        if key in names:
            idx = [names.index(key)]
        elif key in kinds:
            idx = [i for i, c in enumerate(rec.channels) if c.kind.value == key]
        else:
            idx = []
        if not idx:
            raise InputError(
                rec.name,
                f"it has no channel or channel kind {w!r}",
                "one of its channels (" + ", ".join(c.name for c in rec.channels) + ") or a kind: ecg, ppg",
            )
        picked += [i for i in idx if i not in picked]
    channels = [rec.channels[i] for i in picked]
    modality = modality_of(channels)
    if modality is None:
        raise InputError(
            rec.name,
            "the chosen channels hold no ECG or PPG (" + ", ".join(c.name for c in channels) + ")",
            "at least one ECG or PPG channel",
        )
    return rec.model_copy(
        update={
            "channels": [c.model_copy() for c in channels],
            "signal": rec.signal[:, picked].copy(),
            "modality": modality,
        }
    )
