"""The regression gate: passes reruns, fails real regressions, refuses what does not compare.

Results files here are built for the purpose with ``regbench.results`` (the writer `regbench run`
uses): per config, every seed's metric drawn around a mean with the seed-to-seed spread measured
on the embedded digits, so "a rerun" and "a regression" are as noisy as real ones.
"""

import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from regbench import compare
from regbench.cli import main
from regbench.results import build_results, write_json

ENV = {
    "python": "3.11.7",
    "platform": "Linux",
    "torch": "2.14.1",
    "torchvision": "0.29.1",
    "numpy": "2.4.6",
    "device": "cpu",
    "device_name": "x86_64",
    "cpu_count": 2,
    "torch_threads": 2,
    "git_commit": None,
    "created": "2026-01-01T00:00:00+00:00",
}
SETTINGS = {
    "epochs": 5,
    "batch_size": 32,
    "lr": 0.001,
    "device": "cpu",
    "seeds": 5,
    "dataset": "digits",
    "n_train_per_class": 100,
    "n_test_per_class": 300,
}
# (mean, seed-to-seed SD) of each metric, close to 5-epoch runs on the embedded digits.
TRUTH = {
    "baseline": {
        "test_accuracy": (0.885, 0.008),
        "train_accuracy": (0.96, 0.004),
        "gap_accuracy": (0.075, 0.008),
        "test_loss": (0.38, 0.014),
        "gap_loss": (-0.22, 0.012),
        "sparsity": (0.026, 0.0005),
        "mean_abs_weight": (0.0225, 0.0001),
        "samples_per_second": (20000.0, 800.0),
    },
    "l1": {
        "test_accuracy": (0.877, 0.009),
        "train_accuracy": (0.953, 0.0065),
        "gap_accuracy": (0.076, 0.009),
        "test_loss": (0.418, 0.014),
        "gap_loss": (-0.203, 0.01),
        "sparsity": (0.549, 0.011),
        "mean_abs_weight": (0.0079, 0.0001),
        "samples_per_second": (18000.0, 800.0),
    },
    "augment": {
        "test_accuracy": (0.84, 0.02),
        "train_accuracy": (0.87, 0.02),
        "gap_accuracy": (0.03, 0.01),
        "test_loss": (0.55, 0.04),
        "gap_loss": (-0.07, 0.02),
        "sparsity": (0.027, 0.001),
        "mean_abs_weight": (0.0208, 0.0003),
        "samples_per_second": (15000.0, 900.0),
    },
}


def results_file(path, seed, *, shift=None, scale=None, seeds=5, env=ENV, settings=SETTINGS, diverged=()):
    """Write a results file: every (config, seed) drawn from TRUTH, with optional shifts (config, metric) -> delta."""
    rng = np.random.default_rng(seed)
    shift, scale = shift or {}, scale or {}
    runs = []
    for config, metrics in TRUTH.items():
        for s in range(seeds):
            identity = {
                "config": config,
                "config_hash": described(config)["hash"],
                "seed": s,
                "engine": "fast",
                "execution": "single",
            }
            if (config, s) in diverged:
                runs.append({**identity, "status": "diverged", "error": "loss became nan"})
                continue
            run = {**identity, "status": "ok"}
            for metric, (mean, sd) in metrics.items():
                run[metric] = (mean + shift.get((config, metric), 0.0)) * scale.get(
                    (config, metric), 1.0
                ) + sd * rng.standard_normal()
            run["mean_abs_weight"] = {"linear_1.weight": run["mean_abs_weight"], "all": run["mean_abs_weight"]}
            runs.append(run)
    write_json(path, build_results(runs, settings=settings, env=env, configs={c: described(c) for c in TRUTH}))
    return path


def described(config, **args):
    """A config's description as results files hold it: a hash over what it builds."""
    definition = {
        "model": {"factory": "regbench.models:FullyConnected", "args": {}, "defaults": {}},
        "loss": {"factory": f"my:{config}", "args": args},
    }
    return {"name": config, "description": "", "hash": f"{config}-{sorted(args.items())}", **definition}


def gate(capsys, *argv):
    """Run `regbench compare` and return (exit code, stdout, stderr)."""
    code = main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def rows(out):
    """{(group, metric): verdict} from the printed markdown table."""
    table = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 8 and cells[0] != "config / benchmark":
            table[(cells[0], cells[1])] = cells[6].strip("*")
    return table


# ---------------------------------------------------------------- reruns pass, regressions fail


@pytest.mark.parametrize("rerun", range(20))
def test_a_rerun_with_fresh_seed_noise_passes(tmp_path, capsys, rerun):
    """Same code, fresh noise (other seeds, other hardware): seed noise alone never fails the gate."""
    base = results_file(tmp_path / "base.json", 1000)
    cand = results_file(tmp_path / "cand.json", rerun)
    code, out, _ = gate(capsys, base, cand)
    assert code == 0, out
    assert "regression" not in rows(out).values()
    assert out.rstrip().splitlines()[-1].startswith(("gate: PASS", "gate: UNDECIDED: no regression found"))


