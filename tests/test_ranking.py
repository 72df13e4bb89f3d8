"""regbench rank end to end: the document, its files, the command line's exits, and missing cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import regbench
from regbench.cli import main
from regbench.ranking import rank, render, verdict_lines
from tests.test_ranking_significance import DEMSAR_RANKED
from tests.test_ranking_table import SUITE, part, write

C45 = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]


def table_csv(path: Path, scores: np.ndarray, configs: list[str], seeds: int = 1) -> Path:
    """A CSV with one row per (dataset, config, seed); ``scores`` is (datasets, configs) or (datasets, configs,
    seeds).
    """
    scores = scores.reshape(scores.shape[0], scores.shape[1], seeds)
    rows = [
        f"d{i},{c},{float(scores[i, j, s])!r},{s}"
        for i in range(scores.shape[0])
        for j, c in enumerate(configs)
        for s in range(seeds)
    ]
    path.write_text("dataset,config,score,seed\n" + "\n".join(rows) + "\n")
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["rank", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_demsars_table_through_the_command_line(tmp_path, capsys):
    """His 14 x 4 table as a CSV: rank.json holds his ranks, chi-square, F and CD; rank.md, the CD diagram and
    profile are written.
    """
    path = table_csv(tmp_path / "demsar.csv", DEMSAR_RANKED, C45)
    out = tmp_path / "rank"
    code, printed, _ = run_cli(
        capsys, str(path), "--metric", "auc", "--better", "higher", "--control", "C4.5", "--out", str(out)
    )
    assert code == 0
    doc = json.loads((out / "rank.json").read_text())
    assert [round(doc["average_ranks"][c], 3) for c in C45] == [3.143, 2.0, 2.893, 1.964]
    assert doc["configs"] == ["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]
    assert round(doc["friedman"]["chi2"], 2) == 9.28 and round(doc["friedman"]["f"], 2) == 3.69
    assert round(doc["nemenyi"]["critical_difference"], 2) == 1.25
    assert (out / "rank.md").read_text() == printed
    assert "Friedman: the 4 configs' ranks differ across the 14 datasets" in printed
    for name in ("critical_difference.png", "performance_profile.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    versus = {r["config"]: r for r in doc["versus_control"]}
    assert set(versus) == {"C4.5+m", "C4.5+cf", "C4.5+m+cf"}
    np.testing.assert_allclose(
        sorted(r["p_holm"] for r in versus.values()),
        sorted(regbench.ranking.significance.holm([r["p"] for r in versus.values()])),
    )
    assert all(
        r["probability_of_improvement"]["low"] == r["probability_of_improvement"]["high"] for r in versus.values()
    )  # one score a cell


def _planted(tmp_path: Path) -> Path:
    """12 datasets x 5 seeds: 'good' is the baseline plus 0.05, 'bad' minus 0.05, 'same' the baseline's level with
    its own noise.
    """
    rng = np.random.default_rng(0)
    level = rng.uniform(0.6, 0.9, size=(12, 1, 1))
    noise = rng.normal(0, 0.01, size=(12, 4, 5))
    scores = level + np.array([0.0, 0.05, 0.0, -0.05])[None, :, None] + noise
    return table_csv(tmp_path / "planted.csv", scores, ["baseline", "good", "same", "bad"], seeds=5)


def test_planted_effects_get_their_verdicts_and_the_direction_flips_them(tmp_path):
    """Higher is better: good is better, bad worse, same indistinguishable; read as lower-is-better the first two
    swap.
    """
    path = _planted(tmp_path)
    doc = rank([path], metric="score", better="higher", resamples=500)
    verdicts = {r["config"]: r["verdict"] for r in doc["versus_control"]}
    assert verdicts == {"good": "better", "same": "indistinguishable", "bad": "worse"}
    pi = {r["config"]: r["probability_of_improvement"] for r in doc["versus_control"]}
    assert pi["good"]["low"] > 0.9 and pi["bad"]["high"] < 0.1 and pi["same"]["low"] < 0.5 < pi["same"]["high"]
    iqm = {r["config"]: r["iqm_normalized"] for r in doc["versus_control"]}
    assert iqm["good"]["low"] > 1 > iqm["bad"]["high"]
    assert doc["configs"][0] == "good" and doc["configs"][-1] == "bad"
    flipped = rank([path], metric="score", better="lower", resamples=500)
    assert {r["config"]: r["verdict"] for r in flipped["versus_control"]} == {
        "good": "worse",
        "same": "indistinguishable",
        "bad": "better",
    }
    lines = verdict_lines(doc)
    assert "better than baseline: good; worse: bad; indistinguishable from it: same" in lines[1]
    nemenyi = next(line for line in lines if line.startswith("Nemenyi"))
    assert (
        "good over bad" in nemenyi
        and "baseline over same" not in nemenyi
        and nemenyi.endswith("cannot tell apart: [baseline, same].")
    )


def test_a_suite_leaves_out_configs_missing_somewhere_and_says_so():
    """augment and augment-flip (not applicable on the 4 tables) are left out of ranks and Friedman, named, and still
    compared on 2 datasets.
    """
    doc = rank([SUITE], resamples=200)
    assert doc["left_out"] == {c: ["breast-cancer", "wine", "iris", "digits-8x8"] for c in ("augment", "augment-flip")}
    assert "augment" not in doc["configs"] and "augment" not in doc["average_ranks"] and len(doc["configs"]) == 11
    assert (
        "augment: no score on breast-cancer, wine, iris, digits-8x8; left out of the ranks, Friedman and Nemenyi"
        in doc["notes"]
    )
    augment = next(r for r in doc["versus_control"] if r["config"] == "augment")
    assert augment["datasets"] == ["digits", "fashion-mnist"] and len(doc["versus_control"]) == 12
    text = render(doc)
    assert "- augment: no score on breast-cancer" in text and "the smallest p Wilcoxon can reach is 0.031" in text


def test_pooled_single_dataset_runs_rank_like_the_suite(tmp_path):
    """The per-dataset files of the suite, pooled, give the suite's document (but for where it was read from)."""
    suite = json.loads(SUITE.read_text())
    files = [write(tmp_path / f"{d}.json", part(suite, d)) for d in suite["datasets"]]
    pooled, whole = rank(files, resamples=200), rank([SUITE], resamples=200)
    assert pooled.pop("sources") != whole.pop("sources")
    assert pooled == whole


