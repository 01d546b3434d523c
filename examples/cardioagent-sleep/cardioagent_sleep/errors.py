"""What the sleep stager refuses, as cardioagent input errors (the user sees the message, nothing retries)."""

from __future__ import annotations

from cardioagent.tools.errors import InputError, TooShortError

__all__ = ["DaytimeRecordingError", "GapError", "NoMotionError", "NotANightError", "TooShortError"]


class NoMotionError(InputError):
    """The recording has heart rate but no wrist motion (accelerometer or activity counts)."""


class GapError(InputError):
    """Heart rate or motion is missing for too long to stage the night."""


class DaytimeRecordingError(InputError):
    """The recording moves like a day, not like a night in bed."""


class NotANightError(InputError):
    """Too long to be one night."""
