"""The journal: finished cells survive an interruption, a rerun resumes without retraining them, and another run is
refused.
"""

import json

import pytest

import regbench
from regbench.journal import FILENAME, Journal, JournalError
from regbench import records
from regbench.records import RunRecord

TINY = dict(seeds=2, epochs=1, n_train=5, n_test=5, device="cpu", execution="single", workers=1, plots=False)
TIMING = set(records.TIMING)


def record(config: str, seed: int, status: str = "diverged", config_hash: str = "h") -> RunRecord:
    return RunRecord(
        config=config,
        config_hash=config_hash,
        seed=seed,
        engine="fast",
        execution="single",
        members=1,
        torch_threads=1,
        run_seconds=1.0,
        status=status,
        error="loss became nan",
    )


def test_records_are_on_disk_as_soon_as_they_are_appended(tmp_path):
    """One line per record, read back by a new Journal; a retried cell's later line wins."""
    journal = Journal.open(tmp_path, {"epochs": 1}, {})
    journal.append(record("l1", 0, "error"))
    journal.append(record("l1", 0))
    again = Journal.open(tmp_path, {"epochs": 1}, {"l1": "h"})
    assert again.done(None, "l1", 0) == record("l1", 0) and again.done(None, "l1", 1) is None
    assert len((tmp_path / FILENAME).read_text().splitlines()) == 3


def test_an_error_crash_or_timeout_is_trained_again(tmp_path):
    """Only ok and diverged are final: an error may be fixed, a crash or timeout may not recur."""
    journal = Journal.open(tmp_path, {}, {})
    for seed, status in enumerate(("error", "crashed", "timeout", "diverged")):
        journal.append(record("c", seed, status))
    assert [journal.done(None, "c", seed) is not None for seed in range(4)] == [False, False, False, True]


def test_a_line_cut_short_by_a_crash_is_cut_off_and_the_rest_kept(tmp_path):
    """A crash mid-append leaves a fragment without its newline: it is dropped (that cell trains again), nothing else
    is lost.
    """
    journal = Journal.open(tmp_path, {}, {})
    journal.append(record("c", 0))
    path = tmp_path / FILENAME
    path.write_text(path.read_text() + '{"config": "c", "seed": 1, "sta')
    again = Journal.open(tmp_path, {}, {})
    assert again.done(None, "c", 0) is not None and again.done(None, "c", 1) is None
    again.append(record("c", 1))
    assert [json.loads(line)["seed"] for line in path.read_text().splitlines()[1:]] == [0, 1]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"fingerprint": {"epochs": 2}}, "other settings or code (epochs: 1 -> 2)"),
        ({"definitions": {"c": "other"}}, "config 'c' was trained there as definition h, this run defines it as other"),
    ],
)
def test_a_journal_of_another_run_is_refused(tmp_path, change, message):
    """Other settings, or a config of the same name defined otherwise: refused with the reason, never mixed in."""
    Journal.open(tmp_path, {"epochs": 1}, {}).append(record("c", 0))
    with pytest.raises(JournalError, match="use another --out") as error:
        Journal.open(tmp_path, change.get("fingerprint", {"epochs": 1}), change.get("definitions", {}))
    assert message in str(error.value)


def test_a_damaged_line_inside_the_journal_is_refused(tmp_path):
    journal = Journal.open(tmp_path, {}, {})
    journal.append(record("c", 0))
    journal.append(record("c", 1))
    path = tmp_path / FILENAME
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{oops", lines[2]]) + "\n")
    with pytest.raises(JournalError, match="line 2: not JSON"):
        Journal.open(tmp_path, {}, {})


def test_an_interrupted_matrix_resumes_to_the_results_of_an_uninterrupted_one(tmp_path, monkeypatch, one_thread):
    """Ctrl-C after some cells; the same call again trains only the rest, and the results equal a run never
    interrupted.
    """
    whole = regbench.run(["baseline", "l1"], out=tmp_path / "whole", **TINY)
    from regbench import executors

    trained, real = [], executors.run_cell

    def interrupted(cell, *args, **kwargs):
        if len(trained) == 3:
            raise KeyboardInterrupt
        trained.append((cell.config.name, cell.seed))
        return real(cell, *args, **kwargs)

    monkeypatch.setattr(executors, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        regbench.run(["baseline", "l1"], out=tmp_path / "cut", **TINY)
    assert (
        len((tmp_path / "cut" / FILENAME).read_text().splitlines()) == 1 + 3
    )  # the header and the cells that finished
    trained.clear()
    monkeypatch.setattr(
        executors,
        "run_cell",
        lambda cell, *a, **k: trained.append((cell.config.name, cell.seed)) or real(cell, *a, **k),
    )
    lines = []
    resumed = regbench.run(["baseline", "l1"], out=tmp_path / "cut", echo=lines.append, **TINY)
    assert trained == [("l1", 1)] and "3 finished cells are there" in lines[0]
    strip = lambda doc: [{k: v for k, v in r.items() if k not in TIMING} for r in doc["runs"]]  # noqa: E731
    assert strip(resumed) == strip(whole)
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["runs"] == json.loads(
        json.dumps(resumed["runs"])
    )


def test_resuming_with_another_setting_is_refused(tmp_path):
    """Another number of epochs on the same folder: one clear error, nothing trained, nothing mixed."""
    regbench.run(["baseline"], out=tmp_path, **{**TINY, "seeds": 1})
    with pytest.raises(JournalError, match="epochs: 1 -> 2"):
        regbench.run(["baseline"], out=tmp_path, **{**TINY, "seeds": 1, "epochs": 2})
