"""regbench.datasets: built-in and user datasets, suites, what does not apply, bad data, and the digits unchanged."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import regbench
from regbench import records
from regbench.cli import main
from regbench.datasets import BUILTINS, SUITES, Dataset, make_dataset, select_datasets
from regbench.data import DataError

REFERENCE = Path(__file__).parent / "data" / "digits_records_f9c75e7.json"
TINY = dict(seeds=1, epochs=1, device="cpu", execution="single", workers=1, plots=False)
TIMING = {*records.TIMING, "history"}


def test_the_digits_records_are_unchanged(one_thread):
    """Every built-in config on the digits measures exactly what it measured before datasets existed (file made by
    commit f9c75e7).
    """
    reference = json.loads(REFERENCE.read_text())
    if torch.backends.cpu.get_cpu_capability() != reference["cpu_capability"]:
        pytest.skip(
            f"the reference was computed with {reference['cpu_capability']} kernels, this CPU runs"
            f" {torch.backends.cpu.get_cpu_capability()}"
        )
    found = {}
    for execution in ("single", "sweep"):
        doc = regbench.run(None, **{**TINY, "execution": execution})
        found.update(
            {
                f"{execution}/{r['config']}/{r['seed']}": {k: r[k] for k in next(iter(reference["records"].values()))}
                for r in doc["runs"]
            }
        )
    assert {key: found[key] for key in reference["records"]} == reference[
        "records"
    ]  # built-ins added since (noise) have no reference


def test_a_users_dataset_from_python_and_from_module_attribute(tmp_path, monkeypatch):
    """A Dataset object, a function returning tensor pairs and one returning torch Datasets all train; the model is
    sized by the data.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    from tests import user_datasets

    doc = regbench.run(["baseline", "dropout"], dataset=user_datasets.MINE, **TINY)
    assert [(r["dataset"], r["config"], r["status"]) for r in doc["runs"]] == [
        ("mine", "baseline", "ok"),
        ("mine", "dropout", "ok"),
    ]
    described = doc["datasets"]["mine"]
    assert (described["kind"], described["sample_shape"], described["classes"], described["train_size"]) == (
        "features",
        [6],
        3,
        60,
    )
    assert described["load"] == "tests.user_datasets:pairs" and len(described["digest"]) == 16
    images = regbench.run(["baseline"], dataset="tests.user_datasets:torch_datasets", **TINY)
    assert images["datasets"]["torch_datasets"]["sample_shape"] == [3, 8, 12] and images["runs"][0]["status"] == "ok"


