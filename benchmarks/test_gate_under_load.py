"""The speed gate on a loaded machine: false alarms of A/A pairs and planted slowdowns found, for `compare` and
`continuous`.

Marked slow; writes ``gate_under_load_cpu.json`` to ``--bench-out``
(default results/latest). Everything runs under a load this benchmark starts and stops itself:
one process busy on one core for 1 s in every 3 (``LOAD``), the shared CI machine's pattern.

- ``regbench compare`` with its defaults (alpha 0.01, speed tolerance 20%): 20 A/A pairs, each
  two fresh ``regbench run --quick`` (13 configs, 2 seeds, 3 epochs), counted as a false alarm
  when the gate exits 1 (goal: at most 1 of 20). Planted, 3 replicates each, against the A/A
  runs as baselines: every ``nn.Linear`` doing 3x its work, and Adam at a tenth of its learning
  rate (both must fail), and 1.5x the work (reported).
- ``regbench continuous`` (tolerance 10%): 20 A/A runs of one commit against itself, and 3
  replicates each of HEAD commits planting 1.5x and 3x the ``nn.Linear`` work (both must fail).

Each row of the file names the pairs, every gate's exit code and the rows that failed; the
rates come with their 95% Clopper-Pearson intervals (scipy.stats.binomtest).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from scipy import stats

import regbench
from regbench import results

pytestmark = [pytest.mark.benchmark, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
PAIRS = 20
REPLICATES = 3
LOAD = {"busy_seconds": 1.0, "period_seconds": 3.0, "processes": 1}
BURNER = f"""
import time
while True:
    start = time.monotonic()
    while time.monotonic() - start < {LOAD["busy_seconds"]}:
        pass
    time.sleep({LOAD["period_seconds"] - LOAD["busy_seconds"]})
"""
PLANTS = {"linear-3x": "linear_work(3)", "linear-1.5x": "linear_work(1.5)", "lr-tenth": "learning_rate(0.1)"}


@contextmanager
def loaded() -> Iterator[None]:
    """One process busy on one core for 1 s in every 3, for as long as the block runs."""
    burner = subprocess.Popen([sys.executable, "-c", BURNER])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def regbench_command(plant: str | None = None) -> list[str]:
    """The interpreter running regbench's command line, with a planted change applied first."""
    setup = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import planted; planted.{PLANTS[plant]}; "
        if plant
        else "import sys; "
    )
    return [sys.executable, "-c", setup + "from regbench.cli import main; sys.exit(main(sys.argv[1:]))"]


def quick_run(out: Path, plant: str | None = None) -> Path:
    """`regbench run --quick` into ``out`` (a fresh folder), with ``plant`` applied."""
    subprocess.run(
        [*regbench_command(plant), "run", "--quick", "--no-plots", "--out", str(out)], check=True, capture_output=True
    )
    return out