def test_an_identical_rerun_passes_with_every_metric_ok(tmp_path, capsys):
    """A CPU rerun on the same machine reproduces exactly: every change is 0, nothing fails.

    The noisy augment config (seed SD 0.02) stays undecidable even then: with 5 seeds a real
    0.04 drop would hide in its interval, and the gate says so rather than call it ok.
    """
    base = results_file(tmp_path / "base.json", 7)
    code, out, _ = gate(capsys, base, base)
    assert code == 0
    verdicts = rows(out)
    assert {v for k, v in verdicts.items() if k[0] != "augment"} == {"ok"}
    assert verdicts[("augment", "test_accuracy")] == "undecidable"
    assert "| baseline | test_accuracy | 0.8" in out and "+0.0000 [" in out


@pytest.mark.parametrize(
    "shift, failing",
    [
        ({("l1", "test_accuracy"): -0.05}, ("l1", "test_accuracy")),
        ({("baseline", "gap_accuracy"): +0.04}, ("baseline", "gap_accuracy")),
        ({("l1", "test_loss"): +0.1}, ("l1", "test_loss")),
    ],
)
def test_an_injected_regression_fails_on_that_metric_only(tmp_path, capsys, shift, failing):
    """A real drop beyond the minimum effect fails with exit 1, naming the config and metric."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, shift=shift)
    code, out, _ = gate(capsys, base, cand)
    assert code == 1
    verdicts = rows(out)
    assert [k for k, v in verdicts.items() if v == "regression"] == [failing]
    assert f"gate: FAIL: 1 regression(s): {failing[0]} {failing[1]}" in out


def test_an_improvement_does_not_fail(tmp_path, capsys):
    """Significantly better is reported as improved, with exit 0."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, shift={("l1", "test_accuracy"): +0.05})
    code, out, _ = gate(capsys, base, cand)
    assert code == 0 and rows(out)[("l1", "test_accuracy")] == "improved"


def test_significant_but_small_changes_pass(tmp_path, capsys):
    """Significance alone is not enough: a consistent 0.5-point drop is below the minimum effect."""
    truth = dict(TRUTH)
    try:
        TRUTH["baseline"] = {**TRUTH["baseline"], "test_accuracy": (0.885, 0.001)}
        base = results_file(tmp_path / "base.json", 1)
        cand = results_file(tmp_path / "cand.json", 2, shift={("baseline", "test_accuracy"): -0.005})
    finally:
        TRUTH.clear()
        TRUTH.update(truth)
    code, out, _ = gate(capsys, base, cand)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("| baseline | test_accuracy |"))
    assert "| ok | significant, but within the minimum effect |" in line


def test_a_slower_training_step_fails_only_beyond_the_tolerance(tmp_path, capsys):
    """Throughput fails when the whole interval of the (geometric) ratio lies below 1 - tolerance."""
    base = results_file(tmp_path / "base.json", 1)
    slow = results_file(tmp_path / "slow.json", 2, scale={("l1", "samples_per_second"): 0.5})
    code, out, _ = gate(capsys, base, slow)
    assert code == 1 and rows(out)[("l1", "samples_per_second")] == "regression"
    assert gate(capsys, base, slow, "--speed-tolerance", "0.6")[0] == 0


def test_a_metric_too_noisy_to_judge_is_undecidable_not_passed_silently(tmp_path, capsys):
    """With two seeds the interval is too wide: the gate says so; --strict turns that into a failure."""
    base = results_file(tmp_path / "base.json", 1, seeds=2)
    cand = results_file(tmp_path / "cand.json", 2, seeds=2)
    code, out, _ = gate(capsys, base, cand)
    assert code == 0
    verdicts = rows(out)
    assert verdicts[("augment", "test_accuracy")] == "undecidable"
    assert (
        verdicts[("l1", "samples_per_second")] == "ok"
    )  # judged against the timing noise of every config, not its 2 seeds'
    assert "CI too wide to tell a change of 3x the minimum effect 0.01: 6 seeds per side would decide it" in out
    summary = out.rstrip().splitlines()[-1]
    assert (
        summary.startswith("gate: UNDECIDED: no regression found, but ")
        and "seeds per side would resolve a 0.01 change" in summary
    )
    assert gate(capsys, base, cand, "--strict")[0] == 1


def test_runs_that_now_diverge_fail(tmp_path, capsys):
    """A config whose runs start diverging fails even though its finished seeds look fine."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, diverged={("l1", 0), ("l1", 3)})
    code, out, _ = gate(capsys, base, cand)
    assert code == 1
    assert rows(out)[("l1", "unfinished_runs")] == "regression" and "0/5 -> 2/5 runs did not finish" in out


def test_a_config_missing_from_the_candidate_is_reported(tmp_path, capsys):
    """A subset run does not fail, but every metric it lacks is listed as missing."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2)
    doc = json.loads(cand.read_text())
    doc["runs"] = [r for r in doc["runs"] if r["config"] != "augment"]
    cand.write_text(json.dumps(doc))
    code, out, _ = gate(capsys, base, cand, "--json", tmp_path / "v.json")
    assert code == 0 and ("augment", "test_accuracy") not in rows(out)
    assert (
        "8 baseline metric(s) of 1 config(s)/benchmark(s) have no candidate values (not run, or every run failed):"
        " augment" in out
    )
    verdicts = {(r["group"], r["metric"]): r["verdict"] for r in json.loads((tmp_path / "v.json").read_text())["rows"]}
    assert verdicts[("augment", "test_accuracy")] == "missing"


