"""The one typed model every loader returns and every tool reads: ``Recording``.

Signals are held as a float64 array of shape (n_samples, n_channels) in physical units (mV for ECG,
arbitrary units for PPG, g for accelerometers). The array never leaves the process as text: tools and the
agent refer to a recording by its ``id`` (a content hash) and look it up in the session store.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

STANDARD_12_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


# What a loaded file is (``Recording.format``).
SourceFormat = Literal[
    "wfdb",
    "edf",
    "csv",
    "numpy",
    "image",
    "dicom",
    "hl7_aecg",
    "philips_xml",
    "ge_muse_xml",
    "scp_ecg",
    "apple_health_csv",
]
# The global measurements a recording device may state in its file (``DeviceMeasurement.quantity``).
DeviceQuantity = Literal[
    "heart_rate",
    "rr",
    "pr",
    "qrs",
    "qt",
    "qtc",
    "qtc_bazett",
    "qtc_fridericia",
    "p_axis",
    "qrs_axis",
    "t_axis",
]


class Modality(str, Enum):
    ECG = "ecg"
    PPG = "ppg"
    MIXED = "mixed"  # ECG and PPG channels in one recording (ICU monitors)
    ECG_IMAGE = "ecg_image"  # photo, scan or screenshot of a paper ECG
    WEARABLE = "wearable"  # heart rate (1 Hz or irregular) with wrist motion, e.g. a smartwatch night


class ChannelKind(str, Enum):
    ECG = "ecg"
    PPG = "ppg"
    ACCEL = "accel"
    RESP = "resp"
    BP = "bp"
    OTHER = "other"


class Channel(BaseModel):
    name: str
    kind: ChannelKind
    unit: str = ""


class Demographics(BaseModel):
    age: float | None = Field(default=None, description="years")
    sex: Literal["male", "female"] | None = None
    height_cm: float | None = None
    weight_kg: float | None = None

    def merged(self, other: Demographics | None) -> Demographics:
        """Fields of ``other`` (e.g. what the user typed) win over ours (what a header said)."""
        if other is None:
            return self
        data = self.model_dump()
        data.update({k: v for k, v in other.model_dump().items() if v is not None})
        return Demographics(**data)


class AnnotationSet(BaseModel):
    """Annotations of one kind from one source, e.g. the reference R-peaks of a WFDB ``.atr`` file."""

    source: str = Field(description="where they came from, e.g. 'atr' or 'qrs'")
    samples: list[int]
    symbols: list[str]


class DeviceMeasurement(BaseModel):
    """One global measurement as the recording device stated it in the file (not measured here)."""

    quantity: DeviceQuantity
    value: float
    unit: Literal["bpm", "ms", "deg"]


class DeviceStatement(BaseModel):
    """One interpretation statement of the device, with the reason it gave when it gave one."""

    text: str
    reason: str = ""


class DeviceReport(BaseModel):
    """What the file itself states about the ECG: the cart's measurements and interpretation, or a watch's
    classification. Kept apart from the project's own measurements: it is shown and compared, never used as
    a measurement or a diagnosis by the agent's rules."""

    device: str = Field(default="", description="manufacturer and model as the file names them")
    source_format: str = ""
    measurements: list[DeviceMeasurement] = Field(default_factory=list)
    statements: list[DeviceStatement] = Field(default_factory=list)
    severity: str = Field(default="", description="the device's overall verdict, e.g. 'ABNORMAL ECG'")
    classification: str = Field(
        default="", description="a consumer device's rhythm class, e.g. 'Sinus Rhythm'"
    )

    def get(self, quantity: str) -> DeviceMeasurement | None:
        return next((m for m in self.measurements if m.quantity == quantity), None)


class RecordingSummary(BaseModel):
    """What a person (or the LLM) is shown about a recording: no arrays."""

    id: str
    name: str
    format: str
    modality: Modality
    sampling_rate_hz: float | None
    duration_s: float | None
    channels: list[Channel]
    demographics: Demographics
    diagnoses: list[str]
    annotation_sources: list[str]
    image_size: tuple[int, int] | None = None
    acquired_at: datetime | None = None
    device_report: DeviceReport | None = None


class Recording(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str = Field(description="content hash of the source files; the key in the session store")
    name: str = Field(description="record name as the user knows it, e.g. 'E07500'")
    source_files: list[str]
    format: SourceFormat
    modality: Modality
    sampling_rate_hz: float | None = None
    channels: list[Channel] = Field(default_factory=list)
    signal: np.ndarray | None = Field(default=None, exclude=True, repr=False)
    image: np.ndarray | None = Field(default=None, exclude=True, repr=False, description="H x W x 3 uint8")
    demographics: Demographics = Field(default_factory=Demographics)
    diagnoses: list[str] = Field(default_factory=list, description="SNOMED-CT codes from the header (# Dx:)")
    annotations: list[AnnotationSet] = Field(default_factory=list)
    header_comments: list[str] = Field(default_factory=list)
    acquired_at: datetime | None = Field(default=None, description="acquisition time the file states")
    device_report: DeviceReport | None = Field(
        default=None, description="what the recording device stated (clinical formats); not a measurement"
    )

    @property
    def n_samples(self) -> int:
        return 0 if self.signal is None else int(self.signal.shape[0])

    @property
    def duration_s(self) -> float | None:
        if self.signal is None or not self.sampling_rate_hz:
            return None
        return self.n_samples / self.sampling_rate_hz

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    def channel_index(self, name: str) -> int:
        lowered = [c.lower() for c in self.channel_names]
        try:
            return lowered.index(name.lower())
        except ValueError:
            raise KeyError(f"{self.name} has no channel {name!r}; it has {self.channel_names}") from None

    def channel_data(self, name_or_index: str | int) -> np.ndarray:
        if self.signal is None:
            raise ValueError(f"{self.name} is an image, not a signal")
        idx = name_or_index if isinstance(name_or_index, int) else self.channel_index(name_or_index)
        return self.signal[:, idx]

    def indices_of(self, kind: ChannelKind) -> list[int]:
        return [i for i, c in enumerate(self.channels) if c.kind == kind]

    def summary(self) -> RecordingSummary:
        return RecordingSummary(
            id=self.id,
            name=self.name,
            format=self.format,
            modality=self.modality,
            sampling_rate_hz=self.sampling_rate_hz,
            duration_s=None if self.duration_s is None else round(self.duration_s, 3),
            channels=self.channels,
            demographics=self.demographics,
            diagnoses=self.diagnoses,
            annotation_sources=[a.source for a in self.annotations],
            image_size=None if self.image is None else (int(self.image.shape[1]), int(self.image.shape[0])),
            acquired_at=self.acquired_at,
            device_report=self.device_report,
        )
