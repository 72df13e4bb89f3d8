"""Label smoothing (Szegedy et al. 2016): cross-entropy against targets (1 - eps) one-hot + eps / C. At eps = 0 it is
plain cross-entropy, it equals cross-entropy on the smoothed targets, and it never falls below their entropy."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from properties import strategies as gen
from regbench.configs import Config
from regbench.models import FullyConnected


def smoothed(label_smoothing: float) -> torch.nn.Module:
    """The criterion regbench builds for a config with criterion_args={"label_smoothing": eps}."""
    return Config(name="smooth", model=FullyConnected, criterion_args={"label_smoothing": label_smoothing}).build_criterion()


@st.composite
def logit_batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) float64 logits on a wide scale (confident and uncertain rows) and class targets."""
    n, c = draw(st.integers(1, 8)), draw(st.integers(2, 12))
    logits = draw(gen.tensors((n, c), elements=st.floats(-30, 30, width=32))).double()
    targets = torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return logits, targets


ZERO_INPUTS = dict(batch=logit_batches())
SMOOTH_INPUTS = dict(batch=logit_batches(), eps=st.floats(0.0, 1.0))


def _targets(targets: torch.Tensor, classes: int, eps: float) -> torch.Tensor:
    """(1 - eps) one-hot + eps / C, written out."""
    return (1 - eps) * F.one_hot(targets, classes).double() + eps / classes


def check_zero_is_cross_entropy(criterion_factory, device, *, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    """eps = 0 gives F.cross_entropy exactly: smoothing off is the notebook's criterion."""
    logits, targets = (t.to(device) for t in batch)
    torch.testing.assert_close(criterion_factory(0.0)(logits, targets), F.cross_entropy(logits, targets), rtol=1e-12, atol=1e-12)


@given(**ZERO_INPUTS)
def test_zero_smoothing_is_cross_entropy(device, batch):
    check_zero_is_cross_entropy(smoothed, device, batch=batch)


def check_smoothed_targets(criterion_factory, device, *, batch: tuple[torch.Tensor, torch.Tensor], eps: float) -> None:
    """The loss is the mean cross-entropy -sum(q log softmax(z)) against the smoothed targets q, and at least their entropy H(q)."""
    logits, targets = (t.to(device) for t in batch)
    classes = logits.shape[1]
    q = _targets(targets, classes, eps)
    loss = criterion_factory(eps)(logits, targets)
    torch.testing.assert_close(loss, -(q * F.log_softmax(logits, 1)).sum(1).mean(), rtol=1e-9, atol=1e-9,
                               msg=lambda m: f"at eps={eps}: not cross-entropy against (1 - eps) one-hot + eps / C: {m}")
    entropy = -(q * torch.log(q.clamp_min(1e-300))).sum(1).mean()
    assert float(loss) >= float(entropy) - 1e-9 * max(1.0, math.fabs(float(entropy))), \
        f"at eps={eps} the loss {float(loss):.6g} is below the smoothed targets' entropy {float(entropy):.6g}: cross-entropy is H(q) + KL(q||p) >= H(q)"


@given(**SMOOTH_INPUTS)
def test_smoothing_is_cross_entropy_on_smoothed_targets(device, batch, eps):
    """What the regularizer is: overconfident logits cost more, and no logits beat the targets' own entropy."""
    check_smoothed_targets(smoothed, device, batch=batch, eps=eps)
