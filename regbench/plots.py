"""The notebook's figures, drawn from a results document (never from live models).

Because plots read only results, any results.json, old or new, can be redrawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works with no display, in CI and over ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from regbench.files import atomic_path  # noqa: E402
from regbench.results import (
    PATH_METRICS,
    REFERENCE,
    by_dataset,
    mean_ci,
    path_scale,
    regularization_paths,
    summarize,
)  # noqa: E402

__all__ = ["colors", "gaps_figure", "learning_curves_figure", "plt", "save_figure", "save_plots"]


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


def colors(n: int) -> list:
    """n colours that stay distinct up to about 40 series: tab10 up to 10, then tab20 and tab20b's 40."""
    if n <= 10:
        return [plt.get_cmap("tab10")(k) for k in range(n)]
    palette = [plt.get_cmap("tab20")(k) for k in range(20)] + [plt.get_cmap("tab20b")(k) for k in range(20)]
    return [palette[k % len(palette)] for k in range(n)]


def _band(values_by_epoch: dict[int, list[float]]) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, and per epoch the mean over seeds with its 95% t interval (the mean alone where one seed trained that
    epoch).
    """
    epochs = sorted(values_by_epoch)
    stats = np.array([mean_ci(values_by_epoch[e]) for e in epochs])
    mean, low, high = stats.T
    return epochs, mean, np.where(np.isnan(low), mean, low), np.where(np.isnan(high), mean, high)


def learning_curves_figure(runs: list[dict]) -> plt.Figure | None:
    """Small multiples, one panel per config: train and test accuracy per epoch, mean over seeds with a 95% CI band.

    One axis for 26 configs in 10 repeating colours could not be read; a panel each, on shared
    axes, can, with one legend below the panels rather than on the data.
    """
    configs = list(dict.fromkeys(r["config"] for r in runs if r["status"] == "ok"))
    if not configs:
        return None
    columns = min(len(configs), 4 if len(configs) > 6 else 3)
    rows = -(-len(configs) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.5 * rows + 0.6), sharex=True, sharey=True, squeeze=False
    )
    for ax, config in zip(axes.flat, configs):
        histories = [r["history"] for r in runs if r["config"] == config and r["status"] == "ok"]
        for key, color, label in (
            ("train_accuracy", "tab:gray", "train accuracy"),
            ("val_accuracy", "tab:blue", "test accuracy"),
        ):
            epochs, mean, low, high = _band(
                {
                    e["epoch"]: [x[key] for h in histories for x in h if x["epoch"] == e["epoch"]]
                    for h in histories
                    for e in h
                }
            )
            ax.plot(epochs, mean, color=color, label=label)
            ax.fill_between(
                epochs, low, high, color=color, alpha=0.25, linewidth=0, label=f"{label}, 95% CI over seeds"
            )
        ax.set_title(f"{config} ({len(histories)} seeds)", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    for ax in axes.flat[len(configs) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Learning curves per configuration (mean over seeds, 95% CI band)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def learning_curves(runs: list[dict], out: Path) -> Path | None:
    """The learning curves' small multiples, as a PNG."""
    fig = learning_curves_figure(runs)
    return save_figure(fig, out) if fig is not None else None


def gaps_figure(runs: list[dict]) -> plt.Figure | None:
    """The generalization gap per config beside a trade-off of test accuracy against the gap, each with its 95% CI in
    both directions.

    A gap alone makes a collapsed model (chance accuracy on train and test alike, gap 0) look like
    the best-generalizing config; beside its test accuracy it cannot.
    """
    rows = [r for r in summarize(runs) if not np.isnan(r["gap_accuracy"][0])]
    if not rows:
        return None
    names = [r["config"] for r in rows]
    palette = colors(len(names))

    def spread(metric: str) -> tuple[np.ndarray, np.ndarray]:
        mean, low, high = (np.array([r[metric][i] for r in rows]) for i in range(3))
        return mean, np.where(np.isnan(low), 0.0, [mean - low, high - mean])

    gap, gap_err = spread("gap_accuracy")
    acc, acc_err = spread("test_accuracy")
    fig, (bars, trade) = plt.subplots(
        1, 2, figsize=(max(11, len(names) * 0.45 + 6), 4.5), gridspec_kw={"width_ratios": [1.2, 1]}
    )
    bars.bar(names, gap, yerr=gap_err, capsize=3, color=palette)
    bars.set(ylabel="train accuracy - test accuracy", title="Generalization gap (mean, 95% CI)")
    bars.tick_params(axis="x", rotation=60, labelsize=8)
    for k, name in enumerate(names):
        trade.errorbar(
            gap[k],
            acc[k],
            xerr=gap_err[:, k : k + 1],
            yerr=acc_err[:, k : k + 1],
            fmt="o",
            color=palette[k],
            capsize=3,
            label=name,
        )
    trade.set(
        xlabel="gap (train - test accuracy)",
        ylabel="test accuracy",
        title="Test accuracy against gap (mean, 95% CI both ways)",
    )
    trade.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, ncol=1 if len(names) <= 18 else 2
    )
    fig.tight_layout()
    return fig


def gaps(runs: list[dict], out: Path) -> Path | None:
    """The gap bars and the trade-off, as a PNG."""
    fig = gaps_figure(runs)
    return save_figure(fig, out) if fig is not None else None


_PATH_TITLES = {
    "test_accuracy": "test accuracy",
    "gap_accuracy": "gap (train - test accuracy)",
    "sparsity": "sparsity (|w| < 1e-3)",
    "mean_abs_weight": "mean |W|",
}


def regularization_path(path: dict, out: Path) -> Path:
    """One swept argument: each metric against the value, mean with its 95% CI band over seeds, the baseline as a
    reference line.
    """
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, metric in zip(axes.flat, PATH_METRICS):
        for series in path["series"]:
            values = [value for value, _ in series["points"]]
            x = (
                np.arange(len(values))
                if path_scale(values)[0] == "linear" and not _numeric(values)
                else np.asarray(values, dtype=float)
            )
            mean, low, high = (np.array([row[metric][i] for _, row in series["points"]]) for i in range(3))
            label = ", ".join(f"{k} = {v}" for k, v in series["fixed"].items()) or path["of"]
            (line,) = ax.plot(x, mean, marker="o", label=label)
            ax.fill_between(
                x,
                np.where(np.isnan(low), mean, low),
                np.where(np.isnan(high), mean, high),
                color=line.get_color(),
                alpha=0.2,
            )
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
    """Every plot the runs allow (a histogram needs baseline and its partner, a path a grid), per dataset; returns the
    files written.

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
        written += [
            regularization_path(path, out_dir / f"path_{path['of']}_{path['argument']}{suffix}.png")
            for path in regularization_paths(part)
        ]
    return [p for p in written if p is not None]
