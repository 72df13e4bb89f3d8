"""regbench.checks and `regbench check`: correct components pass every invariant that applies; each broken one fails
the invariant its bug breaks.
"""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision import transforms

from examples import my_models, my_regularizers
from regbench import checks
from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.checks import CheckUsageError, Status
from regbench.cli import main
from regbench.configs import CONFIGS, Config
from regbench.losses import (
    ElasticNetLoss,
    LassoLoss,
    MixedL1L2Loss,
    PenaltyLoss,
    PenaltyTerm,
    RidgeLoss,
    l1_norm,
    penalized_parameters,
)
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout

ROOT = Path(__file__).resolve().parents[1]


def statuses(report: checks.Report) -> dict[str, str]:
    return {r.invariant: r.status.value for r in report.results}


def not_applicable(report: checks.Report) -> set[str]:
    return {r.invariant for r in report.results if r.status is Status.NOT_APPLICABLE}


# ------------------------------------------------------------------------------- broken components
# Each carries one bug; the examples in examples/my_models.py cover the four, these the rest.


class RescalelessDropout(nn.Dropout):
    """Bug: zeroes units with probability p but never scales survivors by 1/(1-p)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.bernoulli(torch.full_like(x, 1 - self.p)) if self.training else x


class UnscaledDropoutNet(FullyConnectedDropout):
    def __init__(self) -> None:
        super().__init__(hidden_size=200)
        self.dropout = RescalelessDropout(0.5)


class SilentBatchOfOne(FullyConnectedBatchNorm):
    """Bug: a batch of 1 in train mode skips BatchNorm instead of raising."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and len(x) == 1:
            return F.relu(self.linear_1(x.reshape(1, -1)))
        return super().hidden(x)


def lasso_lambda_or_default(base: nn.Module, model: nn.Module, lam: float) -> PenaltyLoss:
    """Bug: `lam or 1e-4` reads lambda = 0 as "not given"."""
    return LassoLoss(base, model, lam or 1e-4)


def lasso_lambda_squared(base: nn.Module, model: nn.Module, lam: float) -> PenaltyLoss:
    """Bug: lambda applied in the term and again in the norm."""
    weights = [p for _, p in penalized_parameters(model)]
    return PenaltyLoss(base, [PenaltyTerm("l1", lam, lambda ps: lam * l1_norm(ps), weights)])


def lasso_without_abs(base: nn.Module, model: nn.Module, lam: float) -> PenaltyLoss:
    """Bug: sum W instead of sum |W|."""
    weights = [p for _, p in penalized_parameters(model)]
    return PenaltyLoss(base, [PenaltyTerm("l1", lam, lambda ps: torch.stack([p.sum() for p in ps]).sum(), weights)])


class PrivateRotation:
    """Bug: the angle comes from an RNG no seed reaches."""

    def __call__(self, image: Image.Image) -> Image.Image:
        return image.rotate(float(np.random.default_rng().uniform(-10, 10)))


uint8_output = transforms.Compose([transforms.RandomRotation(10), transforms.PILToTensor()])
private_rng = transforms.Compose([PrivateRotation(), transforms.ToTensor()])


# ------------------------------------------------------------------------------- correct components


