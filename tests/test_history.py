"""regbench history: results filed once per commit, in commit order, and a page marking the steps the gate fails."""

import json
import multiprocessing
from pathlib import Path

import pytest

from regbench import history
from regbench.cli import main
from regbench.compare import load_measurements
from regbench.errors import UsageError
from tests.browser import needs_chromium, open_offline, screenshot

QUICK = (
    Path(__file__).resolve().parents[1] / "results" / "latest" / "generalization-quick-cpu.json"
)  # a real run, 5 seeds per config
KEPT = (
    "baseline",
    "l1",
    "l2",
    "dropout",
    "batchnorm",
)  # of its configs: enough for two rows of panels, and quick to draw


def commit_results(folder: Path, sha: str, day: int, *, drop: float = 0.0, device_name: str | None = None) -> Path:
    """The committed quick run as if commit ``sha`` made it on day ``day``; ``drop`` lowers l1's test accuracy in
    every seed.
    """
    doc = json.loads(QUICK.read_text())
    doc["runs"] = [run for run in doc["runs"] if run["config"] in KEPT]
    doc["configs"] = {name: c for name, c in doc["configs"].items() if name in KEPT}
    doc["environment"].update(git_commit=sha, created=f"2026-11-{day:02d}T12:00:00+00:00")
    if device_name:
        doc["environment"]["device_name"] = device_name
    for run in doc["runs"]:
        if run["config"] == "l1" and run["status"] == "ok":
            run["test_accuracy"] -= drop
    path = folder / f"{sha[:6]}.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def filed(tmp_path):
    """Four commits filed out of order: b drops l1 by 5 points, c repeats b, d ran on another machine."""
    files = {
        "d": commit_results(tmp_path, "d" * 40, 4, drop=0.05, device_name="another-cpu"),
        "b": commit_results(tmp_path, "b" * 40, 2, drop=0.05),
        "a": commit_results(tmp_path, "a" * 40, 1),
        "c": commit_results(tmp_path, "c" * 40, 3, drop=0.05),
    }
    for path in files.values():
        history.add(path, tmp_path / "history", cwd=tmp_path)
    return tmp_path / "history"


def test_commits_are_filed_in_commit_order_whatever_order_they_arrive(filed):
    """The index is the sequence every reader draws: by the commit's date, not by when it was added."""
    assert [e.commit[0] for e in history.load_index(filed)] == ["a", "b", "c", "d"]
    assert all((filed / e.file).exists() for e in history.load_index(filed))


def test_a_commit_is_filed_once(filed, tmp_path):
    """The same document again is a no-op; other results for a filed commit are refused, naming the file to delete."""
    entry, new = history.add(tmp_path / "aaaaaa.json", filed, cwd=tmp_path)
    assert not new and entry.commit == "a" * 40
    other = commit_results(tmp_path, "a" * 40, 1, drop=0.01)
    with pytest.raises(UsageError, match=r"already has other results.*delete that file"):
        history.add(other, filed, cwd=tmp_path)
    assert len(history.load_index(filed)) == 4


def test_the_commit_comes_from_the_results_or_from_the_user(tmp_path):
    """--commit names it when the results do not; a commit that is neither known to git nor a SHA is refused."""
    path = commit_results(tmp_path, "e" * 40, 5)
    doc = json.loads(path.read_text())
    doc["environment"]["git_commit"] = None
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="--commit SHA"):
        history.add(path, tmp_path / "h", cwd=tmp_path)
    with pytest.raises(UsageError, match="neither a commit"):
        history.add(path, tmp_path / "h", commit="not-a-sha", cwd=tmp_path)
    entry, _ = history.add(path, tmp_path / "h", commit="ABCDEF1", cwd=tmp_path)
    assert entry.commit == "abcdef1"


def _add(args):
    path, directory, cwd = args
    return history.add(path, directory, cwd=cwd)[0].commit


def test_parallel_jobs_appending_lose_no_entry(tmp_path):
    """CI jobs may file at the same moment: the lock keeps every entry."""
    paths = [commit_results(tmp_path, f"{k:x}" * 40, 1 + k) for k in range(1, 7)]
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(_add, [(p, tmp_path / "h", tmp_path) for p in paths])
    assert len(history.load_index(tmp_path / "h")) == 6


