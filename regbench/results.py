"""Results files: what a run wrote, where it ran, and summaries with confidence intervals (rendered by
``regbench.report``).

A results file is JSON with ``schema_version`` first, then ``environment`` (library versions,
device, git commit), ``settings``, ``configs`` (each config's description: its factories, their
arguments and its hash) and ``runs``: one record per (config, seed), each naming the hash of the
config that trained it. Files are written to a temporary name and renamed, so a crash never
leaves half a file behind.

Schema 2 describes configs by their factories and hashes, and every record states its engine,
execution and config hash; a file of an older schema is refused with what it lacks.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from regbench.data import Split
from regbench.files import atomic_path, write_json
from regbench.errors import UsageError
from regbench.records import RunRecord
from regbench.spec import RunSpec, results_settings

__all__ = [
    "SCHEMA_VERSION",
    "ResultsError",
    "against_reference",
    "atomic_path",
    "build_results",
    "by_dataset",
    "environment",
    "load_results",
    "read_json",
    "matrix_results",
    "mean_ci",
    "metric_value",
    "geometric_ci",
    "path_scale",
    "regularization_paths",
    "summarize",
    "write_json",
]

SCHEMA_VERSION = 2
CONFIDENCE = 0.95
REQUIRED_RUN_FIELDS = ("config", "config_hash", "seed", "status", "engine", "execution")
SUMMARY_METRICS = (
    "test_accuracy",
    "train_accuracy",
    "gap_accuracy",
    "sparsity",
    "mean_abs_weight",
    "samples_per_second",
)


class ResultsError(UsageError):
    """A results file is missing, malformed or from another schema; the message says which."""


def environment(device: str) -> dict:
    """Where the numbers came from: results from different hardware or libraries do not compare."""
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": importlib.metadata.version(
            "torchvision"
        ),  # read without importing it (seconds, and torch._dynamo)
        "numpy": np.__version__,
        "device": dev.type,
        "device_name": name,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_commit": _git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _git_commit() -> str | None:
    """The commit of the code that produced the results, when run from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def build_results(runs: list[dict], *, settings: dict, env: dict, configs: dict) -> dict:
    """The results document, schema_version first."""
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": env,
        "settings": settings,
        "configs": configs,
        "runs": runs,
    }


def matrix_results(
    runs: list[RunRecord],
    spec: RunSpec,
    splits: list[Split],
    *,
    wall_seconds: float,
    execution: dict | None = None,
    not_applicable: dict[str, str] | None = None,
) -> dict:
    """The document a matrix run writes (`regbench run`, the generalization benchmarks): settings from the run's spec
    (``spec.results_settings``), each dataset described (how it loads, its shape, classes, sizes and content hash), and
    the
    (dataset, config) pairs that did not apply."""
    settings = results_settings(spec, splits, wall_seconds=wall_seconds, execution=execution or {})
    env = environment(settings["device"])
    threads = sorted({r.torch_threads for r in runs})
    if threads:  # what the runs trained with (a worker process's share), not this process's count
        env["torch_threads"] = threads[0] if len(threads) == 1 else threads
    doc = build_results(
        [r.as_dict() for r in runs], settings=settings, env=env, configs={c.name: c.describe() for c in spec.configs}
    )
    doc["datasets"] = {s.name: s.describe() for s in splits}
    doc["not_applicable"] = dict(not_applicable or {})
    return doc


def read_json(path: Path | str) -> object:
    """Parse a JSON file, turning a missing, binary or truncated file into one clear ResultsError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not a text file ({exc.reason}); expected JSON") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the file may be truncated"
        ) from exc


def load_results(path: Path | str) -> dict:
    """Read and validate a results file, turning every way it can be wrong into one clear error."""
    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise ResultsError(f"{path}: no schema_version; expected a results.json written by `regbench run`")
    version = doc["schema_version"]
    if version != SCHEMA_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION:
            raise ResultsError(
                f"{path}: schema_version {version} was written by an older regbench"
                f" ({_OLDER.get(version, 'an earlier layout')}); this regbench reads {SCHEMA_VERSION}. Regenerate it"
                " with `regbench run` (a baseline: rerun and promote it, results/README.md)"
            )
        raise ResultsError(
            f"{path}: schema_version {version!r}, this regbench reads {SCHEMA_VERSION}; rerun `regbench run` to"
            " regenerate it"
        )
    runs, configs = doc.get("runs"), doc.get("configs")
    if not isinstance(runs, list):
        raise ResultsError(f"{path}: 'runs' must be a list of run records")
    if not isinstance(configs, dict):
        raise ResultsError(f"{path}: 'configs' must map each config's name to its description")
    for i, run in enumerate(runs):
        missing = [f for f in REQUIRED_RUN_FIELDS if not isinstance(run, dict) or f not in run]
        if missing:
            raise ResultsError(f"{path}: run {i} lacks {', '.join(missing)}")
        described = configs.get(run["config"]) if isinstance(run["config"], str) else None
        if not isinstance(described, dict) or described.get("hash") != run["config_hash"]:
            raise ResultsError(
                f"{path}: run {i} ({run['config']} seed {run['seed']}) was trained by config hash {run['config_hash']},"
                f" but 'configs' describes {run['config']!r} as"
                f" {described.get('hash') if isinstance(described, dict) else 'nothing'}; the file mixes two"
                " definitions of one config"
            )
    return doc


_OLDER = {1: "configs described as strings, records without engine, execution or config hash"}


def metric_value(run: dict, metric: str) -> float | None:
    """A scalar metric of one run; nested ones (mean |W| per layer) use their 'all' entry."""
    value = run.get(metric)
    if isinstance(value, dict):
        value = value.get("all")
    return float(value) if isinstance(value, (int, float)) else None


def mean_ci(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval across seeds (NaN bounds with fewer than two)."""
    from scipy.special import (
        stdtrit,
    )  # the t quantile; scipy.stats would add most of a second to every results file written

    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean()) if len(arr) else float("nan")
    if len(arr) < 2:
        return mean, float("nan"), float("nan")
    sem = float(arr.std(ddof=1)) / math.sqrt(len(arr))
    if sem == 0:
        return mean, mean, mean
    half = float(stdtrit(len(arr) - 1, 0.5 + confidence / 2)) * sem
    return mean, mean - half, mean + half


