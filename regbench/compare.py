"""The regression gate: is a candidate run measurably worse than a baseline?

``regbench compare BASELINE CANDIDATE`` reads two regbench results files (``regbench run``, the
generalization benchmark) or two pytest-benchmark JSON files (``pytest benchmarks
--benchmark-json``) and judges every metric from its raw values: every seed, every round.

- Seed metrics (accuracy, gap, loss, weight statistics): Welch's two-sample t-test across seeds
  (``scipy.stats.ttest_ind(equal_var=False)``) and its confidence interval of the difference.
  Not Mann-Whitney U, because runs have few seeds: with 5 against 5 its smallest two-sided p-value
  is 2/252 = 0.008 and with 2 against 2 it is 1/3, so a rank test could barely, or never, reject.
  An accuracy over 3,000 test images is a mean of many trials, close to normal across seeds, and
  Welch does not assume that both sides spread alike (a regularizer may change the spread).
  A metric fails ("regression") only when the whole (1 - alpha) interval lies beyond its minimum
  effect in the worse direction: significant evidence that the harm exceeds the minimum, not
  merely a point estimate past it. That implies p < alpha, and keeps the chance that fresh seed
  noise fails any metric of the 9-config matrix near 0.15% (simulated with the measured spreads).
- Throughput (samples/s per seed, or per benchmark round): the ratio of medians against a
  tolerance, significant by Mann-Whitney U on the raw values (timings have a long tail of
  interruptions, so ranks, as asv does), with a bootstrap confidence interval of the ratio.

When an interval is too wide to tell a sizeable regression from none, the verdict is
"undecidable" and the table says why, instead of passing or failing on noise. Baseline and
candidate must come from the same hardware, libraries and settings, and a config present in
both must have the same definition (the hash of its factories and arguments), or the gate
refuses (exit 2) unless told to go on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from regbench import benchfile, results
from regbench.errors import UsageError
from regbench.results import ResultsError

__all__ = [
    "ALPHA",
    "RULES",
    "SPEED_TOLERANCE",
    "GateRefused",
    "Measurements",
    "Report",
    "Row",
    "Rule",
    "compare",
    "environment_mismatches",
    "judge_seeds",
    "judge_speed",
    "load_measurements",
    "render",
    "run_gate",
]

ALPHA = 0.01  # ~80 metrics are tested at once; 0.01 keeps chance hits rare and is attainable by 5 vs 5 seeds
SPEED_TOLERANCE = 0.2  # a median more than 20% slower fails, if significant: below that, shared machines wander
SPREAD_LIMIT = 3.0  # undecidable when a regression three times the minimum effect could hide inside the CI
BOOTSTRAP_RESAMPLES = 2000  # enough for a stable 99% percentile interval; seeded, so reports repeat


@dataclass(frozen=True)
class Rule:
    """How one metric is judged: which way is better, and the smallest change that matters."""

    title: str
    better: int  # +1 higher is better, -1 lower is better, 0 neither: a change is reported, never fails
    min_effect: float  # in the metric's units; for speed, a fraction of the baseline (the tolerance)
    speed: bool = False  # throughput: ratio of medians and Mann-Whitney U instead of Welch
    invariant: bool = False  # must be exactly 0 in every run: any nonzero value where the baseline had none fails


# Minimum effects: one point of accuracy (30 of 3,000 test images) and 0.02 of cross-entropy, about
# one to two seed-to-seed SDs on the embedded digits (test accuracy SD 0.003-0.016, test loss
# 0.008-0.047 over 5 seeds), small enough to catch dropout left on at evaluation.
RULES: dict[str, Rule] = {
    "test_accuracy": Rule("test accuracy", +1, 0.01),
    "train_accuracy": Rule("train accuracy", 0, 0.01),  # lower can be the point of regularizing
    "gap_accuracy": Rule("gap (train-test acc)", -1, 0.01),
    "test_loss": Rule("test loss", -1, 0.02),
    "gap_loss": Rule("gap (train-test loss)", +1, 0.02),  # negative; further below zero is more overfit
    "sparsity": Rule("sparsity", 0, 0.02),  # L1 moves it by 0.5; seeds by 0.01
    "mean_abs_weight": Rule("mean |W|", 0, 0.0005),  # L2 moves it by 0.01; seeds by 0.0001
    # Invariants every run measures (regbench.metrics): a penalty's gradient on biases and 1-D
    # parameters, and the difference between two eval passes. Correct code gives exactly 0.
    "penalty_leak": Rule("penalty grad on biases", -1, 0.0, invariant=True),
    "eval_nondeterminism": Rule("eval nondeterminism", -1, 0.0, invariant=True),
    "samples_per_second": Rule("samples/s", +1, SPEED_TOLERANCE, speed=True),
    "calls_per_second": Rule("calls/s", +1, SPEED_TOLERANCE, speed=True),
}
SETTINGS_THAT_MATTER = ("epochs", "batch_size", "lr", "engine", "dataset", "n_train_per_class", "n_test_per_class")
HARDWARE = ("device", "device_name", "cpu_brand", "cpu_count", "cuda_device_name")
TIMING_ONLY = ("torch_threads",)  # changes speed, not results (1 vs 2 threads differ by ~1e-8 in a loss): never refused
LIBRARIES = ("torch", "torchvision", "python")  # what computes the numbers; numpy and scipy only summarize them


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


@dataclass
class Row:
    """One metric of one config or benchmark: both sides, the change with its CI, and the verdict."""

    group: str
    metric: str
    baseline: float  # mean across seeds, or median for speed
    candidate: float
    n: tuple[int, int]
    change: float  # candidate - baseline; for speed candidate / baseline
    ci: tuple[float, float]  # confidence interval (1 - alpha) of the change
    p_value: float
    verdict: str  # ok | regression | improved | changed | undecidable | ignored | missing | new
    note: str = ""


@dataclass
class Report:
    """Everything the gate decided, ready to print or write as JSON."""

    baseline: str
    candidate: str
    alpha: float
    rows: list[Row]
    warnings: list[str]

    @property
    def regressions(self) -> list[Row]:
        """Rows that fail the gate."""
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def undecidable(self) -> list[Row]:
        """Rows the gate refused to judge, each with its reason."""
        return [r for r in self.rows if r.verdict == "undecidable"]

    def as_dict(self) -> dict:
        """JSON-ready: the verdict of every row plus the overall result."""
        return {**asdict(self), "passed": not self.regressions}


# ---------------------------------------------------------------- reading either file format


def load_measurements(path: Path | str) -> Measurements:
    """A regbench results file (or a folder holding results.json) or pytest-benchmark JSON, as raw values."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    doc = results.read_json(path)
    if benchfile.is_benchmark_json(doc):
        return _from_benchmarks(benchfile.validate_benchmarks(doc, path), path)
    if not isinstance(doc, dict) or ("schema_version" not in doc and "benchmarks" not in doc):
        raise ResultsError(f"{path}: neither a regbench results file (no schema_version) nor pytest-benchmark JSON (no benchmarks list)")
    return _from_results(results.load_results(path), path)


