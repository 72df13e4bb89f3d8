"""The regression gate: is a candidate run measurably worse than a baseline?

``regbench compare BASELINE CANDIDATE`` reads two regbench results files (``regbench run``, the
generalization benchmark) or two pytest-benchmark JSON files (``pytest benchmarks
--benchmark-json``) and judges every metric from its raw values, every seed and every round:

- each (config or benchmark, metric) on its own (``verdicts``): accuracy, gap and loss by
  Welch's t interval across seeds, throughput by Welch's t interval of log throughput, both
  failing only when the whole interval lies beyond the metric's minimum effect; invariants
  (exactly 0 for correct code) by any nonzero value;
- each metric over all configs (or benchmarks) at once, the configs as strata (``stats``): a
  change every config shows a little of fails here even when no config alone can show it.

Modules by job: ``rules`` (minimum effects, what must match), ``inputs`` (reading either format,
refusing files that do not compare), ``benchfile`` (pytest-benchmark's JSON as raw rounds), ``stats`` (the intervals),
``verdicts`` (the rows and the
report), ``render`` (the table and the summary line), ``simulate`` (the false-failure rate,
measured by simulation from a results file's own spreads).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from regbench import results
from regbench.compare.inputs import (
    GateRefused,
    Measurements,
    config_changes,
    environment_mismatches,
    load_measurements,
    settings_mismatches,
)
from regbench.compare.render import render, summary_line
from regbench.compare.rules import ALPHA, RULES, SPEED_TOLERANCE, Rule
from regbench.compare.verdicts import POOLED, Report, Row, compare, judge_invariant, judge_seeds, judge_speed

__all__ = [
    "ALPHA",
    "POOLED",
    "RULES",
    "SPEED_TOLERANCE",
    "GateRefused",
    "Measurements",
    "Report",
    "Row",
    "Rule",
    "compare",
    "conclude",
    "config_changes",
    "environment_mismatches",
    "judge_invariant",
    "judge_seeds",
    "judge_speed",
    "load_measurements",
    "render",
    "run_gate",
    "settings_mismatches",
    "summary_line",
]


def run_gate(
    baseline: Path | str,
    candidate: Path | str,
    *,
    alpha: float = ALPHA,
    speed_tolerance: float = SPEED_TOLERANCE,
    allow_env_mismatch: bool = False,
    allow_settings_mismatch: bool = False,
    ignore: tuple[str, ...] = (),
    strict: bool = False,
    json_path: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Load, compare, print the table (and write JSON); 0 pass, 1 regression (or, with strict, undecidable)."""
    report = compare(
        load_measurements(baseline),
        load_measurements(candidate),
        alpha=alpha,
        speed_tolerance=speed_tolerance,
        allow_env_mismatch=allow_env_mismatch,
        allow_settings_mismatch=allow_settings_mismatch,
        ignore=ignore,
    )
    return conclude(report, strict=strict, json_path=json_path, out=out)


def conclude(report: Report, *, strict: bool = False, json_path: Path | None = None, out: TextIO | None = None) -> int:
    """Print a gate's table (and write its JSON); 0 pass, 1 regression (or, with strict, undecidable)."""
    print(render(report), file=out, flush=True)
    if json_path is not None:
        results.write_json(json_path, report.as_dict())
    if report.regressions or (strict and report.undecidable):
        return 1
    return 0
