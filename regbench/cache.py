"""Cells trained once, for the benchmark assertions: (config hash, seed, settings, data) -> its record.

A cache root holds one folder per fingerprint (``spec.fingerprint``: the training settings, each
dataset's content hash, torch and the code), each with a journal (``regbench.journal``). Cells are
journaled under their config's hash, not its name, so a changed config trains only its own cells
and a renamed one trains none. While a folder trains it is locked (``fcntl.flock`` on a file
beside the journal): pytest-xdist workers that want the same cells wait, then find them in the
journal, so no cell is trained twice at once.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

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


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent) for the block: one trainer per folder across processes."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_cells(configs: list[Config], seeds: int, dataset: Dataset, settings: Settings, *, root: Path | str,
                n_train: object = "default", n_test: object = "default") -> dict[str, list[dict]]:
    """Each config's records for seeds 0..seeds-1 (by config name, in seed order), training only what the cache lacks."""
    keyed = {c.hash: replace(c, name=f"config-{c.hash}") for c in configs}  # one cell per definition, whatever it is called
    spec = RunSpec(configs=tuple(keyed.values()), datasets=(dataset,), seeds=seeds, settings=settings, execution="single", workers=1,
                   n_train=n_train, n_test=n_test)
    splits = [dataset.split()]
    folder = Path(root) / stable_hash(fingerprint(spec, splits))
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "lock"):
        journal = Journal.open(folder, fingerprint(spec, splits), {c.name: c.hash for c in keyed.values()})
        with flushed_denormals():
            records, _ = run_matrix(list(keyed.values()), seeds, splits, settings, execution="single", workers=1, journal=journal, progress=False)
    by_hash: dict[str, list[dict]] = {}
    for record in records:
        row = record.as_dict()
        if row["status"] != "ok":
            raise UsageError(f"{dataset.name}: seed {row['seed']} of a config ({row['config']}) did not train: {row['status']}: "
                             f"{row.get('error') or 'no message'}")
        by_hash.setdefault(row["config_hash"], []).append(row)
    return {c.name: by_hash[c.hash] for c in configs}
