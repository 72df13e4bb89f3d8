"""pytest-benchmark's JSON (``pytest benchmarks --benchmark-json FILE``), read as raw rounds.

pytest-benchmark's own ``--benchmark-compare-fail`` checks one summary number against a
percentage. regbench's gate wants every round instead, and ``--benchmark-json`` keeps them:
each benchmark's ``stats.data`` lists the seconds of every round, divided by the iterations.
A benchmark that sets ``extra_info["samples_per_call"]`` (regbench's do) is read as samples per
second; any other as calls per second.
"""

from __future__ import annotations

import math
from pathlib import Path

from regbench.results import ResultsError

__all__ = ["benchmark_environment", "benchmark_speeds", "is_benchmark_json", "validate_benchmarks"]


def is_benchmark_json(doc: object) -> bool:
    """pytest-benchmark writes machine_info and a benchmarks list; regbench results never do."""
    return isinstance(doc, dict) and "benchmarks" in doc and "machine_info" in doc and "schema_version" not in doc


def validate_benchmarks(doc: dict, path: Path | str) -> dict:
    """Check the parts the gate reads, so a damaged file is an error message, not a traceback."""
    benchmarks = doc.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise ResultsError(f"{path}: 'benchmarks' must be a list (pytest-benchmark JSON)")
    if not isinstance(doc.get("machine_info"), dict):
        raise ResultsError(f"{path}: 'machine_info' must be an object (pytest-benchmark JSON)")
    for i, bench in enumerate(benchmarks):
        where = f"{path}: benchmark {i}"
        if not isinstance(bench, dict) or not isinstance(bench.get("fullname"), str):
            raise ResultsError(f"{where} has no 'fullname'")
        stats = bench.get("stats")
        if not isinstance(stats, dict) or "data" not in stats:
            raise ResultsError(
                f"{where} ({bench['fullname']}) has no stats.data, the raw rounds; write the file with --benchmark-json"
            )
        data = stats["data"]
        if not isinstance(data, list) or not all(_is_number(t) and t > 0 for t in data):
            raise ResultsError(
                f"{where} ({bench['fullname']}): stats.data must be a list of positive round times in seconds"
            )
        extra = bench.get("extra_info", {})
        if not isinstance(extra, dict):
            raise ResultsError(f"{where} ({bench['fullname']}): extra_info must be an object")
        per_call = extra.get("samples_per_call", 1)
        if not (_is_number(per_call) and per_call > 0):
            raise ResultsError(
                f"{where} ({bench['fullname']}): extra_info.samples_per_call must be a positive number, got"
                f" {per_call!r}"
            )
    return doc


def benchmark_speeds(doc: dict) -> dict[str, tuple[str, list[float]]]:
    """Per benchmark: the metric name and every round's speed (samples or calls per second).

    Benchmarks are named 'file.py::test[params]', their fullname without the folders, so files
    written from another working directory still match.
    """
    speeds = {}
    for bench in doc["benchmarks"]:
        per_call = bench.get("extra_info", {}).get("samples_per_call")
        metric = "samples_per_second" if per_call is not None else "calls_per_second"
        speeds[bench["fullname"].rsplit("/", 1)[-1]] = (metric, [(per_call or 1) / t for t in bench["stats"]["data"]])
    return speeds


def benchmark_environment(doc: dict) -> dict:
    """regbench's environment record when the benchmarks' conftest added one, plus pytest-benchmark's CPU facts."""
    info = doc["machine_info"]
    env = dict(info.get("regbench") or {})
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    env.setdefault("python", info.get("python_version"))
    env.setdefault("cpu_count", cpu.get("count"))
    env["cpu_brand"] = cpu.get("brand_raw")
    return env


def _is_number(value: object) -> bool:
    """A finite int or float, but not a bool (JSON true is not a measurement)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
