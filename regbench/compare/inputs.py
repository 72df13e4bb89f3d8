"""Reading a baseline and a candidate into one form, and deciding whether they compare at all.

Either file is a regbench results file (``regbench run``, the generalization benchmarks) or
pytest-benchmark JSON (``pytest benchmarks --benchmark-json``); both become ``Measurements``:
every seed's or every round's raw value, by (config or benchmark, metric). Files from other
hardware or libraries, runs with other training settings and same-named configs defined
differently do not compare; the functions here name each difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from regbench import results
from regbench.compare import benchfile
from regbench.compare.rules import HARDWARE, LIBRARIES, RULES, SETTINGS_THAT_MATTER, TIMING_ONLY
from regbench.errors import UsageError
from regbench.results import ResultsError

__all__ = [
    "GateRefused",
    "Measurements",
    "config_changes",
    "environment_mismatches",
    "load_measurements",
    "settings_mismatches",
]


class GateRefused(UsageError):
    """Baseline and candidate do not compare (other hardware, libraries or settings, or other formats)."""


@dataclass
class Measurements:
    """One file's raw values, in the one form the gate compares, whatever the file's format."""

    path: str
    kind: str  # "regbench results" | "pytest-benchmark"
    environment: dict
    settings: dict
    values: dict[tuple[str, str], list[float]]  # (config or benchmark, metric) -> every seed's or round's value
    unfinished: dict[str, tuple[int, int]] = field(default_factory=dict)  # config -> (did not finish, runs)
    configs: dict = field(default_factory=dict)  # config definitions, to note a deliberate change
    seeds: dict[tuple[str, str], list[int]] = field(
        default_factory=dict
    )  # the seed of each value, where values are seeds (to pair)
    executions: dict[str, set[str]] = field(default_factory=dict)  # config -> how its runs trained ('single', 'sweep')


def load_measurements(path: Path | str) -> Measurements:
    """A regbench results file (or a folder holding results.json) or pytest-benchmark JSON, as raw values."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    doc = results.read_json(path)
    if benchfile.is_benchmark_json(doc):
        return _from_benchmarks(benchfile.validate_benchmarks(doc, path), path)
    if not isinstance(doc, dict) or ("schema_version" not in doc and "benchmarks" not in doc):
        raise ResultsError(
            f"{path}: neither a regbench results file (no schema_version) nor pytest-benchmark JSON (no benchmarks"
            " list)"
        )
    return _from_results(results.load_results(path), path)


def _from_results(doc: dict, path: Path) -> Measurements:
    """Every finished run's value of every gated metric, by config (by dataset/config in a suite); unfinished runs
    counted apart.
    """
    for key in ("environment", "settings"):
        if not isinstance(doc.get(key), dict):
            raise ResultsError(f"{path}: '{key}' is missing or not an object; was the file written by `regbench run`?")
    values: dict[tuple[str, str], list[float]] = {}
    unfinished: dict[str, tuple[int, int]] = {}
    seeds: dict[tuple[str, str], list[int]] = {}
    executions: dict[str, set[str]] = {}
    several = len(doc.get("datasets") or {}) > 1
    for i, run in enumerate(doc["runs"]):
        if not isinstance(run["config"], str):
            raise ResultsError(f"{path}: run {i}: config must be a name, got {run['config']!r}")
        config = (
            f"{run.get('dataset')}/{run['config']}" if several else run["config"]
        )  # a suite is judged per (dataset, config)
        failed, total = unfinished.get(config, (0, 0))
        unfinished[config] = (failed + (run["status"] != "ok"), total + 1)
        if run["status"] != "ok":
            continue
        executions.setdefault(config, set()).add(str(run.get("execution", "single")))
        for metric in RULES:
            if metric not in run:
                continue
            value = run[metric]["all"] if isinstance(run[metric], dict) and "all" in run[metric] else run[metric]
            if value is None:  # NaN is written as null: no value, not an error
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ResultsError(
                    f"{path}: run {i} ({config} seed {run['seed']}): {metric} is {value!r}, expected a number"
                )
            values.setdefault((config, metric), []).append(float(value))
            seeds.setdefault((config, metric), []).append(run["seed"])
    configs = doc.get("configs") if isinstance(doc.get("configs"), dict) else {}
    return Measurements(
        str(path),
        "regbench results",
        doc["environment"],
        doc["settings"],
        values,
        unfinished,
        configs,
        seeds,
        executions,
    )


def _from_benchmarks(doc: dict, path: Path) -> Measurements:
    """Every round's speed of every benchmark; settings are the benchmarks' own."""
    values = {(name, metric): speeds for name, (metric, speeds) in benchfile.benchmark_speeds(doc).items()}
    return Measurements(str(path), "pytest-benchmark", benchfile.benchmark_environment(doc), {}, values)


def environment_mismatches(baseline: dict, candidate: dict) -> tuple[list[str], list[str], list[str]]:
    """(hardware, library, timing-only) differences, each 'key: baseline -> candidate'; keys neither side records are
    skipped.
    """

    def same(key: str) -> bool:
        old, new = baseline.get(key), candidate.get(key)
        if key == "python" and isinstance(old, str) and isinstance(new, str):  # 3.11.7 and 3.11.9 compute alike
            return old.split(".")[:2] == new.split(".")[:2]
        return old == new

    def diff(keys: tuple[str, ...]) -> list[str]:
        return [
            f"{k}: {baseline.get(k, 'unknown')} -> {candidate.get(k, 'unknown')}"
            for k in keys
            if (k in baseline or k in candidate) and not same(k)
        ]

    return diff(HARDWARE), diff(LIBRARIES), diff(TIMING_ONLY)


def settings_mismatches(baseline: dict, candidate: dict) -> list[str]:
    """Training settings that differ: a 3-epoch run says nothing about a 20-epoch baseline."""
    return [
        f"{k}: {baseline.get(k)} -> {candidate.get(k)}"
        for k in SETTINGS_THAT_MATTER
        if baseline.get(k) != candidate.get(k)
    ]


def config_changes(baseline: dict, candidate: dict) -> list[str]:
    """Same-named configs whose descriptions differ, each naming the fields: 'config l1: loss.args.l1_lambda 0.0001 ->
    0.001'.

    A description is a config's factories, their arguments and the defaults they fill in (its
    hash covers exactly that); the name and the free-text description do not count.
    """
    notes = []
    for name in sorted(baseline.keys() & candidate.keys()):
        old, new = baseline[name], candidate[name]
        if not (isinstance(old, dict) and isinstance(new, dict)) or old.get("hash") == new.get("hash"):
            continue
        flat_old, flat_new = _flatten(_definition(old)), _flatten(_definition(new))
        fields = [
            f"{k} {flat_old.get(k, '(none)')} -> {flat_new.get(k, '(none)')}"
            for k in sorted(flat_old.keys() | flat_new.keys())
            if flat_old.get(k, _ABSENT) != flat_new.get(k, _ABSENT)
        ]
        notes.append(
            f"config {name}: {'; '.join(fields) or 'hash ' + str(old.get('hash')) + ' -> ' + str(new.get('hash'))}"
        )
    return notes


_ABSENT = object()


def _definition(described: dict) -> dict:
    """What a config builds: its description without the name, free text and hash."""
    return {k: v for k, v in described.items() if k not in ("name", "description", "hash")}


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys, so a difference is named down to the argument."""
    if isinstance(value, dict):  # an empty dict adds no key: "no arguments" is the absence of each one
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}
