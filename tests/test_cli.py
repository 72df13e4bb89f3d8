"""`regbench run` end to end, and its one-line errors."""

import json

import pytest

from regbench.cli import main
from regbench.pool import threads_per_worker


def test_run_writes_results_report_and_plots(tmp_path, capsys):
    """A short run of two configs writes every artifact and prints the table."""
    out = tmp_path / "out"
    code = main(["run", "--configs", "baseline,l1", "--seeds", "2", "--epochs", "1", "--n-train", "10", "--n-test", "10", "--device", "cpu", "--out", str(out)])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc)[0] == "schema_version"
    assert [(r["config"], r["seed"]) for r in doc["runs"]] == [("baseline", 0), ("baseline", 1), ("l1", 0), ("l1", 1)]
    assert doc["settings"]["epochs"] == 1 and doc["environment"]["device"] == "cpu"
    assert doc["configs"]["l1"]["l1_lambda"] == 1e-4
    assert {p.name for p in out.iterdir()} == {"results.json", "report.md", "weights_baseline_vs_l1.png", "learning_curves.png", "gap.png"}
    printed = capsys.readouterr().out
    assert "| baseline | 2 |" in printed and "| l1 | 2 |" in printed


def test_notebook_engine_and_forced_sweep_record_what_ran(tmp_path):
    """--engine notebook trains through DataLoader and PIL; --execution sweep stacks the runs; both are recorded."""
    common = ["run", "--configs", "augment", "--seeds", "1", "--epochs", "1", "--n-train", "5", "--n-test", "5", "--device", "cpu", "--no-plots"]
    assert main(common + ["--engine", "notebook", "--out", str(tmp_path / "nb")]) == 0
    assert main(common + ["--execution", "sweep", "--out", str(tmp_path / "sw")]) == 0
    notebook = json.loads((tmp_path / "nb" / "results.json").read_text())
    swept = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert notebook["runs"][0]["engine"] == "notebook" and notebook["settings"]["execution"]["mlp"]["choice"] == "single"
    assert swept["runs"][0]["execution"] == "sweep" and swept["settings"]["engine"] == "fast"


def test_workers_are_chosen_and_recorded(tmp_path):
    """--workers 2 trains one-by-one runs in two processes and says so; the records are the usual ones."""
    out = tmp_path / "w"
    argv = ["run", "--configs", "baseline,dropout", "--seeds", "2", "--epochs", "1", "--n-train", "5", "--n-test", "5",
            "--device", "cpu", "--execution", "single", "--workers", "2", "--no-plots", "--out", str(out)]
    assert main(argv) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["settings"]["execution"]["mlp"] == {"choice": "single", "members": 4, "workers": 2}
    assert [(r["config"], r["seed"], r["status"]) for r in doc["runs"]] == [("baseline", 0, "ok"), ("baseline", 1, "ok"), ("dropout", 0, "ok"), ("dropout", 1, "ok")]
    share = threads_per_worker(2)  # the environment says what the runs trained with, so the gate judges timings like for like
    assert [r["torch_threads"] for r in doc["runs"]] == [share] * 4 and doc["environment"]["torch_threads"] == share


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--configs", "nope"], "unknown configuration"),
        (["run", "--dataset", "fashion-mnist"], "needs --root"),
        (["run", "--dataset", "mnist", "--root", "/nonexistent"], "no such directory"),
        (["run", "--n-train", "450"], "fewer than the 750"),
    ],
)
def test_user_errors_are_one_line(argv, message, capsys, tmp_path):
    """Mistakes exit 2 with a message naming the problem, no traceback."""
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["run", "--workers", "0"], ["run", "--workers", "many"], ["run", "--seeds", "0"], ["run", "--epochs", "x"], ["run", "--lr", "-1"], ["run", "--device", "tpu"]])
def test_bad_flag_values_are_refused_by_argparse(argv, capsys):
    """argparse rejects bad values with usage and exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "error" in capsys.readouterr().err


def test_cuda_request_without_a_gpu(capsys, tmp_path, monkeypatch):
    """--device cuda on a machine without a GPU says so instead of failing deep in torch."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