def test_the_python_api_returns_the_document_and_writes_its_files(tmp_path):
    """regbench.rank(...) -> a dict (JSON-ready); with out, rank.md, rank.json and the figures; datasets and configs
    select.
    """
    doc = regbench.rank(
        [SUITE],
        configs=["l2", "dropout"],
        datasets=["digits", "wine", "iris"],
        out=tmp_path,
        plots=False,
        resamples=200,
    )
    assert (
        doc["configs"]
        and set(doc["configs"]) == {"baseline", "l2", "dropout"}
        and doc["datasets"] == ["digits", "wine", "iris"]
    )
    assert json.loads((tmp_path / "rank.json").read_text())["average_ranks"] == pytest.approx(doc["average_ranks"])
    assert (tmp_path / "rank.md").exists() and not (tmp_path / "critical_difference.png").exists()


def test_gap_ranks_lower_is_better():
    """--metric gap_accuracy needs no --better: the smaller gap ranks first."""
    doc = rank([SUITE], metric="gap_accuracy", resamples=200)
    assert doc["better"] == "lower"
    digits = doc["means"]["digits"]
    best = min(doc["configs"], key=lambda c: digits[c])
    assert doc["ranks"]["digits"][best] == min(doc["ranks"]["digits"].values())


@pytest.mark.parametrize(
    "make, argv, message",
    [
        (lambda p: SUITE, ["--metric", "f1", "--better", "higher"], "no 'f1' in any finished run"),
        (lambda p: write(p / "one.json", part(json.loads(SUITE.read_text()), "wine")), [], "at least 2 datasets"),
        (
            lambda p: _text(p / "t.csv", "dataset,config,score\nd1,baseline,1\nd1,x,1\nd2,baseline,1\nd3,x,1\n"),
            ["--metric", "auc", "--better", "higher"],
            "and 0 config(s) on all of them",
        ),
        (lambda p: SUITE, ["--control", "nope"], "no config 'nope' to compare with; the input has baseline, l1"),
        (lambda p: SUITE, ["--datasets", "digits,mnist"], "no dataset 'mnist' in the input"),
        (lambda p: SUITE, ["--metric", "f1"], "--better higher or --better lower"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, argv, message):
    """Each refusal: exit 2, one line on stderr naming what was wrong, no traceback, nothing written."""
    code, out, err = run_cli(capsys, str(make(tmp_path)), "--out", str(tmp_path / "rank"), *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "rank").exists()


def test_pooled_files_trained_differently_exit_2_unless_allowed(tmp_path, capsys):
    """Different epochs: exit 2 naming the difference; --allow-settings-mismatch ranks and prints the note."""
    suite = json.loads(SUITE.read_text())
    short = part(suite, "wine")
    short["settings"]["epochs"] = 3
    files = [str(write(tmp_path / "digits.json", part(suite, "digits"))), str(write(tmp_path / "wine.json", short))]
    code, _, err = run_cli(capsys, *files, "--out", str(tmp_path / "r"), "--no-plots")
    assert code == 2 and "epochs: 20 vs 3" in err
    code, out, _ = run_cli(capsys, *files, "--out", str(tmp_path / "r"), "--no-plots", "--allow-settings-mismatch")
    assert code == 0 and "pooled despite a mismatch (--allow-settings-mismatch): epochs: 20 vs 3" in out


def test_a_csv_missing_a_column_exits_2(tmp_path, capsys):
    """A table without its score column."""
    path = tmp_path / "t.csv"
    path.write_text("dataset,config,accuracy\nd,a,1\n")
    code, _, err = run_cli(capsys, str(path), "--out", str(tmp_path / "r"))
    assert code == 2 and "no column score" in err