def _from_results(doc: dict, path: Path) -> Measurements:
    """Every finished run's value of every gated metric, by config; unfinished runs counted apart."""
    for key in ("environment", "settings"):
        if not isinstance(doc.get(key), dict):
            raise ResultsError(f"{path}: '{key}' is missing or not an object; was the file written by `regbench run`?")
    values: dict[tuple[str, str], list[float]] = {}
    unfinished: dict[str, tuple[int, int]] = {}
    for i, run in enumerate(doc["runs"]):
        config = run["config"]
        if not isinstance(config, str):
            raise ResultsError(f"{path}: run {i}: config must be a name, got {config!r}")
        failed, total = unfinished.get(config, (0, 0))
        unfinished[config] = (failed + (run["status"] != "ok"), total + 1)
        if run["status"] != "ok":
            continue
        for metric in RULES:
            if metric not in run:
                continue
            value = run[metric]["all"] if isinstance(run[metric], dict) and "all" in run[metric] else run[metric]
            if value is None:  # NaN is written as null: no value, not an error
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ResultsError(f"{path}: run {i} ({config} seed {run['seed']}): {metric} is {value!r}, expected a number")
            values.setdefault((config, metric), []).append(float(value))
    configs = doc.get("configs") if isinstance(doc.get("configs"), dict) else {}
    return Measurements(str(path), "regbench results", doc["environment"], doc["settings"], values, unfinished, configs)


