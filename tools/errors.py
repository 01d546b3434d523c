"""Typed, user-facing errors.

Every error a person can cause (a bad upload, a recording too short for a rate estimate) is raised as an
``InputError`` whose message names the file, says what was wrong and what is accepted. The UI and the CLI
show ``str(error)`` as it is; they never show a traceback.
"""

from __future__ import annotations


class CardioAgentError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(CardioAgentError):
    """Something about the user's input is wrong.

    ``file`` is the name the user knows the input by, ``problem`` what is wrong with it, ``accepted`` what
    would have been accepted instead.
    """

    def __init__(self, file: str, problem: str, accepted: str) -> None:
        self.file = file
        self.problem = problem
        self.accepted = accepted
        super().__init__(f"{file}: {problem}. Accepted: {accepted}.")


class UnsupportedFormatError(InputError):
    """The file type is not one we read."""


class CorruptFileError(InputError):
    """The file claims a format we read but cannot be parsed as it."""


class HeaderMismatchError(InputError):
    """A header disagrees with its data (lead count, sample count, missing data file)."""


class SamplingRateError(InputError):
    """The sampling rate is missing or outside 50 Hz .. 10 kHz."""


class EmptyChannelError(InputError):
    """A channel is all NaN or flat."""


class FileTooLargeError(InputError):
    """The upload is over the configured size limit."""


class TooShortError(InputError):
    """The recording is too short for the requested analysis."""


class ToolError(CardioAgentError):
    """A tool failed for a reason that is not the user's input (timeout, missing weights, internal bug)."""

    def __init__(self, tool: str, reason: str, retryable: bool = False) -> None:
        self.tool = tool
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"tool {tool!r} failed: {reason}")
