"""Results files: atomic writes, validation with clear errors, summaries with t intervals; and report.md rendered
from them.
"""

import json
import os
import stat
import math

import pytest
from scipy import stats

from regbench.results import (
    SCHEMA_VERSION,
    ResultsError,
    atomic_path,
    build_results,
    environment,
    load_results,
    mean_ci,
    path_scale,
    regularization_paths,
    summarize,
    write_json,
)
from regbench.report import render_against_reference, render_paths, render_report, render_table

CONFIGS = {
    name: {
        "name": name,
        "description": f"config {name}",
        "hash": f"hash-{name}",
        "model": {"factory": "m:Net", "args": {"width": 3}},
    }
    for name in ("a", "b", "c")
}


def doc(runs):
    return build_results(runs, settings={"epochs": 1}, env=environment("cpu"), configs=CONFIGS)


def identity(config, seed):
    return {"config": config, "config_hash": f"hash-{config}", "seed": seed, "engine": "fast", "execution": "single"}


RUNS = [
    {**identity("a", s), "status": "ok", "test_accuracy": v, "mean_abs_weight": {"all": 0.1}}
    for s, v in enumerate([0.8, 0.82, 0.81])
] + [{**identity("b", 0), "status": "diverged", "error": "boom"}]


def test_round_trip_with_schema_first_and_nan_as_null(tmp_path):
    """schema_version is the first key; NaN becomes null so any JSON reader loads it."""
    path = tmp_path / "r.json"
    write_json(path, doc(RUNS + [{**identity("c", 0), "status": "ok", "test_accuracy": float("nan")}]))
    text = path.read_text()
    assert text.lstrip("{\n ").startswith(f'"schema_version": {SCHEMA_VERSION}')
    loaded = load_results(path)
    assert loaded["runs"][-1]["test_accuracy"] is None
    assert loaded["environment"]["torch"] and loaded["schema_version"] == SCHEMA_VERSION


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    """An error mid-write keeps the previous file whole and leaves no temporary behind."""
    path = tmp_path / "r.json"
    write_json(path, {"schema_version": SCHEMA_VERSION, "runs": []})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("{ half")
            raise RuntimeError("crash")
    assert json.loads(path.read_text()) == {"schema_version": SCHEMA_VERSION, "runs": []}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_written_file_gets_the_mode_a_new_file_would(tmp_path):
    """The temporary file is private while written; the finished one is readable as any file the user makes (umask
    022: 0644).
    """
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"runs": []})
        (tmp_path / "plain").write_text("")
    finally:
        os.umask(old)
    assert (
        stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o644
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": 2, "runs": [', "not valid JSON .* truncated"),
        ("[1, 2]", "no schema_version"),
        ('{"schema_version": 99, "runs": []}', "schema_version 99"),
        (
            '{"schema_version": 1, "runs": []}',
            "schema_version 1 was written by an older regbench .*configs described as strings.* Regenerate it",
        ),
        ('{"schema_version": 2, "configs": {}, "runs": {}}', "'runs' must be a list"),
        (
            '{"schema_version": 2, "configs": {}, "runs": [{"config": "a"}]}',
            "run 0 lacks config_hash, seed, status, engine, execution",
        ),
        (
            (
                '{"schema_version": 2, "configs": {}, "runs": [{"config": "a", "config_hash": "h", "seed": 0, "status":'
                ' "ok", "engine": "fast", "execution": "single"}]}'
            ),
            "run 0 .a seed 0. was trained by config hash h, but 'configs' describes 'a' as nothing",
        ),
    ],
)
def test_bad_files_get_one_clear_error(tmp_path, content, message):
    """Truncated, foreign, newer-schema or incomplete files are refused with the reason."""
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ResultsError, match=message):
        load_results(path)


