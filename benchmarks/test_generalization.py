"""Generalization runs: the configuration matrix over seeds on the embedded digits, into results/.

Short by default (5 seeds x 5 epochs); ``--bench-full`` uses ``regbench run``'s defaults (5 seeds
x 20 epochs). Every run goes through ``regbench.experiment.run_one`` and the file through
``regbench.results``, so it has ``regbench run``'s schema and ``regbench compare`` gates it:

    results/latest/generalization-quick-cpu.json  vs  results/baseline-cpu-quick.json
    results/latest/generalization-full-cpu.json   vs  results/baseline-cpu.json

These are not timed by pytest-benchmark (each run records its own samples/s and seconds).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from regbench import results
from regbench.configs import CONFIGS
from regbench.datasets import load_dataset
from regbench.experiment import Settings, run_one
from regbench.records import RunRecord
from regbench.spec import RunSpec

pytestmark = pytest.mark.benchmark

SEEDS = 5  # regbench run's default: enough for the gate's tests to reach p < 0.01
QUICK_EPOCHS = 5  # a minute on 2 cores; accuracies are already within a few points of converged
DATASET = "digits"
N_TRAIN, N_TEST = 100, 300  # per class: the notebook's small-data experiment


class Matrix:
    """Records of one device's runs, written as one results file when the module finishes."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings, self.path = settings, path
        self.split = load_dataset(DATASET, n_train=N_TRAIN, n_test=N_TEST)
        self.runs: list[RunRecord] = []
        self.started = time.perf_counter()

    def write(self) -> None:
        """The same document `regbench run` writes, with the same settings keys."""
        ran = tuple(CONFIGS[name] for name in dict.fromkeys(r.config for r in self.runs))
        spec = RunSpec(
            configs=ran,
            datasets=(self.split.dataset,),
            seeds=SEEDS,
            settings=self.settings,
            n_train=N_TRAIN,
            n_test=N_TEST,
        )
        doc = results.matrix_results(self.runs, spec, [self.split], wall_seconds=time.perf_counter() - self.started)
        results.write_json(self.path, doc)


@pytest.fixture(scope="module")
def matrix(request: pytest.FixtureRequest, device) -> Matrix:
    """One Matrix per device; its file is written after the last config ran."""
    full = request.config.getoption("bench_full")
    settings = Settings(epochs=Settings.epochs if full else QUICK_EPOCHS, device=device.type)
    out = request.config.getoption("bench_out")
    collected = Matrix(settings, out / f"generalization-{'full' if full else 'quick'}-{device.type}.json")
    yield collected
    if collected.runs:
        collected.write()
        request.config.pluginmanager.get_plugin("terminalreporter").write_line(f"\nregbench: wrote {collected.path}")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_generalization(matrix: Matrix, config: str):
    """Train every seed of one config and keep the records; a diverged run is recorded and warned about."""
    for seed in range(SEEDS):
        record = run_one(CONFIGS[config], seed, matrix.split, matrix.settings)
        matrix.runs.append(record)
        if not record.ok:
            warnings.warn(f"{config} seed {seed}: {record.error}", stacklevel=1)
    assert [r.seed for r in matrix.runs if r.config == config] == list(range(SEEDS))
