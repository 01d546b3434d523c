"""Classical signal analyses over a ``Recording``. Each returns a pydantic ``ToolResult`` whose numbers are
``Measurement``s with units, a quality flag and a one-line method:

    from cardioagent.tools.analysis import assess_quality, detect_peaks, heart_rate, hrv, intervals, rhythm
"""

from cardioagent.tools.analysis.heart_rate import heart_rate
from cardioagent.tools.analysis.hrv import hrv
from cardioagent.tools.analysis.intervals import intervals
from cardioagent.tools.analysis.peaks import detect_peaks
from cardioagent.tools.analysis.quality import assess_quality
from cardioagent.tools.analysis.results import (
    ChannelQuality,
    DetectorAgreement,
    HeartRateResult,
    HrvResult,
    HrWindow,
    IntervalsResult,
    LeadIntervals,
    PeaksResult,
    QualityReport,
    RhythmResult,
)
from cardioagent.tools.analysis.rhythm import rhythm

__all__ = [
    "ChannelQuality",
    "DetectorAgreement",
    "HeartRateResult",
    "HrWindow",
    "HrvResult",
    "IntervalsResult",
    "LeadIntervals",
    "PeaksResult",
    "QualityReport",
    "RhythmResult",
    "assess_quality",
    "detect_peaks",
    "heart_rate",
    "hrv",
    "intervals",
    "rhythm",
]
