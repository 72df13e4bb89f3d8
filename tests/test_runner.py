"""regbench.run: the Python API trains any configs and returns the results document, writing files only when asked."""

import regbench
from examples.my_regularizers import CNN
from regbench.results import SCHEMA_VERSION

TINY = dict(seeds=1, epochs=1, n_train=5, n_test=5, device="cpu")


def test_run_returns_the_document_and_writes_nothing_unless_asked(tmp_path, monkeypatch):
    """Objects, built-in names and MODULE:ATTRIBUTE mix; no out, no files."""
    monkeypatch.chdir(tmp_path)
    doc = regbench.run(["baseline", CNN], **TINY)
    assert doc["schema_version"] == SCHEMA_VERSION and [r["config"] for r in doc["runs"]] == ["baseline", "cnn"]
    assert list(tmp_path.iterdir()) == []


def test_a_grid_from_python_adds_the_baseline_and_writes_the_path(tmp_path):
    """grid={'CONFIG.ARGUMENT': values}; the files are the command line's, path plot included."""
    lines = []
    doc = regbench.run(["l1"], grid={"l1.l1_lambda": [1e-4, 1e-3]}, out=tmp_path, echo=lines.append, **TINY)
    assert [r["config"] for r in doc["runs"]] == ["baseline", "l1[l1_lambda=0.0001]", "l1[l1_lambda=0.001]"]
    assert (tmp_path / "results.json").is_file() and (tmp_path / "path_l1_loss.l1_lambda.png").is_file()
    assert "reference of the regularization paths" in lines[0] and lines[1].startswith(
        "regbench run: 3 configs x 1 seeds"
    )