def test_a_suite_trains_every_dataset_and_reports_each(tmp_path, monkeypatch):
    """--datasets digits,iris,tests.user_datasets:MINE: records name their dataset, results describe each, the report
    has a section each.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    out = tmp_path / "suite"
    code = main(
        [
            "run",
            "--configs",
            "baseline,l2",
            "--datasets",
            "digits,iris,tests.user_datasets:MINE",
            "--n-train",
            "5",
            "--n-test",
            "5",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--workers",
            "1",
            "--no-plots",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["datasets"]) == ["digits", "iris", "mine"]
    assert [(r["dataset"], r["config"], r["seed"]) for r in doc["runs"]] == [
        (d, c, s) for d in ("digits", "iris", "mine") for c in ("baseline", "l2") for s in (0, 1)
    ]
    assert doc["datasets"]["iris"]["sample_shape"] == [4] and doc["datasets"]["iris"]["classes"] == 3
    assert doc["datasets"]["iris"]["train_size"] == 15  # --n-train 5 per class
    report = (out / "report.md").read_text()
    assert (
        all(f"## {name}" in report for name in ("digits", "iris", "mine"))
        and "## Against the baseline, per dataset" in report
    )
    ranked = json.loads(
        (out / "rank.json").read_text()
    )  # the suite ends its report with the ranking across its datasets
    assert (
        ranked["datasets"] == ["digits", "iris", "mine"]
        and ranked["control"] == "baseline"
        and ranked["sources"] == [str(out / "results.json")]
    )
    assert report.endswith(regbench.ranking.render(ranked, level=2)) and (out / "rank.md").exists()
    assert not (out / "critical_difference.png").exists()  # --no-plots
    assert (
        main(["compare", str(out), str(out), "--json", str(tmp_path / "gate.json")]) == 0
    )  # the gate judges per (dataset, config)
    groups = {row["group"] for row in json.loads((tmp_path / "gate.json").read_text())["rows"]}
    assert {"digits/baseline", "iris/l2", "mine/baseline"} <= groups, groups


def test_an_interrupted_suite_resumes_to_the_results_of_an_uninterrupted_one(tmp_path, monkeypatch, one_thread):
    """Ctrl-C in the second dataset; the same call again trains only the rest, and the records equal a run never
    interrupted.
    """
    options = dict(TINY, seeds=2, n_train=5, n_test=5)
    whole = regbench.run(["baseline", "l1"], dataset="digits,iris", out=tmp_path / "whole", **options)
    from regbench import executors

    trained, real = [], executors.run_cell

    def interrupted(cell, *args, **kwargs):
        if len(trained) == 5:
            raise KeyboardInterrupt
        trained.append((cell.dataset, cell.config.name, cell.seed))
        return real(cell, *args, **kwargs)

    monkeypatch.setattr(executors, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        regbench.run(["baseline", "l1"], dataset="digits,iris", out=tmp_path / "cut", **options)
    first, trained[:] = list(trained), []
    monkeypatch.setattr(
        executors,
        "run_cell",
        lambda cell, *a, **k: trained.append((cell.dataset, cell.config.name, cell.seed)) or real(cell, *a, **k),
    )
    resumed = regbench.run(["baseline", "l1"], dataset="digits,iris", out=tmp_path / "cut", **options)
    every = {(d, c, k) for d in ("digits", "iris") for c in ("baseline", "l1") for k in (0, 1)}
    assert len(trained) == 3 and sorted(trained) == sorted(
        every - set(first)
    )  # only what the interrupted run had not finished
    strip = lambda doc: [{k: v for k, v in r.items() if k not in TIMING} for r in doc["runs"]]  # noqa: E731
    assert strip(resumed) == strip(whole)


def test_what_cannot_apply_is_not_applicable_in_a_suite_and_refused_alone(tmp_path, capsys):
    """An image augmentation on feature vectors: 'not applicable' in a suite (the rest trains); alone, one line and
    exit 2.
    """
    doc = regbench.run(["baseline", "augment"], dataset="digits,wine", n_train=5, n_test=5, **TINY)
    assert [(r["dataset"], r["config"]) for r in doc["runs"]] == [
        ("digits", "baseline"),
        ("digits", "augment"),
        ("wine", "baseline"),
    ]
    assert list(doc["not_applicable"]) == ["wine/augment"] and "feature" in doc["not_applicable"]["wine/augment"]
    code = main(
        [
            "run",
            "--configs",
            "augment",
            "--dataset",
            "wine",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "w"),
        ]
    )
    err = capsys.readouterr().err
    assert (
        code == 2 and "config 'augment' on dataset 'wine' (features (13,), 3 classes)" in err and "Traceback" not in err
    )
    assert not (tmp_path / "w" / "results.json").exists()


@pytest.mark.parametrize(
    "target, message",
    [
        ("nan_features", "NaN"),
        ("labels_out_of_range", "[0, 3)"),
        ("no_training_sample_for_a_class", "no training sample"),
        ("shapes_differ", "(6,)"),
        ("float_labels", "integ"),
        ("not_a_pair", "expected (train, test)"),
        ("no_such_attribute", "no_such_attribute"),
    ],
)
def test_bad_data_is_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, monkeypatch, target, message):
    """Every way a user's data can be wrong stops before training, in one line naming what and how to fix it."""
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--configs",
            "baseline",
            "--dataset",
            f"tests.user_datasets:{target}",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "results.json").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "imagenet"], "unknown dataset 'imagenet'; choose one of digits"),
        (["--dataset", "cifar10"], "pass --root"),
        (["--dataset", "csv", "--root", "x.csv"], "--label-column"),
        (["--datasets", "digits,iris", "--root", "/tmp"], "--root NAME=PATH"),
        (["--datasets", "digits", "--root", "iris=/tmp"], "--root given for iris"),
        (["--datasets", "digits,digits"], "named twice"),
    ],
)
def test_bad_dataset_options_are_usage_errors(tmp_path, capsys, argv, message):
    code = main(["run", "--configs", "baseline", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path / "o"), *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_the_small_suite_holds_every_offline_set_present():
    """digits and scikit-learn's tables always; Fashion-MNIST and MNIST where their files are installed."""
    names = [d.name for d in select_datasets("small")]
    assert names[:5] == ["digits", "breast-cancer", "wine", "iris", "digits-8x8"]
    assert set(names) <= set(SUITES["small"]) and set(SUITES["small"]) <= set(BUILTINS) | {"mnist"}
    assert ("fashion-mnist" in names) == Path("/usr/share/datasets/fashion-mnist").is_dir()


def test_a_dataset_is_described_and_travels_by_name():
    """A Dataset pickles as a few bytes and describes itself stably; a lambda cannot be loaded again in a worker."""
    dataset = make_dataset("iris")
    assert len(pickle.dumps(dataset)) < 1000 and dataset.describe()["load"] == "regbench.datasets:load_arrays"
    assert dataset.describe() == make_dataset("iris").describe() and dataset.key != make_dataset("wine").key
    with pytest.raises(DataError, match="module-level function"):
        Dataset(name="x", load=lambda: None)
    with pytest.raises(DataError, match="without commas"):
        Dataset(name="a,b", load=make_dataset)


def test_check_shapes_inputs_like_the_dataset(capsys, monkeypatch):
    """regbench check --dataset iris: a model factory sized for 4 features and 3 classes, checked on (4,) inputs;
    configs sized alike.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    assert main(["check", "regbench.models:FullyConnected", "--dataset", "iris", "--max-examples", "3"]) == 0
    assert "regbench.models:FullyConnected (model; input shape (4,)" in capsys.readouterr().out
    assert main(["check", "tests.user_datasets:L2", "--dataset", "iris", "--max-examples", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["ok"] and report["results"][0]["invariant"] == "model.eval_deterministic"
    assert (
        main(["check", "regbench.models:FullyConnected", "--max-examples", "3"]) == 0
    )  # without a dataset: the digits' shape
    assert "input shape (1, 28, 28)" in capsys.readouterr().out


def test_the_stacked_engine_takes_the_mlps_at_any_width():
    """On iris (4 features, 3 classes) the MLPs stack as mlp-4-500-3, and each member follows its lone run up to
    float rounding.
    """
    options = dict(dataset="iris", seeds=2, epochs=2, device="cpu", workers=1, plots=False, progress=False)
    swept = regbench.run(["baseline", "l1", "dropout"], execution="sweep", **options)
    alone = regbench.run(["baseline", "l1", "dropout"], execution="single", **options)
    assert swept["settings"]["execution"]["mlp-4-500-3"]["members"] == 6
    for member, lone in zip(swept["runs"], alone["runs"]):
        assert (member["execution"], lone["execution"]) == ("sweep", "single")
        assert (
            abs(member["train_loss"] - lone["train_loss"]) < 1e-5 and member["test_accuracy"] == lone["test_accuracy"]
        )


def _files(tmp_path: Path, kind: str) -> list[str]:
    """The command-line options of a file-backed dataset, its files written here (the readers' own tests make them
    the same way).
    """
    from tests.test_sources import write_cifar10, write_tree

    if kind == "cifar10":
        write_cifar10(tmp_path, per_batch=4)
        return ["--dataset", "cifar10", "--root", str(tmp_path), "--n-train", "2", "--n-test", "all"]
    if kind == "image-folder":
        write_tree(tmp_path, "RGB")
        return [
            "--dataset",
            "image-folder",
            "--root",
            str(tmp_path),
            "--image-size",
            "12",
            "--n-train",
            "all",
            "--n-test",
            "all",
        ]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), np.arange(40) % 4
    if kind == "csv":
        lines = ["a,b,c,d,e,kind"] + [",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(x, y)]
        (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
        return ["--dataset", "csv", "--root", str(tmp_path / "t.csv"), "--label-column", "kind"]
    np.savez(tmp_path / "t.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    return ["--dataset", "npz", "--root", str(tmp_path / "t.npz")]


@pytest.mark.parametrize(
    "kind, shape, classes",
    [("cifar10", [3, 32, 32], 10), ("image-folder", [3, 12, 12], 2), ("csv", [5], 4), ("npz", [5], 4)],
)
def test_file_datasets_train_from_the_command_line(tmp_path, monkeypatch, kind, shape, classes):
    """regbench run on a tiny CIFAR-10 folder, an ImageFolder tree, a CSV and an .npz: sized by the data, described
    in results.json.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    out = tmp_path / "out"
    argv = [
        "run",
        "--configs",
        "baseline,augment" if kind in ("cifar10", "image-folder") else "baseline,noise",
        *_files(tmp_path, kind),
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--workers",
        "1",
        "--no-plots",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    doc = json.loads((out / "results.json").read_text())
    described = doc["datasets"][kind]
    assert (described["sample_shape"], described["classes"]) == (shape, classes) and all(
        r["status"] == "ok" for r in doc["runs"]
    )


def test_check_on_a_dataset_says_which_augmentation_checks_cannot_run(capsys):
    """On feature vectors an image augmentation cannot be built: not applicable with the reason, no traceback; on
    digits it is checked.
    """
    assert main(["check", "regbench.configs:CONFIGS", "--dataset", "iris", "--max-examples", "2", "--json"]) in (0, 1)
    reports = {r["subject"].split("[")[1].rstrip("]"): r for r in json.loads(capsys.readouterr().out)}
    augment = {r["invariant"]: r for r in reports["augment"]["results"]}
    assert augment["transform.output_shape_dtype_range"]["status"] == "not_applicable"
    assert "cannot be built for this dataset" in augment["transform.output_shape_dtype_range"]["explanation"]
    assert augment["model.eval_deterministic"]["status"] == "passed"


def test_transforms_are_checked_on_images_shaped_like_the_dataset(tmp_path, capsys):
    """On CIFAR-10's (3, 32, 32) a transform factory is sized by the data and checked on RGB images; one fixed at
    28x28 fails its shape.
    """
    import functools

    from regbench import checks
    from regbench.augment import digit_train_transform
    from tests.test_sources import write_cifar10

    write_cifar10(tmp_path, per_batch=4)
    assert (
        main(
            [
                "check",
                "regbench.augment:digit_train_transform",
                "--dataset",
                "cifar10",
                "--root",
                str(tmp_path),
                "--max-examples",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "PIL image (3, 32, 32)" in out and "ok    output_shape_dtype_range" in out and "n/a   label_preservation" in out
    )
    fixed = checks.check(
        functools.partial(digit_train_transform, input_shape=(1, 28, 28)),
        kind="transform",
        input_shape=(3, 32, 32),
        max_examples=3,
    )
    assert (
        fixed["output_shape_dtype_range"].status is checks.Status.FAILED
        and "expected (3, 32, 32)" in fixed["output_shape_dtype_range"].observed
    )


def test_the_builtins_on_a_table_train_what_applies():
    """regbench run --dataset wine with the default built-ins: the image augmentations are not applicable, the rest
    trains.
    """
    doc = regbench.run(None, dataset="wine", seeds=1, epochs=1, device="cpu", workers=1, plots=False, progress=False)
    assert sorted(doc["not_applicable"]) == ["wine/augment", "wine/augment-flip"]
    assert {r["config"] for r in doc["runs"]} == set(regbench.CONFIGS) - {"augment", "augment-flip"}
    with pytest.raises(regbench.ConfigError, match="config 'augment' on dataset 'wine'"):
        regbench.run(
            ["augment"], dataset="wine", seeds=1, epochs=1, device="cpu", workers=1, plots=False, progress=False
        )


def _broken(tmp_path: Path, case: str) -> list[str]:
    """The command-line options of a file-backed dataset broken in one way."""
    from tests.test_sources import write_cifar10

    if case == "missing root":
        return ["--dataset", "cifar10", "--root", str(tmp_path / "nowhere")]
    if case in ("missing batch file", "truncated pickle"):
        write_cifar10(tmp_path, per_batch=4)
        batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
        batch.unlink() if case == "missing batch file" else batch.write_bytes(batch.read_bytes()[:300])
        return ["--dataset", "cifar10", "--root", str(tmp_path)]
    (tmp_path / "t.csv").write_text("a,b,kind\n1,2,0\n3,4,1\n")
    return ["--dataset", "csv", "--root", str(tmp_path / "t.csv"), "--label-column", "label"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing root", "no such directory"),
        ("missing batch file", "data_batch_3 missing"),
        ("truncated pickle", "data_batch_3: truncated or not a CIFAR python batch"),
        ("csv without the label column", "no column 'label'; the columns are a, b, kind"),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, case, message):
    """A missing root or batch file, a truncated pickle, a CSV without its label column: exit 2, one line, nothing
    written.
    """
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--configs",
            "baseline",
            *_broken(tmp_path, case),
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists() or not (out / "results.json").exists()
