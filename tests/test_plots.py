"""Plots are drawn from results alone and written as real PNG files."""

from regbench.plots import save_plots
from regbench.results import build_results, environment


def run(config, seed, acc):
    return {
        "config": config, "seed": seed, "status": "ok", "train_accuracy": 1.0, "test_accuracy": acc, "gap_accuracy": 1.0 - acc,
        "weight_histogram": {"edges": [-0.1, 0.0, 0.1], "density": [2.0, 3.0], "outside_range": 0, "mean_abs": 0.05},
        "history": [{"epoch": 1, "val_accuracy": acc - 0.1, "val_loss": 1.0}, {"epoch": 2, "val_accuracy": acc, "val_loss": 0.5}],
    }


def test_all_plots_are_written_as_png(tmp_path):
    """With baseline, l1 and l2 present, all four figures exist and are PNGs."""
    runs = [run(c, s, 0.8 + 0.01 * s) for c in ("baseline", "l1", "l2") for s in range(2)]
    written = save_plots(build_results(runs, settings={}, env=environment("cpu"), configs={}), tmp_path)
    assert sorted(p.name for p in written) == ["gap.png", "learning_curves.png", "weights_baseline_vs_l1.png", "weights_baseline_vs_l2.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_histograms_need_their_pair(tmp_path):
    """Without baseline there is nothing to compare l1 with; the other plots still come."""
    written = save_plots(build_results([run("l1", 0, 0.8)], settings={}, env=environment("cpu"), configs={}), tmp_path)
    assert sorted(p.name for p in written) == ["gap.png", "learning_curves.png"]


def test_a_grid_gets_a_regularization_path_plot(tmp_path):
    """Cells of a grid (their configs carry the grid values) give path_<config>_<argument>.png beside the other plots."""
    runs = [run("baseline", s, 0.8) for s in range(2)]
    configs = {"baseline": {}}
    for lam in (1e-4, 1e-2):
        name = f"l1[l1_lambda={lam:g}]"
        configs[name] = {"grid": {"of": "l1", "values": {"loss.l1_lambda": lam}}}
        runs += [{**run(name, s, 0.7), "sparsity": 0.5, "mean_abs_weight": {"all": 0.01}} for s in range(2)]
    written = save_plots(build_results(runs, settings={}, env=environment("cpu"), configs=configs), tmp_path)
    assert "path_l1_loss.l1_lambda.png" in [p.name for p in written]
    assert (tmp_path / "path_l1_loss.l1_lambda.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