def test_missing_and_binary_files(tmp_path):
    """A missing file and a binary file are named."""
    with pytest.raises(ResultsError, match="cannot read"):
        load_results(tmp_path / "none.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ResultsError, match="not a text file"):
        load_results(tmp_path / "bin.json")


def test_mean_ci_is_the_student_t_interval():
    """Matches scipy's t interval; degenerate cases give NaN bounds or a point."""
    values = [0.8, 0.82, 0.81, 0.79]
    mean, low, high = mean_ci(values)
    expected = stats.t.interval(0.95, 3, loc=sum(values) / 4, scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected) and mean == pytest.approx(0.805)
    assert mean_ci([0.5])[0] == 0.5 and mean_ci([0.5])[1] != mean_ci([0.5])[1]
    assert mean_ci([0.5, 0.5]) == (0.5, 0.5, 0.5)


def test_summary_and_table_count_failures():
    """Diverged runs are counted apart and excluded from the statistics."""
    summary = summarize(RUNS)
    assert [r["config"] for r in summary] == ["a", "b"]
    assert summary[0]["runs"] == 3 and summary[0]["test_accuracy"][0] == pytest.approx(0.81)
    assert summary[0]["mean_abs_weight"][0] == pytest.approx(0.1)
    table = render_table(summary)
    assert "| a | 3 | 0.810 [" in table and "| b | 0 (1 diverged) | n/a" in table


def test_report_names_environment_failures_and_plots():
    """report.md carries the device, the table, failed runs and plot links."""
    report = render_report(doc(RUNS), ["out/gap.png"])
    assert "Device: cpu" in report and "- b seed 0: diverged: boom" in report and "![gap](gap.png)" in report
    assert "- **a** (`hash-a`): config a; model `Net(width=3)`" in report  # what each config built, by its description


def _grid_doc():
    """Two cells of an l1 grid, three seeds each, and the baseline."""
    configs = {"baseline": {"hash": "hb"}}
    runs = [
        {**identity("baseline", s), "config_hash": "hb", "status": "ok", "test_accuracy": 0.9, "sparsity": 0.02}
        for s in range(3)
    ]
    for lam, sparsity in ((1e-3, 0.8), (1e-5, 0.3)):
        name = f"l1[l1_lambda={lam:g}]"
        configs[name] = {"hash": name, "grid": {"of": "l1", "values": {"loss.l1_lambda": lam}}}
        runs += [
            {
                **identity(name, s),
                "config_hash": name,
                "status": "ok",
                "test_accuracy": 0.85 + s * 0.01,
                "sparsity": sparsity,
            }
            for s in range(3)
        ]
    return build_results(runs, settings={"epochs": 1}, env=environment("cpu"), configs=configs)


def test_regularization_paths_come_from_the_grid_descriptions():
    """One path per swept argument, its points in value order with their summaries, the baseline as reference."""
    (path,) = regularization_paths(_grid_doc())
    assert (path["of"], path["argument"], path["reference"]["config"]) == ("l1", "loss.l1_lambda", "baseline")
    (series,) = path["series"]
    assert [value for value, _ in series["points"]] == [1e-5, 1e-3] and series["fixed"] == {}
    assert series["points"][1][1]["sparsity"][0] == pytest.approx(0.8)
    table = render_paths(_grid_doc())
    assert "### l1: loss.l1_lambda" in table and "| baseline (reference) | 3 | 0.900" in table
    assert "## Regularization paths" in render_report(_grid_doc(), [])


@pytest.mark.parametrize(
    "values, scale",
    [
        ([1e-5, 1e-4, 1e-2], ("log", 0.0)),
        ([0, 1e-4, 1e-2], ("symlog", 1e-4)),
        ([0, 0.2, 0.5], ("linear", 0.0)),
        (["relu", "gelu"], ("linear", 0.0)),
    ],
)
def test_lambdas_spanning_decades_get_a_log_axis(values, scale):
    """Log where positive values span two decades or more, symlog when 0 is among them, linear otherwise."""
    assert path_scale(values) == scale


def test_differences_from_the_baseline_are_paired_by_seed():
    """Per (dataset, config), the mean of seed-paired differences with its t interval; a config without its
    baseline's seed is skipped.
    """
    from regbench.results import against_reference

    def run(dataset, config, seed, accuracy, status="ok"):
        return {"dataset": dataset, "config": config, "seed": seed, "status": status, "test_accuracy": accuracy}

    runs = [run("a", "baseline", s, 0.5 + 0.1 * s) for s in range(3)] + [
        run("a", "l2", s, 0.52 + 0.1 * s + 0.001 * s) for s in range(3)
    ]
    runs += [run("b", "baseline", 0, 0.9), run("b", "l2", 0, 0.8), run("b", "l2", 1, 0.7)]
    found = against_reference(runs)
    mean, low, high = found[("a", "l2")]
    assert abs(mean - 0.021) < 1e-12 and 0 < low < mean < high  # seed-to-seed spread of 0.1 cancels in the pairs
    assert found[("b", "l2")][0] == pytest.approx(-0.1) and math.isnan(found[("b", "l2")][1])  # one pair: no interval
    table = render_against_reference({"runs": runs, "datasets": {"a": {}, "b": {}}})
    assert table.splitlines()[0] == "| config | a | b |" and "+0.021 [" in table and table.count(" *") == 1


def test_throughput_is_summarized_as_the_gate_judges_it():
    """A geometric mean with its interval on the log scale: two seeds far apart never give an interval below 0."""
    from regbench.results import geometric_ci, mean_ci

    centre, low, high = geometric_ci([1000.0, 6000.0])
    assert centre == pytest.approx(math.sqrt(1000.0 * 6000.0)) and 0 < low < 1000.0 and high > 6000.0
    assert mean_ci([1000.0, 6000.0])[1] < 0  # what the arithmetic interval said
    runs = [{"config": "a", "status": "ok", "samples_per_second": v, "test_accuracy": 0.9} for v in (1000.0, 6000.0)]
    assert summarize(runs)[0]["samples_per_second"] == pytest.approx((centre, low, high))
