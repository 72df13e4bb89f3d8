"""The benchmarks still run: all collected, and a small slice executed untimed.

``pytest benchmarks`` is not part of the default run (it times things for minutes); these tests
keep it from rotting when the library changes under it. They run pytest in a subprocess, as CI
does, so the benchmarks' own conftest and options are exercised too.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from regbench import compare

ROOT = Path(__file__).resolve().parents[1]


def pytest_in_subprocess(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run pytest from the repository root; one torch thread keeps a busy machine from stalling it."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def test_a_slice_runs_and_writes_results_the_gate_reads(tmp_path):
    """A step, the data paths and one generalization config run; the results file has regbench run's schema.

    The -k expression picks 1 of the 45 CPU training steps (3 models x 5 penalties x 3 batch
    sizes), the 3 data paths and 1 of the 9 generalization configs.
    """
    proc = pytest_in_subprocess(
        "benchmarks",
        "--device",
        "cpu",
        "--benchmark-disable",
        "--bench-threads=1",
        f"--bench-out={tmp_path}",
        "-k",
        "cpu-plain-l1-b32 or data_path or (generalization and cpu-baseline)",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b5 passed, \d+ deselected", proc.stdout), proc.stdout
    written = tmp_path / "generalization-quick-cpu.json"
    measured = compare.load_measurements(written)
    assert len(measured.values[("baseline", "test_accuracy")]) == 5
    settings = json.loads(written.read_text())["settings"]
    assert {
        "epochs",
        "batch_size",
        "lr",
        "engine",
        "device",
        "seeds",
        "dataset",
        "n_train_per_class",
        "n_test_per_class",
    } <= set(settings)
    assert settings["epochs"] == 5


@pytest.mark.slow
def test_the_benchmarks_run_timed(tmp_path):
    """Every CPU benchmark, timed, into pytest-benchmark JSON that the gate accepts against itself."""
    out = tmp_path / "bench.json"
    proc = pytest_in_subprocess(
        "benchmarks",
        "--device",
        "cpu",
        "--bench-threads=1",
        f"--bench-out={tmp_path}",
        f"--benchmark-json={out}",
        "-k",
        "not generalization",
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "regbench: data path, regbench / notebook samples per second" in proc.stdout
    assert json.loads(out.read_text())["regbench"]["data_path_ratio"] > 0
    assert compare.run_gate(out, out) == 0
