"""The gate measured: how often it fails a rerun of the same code (false alarms), and which planted regressions it
catches (power).

Marked slow: ``pytest benchmarks/test_gate_power.py -m slow
--bench-out=DIR`` writes ``DIR/gate_power.json`` and prints the table. Every run's file is kept in
``DIR/gate-power-runs/`` as it finishes, and a rerun reuses the files there (delete the folder
after changing the code), so an interrupted measurement resumes. Every number comes from real
training on this machine:

- False alarms: 21 fresh `--quick`-sized matrices of the same code, each with its own seeds (run 0
  against each of the other 20: seed noise and timing noise, since the same seeds repeat bit for
  bit on one CPU) and 21 fresh runs of the CI's benchmark timings (batch-256 training steps and data paths,
  on one thread, as `.ci/run` times them), gated as CI gates them. Goal: no failure on accuracy,
  at most 1 in 20 on timings with the CI's tolerance (0.5).
- Power: regressions planted in the code (monkeypatched in this process, every run in this
  process) and gated against an unpatched run (for the slowdowns, one made just before), at the quick size (2 seeds x 3
  epochs) and the
  default (5 seeds x 20 epochs): the learning rate divided by 10, every nn.Linear forward 1.5x
  and 3x slower, a penalty that also shrinks biases, dropout left on in eval, and about 2 points
  of test accuracy lost in every config (training on 80% of the images). Goal: every one caught
  at 5 seeds; the slowdowns, the invariant bugs and lr / 10 at 2 seeds.

The test fails when a goal is missed. The gate's false-failure rate per comparison is small but
not zero (``python -m regbench.compare.simulate`` measures it), so a run of this test can fail on
an accuracy false alarm that is not a bug.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regbench import compare, configs, data, experiment, losses, models, results, runner
from regbench.compare.inputs import load_measurements

pytestmark = [pytest.mark.benchmark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
RERUNS = 20  # A/A pairs of each kind
CI_SPEED_TOLERANCE = 0.5  # what .ci/run passes for the benchmark timings
SIZES = {
    "quick (2 seeds x 3 epochs)": dict(seeds=2, epochs=3),
    "default (5 seeds x 20 epochs)": dict(seeds=5, epochs=20),
}
TIMED = "data_path or (train_step and cpu and b256)"  # the benchmark timings .ci/run gates


@contextlib.contextmanager
def patched(target: object, name: str, value: object) -> Iterator[None]:
    """Replace target.name for the block (the planted bug), and put it back."""
    before = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, before)


def lr_divided_by_10() -> contextlib.AbstractContextManager:
    build = configs.Config.build_optimizer
    return patched(configs.Config, "build_optimizer", lambda self, model, lr, **kw: build(self, model, lr / 10, **kw))


def slower_linear(factor: float) -> contextlib.AbstractContextManager:
    """Every nn.Linear ``factor`` times as slow, forward and backward: its work repeated (1.5: every other call
    twice), the results unchanged.
    """
    calls = [0]

    def forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        out = F.linear(x, self.weight, self.bias)
        for _ in range(int(factor) + (calls[0] % 2 if factor % 1 else 0) - 1):
            out = out + 0.0 * F.linear(x, self.weight, self.bias)  # in the graph, so the backward pass repeats too
        return out

    return patched(nn.Linear, "forward", forward)


def penalty_on_biases() -> contextlib.AbstractContextManager:
    return patched(
        losses, "penalized_parameters", lambda model: [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    )


def dropout_in_eval() -> contextlib.AbstractContextManager:
    return patched(
        models.FullyConnectedDropout,
        "hidden",
        lambda self, x: F.dropout(models.FullyConnected.hidden(self, x), self.dropout.p, training=True),
    )


def trained_on_80_percent() -> contextlib.AbstractContextManager:
    """Each run trains on 80% of each class's images (the settings still say 100%): about 2 points of accuracy
    everywhere.
    """
    make = experiment.make_loaders

    def fewer(config, seed, split, settings):
        keep = data.select_n_per_class(split.train, int(0.8 * len(split.train) / data.NUM_CLASSES))
        return make(config, seed, data.Split(split.train.subset(keep), split.test, split.source), settings)

    return patched(experiment, "make_loaders", fewer)


ACCURACY = ("test_accuracy", "test_loss")
PLANTED: dict[
    str, tuple[Callable[[], contextlib.AbstractContextManager], tuple[str, ...]]
] = {  # name: (the bug, the metrics that must catch it)
    "lr / 10": (lr_divided_by_10, ACCURACY),
    "every Linear 1.5x slower": (lambda: slower_linear(1.5), ("samples_per_second",)),
    "every Linear 3x slower": (lambda: slower_linear(3), ("samples_per_second",)),
    "penalty on biases": (penalty_on_biases, ("penalty_leak",)),
    "dropout on in eval": (dropout_in_eval, ("eval_nondeterminism",)),
    "80% of the data": (trained_on_80_percent, ACCURACY),
}
MUST_CATCH_AT_2_SEEDS = (
    "lr / 10",
    "every Linear 1.5x slower",
    "every Linear 3x slower",
    "penalty on biases",
    "dropout on in eval",
)


def fresh_seeds(offset: int) -> contextlib.AbstractContextManager:
    """Every run trains with seed + offset: A/A pairs then differ by seed noise, as a rerun on other hardware would
    (same seeds repeat bit for bit here).
    """
    prepare = (
        experiment.prepare
    )  # seeds the model, the shuffling and the augmentation; the record keeps the cell's seed
    return patched(experiment, "prepare", lambda config, seed, *args, **kw: prepare(config, seed + offset, *args, **kw))


def matrix(path: Path, seed_offset: int = 0, **size) -> Path:
    """Every built-in config, trained in this process (where a planted bug lives), one by one; the results file
    written (or reused).
    """
    if path.exists():
        return path
    with fresh_seeds(seed_offset):
        doc = runner.run(workers=1, execution="single", progress=False, **size)
    results.write_json(path, doc)
    return path


def gate(base: Path, cand: Path, **options) -> compare.Report:
    return compare.compare(load_measurements(base), load_measurements(cand), **options)


def failing(report: compare.Report, *, speed: bool) -> list[str]:
    """The failing rows about throughput (speed) or about everything else."""
    return [
        f"{r.group} {r.metric}"
        for r in report.regressions
        if compare.RULES.get(r.metric, compare.Rule("", 0, 0)).speed == speed
    ]


def benchmark_timings(out: Path) -> Path:
    """One run of the timings CI gates, in a fresh process on one thread, as .ci/run times them (or its file reused)."""
    if out.exists():
        return out
    partial = out.with_suffix(".partial.json")  # renamed once complete, so a killed run leaves no file to reuse
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--bench-out={out.parent}",
            f"--benchmark-json={partial}",
            "-k",
            TIMED,
        ],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
        timeout=600,
    )
    partial.replace(out)
    return out


def test_false_alarms_and_power(request):
    tmp_path = request.config.getoption("bench_out") / "gate-power-runs"
    tmp_path.mkdir(parents=True, exist_ok=True)
    table: dict = {"false_alarms": {}, "power": {}}
    quick = [
        matrix(tmp_path / f"quick-{k}.json", seed_offset=100 * k, **SIZES["quick (2 seeds x 3 epochs)"])
        for k in range(RERUNS + 1)
    ]
    accuracy = [failing(gate(quick[0], q), speed=False) for q in quick[1:]]
    speed = [failing(gate(quick[0], q), speed=True) for q in quick[1:]]
    timings = [benchmark_timings(tmp_path / f"timings-{k}.json") for k in range(RERUNS + 1)]
    timing_alarms = [failing(gate(timings[0], t, speed_tolerance=CI_SPEED_TOLERANCE), speed=True) for t in timings[1:]]
    timing_alarms_default = [failing(gate(timings[0], t), speed=True) for t in timings[1:]]
    table["false_alarms"] = {
        "quick matrices, accuracy and loss (any row)": {
            "pairs": RERUNS,
            "failed": sum(map(bool, accuracy)),
            "rows": sorted({r for f in accuracy for r in f}),
        },
        "quick matrices, samples/s (tolerance 0.2)": {
            "pairs": RERUNS,
            "failed": sum(map(bool, speed)),
            "rows": sorted({r for f in speed for r in f}),
        },
        "benchmark timings (CI tolerance 0.5)": {
            "pairs": RERUNS,
            "failed": sum(map(bool, timing_alarms)),
            "rows": sorted({r for f in timing_alarms for r in f}),
        },
        "benchmark timings (tolerance 0.2)": {
            "pairs": RERUNS,
            "failed": sum(map(bool, timing_alarms_default)),
            "rows": sorted({r for f in timing_alarms_default for r in f}),
        },
    }
    for size_name, size in SIZES.items():
        base = quick[0] if size["seeds"] == 2 else matrix(tmp_path / "default-base.json", **size)
        for name, (plant, metrics) in PLANTED.items():
            stem = f"{size_name[:5]}-{name.replace(' ', '_').replace('/', '')}"
            # A slowdown is gated against an unpatched run made just before it: a shared machine's
            # load drifts over an hour, and only runs close in time share it.
            reference = matrix(tmp_path / f"{stem}-reference.json", **size) if "samples_per_second" in metrics else base
            with plant():
                cand = matrix(tmp_path / f"{stem}.json", **size)
            report = gate(reference, cand)
            rows = [f"{r.group} {r.metric}" for r in report.regressions]
            table["power"].setdefault(name, {})[size_name] = {
                "caught": any(r.metric in metrics for r in report.regressions),
                "by": list(metrics),
                "failing_rows": rows,
            }
    results.write_json(
        request.config.getoption("bench_out") / "gate_power.json",
        {"schema_version": results.SCHEMA_VERSION, "environment": results.environment("cpu"), **table},
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\nregbench gate, false alarms over 20 A/A pairs:")
        for name, row in table["false_alarms"].items():
            reporter.write_line(f"  {name:<48} {row['failed']}/{row['pairs']}  {', '.join(row['rows'][:4])}")
        reporter.write_line("regbench gate, planted regressions caught:")
        for name, by_size in table["power"].items():
            reporter.write_line(
                f"  {name:<22} "
                + "   ".join(f"{s.split(' (')[0]}: {'caught' if v['caught'] else 'MISSED'}" for s, v in by_size.items())
            )
    assert table["false_alarms"]["quick matrices, accuracy and loss (any row)"]["failed"] == 0
    assert table["false_alarms"]["benchmark timings (CI tolerance 0.5)"]["failed"] <= RERUNS // 20
    assert all(v["default (5 seeds x 20 epochs)"]["caught"] for v in table["power"].values()), table["power"]
    assert all(table["power"][name]["quick (2 seeds x 3 epochs)"]["caught"] for name in MUST_CATCH_AT_2_SEEDS), table[
        "power"
    ]
