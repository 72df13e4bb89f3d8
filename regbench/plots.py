"""The notebook's figures, drawn from a results document (never from live models).

Because plots read only results, any results.json, old or new, can be redrawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works with no display, in CI and over ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from regbench.results import atomic_path, summarize  # noqa: E402

__all__ = ["save_plots"]


def _first_ok(runs: list[dict], config: str) -> dict | None:
    """The lowest-seed finished run of a config: the notebook compares one model with another."""
    ok = sorted((r for r in runs if r["config"] == config and r["status"] == "ok"), key=lambda r: r["seed"])
    return ok[0] if ok else None


def _save(fig: plt.Figure, path: Path) -> Path:
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
    return _save(fig, out)


def learning_curves(runs: list[dict], out: Path) -> Path | None:
    """Validation accuracy and base loss per epoch, averaged over seeds, one line per config."""
    configs = list(dict.fromkeys(r["config"] for r in runs if r["status"] == "ok"))
    if not configs:
        return None
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for config in configs:
        histories = [r["history"] for r in runs if r["config"] == config and r["status"] == "ok"]
        epochs = [e["epoch"] for e in histories[0]]
        for ax, key in ((acc_ax, "val_accuracy"), (loss_ax, "val_loss")):
            mean = np.mean([[e[key] for e in h] for h in histories], axis=0)
            ax.plot(epochs, mean, label=config)
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy (mean over seeds)")
    loss_ax.set(xlabel="epoch", ylabel="test cross-entropy", title="Test base loss (mean over seeds)")
    acc_ax.legend(fontsize=8)
    return _save(fig, out)


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
    return _save(fig, out)


def save_plots(results: dict, out_dir: Path | str) -> list[Path]:
    """Every plot the runs allow (a histogram needs baseline and its partner); returns the files written."""
    out_dir, runs = Path(out_dir), results["runs"]
    written = [
        weight_histograms(runs, "l1", out_dir / "weights_baseline_vs_l1.png"),
        weight_histograms(runs, "l2", out_dir / "weights_baseline_vs_l2.png"),
        learning_curves(runs, out_dir / "learning_curves.png"),
        gaps(runs, out_dir / "gap.png"),
    ]
    return [p for p in written if p is not None]
