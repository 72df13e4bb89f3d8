"""A history of results across commits: each commit's results filed once, every metric drawn over commits.

``regbench history add RESULTS --dir HISTORY`` copies a results document into HISTORY under the
commit that produced it; ``regbench history report --dir HISTORY --out DIR`` writes
``DIR/history.html``: per metric, each config's mean with its 95% interval at every commit, and
every step between consecutive commits that the gate (``regbench compare``, same alpha and
minimum effects) calls a regression marked where it happened. Consecutive commits whose files the
gate refuses to compare (other hardware, other settings) are shown, with the reason, not judged.

HISTORY holds one file per commit (``<commit>.json``, the results document as ``regbench run``
wrote it) and ``index.json``, the commits in order: by commit date where git knows the commit,
else by the date the results were made. Both are written atomically under a lock, so parallel
CI jobs can append to one folder.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2

from regbench import files
from regbench.compare import ALPHA, RULES, GateRefused, Measurements, compare, load_measurements
from regbench.compare.rules import rule_of
from regbench.errors import UsageError
from regbench.plots import colors, plt
from regbench.results import CONFIDENCE, load_results, metric_ci

__all__ = ["Entry", "Step", "add", "history_figure", "load_index", "render_page", "steps", "write_report"]

INDEX = "index.json"
_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("regbench", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)


@dataclass(frozen=True)
class Entry:
    """One filed commit: where its results are, and what orders it among the others."""

    commit: str
    file: str  # relative to the history folder
    date: str  # ISO 8601: the commit's date where git knows it, else when its results were made
    subject: str = ""
    added: str = ""

    @property
    def short(self) -> str:
        return self.commit[:8]


def _git(args: list[str], cwd: Path) -> str | None:
    """A git command's output, or None outside a repository or for an unknown revision."""
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _describe_commit(commit: str | None, doc: dict, cwd: Path) -> tuple[str, str, str]:
    """(full SHA, date, subject) of the commit a document is filed under; git fills in what it knows."""
    named = commit or doc["environment"].get("git_commit")
    if not named:
        raise UsageError(
            "the results do not record the commit that made them (run outside a git checkout?); "
            "name it with --commit SHA"
        )
    known = _git(["rev-parse", "--verify", "--quiet", f"{named}^{{commit}}"], cwd)
    if known is None and not _SHA.match(named):
        raise UsageError(
            f"--commit {named!r} is neither a commit of the repository here nor a hexadecimal SHA; "
            "give the SHA of the commit that produced the results"
        )
    sha = known or named.lower()
    shown = _git(["show", "-s", "--format=%cI%n%s", sha], cwd) if known else None
    if shown:
        date, _, subject = shown.partition("\n")
        return sha, date, subject
    return sha, str(doc["environment"].get("created") or ""), ""


def load_index(directory: Path | str) -> list[Entry]:
    """The filed commits, oldest first; an empty or missing history has none."""
    path = Path(directory) / INDEX
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [Entry(**item) for item in raw["commits"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path} is not a regbench history index ({exc}); point --dir at a folder made by `regbench history add`"
        ) from exc


def _write_index(directory: Path, entries: list[Entry]) -> None:
    """Keep the index in commit order, so every reader sees the same sequence."""
    ordered = sorted(entries, key=lambda e: (_instant(e.date), e.added))
    files.write_json(directory / INDEX, {"commits": [e.__dict__ for e in ordered]})