def _from_benchmarks(doc: dict, path: Path) -> Measurements:
    """Every round's speed of every benchmark; settings are the benchmarks' own."""
    values = {(name, metric): speeds for name, (metric, speeds) in benchfile.benchmark_speeds(doc).items()}
    return Measurements(str(path), "pytest-benchmark", benchfile.benchmark_environment(doc), {}, values)


# ---------------------------------------------------------------- do the two files compare at all?


def environment_mismatches(baseline: dict, candidate: dict) -> tuple[list[str], list[str], list[str]]:
    """(hardware, library, timing-only) differences, each 'key: baseline -> candidate'; keys neither side records are skipped."""
    def same(key: str) -> bool:
        old, new = baseline.get(key), candidate.get(key)
        if key == "python" and isinstance(old, str) and isinstance(new, str):  # 3.11.7 and 3.11.9 compute alike
            return old.split(".")[:2] == new.split(".")[:2]
        return old == new

    def diff(keys: tuple[str, ...]) -> list[str]:
        return [f"{k}: {baseline.get(k, 'unknown')} -> {candidate.get(k, 'unknown')}"
                for k in keys if (k in baseline or k in candidate) and not same(k)]
    return diff(HARDWARE), diff(LIBRARIES), diff(TIMING_ONLY)


def settings_mismatches(baseline: dict, candidate: dict) -> list[str]:
    """Training settings that differ: a 3-epoch run says nothing about a 20-epoch baseline."""
    return [f"{k}: {baseline.get(k)} -> {candidate.get(k)}" for k in SETTINGS_THAT_MATTER if baseline.get(k) != candidate.get(k)]


def config_changes(baseline: dict, candidate: dict) -> list[str]:
    """Same-named configs whose descriptions differ, each naming the fields: 'config l1: loss.args.l1_lambda 0.0001 -> 0.001'.

    A description is a config's factories, their arguments and the defaults they fill in (its
    hash covers exactly that); the name and the free-text description do not count.
    """
    notes = []
    for name in sorted(baseline.keys() & candidate.keys()):
        old, new = baseline[name], candidate[name]
        if not (isinstance(old, dict) and isinstance(new, dict)) or old.get("hash") == new.get("hash"):
            continue
        flat_old, flat_new = _flatten(_definition(old)), _flatten(_definition(new))
        fields = [f"{k} {flat_old.get(k, '(none)')} -> {flat_new.get(k, '(none)')}" for k in sorted(flat_old.keys() | flat_new.keys())
                  if flat_old.get(k, _ABSENT) != flat_new.get(k, _ABSENT)]
        notes.append(f"config {name}: {'; '.join(fields) or 'hash ' + str(old.get('hash')) + ' -> ' + str(new.get('hash'))}")
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


# ---------------------------------------------------------------- the statistics


def judge_invariant(base: list[float], cand: list[float]) -> tuple[float, tuple[float, float], float, str, str]:
    """An exact invariant needs no statistics: nonzero in any candidate run, where no baseline run was, fails."""
    worst_base, worst_cand = max(base, default=0.0), max(cand, default=0.0)
    diff = worst_cand - worst_base
    if worst_cand > 0 and worst_base == 0:
        return diff, (diff, diff), 0.0, "regression", f"invariant broken: 0 in every baseline run, up to {worst_cand:.3g} in the candidate"
    return diff, (diff, diff), 1.0, "ok", "" if worst_cand == 0 else "nonzero in the baseline too"


