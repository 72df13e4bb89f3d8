"""Benchmark any configs from Python, as `regbench run` does: train the matrix, return the results document, write its
files.

    import regbench
    from my_bench import DROPCONNECT

    doc = regbench.run(["baseline", "l1", DROPCONNECT], seeds=3, out="results/mine")
    print(regbench.render_table(regbench.summarize(doc["runs"])))

Configs are ``Config`` objects, built-in names or ``"module:attribute"`` references, mixed freely.
The document is what ``results.json`` holds; with ``out`` the same files `regbench run` writes
(results.json, report.md, the plots) go there. Scripts that train with worker processes (the
default on a CPU for large matrices) need the ``if __name__ == "__main__":`` guard, since each
worker is a fresh interpreter that imports the script.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import torch

from regbench import ranking, results
from regbench.configs import CONFIGS, Config, expand_grids, select_configs
from regbench.datasets import DEFAULT, Dataset, select_datasets
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.files import atomic_path, write_json
from regbench.journal import Journal
from regbench.matrix import NOT_APPLICABLE, run_matrix
from regbench.spec import RunSpec, fingerprint
from regbench.plots import save_plots
from regbench.report import render_html, render_report
from regbench.results import REFERENCE
from regbench.train import flushed_denormals

__all__ = ["REFERENCE", "plan_configs", "resolve_device", "run", "run_spec", "write_outputs"]


def resolve_device(choice: str) -> str:
    """'auto' is CUDA when torch sees a GPU; 'cuda' without one is refused up front rather than deep inside training."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {choice}: no CUDA GPU is visible to torch; use cpu or auto")
    return choice


def plan_configs(
    configs: str | Iterable[str | Config] | None,
    grid: Iterable[str] | Mapping[str, Iterable] = (),
    *,
    say: Callable[[str], None] = lambda line: None,
) -> list[Config]:
    """The configs a run trains: those named, each grid expanded, and the reference its paths are drawn against."""
    chosen = select_configs(configs)
    if grid:
        chosen = expand_grids(chosen, grid)
        if all(c.name != REFERENCE for c in chosen):
            chosen.insert(0, CONFIGS[REFERENCE])
            say(
                f"regbench run: also training the built-in {REFERENCE!r} as the reference of the regularization paths "
                f"(give a config named {REFERENCE!r} to use your own)"
            )
    return chosen


def run(
    configs: str | Iterable[str | Config] | None = None,
    *,
    grid: Iterable[str] | Mapping[str, Iterable] = (),
    seeds: int = 5,
    epochs: int = Settings.epochs,
    batch_size: int = Settings.batch_size,
    lr: float = Settings.lr,
    device: str = "auto",
    engine: str = "fast",
    execution: Optional[str] = None,
    workers: Optional[int] = None,
    executor: str = "local",
    scheduler: Optional[str] = None,
    runs_per_gpu: Optional[int] = None,
    time_limit: Optional[float] = None,
    dataset: str | Dataset | Iterable[str | Dataset] = "digits",
    root: Path | str | None = None,
    roots: Mapping[str, Path | str] | None = None,
    n_train: int | None | str = DEFAULT,
    n_test: int | None | str = DEFAULT,
    image_size: Optional[int] = None,
    label_column: Optional[str] = None,
    out: Path | str | None = None,
    plots: bool = True,
    echo: Optional[Callable[[str], None]] = None,
    progress: Optional[bool] = None,
) -> dict:
    """Train every (dataset, config, seed) and return the results document; with ``out``, also write results.json,
    report.md and plots there.

    ``dataset`` is a built-in name, a suite (``"small"``), ``"module:attribute"``, a
    ``regbench.datasets.Dataset``, or a comma-separated string or list of them; ``root`` is a
    single dataset's folder or file, ``roots`` maps dataset names to theirs. ``n_train``/``n_test``
    are samples per class; None takes them all, DEFAULT each dataset's own (datasets.make_dataset).
    ``grid`` expands configs over argument values ('l1.l1_lambda=1e-5,1e-4' strings, or
    {'l1.l1_lambda': [1e-5, 1e-4]}; configs.expand_grids); a run with a grid also trains the
    built-in baseline, unless a config named baseline is given, as its paths' reference.
    ``executor`` is 'local' (``workers`` processes) or 'dask' (``scheduler``, the
    DASK_SCHEDULER_ADDRESS variable, or a LocalCluster of ``workers``); ``runs_per_gpu`` shares
    each GPU among that many runs. With ``out``, every finished cell goes to its journal first,
    and the same call on the same folder resumes (regbench.journal). Every (dataset, config) is
    checked and built once before anything trains, so a mistake costs seconds. ``echo`` receives
    lines saying what is about to train (the command line prints them).
    """
    say = echo or (lambda line: None)
    chosen = plan_configs(configs, grid, say=say)
    datasets = select_datasets(
        dataset,
        roots={**({"": root} if root is not None else {}), **(roots or {})},
        n_train=n_train,
        n_test=n_test,
        image_size=image_size,
        label_column=label_column,
    )
    named = configs is not None and not (isinstance(configs, str) and configs.strip() == "all")
    spec = RunSpec(
        configs=tuple(chosen),
        datasets=tuple(datasets),
        seeds=seeds,
        strict=named,
        settings=Settings(epochs=epochs, batch_size=batch_size, lr=lr, device=resolve_device(device), engine=engine),
        execution=execution,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        runs_per_gpu=runs_per_gpu,
        time_limit=time_limit,
        n_train=n_train,
        n_test=n_test,
        out=Path(out) if out is not None else None,
    )
    return run_spec(spec, plots=plots, say=say, progress=progress)


