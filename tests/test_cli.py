"""`regbench run` and `regbench configs` end to end, and the line between a usage error (one line) and a bug (a
traceback).
"""

import json
from pathlib import Path

import pytest

from regbench.cli import main
from regbench.executors import threads_per_worker

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--seeds", "1", "--epochs", "1", "--n-train", "5", "--n-test", "5", "--device", "cpu"]


def test_run_writes_results_report_and_plots(tmp_path, capsys):
    """A short run of two configs writes every artifact and prints the table."""
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--configs",
            "baseline,l1",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--n-train",
            "10",
            "--n-test",
            "10",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc)[0] == "schema_version" and doc["schema_version"] == 2
    assert [(r["config"], r["seed"]) for r in doc["runs"]] == [("baseline", 0), ("baseline", 1), ("l1", 0), ("l1", 1)]
    assert doc["settings"]["epochs"] == 1 and doc["environment"]["device"] == "cpu"
    assert doc["configs"]["l1"]["loss"]["args"] == {"l1_lambda": 1e-4}
    assert all(
        r["config_hash"] == doc["configs"][r["config"]]["hash"] and r["engine"] == "fast" and r["execution"]
        for r in doc["runs"]
    )
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "report.md",
        "report.html",
        "journal.jsonl",
        "weights_baseline_vs_l1.png",
        "learning_curves.png",
        "gap.png",
    }
    printed = capsys.readouterr().out
    assert "| baseline | 2 |" in printed and "| l1 | 2 |" in printed


def test_your_own_configs_run_beside_the_builtins(tmp_path, capsys, monkeypatch):
    """`--configs baseline,examples.my_regularizers:CONFIGS` from the repository root: the user's configs train and
    are described.
    """
    monkeypatch.chdir(ROOT)
    out = tmp_path / "mine"
    assert (
        main(["run", "--configs", "baseline,examples.my_regularizers:CONFIGS", *TINY, "--no-plots", "--out", str(out)])
        == 0
    )
    doc = json.loads((out / "results.json").read_text())
    assert [r["config"] for r in doc["runs"]] == ["baseline", "dropconnect", "maxnorm", "cnn"]
    assert doc["configs"]["cnn"]["model"]["factory"] == "examples.my_regularizers:SmallCNN"
    assert doc["settings"]["execution"]["one by one"]["configs"] == ["dropconnect", "maxnorm", "cnn"]
    assert "| cnn | 1 |" in capsys.readouterr().out


def test_a_grid_trains_its_cells_beside_the_baseline_and_draws_their_path(tmp_path, capsys):
    """--grid expands the config over the values; the baseline joins as the path's reference; the plot and report
    section follow.
    """
    out = tmp_path / "grid"
    assert (
        main(
            ["run", "--configs", "l1", "--grid", "l1.l1_lambda=1e-4,1e-2", "--seeds", "2", *TINY[2:], "--out", str(out)]
        )
        == 0
    )
    doc = json.loads((out / "results.json").read_text())
    assert list(dict.fromkeys(r["config"] for r in doc["runs"])) == [
        "baseline",
        "l1[l1_lambda=0.0001]",
        "l1[l1_lambda=0.01]",
    ]
    assert doc["configs"]["l1[l1_lambda=0.01]"]["grid"] == {"of": "l1", "values": {"loss.l1_lambda": 0.01}}
    assert (out / "path_l1_loss.l1_lambda.png").is_file() and "### l1: loss.l1_lambda" in (
        out / "report.md"
    ).read_text()
    assert "also training the built-in 'baseline' as the reference" in capsys.readouterr().out


def test_notebook_engine_and_forced_sweep_record_what_ran(tmp_path):
    """--engine notebook trains through DataLoader and PIL; --execution sweep stacks the runs; both are recorded."""
    common = ["run", "--configs", "augment", *TINY, "--no-plots"]
    assert main(common + ["--engine", "notebook", "--out", str(tmp_path / "nb")]) == 0
    assert main(common + ["--execution", "sweep", "--out", str(tmp_path / "sw")]) == 0
    notebook = json.loads((tmp_path / "nb" / "results.json").read_text())
    swept = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert notebook["runs"][0]["engine"] == "notebook" and notebook["runs"][0]["execution"] == "single"
    assert notebook["settings"]["execution"]["one by one"]["reasons"] == {
        "augment": "the notebook engine trains one run at a time"
    }
    assert swept["runs"][0]["execution"] == "sweep" and swept["runs"][0]["engine"] == "fast"


