"""What a check run returns: one Result per invariant, gathered in a Report that prints as a table or JSON."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from regbench.errors import UsageError

KINDS = ("model", "loss", "transform", "config")
MAX_EXAMPLES = 30  # per invariant: finds every bug in tests/test_checks.py, and a check run stays around a second
ALPHA = 1e-7  # false-failure budget of each statistical invariant per check run (the brief asks < 1e-6)


class CheckUsageError(UsageError):
    """The object cannot be checked as given (not found, unknown kind, no input shape); one line says why."""


class Status(str, enum.Enum):
    """Outcome of one invariant."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Result:
    """One invariant's verdict on one object; ``counterexample`` is the minimal input Hypothesis found."""

    invariant: str
    status: Status
    explanation: str  # passed: what was checked; failed: what it means and how to fix it; n/a: why not
    observed: str = ""  # what went wrong on the counterexample, or the measured numbers
    counterexample: Optional[str] = None

    def describe(self, subject: str) -> str:
        """The multi-line message a pytest failure or the table shows."""
        lines = [f"regbench invariant {self.invariant!r} {self.status.value} for {subject}"]
        if self.observed:
            lines.append(f"  observed: {self.observed}")
        if self.counterexample:
            lines.append(f"  counterexample: {self.counterexample}")
        lines.append(f"  {'fix' if self.status is Status.FAILED else 'note'}: {self.explanation}")
        return "\n".join(lines)


@dataclass
class Report:
    """Every invariant's result for one object, renderable as a table or JSON."""

    subject: str
    kind: str
    results: list[Result]
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no invariant failed (not-applicable ones do not count against it)."""
        return not self.failures

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.status is Status.FAILED]

    def __getitem__(self, invariant: str) -> Result:
        for result in self.results:
            if result.invariant == invariant:
                return result
        raise KeyError(
            f"no invariant {invariant!r} in this {self.kind} report; it has {[r.invariant for r in self.results]}"
        )

    def to_dict(self) -> dict:
        """Plain data: statuses as strings, for JSON."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "ok": self.ok,
            "settings": self.settings,
            "results": [{**asdict(r), "status": r.status.value} for r in self.results],
        }

    def to_json(self, **kwargs: Any) -> str:
        """The report for machines (``regbench check --json``)."""
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def render(self) -> str:
        """A table: one row per invariant, failures followed by their counterexample and fix."""
        labels = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.NOT_APPLICABLE: "n/a"}
        width = max(len(r.invariant) for r in self.results)
        options = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        lines = [f"{self.subject} ({self.kind}{'; ' + options if options else ''})"]
        for r in self.results:
            note = r.observed if r.status is Status.FAILED else (r.observed or r.explanation)
            lines.append(f"  {labels[r.status]:<4}  {r.invariant:<{width}}  {note}")
            if r.status is Status.FAILED:
                if r.counterexample:
                    lines.append(f"  {'':<4}  {'':<{width}}  counterexample: {r.counterexample}")
                lines.append(f"  {'':<4}  {'':<{width}}  fix: {r.explanation}")
        counts = {s: sum(r.status is s for r in self.results) for s in Status}
        lines.append(
            f"  {counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, {counts[Status.NOT_APPLICABLE]} not"
            " applicable"
        )
        return "\n".join(lines)