def _instant(date: str) -> datetime:
    """An ISO date as a comparable instant (unknown dates first)."""
    try:
        moment = datetime.fromisoformat(date)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def add(
    results_path: Path | str, directory: Path | str, *, commit: str | None = None, cwd: Path | str = "."
) -> tuple[Entry, bool]:
    """File a results document under its commit; (entry, False) when that very document was filed already."""
    results_path = Path(results_path)
    if results_path.is_dir():
        results_path = results_path / "results.json"
    doc = load_results(results_path)
    directory = Path(directory)
    sha, date, subject = _describe_commit(commit, doc, Path(cwd))
    with files.locked(directory / ".lock"):  # parallel CI jobs appending must not lose each other's entry
        entries = load_index(directory)
        filed = next((e for e in entries if e.commit == sha), None)
        if filed is not None:
            if load_results(directory / filed.file) == doc:
                return filed, False
            raise UsageError(
                f"commit {sha[:12]} already has other results in the history ({directory / filed.file}); "
                "a commit is filed once: delete that file and its line in index.json to replace it"
            )
        entry = Entry(
            commit=sha,
            file=f"{sha}.json",
            date=date,
            subject=subject,
            added=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        files.write_json(directory / entry.file, doc)
        _write_index(directory, entries + [entry])
    return entry, True


@dataclass
class Step:
    """What the gate said about one commit against the one before it."""

    before: Entry
    after: Entry
    regressions: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (config, metric) -> the change with its interval
    improvements: dict[tuple[str, str], str] = field(default_factory=dict)
    refused: str = ""  # why the two files do not compare, when they do not


def _change(row) -> str:
    """A gate row's change as the history page states it."""
    if rule_of(row.metric).speed:
        return f"x{row.change:.3f} [{row.ci[0]:.3f}, {row.ci[1]:.3f}]"
    return f"{row.change:+.4f} [{row.ci[0]:+.4f}, {row.ci[1]:+.4f}]"


def steps(measured: list[Measurements], entries: list[Entry]) -> list[Step]:
    """The gate's verdict on every step between consecutive commits: the regressions it would fail, with their
    changes.
    """
    found = []
    for (before, a), (after, b) in zip(zip(entries, measured), list(zip(entries, measured))[1:]):
        step = Step(before, after)
        try:
            report = compare(a, b)
        except GateRefused as exc:
            step.refused = str(exc)
        else:
            for row in report.rows:
                if row.verdict == "regression":
                    step.regressions[(row.group, row.metric)] = _change(row)
                elif row.verdict == "improved":
                    step.improvements[(row.group, row.metric)] = _change(row)
        found.append(step)
    return found


def _metrics(measured: list[Measurements]) -> list[str]:
    """Metrics to draw, in the gate's order: every judged one some commit measured."""
    present = {m for meas in measured for _, m in meas.values}
    return [m for m in RULES if m in present and rule_of(m).better != 0]


def _groups(measured: list[Measurements], metric: str) -> list[str]:
    """Configs (dataset/config in suites) that measured a metric at some commit, in first-seen order."""
    return list(dict.fromkeys(g for meas in measured for g, m in meas.values if m == metric))


def history_figure(
    metric: str, groups: list[str], measured: list[Measurements], entries: list[Entry], found: list[Step]
) -> plt.Figure:
    """Small multiples, one panel per config: the metric's mean and CI at each commit, each step the gate fails
    marked in red.
    """
    columns = min(4, len(groups))
    rows = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.6 * rows), squeeze=False, sharex=True)
    x = list(range(len(entries)))
    color = colors(1)[0]
    for ax, group in zip(axes.flat, groups):
        stats = [metric_ci(metric, meas.values.get((group, metric), [])) for meas in measured]
        mean, low, high = (list(v) for v in zip(*stats))
        ax.plot(x, mean, "o-", color=color, markersize=3)
        ax.fill_between(
            x,
            [lo if not math.isnan(lo) else m for lo, m in zip(low, mean)],
            [hi if not math.isnan(hi) else m for hi, m in zip(high, mean)],
            color=color,
            alpha=0.25,
        )
        bad = [i + 1 for i, s in enumerate(found) if (group, metric) in s.regressions]
        if bad:
            ax.plot(bad, [mean[i] for i in bad], "v", color="red", markersize=8)
        ax.set_title(group, fontsize=9)
        ax.set_xticks(x, [e.short for e in entries], rotation=45, fontsize=7)
        for i, step in enumerate(found):
            if step.refused:
                ax.axvline(i + 0.5, color="grey", linestyle="--", linewidth=1)
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    fig.supylabel(rule_of(metric).title)
    fig.supxlabel("commit (oldest first)")
    handles = [
        plt.Line2D([], [], marker="o", color=color, markersize=3),
        plt.Rectangle((0, 0), 1, 1, color=color, alpha=0.25),
        plt.Line2D([], [], marker="v", color="red", markersize=8, linestyle="none"),
        plt.Line2D([], [], color="grey", linestyle="--"),
    ]
    labels = [
        "mean across seeds",
        f"{CONFIDENCE:.0%} CI",
        "regression from the commit before (gate)",
        "step not judged (files do not compare)",
    ]
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def _embedded(fig: plt.Figure) -> str:
    """A figure as the page embeds it (PNG, base64): the page needs no neighbouring files."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(values: list[float], metric: str, step: Step | None, group: str) -> dict:
    """One table cell: the commit's mean [CI], marked when the step into this commit regressed."""
    if not values:
        return {"shown": "", "mark": ""}
    mean, low, high = metric_ci(metric, values)
    digits = 0 if rule_of(metric).speed else 4
    shown = f"{mean:,.{digits}f}" + ("" if math.isnan(low) else f" [{low:,.{digits}f}, {high:,.{digits}f}]")
    if step is not None and (group, metric) in step.regressions:
        return {"shown": shown, "mark": "regression", "why": step.regressions[(group, metric)]}
    if step is not None and (group, metric) in step.improvements:
        return {"shown": shown, "mark": "improved", "why": step.improvements[(group, metric)]}
    return {"shown": shown, "mark": ""}


def render_page(directory: Path | str) -> str:
    """The history page for a history folder."""
    directory = Path(directory)
    entries = load_index(directory)
    if not entries:
        raise UsageError(
            f"{directory} holds no history: file results first with `regbench history add RESULTS --dir {directory}`"
        )
    measured = [load_measurements(directory / e.file) for e in entries]
    found = steps(measured, entries)
    into = [None] + found  # the step that led into each commit
    sections = []
    for metric in _metrics(measured):
        groups = _groups(measured, metric)
        table = [
            {
                "group": g,
                "cells": [
                    _cell(meas.values.get((g, metric), []), metric, step, g) for meas, step in zip(measured, into)
                ],
            }
            for g in groups
        ]
        sections.append(
            {
                "metric": metric,
                "title": rule_of(metric).title,
                "figure": _embedded(history_figure(metric, groups, measured, entries, found)),
                "rows": table,
            }
        )
    regressions = [
        {"before": s.before.short, "after": s.after.short, "group": g, "metric": rule_of(m).title, "change": c}
        for s in found
        for (g, m), c in s.regressions.items()
    ]
    return _TEMPLATES.get_template("history.html").render(
        commits=entries,
        sections=sections,
        regressions=regressions,
        refused=[s for s in found if s.refused],
        confidence=f"{CONFIDENCE:.0%}",
        gate_confidence=f"{1 - ALPHA:.0%}",
    )


def write_report(directory: Path | str, out: Path | str) -> Path:
    """Write ``out/history.html`` atomically; returns its path."""
    page = render_page(directory)
    path = Path(out) / "history.html"
    with files.atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