def test_workers_are_chosen_and_recorded(tmp_path):
    """--workers 2 trains one-by-one runs in two processes and says so; the records are the usual ones."""
    out = tmp_path / "w"
    argv = [
        "run",
        "--configs",
        "baseline,dropout",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--n-train",
        "5",
        "--n-test",
        "5",
        "--device",
        "cpu",
        "--execution",
        "single",
        "--workers",
        "2",
        "--no-plots",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["settings"]["execution"]["mlp-784-500-10"] == {
        "choice": "single",
        "members": 4,
        "configs": ["baseline", "dropout"],
        "executor": "local",
        "workers": 2,
    }
    assert [(r["config"], r["seed"], r["status"]) for r in doc["runs"]] == [
        ("baseline", 0, "ok"),
        ("baseline", 1, "ok"),
        ("dropout", 0, "ok"),
        ("dropout", 1, "ok"),
    ]
    share = threads_per_worker(
        2
    )  # the environment says what the runs trained with, so the gate judges timings like for like
    assert [r["torch_threads"] for r in doc["runs"]] == [share] * 4 and doc["environment"]["torch_threads"] == share


def test_configs_lists_what_a_run_would_train(capsys, monkeypatch):
    """Names, hashes, descriptions, factories with their arguments and the model's size; --json gives the full
    descriptions.
    """
    monkeypatch.chdir(ROOT)
    assert main(["configs", "l1", "examples.my_regularizers:CNN"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["l1", lines[0].split()[1]] and "Lasso penalty, lambda 1e-4" in lines[0]
    assert (
        "loss: regbench.losses:LassoLoss(l1_lambda=0.0001)" in lines[2]
        and "model: regbench.models:FullyConnected()  (397,500 parameters)" in lines[1]
    )
    assert any("model: examples.my_regularizers:SmallCNN()" in line for line in lines)
    assert main(["configs", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in described][:2] == ["baseline", "l1"] and all(len(d["hash"]) == 12 for d in described)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--configs", "nope"], "unknown configuration 'nope'"),
        (["run", "--configs", "examples.nothing:X"], "module 'examples.nothing' not found"),
        (["run", "--configs", "examples.my_regularizers:SmallCNN"], "expected a regbench.Config"),
        (
            ["run", "--configs", "tests.bad_configs:VECTOR"],
            (
                "config 'vector' on dataset 'digits' (images (1, 28, 28), 10 classes): its augmentation, model and loss"
                " failed on a training batch"
            ),
        ),
        (
            ["run", "--configs", "tests.unpicklable_config:LOCAL"],
            "importing 'tests.unpicklable_config' failed: config 'local': model",
        ),
        (["run", "--dataset", "cifar10"], "pass --root the folder with its files"),
        (["run", "--dataset", "mnist", "--root", "/nonexistent"], "no such directory"),
        (["run", "--n-train", "450"], "fewer than the 750"),
        (["configs", "nope"], "unknown configuration 'nope'"),
        (
            ["run", "--configs", "dropout", "--grid", "dropout.dropout_prob=0.5,1"],
            (
                "config 'dropout[dropout_prob=1]' on dataset 'digits' (images (1, 28, 28), 10 classes): building it"
                " failed: ValueError: dropout_prob must be in [0, 1)"
            ),
        ),
        (
            ["run", "--configs", "l1", "--grid", "l1.l1_lambda=-1"],
            (
                "config 'l1[l1_lambda=-1]' on dataset 'digits' (images (1, 28, 28), 10 classes): building it failed:"
                " ValueError: l1 lambda must be a finite number >= 0"
            ),
        ),
        (["run", "--configs", "l1", "--grid", "l2.l2_lambda=1"], "CONFIG one of this run's configs (l1)"),
        (["run", "--n-train", "all", "--n-test", "all"], "cannot give all its images to both"),
    ],
)
def test_user_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    """Mistakes exit 2 with a message naming the problem, no traceback."""
    monkeypatch.chdir(ROOT)
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "run" else [])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """An exception that is not a usage error (here a ValueError from deep inside training) is not dressed up as one."""

    def broken(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr("regbench.runner.run_matrix", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["run", "--configs", "baseline", *TINY, "--out", str(tmp_path)])


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--workers", "0"],
        ["run", "--workers", "many"],
        ["run", "--seeds", "0"],
        ["run", "--epochs", "x"],
        ["run", "--lr", "-1"],
        ["run", "--device", "tpu"],
    ],
)
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


def test_check_offers_exactly_the_loss_target_forms_the_checks_know():
    """--loss-targets lists its choices without importing the checks at start-up, so this keeps the two lists one."""
    from regbench.checks.losses import LABEL_FORMS
    from regbench.cli import build_parser

    check = build_parser()._subparsers._group_actions[0].choices["check"]
    (action,) = [a for a in check._actions if "--loss-targets" in a.option_strings]
    assert tuple(action.choices) == tuple(LABEL_FORMS)