def test_ignored_metrics_are_reported_but_not_judged(tmp_path, capsys):
    """--ignore samples_per_second: a shared CI machine's timings cannot fail the accuracy gate."""
    base = results_file(tmp_path / "base.json", 1)
    slow = results_file(tmp_path / "slow.json", 2, scale={("l1", "samples_per_second"): 0.1})
    code, out, _ = gate(capsys, base, slow, "--ignore", "samples_per_second")
    assert code == 0 and rows(out)[("l1", "samples_per_second")] == "ignored"


def test_json_output_and_confidence_intervals(tmp_path, capsys):
    """--json writes every row; each judged difference carries a CI that contains it."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, shift={("l1", "test_accuracy"): -0.05})
    code, _, _ = gate(capsys, base, cand, "--json", tmp_path / "verdicts.json")
    report = json.loads((tmp_path / "verdicts.json").read_text())
    assert code == 1 and report["passed"] is False
    row = next(r for r in report["rows"] if (r["group"], r["metric"]) == ("l1", "test_accuracy"))
    assert row["verdict"] == "regression" and row["ci"][0] <= row["change"] <= row["ci"][1] < 0
    assert all(len(r["ci"]) == 2 for r in report["rows"])


def test_welch_interval_matches_scipy():
    """The seed test is scipy's Welch t-test, and its interval is at the 1 - alpha level."""
    from scipy import stats

    base, cand = [0.88, 0.87, 0.89, 0.885, 0.875], [0.85, 0.86, 0.84, 0.855, 0.845]
    change, ci, p, verdict, _ = compare.judge_seeds(base, cand, compare.RULES["test_accuracy"], 0.01)
    ref = stats.ttest_ind(cand, base, equal_var=False)
    assert p == pytest.approx(ref.pvalue) and change == pytest.approx(np.mean(cand) - np.mean(base))
    assert ci == pytest.approx(tuple(ref.confidence_interval(0.99)))
    assert verdict == "regression"


# ---------------------------------------------------------------- small samples, and the matrix as a whole

MATRIX = [f"config-{k}" for k in range(9)]  # a 9-config matrix, as --quick trains it


def matrix_file(
    path, seed, *, seeds=2, accuracy_shift=0.0, speed_scale=1.0, speed_cv=0.03, accuracy_sd=0.01, only=None
):
    """A 9-config results file: accuracy around 0.88 with seed SD accuracy_sd, throughput around 20k with relative
    spread speed_cv.

    ``accuracy_shift`` and ``speed_scale`` apply to every config, or to the config named by ``only``.
    """
    rng = np.random.default_rng(seed)
    runs = []
    for k, config in enumerate(MATRIX):
        hit = only is None or config == only
        for s in range(seeds):
            runs.append(
                {
                    "config": config,
                    "config_hash": f"{config}-h",
                    "seed": s,
                    "engine": "fast",
                    "execution": "single",
                    "status": "ok",
                    "test_accuracy": (
                        0.88 + 0.003 * k + (accuracy_shift if hit else 0.0) + accuracy_sd * rng.standard_normal()
                    ),
                    "samples_per_second": (
                        20000.0
                        * (1 + 0.1 * k)
                        * (speed_scale if hit else 1.0)
                        * math.exp(speed_cv * rng.standard_normal())
                    ),
                }
            )
    write_json(
        path,
        build_results(
            runs,
            settings={**SETTINGS, "seeds": seeds},
            env=ENV,
            configs={c: {"name": c, "hash": f"{c}-h"} for c in MATRIX},
        ),
    )
    return path


def test_a_20x_slowdown_fails_at_2_seeds_and_a_clean_rerun_does_not(tmp_path, capsys):
    """Every config 20x slower, 2 seeds a side. Log throughput makes each row a clear regression, and the pooled row
    too.
    """
    base = matrix_file(tmp_path / "base.json", 1)
    code, out, _ = gate(capsys, base, matrix_file(tmp_path / "slow.json", 2, speed_scale=1 / 20))
    verdicts = rows(out)
    assert code == 1 and verdicts[("pooled (9 configs)", "samples_per_second")] == "regression"
    assert all(verdicts[(c, "samples_per_second")] == "regression" for c in MATRIX)
    assert "gate: FAIL: 10 regression(s): pooled (9 configs) samples_per_second," in out  # pooled rows named first
    code, out, _ = gate(capsys, base, matrix_file(tmp_path / "rerun.json", 3))
    assert code == 0 and "regression" not in rows(out).values()


def test_overlapping_throughput_at_2_values_stays_undecidable():
    """2 against 2 with values that overlap: no verdict either way, and the number of rounds that would give one."""
    change, ci, p, verdict, note = compare.judge_speed(
        [100.0, 140.0], [95.0, 130.0], compare.RULES["samples_per_second"], 0.01, 0.2
    )
    assert verdict == "undecidable" and ci[0] < 0.8 < 1.25 < ci[1] and 0.9 < change < 1.0


