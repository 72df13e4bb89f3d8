"""Finding a user's object from a "module:attribute" reference, the way pytest finds test modules.

Shared by ``regbench check`` (models, losses, transforms, configs) and ``regbench run
--configs`` / ``--datasets`` (configs, datasets), so all find a module in the current directory
first, then on PYTHONPATH.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from regbench.errors import UsageError, first_line

__all__ = ["BadReference", "is_reference", "load_reference", "search_current_directory"]


class BadReference(UsageError):
    """A "module:attribute" that cannot be imported or found; the message says which part failed."""


def is_reference(text: str) -> bool:
    """True for "module:attribute" (a built-in config or dataset name never holds a colon)."""
    return ":" in text


def search_current_directory() -> None:
    """Put the current directory first on sys.path, as pytest and ``python -m`` do, so a user's modules import."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def load_reference(reference: str) -> Any:
    """``module:attribute`` (attribute may be dotted) imported from sys.path; BadReference with one line on any
    problem.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise BadReference(f"{reference!r} is not MODULE:ATTRIBUTE (e.g. my_models:MyNet)")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if (
            error.name
            and module_name.startswith(error.name)
            and (module_name == error.name or module_name[len(error.name)] == ".")
        ):
            raise BadReference(f"module {module_name!r} not found on the current directory or PYTHONPATH") from None
        raise BadReference(f"importing {module_name!r} failed: {error}") from None
    except UsageError as error:  # a config in the module refused its own arguments: that message says it all
        raise BadReference(f"importing {module_name!r} failed: {error}") from None
    except Exception as error:
        raise BadReference(f"importing {module_name!r} failed: {type(error).__name__}: {first_line(error)}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise BadReference(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj
