"""The gate's report as a markdown table and a summary line that never calls an undecided gate a pass."""

from __future__ import annotations

import math

from regbench.compare.rules import rule_of
from regbench.compare.verdicts import Report, Row

__all__ = ["render", "summary_line"]


def render(report: Report) -> str:
    """A markdown table of every row, the warnings, and a one-line result."""
    pct = f"{1 - report.alpha:.0%}"
    lines = [
        f"regbench compare: {report.baseline} (baseline) vs {report.candidate} (candidate), alpha {report.alpha:g}",
        "",
    ]
    lines += [f"warning: {w}" for w in report.warnings] + ([""] if report.warnings else [])
    header = ["config / benchmark", "metric", "baseline", "candidate", f"change [{pct} CI]", "p", "verdict", "why"]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    missing = [r for r in report.rows if r.verdict == "missing"]
    for r in report.rows:
        if r.verdict == "missing":
            continue
        fmt = _format_of(r.metric)
        cells = [
            r.group,
            r.metric,
            _value(r.baseline, fmt, r.n[0]),
            _value(r.candidate, fmt, r.n[1]),
            _change(r),
            _p(r.p_value),
            f"**{r.verdict}**" if r.verdict in ("regression", "undecidable") else r.verdict,
            r.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if missing:
        groups = list(dict.fromkeys(r.group for r in missing))
        shown = ", ".join(groups[:5]) + (f" and {len(groups) - 5} more" if len(groups) > 5 else "")
        lines += [
            "",
            (
                f"{len(missing)} baseline metric(s) of {len(groups)} config(s)/benchmark(s) have no candidate values"
                f" (not run, or every run failed): {shown}"
            ),
        ]
    lines += ["", summary_line(report)]
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    """FAIL with what failed (pooled rows first); PASS only when every row was judged; otherwise what could not be,
    and what would decide it.
    """
    counts = {
        v: sum(r.verdict == v for r in report.rows)
        for v in ("regression", "undecidable", "improved", "changed", "missing")
    }
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    if report.regressions:
        names = [f"{r.group} {r.metric}" for r in report.regressions]
        which = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"gate: FAIL: {len(report.regressions)} regression(s): {which} ({tally})"
    if report.undecidable:
        return (
            f"gate: UNDECIDED: no regression found, but {len(report.undecidable)} of {len(report.rows)} rows could not"
            " be judged: "
            + "; ".join(_advice(report, metric) for metric in dict.fromkeys(r.metric for r in report.undecidable))
            + f" ({tally})"
        )
    return f"gate: PASS ({tally or 'every metric ok'})"


def _advice(report: Report, metric: str) -> str:
    """What would decide a metric's undecidable rows: the most seeds (or rounds) per side any of them needs, from the
    spread observed.
    """
    rows = [r for r in report.undecidable if r.metric == metric]
    groups = ", ".join(r.group for r in rows[:3]) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
    needed = [r.needed for r in rows if r.needed is not None]
    rule = rule_of(metric)
    effect = f"a {report.speed_tolerance:.0%} change" if rule.speed else f"a {rule.min_effect:g} change"
    if needed and len(needed) == len(rows):
        return f"{metric} ({groups}): {max(needed)} {report.unit} per side would resolve {effect}"
    return f"{metric} ({groups}): {rows[0].note}"


def _format_of(metric: str) -> str:
    """Throughput as whole numbers, everything else to four decimals."""
    return "{:,.0f}" if rule_of(metric).speed else "{:.4f}"


def _value(value: float, fmt: str, n: int) -> str:
    """'0.8812 (n=5)', or an en dash when there is none."""
    return "–" if math.isnan(value) else f"{fmt.format(value)} (n={n})"


def _change(row: Row) -> str:
    """'-0.0213 [-0.0301, -0.0125]' for a difference, 'x0.93 [0.90, 0.95]' for a speed ratio."""
    if math.isnan(row.change):
        return "–"
    speed = rule_of(row.metric).speed
    text = f"x{row.change:.3f}" if speed else f"{row.change:+.4f}"
    if not math.isnan(row.ci[0]):
        text += f" [{row.ci[0]:.3f}, {row.ci[1]:.3f}]" if speed else f" [{row.ci[0]:+.4f}, {row.ci[1]:+.4f}]"
    return text


def _p(p: float) -> str:
    """Three significant digits; tiny values as '<1e-6'."""
    if math.isnan(p):
        return "–"
    return "<1e-6" if p < 1e-6 else f"{p:.3g}"
