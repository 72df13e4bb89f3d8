"""Where one-by-one cells train: this process, a local process pool, or a Dask cluster, behind one interface.

An executor takes cells and yields each cell's record as it finishes, in completion order. It
never raises for a failing cell:

- a cell that raises is recorded by ``experiment.run_cell`` (status "error", with the exception's
  last lines) and not retried: the same code would fail the same way;
- a worker process that dies (killed, out of memory) is retried: the local pool reruns the cells
  that were in flight each in a pool of its own, so a cell that kills its worker cannot take
  others down with it; Dask's scheduler retries by its own rule (its
  ``distributed.scheduler.allowed-failures``, 3 by default). A cell that kills every worker it
  gets is recorded as "crashed";
- a cell past the time limit is recorded as "timeout" (checked after every epoch).

Workers get the data by reference (``datasets.DataRef``): the Dataset that loads it and its content hash,
loaded once per worker process and refused if its hash differs from the driver's.

Local pool: ``concurrent.futures.ProcessPoolExecutor`` with the 'spawn' start method (forking a
process whose OpenMP threads have run is not safe) and an initializer that sets each worker's
share of the CPU threads, flushes denormals, and pins it to one GPU (``CUDA_VISIBLE_DEVICES``)
when runs share GPUs. Dask: ``distributed.Client`` on a scheduler address, or a ``LocalCluster``
of single-threaded worker processes; cells ask for their share of a ``GPU`` resource.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Iterator, Optional

import torch

from regbench.datasets import DataRef, resolve
from regbench.errors import UsageError
from regbench.experiment import Cell, Settings, make_record, run_cell
from regbench.records import RunRecord
from regbench.supervise import announce

__all__ = [
    "EXECUTORS",
    "MAX_ATTEMPTS",
    "MIN_PARALLEL_SAMPLES",
    "DaskExecutor",
    "Executor",
    "InProcess",
    "LocalPool",
    "default_workers",
    "make_executor",
    "threads_per_worker",
    "usable_workers",
    "worker_threads",
]

EXECUTORS = ("local", "dask")
# tries for a cell whose local worker dies: in the shared pool, then alone (a cell that kills a pool it has alone is the
# culprit)
MAX_ATTEMPTS = 2
NO_WORKERS_SECONDS = (
    120.0  # a cluster with no worker this long (every one died, none restarted) is not waited on for ever
)
CONNECT_TIMEOUT = "10s"  # how long to try a Dask scheduler address before saying it cannot be reached
# What regbench's LocalCluster changes in Dask's defaults, each of which costs training time:
# - the nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which keeps memory low for pandas but
#   makes glibc return and re-map memory on nearly every torch allocation; None leaves glibc's
#   default (start your own workers with
#   DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None);
# - the statistical profiler samples the training thread and the event loop ticks, often, each
#   taking the GIL from a training loop whose small-batch step is mostly Python;
# - work stealing moves tasks between workers, which cells of equal size do not need.
TORCH_FRIENDLY_DASK = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
}
MIN_PARALLEL_SAMPLES = (
    200_000  # training samples of a whole matrix below which worker processes do not pay (see default_workers)
)

_WORKER: dict = {}  # what a local worker process was started with


def default_workers(settings: Settings, runs: int, samples: int) -> int:
    """One process per CPU thread torch would use, for the fast engine on a CPU; one otherwise.

    A GPU is one device that the runs would share, and the notebook engine is the reference,
    kept one run at a time as the notebook ran it. A small matrix (``samples``, all runs'
    training samples together, under MIN_PARALLEL_SAMPLES) also stays in this process: starting
    a worker costs about as long as training that many samples, so workers would make it slower.
    """
    if torch.device(settings.device).type != "cpu" or settings.engine != "fast" or samples < MIN_PARALLEL_SAMPLES:
        return 1
    return max(1, min(torch.get_num_threads(), runs))


def threads_per_worker(workers: int) -> int:
    """Split torch's thread budget (OMP_NUM_THREADS or the core count) evenly across the workers."""
    return max(1, torch.get_num_threads() // max(1, workers))


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block on ``threads`` torch threads, restoring the count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def worker_threads(workers: int) -> AbstractContextManager[None]:
    """Run the block on one worker's share of the threads: this process timing one worker's runs."""
    return torch_threads(threads_per_worker(workers))


def usable_workers(workers: int) -> int:
    """``workers``, or 1 (with a warning) where worker processes cannot start: the 'spawn' start
    method re-runs the main script by path in each worker, and a script read from stdin has none."""
    if workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}")
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if workers > 1 and path is not None and not os.path.exists(path):
        warnings.warn(
            f"worker processes re-import the __main__ module, which has no file here ({path}); "
            "training one run at a time in this process instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return 1
    return workers


def _train(cell: Cell, ref: DataRef, settings: Settings, threads: int, time_limit: Optional[float]) -> RunRecord:
    """One cell in whatever process the executor chose: its thread share, flushed denormals, the data by reference."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    return run_cell(cell, resolve(ref), settings, time_limit=time_limit)


def _identity(value: object) -> object:
    """A task whose result is its argument: data a Dask worker can fetch, and the scheduler recompute."""
    return value


def _crashed(cell: Cell, settings: Settings, why: str) -> RunRecord:
    """The record of a cell whose worker died on every attempt."""
    return make_record(
        cell,
        settings,
        status="crashed",
        run_seconds=0.0,
        error=f"the worker process training it died {why}; run it alone (--workers 1) to see why",
    )


class Executor:
    """Trains cells and yields their records as they finish; a context manager that releases its processes."""

    name = "executor"
    workers = 1

    def run(
        self, cells: list[Cell], ref: DataRef, settings: Settings, *, time_limit: Optional[float] = None
    ) -> Iterator[RunRecord]:
        raise NotImplementedError

    def describe(self) -> dict:
        """What the results file records about where the cells trained."""
        return {"executor": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release processes and connections."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Every cell here, one after another: small matrices and debugging; on a CPU, the fast engine on one thread, as a
    worker trains.

    One thread makes a lone run's samples/s mean what a worker's does, and keeps it honest on a
    shared machine: a neighbour busy on one core slows a two-thread step badly (every step waits
    for the thread that lost its core) and leaves a one-thread step its own core (docs: the gate
    under load). The notebook engine keeps torch's threads, as the notebook ran.
    """

    name = "local"

    def run(
        self, cells: list[Cell], ref: DataRef, settings: Settings, *, time_limit: Optional[float] = None
    ) -> Iterator[RunRecord]:
        one = torch.device(settings.device).type == "cpu" and settings.engine == "fast"
        with torch_threads(1) if one else nullcontext():
            for cell in cells:
                announce(
                    f"the training of config {cell.config.name!r} seed {cell.seed} on {cell.dataset} in this process"
                )
                yield run_cell(cell, resolve(ref), settings, time_limit=time_limit)


def _start_worker(threads: int, gpus: Optional[object]) -> None:
    """Runs once in each new local worker: its thread share, flushed denormals, and its GPU when runs share GPUs."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(
            gpus.get_nowait()
        )  # before CUDA starts in this process; it then sees one device
    _WORKER.update(threads=threads, gpu=os.environ.get("CUDA_VISIBLE_DEVICES"))


def _worker_gpu() -> Optional[str]:
    """The GPU a local worker was pinned to (what its CUDA_VISIBLE_DEVICES says), for tests and records."""
    return os.environ.get("CUDA_VISIBLE_DEVICES")


class LocalPool(Executor):
    """A ``ProcessPoolExecutor`` of spawned workers on this machine, each on its share of the CPU threads (or pinned
    to a GPU).
    """

    name = "local"

    def __init__(self, workers: int, *, gpus: Optional[list[str]] = None, runs_per_gpu: int = 1) -> None:
        if gpus:
            workers = len(gpus) * runs_per_gpu  # each GPU shared by runs_per_gpu worker processes
        self.workers, self.gpus, self.runs_per_gpu = workers, list(gpus or []), runs_per_gpu
        self.threads = threads_per_worker(workers) if not gpus else 1
        self._context = multiprocessing.get_context("spawn")
        self._shared: Optional[ProcessPoolExecutor] = None

    def describe(self) -> dict:
        return {**super().describe(), **({"gpus": self.gpus, "runs_per_gpu": self.runs_per_gpu} if self.gpus else {})}

    def gpu_slots(self) -> list[str]:
        """The GPU of each worker slot: every GPU runs_per_gpu times."""
        return sorted(self.gpus * self.runs_per_gpu)

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        gpus = None
        if self.gpus:  # a smaller pool (a retry alone) takes only the first slots
            gpus = self._context.Queue()
            for gpu in self.gpu_slots():
                gpus.put(gpu)
        return ProcessPoolExecutor(
            workers, mp_context=self._context, initializer=_start_worker, initargs=(self.threads, gpus)
        )

    def run(
        self, cells: list[Cell], ref: DataRef, settings: Settings, *, time_limit: Optional[float] = None
    ) -> Iterator[RunRecord]:
        """Keep one cell per worker in flight; when a worker dies, rerun the cells it may have taken down, each
        alone.
        """
        queue = list(cells)
        while queue:
            if self._shared is None:
                self._shared = self._pool(
                    self.workers
                )  # kept across calls: workers start (import torch, load data) once
            in_flight: dict = {}
            suspects: list[Cell] = []
            try:
                while (queue or in_flight) and not suspects:
                    while queue and len(in_flight) < self.workers:
                        cell = queue.pop(0)
                        in_flight[self._shared.submit(_train, cell, ref, settings, self.threads, time_limit)] = cell
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        cell = in_flight.pop(future)
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            suspects.append(cell)
            except BaseException:
                self.close(force=True)  # Ctrl-C or a usage error: stop every worker now
                raise
            if suspects:  # the pool is broken: every cell still in flight may have died with it
                suspects += list(in_flight.values())
                self.close()
                for cell in suspects:
                    yield self._alone(cell, ref, settings, time_limit)

    def close(self, *, force: bool = False) -> None:
        """Shut the pool down: after its runs, cleanly; with ``force`` (an interrupt), terminating workers mid-run."""
        if self._shared is not None:
            _shut(self._shared) if force else self._shared.shutdown(wait=True, cancel_futures=True)
            self._shared = None

    def _alone(self, cell: Cell, ref: DataRef, settings: Settings, time_limit: Optional[float]) -> RunRecord:
        """A cell whose pool broke, retried in a pool of its own: guilty only if it breaks that too, MAX_ATTEMPTS - 1
        times.
        """
        for _ in range(MAX_ATTEMPTS - 1):
            pool = self._pool(1)
            try:
                return pool.submit(_train, cell, ref, settings, self.threads, time_limit).result()
            except BrokenProcessPool:
                continue
            finally:
                pool.shutdown(wait=True)  # a broken pool's worker is already gone; a finished one exits on its own
        return _crashed(cell, settings, f"on each of {MAX_ATTEMPTS} attempts, the last one alone")


def _shut(pool: ProcessPoolExecutor) -> None:
    """Stop a pool without waiting for runs in flight (after Ctrl-C, say), leaving no process behind."""
    processes = list(
        (getattr(pool, "_processes", None) or {}).values()
    )  # ProcessPoolExecutor keeps no public handle on its workers
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:  # a worker that outlives SIGTERM's grace gets SIGKILL
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    if manager is not None:
        # The pool's manager thread reaps the workers too; a worker it reaped first reads as alive here
        # (waitpid: no such child) until it has recorded the exit code, so wait for it to finish.
        manager.join(timeout=10)


class DaskExecutor(Executor):
    """Cells as tasks of a Dask cluster: an existing scheduler, or a LocalCluster of single-threaded worker
    processes.
    """

    name = "dask"

    def __init__(
        self, address: Optional[str] = None, *, workers: Optional[int] = None, gpu_share: Optional[float] = None
    ) -> None:
        try:
            import dask
            import distributed
        except ModuleNotFoundError:
            raise UsageError("--executor dask needs Dask distributed: pip install 'regbench[dask]'") from None
        self._distributed, self.gpu_share, self.cluster = distributed, gpu_share, None
        address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
        started = time.perf_counter()
        try:
            if address:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            else:
                with dask.config.set(TORCH_FRIENDLY_DASK):
                    self.cluster = distributed.LocalCluster(
                        n_workers=workers or os.cpu_count() or 1,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                self.client = distributed.Client(self.cluster)
        except OSError as error:
            raise UsageError(f"cannot connect to the Dask scheduler at {address}: {error}") from None
        self.start_seconds = time.perf_counter() - started
        self.address = self.client.scheduler.address
        self.workers = len(self.client.nthreads())

    def describe(self) -> dict:
        return {
            **super().describe(),
            "scheduler": self.address if self.cluster is None else "LocalCluster",
            **({"gpu_share": self.gpu_share} if self.gpu_share else {}),
        }

    def run(
        self, cells: list[Cell], ref: DataRef, settings: Settings, *, time_limit: Optional[float] = None
    ) -> Iterator[RunRecord]:
        # A reference by origin is a few bytes and travels with each task. A split made in memory becomes the
        # result of a task of its own, fetched once by each worker that needs it and recomputed if a worker dies
        # (data scattered from the driver would be lost with that worker, and the cells needing it with it).
        shared = (
            ref
            if ref.inline is None
            else self.client.submit(
                _identity, ref, pure=False, key=f"regbench-data-{ref.digest}-{uuid.uuid4().hex[:8]}"
            )
        )
        resources = {"GPU": self.gpu_share} if self.gpu_share else None
        batch = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(
                _train,
                cell,
                shared,
                settings,
                1,
                time_limit,
                pure=False,
                resources=resources,
                key=f"regbench-{batch}-{k}-{cell.config.name}-{cell.seed}",
            ): cell
            for k, cell in enumerate(cells)
        }
        suspects: list[Cell] = []
        try:
            for future in self._distributed.as_completed(futures):
                record = self._record(futures[future], future, settings)
                if (
                    record is None
                ):  # Dask blames a worker's death on every task it held: a healthy cell may be among them
                    suspects.append(futures[future])
                else:
                    yield record
        finally:
            self.client.cancel(list(futures))
        for cell in suspects:  # each alone on the cluster, so that only its own death can be counted against it
            future = self.client.submit(
                _train,
                cell,
                shared,
                settings,
                1,
                time_limit,
                pure=False,
                resources=resources,
                key=f"regbench-{batch}-alone-{cell.config.name}-{cell.seed}",
            )
            if not self._settled(future):
                self.client.cancel([future])
                yield _crashed(
                    cell, settings, f"no worker left on the cluster for {NO_WORKERS_SECONDS:.0f} s to retry it alone"
                )
                continue
            yield self._record(cell, future, settings) or _crashed(
                cell, settings, "alone on the cluster, each time the scheduler tried it"
            )

    def _settled(self, future: Any) -> bool:
        """Wait for a task; False when the cluster has had no worker for NO_WORKERS_SECONDS (it would wait forever)."""
        idle_since = None
        while True:
            try:
                self._distributed.wait(future, timeout=5)
                return True
            except self._distributed.TimeoutError:
                pass
            if self.client.scheduler_info().get("workers"):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > NO_WORKERS_SECONDS:
                return False

    def _record(self, cell: Cell, future: Any, settings: Settings) -> Optional[RunRecord]:
        """A finished task's record, an error's record, or None for a task lost with a worker that died."""
        if future.status == "finished":
            try:
                return future.result()
            except (
                self._distributed.KilledWorker
            ):  # finished, but its result was on a worker that died before it was fetched,
                return None  # and the scheduler's recomputation was lost with another death: a suspect like any other
        error = future.exception() if future.status == "error" else None
        if isinstance(error, UsageError):  # the data on a worker differ from the driver's: no cell can train there
            raise error
        if error is None or isinstance(error, self._distributed.KilledWorker):
            return None
        return make_record(cell, settings, status="error", run_seconds=0.0, error=f"{type(error).__name__}: {error}")

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(
    name: str,
    *,
    workers: int,
    scheduler: Optional[str] = None,
    gpus: Optional[list[str]] = None,
    runs_per_gpu: Optional[int] = None,
) -> Executor:
    """The executor a run asked for: 'local' (this process for one worker, else a process pool) or 'dask'."""
    if name == "dask":
        return DaskExecutor(
            scheduler, workers=workers if workers > 1 else None, gpu_share=1 / runs_per_gpu if runs_per_gpu else None
        )
    if name != "local":
        raise UsageError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    if scheduler:
        raise UsageError("--scheduler is for --executor dask")
    if gpus:
        return LocalPool(workers, gpus=gpus, runs_per_gpu=runs_per_gpu or 1)
    return InProcess() if workers == 1 else LocalPool(workers)