def run_spec(
    spec: RunSpec,
    *,
    plots: bool = True,
    say: Callable[[str], None] = lambda line: None,
    progress: Optional[bool] = None,
) -> dict:
    """A described run, flowing down once: load the data, open the journal, train the matrix, assemble and write the
    results.
    """
    splits = [d.split() for d in spec.datasets]
    journal = None
    if spec.out is not None:
        spec.out.mkdir(parents=True, exist_ok=True)
        journal = Journal.open(spec.out, fingerprint(spec, splits), {c.name: c.hash for c in spec.configs})
        if len(journal):
            say(
                f"regbench run: resuming from {journal.path}: {len(journal)} finished cells are there and are not"
                " trained again"
            )
    settings = spec.settings
    data = "; ".join(
        f"{s.name}: {s.source} ({len(s.train)} train / {len(s.test)} test, {s.kind} {s.sample_shape}, {s.classes}"
        " classes)"
        for s in splits
    )
    say(
        f"regbench run: {len(spec.configs)} configs x {spec.seeds}"
        f" seeds{f' x {len(splits)} datasets' if len(splits) > 1 else ''}, {settings.epochs} epochs, batch"
        f" {settings.batch_size}, on {settings.device}, {settings.engine} engine; data: {data}"
    )
    started = time.perf_counter()
    with flushed_denormals():
        runs, decisions = run_matrix(
            list(spec.configs),
            spec.seeds,
            splits,
            settings,
            execution=spec.execution,
            workers=spec.workers,
            executor=spec.executor,
            scheduler=spec.scheduler,
            runs_per_gpu=spec.runs_per_gpu,
            journal=journal,
            time_limit=spec.time_limit,
            progress=progress,
            strict=spec.strict,
        )
    not_applicable = decisions.pop(NOT_APPLICABLE, {})
    for pair, why in not_applicable.items():
        say(f"regbench run: not applicable, not trained: {pair}: {why}")
    doc = results.matrix_results(
        runs,
        spec,
        splits,
        wall_seconds=time.perf_counter() - started,
        execution=decisions,
        not_applicable=not_applicable,
    )
    if spec.out is not None:
        write_outputs(doc, spec.out, plots=plots)
    return doc


def write_outputs(doc: dict, out: Path | str, *, plots: bool = True) -> list[Path]:
    """results.json, report.md, report.html and (unless ``plots`` is False) the plots, each written atomically;
    returns the plots written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", doc)
    written = save_plots(doc, out) if plots else []
    ranking_text, ranking_plots = _ranking_section(doc, out, plots=plots)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_report(doc, [str(p) for p in written]) + ranking_text, encoding="utf-8")
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(
            render_html(doc, written, ranking=ranking_text.strip(), ranking_plots=ranking_plots), encoding="utf-8"
        )
    return written


def _ranking_section(doc: dict, out: Path, *, plots: bool) -> tuple[str, list[Path]]:
    """A suite's verdicts across its datasets (also rank.md, rank.json and figures in ``out``) and its figures;
    nothing for one dataset.
    """
    if len(results.by_dataset(doc)) < 2:
        return "", []
    control = REFERENCE if REFERENCE in doc.get("configs", {}) else None
    try:
        ranked = ranking.rank([out / "results.json"], control=control)
    except ranking.RankError as exc:
        return f"\n## Ranking across datasets\n\nNot ranked: {exc}.\n", []
    figures = [p for p in ranking.write(ranked, out, plots=plots) if p.suffix == ".png"]
    return "\n" + ranking.render(ranked, level=2, figures=[p.name for p in figures]), figures
