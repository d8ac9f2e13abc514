"""Errors raised by the run store."""
from __future__ import annotations

from unipo.errors import UnipoError


class RunFormatError(UnipoError):
    """A run directory or one of its files is missing, malformed, or not a UNIPO run.

    The message always names the file (and the line or field when one is known).
    """


class StepNotFoundError(UnipoError, LookupError):
    """The requested step (or response/group inside it) is not in the run.

    A LookupError too, so a server can map it to 404 while mapping RunFormatError to 4xx/5xx.
    """
