"""Independent runs spread over worker processes, each with its share of the CPU threads.

The runs of a matrix are independent. On a CPU, a batch-32 step leaves much of a second thread
idle (on the 2-core machine regbench is developed on, a 20-epoch run took 1.45 s on one thread
and 0.95 s on two), so two runs side by side, one thread each, finish sooner than the same two
runs one after the other on both threads. Processes, not threads: each step's Python work holds
the GIL. Workers are fresh interpreters (the 'spawn' start method: forking a process whose
OpenMP threads have already run is not safe), receive the data once, and train with denormals
flushed, as ``regbench run`` does in its own process. The calling process trains too.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Iterator

import torch
from tqdm.auto import tqdm

from regbench.data import Split
from regbench.errors import UsageError
from regbench.experiment import Cell, Settings, run_one
from regbench.records import RunRecord

__all__ = ["MIN_PARALLEL_SAMPLES", "default_workers", "run_many", "threads_per_worker", "usable_workers", "worker_threads"]

_WORKER: dict = {}  # what a worker process was started with: the split and the settings


MIN_PARALLEL_SAMPLES = 200_000  # training samples of a whole matrix below which workers do not pay (see default_workers)


def default_workers(settings: Settings, runs: int, samples: int) -> int:
    """One process per CPU thread torch would use, for the fast engine on a CPU; one otherwise.

    A GPU is one device that the runs would share, and the notebook engine is the reference,
    kept one run at a time as the notebook ran it. A small matrix (``samples``, all runs'
    training samples together, under MIN_PARALLEL_SAMPLES) also stays in this process: starting
    a worker takes about 3 s on a 2-core machine, as long as training 60k samples there, and
    `regbench run --quick` (54k samples) was 2-3 s slower with workers than without.
    """
    if torch.device(settings.device).type != "cpu" or settings.engine != "fast" or samples < MIN_PARALLEL_SAMPLES:
        return 1
    return max(1, min(torch.get_num_threads(), runs))


def threads_per_worker(workers: int) -> int:
    """Split torch's thread budget (OMP_NUM_THREADS or the core count) evenly across the workers."""
    return max(1, torch.get_num_threads() // max(1, workers))


@contextmanager
def worker_threads(workers: int) -> Iterator[None]:
    """Run the block on one worker's share of the threads: this process training as one of ``workers``, or timing one."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads_per_worker(workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_many(jobs: list[Cell], split: Split, settings: Settings, *, workers: int = 1) -> list[RunRecord]:
    """run_one for every cell, records in the order given; ``workers`` at a time when more than one.

    This process is one of the workers: it trains jobs from the end of the list while the
    others start up (importing torch takes seconds) and work from the front. A job this process
    cannot cancel has been taken by a worker, and so have all jobs before it.
    """
    workers = usable_workers(workers)
    if workers == 1 or len(jobs) <= 1:
        return [run_one(cell.config, cell.seed, split, settings) for cell in jobs]
    workers = min(workers, len(jobs))
    pool = ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(split, settings, threads_per_worker(workers)))
    bar = tqdm(total=len(jobs), desc=f"runs on {workers} processes", unit="run", disable=None, leave=False)
    try:
        futures = [pool.submit(_run, cell) for cell in jobs]
        for future in futures:
            future.add_done_callback(lambda f: f.cancelled() or bar.update())
        here: dict[int, RunRecord] = {}
        with worker_threads(workers):
            for k in reversed(range(len(jobs))):
                if not futures[k].cancel():
                    break
                here[k] = run_one(jobs[k].config, jobs[k].seed, split, settings, progress=False)
                bar.update()
        return [here[k] if k in here else future.result() for k, future in enumerate(futures)]
    except BrokenProcessPool as exc:
        raise RuntimeError(f"a worker process died ({exc}); rerun with --workers 1 to train in this process and see why") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def usable_workers(workers: int) -> int:
    """``workers``, or 1 (with a warning) where worker processes cannot start: the 'spawn' start
    method re-runs the main script by path in each worker, and a script read from stdin has none."""
    if workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}")
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if workers > 1 and path is not None and not os.path.exists(path):
        warnings.warn(f"worker processes re-import the __main__ module, which has no file here ({path}); "
                      "training one run at a time in this process instead", RuntimeWarning, stacklevel=3)
        return 1
    return workers


def _start_worker(split: Split, settings: Settings, threads: int) -> None:
    """Runs once in each new worker: its thread share, flushed denormals, and the data every job uses."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    _WORKER.update(split=split, settings=settings)


def _run(cell: Cell) -> RunRecord:
    """One job inside a worker."""
    return run_one(cell.config, cell.seed, _WORKER["split"], _WORKER["settings"], progress=False)
