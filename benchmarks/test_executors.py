"""Executors compared on the default matrix, and the cost of resuming a finished one.

Marked slow; run with ``pytest benchmarks/test_executors.py -m slow
--bench-out=DIR``. In one run, alternating so that a noisy neighbour hits both alike:

- the default matrix (every built-in config x 5 seeds x 20 epochs, as `regbench run` trains it)
  with the local executor (one worker process per core) and with the Dask executor on a
  2-worker LocalCluster, the cluster's start included (goal: Dask within 10% of local);
- `regbench run` again on the finished output folder, as a user types it (a new process: Python,
  torch and regbench start, every config is checked, the journal read, results and plots
  written): its wall time (goal: under 5 s) and that nothing was trained again.

Writes ``<--bench-out>/executors_cpu.json``; nothing about speed is asserted.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regbench import results, runner
from regbench.journal import FILENAME

pytestmark = [pytest.mark.benchmark, pytest.mark.slow]

PAIRS = 2  # local then dask, twice: the medians shrug off one disturbed run


def _timed_run(executor: str, out: Path) -> float:
    """Wall seconds of the default matrix into ``out`` on ``executor`` (a Dask LocalCluster of 2 workers is started
    inside).
    """
    started = time.perf_counter()
    runner.run(executor=executor, workers=2 if executor == "dask" else None, out=out, plots=True, progress=False)
    return time.perf_counter() - started


def test_local_and_dask_executors_and_resuming(tmp_path, request):
    pytest.importorskip("distributed", reason="Dask is not installed: pip install 'regbench[dask]'")
    seconds: dict[str, list[float]] = {"local": [], "dask": []}
    for k in range(PAIRS):
        for executor in ("local", "dask"):
            seconds[executor].append(_timed_run(executor, tmp_path / f"{executor}-{k}"))
    finished = tmp_path / "local-0"
    lines = len((finished / FILENAME).read_text().splitlines())
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "regbench", "run", "--out", str(finished)], capture_output=True, text=True, timeout=300
    )
    resume = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    retrained = len((finished / FILENAME).read_text().splitlines()) - lines
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    ratio = medians["dask"] / medians["local"]
    results.write_json(
        request.config.getoption("bench_out") / "executors_cpu.json",
        {
            "schema_version": results.SCHEMA_VERSION,
            "environment": results.environment("cpu"),
            "matrix": "every built-in config x 5 seeds x 20 epochs (regbench run's default)",
            "wall_seconds": seconds,
            "median_seconds": medians,
            "dask_over_local": ratio,
            "goal": 1.10,
            "meets_goal": ratio <= 1.10,
            "resume_seconds": resume,
            "resume_goal": 5.0,
            "cells_retrained_on_resume": retrained,
        },
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"\nexecutors, default matrix on 2 cores: local {medians['local']:.0f} s, dask (2-worker LocalCluster,"
            f" start included) {medians['dask']:.0f} s, ratio {ratio:.2f} (goal <= 1.10); resume of a finished matrix"
            f" {resume:.1f} s, {retrained} cells retrained"
        )