def test_the_gate_judges_each_step_between_consecutive_commits(filed):
    """The 5-point drop is a regression at a -> b only; b -> c (the same results) passes; c -> d is not judged, with
    the reason.
    """
    entries = history.load_index(filed)
    steps = history.steps([load_measurements(filed / e.file) for e in entries], entries)
    assert list(steps[0].regressions) == [("l1", "test_accuracy")]
    assert steps[0].regressions[("l1", "test_accuracy")].startswith("-0.0500 [")
    assert not steps[1].regressions and not steps[1].refused
    assert not steps[2].regressions and "another-cpu" in steps[2].refused


def test_the_figure_draws_every_config_with_its_interval_and_marks_the_regression(filed):
    """One panel per config, a CI band in each, the red mark in l1's panel at commit b and nowhere else, the legend
    off the panels.
    """
    entries = history.load_index(filed)
    measured = [load_measurements(filed / e.file) for e in entries]
    steps = history.steps(measured, entries)
    groups = sorted({g for g, m in measured[0].values if m == "test_accuracy"})
    fig = history.history_figure("test_accuracy", groups, measured, entries, steps)
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == groups
    for ax in panels:
        assert len(ax.collections) == 1  # the band
        marks = [line for line in ax.lines if line.get_marker() == "v"]
        if ax.get_title() == "l1":
            assert len(marks) == 1 and list(marks[0].get_xdata()) == [1]
        else:
            assert not marks
        assert list(ax.get_xticks()) == [0, 1, 2, 3]
    assert [t.get_text() for t in panels[-1].get_xticklabels()] == [
        e.short for e in entries
    ]  # named under the bottom panels
    legend = fig.legends[0]
    box = legend.get_window_extent()
    assert all(not box.overlaps(ax.get_window_extent()) for ax in panels)
    assert "regression from the commit before (gate)" in [t.get_text() for t in legend.get_texts()]


def test_the_cli_files_and_draws(filed, tmp_path, capsys):
    """`regbench history add` and `report` as CI calls them; a history that is not one is one line and exit 2."""
    assert main(["history", "add", str(tmp_path / "aaaaaa.json"), "--dir", str(filed)]) == 0
    assert "already filed" in capsys.readouterr().out
    assert main(["history", "report", "--dir", str(filed), "--out", str(tmp_path / "page")]) == 0
    assert (tmp_path / "page" / "history.html").exists()
    assert main(["history", "report", "--dir", str(tmp_path / "empty"), "--out", str(tmp_path / "page")]) == 2
    assert "holds no history" in capsys.readouterr().err


def test_the_page_states_each_commit_each_regression_and_each_metric(filed):
    """The commits table, the regression row with its change, the refused step's reason, a section and table per
    metric.
    """
    page = history.render_page(filed)
    assert page.count('<td class="text" data-value="' + "a" * 40) == 1
    assert '<td class="text">l1</td><td class="text">test accuracy</td><td>-0.0500 [' in page
    assert "another-cpu" in page and 'id="metric-test_accuracy"' in page and 'id="metric-samples_per_second"' in page
    assert page.count('class="regression"') == 1


@needs_chromium
def test_the_history_page_renders_offline_in_a_real_browser(filed, tmp_path):
    """Chromium opens history.html from disk with the network off: no console error; the commits, the regression, one
    figure per
    metric and a value table per metric are rendered; a screenshot is saved."""
    page = history.write_report(filed, tmp_path / "page")
    dom = open_offline(page)
    metrics = [s for s in dom.sections if s.startswith("metric-")]
    assert dom.sections[:2] == ["commits", "regressions"] and "metric-test_accuracy" in metrics
    assert len(dom.images) == len(metrics) and all(src.startswith("data:image/png;base64,") for src in dom.images)
    assert ["aaaaaaaa", "bbbbbbbb", "l1", "test accuracy"] == [
        c for c in next(r for r in dom.rows if "l1" in r and len(r) == 5)[:4]
    ]
    assert not dom.sources
    assert screenshot(page, tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
