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

import hashlib
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import torch

from regbench import results
from regbench.configs import CONFIGS, FACTORIES, Config, expand_grids, select_configs
from regbench.data import digest, load_dataset
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.files import atomic_path, write_json
from regbench.executors import default_workers, make_executor, usable_workers
from regbench.journal import Journal
from regbench.matrix import run_matrix
from regbench.plots import save_plots
from regbench.train import flushed_denormals

__all__ = ["REFERENCE", "resolve_device", "run", "source_digest", "write_outputs"]

REFERENCE = "baseline"  # the unregularized config regularization paths are drawn against


def resolve_device(choice: str) -> str:
    """'auto' is CUDA when torch sees a GPU; 'cuda' without one is refused up front rather than deep inside training."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {choice}: no CUDA GPU is visible to torch; use cpu or auto")
    return choice


def source_digest(configs: Iterable[Config]) -> str:
    """A hash of the code that trains: regbench's own modules and every module a config's factories come from.

    A journal records it, so a run resumes only with the same code: a fix to a training loop or
    to a user's model must not be mixed with results from before it. (Config hashes leave code
    out on purpose: the gate exists to compare a change of code under the same configs.)
    """
    files = set(Path(__file__).parent.rglob("*.py"))
    for config in configs:
        for field in FACTORIES:
            module = sys.modules.get(getattr(getattr(config, field), "__module__", None) or "")
            path = getattr(module, "__file__", None)
            if path and not path.startswith(sys.base_prefix) and "site-packages" not in path:  # torch's own factories change with its version
                files.add(Path(path))
    h = hashlib.sha256()
    for path in sorted(files, key=str):
        h.update(str(path.name).encode() + path.read_bytes())
    return h.hexdigest()[:16]


def run(configs: str | Iterable[str | Config] | None = None, *, grid: Iterable[str] | Mapping[str, Iterable] = (), seeds: int = 5,
        epochs: int = Settings.epochs, batch_size: int = Settings.batch_size, lr: float = Settings.lr, device: str = "auto",
        engine: str = "fast", execution: Optional[str] = None, workers: Optional[int] = None, executor: str = "local",
        scheduler: Optional[str] = None, runs_per_gpu: Optional[int] = None, time_limit: Optional[float] = None, dataset: str = "digits",
        root: Path | str | None = None, n_train: int | None = 100, n_test: int | None = 300, out: Path | str | None = None,
        plots: bool = True, echo: Optional[Callable[[str], None]] = None, progress: Optional[bool] = None) -> dict:
    """Train every (config, seed) and return the results document; with ``out``, also write results.json, report.md and plots there.

    ``n_train``/``n_test`` are images per class; None takes them all (data.load_dataset).
    ``grid`` expands configs over argument values ('l1.l1_lambda=1e-5,1e-4' strings, or
    {'l1.l1_lambda': [1e-5, 1e-4]}; configs.expand_grids); a run with a grid also trains the
    built-in baseline, unless a config named baseline is given, as its paths' reference.
    ``executor`` is 'local' (``workers`` processes) or 'dask' (``scheduler``, the
    DASK_SCHEDULER_ADDRESS variable, or a LocalCluster of ``workers``); ``runs_per_gpu`` shares
    each GPU among that many runs. With ``out``, every finished cell goes to its journal first,
    and the same call on the same folder resumes (regbench.journal). Every config is checked and
    built once before anything trains, so a mistake costs seconds. ``echo`` receives lines saying
    what is about to train (the command line prints them).
    """
    say = echo or (lambda line: None)
    chosen = select_configs(configs)
    if grid:
        chosen = expand_grids(chosen, grid)
        if all(c.name != REFERENCE for c in chosen):
            chosen.insert(0, CONFIGS[REFERENCE])
            say(f"regbench run: also training the built-in {REFERENCE!r} as the reference of the regularization paths "
                f"(give a config named {REFERENCE!r} to use your own)")
    settings = Settings(epochs=epochs, batch_size=batch_size, lr=lr, device=resolve_device(device), engine=engine)
    split = load_dataset(dataset, root, n_train=n_train, n_test=n_test)
    journal = None
    if out is not None:
        fingerprint = {**asdict(settings), "dataset": dataset, "data_digest": digest(split), "train_size": len(split.train),
                       "test_size": len(split.test), "torch": torch.__version__, "code_digest": source_digest(chosen)}
        Path(out).mkdir(parents=True, exist_ok=True)
        journal = Journal.open(out, fingerprint, {c.name: c.hash for c in chosen})
        resumed = sum(journal.done(c.name, s) is not None for c in chosen for s in range(seeds))
        if resumed:
            say(f"regbench run: resuming from {journal.path}: {resumed} of {len(chosen) * seeds} cells are already there and are not trained again")
    say(f"regbench run: {len(chosen)} configs x {seeds} seeds, {settings.epochs} epochs, batch {settings.batch_size}, "
        f"on {settings.device}, {settings.engine} engine; data: {split.source} ({len(split.train)} train / {len(split.test)} test)")
    started = time.perf_counter()
    if workers is None and executor == "local" and not runs_per_gpu:
        cells = len(chosen) * seeds
        workers = default_workers(settings, cells, samples=cells * settings.epochs * len(split.train))
    gpus = [str(k) for k in range(torch.cuda.device_count())] if runs_per_gpu and settings.device.startswith("cuda") else None
    with make_executor(executor, workers=usable_workers(workers or 1), scheduler=scheduler, gpus=gpus, runs_per_gpu=runs_per_gpu) as pool, \
            flushed_denormals():
        runs, decisions = run_matrix(chosen, seeds, split, settings, execution=execution, executor=pool, journal=journal,
                                     time_limit=time_limit, progress=progress)
    doc = results.matrix_results(runs, configs=chosen, training=asdict(settings), seeds=seeds, dataset=dataset, split=split,
                                 n_train=n_train, n_test=n_test, wall_seconds=time.perf_counter() - started, execution=decisions)
    if out is not None:
        write_outputs(doc, out, plots=plots)
    return doc


def write_outputs(doc: dict, out: Path | str, *, plots: bool = True) -> list[Path]:
    """results.json, report.md and (unless ``plots`` is False) the plots, each written atomically; returns the plots written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", doc)
    written = save_plots(doc, out) if plots else []
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(results.render_report(doc, [str(p) for p in written]), encoding="utf-8")
    return written