def test_a_change_every_config_shows_a_little_of_fails_the_pooled_row(tmp_path, capsys):
    """Every config 2.5 points worse at 2 seeds: each config alone is undecidable, the pooled row is a regression."""
    base = matrix_file(tmp_path / "base.json", 1)
    code, out, _ = gate(capsys, base, matrix_file(tmp_path / "worse.json", 2, accuracy_shift=-0.025))
    verdicts = rows(out)
    assert code == 1 and verdicts[("pooled (9 configs)", "test_accuracy")] == "regression"
    assert {verdicts[(c, "test_accuracy")] for c in MATRIX} <= {"undecidable", "ok"}
    assert "gate: FAIL: 1 regression(s): pooled (9 configs) test_accuracy" in out


def test_a_change_in_one_config_is_that_configs_to_judge(tmp_path, capsys):
    """One config 6 points worse (5 seeds): its row fails; the pooled row, whose configs disagree, does not."""
    base = matrix_file(tmp_path / "base.json", 1, seeds=5, accuracy_sd=0.004)
    code, out, _ = gate(
        capsys,
        base,
        matrix_file(tmp_path / "one.json", 2, seeds=5, accuracy_sd=0.004, accuracy_shift=-0.06, only="config-4"),
    )
    verdicts = rows(out)
    assert code == 1 and verdicts[("config-4", "test_accuracy")] == "regression"
    assert verdicts[("pooled (9 configs)", "test_accuracy")] != "regression"


def test_undecided_gates_are_never_called_a_pass_and_say_what_would_decide_them(tmp_path, capsys):
    """2 seeds of a noisy matrix: exit 0, but the summary says UNDECIDED with the seeds per side that would resolve a
    change.
    """
    base = matrix_file(tmp_path / "base.json", 1, accuracy_sd=0.02)
    code, out, _ = gate(capsys, base, matrix_file(tmp_path / "cand.json", 2, accuracy_sd=0.02))
    summary = out.rstrip().splitlines()[-1]
    assert code == 0 and summary.startswith("gate: UNDECIDED: no regression found, but ") and "PASS" not in summary
    assert re.search(
        r"test_accuracy \(config-0, config-1, config-2 and \d+ more\): \d+ seeds per side would resolve a 0.01 change",
        summary,
    )


def test_seeds_needed_are_where_the_interval_first_fits():
    """needed_per_side: the first n whose t interval at the observed spread is no wider than asked, and not one
    before.
    """
    from scipy.special import stdtrit

    from regbench.compare.stats import needed_per_side

    base, cand = [0.80, 0.84], [0.83, 0.79]
    s = np.sqrt((np.var(base, ddof=1) + np.var(cand, ddof=1)) / 2)
    n = needed_per_side(base, cand, 0.01, 0.03)
    width = lambda k: stdtrit(2 * k - 2, 0.995) * s * np.sqrt(2 / k)  # noqa: E731
    assert width(n) <= 0.03 < width(n - 1)


# ---------------------------------------------------------------- refusing what does not compare


def test_different_hardware_or_libraries_refuse_unless_allowed(tmp_path, capsys):
    """Another torch or CPU refuses with exit 2; allowed, it warns and does not judge timings across hardware."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, env={**ENV, "torch": "2.15.0", "cpu_count": 16})
    code, out, err = gate(capsys, base, cand)
    assert code == 2 and out == ""
    assert "different environments" in err and "torch: 2.14.1 -> 2.15.0" in err and "--allow-env-mismatch" in err
    code, out, _ = gate(capsys, base, cand, "--allow-env-mismatch")
    assert code == 0
    assert "warning: different hardware: cpu_count: 2 -> 16" in out and "warning: different libraries: torch" in out
    assert rows(out)[("l1", "samples_per_second")] == "undecidable" and "timings do not compare" in out


def test_different_training_settings_refuse(tmp_path, capsys):
    """A 20-epoch candidate against a 5-epoch baseline says nothing; the gate refuses unless told."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 2, settings={**SETTINGS, "epochs": 20})
    code, _, err = gate(capsys, base, cand)
    assert code == 2 and "epochs: 5 -> 20" in err
    assert gate(capsys, base, cand, "--allow-settings-mismatch")[0] == 0


def test_a_config_defined_differently_refuses_naming_the_field(tmp_path, capsys):
    """Same name, another lambda: the numbers mean something else, so the gate refuses (exit 2) and names the
    argument.
    """
    base = results_file(tmp_path / "base.json", 1)
    doc = json.loads(base.read_text())
    doc["configs"]["l1"] = described("l1", l1_lambda=0.001)
    for run in doc["runs"]:
        if run["config"] == "l1":
            run["config_hash"] = doc["configs"]["l1"]["hash"]
    (tmp_path / "cand.json").write_text(json.dumps(doc))
    err = _one_line_error(capsys, base, tmp_path / "cand.json")
    assert "config l1: loss.args.l1_lambda (none) -> 0.001" in err and "--allow-settings-mismatch" in err
    code, out, _ = gate(capsys, base, tmp_path / "cand.json", "--allow-settings-mismatch")
    assert code == 0 and "warning: different definition: config l1: loss.args.l1_lambda (none) -> 0.001" in out


