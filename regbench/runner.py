"""Benchmark any configs from Python, as `regbench run` does: train the matrix, return the results document, write its files.

    import regbench
    from my_bench import DROPCONNECT

    doc = regbench.run(["baseline", "l1", DROPCONNECT], seeds=3, out="results/mine")
    print(regbench.render_table(regbench.summarize(doc["runs"])))

Configs are ``Config`` objects, built-in names or ``"module:attribute"`` targets, mixed freely.
The document is what ``results.json`` holds; with ``out`` the same files `regbench run` writes
(results.json, report.md, the plots) go there. Scripts that train with worker processes (the
default on a CPU for large matrices) need the ``if __name__ == "__main__":`` guard, since each
worker is a fresh interpreter that imports the script.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import torch

from regbench import results
from regbench.configs import CONFIGS, Config, expand_grids, select_configs
from regbench.data import load_dataset
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.matrix import run_matrix
from regbench.plots import save_plots
from regbench.train import flushed_denormals

__all__ = ["REFERENCE", "resolve_device", "run", "write_outputs"]

REFERENCE = "baseline"  # the unregularized config regularization paths are drawn against


def resolve_device(choice: str) -> str:
    """'auto' is CUDA when torch sees a GPU; 'cuda' without one is refused up front rather than deep inside training."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {choice}: no CUDA GPU is visible to torch; use cpu or auto")
    return choice


def run(configs: str | Iterable[str | Config] | None = None, *, grid: Iterable[str] | Mapping[str, Iterable] = (), seeds: int = 5,
        epochs: int = Settings.epochs,
        batch_size: int = Settings.batch_size, lr: float = Settings.lr, device: str = "auto", engine: str = "fast",
        execution: Optional[str] = None, workers: Optional[int] = None, dataset: str = "digits", root: Path | str | None = None,
        n_train: int | None = 100, n_test: int | None = 300, out: Path | str | None = None, plots: bool = True,
        echo: Optional[Callable[[str], None]] = None) -> dict:
    """Train every (config, seed) and return the results document; with ``out``, also write results.json, report.md and plots there.

    ``n_train``/``n_test`` are images per class; None takes them all (data.load_dataset).

    ``grid`` expands configs over argument values ('l1.l1_lambda=1e-5,1e-4' strings, or
    {'l1.l1_lambda': [1e-5, 1e-4]}; configs.expand_grids); a run with a grid also trains the
    built-in baseline, unless a config named baseline is given, as its paths' reference.
    Every config is checked and built once before anything trains, so a mistake costs seconds.
    ``echo`` receives lines saying what is about to train (the command line prints them).
    """
    chosen = select_configs(configs)
    if grid:
        chosen = expand_grids(chosen, grid)
        if all(c.name != REFERENCE for c in chosen):
            chosen.insert(0, CONFIGS[REFERENCE])
            if echo is not None:
                echo(f"regbench run: also training the built-in {REFERENCE!r} as the reference of the regularization paths "
                     f"(give a config named {REFERENCE!r} to use your own)")
    settings = Settings(epochs=epochs, batch_size=batch_size, lr=lr, device=resolve_device(device), engine=engine)
    split = load_dataset(dataset, root, n_train=n_train, n_test=n_test)
    if echo is not None:
        echo(f"regbench run: {len(chosen)} configs x {seeds} seeds, {settings.epochs} epochs, batch {settings.batch_size}, "
             f"on {settings.device}, {settings.engine} engine; data: {split.source} ({len(split.train)} train / {len(split.test)} test)")
    started = time.perf_counter()
    with flushed_denormals():
        runs, decisions = run_matrix(chosen, seeds, split, settings, execution=execution, workers=workers)
    doc = results.matrix_results(runs, configs=chosen, training=asdict(settings), seeds=seeds, dataset=dataset, split=split,
                                 n_train=n_train, n_test=n_test, wall_seconds=time.perf_counter() - started, execution=decisions)
    if out is not None:
        write_outputs(doc, out, plots=plots)
    return doc


def write_outputs(doc: dict, out: Path | str, *, plots: bool = True) -> list[Path]:
    """results.json, report.md and (unless ``plots`` is False) the plots, each written atomically; returns the plots written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results.write_json(out / "results.json", doc)
    written = save_plots(doc, out) if plots else []
    with results.atomic_path(out / "report.md") as tmp:
        tmp.write_text(results.render_report(doc, [str(p) for p in written]), encoding="utf-8")
    return written
