"""The sweep engine: every member follows the run it stands for, trained alone with the same seed."""

import pytest
import torch

from regbench.configs import CONFIGS
from regbench.data import Split, embedded_digits, small_data_split
from regbench.experiment import Settings, run_one
from regbench.sweep import Member, StackedMLP, _layer_lambdas, choose_execution, run_group, run_matrix

# Float tolerance for one member vs its lone run. Both do the same arithmetic, but through batched
# kernels (bmm vs mm) whose summation order differs, so values agree to float32 rounding (~1e-7
# observed); 1e-5 leaves room for that to accumulate over the epochs here and nothing more.
TOLERANCE = 1e-5
# BatchNorm makes linear_1's bias a parameter with zero true gradient: Adam normalizes its pure
# rounding-noise gradient into steps of ~lr, so that bias (and the running mean that follows it)
# drift apart at the 1e-3 level between any two kernels. Train-mode values are unaffected; eval
# values, which use the running mean, agree to this looser tolerance.
BATCHNORM_EVAL_TOLERANCE = 2e-3
PLAIN = ["baseline", "l1", "l2", "mixed", "elasticnet", "dropout", "augment", "augment-flip"]


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 8, 8)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def max_history_gap(a: dict, b: dict, keys: tuple[str, ...]) -> float:
    """Largest absolute difference over the epochs of the named history entries."""
    return max(abs(x[k] - y[k]) for x, y in zip(a["history"], b["history"], strict=True) for k in keys)


TRAIN_KEYS = ("train_loss", "train_penalty", "train_accuracy")
VAL_KEYS = ("val_loss", "val_penalty", "val_accuracy")


def test_every_member_follows_its_lone_run(tiny_split, device):
    """All plain and dropout configs in one sweep, two seeds each: histories and results match run_one."""
    settings = Settings(epochs=2, batch_size=16, device=device)
    members = [Member(CONFIGS[c], s) for c in PLAIN for s in (0, 1)]
    swept = run_group(members, tiny_split, settings)
    for member, record in zip(members, swept):
        alone = run_one(member.config, member.seed, tiny_split, settings, progress=False)
        exact = device == "cpu" or member.config.model != "dropout"  # CUDA dropout uses a fused kernel of its own
        keys = TRAIN_KEYS + VAL_KEYS if exact else ("train_penalty",)
        assert max_history_gap(alone, record, keys) < TOLERANCE, member
        if exact:
            assert record["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=TOLERANCE)
            assert record["sparsity"] == pytest.approx(alone["sparsity"], abs=TOLERANCE)
            assert record["mean_abs_weight"]["all"] == pytest.approx(alone["mean_abs_weight"]["all"], rel=1e-4)


def test_batchnorm_members_keep_their_own_running_statistics(tiny_split, device):
    """Two BatchNorm members: train values match tightly, eval values (running statistics) within the drift bound."""
    settings = Settings(epochs=2, batch_size=16, device=device)
    members = [Member(CONFIGS["batchnorm"], s) for s in (0, 1)]
    for member, record in zip(members, run_group(members, tiny_split, settings)):
        alone = run_one(member.config, member.seed, tiny_split, settings, progress=False)
        assert max_history_gap(alone, record, TRAIN_KEYS) < TOLERANCE
        assert max_history_gap(alone, record, ("val_loss",)) < BATCHNORM_EVAL_TOLERANCE


def test_the_comparison_can_fail(tiny_split):
    """A member compared with another seed's lone run differs far beyond the tolerance."""
    settings = Settings(epochs=1, batch_size=16)
    record = run_group([Member(CONFIGS["dropout"], 0)], tiny_split, settings)[0]
    other = run_one(CONFIGS["dropout"], 1, tiny_split, settings, progress=False)
    assert max_history_gap(other, record, TRAIN_KEYS) > 100 * TOLERANCE


def test_lambdas_are_read_off_the_losses():
    """Per-layer lambdas come from the built loss: mixed is Ridge on linear_1 and Lasso on linear_2."""
    for name, (l1, l2) in {
        "baseline": ([0, 0], [0, 0]), "l1": ([1e-4, 1e-4], [0, 0]), "l2": ([0, 0], [1e-3, 1e-3]),
        "mixed": ([0, 1e-4], [1e-3, 0]), "elasticnet": ([1e-4, 1e-4], [1e-3, 1e-3]),
    }.items():
        model = CONFIGS[name].build_model()
        assert _layer_lambdas(CONFIGS[name].build_loss(model), model) == (l1, l2), name


def test_a_sweep_needs_one_architecture():
    """BatchNorm and plain members have different parameters and cannot be stacked."""
    with pytest.raises(ValueError, match="one architecture"):
        StackedMLP([Member(CONFIGS["baseline"], 0), Member(CONFIGS["batchnorm"], 0)], torch.device("cpu"))


def test_run_matrix_orders_records_and_reports_its_choice(tiny_split):
    """Records come back in (config, seed) order whichever execution ran; auto records its timings."""
    configs = [CONFIGS["batchnorm"], CONFIGS["l1"]]
    settings = Settings(epochs=1, batch_size=16)
    forced, chosen = run_matrix(configs, 2, tiny_split, settings, execution="sweep")
    assert [(r["config"], r["seed"]) for r in forced] == [("batchnorm", 0), ("batchnorm", 1), ("l1", 0), ("l1", 1)]
    assert chosen == {"batchnorm": {"choice": "sweep", "members": 2}, "mlp": {"choice": "sweep", "members": 2}}
    decision = choose_execution([Member(CONFIGS["l1"], 0), Member(CONFIGS["l2"], 0)], tiny_split, settings)
    assert decision["choice"] in ("sweep", "single") and set(decision["probe_train_seconds"]) == {"sweep", "single"}
    with pytest.raises(ValueError, match="unknown execution"):
        run_matrix(configs, 1, tiny_split, settings, execution="parallel")
