"""Reading what a ranking ranks: results files pooled (or refused), CSV tables, and every bad input named in one
line.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from regbench.ranking.table import RankError, direction, read_sources

SUITE = Path(__file__).parents[1] / "results" / "suite-small" / "results.json"


@pytest.fixture(scope="module")
def suite() -> dict:
    """The committed small suite: 13 configs x 5 seeds on 6 datasets, augment and augment-flip not applicable on the
    tables.
    """
    return json.loads(SUITE.read_text())


def part(doc: dict, dataset: str) -> dict:
    """The single-dataset results file a run with --dataset DATASET would have written."""
    out = copy.deepcopy(doc)
    out["runs"] = [r for r in doc["runs"] if r["dataset"] == dataset]
    out["datasets"] = {dataset: doc["datasets"][dataset]}
    out["settings"]["dataset"] = dataset
    out["not_applicable"] = {k: v for k, v in doc.get("not_applicable", {}).items() if k.startswith(f"{dataset}/")}
    return out


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_a_suite_reads_every_finished_score(suite):
    """Every ok run's test accuracy lands in its (dataset, config, seed) cell; not-applicable pairs are noted, not
    scored.
    """
    table = read_sources([SUITE])
    assert table.datasets == list(suite["datasets"]) and table.better == +1 and table.sources == [str(SUITE)]
    run = next(r for r in suite["runs"] if r["dataset"] == "wine" and r["config"] == "l2" and r["seed"] == 3)
    assert table.scores["wine"]["l2"][3] == run["test_accuracy"]
    assert "augment" not in table.scores["iris"] and any(
        n.startswith("iris/augment: not applicable") for n in table.notes
    )


def test_single_dataset_files_pool_into_the_suite_table(suite, tmp_path):
    """One file per dataset, pooled, gives the very scores the suite file gives."""
    files = [write(tmp_path / f"{d}.json", part(suite, d)) for d in suite["datasets"]]
    assert read_sources(files).scores == read_sources([SUITE]).scores


def test_pooled_files_trained_differently_are_refused_unless_allowed(suite, tmp_path):
    """Different epochs (or a same-named config defined differently) refuse with the difference named; the flag pools
    and notes it.
    """
    other = part(suite, "wine")
    other["settings"]["epochs"] = 3
    changed = part(suite, "iris")
    changed["configs"]["l2"]["hash"] = "0" * 12
    for r in changed["runs"]:
        if r["config"] == "l2":
            r["config_hash"] = "0" * 12
    files = [
        write(tmp_path / "digits.json", part(suite, "digits")),
        write(tmp_path / "wine.json", other),
        write(tmp_path / "iris.json", changed),
    ]
    with pytest.raises(
        RankError, match=r"wine.json was not trained like .*digits.json: epochs: 20 vs 3.*--allow-settings-mismatch"
    ):
        read_sources(files)
    with pytest.raises(RankError, match=r"config l2"):
        read_sources([files[0], files[2]])
    table = read_sources(files, allow_settings_mismatch=True)
    assert any("epochs: 20 vs 3" in n for n in table.notes) and any("config l2" in n for n in table.notes)


def test_a_run_given_twice_is_refused(suite, tmp_path):
    """The same dataset, config and seed in two files would count twice: refused, naming both files."""
    a = write(tmp_path / "a.json", part(suite, "wine"))
    b = write(tmp_path / "b.json", part(suite, "wine"))
    with pytest.raises(RankError, match=r"wine/baseline seed 0 is in both .*a.json and .*b.json"):
        read_sources([a, b])


def test_a_file_without_the_metric_is_refused_with_the_metrics_it_has(suite, tmp_path):
    """--metric f1 on a results file: one line naming the metrics there."""
    with pytest.raises(RankError, match=r"no 'f1' in any finished run; metrics there: .*test_accuracy"):
        read_sources([SUITE], "f1", "higher")


def test_failed_runs_are_noted_and_a_cell_without_any_goes_missing(suite):
    """A failed seed leaves the cell's mean over the rest; a cell whose every seed failed is missing, and both are
    said.
    """
    doc = part(suite, "wine")
    for r in doc["runs"]:
        if r["config"] == "l1" or (r["config"] == "l2" and r["seed"] == 0):
            r["status"] = "failed"
    table = read_sources([doc])
    assert "l1" not in table.scores["wine"] and len(table.scores["wine"]["l2"]) == 4
    assert "wine/l1: 5 run(s) did not finish; no run finished, so the cell is missing" in table.notes
    assert "wine/l2: 1 run(s) did not finish; its mean is over the 4 that did" in table.notes


def test_metric_direction_is_known_or_asked_for():
    """Accuracy: higher is better; gap and loss: lower; an unknown metric needs --better."""
    assert direction("test_accuracy") == 1 and direction("gap_accuracy") == -1 and direction("test_loss") == -1
    assert direction("f1", "higher") == 1 and direction("error", "lower") == -1
    with pytest.raises(RankError, match="--better higher or --better lower"):
        direction("f1")


def test_a_csv_table_reads_with_or_without_seeds(tmp_path):
    """Columns dataset, config, score (seed optional, extra columns ignored); an empty score is a missing cell,
    noted.
    """
    path = tmp_path / "t.csv"
    path.write_text(
        "dataset,config,score,source\nd1,a,0.9,paper\nd1,a,0.8,paper\nd1,b,,paper\nd2,a,0.7,paper\nd2,b,0.75,paper\n"
    )
    table = read_sources([path], "auc", "higher")
    assert table.scores == {"d1": {"a": {0: 0.9, 1: 0.8}}, "d2": {"a": {0: 0.7}, "b": {0: 0.75}}}
    assert any("d1/b: line 4 has no score" in n for n in table.notes)
    seeded = tmp_path / "s.csv"
    seeded.write_text("seed,dataset,config,score\n7,d1,a,1\n9,d1,a,2\n")
    assert read_sources([seeded], "auc", "higher").scores == {"d1": {"a": {"7": 1.0, "9": 2.0}}}


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "dataset,config,value\nd,a,1\n",
            r"no column score; a table needs columns dataset, config, score .*it has dataset, config, value",
        ),
        ("dataset,config,score\nd,a,high\n", r"line 2: score 'high' is not a number"),
        ("dataset,config,score\nd,a,nan\n", r"line 2: score 'nan' is not finite"),
        ("dataset,config,score,seed\nd,a,1,0\nd,a,2,0\n", r"line 3: d/a seed 0 appears twice"),
        ("dataset,config,score\n,a,1\n", r"line 2: dataset and config must not be empty"),
    ],
)
def test_a_bad_csv_is_named_by_line(tmp_path, text, message):
    """Each way a table can be wrong: one message with the line and the fix."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RankError, match=message):
        read_sources([path], "auc", "higher")


def test_a_csv_does_not_pool_with_results(tmp_path):
    """A CSV beside results files (or a second CSV) is refused: merge the tables first."""
    path = tmp_path / "t.csv"
    path.write_text("dataset,config,score\nd,a,1\n")
    with pytest.raises(RankError, match="merge the tables first"):
        read_sources([path, SUITE])
    with pytest.raises(RankError, match="nothing to rank"):
        read_sources([])
