"""Plots are drawn from results alone and written as real PNG files."""

import matplotlib.colors as mcolors
import pytest
import numpy as np
from matplotlib.collections import PolyCollection

from regbench.plots import colors, gaps_figure, learning_curves_figure, plt, save_plots
from regbench.results import build_results, environment


def run(config, seed, acc):
    return {
        "config": config,
        "seed": seed,
        "status": "ok",
        "train_accuracy": 1.0,
        "test_accuracy": acc,
        "gap_accuracy": 1.0 - acc,
        "weight_histogram": {"edges": [-0.1, 0.0, 0.1], "density": [2.0, 3.0], "outside_range": 0, "mean_abs": 0.05},
        "history": [
            {"epoch": 1, "train_accuracy": acc, "val_accuracy": acc - 0.1, "val_loss": 1.0},
            {"epoch": 2, "train_accuracy": 1.0, "val_accuracy": acc, "val_loss": 0.5},
        ],
    }


def test_all_plots_are_written_as_png(tmp_path):
    """With baseline, l1 and l2 present, all four figures exist and are PNGs."""
    runs = [run(c, s, 0.8 + 0.01 * s) for c in ("baseline", "l1", "l2") for s in range(2)]
    written = save_plots(build_results(runs, settings={}, env=environment("cpu"), configs={}), tmp_path)
    assert sorted(p.name for p in written) == [
        "gap.png",
        "learning_curves.png",
        "weights_baseline_vs_l1.png",
        "weights_baseline_vs_l2.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_histograms_need_their_pair(tmp_path):
    """Without baseline there is nothing to compare l1 with; the other plots still come."""
    written = save_plots(build_results([run("l1", 0, 0.8)], settings={}, env=environment("cpu"), configs={}), tmp_path)
    assert sorted(p.name for p in written) == ["gap.png", "learning_curves.png"]


def test_a_grid_gets_a_regularization_path_plot(tmp_path):
    """Cells of a grid (their configs carry the grid values) give path_<config>_<argument>.png beside the other
    plots.
    """
    runs = [run("baseline", s, 0.8) for s in range(2)]
    configs = {"baseline": {}}
    for lam in (1e-4, 1e-2):
        name = f"l1[l1_lambda={lam:g}]"
        configs[name] = {"grid": {"of": "l1", "values": {"loss.l1_lambda": lam}}}
        runs += [{**run(name, s, 0.7), "sparsity": 0.5, "mean_abs_weight": {"all": 0.01}} for s in range(2)]
    written = save_plots(build_results(runs, settings={}, env=environment("cpu"), configs=configs), tmp_path)
    assert "path_l1_loss.l1_lambda.png" in [p.name for p in written]
    assert (tmp_path / "path_l1_loss.l1_lambda.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _outside(legend, fig) -> bool:
    """Whether a legend's box overlaps none of the figure's visible axes (it sits beside or below the data, not on
    it).
    """
    fig.canvas.draw()
    box = legend.get_window_extent()
    return not any(box.overlaps(ax.get_window_extent()) for ax in fig.axes if ax.get_visible())


def test_learning_curves_are_small_multiples_with_ci_bands():
    """26 configs (a grid run): one panel each with train and test accuracy, each line with its CI band; labels, and
    the legend off the data.
    """
    names = [f"cfg-{k}" for k in range(26)]
    fig = learning_curves_figure([run(c, s, 0.7 + 0.01 * s + 0.001 * k) for k, c in enumerate(names) for s in range(3)])
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [f"{c} (3 seeds)" for c in names]
    for ax in panels:
        assert len(ax.get_lines()) == 2 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
        test_line = ax.get_lines()[1]
        band = ax.collections[1].get_paths()[0].vertices[:, 1]
        assert (
            band.min() < test_line.get_ydata().min() and band.max() > test_line.get_ydata().max()
        )  # 3 seeds that differ: a real band
    assert {ax.get_xlabel() for ax in fig.axes if ax.get_visible() and ax.get_xlabel()} == {"epoch"}
    assert any(ax.get_ylabel() == "accuracy" for ax in panels)
    assert len(fig.legends) == 1 and _outside(fig.legends[0], fig)
    plt.close(fig)


def test_the_gap_sits_beside_accuracy_so_a_collapsed_model_cannot_look_best():
    """Bars of the gap, and a trade-off panel: each config at (gap, test accuracy) with error bars both ways, the
    legend outside.
    """
    runs = [run(c, s, 0.85 + 0.01 * s) for c in ("baseline", "l1", "l2") for s in range(3)]
    runs += [{**run("collapsed", s, 0.1), "train_accuracy": 0.1, "gap_accuracy": 0.0} for s in range(3)]
    fig = gaps_figure(runs)
    bars, trade = fig.axes
    assert (
        len(bars.patches) == 4
        and trade.get_xlabel() == "gap (train - test accuracy)"
        and trade.get_ylabel() == "test accuracy"
    )
    points = {c.get_label(): c for c in trade.containers}
    assert set(points) == {"baseline", "l1", "l2", "collapsed"}
    x, y = points["collapsed"].lines[0].get_data()
    assert (x[0], y[0]) == pytest.approx((0.0, 0.1))  # gap 0, but at the bottom of the accuracy axis
    assert all(len(c.lines[2]) == 2 for c in trade.containers)  # an x and a y error bar for every config
    assert _outside(trade.get_legend(), fig)
    plt.close(fig)


def test_thirty_series_keep_distinct_colours():
    """About 30 configs: every colour differs from every other (tab10 cycles after 10)."""
    rgb = [mcolors.to_rgb(c) for c in colors(30)]
    assert len(set(rgb)) == 30
    assert min(np.linalg.norm(np.subtract(a, b)) for i, a in enumerate(rgb) for b in rgb[i + 1 :]) > 0.05
