"""Stable descriptions of what a run builds: factories by importable name, arguments as canonical JSON, short hashes.

Configs and datasets both describe themselves this way, so results files name what trained and
the gate never compares two different things under one name.
"""

from __future__ import annotations

import enum
import hashlib
import inspect
import json
import math
from typing import Any, Mapping, Optional

import torch

__all__ = ["described", "qualified_name", "stable_hash"]

HASH_LENGTH = 12  # hex digits: 48 bits, no accidental collision among any number of configs a person writes


def stable_hash(parts: dict) -> str:
    """sha256 of canonical JSON, shortened."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def qualified_name(obj: Any) -> Optional[str]:
    """'module:qualname' for a class or module-level function (what pickle imports by); None for anything else."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj) or isinstance(obj, enum.Enum)):
        return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(obj, enum.Enum):
        module, qualname = type(obj).__module__, f"{type(obj).__qualname__}.{obj.name}"
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        return None
    return f"{module}:{qualname}"


def described(value: Any) -> Any:
    """A keyword's value as JSON that means the same on every run: numbers, strings, lists, dicts, importable
    callables.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # JSON has no NaN; the factory will refuse it anyway
    if isinstance(value, (list, tuple)):
        return [described(v) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: described(v) for k, v in sorted(value.items())}
    if isinstance(value, torch.dtype):
        return str(value)
    name = qualified_name(value)
    if name is not None:
        return name
    raise TypeError(
        f"{value!r} ({type(value).__name__}) has no stable description; use numbers, strings, lists, dicts or"
        " importable classes and functions"
    )