def geometric_ci(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Geometric mean and its t interval on the log scale: throughput is multiplicative, and its interval never goes
    below 0.
    """
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0 or (arr <= 0).any():
        return mean_ci(values, confidence)
    return tuple(math.exp(x) if not math.isnan(x) else x for x in mean_ci(list(np.log(arr)), confidence))  # type: ignore[return-value]


# summarized as the gate judges them: geometric mean, interval on the log scale
MULTIPLICATIVE = ("samples_per_second", "calls_per_second")


def metric_ci(metric: str, values: list[float]) -> tuple[float, float, float]:
    """A metric's summary across seeds, read the same way by report.md, report.html and the history page."""
    return geometric_ci(values) if metric in MULTIPLICATIVE else mean_ci(values)


def summarize(runs: list[dict]) -> list[dict]:
    """Per (dataset, config), in first-seen order: run counts and mean with 95% CI of each metric (geometric for
    throughput).
    """
    by_config: dict[tuple, list[dict]] = {}
    for run in runs:
        by_config.setdefault((run.get("dataset"), run["config"]), []).append(run)
    summary = []
    for (dataset, config), group in by_config.items():
        ok = [r for r in group if r["status"] == "ok"]
        row = {"dataset": dataset, "config": config, "runs": len(group), "failed": len(group) - len(ok)}
        for metric in SUMMARY_METRICS:
            values = [v for v in (metric_value(r, metric) for r in ok) if v is not None]
            row[metric] = metric_ci(metric, values)
        summary.append(row)
    return summary


PATH_METRICS = ("test_accuracy", "gap_accuracy", "sparsity", "mean_abs_weight")  # what a regularization path draws
REFERENCE = "baseline"  # the unregularized config a path is drawn against, when the run has it


def regularization_paths(results: dict) -> list[dict]:
    """Per grid (the config it expands) and swept argument: its series of points in value order, and the reference.

    A point is (value, summary row of that cell); a grid over several arguments gives one series
    per combination of the others (``fixed``). Read from the configs' grid descriptions, so any
    results file can be redrawn.
    """
    rows = {row["config"]: row for row in summarize(results["runs"])}
    cells: dict[str, list[tuple[str, dict]]] = {}
    for name, described in (results.get("configs") or {}).items():
        grid = described.get("grid") if isinstance(described, dict) else None
        if grid and name in rows:
            cells.setdefault(grid["of"], []).append((name, grid["values"]))
    paths = []
    for of, members in cells.items():
        for argument in dict.fromkeys(a for _, values in members for a in values):
            series: dict[tuple, list] = {}
            for name, values in members:
                fixed = tuple((k, v) for k, v in values.items() if k != argument)
                series.setdefault(fixed, []).append((values[argument], rows[name]))
            paths.append(
                {
                    "of": of,
                    "argument": argument,
                    "reference": rows.get(REFERENCE),
                    "series": [
                        {"fixed": dict(fixed), "points": sorted(points, key=lambda p: _order(p[0]))}
                        for fixed, points in series.items()
                    ],
                }
            )
    return paths


def _order(value: object) -> tuple:
    """Numbers by value, anything else after them by its text."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (0, value, "") if number else (1, 0, str(value))


def path_scale(values: list) -> tuple[str, float]:
    """(axis scale, symlog threshold): log where positive values span two decades or more (lambdas), symlog when 0 is
    among them.
    """
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    positive = [v for v in numbers if v > 0]
    if len(numbers) != len(values) or len(positive) < 2 or max(positive) / min(positive) < 100 or min(numbers) < 0:
        return "linear", 0.0
    return ("log", 0.0) if len(positive) == len(numbers) else ("symlog", min(positive))


def against_reference(
    runs: list[dict], metric: str = "test_accuracy", reference: str = REFERENCE
) -> dict[tuple, tuple[float, float, float]]:
    """Per (dataset, config): the mean difference from the reference config on the same dataset and seed, with its 95% t
    interval.

    Pairing by seed removes what a seed does to both (the initial weights, the data order), so the
    interval is the one of the difference itself, narrower than two overlapping intervals suggest.
    """
    values = {(r.get("dataset"), r["config"], r["seed"]): metric_value(r, metric) for r in runs if r["status"] == "ok"}
    out: dict[tuple, list[float]] = {}
    for (dataset, config, seed), value in values.items():
        base = values.get((dataset, reference, seed))
        if config != reference and value is not None and base is not None:
            out.setdefault((dataset, config), []).append(value - base)
    return {key: mean_ci(diffs) for key, diffs in out.items()}


def by_dataset(results: dict) -> dict[str, dict]:
    """A results document per dataset (its runs only), in the order the run named them: each gets a report section
    and plots.
    """
    names = list(results.get("datasets") or {}) or list(dict.fromkeys(r.get("dataset") for r in results["runs"]))
    return {name: {**results, "runs": [r for r in results["runs"] if r.get("dataset") == name]} for name in names}
