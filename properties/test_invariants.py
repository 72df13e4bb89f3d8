"""regbench's own components through the checks engine: every invariant ``regbench check`` runs on a user's component
runs
here on regbench's models (generated widths, dropout rates and seeds; BatchNorm with trained statistics), penalty
losses,
transforms, optimizers and label-smoothed criterion. test_mutations.py runs the same invariants on mutants, one at a
time,
so each can be seen to fail.

Each example draws one component and checks every invariant that applies to it, as ``regbench check`` reports them, so
the component is built (and its modules inspected) once per example, not once per invariant.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties.budget import statistical
from properties.support import config_with, drawn_model, penalty_losses
from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.checks.configs import CRITERION_INVARIANTS, OPTIMIZER_INVARIANTS
from regbench.checks.engine import Invariant
from regbench.checks.statistics import PROPERTY_ALPHA
from regbench.checks.losses import LOSS_INVARIANTS, loss_subject
from regbench.checks.models import MODEL_INVARIANTS
from regbench.checks.transforms import TRANSFORM_INVARIANTS, transform_subject
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout

MODELS = {"plain": FullyConnected, "dropout": FullyConnectedDropout, "batchnorm": FullyConnectedBatchNorm}
EVERY_MODEL = ("eval_deterministic", "batch_independent_in_eval", "eval_keeps_state")
# what the engine must find applicable to each of regbench's models (batch_independent_in_train: none has a per-sample
# norm)
APPLIES = {
    "plain": {*EVERY_MODEL},
    "dropout": {*EVERY_MODEL, "dropout_identity_in_eval", "dropout_train_statistics"},
    "batchnorm": {*EVERY_MODEL, "batchnorm_tracks_running_stats", "batchnorm_rejects_batch_of_one"},
}
LOSSES = penalty_losses()
TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform, "test": test_transform}
SEARCHED_TRANSFORM_INVARIANTS = (
    "output_shape_dtype_range",
    "reproducible_under_seed",
)  # label preservation: tests/test_checks.py


def hold(invariants: Mapping[str, Invariant], names: Iterable[str], subject: Any, data: st.DataObject) -> None:
    """Each named invariant on one subject, its inputs drawn from ``data``."""
    for name in sorted(names):
        invariants[name].holds(subject, data)


@statistical(
    alpha=PROPERTY_ALPHA
)  # dropout_train_statistics, on the "dropout" kind only: one binomial test per example (split over its layers)
@pytest.mark.parametrize("kind", MODELS)
@given(data=st.data())
def test_model_invariants(device, kind, data):
    """What users deploy must not depend on the batch or the call, and dropout and BatchNorm must be what they claim."""
    subject = drawn_model(MODELS[kind], kind, device, data)
    applicable = {name for name, invariant in MODEL_INVARIANTS.items() if invariant.applies(subject) is None}
    assert applicable == APPLIES[kind], f"the engine finds {sorted(applicable)} applicable to {subject.prototype!r}"
    hold(MODEL_INVARIANTS, applicable, subject, data)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@given(data=st.data())
def test_loss_invariants(device, loss, data):
    """lambda = 0 is the baseline every comparison starts from, lambda scales a non-negative penalty, and no penalty
    touches a bias.
    """
    hold(LOSS_INVARIANTS, LOSS_INVARIANTS, loss_subject(LOSSES[loss], device=device), data)


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@given(data=st.data())
def test_transform_invariants(transform, data):
    """Every transform gives the model ToTensor's images, and a seed repeats a run."""
    hold(TRANSFORM_INVARIANTS, SEARCHED_TRANSFORM_INVARIANTS, transform_subject(TRANSFORMS[transform]), data)


@pytest.mark.parametrize("optimizer", (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW), ids=lambda o: o.__name__)
@given(data=st.data())
def test_weight_decay_invariants(optimizer, data):
    """Whatever optimizer a config names, its weight decay follows the penalty rule (regbench builds its parameter
    groups).
    """
    hold(
        OPTIMIZER_INVARIANTS,
        OPTIMIZER_INVARIANTS,
        config_with("optimizer", optimizer, optimizer_args={"weight_decay": 1.0}),
        data,
    )


@given(data=st.data())
def test_label_smoothing_invariants(data):
    """Label smoothing off is the notebook's criterion; on, it is cross-entropy against the smoothed targets."""
    hold(
        CRITERION_INVARIANTS,
        CRITERION_INVARIANTS,
        config_with("criterion", nn.CrossEntropyLoss, criterion_args={"label_smoothing": 0.1}),
        data,
    )
