"""The notebook's figures, drawn from a results document (never from live models).

Because plots read only results, any results.json, old or new, can be redrawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works with no display, in CI and over ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from regbench.files import atomic_path  # noqa: E402
from regbench.results import PATH_METRICS, REFERENCE, by_dataset, path_scale, regularization_paths, summarize  # noqa: E402

__all__ = ["plt", "save_figure", "save_plots"]


def _first_ok(runs: list[dict], config: str) -> dict | None:
    """The lowest-seed finished run of a config: the notebook compares one model with another."""
    ok = sorted((r for r in runs if r["config"] == config and r["status"] == "ok"), key=lambda r: r["seed"])
    return ok[0] if ok else None


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write a PNG atomically and free the figure."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def weight_histograms(runs: list[dict], other: str, out: Path) -> Path | None:
    """The notebook's overlay: baseline weights vs a penalized model's, with mean |W| in the legend."""
    base, reg = _first_ok(runs, "baseline"), _first_ok(runs, other)
    if base is None or reg is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for run, label, alpha in ((base, "baseline", 1.0), (reg, other, 0.4)):
        h = run["weight_histogram"]
        edges = np.asarray(h["edges"])
        ax.stairs(h["density"], edges, fill=True, alpha=alpha, label=f"{label} - Avg. |W| = {h['mean_abs']:.4f}")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("Weight value")
    ax.set_ylabel("Density")
    ax.set_title(f"Penalized weights: baseline vs {other} (seed {base['seed']})")
    ax.legend(loc="lower left")
    return save_figure(fig, out)


def learning_curves(runs: list[dict], out: Path) -> Path | None:
    """Test accuracy and base loss per epoch, averaged over the seeds that trained that epoch, one line per config."""
    configs = list(dict.fromkeys(r["config"] for r in runs if r["status"] == "ok"))
    if not configs:
        return None
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for config in configs:
        histories = [r["history"] for r in runs if r["config"] == config and r["status"] == "ok"]
        epochs = sorted({e["epoch"] for h in histories for e in h})  # early stopping ends seeds at different epochs
        for ax, key in ((acc_ax, "val_accuracy"), (loss_ax, "val_loss")):
            by_epoch = {epoch: [e[key] for h in histories for e in h if e["epoch"] == epoch] for epoch in epochs}
            ax.plot(epochs, [np.mean(by_epoch[epoch]) for epoch in epochs], label=config)
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy (mean over seeds)")
    loss_ax.set(xlabel="epoch", ylabel="test cross-entropy", title="Test base loss (mean over seeds)")
    acc_ax.legend(fontsize=8)
    return save_figure(fig, out)


def gaps(runs: list[dict], out: Path) -> Path | None:
    """Generalization gap per config with its 95% CI: the number regularization should shrink."""
    rows = [r for r in summarize(runs) if not np.isnan(r["gap_accuracy"][0])]
    if not rows:
        return None
    names = [r["config"] for r in rows]
    means = np.array([r["gap_accuracy"][0] for r in rows])
    low = np.array([r["gap_accuracy"][1] for r in rows])
    high = np.array([r["gap_accuracy"][2] for r in rows])
    has_ci = ~np.isnan(low)
    err = np.where(has_ci, [means - low, high - means], 0.0)
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 4))
    ax.bar(names, means, yerr=err, capsize=4, color="tab:blue")
    ax.set_ylabel("train accuracy - test accuracy")
    ax.set_title("Generalization gap per configuration (mean, 95% CI)")
    ax.tick_params(axis="x", rotation=30)
    return save_figure(fig, out)


_PATH_TITLES = {"test_accuracy": "test accuracy", "gap_accuracy": "gap (train - test accuracy)", "sparsity": "sparsity (|w| < 1e-3)",
                "mean_abs_weight": "mean |W|"}


def regularization_path(path: dict, out: Path) -> Path:
    """One swept argument: each metric against the value, mean with its 95% CI band over seeds, the baseline as a reference line."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, metric in zip(axes.flat, PATH_METRICS):
        for series in path["series"]:
            values = [value for value, _ in series["points"]]
            x = np.arange(len(values)) if path_scale(values)[0] == "linear" and not _numeric(values) else np.asarray(values, dtype=float)
            mean, low, high = (np.array([row[metric][i] for _, row in series["points"]]) for i in range(3))
            label = ", ".join(f"{k} = {v}" for k, v in series["fixed"].items()) or path["of"]
            line, = ax.plot(x, mean, marker="o", label=label)
            ax.fill_between(x, np.where(np.isnan(low), mean, low), np.where(np.isnan(high), mean, high), color=line.get_color(), alpha=0.2)
            if not _numeric(values):
                ax.set_xticks(x, [str(v) for v in values])
        scale, threshold = path_scale([value for value, _ in path["series"][0]["points"]])
        if scale == "log":
            ax.set_xscale("log")
        elif scale == "symlog":
            ax.set_xscale("symlog", linthresh=threshold)
        reference = path["reference"]
        if reference is not None and not np.isnan(reference[metric][0]):
            mean, low, high = reference[metric]
            ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"{REFERENCE} (unregularized)")
            if not np.isnan(low):
                ax.axhspan(low, high, color="black", alpha=0.08)
        ax.set(xlabel=path["argument"], title=_PATH_TITLES[metric])
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Regularization path: {path['of']} over {path['argument']} (mean, 95% CI over seeds)")
    fig.tight_layout()
    return save_figure(fig, out)


def _numeric(values: list) -> bool:
    """All numbers (not bools): drawn at their values; anything else at evenly spaced positions."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def save_plots(results: dict, out_dir: Path | str) -> list[Path]:
    """Every plot the runs allow (a histogram needs baseline and its partner, a path a grid), per dataset; returns the files written.

    One dataset's plots are named as they always were; in a suite each name ends with its dataset's.
    """
    out_dir = Path(out_dir)
    parts = by_dataset(results)
    written = []
    for name, part in parts.items():
        suffix = f"_{name}" if len(parts) > 1 else ""
        runs = part["runs"]
        written += [
            weight_histograms(runs, "l1", out_dir / f"weights_baseline_vs_l1{suffix}.png"),
            weight_histograms(runs, "l2", out_dir / f"weights_baseline_vs_l2{suffix}.png"),
            learning_curves(runs, out_dir / f"learning_curves{suffix}.png"),
            gaps(runs, out_dir / f"gap{suffix}.png"),
        ]
        written += [regularization_path(path, out_dir / f"path_{path['of']}_{path['argument']}{suffix}.png") for path in regularization_paths(part)]
    return [p for p in written if p is not None]
