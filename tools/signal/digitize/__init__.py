"""Photos, scans and screenshots of printed ECGs turned into signals: page finding and rectification
(``page``), ink and grid (``grid``), trace rows and calibration pulses (``trace``), page layouts
(``layout``), the chained digitizer (``digitize``), scoring against a source signal as the PhysioNet
Challenge 2024 does (``scoring``) and the digitized signal as CSV, WFDB or a Recording (``export``).

Pure image and signal math with no weights; imports only third-party libraries and ``tools.signal``.
"""

from cardioagent.tools.signal.digitize.digitize import (
    Digitization,
    DigitizedEcg,
    LeadDigitization,
    NotAnEcgPageError,
    PageReading,
    digitize_ecg_image,
    read_page,
)

__all__ = [
    "Digitization",
    "DigitizedEcg",
    "LeadDigitization",
    "NotAnEcgPageError",
    "PageReading",
    "digitize_ecg_image",
    "read_page",
]
