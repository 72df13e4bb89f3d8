"""regbench continuous: two revisions of a git repository trained cell by cell, each with its own code, HEAD gated
against BASE.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import regbench
from regbench import continuous
from regbench.cli import main

PACKAGE = Path(regbench.__file__).parent
TINY = ["--configs", "baseline,l1", "--seeds", "3", "--epochs", "1", "--n-train", "10", "--n-test", "10"]
# HEAD's planted change: every Adam step at a thousandth of its learning rate, a slip in training code that stops
# learning
SLOW_LEARNER = """
import torch as _torch
_adam_init = _torch.optim.Adam.__init__
def _slip(self, params, lr=1e-3, **kw):
    _adam_init(self, params, lr=lr / 1000, **kw)
_torch.optim.Adam.__init__ = _slip
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=regbench", "-c", "user.email=regbench@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository with regbench as it is here (BASE) and one commit that trains at a thousandth of the learning
    rate (HEAD).
    """
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(PACKAGE, root / "regbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE.parent / "pyproject.toml", root / "pyproject.toml")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    with open(root / "regbench" / "__init__.py", "a", encoding="utf-8") as init:
        init.write(SLOW_LEARNER)
    git(root, "commit", "-qam", "a thousandth of the learning rate")
    return root


def gate(capsys, repo: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    import os

    here = os.getcwd()
    os.chdir(repo)
    try:
        code = main(["continuous", *args, *TINY, "--out", str(tmp_path / "out"), "--json", str(tmp_path / "gate.json")])
    finally:
        os.chdir(here)
    out, err = capsys.readouterr()
    return code, out, err


def test_each_revision_trains_with_its_own_code_and_head_is_gated(repo, tmp_path, capsys):
    """BASE against HEAD: HEAD's slip (lr / 1000) is caught by seed-paired accuracy; each side has its results.json
    and journals.
    """
    code, out, err = gate(capsys, repo, tmp_path, "HEAD~1", "HEAD")
    assert code == 1, out + err
    verdicts = {(r["group"], r["metric"]): r for r in json.loads((tmp_path / "gate.json").read_text())["rows"]}
    assert (
        verdicts[("baseline", "test_accuracy")]["verdict"] == "regression"
        and "paired by seed" in verdicts[("baseline", "test_accuracy")]["note"]
    )
    assert "paired differences pooled over 2 configs" in verdicts[("l1", "samples_per_second")]["note"]
    (folder,) = (tmp_path / "out").iterdir()
    commits = [git(repo, "rev-parse", rev) for rev in ("HEAD~1", "HEAD")]
    assert folder.name == f"{commits[0][:10]}-{commits[1][:10]}"
    for side, commit in zip(("base", "head"), commits):
        doc = json.loads((folder / side / "results.json").read_text())
        assert doc["environment"]["git_commit"] == commit and doc["settings"]["seeds"] == 3
        assert sorted((r["config"], r["seed"], r["execution"]) for r in doc["runs"]) == [
            ("baseline", 0, "single"),
            ("baseline", 1, "single"),
            ("baseline", 2, "single"),
            ("l1", 0, "single"),
            ("l1", 1, "single"),
            ("l1", 2, "single"),
        ]
    assert "each cell trained by both in turn" in out


def test_the_same_revision_twice_passes_with_exact_accuracy(repo, tmp_path, capsys):
    """A/A: CPU training repeats exactly, so every paired accuracy change is 0 and judged exactly; only throughput
    carries noise.
    """
    code, out, err = gate(capsys, repo, tmp_path, "HEAD~1", "HEAD~1")
    assert code == 0, out + err
    rows = json.loads((tmp_path / "gate.json").read_text())["rows"]
    exact = [
        r
        for r in rows
        if r["metric"] in ("test_accuracy", "test_loss", "sparsity") and not r["group"].startswith("pooled")
    ]
    assert exact and all(r["change"] == 0 and r["ci"] == [0, 0] and r["verdict"] == "ok" for r in exact)


def test_what_cannot_be_compared_is_refused_in_one_line(repo, tmp_path, capsys):
    """Unknown revisions, a folder outside git, and revisions that need different environments: exit 2, one line
    naming the problem.
    """
    code, _, err = gate(capsys, repo, tmp_path, "no-such-branch")
    assert code == 2 and "'no-such-branch' is not a commit of the repository" in err
    outside = tmp_path / "plain"
    outside.mkdir()
    code, _, err = gate(capsys, outside, tmp_path, "HEAD")
    assert code == 2 and "is not in a git repository" in err
    other = tmp_path / "other"
    shutil.copytree(repo, other)
    text = (other / "pyproject.toml").read_text()
    (other / "pyproject.toml").write_text(text.replace("dependencies = [", 'dependencies = [\n    "tomli-w>=1.0",', 1))
    git(other, "commit", "-qam", "a new dependency")
    code, _, err = gate(capsys, other, tmp_path, "HEAD~1")
    assert code == 2 and "declare different dependencies (+ tomli-w>=1.0)" in err and "its own environment" in err


def test_dependency_differences_name_both_directions(tmp_path):
    for name, deps in (("a", '["torch>=2", "numpy"]'), ("b", '["torch>=2", "scipy"]')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(f"[project]\nname = 'x'\ndependencies = {deps}\n")
    assert continuous.dependency_differences(tmp_path / "a", tmp_path / "b") == ["+ scipy", "- numpy"]
