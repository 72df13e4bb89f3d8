"""The stacked engine: every member follows the run it stands for, and what it stacks is read off the built objects."""

import statistics

import pytest
import torch
from torch import nn

from examples.my_regularizers import CNN, MAXNORM
from regbench import losses, models
from regbench.configs import CONFIGS, Config
from regbench.data import Split, embedded_digits, small_data_split
from regbench.experiment import Cell, Settings, prepare, run_one
from regbench.stacked import MemberPlan, StackedMLP, plan, run_group

# Float tolerance for one member vs its lone run. Both do the same arithmetic, but through batched
# kernels (bmm vs mm) whose summation order differs, so values agree to float32 rounding (~1e-7
# observed); 1e-5 leaves room for that to accumulate over the epochs here and nothing more.
TOLERANCE = 1e-5
# BatchNorm makes linear_1's bias a parameter with zero true gradient: Adam normalizes its pure
# rounding-noise gradient into steps of ~lr, so that bias (and the running mean that follows it)
# drift apart at the 1e-3 level between any two kernels. Train-mode values are unaffected; eval
# values, which use the running mean, agree to this looser tolerance.
BATCHNORM_EVAL_TOLERANCE = 2e-3
PLAIN = ["baseline", "l1", "l2", "mixed", "elasticnet", "dropout", "augment", "augment-flip", "label-smoothing"]
TRAIN_KEYS = ("train_loss", "train_penalty", "train_accuracy")
VAL_KEYS = ("val_loss", "val_penalty", "val_accuracy")


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 8, 8)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def max_history_gap(a, b, keys: tuple[str, ...]) -> float:
    """Largest absolute difference over the epochs of the named history entries."""
    return max(abs(x[k] - y[k]) for x, y in zip(a.history, b.history, strict=True) for k in keys)


def test_every_member_follows_its_lone_run(tiny_split, device):
    """All plain and dropout configs in one stack, two seeds each: histories and results match run_one.

    On the CPU dropout members draw their masks exactly as lone runs do, so they are compared on
    everything; on CUDA, lone dropout uses a fused kernel of its own, so only the penalty is.
    """
    settings = Settings(epochs=2, batch_size=16, device=device.type)
    cells = [Cell(CONFIGS[c], s) for c in PLAIN for s in (0, 1)]
    smoothing = [
        c for c in cells if c.config.name == "label-smoothing"
    ]  # a stack has one label smoothing: it trains apart
    stacked = run_group([c for c in cells if c not in smoothing], tiny_split, settings) + run_group(
        smoothing, tiny_split, settings
    )
    cells = [c for c in cells if c not in smoothing] + smoothing
    compared_fully = 0
    for cell, record in zip(cells, stacked):
        assert (record.execution, record.engine, record.config_hash) == ("sweep", "fast", cell.config.hash)
        alone = run_one(cell.config, cell.seed, tiny_split, settings, progress=False)
        exact = device.type == "cpu" or cell.config.name != "dropout"
        keys = TRAIN_KEYS + VAL_KEYS if exact else ("train_penalty",)
        assert max_history_gap(alone, record, keys) < TOLERANCE, cell
        if exact:
            compared_fully += 1
            assert record.measurement.test_accuracy == pytest.approx(alone.measurement.test_accuracy, abs=TOLERANCE)
            assert record.measurement.sparsity == pytest.approx(alone.measurement.sparsity, abs=TOLERANCE)
            assert record.measurement.mean_abs_weight["all"] == pytest.approx(
                alone.measurement.mean_abs_weight["all"], rel=1e-4
            )
    assert compared_fully == len(cells) if device.type == "cpu" else compared_fully == len(cells) - 2


def test_a_member_s_samples_per_second_means_a_lone_run_s(tiny_split):
    """A member's time is its share of the stack's (the stack's epoch time over its members): samples/s is then the
    stack's
    throughput, as a lone run's is its own; a member charged the whole stack's time would look members-times slower than
    it is.
    """
    settings = Settings(epochs=3, batch_size=16)
    cells = [Cell(CONFIGS["l1"], k) for k in range(4)]
    records = run_group(cells, tiny_split, settings)
    assert len({tuple(r.epoch_seconds) for r in records}) == 1 and len(records[0].epoch_seconds) == 3
    stack_epoch = [4 * s for s in records[0].epoch_seconds]  # what the stack spent on each epoch
    for r in records:
        assert r.train_seconds == pytest.approx(sum(stack_epoch) / 4)
        assert r.samples_per_second == pytest.approx(4 * len(tiny_split.train) / statistics.median(stack_epoch[1:]))


def _batchnorm_eps_1e3() -> nn.Module:
    """The notebook's BatchNorm MLP with another eps and momentum: the stacked engine must read them, not assume
    them.
    """
    model = models.FullyConnectedBatchNorm()
    model.bn_1.eps, model.bn_1.momentum = 1e-3, 0.3
    return model


@pytest.mark.parametrize(
    "config", [CONFIGS["batchnorm"], Config(name="bn-eps", model=_batchnorm_eps_1e3)], ids=lambda c: c.name
)
def test_batchnorm_members_keep_their_own_running_statistics(tiny_split, device, config):
    """Two BatchNorm members: train values match tightly, eval values (running statistics) within the drift bound."""
    settings = Settings(epochs=2, batch_size=16, device=device.type)
    cells = [Cell(config, s) for s in (0, 1)]
    for cell, record in zip(cells, run_group(cells, tiny_split, settings)):
        alone = run_one(cell.config, cell.seed, tiny_split, settings, progress=False)
        assert max_history_gap(alone, record, TRAIN_KEYS) < TOLERANCE
        assert max_history_gap(alone, record, ("val_loss",)) < BATCHNORM_EVAL_TOLERANCE


