"""Worker processes: the same records as training in this process, in order, with errors carried back."""

import sys

import pytest
import torch

from examples.my_regularizers import CNN
from regbench.configs import CONFIGS, Config
from regbench.data import Split, embedded_digits, small_data_split
from regbench.errors import UsageError
from regbench.experiment import Cell, Settings
from regbench.pool import MIN_PARALLEL_SAMPLES, default_workers, run_many, threads_per_worker, usable_workers, worker_threads

TIMING = {"samples_per_second", "train_seconds", "run_seconds"}  # the only fields allowed to differ between processes


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 6, 6)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def test_workers_give_the_records_of_one_process_in_order(tiny_split, one_thread):
    """Two workers return exactly what training here returns (timings aside), in the order the jobs were given, a user's CNN included."""
    jobs = [Cell(config, seed) for config in (CONFIGS["l1"], CONFIGS["dropout"], CONFIGS["augment-flip"], CNN) for seed in (1, 0)]
    settings = Settings(epochs=2, batch_size=8)
    here = run_many(jobs, tiny_split, settings, workers=1)
    there = run_many(jobs, tiny_split, settings, workers=2)
    assert [(r.config, r.seed) for r in there] == [(c.config.name, c.seed) for c in jobs]
    for a, b in zip(here, there, strict=True):
        assert {k: v for k, v in a.as_dict().items() if k not in TIMING} == {k: v for k, v in b.as_dict().items() if k not in TIMING}, (a.config, a.seed)


def _fails_in_training(x):
    raise RuntimeError("a bug in the user's forward")


class _BuggyForward(torch.nn.Linear):
    """Fine at the preflight's batch of 4, broken on larger batches: a bug only training finds."""

    def __init__(self) -> None:
        super().__init__(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > 4:
            _fails_in_training(x)
        return super().forward(x.flatten(1))


def test_an_error_in_a_worker_reaches_the_caller(tiny_split):
    """A run that raises in a worker raises the same error here, message intact."""
    buggy = Config(name="buggy", model=_BuggyForward)
    with pytest.raises(RuntimeError, match="a bug in the user's forward"):
        run_many([Cell(buggy, 0), Cell(buggy, 1)], tiny_split, Settings(epochs=1), workers=2)


def test_default_workers_follow_device_engine_size_and_thread_budget(one_thread):
    """One worker per thread on the CPU's fast engine, never more than runs; one for the notebook engine, for CUDA and for a small matrix."""
    torch.set_num_threads(3)
    big = MIN_PARALLEL_SAMPLES
    assert default_workers(Settings(), runs=45, samples=big) == 3
    assert default_workers(Settings(), runs=2, samples=big) == 2
    assert default_workers(Settings(device=torch.device("cpu")), runs=45, samples=big) == 3  # a torch.device works as well as its name
    assert default_workers(Settings(), runs=45, samples=big - 1) == 1
    assert default_workers(Settings(engine="notebook"), runs=45, samples=big) == 1
    assert default_workers(Settings(device="cuda"), runs=45, samples=big) == 1
    assert threads_per_worker(2) == 1 and threads_per_worker(1) == 3
    with worker_threads(3):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


def test_workers_must_be_positive(tiny_split):
    """Zero workers is a caller's mistake, not a silent serial run."""
    with pytest.raises(UsageError, match="workers must be >= 1"):
        run_many([Cell(CONFIGS["baseline"], 0)], tiny_split, Settings(epochs=1), workers=0)


def test_a_main_script_without_a_file_keeps_training_here(monkeypatch):
    """A script read from stdin cannot be re-imported by a spawned worker: one process, and a warning that says why."""
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "<stdin>", raising=False)
    with pytest.warns(RuntimeWarning, match="no file here"):
        assert usable_workers(2) == 1
    assert usable_workers(1) == 1
