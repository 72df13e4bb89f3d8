"""report.md: what ran, where, and each dataset's summary table, regularization paths and plots, as markdown."""

from __future__ import annotations

import json
from pathlib import Path

from regbench.configs import FACTORIES
from regbench.report.tables import SUMMARY_COLUMNS, format_cell, path_tables
from regbench.results import CONFIDENCE, REFERENCE, against_reference, by_dataset, summarize

__all__ = ["render_against_reference", "render_paths", "render_report", "render_table"]


def render_table(summary: list[dict]) -> str:
    """A markdown table: one row per config (per dataset and config when there are several), each cell 'mean [95%
    CI]' across seeds.
    """
    several = len({row.get("dataset") for row in summary}) > 1
    header = (["dataset"] if several else []) + ["config", "runs"] + [title for _, title, _ in SUMMARY_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in summary:
        runs = f"{row['runs'] - row['failed']}" + (f" ({row['failed']} diverged)" if row["failed"] else "")
        cells = (
            ([str(row.get("dataset"))] if several else [])
            + [row["config"], runs]
            + [format_cell(row[key], fmt) for key, _, fmt in SUMMARY_COLUMNS]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_paths(results: dict) -> str:
    """Markdown tables of every regularization path: one row per value, the reference (baseline) last."""
    out = []
    for table in path_tables(results):
        out += [
            "",
            f"### {table['title']}",
            "",
            "| " + " | ".join(table["columns"]) + " |",
            "|" + "|".join("---" for _ in table["columns"]) + "|",
        ]
        out += ["| " + " | ".join(row) + " |" for row in table["rows"]]
    return "\n".join(out[1:])


def render_against_reference(results: dict, metric: str = "test_accuracy", reference: str = REFERENCE) -> str:
    """A markdown table, configs by datasets: each config's paired difference from the reference; * where the 95%
    interval excludes 0.
    """
    differences = against_reference(results["runs"], metric, reference)
    if not differences:
        return ""
    datasets = list(by_dataset(results))
    configs = list(dict.fromkeys(config for _, config in differences))
    lines = ["| config | " + " | ".join(datasets) + " |", "|" + "|".join("---" for _ in range(len(datasets) + 1)) + "|"]
    for config in configs:
        cells = []
        for dataset in datasets:
            stat = differences.get((dataset, config))
            if stat is None:
                cells.append("n/a")
                continue
            mean, low, high = stat
            cells.append(format_cell(stat, "{:+.3f}") + (" *" if low > 0 or high < 0 else ""))
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_report(results: dict, plots: list[str]) -> str:
    """report.md: what ran, where, the summary table (a section per dataset when there are several), paths and plots."""
    env, settings = results["environment"], results["settings"]
    lines = [
        "# regbench report",
        "",
        (
            f"Data: {settings.get('data_source', '?')}; {settings.get('epochs')} epochs, batch"
            f" {settings.get('batch_size')}, seeds {settings.get('seeds')}, lr {settings.get('lr')} (Adam, unless a"
            " config names another optimizer)."
        ),
        (
            f"Device: {env['device']} ({env['device_name']}); torch {env['torch']}, torchvision {env['torchvision']}; "
            f"commit {env.get('git_commit') or 'unknown'}; {env['created']}."
        ),
        "",
        f"Each cell: mean across seeds [{CONFIDENCE:.0%} Student-t confidence interval].",
        "Accuracies are measured in eval mode on the clean training and test samples; sparsity is the",
        "fraction of penalized weights with |w| < 1e-3.",
    ]
    parts = by_dataset(results)
    described = results.get("datasets") or {}
    for name, part in parts.items():
        if len(parts) > 1:
            d = described.get(name) or {}
            lines += [
                "",
                f"## {name}",
                "",
                (
                    f"{d.get('source', '?')}: {d.get('kind', '?')} {tuple(d.get('sample_shape') or ())},"
                    f" {d.get('classes', '?')} classes, {d.get('train_size', '?')} train / {d.get('test_size', '?')}"
                    f" test (content hash {d.get('digest', '?')})."
                ),
            ]
        lines += ["", render_table(summarize(part["runs"]))]
        paths = render_paths(part)
        if paths:
            lines += [
                "",
                "### Regularization paths" if len(parts) > 1 else "## Regularization paths",
                "",
                f"Each row: mean across seeds [{CONFIDENCE:.0%} Student-t confidence interval].",
                "",
                paths,
            ]
    versus = render_against_reference(results) if len(parts) > 1 else ""
    if versus:
        lines += [
            "",
            f"## Against the {REFERENCE}, per dataset",
            "",
            (
                f"Test accuracy minus the {REFERENCE}'s, paired by seed: mean [{CONFIDENCE:.0%} Student-t interval of"
                " the paired differences]; * where the interval excludes 0."
            ),
            "",
            versus,
        ]
    if results.get("not_applicable"):
        lines += ["", "## Not applicable (not trained)", ""] + [
            f"- {pair}: {why}" for pair, why in results["not_applicable"].items()
        ]
    configs = results.get("configs") or {}
    if configs:
        lines += ["", "## Configurations", ""] + [_config_line(name, d) for name, d in configs.items()]
    failed = [r for r in results["runs"] if r["status"] != "ok"]
    if failed:
        lines += ["", "## Runs that did not finish", ""]
        for r in failed:
            detail = (r.get("error") or "").strip().splitlines()
            where = f"{r['dataset']}/" if len(parts) > 1 and r.get("dataset") else ""
            lines.append(
                f"- {where}{r['config']} seed {r['seed']}: {r['status']}" + (f": {detail[-1]}" if detail else "")
            )
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def _config_line(name: str, described: dict) -> str:
    """'- **l1** (`3f2a...`): Lasso penalty; loss LassoLoss(l1_lambda=0.0001)': what a config built, from its
    description.
    """
    parts = []
    for field in FACTORIES:
        part = described.get(field)
        if not isinstance(part, dict) or (field in ("criterion", "optimizer") and not part.get("args")):
            continue  # the default criterion and optimizer (cross-entropy, Adam at the run's lr) go unsaid
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in (part.get("args") or {}).items())
        parts.append(f"{field} `{str(part.get('factory', '?')).rsplit(':', 1)[-1]}({args})`")
    text = f"- **{name}** (`{described.get('hash', '?')}`)"
    if described.get("description"):
        text += f": {described['description']}"
    return text + (f"; {'; '.join(parts)}" if parts else "")
