"""regbench's own components through the checks engine: every invariant ``regbench check`` runs on a user's component runs
here on regbench's models (generated widths, dropout rates and seeds; BatchNorm with trained statistics), penalty losses,
transforms and label-smoothed criterion. test_mutations.py runs the same checks on mutants, so each can be seen to fail.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties.support import config_check, loss_check, model_check, penalty_losses, transform_check
from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.checks.configs import CRITERION_INVARIANTS
from regbench.checks.losses import LOSS_INVARIANTS
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout

MODELS = {"plain": FullyConnected, "dropout": FullyConnectedDropout, "batchnorm": FullyConnectedBatchNorm}
# Which of regbench's models each model invariant applies to. batch_independent_in_train applies to none (no per-sample
# normalization); tests/test_components.py runs it on stock GroupNorm and LayerNorm blocks.
MODEL_CASES = [
    *[("eval_deterministic", kind) for kind in MODELS],
    ("dropout_identity_in_eval", "dropout"),
    ("dropout_train_statistics", "dropout"),
    *[("batch_independent_in_eval", kind) for kind in MODELS],
    ("batchnorm_tracks_running_stats", "batchnorm"),
    ("batchnorm_rejects_batch_of_one", "batchnorm"),
    *[("eval_keeps_state", kind) for kind in MODELS],
]
LOSSES = penalty_losses()
TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform, "test": test_transform}


@pytest.mark.parametrize("invariant, kind", MODEL_CASES)
@given(data=st.data())
def test_model_invariant(device, invariant, kind, data):
    """What users deploy must not depend on the batch or the call, and dropout must be what it claims, in every model."""
    model_check(invariant, kind)(MODELS[kind], device, data=data)


@pytest.mark.parametrize("invariant", LOSS_INVARIANTS)
@pytest.mark.parametrize("loss", sorted(LOSSES))
@given(data=st.data())
def test_loss_invariant(device, loss, invariant, data):
    """lambda = 0 is the baseline every comparison starts from, lambda scales the penalty, and no penalty touches a bias."""
    loss_check(invariant)(LOSSES[loss], device, data=data)


@pytest.mark.parametrize("invariant", ("output_shape_dtype_range", "reproducible_under_seed"))
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@given(data=st.data())
def test_transform_invariant(transform, invariant, data):
    """Every transform gives the model ToTensor's images, and a seed repeats a run (label preservation: tests/test_checks.py)."""
    transform_check(invariant)(TRANSFORMS[transform], None, data=data)


@pytest.mark.parametrize("invariant", CRITERION_INVARIANTS)
@given(data=st.data())
def test_label_smoothing_invariant(invariant, data):
    """Label smoothing off is the notebook's criterion; on, it is cross-entropy against the smoothed targets."""
    config_check("criterion", invariant, criterion_args={"label_smoothing": 0.1})(nn.CrossEntropyLoss, None, data=data)


@pytest.mark.parametrize("optimizer", (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW), ids=lambda o: o.__name__)
@given(data=st.data())
def test_weight_decay_invariant(optimizer, data):
    """Whatever optimizer a config names, its weight decay follows the penalty rule (regbench builds its parameter groups)."""
    config_check("optimizer", "weight_decay_skips_biases_and_1d", optimizer_args={"weight_decay": 1.0})(optimizer, None, data=data)
