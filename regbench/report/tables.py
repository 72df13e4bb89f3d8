"""The summary's columns and cells as text, and each regularization path as a table: shared by report.md and
report.html.
"""

from __future__ import annotations

import math

from regbench.results import PATH_METRICS, REFERENCE, regularization_paths

__all__ = ["SUMMARY_COLUMNS", "format_cell", "path_tables"]

SUMMARY_COLUMNS = [
    ("test_accuracy", "test acc", "{:.3f}"),
    ("train_accuracy", "train acc", "{:.3f}"),
    ("gap_accuracy", "gap (train-test)", "{:+.3f}"),
    ("sparsity", "sparsity", "{:.3f}"),
    ("mean_abs_weight", "mean abs W", "{:.4f}"),
    ("samples_per_second", "samples/s (geometric)", "{:,.0f}"),
]


def format_cell(stat: tuple[float, float, float], fmt: str) -> str:
    """'mean [low, high]', or just the mean when there is no interval."""
    mean, low, high = stat
    if math.isnan(mean):
        return "n/a"
    if math.isnan(low):
        return fmt.format(mean)
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def path_tables(results: dict) -> list[dict]:
    """Every regularization path as a table (title, columns, rows of text): one row per value, the reference
    (baseline) last.
    """
    tables = []
    for path in regularization_paths(results):
        for series in path["series"]:
            fixed = ", ".join(f"{k} = {v}" for k, v in series["fixed"].items())
            columns = [path["argument"], "runs"] + [title for key, title, _ in SUMMARY_COLUMNS if key in PATH_METRICS]
            points = [(str(value), row) for value, row in series["points"]]
            if path["reference"] is not None:
                points.append((f"{REFERENCE} (reference)", path["reference"]))
            rows = [
                [label, str(row["runs"] - row["failed"])]
                + [format_cell(row[key], fmt) for key, _, fmt in SUMMARY_COLUMNS if key in PATH_METRICS]
                for label, row in points
            ]
            tables.append(
                {
                    "title": f"{path['of']}: {path['argument']}" + (f" ({fixed})" if fixed else ""),
                    "columns": columns,
                    "rows": rows,
                }
            )
    return tables