def gate(command: list[str], json_path: Path) -> dict:
    """Run a gate; its exit code, the failing rows and the pooled throughput ratio."""
    done = subprocess.run([*command, "--json", str(json_path)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    report = json.loads(json_path.read_text())
    pooled = next(
        (r for r in report["rows"] if r["group"].startswith("pooled") and r["metric"] == "samples_per_second"), None
    )
    return {
        "exit": done.returncode,
        "failed_rows": [f"{r['group']} {r['metric']}" for r in report["rows"] if r["verdict"] == "regression"],
        "pooled_speed_ratio": pooled and pooled["change"],
        "pooled_speed_ci": pooled and pooled["ci"],
    }


def rate(failures: int, trials: int) -> dict:
    """A count, its rate and the 95% Clopper-Pearson interval."""
    ci = stats.binomtest(failures, trials).proportion_ci(0.95, method="exact")
    return {"failures": failures, "trials": trials, "rate": failures / trials, "ci95": [ci.low, ci.high]}


def planted_repo(root: Path) -> dict[str, str]:
    """A git repository of this regbench: one base commit and one commit per planted slowdown on top of it; {name:
    commit}.
    """
    package = Path(regbench.__file__).parent
    shutil.copytree(package, root / "regbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(package.parent / "pyproject.toml", root / "pyproject.toml")

    def git(*args: str) -> str:
        """A git command in the planted repository."""
        user = ["-c", "user.name=regbench", "-c", "user.email=regbench@example.org"]
        return subprocess.run(
            ["git", *user, *args], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    commits = {"base": git("rev-parse", "HEAD")}
    init = (root / "regbench" / "__init__.py").read_text()
    for name in ("linear-1.5x", "linear-3x"):
        git("checkout", "-q", commits["base"])
        (root / "regbench" / "__init__.py").write_text(
            init + f"\nimport sys as _sys\n_sys.path.insert(0, {str(HERE)!r})\nimport planted as _planted\n"
            f"_planted.{PLANTS[name]}\n"
        )
        git("commit", "-qam", name)
        commits[name] = git("rev-parse", "HEAD")
    git("checkout", "-q", commits["base"])
    return commits


def test_the_speed_gate_under_load(request, tmp_path):
    """Both gates under the load, as the module docstring describes; the table is written before the goals are
    checked.
    """
    started = time.perf_counter()
    out = {
        "load": LOAD,
        "matrix": "regbench run --quick: 13 configs x 2 seeds x 3 epochs on the embedded digits",
        "machine": results.environment("cpu"),
        "compare": {},
        "continuous": {},
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    commits = planted_repo(repo)
    regbench_cli = regbench_command()
    with loaded():
        aa = []
        for k in range(PAIRS):
            a, b = quick_run(tmp_path / f"aa{k}a"), quick_run(tmp_path / f"aa{k}b")
            aa.append(gate([*regbench_cli, "compare", str(a), str(b)], tmp_path / f"aa{k}.json"))
        out["compare"]["a/a"] = {**rate(sum(g["exit"] == 1 for g in aa), PAIRS), "gates": aa}
        for plant in ("linear-3x", "lr-tenth", "linear-1.5x"):
            found = [
                gate(
                    [
                        *regbench_cli,
                        "compare",
                        str(tmp_path / f"aa{k}a"),
                        str(quick_run(tmp_path / f"{plant}{k}", plant)),
                    ],
                    tmp_path / f"{plant}{k}.json",
                )
                for k in range(REPLICATES)
            ]
            out["compare"][plant] = {
                "caught": sum(g["exit"] == 1 for g in found),
                "replicates": REPLICATES,
                "gates": found,
            }

        def cont(base: str, head: str, k: str) -> list[str]:
            """`regbench continuous BASE HEAD --quick` into its own folder."""
            return [*regbench_cli, "continuous", base, head, "--quick", "--out", str(tmp_path / f"c-{k}")]

        here = Path.cwd()
        try:
            import os

            os.chdir(repo)
            aa = [
                gate(cont(commits["base"], commits["base"], f"aa{k}"), tmp_path / f"caa{k}.json") for k in range(PAIRS)
            ]
            out["continuous"]["a/a"] = {**rate(sum(g["exit"] == 1 for g in aa), PAIRS), "gates": aa}
            for plant in ("linear-1.5x", "linear-3x"):
                found = [
                    gate(cont(commits["base"], commits[plant], f"{plant}{k}"), tmp_path / f"c{plant}{k}.json")
                    for k in range(REPLICATES)
                ]
                out["continuous"][plant] = {
                    "caught": sum(g["exit"] == 1 for g in found),
                    "replicates": REPLICATES,
                    "gates": found,
                }
        finally:
            os.chdir(here)
    out["wall_seconds"] = time.perf_counter() - started
    path = request.config.getoption("bench_out") / "gate_under_load_cpu.json"
    results.write_json(path, out)
    assert out["compare"]["a/a"]["failures"] <= 1 and out["continuous"]["a/a"]["failures"] <= 1, path
    assert out["compare"]["linear-3x"]["caught"] == REPLICATES and out["compare"]["lr-tenth"]["caught"] == REPLICATES, (
        path
    )
    assert (
        out["continuous"]["linear-1.5x"]["caught"] == REPLICATES
        and out["continuous"]["linear-3x"]["caught"] == REPLICATES
    ), path
