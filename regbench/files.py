"""Writing files so that nothing is half-written and nothing finished is lost.

Whole files (results, reports, plots) are written to a temporary name beside their target and
renamed into place only when complete. Journals grow by whole lines, each flushed and fsynced
before the next cell is reported done. JSON is written without NaN (as null), so any reader
loads it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["append_line", "atomic_path", "finite_or_none", "locked", "write_json"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the process's umask, which only os.umask reports (by setting it)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; the finished file gets the mode any new file would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path | str, payload: dict) -> None:
    """Write JSON atomically (NaN written as null, so any JSON reader can load it)."""
    text = json.dumps(finite_or_none(payload), indent=1, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


def finite_or_none(value: object) -> object:
    """NaN and inf are not JSON; null says 'no value' honestly."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def append_line(path: Path | str, payload: dict) -> None:
    """Append one JSON object as one line, flushed and fsynced: once this returns, a crash cannot lose it."""
    line = json.dumps(finite_or_none(payload), allow_nan=False, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) for the block: one writer at a time across processes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
