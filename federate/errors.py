"""Errors grouped by what the caller should do, each with a stable code and an exit code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

# What this tool's secrets look like in a file: a PEM block (the signing key) or a run of 32+
# hex digits (a pseudonym key is 64). No message echoes one back: a key file given where an
# export was expected would otherwise be shown as a "column". Fingerprints (16 hex) stay.
_SECRET = re.compile(
    r"-----BEGIN[^-]*-----.*?(?:-----END[^-]*-----|\Z)"
    r"|(?<![0-9A-Za-z])[0-9A-Fa-f]{32,}(?![0-9A-Za-z])",
    re.S,
)
HIDDEN = "(hidden: looks like a key)"


def redact(text: str) -> str:
    """``text`` with anything that could be a key replaced."""
    return _SECRET.sub(HIDDEN, text)


class ExitCode(IntEnum):
    OK = 0
    QUARANTINED = 1
    BAD_INPUT = 2
    REFUSED = 3
    INTERNAL = 70
    INTERRUPTED = 130


@dataclass(frozen=True)
class Location:
    """Where in a site's own export a problem sits, in the site's own words."""

    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    rule: str | None = None

    def describe(self) -> str:
        parts = []
        if self.file:
            parts.append(f"file {self.file}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {redact(self.column)!r}")
        if self.value is not None:
            parts.append(f"value {redact(self.value)!r}")
        if self.rule:
            parts.append(f"rule: {self.rule}")
        return ", ".join(parts)


class FederateError(Exception):
    """Root of every error the tool reports to a user rather than as a bug."""

    exit_code: ExitCode = ExitCode.BAD_INPUT
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, where: Location | None = None):
        message = redact(message)
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.where = where

    def __str__(self) -> str:
        if self.where and (detail := self.where.describe()):
            return f"{self.message} ({detail})"
        return self.message


class UsageError(FederateError):
    """The command was called wrongly: nothing was read or written."""

    code = "usage"


class InputError(FederateError):
    """An input cannot be read or is not what its declaration says: nothing was written."""

    code = "bad-input"


class IntegrityError(FederateError):
    """Refused: accepting this would break the integrity of the data (checksums, versions)."""

    exit_code = ExitCode.REFUSED
    code = "integrity"


class PrivacyError(FederateError):
    """Refused: going on could disclose what must not be disclosed."""

    exit_code = ExitCode.REFUSED
    code = "privacy"