def _one_line_error(capsys, *argv):
    """Exit 2, one line on stderr starting 'regbench compare: error:', no traceback."""
    code, out, err = gate(capsys, *argv)
    assert code == 2, out
    assert err.startswith("regbench compare: error:") and err.count("\n") == 1 and "Traceback" not in err
    return err


def _with_first_run(text, **fields):
    """The same document with fields of its first run replaced."""
    doc = json.loads(text)
    doc["runs"][0].update(fields)
    return json.dumps(doc)


def test_malformed_truncated_and_mismatched_files_are_one_line_errors(tmp_path, capsys):
    """Every way a file can be wrong names the file and the problem."""
    good = results_file(tmp_path / "good.json", 1)
    text = good.read_text()
    cases = {
        "truncated.json": (text[: len(text) // 2], "not valid JSON"),
        "garbage.json": ("{not json", "not valid JSON"),
        "empty.json": ("", "not valid JSON"),
        "list.json": ("[1, 2]", "neither a regbench results file"),
        "schema.json": (text.replace('"schema_version": 2', '"schema_version": 99', 1), "schema_version 99"),
        "older.json": (
            text.replace('"schema_version": 2', '"schema_version": 1', 1),
            "schema_version 1 was written by an older regbench",
        ),
        "nofields.json": (
            json.dumps({"schema_version": 2, "configs": {}, "runs": [{"config": "a"}]}),
            "lacks config_hash, seed, status, engine, execution",
        ),
        "noconfigs.json": (json.dumps({"schema_version": 2, "runs": []}), "'configs' must map"),
        "mixed.json": (_with_first_run(text, config_hash="other"), "mixes two definitions of one config"),
        "noenv.json": (json.dumps({"schema_version": 2, "configs": {}, "runs": []}), "'environment' is missing"),
        "text.json": (_with_first_run(text, test_accuracy="0.88"), "test_accuracy is '0.88', expected a number"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content)
        assert message in _one_line_error(capsys, good, tmp_path / name), name
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x81")
    assert "not a text file" in _one_line_error(capsys, good, tmp_path / "binary.json")
    assert "cannot read" in _one_line_error(capsys, good, tmp_path / "absent.json")
    assert "cannot read" in _one_line_error(capsys, good, tmp_path)  # a folder without results.json


def test_bad_option_values_are_refused_by_argparse(capsys, tmp_path):
    """alpha and tolerance must lie in (0, 1)."""
    for flag, value in [("--alpha", "0"), ("--alpha", "1.5"), ("--speed-tolerance", "x")]:
        with pytest.raises(SystemExit) as exc:
            main(["compare", "a", "b", flag, value])
        assert exc.value.code == 2 and "error" in capsys.readouterr().err


# ---------------------------------------------------------------- pytest-benchmark JSON


def benchmark_file(path, seed, *, slow=1.0, rounds=30, brand="Intel(R) Xeon(R) Processor", data=True):
    """pytest-benchmark's --benchmark-json layout, with lognormal round times."""
    rng = np.random.default_rng(seed)
    benches = []
    for name, batch, seconds in [("test_step[plain-b32]", 32, 0.0014), ("test_step[plain-b256]", 256, 0.003)]:
        times = (seconds * slow * np.exp(0.05 * rng.standard_normal(rounds))).tolist()
        stats = {
            "min": min(times),
            "max": max(times),
            "mean": float(np.mean(times)),
            "median": float(np.median(times)),
            "rounds": rounds,
            "iterations": 4,
        }
        if data:
            stats["data"] = times
        benches.append(
            {
                "group": "train-step",
                "name": name,
                "fullname": f"benchmarks/test_throughput.py::{name}",
                "params": {},
                "param": None,
                "extra_info": {"samples_per_call": batch, "device": "cpu"},
                "options": {},
                "stats": stats,
            }
        )
    doc = {
        "machine_info": {
            "python_version": "3.11.7",
            "cpu": {"brand_raw": brand, "count": 2},
            "regbench": {k: ENV[k] for k in ("torch", "torchvision", "device", "cpu_count")},
        },
        "commit_info": {},
        "benchmarks": benches,
        "datetime": "2026-01-01T00:00:00",
        "version": "5.3.1",
    }
    path.write_text(json.dumps(doc))
    return path


def test_pytest_benchmark_json_is_gated_round_by_round(tmp_path, capsys):
    """Fresh timing noise passes; a 1.5x slower step fails; the speed is samples/s from extra_info."""
    base = benchmark_file(tmp_path / "base.json", 1)
    code, out, _ = gate(capsys, base, benchmark_file(tmp_path / "rerun.json", 2))
    assert code == 0 and rows(out)[("test_throughput.py::test_step[plain-b32]", "samples_per_second")] == "ok"
    assert "| test_throughput.py::test_step[plain-b256] | samples_per_second | 8" in out and "(n=30)" in out
    code, out, _ = gate(capsys, base, benchmark_file(tmp_path / "slow.json", 3, slow=1.5))
    assert code == 1 and "x0.6" in out and "regression" in rows(out).values()


def test_pytest_benchmark_json_errors(tmp_path, capsys):
    """No raw rounds, another CPU, or one file of each format: clear refusals."""
    base = benchmark_file(tmp_path / "base.json", 1)
    assert "stats.data" in _one_line_error(capsys, base, benchmark_file(tmp_path / "nodata.json", 2, data=False))
    assert "cpu_brand" in _one_line_error(capsys, base, benchmark_file(tmp_path / "amd.json", 2, brand="AMD EPYC"))
    results = results_file(tmp_path / "results.json", 1)
    assert "cannot compare pytest-benchmark" in _one_line_error(capsys, base, results)


def test_reads_real_pytest_benchmark_output(tmp_path, capsys):
    """The reader follows pytest-benchmark's actual JSON, produced here by a tiny benchmark run."""
    (tmp_path / "test_tiny.py").write_text(
        textwrap.dedent("""
        def test_sum(benchmark):
            benchmark.extra_info["samples_per_call"] = 1000
            benchmark.pedantic(sum, args=(range(1000),), rounds=12, iterations=20, warmup_rounds=1)
    """)
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(tmp_path / "test_tiny.py"),
            f"--benchmark-json={out_json}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    measured = compare.load_measurements(out_json)
    (((group, metric), speeds),) = measured.values.items()
    assert group == "test_tiny.py::test_sum" and metric == "samples_per_second" and len(speeds) == 12
    assert all(math.isfinite(s) and s > 0 for s in speeds)
    (row,) = compare.compare(measured, measured).rows  # a file against itself: no change, whatever the machine's noise
    assert row.change == 1.0 and row.ci[0] < 1.0 < row.ci[1] and row.n == (12, 12)
    # ok on a quiet machine; on a loaded one the rounds' spread can leave it undecidable, never a regression
    assert row.verdict in ("ok", "undecidable") and (row.verdict == "ok") == (row.needed is None)
    code, out, _ = gate(capsys, out_json, out_json)
    assert code == 0 and f"| {row.verdict} |" in out.replace("**", "")


# ---------------------------------------------------------------- a real regression, end to end


def _train_matrix(path, config, split, settings):
    """Train 5 seeds of one config with run_one and write them as `regbench run` would."""
    from regbench.experiment import run_one
    from regbench.results import matrix_results
    from regbench.spec import RunSpec

    runs = [run_one(config, seed, split, settings) for seed in range(5)]
    spec = RunSpec(configs=(config,), datasets=(split.dataset,), seeds=5, settings=settings, n_train=100, n_test=300)
    write_json(path, matrix_results(runs, spec, [split], wall_seconds=0.0))
    return path


def test_dropout_left_on_at_evaluation_fails_and_a_rerun_passes(tmp_path, capsys, monkeypatch, one_thread):
    """Real training, 5 seeds x 5 epochs: the same code rerun passes; dropout that ignores eval() fails.

    Dropout p = 0.5 (the classic rate) left on at evaluation raises the test loss so much that the
    whole 99% interval of that change lies beyond the 0.02 minimum effect.
    """
    import torch.nn.functional as F

    from regbench import models
    from regbench.configs import Config
    from regbench.datasets import load_dataset
    from regbench.experiment import Settings

    split = load_dataset("digits", n_train=100, n_test=300)
    config = Config(
        name="dropout-0.5",
        description="dropout p=0.5",
        model=models.FullyConnectedDropout,
        model_args={"dropout_prob": 0.5},
    )
    settings = Settings(epochs=5, device="cpu")
    base = _train_matrix(tmp_path / "base.json", config, split, settings)
    rerun = _train_matrix(tmp_path / "rerun.json", config, split, settings)
    code, out, _ = gate(capsys, base, rerun)
    verdicts = rows(out)
    assert code == 0 and "regression" not in verdicts.values()
    assert {v for (_, metric), v in verdicts.items() if metric != "samples_per_second"} == {
        "ok"
    }  # CPU training repeats exactly

    def dropout_always(self, x):  # the bug: F.dropout(..., training=True) instead of self.training
        return F.dropout(models.FullyConnected.hidden(self, x), self.dropout.p, training=True)

    monkeypatch.setattr(models.FullyConnectedDropout, "hidden", dropout_always)
    broken = _train_matrix(tmp_path / "broken.json", config, split, settings)
    code, out, _ = gate(capsys, base, broken)
    assert code == 1, out
    assert rows(out)[("dropout-0.5", "test_loss")] == "regression"


def test_environment_mismatches_split_hardware_from_libraries():
    """A Python patch release computes alike; another torch build or core count does not."""
    base = {"python": "3.11.7", "torch": "2.14.1+cu130", "cpu_count": 2, "device_name": "x86_64"}
    assert compare.environment_mismatches(base, {**base, "python": "3.11.9"}) == ([], [], [])
    hardware, libraries, _ = compare.environment_mismatches(
        base, {**base, "python": "3.12.1", "torch": "2.14.1", "cpu_count": 16}
    )
    assert hardware == ["cpu_count: 2 -> 16"]
    assert libraries == ["torch: 2.14.1+cu130 -> 2.14.1", "python: 3.11.7 -> 3.12.1"]
    assert compare.environment_mismatches({}, {"cuda_device_name": "NVIDIA H100"}) == (
        ["cuda_device_name: unknown -> NVIDIA H100"],
        [],
        [],
    )


def test_another_thread_count_compares_results_but_not_timings(tmp_path, capsys):
    """Threads change speed, not accuracy: no refusal, a warning, and throughput left unjudged."""
    base = results_file(tmp_path / "base.json", 1)
    cand = results_file(tmp_path / "cand.json", 1, env={**ENV, "torch_threads": 1})
    code, out, _ = gate(capsys, base, cand)
    assert code == 0 and "warning: different thread count: torch_threads: 2 -> 1 (throughput not judged)" in out
    verdicts = rows(out)
    assert verdicts[("l1", "samples_per_second")] == "undecidable" and verdicts[("l1", "test_accuracy")] == "ok"


def _small_matrix(tmp_path, name, config):
    """5 seeds x 2 epochs on 20 + 20 images per class: enough to train, seconds to run."""
    from regbench.datasets import load_dataset
    from regbench.experiment import Settings

    return _train_matrix(
        tmp_path / f"{name}.json",
        config,
        load_dataset("digits", n_train=20, n_test=20),
        Settings(epochs=2, device="cpu"),
    )


def test_the_matrix_dropout_rate_left_on_at_evaluation_fails(tmp_path, capsys, monkeypatch, one_thread):
    """At the matrix's p = 0.2, dropout left on in eval moves accuracy by half a point, within seed
    noise; the eval_nondeterminism invariant each run records catches it exactly."""
    import torch.nn.functional as F

    from regbench import models
    from regbench.configs import CONFIGS

    base = _small_matrix(tmp_path, "base", CONFIGS["dropout"])
    code, out, _ = gate(capsys, base, _small_matrix(tmp_path, "rerun", CONFIGS["dropout"]))
    assert code == 0 and rows(out)[("dropout", "eval_nondeterminism")] == "ok"
    monkeypatch.setattr(
        models.FullyConnectedDropout,
        "hidden",
        lambda self, x: F.dropout(models.FullyConnected.hidden(self, x), self.dropout.p, training=True),
    )
    code, out, _ = gate(capsys, base, _small_matrix(tmp_path, "broken", CONFIGS["dropout"]))
    assert code == 1, out
    assert rows(out)[("dropout", "eval_nondeterminism")] == "regression"


def test_a_penalty_that_also_shrinks_biases_fails(tmp_path, capsys, monkeypatch, one_thread):
    """A Ridge penalty reaching biases changes no end metric measurably; the penalty_leak invariant fails it."""
    from regbench import losses
    from regbench.configs import CONFIGS

    base = _small_matrix(tmp_path, "base", CONFIGS["l2"])
    monkeypatch.setattr(
        losses, "penalized_parameters", lambda model: [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    )
    code, out, _ = gate(capsys, base, _small_matrix(tmp_path, "broken", CONFIGS["l2"]))
    assert code == 1, out
    assert rows(out)[("l2", "penalty_leak")] == "regression"
    assert rows(out)[("l2", "test_accuracy")] != "regression"  # why the invariant is needed


def test_the_false_failure_rate_is_simulated_from_a_baselines_own_spreads():
    """Fresh seed noise (drawn from the committed quick baseline's spreads, 2 seeds a side) rarely fails the gate; a
    loose alpha
    (0.5) fails it often, so the simulation can tell. Seeded: the same counts on every run."""
    from regbench.compare.simulate import false_failure_rate

    path = Path(__file__).resolve().parents[1] / "results" / "baseline-cpu-quick.json"
    strict = false_failure_rate(path, seeds=2, simulations=150)
    assert strict["rows_per_gate"] >= 40 and strict["interval"][1] < 0.05, strict
    loose = false_failure_rate(path, seeds=2, simulations=20, alpha=0.5)
    assert loose["rate"] > 0.5, loose


def _loaded_run(rng, *, seeds=2, configs=13, hit_rate=1 / 3, slowdown=0.5, scale=1.0, load=None):
    """One run's throughput under a neighbour busy a third of the time: each cell independently slowed 2x by a burst
    (or by ``load``).
    """
    values, seed_of = {}, {}
    for k in range(configs):
        for s in range(seeds):
            factor = load[(k, s)] if load is not None else (slowdown if rng.random() < hit_rate else 1.0)
            values.setdefault((f"config-{k}", "samples_per_second"), []).append(
                20000.0 * (1 + 0.1 * k) * scale * factor * math.exp(0.02 * rng.standard_normal())
            )
            seed_of.setdefault((f"config-{k}", "samples_per_second"), []).append(s)
    return compare.Measurements("run", "regbench results", ENV, SETTINGS, values, seeds=seed_of)


def test_throughput_is_judged_against_the_whole_run_s_timing_noise():
    """Load hits cells, not configs: with each config's seeds spread out, 2 seeds of one config say nothing of its
    spread.

    200 simulated A/A pairs of a 13-config run, 2 seeds, each cell slowed 2x a third of the time:
    judging each config by its own two seeds (Welch) fails a row in many gates;
    judging it against the run's pooled timing noise fails at most 1 in 100. A 3x slower step in
    every config still fails, per config and pooled.
    """
    rng = np.random.default_rng(0)
    rule = compare.RULES["samples_per_second"]
    own_seeds_fails = pooled_fails = 0
    for _ in range(200):
        base, cand = _loaded_run(rng), _loaded_run(rng)
        own_seeds_fails += any(
            compare.judge_speed(base.values[key], cand.values[key], rule, compare.ALPHA, compare.SPEED_TOLERANCE)[3]
            == "regression"
            for key in base.values
        )
        pooled_fails += bool(compare.compare(base, cand).regressions)
    assert pooled_fails <= 2 and own_seeds_fails >= 20, (pooled_fails, own_seeds_fails)
    slow = compare.compare(_loaded_run(rng), _loaded_run(rng, scale=1 / 3))
    assert any(r.pooled and r.verdict == "regression" for r in slow.rows)


def test_interleaved_runs_pair_each_seed_with_its_twin():
    """regbench continuous: a seed's baseline and candidate ran side by side under the same load, so a 1.5x slowdown
    shows through load
    that makes the unpaired comparison of the same numbers undecidable."""
    rng = np.random.default_rng(1)
    load = {
        (k, s): float(np.exp(rng.uniform(-1.0, 0.0))) for k in range(13) for s in range(2)
    }  # up to 2.7x slower, shared by the pair
    base, cand = _loaded_run(rng, load=load), _loaded_run(rng, load=load, scale=1 / 1.5)
    paired = compare.compare(base, cand, paired=True, speed_tolerance=0.1)
    unpaired = compare.compare(base, cand, speed_tolerance=0.1)
    verdicts = lambda report: {r.group: r.verdict for r in report.rows}  # noqa: E731
    assert all(v == "regression" for v in verdicts(paired).values())
    assert "regression" not in [v for g, v in verdicts(unpaired).items() if not g.startswith("pooled")]
    assert "paired differences pooled over 13 configs" in paired.rows[1].note
    aa = compare.compare(base, _loaded_run(rng, load=load), paired=True, speed_tolerance=0.1)
    assert not aa.regressions


def test_runs_trained_another_way_are_not_compared_as_like_for_like(tmp_path, capsys):
    """A config trained stacked in the baseline and one by one in the candidate: its throughput is reported, not
    judged, and the gate says why.
    """
    base = json.loads(matrix_file(tmp_path / "base.json", 1).read_text())
    for run in base["runs"]:
        if run["config"] == "config-0":
            run["execution"], run["members"] = "sweep", 2
    write_json(tmp_path / "sweep.json", base)
    code, out, _ = gate(
        capsys, tmp_path / "sweep.json", matrix_file(tmp_path / "cand.json", 2, speed_scale=0.5, only="config-0")
    )
    assert code == 0 and rows(out)[("config-0", "samples_per_second")] == "undecidable"
    assert (
        "config-0: trained sweep in the baseline, single in the candidate; its throughput is reported, not judged"
        in out
    )
    assert "pooled (8 configs)" in out  # left out of the pooled speed row too


def test_the_median_interval_is_the_sign_test_s_order_statistics():
    """13 strata at alpha 0.01: [2nd smallest, 2nd largest] (2 P(Bin(13, 1/2) <= 1) = 0.0034 <= 0.01 < 2 P(<= 2));
    under 8 strata, none.
    """
    from regbench.compare.stats import median_interval

    changes = [0.0, 0.01, -0.01, 0.02, -0.02, 0.03, -0.03, 0.04, -0.04, 0.05, -0.05, -3.0, 5.0]
    interval = median_interval(changes, 0.01)
    assert (interval.estimate, interval.low, interval.high) == (0.0, -0.05, 0.05)
    eight = median_interval(changes[:8], 0.01)
    assert median_interval(changes[:7], 0.01) is None and (eight.low, eight.high) == (
        -0.03,
        0.04,
    )  # n = 8: the extremes (2 / 256 <= 0.01)


def test_a_pooled_throughput_row_sees_through_a_burst_in_each_run():
    """Every config 1.5x slower, and one config in each run slowed 10x more by a burst: the median's row fails as it
    should,
    where the mean's t interval, dragged by the two bursts, cannot tell the slowdown from noise."""
    rng = np.random.default_rng(3)
    base = _loaded_run(rng, load={(k, s): 0.1 if k == 3 else 1.0 for k in range(13) for s in range(2)})
    cand = _loaded_run(rng, load={(k, s): 0.1 if k == 7 else 1.0 for k in range(13) for s in range(2)}, scale=1 / 1.5)
    pooled = next(r for r in compare.compare(base, cand).rows if r.pooled and r.metric == "samples_per_second")
    assert pooled.verdict == "regression" and "median of the configs' changes" in pooled.note
    from regbench.compare.stats import stratified

    changes = [float(np.mean(np.log(cand.values[k])) - np.mean(np.log(base.values[k]))) for k in base.values]
    assert stratified(changes, 0.01).high > math.log(0.8)  # the mean's interval reaches past the tolerance: no verdict
