"""Cells trained once, for the benchmark assertions: (config hash, seed, settings, data) -> its record.

A cache root holds one folder per config and fingerprint (``spec.fingerprint``: the training
settings, the dataset's content hash, torch, and the code that config runs), each with a journal
(``regbench.journal``). Cells are journaled under the config's hash, not its name, so a changed
config trains only its own cells, a renamed one trains none, and the baseline's cells serve every
comparison made against it. While a folder trains it is locked (``fcntl.flock`` on a file
beside the journal): pytest-xdist workers that want the same cells wait, then find them in the
journal, so no cell is trained twice at once.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from regbench import files
from regbench.configs import Config
from regbench.describing import stable_hash
from regbench.datasets import Dataset
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.journal import FILENAME, Journal
from regbench.matrix import run_matrix
from regbench.spec import RunSpec, fingerprint
from regbench.train import flushed_denormals

__all__ = ["FILENAME", "default_root", "train_cells"]


def default_root() -> Path:
    """$REGBENCH_CACHE, else regbench/ under the user's cache folder ($XDG_CACHE_HOME or ~/.cache)."""
    if os.environ.get("REGBENCH_CACHE"):
        return Path(os.environ["REGBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "regbench"


def train_cells(
    configs: list[Config],
    seeds: int,
    dataset: Dataset,
    settings: Settings,
    *,
    root: Path | str,
    n_train: object = "default",
    n_test: object = "default",
) -> dict[str, list[dict]]:
    """Each config's records for seeds 0..seeds-1 (by config name, in seed order), training only what the cache
    lacks.
    """
    splits = [dataset.split()]
    out: dict[str, list[dict]] = {}
    for config in {c.hash: c for c in configs}.values():
        keyed = replace(config, name=f"config-{config.hash}")  # cells are the definition's, whatever it is called
        spec = RunSpec(
            configs=(keyed,),
            datasets=(dataset,),
            seeds=seeds,
            settings=settings,
            execution="single",
            workers=1,
            n_train=n_train,
            n_test=n_test,
        )
        folder = Path(root) / stable_hash(
            fingerprint(spec, splits)
        )  # one config's code and settings: shared by every comparison
        folder.mkdir(parents=True, exist_ok=True)
        with files.locked(folder / "lock"):
            journal = Journal.open(folder, fingerprint(spec, splits), {keyed.name: keyed.hash})
            with flushed_denormals():
                records, _ = run_matrix(
                    [keyed], seeds, splits, settings, execution="single", workers=1, journal=journal, progress=False
                )
        rows = [r.as_dict() for r in records]
        for row in rows:
            if row["status"] != "ok":
                raise UsageError(
                    f"{dataset.name}: seed {row['seed']} of config {config.name} did not train: {row['status']}: "
                    f"{row.get('error') or 'no message'}"
                )
        out[config.hash] = rows
    return {c.name: out[c.hash] for c in configs}