def judge_seeds(base: list[float], cand: list[float], rule: Rule, alpha: float) -> tuple[float, tuple[float, float], float, str, str]:
    """Welch's t-test across seeds: (change, CI, p, verdict, note); judged by where the whole CI lies."""
    if rule.invariant:
        return judge_invariant(base, cand)
    if len(base) < 2 or len(cand) < 2:
        return _mean(cand) - _mean(base), (math.nan, math.nan), math.nan, "undecidable", "needs at least 2 seeds on each side"
    from scipy import stats  # imported when judging, not with the command line: it takes most of a second

    diff = float(np.mean(cand) - np.mean(base))
    if np.var(base) == 0 and np.var(cand) == 0:  # both exact (e.g. sparsity 0): the difference is exact too
        ci, p = (diff, diff), (1.0 if diff == 0 else 0.0)
    else:
        test = stats.ttest_ind(cand, base, equal_var=False)
        interval = test.confidence_interval(1 - alpha)
        ci, p = (float(interval.low), float(interval.high)), float(test.pvalue)
    low, high, m = ci[0], ci[1], rule.min_effect
    if low > m or high < -m:  # the whole interval beyond the minimum effect
        if rule.better == 0:
            return diff, ci, p, "changed", f"CI beyond +-{m:g}; no better direction, so it does not fail"
        worse = high < -m if rule.better > 0 else low > m
        return diff, ci, p, ("regression" if worse else "improved"), f"CI beyond the minimum effect {m:g}"
    half_width = (high - low) / 2
    if half_width > SPREAD_LIMIT * m:
        return diff, ci, p, "undecidable", f"CI half-width {half_width:.3g} > {SPREAD_LIMIT:g}x the minimum effect {m:g}: seeds too noisy to tell"
    return diff, ci, p, "ok", ("significant, but within the minimum effect" if p < alpha else "")


def judge_speed(base: list[float], cand: list[float], rule: Rule, alpha: float, tolerance: float) -> tuple[float, tuple[float, float], float, str, str]:
    """Ratio of medians, Mann-Whitney U and a bootstrap CI of the ratio: (ratio, CI, p, verdict, note)."""
    ratio = _median(cand) / _median(base) if base and cand else math.nan
    smallest_p = 2 / math.comb(len(base) + len(cand), len(base)) if base and cand else 1.0
    if smallest_p >= alpha:
        return ratio, (math.nan, math.nan), math.nan, "undecidable", (
            f"{len(base)} vs {len(cand)} values: Mann-Whitney U cannot reach p < {alpha:g} (smallest p {smallest_p:.2g})")
    from scipy import stats

    p = float(stats.mannwhitneyu(cand, base, alternative="two-sided").pvalue)
    boot = stats.bootstrap((np.asarray(cand), np.asarray(base)), _ratio_of_medians, vectorized=True, paired=False,
                           confidence_level=1 - alpha, method="percentile", n_resamples=BOOTSTRAP_RESAMPLES,
                           random_state=np.random.default_rng(0))
    ci = (float(boot.confidence_interval.low), float(boot.confidence_interval.high))
    limit = 1 - tolerance
    if p < alpha and ratio < limit:
        return ratio, ci, p, "regression", f"median below {limit:g}x the baseline, significant"
    if p < alpha and ratio > 1 / limit:
        return ratio, ci, p, "improved", ""
    half_width = (math.log(ci[1]) - math.log(ci[0])) / 2
    if half_width > SPREAD_LIMIT * -math.log(limit):
        return ratio, ci, p, "undecidable", f"ratio CI [{ci[0]:.2f}, {ci[1]:.2f}] too wide: values too noisy to tell a {tolerance:.0%} slowdown"
    return ratio, ci, p, "ok", ("significant, but within the tolerance" if p < alpha else "")