@pytest.mark.parametrize(
    "factory, skipped",
    [
        (
            FullyConnected,
            {
                "dropout_identity_in_eval",
                "dropout_train_statistics",
                "batch_independent_in_train",
                "batchnorm_tracks_running_stats",
                "batchnorm_rejects_batch_of_one",
            },
        ),
        (
            FullyConnectedDropout,
            {"batch_independent_in_train", "batchnorm_tracks_running_stats", "batchnorm_rejects_batch_of_one"},
        ),
        (
            FullyConnectedBatchNorm,
            {"dropout_identity_in_eval", "dropout_train_statistics", "batch_independent_in_train"},
        ),
        (my_models.MyNet, {"batch_independent_in_train"}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_correct_models_pass(factory, skipped):
    """regbench's three models and the example's MyNet hold every invariant; what does not apply is said so, not
    passed.
    """
    report = checks.check_model(factory)
    assert report.ok, report.render()
    assert not_applicable(report) == skipped
    assert report.settings["input shape"] == (1, 28, 28)


@pytest.mark.parametrize(
    "factory", [LassoLoss, RidgeLoss, ElasticNetLoss, MixedL1L2Loss, my_models.MyL2Loss], ids=lambda f: f.__name__
)
def test_correct_losses_pass(factory):
    """Every regbench loss, all its lambdas scaled together, and the example's MyL2Loss."""
    report = checks.check_loss(factory)
    assert report.ok and not not_applicable(report), report.render()


def test_a_loss_on_the_users_own_model():
    """model= builds the loss on copies of the user's model instead of regbench's."""
    report = checks.check_loss(my_models.MyL2Loss, model=my_models.MyNet)
    assert report.ok, report.render()
    assert report.settings["models"] == "yours"


def test_a_loss_made_from_the_model_alone():
    """A callable model -> loss has no lambda to scale; a PenaltyLoss still separates its penalty."""
    report = checks.check_loss(lambda model: RidgeLoss(nn.CrossEntropyLoss(), model, 1e-3))
    assert statuses(report) == {
        "lambda_zero_is_base": "not_applicable",
        "penalty_skips_biases_and_1d": "passed",
        "penalty_linear_in_lambda": "not_applicable",
        "penalty_non_negative": "passed",
    }


@pytest.mark.parametrize(
    "transform", [digit_train_transform, test_transform, my_models.my_augment], ids=["digit", "test", "my_augment"]
)
def test_label_preserving_transforms_pass(transform):
    """Rotation by 10 degrees and a 0.8-1 crop keep digits what they are."""
    report = checks.check_transform(transform)
    assert report.ok, report.render()
    assert "changed" in report["label_preservation"].observed


# -------------------------------------------------------------------------------- broken components


BROKEN = [  # (component, check options, the invariant its bug breaks, what that invariant's own assertion says)
    (
        my_models.LeakyDropoutNet,
        {},
        "dropout_identity_in_eval",
        "eval-mode output differs from the same model with every dropout rate set to 0",
    ),
    (
        my_models.BatchStatsNet,
        {},
        "batch_independent_in_eval",
        "sample 0 alone cannot be predicted in eval mode: a BatchNorm normalizes it",
    ),
    (
        my_models.L2OnEverything,
        {"model": my_models.MyNet},
        "penalty_skips_biases_and_1d",
        "the penalty has a gradient on fc1.bias",
    ),
    (my_models.mirror_augment, {}, "label_preservation", "predictions ("),
    (notebook_train_transform, {}, "label_preservation", "predictions ("),
    (UnscaledDropoutNet, {}, "dropout_train_statistics", "survivors are not scaled by 1/(1-p) = 2 (ratio seen 1)"),
    (SilentBatchOfOne, {}, "batchnorm_rejects_batch_of_one", "train mode accepted a batch of 1 without an error"),
    (lasso_lambda_or_default, {}, "lambda_zero_is_base", "with lambda = 0 the loss is"),
    (lasso_lambda_squared, {}, "penalty_linear_in_lambda", "x lambda (expected"),
    (lasso_without_abs, {}, "penalty_non_negative", "the penalty is -"),
    (uint8_output, {}, "output_shape_dtype_range", "dtype torch.uint8, not a floating-point tensor"),
    (private_rng, {}, "reproducible_under_seed", "two calls after seed_everything(0) gave different outputs"),
]


@pytest.mark.parametrize("obj, options, invariant, message", BROKEN, ids=[case[2] for case in BROKEN])
def test_broken_components_fail_the_invariant_they_break(obj, options, invariant, message):
    """The report names the invariant, shows a counterexample and says how to fix it; the failure is the invariant's own
    assertion (its message), not an exception from inside the check, which the engine also reports as a failure."""
    report = checks.check(obj, **options)
    result = report[invariant]
    assert result.status is Status.FAILED, report.render()
    assert message in result.observed and not result.observed.startswith("raised "), result.observed
    assert result.counterexample and result.explanation
    assert f"FAIL  {invariant}" in report.render()


class CrashesAlone(FullyConnected):
    """Bug unrelated to batches: a forward pass on one sample raises."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) == 1:
            raise RuntimeError("an index out of range in the user's forward")
        return super().hidden(x)


def test_a_crash_inside_a_check_is_reported_as_a_crash():
    """Only BatchNorm's own refusal of one sample means a prediction needs its batch; any other error stays the error
    it is.
    """
    observed = checks.check(CrashesAlone)["batch_independent_in_eval"].observed
    assert observed == "raised RuntimeError: an index out of range in the user's forward", observed


def test_broken_examples_fail_exactly_their_invariants():
    """Pinned so a change in what a check sees shows up here: the example bugs and everything they break."""
    failed = lambda report: {r.invariant for r in report.failures}  # noqa: E731
    assert failed(checks.check(my_models.LeakyDropoutNet)) == {
        "eval_deterministic",
        "dropout_identity_in_eval",
        "dropout_train_statistics",
        "batch_independent_in_eval",
    }
    assert failed(checks.check(my_models.BatchStatsNet)) == {"batch_independent_in_eval", "eval_keeps_state"}
    assert failed(checks.check(my_models.L2OnEverything)) == {"penalty_skips_biases_and_1d"}


def test_counterexamples_are_shrunk_and_reproducible():
    """Derandomized search: the same minimal example on every run, the smallest model Hypothesis can build."""
    report = checks.check_loss(my_models.L2OnEverything)
    assert report.to_dict() == checks.check_loss(my_models.L2OnEverything).to_dict()
    example = report["penalty_skips_biases_and_1d"].counterexample
    assert "FullyConnected(1, 1, 1)" in example and "lambda 1," in example


def test_label_preservation_measures_flip_and_rotation():
    """The notebook's flip changes far more predictions than the classifier gets wrong; the digit preset far fewer."""
    flip = checks.check_transform(notebook_train_transform)["label_preservation"]
    digit = checks.check_transform(digit_train_transform)["label_preservation"]
    rate = lambda result: float(result.observed.split("(")[1].split("%")[0]) / 100  # noqa: E731
    allowed = float(flip.observed.split("allowed ")[1].split("%")[0]) / 100
    assert rate(digit) < allowed / 2 < allowed * 2 < rate(flip)
    assert "class" in flip.counterexample
    assert (
        checks.check_transform(notebook_train_transform, label_threshold=0.5)["label_preservation"].status
        is Status.PASSED
    )


def test_transforms_on_tensors_and_ones_that_normalize():
    """A tensor-in transform is fed tensors; with value_range=None a Normalize pipeline is judged on shape alone, and
    label preservation says it cannot read it.
    """
    tensor_flip = checks.check_transform(transforms.RandomHorizontalFlip(p=1.0))
    assert (
        tensor_flip.settings["input"] == "tensor (1, 28, 28)"
        and tensor_flip["label_preservation"].status is Status.FAILED
    )
    normalized = checks.check_transform(
        transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]), value_range=None
    )
    assert statuses(normalized) == {
        "output_shape_dtype_range": "passed",
        "reproducible_under_seed": "passed",
        "label_preservation": "not_applicable",
    }


# ------------------------------------------------------------------------------ inputs and side effects


def test_input_shape_is_inferred_or_given():
    """The notebook's shapes are tried; anything else needs input_shape, and says so."""
    assert checks.check_model(FullyConnected).settings["input shape"] == (1, 28, 28)
    with pytest.raises(CheckUsageError, match="input_shape"):
        checks.check_model(my_models.ColourNet)
    report = checks.check_model(my_models.ColourNet, input_shape=(3, 8, 8))
    assert report.ok, report.render()
    assert "spatial" in report["batchnorm_rejects_batch_of_one"].explanation


def test_checks_leave_the_users_objects_and_rngs_alone():
    """A model instance in train mode, a transform and the global RNGs are exactly as they were."""
    model = FullyConnectedBatchNorm(784, 16, 10).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    transform = my_models.my_augment
    rngs = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    checks.check_model(model)
    checks.check_loss(LassoLoss, model=model)
    checks.check_transform(transform)
    assert model.training and all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert (
        torch.equal(torch.get_rng_state(), rngs[0])
        and random.getstate() == rngs[1]
        and np.array_equal(np.random.get_state()[1], rngs[2])
    )
    assert transform is my_models.my_augment and len(transform.transforms) == 2


@pytest.mark.parametrize(
    "obj, kind",
    [
        (FullyConnected, "model"),
        (FullyConnected(), "model"),
        (lambda: FullyConnectedDropout(dropout_prob=0.5), "model"),
        (LassoLoss, "loss"),
        (my_models.MyL2Loss, "loss"),
        (lasso_without_abs, "loss"),
        (lambda model: RidgeLoss(nn.CrossEntropyLoss(), model), "loss"),
        (digit_train_transform, "transform"),
        (my_models.mirror_augment, "transform"),
        (lambda img: img, "transform"),
        (CONFIGS["l1"], "config"),
    ],
)
def test_kind_is_told_by_inspection(obj, kind):
    """Classes, factories, notebook-style losses, model -> loss callables and transforms (or their factories)."""
    assert checks.kind_of(obj) == kind


@pytest.mark.parametrize("obj", [l1_norm, lambda a, b: a, 42], ids=["l1_norm", "two-args", "int"])
def test_an_object_that_does_not_say_what_it_is_is_refused(obj):
    with pytest.raises(CheckUsageError, match="--kind|not a model"):
        checks.kind_of(obj)


def test_report_renders_as_json_and_table():
    report = checks.check_model(FullyConnectedDropout)
    doc = json.loads(report.to_json())
    assert doc["kind"] == "model" and doc["ok"] is True
    assert {r["status"] for r in doc["results"]} == {"passed", "not_applicable"}
    assert all({"invariant", "status", "explanation", "observed", "counterexample"} <= set(r) for r in doc["results"])
    table = report.render()
    assert (
        "ok    eval_deterministic" in table
        and "n/a   batchnorm_rejects_batch_of_one" in table
        and "5 passed, 0 failed, 3 not applicable" in table
    )


# --------------------------------------------------------------------------------------- whole configs


def test_a_config_is_checked_part_by_part_in_one_report():
    """augment-flip: its model passes, it has no loss, and both of its flips (batch and PIL) fail label preservation."""
    report = checks.check_config(CONFIGS["augment-flip"], max_examples=5)
    got = statuses(report)
    assert (
        report.kind == "config"
        and report.subject == "augment-flip"
        and report.settings["hash"] == CONFIGS["augment-flip"].hash
    )
    assert set(got) == set(checks.INVARIANTS["config"])
    assert {k: v for k, v in got.items() if v == "failed"} == {
        "augment.label_preservation": "failed",
        "transform.label_preservation": "failed",
    }
    assert got["model.eval_deterministic"] == "passed" and got["loss.penalty_non_negative"] == "not_applicable"
    assert (
        got["augment.reproducible_under_seed"] == "passed"
    )  # the batch augmentation honours the generator it is given


def test_a_configs_loss_is_checked_on_its_own_model_with_its_own_arguments():
    """The max-norm example passes every loss invariant; a config whose penalty reaches biases fails exactly that
    one.
    """
    assert (
        statuses(checks.check_config(my_regularizers.MAXNORM, max_examples=5))["loss.penalty_skips_biases_and_1d"]
        == "passed"
    )
    leaky = Config(name="leaky", model=my_models.MyNet, loss=my_models.L2OnEverything)
    report = checks.check_config(leaky, max_examples=10)
    assert [r.invariant for r in report.failures] == ["loss.penalty_skips_biases_and_1d"]


def adamw_on_everything(params, lr, weight_decay=0.1):
    """A user's optimizer factory that flattens the parameter groups regbench passes: biases get decayed."""
    return torch.optim.AdamW([p for group in params for p in group["params"]], lr=lr, weight_decay=weight_decay)


class SmoothingToOthers(nn.Module):
    """Label smoothing that spreads eps over the other classes only, and so is not cross-entropy on (1 - eps) one-hot
    + eps / C.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.eps = label_smoothing

    def forward(self, logits, targets):
        q = torch.full_like(logits, self.eps / (logits.shape[1] - 1)).scatter(1, targets[:, None], 1 - self.eps)
        return -(q * F.log_softmax(logits, 1)).sum(1).mean()


@pytest.mark.parametrize(
    "config, failing",
    [
        (CONFIGS["adamw"], []),
        (CONFIGS["label-smoothing"], []),
        (
            Config(name="flat-adamw", model=FullyConnectedBatchNorm, optimizer=adamw_on_everything),
            ["optimizer.weight_decay_skips_biases_and_1d"],
        ),
        (
            Config(
                name="others",
                model=FullyConnected,
                criterion=SmoothingToOthers,
                criterion_args={"label_smoothing": 0.1},
            ),
            ["criterion.smoothing_is_cross_entropy_on_smoothed_targets"],
        ),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_a_configs_optimizer_and_criterion_are_checked_where_they_apply(config, failing):
    """Weight decay must follow the penalty rule; a label-smoothed criterion must be cross-entropy on the smoothed
    targets.
    """
    report = checks.check_config(config, max_examples=10)
    assert [r.invariant for r in report.failures] == failing
    applied = {
        k for k, v in statuses(report).items() if k.startswith(("optimizer.", "criterion.")) and v != "not_applicable"
    }
    assert applied == (
        {"optimizer.weight_decay_skips_biases_and_1d"}
        if "adamw" in config.name
        else {"criterion.smoothing_zero_is_cross_entropy", "criterion.smoothing_is_cross_entropy_on_smoothed_targets"}
    )


def test_a_module_of_configs_gives_one_report_per_config(in_repo, capsys):
    """`regbench check examples.my_regularizers:CONFIGS`: the file a run benchmarks is the file checked."""
    assert main(["check", "examples.my_regularizers:CONFIGS", "--max-examples", "5"]) == 0
    out = capsys.readouterr().out
    for name in ("dropconnect", "maxnorm", "cnn"):
        assert (
            f"examples.my_regularizers:CONFIGS[{name}] (config; hash {getattr(my_regularizers, name.upper()).hash}"
            in out
        )


# --------------------------------------------------------------------------------------- command line


@pytest.fixture
def in_repo(monkeypatch):
    """Run from the repository root (where examples/ is), with sys.path restored afterwards."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_cli_prints_tables_and_exits_1_on_a_failure(in_repo, capsys):
    assert main(["check", "examples.my_models:MyNet"]) == 0
    assert (
        main(["check", "examples.my_models:MyNet", "examples.my_models:LeakyDropoutNet", "--max-examples", "10"]) == 1
    )
    out = capsys.readouterr().out
    assert (
        "examples.my_models:LeakyDropoutNet (model" in out
        and "FAIL  dropout_identity_in_eval" in out
        and "counterexample:" in out
    )


def test_cli_json_and_options(in_repo, capsys):
    """--json for machines; --model for a loss; --kind skips the inspection; --input-shape for other inputs."""
    code = main(
        [
            "check",
            "examples.my_models:MyL2Loss",
            "examples.my_models:L2OnEverything",
            "--model",
            "examples.my_models:MyNet",
            "--json",
            "--max-examples",
            "10",
        ]
    )
    reports = json.loads(capsys.readouterr().out)
    assert code == 1 and [r["ok"] for r in reports] == [True, False]
    assert reports[1]["subject"] == "examples.my_models:L2OnEverything" and reports[1]["settings"]["models"] == "yours"
    assert main(["check", "regbench.augment:test_transform", "--kind", "transform"]) == 0
    assert main(["check", "examples.my_models:ColourNet", "--input-shape", "3,8,8", "--max-examples", "5"]) == 0


@pytest.mark.parametrize(
    "target, message",
    [
        ("no_such_module:Net", "module 'no_such_module' not found on the current directory or PYTHONPATH"),
        ("examples.my_models:Nope", "has no attribute 'Nope'"),
        ("examples.my_models", "is not MODULE:ATTRIBUTE"),
        ("regbench.losses:l1_norm", "cannot tell what regbench.losses:l1_norm(params) is"),
        ("examples.my_models:ColourNet", "--input-shape"),
    ],
)
def test_cli_usage_errors_are_one_line(in_repo, capsys, target, message):
    """Exit 2 with one line naming the problem, no traceback."""
    assert main(["check", target]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_console_script_finds_modules_in_the_current_directory(tmp_path):
    """`regbench check mine:Net` from the folder holding mine.py, as pytest finds tests."""
    (tmp_path / "mine.py").write_text("from regbench.models import FullyConnectedBatchNorm as Net\n")
    script = Path(sys.executable).with_name("regbench")
    done = subprocess.run(
        [str(script), "check", "mine:Net", "--max-examples", "5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mine:Net (model" in done.stdout and "5 passed, 0 failed, 3 not applicable" in done.stdout


def test_a_factory_handing_out_one_shared_model_leaves_it_alone():
    """Even `lambda: model` gets copied: no gradient, parameter or mode change reaches the user's instance."""
    model = my_models.MyNet().train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    checks.check_model(lambda: model, max_examples=5)
    checks.check_loss(my_models.L2OnEverything, model=lambda: model, max_examples=5)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
