"""Benchmark assertions on real (tiny) training: verdicts, the failure table, bad arguments, and cells trained once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import regbench
from regbench import cache as cells_cache
from regbench.assertions import BenchmarkAssertionError
from regbench.cache import FILENAME as JOURNAL
from regbench.errors import UsageError

TINY = dict(dataset="digits", n_train=10, n_test=10, epochs=1, seeds=(3, 4))


def journal_cells(root: Path) -> list[tuple[str, int]]:
    """(config hash, seed) of every record in every journal under the cache root."""
    cells = []
    for path in root.rglob(JOURNAL):
        for line in path.read_text().splitlines()[1:]:
            record = json.loads(line)
            cells.append((record["config_hash"], record["seed"]))
    return cells


def test_a_config_against_itself(tmp_path):
    """Bit-identical pairs: assert_better fails saying so (no division by zero); no_worse and equivalent pass at the
    first look.
    """
    with pytest.raises(BenchmarkAssertionError, match="identical training") as failed:
        regbench.assert_better("baseline", "baseline", cache=tmp_path, **TINY)
    assert failed.value.decision.verdict == "fail" and failed.value.decision.pairs == 3
    assert regbench.assert_no_worse("baseline", "baseline", margin=0.0, cache=tmp_path, **TINY).pairs == 3
    assert regbench.assert_equivalent("baseline", "baseline", margin=0.01, cache=tmp_path, **TINY).passed


def test_the_failure_message_is_the_decisions_table(tmp_path):
    """An undecided comparison fails with a table: both means with intervals, the paired difference, seeds, the rule
    and why.
    """
    with pytest.raises(BenchmarkAssertionError) as failed:
        regbench.assert_better("l2", "baseline", min_effect=0.5, cache=tmp_path, **TINY)
    message = str(failed.value)
    assert message.startswith(
        "regbench: FAIL: l2 better than baseline by more than 0.5 (test_accuracy, higher is better)"
    ) or message.startswith("regbench: UNDECIDED: l2 better than baseline by more than 0.5")
    for part in (
        "| l2 |",
        "| baseline |",
        "| difference (paired by seed) |",
        "rule: a paired one-sided t-test after each pair",
        "why: ",
    ):
        assert part in message


def test_cells_are_trained_once_and_a_changed_config_trains_only_its_own(tmp_path):
    """A second identical assertion trains nothing; another l2 lambda trains only its cells (the baseline's are
    reused).
    """
    regbench.assert_no_worse("l2", "baseline", margin=0.5, cache=tmp_path, **TINY)
    first = journal_cells(tmp_path)
    regbench.assert_no_worse("l2", "baseline", margin=0.5, cache=tmp_path, **TINY)
    assert journal_cells(tmp_path) == first
    changed = regbench.Config(
        name="l2", model=regbench.FullyConnected, loss=regbench.RidgeLoss, loss_args={"l2_lambda": 0.01}
    )
    regbench.assert_no_worse(changed, "baseline", margin=0.5, cache=tmp_path, **TINY)
    added = journal_cells(tmp_path)[len(first) :]
    assert {h for h, _ in added} == {changed.hash} and len(added) == len(set(added)) == 3


@pytest.mark.parametrize(
    "call, argument",
    [
        (
            lambda c: regbench.assert_better("l2", "baseline", metric="f1", cache=c, **TINY),
            "metric 'f1' is not one a benchmark assertion can judge; choose one of test_accuracy, gap_accuracy",
        ),
        (
            lambda c: regbench.assert_better("l2", "baseline", min_effect=-0.1, cache=c, **TINY),
            "min_effect must be a number >= 0",
        ),
        (
            lambda c: regbench.assert_no_worse("l2", "baseline", margin=float("nan"), cache=c, **TINY),
            "margin must be a number >= 0",
        ),
        (
            lambda c: regbench.assert_equivalent("l2", "baseline", margin=0.01, cache=c, **{**TINY, "seeds": (1, 5)}),
            "seeds must be (minimum, maximum)",
        ),
        (
            lambda c: regbench.assert_equivalent("l2", "baseline", margin=0.01, cache=c, **{**TINY, "seeds": (6, 5)}),
            "seeds must be (minimum, maximum)",
        ),
        (lambda c: regbench.assert_better("augment", "baseline", cache=c, **{**TINY, "dataset": "iris"}), "augment"),
        (lambda c: regbench.assert_better("nope", "baseline", cache=c, **TINY), "nope"),
    ],
)
def test_bad_arguments_are_named_not_a_deep_traceback(tmp_path, call, argument):
    """Each bad argument: a UsageError whose one-line message names it, before anything trains."""
    with pytest.raises(UsageError, match=None) as refused:
        call(tmp_path)
    assert argument in str(refused.value) and "\n" not in str(refused.value)
    assert not journal_cells(tmp_path)


def test_the_default_cache_is_regbench_cache_or_the_users_cache_folder(monkeypatch, tmp_path):
    """$REGBENCH_CACHE wins; else $XDG_CACHE_HOME/regbench; else ~/.cache/regbench."""
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "mine"))
    assert cells_cache.default_root() == tmp_path / "mine"
    monkeypatch.delenv("REGBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cells_cache.default_root() == tmp_path / "regbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cells_cache.default_root() == Path.home() / ".cache" / "regbench"


def test_plain_calls_leave_their_decisions_for_the_report(tmp_path):
    """Every decision, pass or not, is kept until taken: the plugin puts them in the test's report (pytest -v prints
    the passes).
    """
    from regbench.assertions import take_decisions

    take_decisions()
    regbench.assert_equivalent("baseline", "baseline", margin=0.01, cache=tmp_path, **TINY)
    with pytest.raises(BenchmarkAssertionError):
        regbench.assert_better("baseline", "baseline", cache=tmp_path, **TINY)
    assert [d.verdict for d in take_decisions()] == ["pass", "fail"] and take_decisions() == []
