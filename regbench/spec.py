"""A run's one description: configs, datasets, seeds, training settings, executor and output.

The command line and ``regbench.run`` both build a ``RunSpec``; everything after reads it: the
matrix plans its cells from it, the journal's fingerprint (what a resumed run must share) and
the results' settings (what the gate compares, ``COMPARED``) are both derived from it here, so
the three can never disagree on what describes a run.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch

from regbench.configs import FACTORIES, Config
from regbench.data import Split, digest
from regbench.datasets import Dataset
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.records import EXECUTIONS

__all__ = ["COMPARED", "RunSpec", "fingerprint", "results_settings", "source_digest"]

# The settings two results files must share for the gate to compare them: what changes a run's numbers
# apart from its code (the device and executor change its speed, which the gate judges on like hardware only).
COMPARED = ("epochs", "batch_size", "lr", "engine", "dataset", "n_train_per_class", "n_test_per_class")


@dataclass(frozen=True)
class RunSpec:
    """What one `regbench run` trains, how, where, and where it writes."""

    configs: tuple[Config, ...]
    datasets: tuple[Dataset, ...]
    seeds: int
    settings: Settings
    execution: Optional[str] = None  # 'sweep' or 'single' for every stackable group; None: matrix.AUTO_RULE by device
    executor: str = "local"  # 'local' or 'dask'
    workers: Optional[int] = None  # None: executors.default_workers decides
    scheduler: Optional[str] = None  # a Dask scheduler's address
    runs_per_gpu: Optional[int] = None
    time_limit: Optional[float] = None  # seconds per cell
    # configs were named: one that cannot apply stops the run (matrix.run_matrix); the built-ins skip what does not
    # apply
    strict: bool = True
    n_train: object = "default"  # per class, as asked (None: all; "default": each dataset's own)
    n_test: object = "default"
    out: Optional[Path] = None

    def __post_init__(self) -> None:
        if self.execution not in (None, *EXECUTIONS):
            raise UsageError(
                f"unknown execution {self.execution!r}; choose one of {', '.join(EXECUTIONS)} or None for the rule by"
                " device"
            )
        if self.seeds < 1:
            raise UsageError(f"seeds must be >= 1, got {self.seeds}")
        if not self.configs or not self.datasets:
            raise UsageError("a run needs at least one config and one dataset")


def _per_class(value: object) -> object:
    """How results write a per-class count: a number, 'all' (None) or 'default'."""
    return "all" if value is None else value


def results_settings(spec: RunSpec, splits: list[Split], *, wall_seconds: float, execution: dict) -> dict:
    """The settings a results file records (and the gate reads ``COMPARED`` of): the training settings, then the
    data's.
    """
    one = splits[0] if len(splits) == 1 else None
    return {
        **asdict(spec.settings),
        "seeds": spec.seeds,
        "dataset": one.name if one else ",".join(s.name for s in splits),
        "data_source": one.source if one else "; ".join(f"{s.name}: {s.source}" for s in splits),
        "execution": execution,
        "n_train_per_class": _per_class(spec.n_train),
        "n_test_per_class": _per_class(spec.n_test),
        "train_size": len(one.train) if one else {s.name: len(s.train) for s in splits},
        "test_size": len(one.test) if one else {s.name: len(s.test) for s in splits},
        "wall_seconds": wall_seconds,
    }


def fingerprint(spec: RunSpec, splits: list[Split]) -> dict:
    """What a journal's cells share: the training settings, each dataset's name, content hash and sizes, torch and
    the code.
    """
    return {
        **asdict(spec.settings),
        "datasets": {
            s.name: {"digest": digest(s), "train_size": len(s.train), "test_size": len(s.test)} for s in splits
        },
        "torch": torch.__version__,
        "code_digest": source_digest(spec.configs),
    }


def source_digest(configs: tuple[Config, ...] | list[Config]) -> str:
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
            if (
                path and not path.startswith(sys.base_prefix) and "site-packages" not in path
            ):  # torch's own factories change with its version
                files.add(Path(path))
    h = hashlib.sha256()
    for path in sorted(files, key=str):
        h.update(str(path.name).encode() + path.read_bytes())
    return h.hexdigest()[:16]
