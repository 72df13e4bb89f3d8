"""report.html: one self-contained page beside report.md, what a user opens after a run.

Rendered with a Jinja2 template (``templates/report.html``; Jinja2 escapes every config name and
error text, and torch already depends on it). Figures are the PNGs the run wrote, embedded as
data URIs: the page opens from disk with no network and no neighbouring files, and PNG keeps a
26-panel figure small where SVG's paths would not. The summary table sorts by any column (a few
lines of inline script, numbers by value). Sections: one per dataset (its table, its
regularization paths, its figures), the ranking across datasets when a suite ran, the runs that
did not finish, the environment and settings, and a link to results.json.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import jinja2

from regbench.report.tables import SUMMARY_COLUMNS, format_cell, path_tables
from regbench.results import CONFIDENCE, by_dataset, summarize

__all__ = ["render_html"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("regbench", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)


def _figure(path: Path) -> dict:
    """A PNG as the template embeds it."""
    return {"name": path.stem, "data": base64.b64encode(path.read_bytes()).decode("ascii")}


def _summary_rows(runs: list[dict]) -> list[list[dict]]:
    """Each config's row: its shown text and the value a column sorts by (the mean; the name for text)."""
    rows = []
    for row in summarize(runs):
        finished = row["runs"] - row["failed"]
        cells = [
            {"shown": row["config"], "value": row["config"], "text": True},
            {
                "shown": f"{finished}" + (f" ({row['failed']} did not finish)" if row["failed"] else ""),
                "value": finished,
                "text": False,
            },
        ]
        for key, _, fmt in SUMMARY_COLUMNS:
            mean = row[key][0]
            cells.append(
                {"shown": format_cell(row[key], fmt), "value": "" if math.isnan(mean) else repr(mean), "text": False}
            )
        rows.append(cells)
    return rows


def _belongs(figure: Path, dataset: str, several: bool) -> bool:
    """Whether a plot is this dataset's: in a suite each file name ends with its dataset's name."""
    return not several or figure.stem.endswith(f"_{dataset}")


def render_html(results: dict, plots: list[Path], *, ranking: str = "", ranking_plots: list[Path] = ()) -> str:
    """The page for one results document: ``plots`` are the PNGs written beside it, ``ranking`` a suite's rank.md
    text.
    """
    parts = by_dataset(results)
    several = len(parts) > 1
    described = results.get("datasets") or {}
    sections = []
    for name, part in parts.items():
        d = described.get(name) or {}
        description = (
            f"{d.get('source', '?')}: {d.get('kind', '?')} {tuple(d.get('sample_shape') or ())},"
            f" {d.get('classes', '?')} classes, {d.get('train_size', '?')} train / {d.get('test_size', '?')} test"
            if d
            else ""
        )
        sections.append(
            {
                "name": name or "results",
                "title": name or "Results",
                "description": description,
                "rows": _summary_rows(part["runs"]),
                "paths": path_tables(part),
                "figures": [_figure(p) for p in plots if _belongs(p, name, several)],
            }
        )
    failed = [
        {
            "dataset": r.get("dataset") or "",
            "config": r["config"],
            "seed": r["seed"],
            "status": r["status"],
            "why": ((r.get("error") or "").strip().splitlines() or [""])[-1],
        }
        for r in results["runs"]
        if r["status"] != "ok"
    ]
    return _TEMPLATES.get_template("report.html").render(
        title=", ".join(n for n in parts if n),
        settings=results["settings"],
        env=results["environment"],
        confidence=f"{CONFIDENCE:.0%}",
        columns=["config", "runs"] + [title for _, title, _ in SUMMARY_COLUMNS],
        sections=sections,
        failed=failed,
        not_applicable=results.get("not_applicable") or {},
        ranking=ranking,
        ranking_figures=[_figure(p) for p in ranking_plots],
    )
