"""FullyConnectedBatchNorm beyond the checks engine (test_invariants.py): train mode normalizes each batch and updates
running statistics by the momentum rule; a batch of 1 in train mode is refused clearly.

The checks read bn_1's input and output through forward hooks, so they see the normalization
itself rather than what is left of it after the ReLU.
"""

from __future__ import annotations

import torch
from hypothesis import assume, given

from properties.support import assert_values_close, seeded, trained_state
from regbench.checks import strategies as gen
from regbench.models import FullyConnectedBatchNorm

CASES = gen.model_cases(kinds=("batchnorm",), min_batch=2)
TRAIN_INPUTS = dict(case=CASES)
RUNNING_INPUTS = dict(case=CASES, momentum=gen.momenta())
SINGLE_INPUTS = dict(case=gen.model_cases(kinds=("batchnorm",), min_batch=1, max_batch=1))

# Normalized values are computed in float32 from pre-activations |z| <~ 6 over <= 12 samples, so
# their batch mean and variance carry errors of a few 1e-6; 1e-4 leaves room for CUDA's different
# reductions. The mutants are off by 1/N >= 1/12 (unbiased normalization) or by O(1).
TOLERANCE = 1e-4
# Only features whose batch variance dwarfs eps are expected to have variance 1 (it is
# s^2 / (s^2 + eps) in general); below this the float32 variance is mostly rounding.
WELL_SPREAD = 1e-2


class Recorder:
    """Forward hook keeping bn_1's last input and output."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.input = self.output = None
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        self.input, self.output = inputs[0].detach(), output.detach()


def check_train_normalizes_batch(model_class, device, *, case: gen.ModelCase) -> None:
    """Train mode: (output - beta) / gamma has per-feature mean 0 and biased variance s^2/(s^2+eps), about 1."""
    model = trained_state(case.spec.build(model_class, device), case.spec, device).train()
    record = Recorder(model.bn_1)
    with torch.no_grad():
        model(case.inputs.to(device))
    bn = model.bn_1
    z, normalized = record.input.double(), ((record.output - bn.bias) / bn.weight).double()
    spread = z.var(0, unbiased=False)
    assert_values_close(
        normalized.mean(0), torch.zeros_like(spread), rtol=0, atol=10 * TOLERANCE, what="normalized batch mean is not 0"
    )
    wide = spread > WELL_SPREAD
    assume(wide.any())
    expected = spread / (spread + bn.eps)
    assert_values_close(
        normalized.var(0, unbiased=False)[wide],
        expected[wide],
        rtol=0,
        atol=TOLERANCE,
        what="normalized (biased) batch variance is not 1",
    )


def check_running_statistics(model_class, device, *, case: gen.ModelCase, momentum: float) -> None:
    """Train mode: running = (1 - m) * running + m * batch statistic, with the unbiased batch variance."""
    model = case.spec.build(model_class, device).train()
    bn = model.bn_1
    bn.momentum = momentum
    with torch.no_grad(), seeded(case.spec.seed, device):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    old_mean, old_var = bn.running_mean.clone().double(), bn.running_var.clone().double()
    record = Recorder(bn)
    with torch.no_grad():
        model(case.inputs.to(device))
    z = record.input.double()
    expected_mean = (1 - momentum) * old_mean + momentum * z.mean(0)
    expected_var = (1 - momentum) * old_var + momentum * z.var(0, unbiased=True)
    assert_values_close(
        bn.running_mean.double(), expected_mean, rtol=TOLERANCE, atol=1e-5, what="running mean breaks the momentum rule"
    )
    assert_values_close(
        bn.running_var.double(),
        expected_var,
        rtol=TOLERANCE,
        atol=1e-5,
        what="running variance is not the momentum average of the unbiased batch variance",
    )


def check_single_sample_refused(model_class, device, *, case: gen.ModelCase) -> None:
    """Train mode with one sample raises a ValueError that says why and what to do; eval mode accepts it."""
    model = case.spec.build(model_class, device).train()
    x = case.inputs.to(device)
    try:
        model(x)
    except ValueError as error:
        message = str(error)
    else:
        raise AssertionError("a batch of 1 in train mode did not raise")
    assert "at least 2" in message and "eval()" in message, f"unclear error for a batch of 1: {message!r}"
    assert model.eval()(x).shape == (1, case.spec.output_size)


@given(**TRAIN_INPUTS)
def test_train_normalizes_each_batch(device, case):
    """What BatchNorm promises the next layer: zero-mean, unit-variance inputs per feature."""
    check_train_normalizes_batch(FullyConnectedBatchNorm, device, case=case)


@given(**RUNNING_INPUTS)
def test_running_statistics_follow_momentum_rule(device, case, momentum):
    """The running estimates that eval mode uses are PyTorch's documented update."""
    check_running_statistics(FullyConnectedBatchNorm, device, case=case, momentum=momentum)


@given(**SINGLE_INPUTS)
def test_batch_of_one_in_train_mode_is_refused(device, case):
    """A last batch of 1 is a common accident; the error must name the fix."""
    check_single_sample_refused(FullyConnectedBatchNorm, device, case=case)