def _ratio_of_medians(cand: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    """The bootstrap statistic: median(candidate) / median(baseline), along the resample axis."""
    return np.median(cand, axis=axis) / np.median(base, axis=axis)


def _mean(values: list[float]) -> float:
    """Mean, NaN for no values."""
    return float(np.mean(values)) if values else math.nan


def _median(values: list[float]) -> float:
    """Median, NaN for no values."""
    return float(np.median(values)) if values else math.nan


# ---------------------------------------------------------------- the gate


def compare(baseline: Measurements, candidate: Measurements, *, alpha: float = ALPHA, speed_tolerance: float = SPEED_TOLERANCE,
            allow_env_mismatch: bool = False, allow_settings_mismatch: bool = False, ignore: tuple[str, ...] = ()) -> Report:
    """Judge every metric of every config or benchmark (except ``ignore``d ones); refuse when the files do not compare."""
    if baseline.kind != candidate.kind:
        raise GateRefused(f"cannot compare {baseline.kind} ({baseline.path}) with {candidate.kind} ({candidate.path})")
    hardware, libraries, timing = environment_mismatches(baseline.environment, candidate.environment)
    if (hardware or libraries) and not allow_env_mismatch:
        raise GateRefused(f"baseline and candidate come from different environments ({'; '.join(hardware + libraries)}); "
                          "make a baseline on this machine, or pass --allow-env-mismatch to compare anyway")
    changed_settings = settings_mismatches(baseline.settings, candidate.settings) if baseline.kind == "regbench results" else []
    if changed_settings and not allow_settings_mismatch:
        raise GateRefused(f"baseline and candidate were trained with different settings ({'; '.join(changed_settings)}); "
                          "compare runs made with the same settings, or pass --allow-settings-mismatch")
    changed_configs = config_changes(baseline.configs, candidate.configs)
    if changed_configs and not allow_settings_mismatch:
        raise GateRefused(f"same-named configs differ between baseline and candidate ({'; '.join(changed_configs)}); "
                          "compare runs of the same configs, or pass --allow-settings-mismatch")
    warnings = [f"different hardware: {d}" for d in hardware] + [f"different libraries: {d}" for d in libraries]
    warnings += [f"different thread count: {d} (throughput not judged)" for d in timing]
    warnings += [f"different settings: {d}" for d in changed_settings] + [f"different definition: {d}" for d in changed_configs]
    rows = []
    for group, metric in _keys(baseline, candidate):
        base, cand = baseline.values.get((group, metric), []), candidate.values.get((group, metric), [])
        row = _row(group, metric, base, cand, alpha, speed_tolerance, hardware + timing)
        if metric in ignore and row.verdict not in ("missing", "new"):
            row.verdict, row.note = "ignored", "--ignore: reported, not judged"
        rows.append(row)
    rows += _unfinished_rows(baseline.unfinished, candidate.unfinished)
    return Report(baseline.path, candidate.path, alpha, rows, warnings)


def _keys(baseline: Measurements, candidate: Measurements) -> list[tuple[str, str]]:
    """Baseline's (group, metric) pairs in order, then any the candidate adds; metrics in RULES order."""
    order = list(RULES)
    keys = list(dict.fromkeys([*baseline.values, *candidate.values]))
    groups = list(dict.fromkeys(g for g, _ in keys))
    return sorted(keys, key=lambda k: (groups.index(k[0]), order.index(k[1]) if k[1] in order else len(order)))


def _row(group: str, metric: str, base: list[float], cand: list[float], alpha: float, tolerance: float, machine: list[str]) -> Row:
    """One metric's verdict, or 'missing'/'new' when only one side has it."""
    rule = RULES.get(metric, Rule(metric, 0, math.inf))
    n = (len(base), len(cand))
    if not base or not cand:
        verdict, note = ("missing", "no values in the candidate") if base else ("new", "no values in the baseline")
        return Row(group, metric, _mean(base), _mean(cand), n, math.nan, (math.nan, math.nan), math.nan, verdict, note)
    if rule.speed:
        change, ci, p, verdict, note = judge_speed(base, cand, rule, alpha, tolerance)
        if machine:
            verdict, note = "undecidable", "different hardware or threads: timings do not compare"
        return Row(group, metric, _median(base), _median(cand), n, change, ci, p, verdict, note)
    change, ci, p, verdict, note = judge_seeds(base, cand, rule, alpha)
    return Row(group, metric, _mean(base), _mean(cand), n, change, ci, p, verdict, note)


def _unfinished_rows(baseline: dict[str, tuple[int, int]], candidate: dict[str, tuple[int, int]]) -> list[Row]:
    """A config whose runs now diverge (NaN loss) where they did not fails: that is never seed noise worth ignoring."""
    rows = []
    for group in dict.fromkeys([*baseline, *candidate]):
        (bf, bn), (cf, cn) = baseline.get(group, (0, 0)), candidate.get(group, (0, 0))
        if not (bf or cf):
            continue
        base_rate, cand_rate = bf / bn if bn else 0.0, cf / cn if cn else 0.0
        worse = cand_rate > base_rate
        rows.append(Row(group, "unfinished_runs", base_rate, cand_rate, (bn, cn), cand_rate - base_rate, (math.nan, math.nan), math.nan,
                        "regression" if worse else "ok", f"{bf}/{bn} -> {cf}/{cn} runs diverged"))
    return rows


# ---------------------------------------------------------------- output


def render(report: Report) -> str:
    """A markdown table of every row, the warnings, and a one-line result."""
    pct = f"{1 - report.alpha:.0%}"
    lines = [f"regbench compare: {report.baseline} (baseline) vs {report.candidate} (candidate), alpha {report.alpha:g}", ""]
    lines += [f"warning: {w}" for w in report.warnings] + ([""] if report.warnings else [])
    header = ["config / benchmark", "metric", "baseline", "candidate", f"change [{pct} CI]", "p", "verdict", "why"]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    missing = [r for r in report.rows if r.verdict == "missing"]
    for r in report.rows:
        if r.verdict == "missing":
            continue
        fmt = _format_of(r.metric)
        cells = [r.group, r.metric, _value(r.baseline, fmt, r.n[0]), _value(r.candidate, fmt, r.n[1]),
                 _change(r), _p(r.p_value), f"**{r.verdict}**" if r.verdict in ("regression", "undecidable") else r.verdict, r.note]
        lines.append("| " + " | ".join(cells) + " |")
    if missing:
        groups = list(dict.fromkeys(r.group for r in missing))
        shown = ", ".join(groups[:5]) + (f" and {len(groups) - 5} more" if len(groups) > 5 else "")
        lines += ["", f"{len(missing)} baseline metric(s) of {len(groups)} config(s)/benchmark(s) have no candidate values (not run, or every run failed): {shown}"]
    lines += ["", summary_line(report)]
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    """PASS or FAIL, with what failed and what could not be judged."""
    counts = {v: sum(r.verdict == v for r in report.rows) for v in ("regression", "undecidable", "improved", "changed", "missing")}
    tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    if report.regressions:
        names = [f"{r.group} {r.metric}" for r in report.regressions]
        which = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"gate: FAIL: {len(report.regressions)} regression(s): {which} ({tally})"
    return f"gate: PASS ({tally or 'every metric ok'})"


def _format_of(metric: str) -> str:
    """Throughput as whole numbers, everything else to four decimals."""
    return "{:,.0f}" if RULES.get(metric, Rule("", 0, 0)).speed else "{:.4f}"


def _value(value: float, fmt: str, n: int) -> str:
    """'0.8812 (n=5)', or an en dash when there is none."""
    return "–" if math.isnan(value) else f"{fmt.format(value)} (n={n})"


def _change(row: Row) -> str:
    """'-0.0213 [-0.0301, -0.0125]' for a difference, 'x0.93 [0.90, 0.95]' for a speed ratio."""
    if math.isnan(row.change):
        return "–"
    speed = RULES.get(row.metric, Rule("", 0, 0)).speed
    text = f"x{row.change:.3f}" if speed else f"{row.change:+.4f}"
    if not math.isnan(row.ci[0]):
        text += f" [{row.ci[0]:.3f}, {row.ci[1]:.3f}]" if speed else f" [{row.ci[0]:+.4f}, {row.ci[1]:+.4f}]"
    return text


def _p(p: float) -> str:
    """Three significant digits; tiny values as '<1e-6'."""
    if math.isnan(p):
        return "–"
    return "<1e-6" if p < 1e-6 else f"{p:.3g}"


def run_gate(baseline: Path | str, candidate: Path | str, *, alpha: float = ALPHA, speed_tolerance: float = SPEED_TOLERANCE,
             allow_env_mismatch: bool = False, allow_settings_mismatch: bool = False, ignore: tuple[str, ...] = (),
             strict: bool = False, json_path: Path | None = None, out: TextIO | None = None) -> int:
    """Load, compare, print the table (and write JSON); 0 pass, 1 regression (or, with strict, undecidable)."""
    report = compare(load_measurements(baseline), load_measurements(candidate), alpha=alpha, speed_tolerance=speed_tolerance,
                     allow_env_mismatch=allow_env_mismatch, allow_settings_mismatch=allow_settings_mismatch, ignore=ignore)
    print(render(report), file=out, flush=True)
    if json_path is not None:
        results.write_json(json_path, report.as_dict())
    if report.regressions or (strict and report.undecidable):
        return 1
    return 0
