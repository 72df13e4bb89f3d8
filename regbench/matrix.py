"""The matrix: every (dataset, config, seed) cell, checked, grouped and handed to the execution that trains it fastest.

It is the one owner of a run's cells: it asks the journal what is done, sizes the worker
processes, and hands each dataset's cells down to the engines and the executor. In order:

1. Preflight: each config is built once and fed one batch (``experiment.preflight``), so a
   mistake stops the run, named, before anything trains.
2. Grouping: configs the stacked engine can represent exactly (``stacked.plan``, read off the
   built objects) are grouped by architecture; every other config trains one by one, with the
   reason recorded.
3. Choosing: for each group, ``execution=None`` follows a fixed rule per device type
   (``AUTO_RULE``: one by one on a CPU, stacked on a GPU), so the same command on the same
   machine always trains alike; ``"sweep"`` or ``"single"`` forces one.
4. Dispatching: stacked groups train in this process (``stacked.run_group``); one-by-one cells
   go, seed by seed (``cell_order``), to an executor (``executors``: this process, a local process pool, or a Dask
   cluster).
5. Journaling: with a journal, cells it already holds are skipped (a resumed run), and every
   finished record is appended to it the moment it arrives. One progress bar counts cells.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import torch

from tqdm.auto import tqdm

from regbench import stacked
from regbench.configs import Config
from regbench.data import Split
from regbench.datasets import reference
from regbench.errors import UsageError
from regbench.executors import Executor, default_workers, make_executor, usable_workers
from regbench.experiment import Cell, NotApplicable, Settings, preflight
from regbench.journal import Journal
from regbench.records import EXECUTIONS, RunRecord

__all__ = [
    "AUTO_RULE",
    "EXECUTIONS",
    "NOT_APPLICABLE",
    "cell_order",
    "choose_execution",
    "group_configs",
    "place",
    "run_matrix",
]

ONE_BY_ONE = "one by one"  # the name of the group of configs the stacked engine cannot represent
RESUMED = "resumed"  # ... and of the configs a journal already holds every cell of
NOT_APPLICABLE = "not applicable"  # in a suite: "dataset/config" -> why that config cannot train on that dataset


def group_configs(
    configs: list[Config], split: Split, settings: Settings, *, refuse: bool = True
) -> tuple[dict[str, list[Config]], dict[str, str], dict[str, str]]:
    """Preflight every config: stackable ones grouped by architecture (named), why each other one trains one by one,
    and (unless ``refuse``, which raises instead) why each config that cannot apply to this dataset is left out."""
    groups: dict[str, list[Config]] = {}
    architectures: dict[stacked.Architecture, str] = {}
    reasons: dict[str, str] = {}
    refused: dict[str, str] = {}
    for config in configs:
        try:
            run = preflight(config, split, settings)
        except NotApplicable as error:
            if refuse:
                raise
            refused[config.name] = str(error)
            continue
        member = stacked.plan(run) if settings.engine == "fast" else "the notebook engine trains one run at a time"
        if isinstance(member, str):
            reasons[config.name] = member
            continue
        arch = member.architecture
        if arch not in architectures:
            architectures[arch] = _group_name(arch, settings, taken=set(architectures.values()))
        groups.setdefault(architectures[arch], []).append(config)
    return groups, reasons, refused


def _group_name(arch: stacked.Architecture, settings: Settings, *, taken: set[str]) -> str:
    """A stacked group's name: the layer widths, and whatever else sets it apart (BatchNorm, label smoothing, Adam's
    settings).
    """
    name = f"mlp{'-batchnorm' if arch.batchnorm else ''}-{'-'.join(map(str, arch.sizes))}"
    if arch.batchnorm is not None and arch.batchnorm != (1e-5, 0.1):  # nn.BatchNorm1d's defaults go unsaid
        name += f"-bn-eps={arch.batchnorm[0]:g}-momentum={arch.batchnorm[1]:g}"
    if arch.label_smoothing:
        name += f"-label_smoothing={arch.label_smoothing:g}"
    lr, betas, eps = arch.adam
    if (lr, betas, eps) != (settings.lr, (0.9, 0.999), 1e-8):  # Adam's defaults at the run's lr go unsaid
        name += f"-adam-lr={lr:g}-betas={betas[0]:g},{betas[1]:g}-eps={eps:g}"
    while name in taken:
        name += "+"
    return name


AUTO_RULE = {  # what --execution auto trains each stackable group as, by device type: a rule, not a timing
    "cpu": (
        "single",
        (
            "a CPU trains one by one: the stacked sweep was about 4x slower on 2 cores (README: The engines), "
            "and a timing probe let a burst of load flip the choice between two runs of one command"
        ),
    ),
    "cuda": ("sweep", "a GPU trains the group stacked: one kernel launch for every member's step"),
}


def choose_execution(cells: list[Cell], settings: Settings) -> dict:
    """What ``execution=None`` trains a stackable group as: fixed per device type, so one command on one machine
    always chooses alike.
    """
    choice, why = AUTO_RULE.get(torch.device(settings.device).type, AUTO_RULE["cpu"])
    return {"choice": choice, "members": len(cells), "rule": why}


def cell_order(cells: list[Cell]) -> list[Cell]:
    """The order one-by-one cells are handed out: seed by seed, and within a seed in an order drawn from a hash of
    (config, seed).

    Timings share the machine's momentary load: two seeds of one config run one after the other
    are slowed by the same burst, and look like a config-specific slowdown with a tight spread.
    Spread a round apart, at a different place in each round (so a load with a period near a
    round's length cannot hit one config's every seed), a burst hits different configs' seeds,
    and the gate sees it as noise. The order is fixed: the same matrix always runs alike.
    """
    return sorted(cells, key=lambda cell: place(cell.dataset, cell.config.name, cell.seed))


def place(dataset: Optional[str], config: str, seed: int) -> tuple[int, str]:
    """A cell's place in the order cells are handed out (``cell_order``; ``regbench continuous`` interleaves its
    twins in it too).
    """
    return seed, hashlib.sha256(f"{dataset}/{config}/{seed}".encode()).hexdigest()


def run_matrix(
    configs: list[Config],
    seeds: int,
    splits: Split | Sequence[Split],
    settings: Settings,
    *,
    execution: Optional[str] = None,
    workers: Optional[int] = None,
    executor: Executor | str | None = None,
    scheduler: Optional[str] = None,
    runs_per_gpu: Optional[int] = None,
    journal: Optional[Journal] = None,
    time_limit: Optional[float] = None,
    progress: Optional[bool] = None,
    strict: bool = True,
) -> tuple[list[RunRecord], dict]:
    """Every (dataset, config, seed), each architecture group stacked or one by one as measured (or told) faster.

    ``splits`` is one dataset's split or several (a suite). ``execution`` forces 'sweep' or
    'single' (None: ``AUTO_RULE``); configs the stacked engine cannot represent, and every config on
    the notebook engine, train one by one whatever it says. One-by-one cells go to ``executor``:
    an Executor, or the name of one ('local', 'dask'; None: 'local') made here with ``workers``
    processes (None: executors.default_workers for the whole matrix), ``scheduler`` and
    ``runs_per_gpu``. With a ``journal``, cells it holds are not trained again and every new
    record is appended to it as it finishes. ``time_limit`` seconds per cell (checked after each
    epoch). A config that cannot apply to a dataset (experiment.NotApplicable) is reported under
    NOT_APPLICABLE and the rest trains, except when the configs were named (``strict``, the
    default): then it stops a run on one dataset, and in a suite a config that applies to no
    dataset stops it (a mistake in the config, not a mismatch). Returns the records in (dataset,
    config, seed) order and, per group, what was decided and why.
    """
    if execution not in (None, *EXECUTIONS):
        raise UsageError(f"unknown execution {execution!r}; choose one of {', '.join(EXECUTIONS)} or None to measure")
    if seeds < 1:
        raise UsageError(f"seeds must be >= 1, got {seeds}")
    splits = [splits] if isinstance(splits, Split) else list(splits)
    suite = len(splits) > 1
    records: dict[tuple, RunRecord] = {}
    if journal is not None:
        found = {
            (s.name, c.name, k): journal.done(s.name, c.name, k) for s in splits for c in configs for k in range(seeds)
        }
        records = {key: r for key, r in found.items() if r is not None}

    def todo(split: Split, chosen: list[Config]) -> list[Cell]:
        """The cells of a split that no journal line finished."""
        return [Cell(c, k, split.name) for c in chosen for k in range(seeds) if (split.name, c.name, k) not in records]

    plans, not_applicable = [], {}
    for split in splits:
        pending = [
            c for c in configs if todo(split, [c])
        ]  # a config whose every cell is in the journal is not built again
        groups, reasons, refused = group_configs(pending, split, settings, refuse=strict and not suite)
        not_applicable.update({f"{split.name}/{name}": why for name, why in refused.items()})
        plans.append((split, pending, groups, reasons))
    if strict:
        _check_applicable(configs, splits, not_applicable)
    planned = [
        Cell(c, k, s.name)
        for s in splits
        for c in configs
        for k in range(seeds)
        if f"{s.name}/{c.name}" not in not_applicable
    ]
    owned = not isinstance(executor, Executor)
    if owned:
        executor = _make_executor(
            executor or "local",
            settings,
            planned,
            splits,
            workers=workers,
            scheduler=scheduler,
            runs_per_gpu=runs_per_gpu,
        )
    decisions: dict[str, dict] = {}
    work = []  # per dataset: (split, stacked groups of cells, one-by-one cells)
    for split, pending, groups, reasons in plans:
        prefix = f"{split.name}/" if suite else ""
        stacks, singles = [], []
        if len(pending) < len(configs):
            decisions[prefix + RESUMED] = {
                "choice": "resumed",
                "members": 0,
                "configs": [c.name for c in configs if c not in pending],
            }
        for name, members in groups.items():
            cells = todo(split, members)
            decision = {"choice": execution, "members": len(cells)} if execution else choose_execution(cells, settings)
            decisions[prefix + name] = {**decision, "configs": [c.name for c in members]}
            if decision["choice"] == "sweep":
                stacks.append(cells)
            else:
                decisions[prefix + name].update(executor.describe())
                singles += cells
        if reasons:
            cells = todo(split, [c for c in configs if c.name in reasons])
            decisions[prefix + ONE_BY_ONE] = {
                "choice": "single",
                "members": len(cells),
                "configs": list(reasons),
                **executor.describe(),
                "reasons": reasons,
            }
            singles += cells
        work.append((split, stacks, cell_order(singles)))
    if not_applicable:
        decisions[NOT_APPLICABLE] = not_applicable
    bar = tqdm(
        total=len(planned),
        initial=len(records),
        desc="cells",
        unit="cell",
        disable=None if progress is None else not progress,
        leave=False,
        dynamic_ncols=True,
    )
    failures = 0

    def finished(record: RunRecord) -> None:
        nonlocal failures
        records[(record.dataset, record.config, record.seed)] = record
        if journal is not None:
            journal.append(record)
        failures += not record.ok
        bar.update()
        if failures:
            bar.set_postfix(failed=failures)

    try:
        for split, stacks, singles in work:
            for cells in stacks:
                for record in stacked.run_group(cells, split, settings):
                    finished(record)
            for record in executor.run(singles, reference(split), settings, time_limit=time_limit):
                finished(record)
    finally:
        bar.close()
        if owned:
            executor.close()
    return [records[(c.dataset, c.config.name, c.seed)] for c in planned], decisions


def _check_applicable(configs: list[Config], splits: list[Split], not_applicable: dict[str, str]) -> None:
    """A config that applies to no dataset of a suite is a mistake in the config, not a mismatch: stop, as a single
    dataset would.
    """
    for config in configs:
        whys = [not_applicable.get(f"{s.name}/{config.name}") for s in splits]
        if whys and all(whys):
            raise NotApplicable(whys[0])


def _make_executor(
    name: str,
    settings: Settings,
    cells: list[Cell],
    splits: list[Split],
    *,
    workers: Optional[int],
    scheduler: Optional[str],
    runs_per_gpu: Optional[int],
) -> Executor:
    """The executor a run asked for, sized here for the whole matrix: the one place worker processes are counted."""
    if workers is None and name == "local" and not runs_per_gpu:
        sizes = {s.name: len(s.train) for s in splits}
        workers = default_workers(settings, len(cells), samples=sum(settings.epochs * sizes[c.dataset] for c in cells))
    gpus = (
        [str(k) for k in range(torch.cuda.device_count())]
        if runs_per_gpu and settings.device.startswith("cuda")
        else None
    )
    return make_executor(
        name, workers=usable_workers(workers or 1), scheduler=scheduler, gpus=gpus, runs_per_gpu=runs_per_gpu
    )