def test_the_comparison_can_fail(tiny_split):
    """A member compared with another seed's lone run differs far beyond the tolerance."""
    settings = Settings(epochs=1, batch_size=16)
    record = run_group([Cell(CONFIGS["dropout"], 0)], tiny_split, settings)[0]
    other = run_one(CONFIGS["dropout"], 1, tiny_split, settings, progress=False)
    assert max_history_gap(other, record, TRAIN_KEYS) > 100 * TOLERANCE


def _plan(config: Config, split: Split, **settings) -> MemberPlan | str:
    return plan(prepare(config, 0, split, Settings(**settings)))


def test_plans_are_read_off_the_built_objects(tiny_split):
    """Lambdas per layer from the loss terms, the rate from the Dropout module, lr and betas from the optimizer."""
    for name, (l1, l2) in {
        "baseline": ((0, 0), (0, 0)),
        "l1": ((1e-4, 1e-4), (0, 0)),
        "l2": ((0, 0), (1e-3, 1e-3)),
        "mixed": ((0, 1e-4), (1e-3, 0)),
        "elasticnet": ((1e-4, 1e-4), (1e-3, 1e-3)),
    }.items():
        member = _plan(CONFIGS[name], tiny_split)
        assert (member.l1, member.l2) == (l1, l2), name
    dropout = Config(name="d5", model=models.FullyConnectedDropout, model_args={"dropout_prob": 0.5, "hidden_size": 7})
    member = _plan(dropout, tiny_split, lr=0.01)
    assert (
        member.dropout == 0.5
        and member.architecture.sizes == (784, 7, 10)
        and member.architecture.adam == (0.01, (0.9, 0.999), 1e-8)
    )
    slow = Config(name="betas", model=models.FullyConnected, optimizer_args={"betas": (0.5, 0.9)})
    assert _plan(slow, tiny_split).architecture.adam[1] == (0.5, 0.9)


class _OwnForward(models.FullyConnected):
    """A subclass may compute anything: only the exact notebook classes are stacked."""


class _Doubled(losses.LassoLoss):
    def penalty(self) -> torch.Tensor:
        return 2 * super().penalty()


def _global_rng_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Noise from torch's global RNG, ignoring the generator it is given."""
    return (images + 0.1 * torch.rand_like(images)).clamp(0, 1)


def _noise_augment() -> object:
    return _global_rng_augment


@pytest.mark.parametrize(
    "config, reason",
    [
        (CNN, "the model is SmallCNN"),
        (Config(name="sub", model=_OwnForward), "the model is _OwnForward"),
        (MAXNORM, "the max-norm penalty term is not regbench's L1 or squared-L2 norm"),
        (Config(name="doubled", model=models.FullyConnected, loss=_Doubled), "_Doubled overrides PenaltyLoss.penalty"),
        (
            Config(name="summed", model=models.FullyConnected, criterion_args={"reduction": "sum"}),
            "not cross-entropy with mean reduction",
        ),
        (
            Config(name="wd", model=models.FullyConnected, optimizer_args={"weight_decay": 1e-4}),
            "Adam with weight decay",
        ),
        (Config(name="sgd", model=models.FullyConnected, optimizer=torch.optim.SGD), "the optimizer is SGD"),
        (Config(name="noise", model=models.FullyConnected, augment=_noise_augment), "draws from torch's global RNG"),
    ],
)
def test_what_cannot_be_stacked_exactly_gets_a_reason(tiny_split, config, reason):
    """Another model, loss, criterion, optimizer or an augmentation a member could not replay: a reason, and
    one-by-one training.
    """
    member = _plan(config, tiny_split)
    assert isinstance(member, str) and reason in member


def test_a_stack_needs_one_architecture(tiny_split):
    """BatchNorm and plain members have different parameters and cannot be stacked."""
    runs = [prepare(CONFIGS[name], 0, tiny_split, Settings()) for name in ("baseline", "batchnorm")]
    with pytest.raises(ValueError, match="one architecture"):
        StackedMLP(runs, [plan(r) for r in runs], [torch.Generator(), torch.Generator()], torch.device("cpu"))


def _shifted(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A user's batch augmentation that draws from the generator it is given: each image rolled by up to 2 pixels."""
    shifts = torch.randint(-2, 3, (len(images), 2), generator=generator)
    return torch.stack([torch.roll(image, tuple(s.tolist()), dims=(-2, -1)) for image, s in zip(images, shifts)])


def _shift_augment() -> object:
    return _shifted


def test_a_users_augmentation_is_replayed(tiny_split):
    """The stacked engine trains each member on its own built loader, so any augmentation honouring its generator
    replays exactly.
    """
    shifted = Config(name="shift", model=models.FullyConnectedDropout, augment=_shift_augment)
    assert isinstance(_plan(shifted, tiny_split), MemberPlan)
    settings = Settings(epochs=1, batch_size=16)
    records = run_group([Cell(shifted, 3), Cell(CONFIGS["augment"], 3)], tiny_split, settings)
    for record, config in zip(records, (shifted, CONFIGS["augment"])):
        assert (
            max_history_gap(run_one(config, 3, tiny_split, settings, progress=False), record, TRAIN_KEYS + VAL_KEYS)
            < TOLERANCE
        )
