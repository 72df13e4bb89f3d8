"""The ranking's two figures, drawn from a ranking document alone (so any rank.json can be redrawn).

- The critical-difference diagram (Demšar 2006, fig. 1): configs on an axis of average rank, 1
  (best) on the left; the critical difference drawn above; a thick bar joins configs whose
  ranks differ by less than it (Nemenyi cannot tell them apart).
- The performance profile (Agarwal et al. 2021, fig. 5): for each threshold tau, the fraction of
  runs whose control-normalized score is at least tau (at most, for a lower-is-better metric),
  each dataset weighted equally; a curve above another is better everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.plots import plt, save_figure

__all__ = ["critical_difference", "performance_profile", "save_figures"]


def critical_difference(doc: dict, path: Path) -> Path:
    """Demšar's CD diagram of the document's average ranks and Nemenyi groups."""
    ranks, order = doc["average_ranks"], doc["configs"]
    k, cd = len(order), doc["nemenyi"]["critical_difference"]
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.28 * half + 0.18 * len(doc["nemenyi"]["groups"])))
    ax.set_xlim(0.5, k + 0.5)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.12, color="black", lw=1)
        ax.text(r, 0.2, str(r), ha="center", va="bottom", fontsize=8)
    ax.hlines(0.75, 1, 1 + cd, color="black", lw=1.5)
    ax.vlines([1, 1 + cd], 0.68, 0.82, color="black", lw=1)
    ax.text(1 + cd / 2, 0.88, f"CD = {cd:.2f} (alpha {doc['alpha']})", ha="center", va="bottom", fontsize=8)
    for i, config in enumerate(order):
        left = i < half
        row = i if left else k - 1 - i
        y = -0.45 - 0.32 * row
        x_end = 0.55 if left else k + 0.45
        ax.vlines(ranks[config], y, 0, color="black", lw=0.8)
        ax.hlines(y, min(ranks[config], x_end), max(ranks[config], x_end), color="black", lw=0.8)
        ax.text(
            x_end, y + 0.04, f"{config} ({ranks[config]:.2f})", ha="left" if left else "right", va="bottom", fontsize=8
        )
    for j, group in enumerate(doc["nemenyi"]["groups"]):
        y = -0.15 - 0.12 * j
        ax.hlines(y, ranks[group[0]] - 0.05, ranks[group[-1]] + 0.05, color="tab:red", lw=3)
    ax.set_ylim(-0.6 - 0.32 * half, 1.2)
    ax.set_title(f"Average rank of {doc['metric']} over {len(doc['datasets'])} datasets (1 = best)", fontsize=9)
    return save_figure(fig, path)


def _profile_scores(doc: dict) -> tuple[dict[str, list[np.ndarray]], str]:
    """Each ranked config's per-dataset scores, over the control's mean where every control mean is positive; and the
    axis label.

    Only the configs scored on every dataset are drawn: a curve over fewer datasets would not compare.
    """
    control, scores = doc.get("control"), doc["scores"]
    means = [doc["means"][d].get(control) for d in doc["datasets"]] if control else []
    normalize = bool(means) and all(m is not None and m > 0 for m in means)
    out = {
        c: [
            np.asarray(scores[d][c], dtype=float) / (doc["means"][d][control] if normalize else 1.0)
            for d in doc["datasets"]
        ]
        for c in doc["configs"]
    }
    label = f"{doc['metric']} / {control}'s mean on the dataset" if normalize else doc["metric"]
    return out, label


def performance_profile(doc: dict, path: Path) -> Path:
    """rliable's performance profile: the fraction of runs scoring beyond each threshold, datasets weighted equally."""
    per_config, label = _profile_scores(doc)
    everything = np.concatenate([s for cells in per_config.values() for s in cells])
    taus = np.linspace(everything.min(), everything.max(), 200)
    higher = doc["better"] == "higher"
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.set_prop_cycle(color=plt.get_cmap("tab20").colors[: len(per_config)])
    for config, cells in per_config.items():
        beyond = [
            ((cells_d[None, :] >= taus[:, None]) if higher else (cells_d[None, :] <= taus[:, None])).mean(axis=1)
            for cells_d in cells
        ]
        ax.plot(
            taus,
            np.mean(beyond, axis=0),
            lw=2 if config == doc.get("control") else 1.2,
            ls="--" if config == doc.get("control") else "-",
            label=config,
        )
    ax.set_xlabel(f"threshold tau ({label})")
    ax.set_ylabel(f"fraction of runs with score {'>=' if higher else '<='} tau")
    ax.set_title(f"Performance profile over {len(doc['datasets'])} datasets (each weighted equally)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left" if higher else "lower right")
    return save_figure(fig, path)


def save_figures(doc: dict, out: Path | str, names: dict[str, str]) -> list[Path]:
    """Both figures into ``out``, named by ``names`` (keys critical_difference, performance_profile)."""
    out = Path(out)
    return [
        critical_difference(doc, out / names["critical_difference"]),
        performance_profile(doc, out / names["performance_profile"]),
    ]
