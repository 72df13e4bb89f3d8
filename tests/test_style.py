"""The style guardrails CI holds: ruff's checks with the line length, and ruff's format, over every Python file."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = [
    "regbench",
    "tests",
    "properties",
    "benchmarks",
    "examples",
    "tools",
    "conftest.py",
]  # what pyproject's [tool.ruff] governs


def ruff(*args: str) -> subprocess.CompletedProcess:
    """ruff from this environment (the test extra installs it), with pyproject.toml's settings."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *PATHS], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_check_passes():
    """Pyflakes, syntax and statement errors, no line over 120 characters (`ruff check` names each)."""
    done = ruff("check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_the_code_is_formatted():
    """`ruff format` leaves every file as it is (to fix: `ruff format` over the same paths)."""
    done = ruff("format", "--check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
