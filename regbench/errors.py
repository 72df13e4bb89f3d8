"""The one error type for what a user asked for, as opposed to a bug in regbench or in their code.

Every error a user can fix by changing a flag, a file or a config (a missing data folder, an
unknown config, a malformed results file, a factory that does not accept a keyword) derives
from ``UsageError``. The command line prints those in one line and exits 2; anything else is a
bug, and keeps its traceback. It derives from ValueError, so code catching ValueError still works.
"""

from __future__ import annotations

__all__ = ["UsageError", "first_line"]


class UsageError(ValueError):
    """A problem with what the user asked for; the message names it and says how to fix it."""


def first_line(error: BaseException) -> str:
    """An exception's message, first line only: what a one-line report shows."""
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
