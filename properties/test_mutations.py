"""Mutation check: every property, run on a deliberately broken implementation, must find the bug.

Each row pairs a mutant from mutants.py with the property that must kill it; the property is the
same ``check_*`` function and the same strategies as its test on regbench. A mutant counts as
killed only when Hypothesis finds an AssertionError (a crash for another reason fails this test).
The terminal summary prints the score; the derandomized settings make it the same on every run.
"""

from __future__ import annotations

import pytest

from properties import mutants
from properties import test_batchnorm as batchnorm
from properties import test_dropout as dropout
from properties import test_models as models
from properties.mutation import Mutation, find_counterexample

MUTATIONS = [
    # 1. dropout
    Mutation("dropout active in eval", mutants.DropoutActiveInEval, dropout.check_eval_is_identity, dropout.EVAL_INPUTS),
    Mutation("dropout without 1/(1-p) rescaling", mutants.DropoutWithoutRescaling, dropout.check_survivors_are_rescaled, dropout.TRAIN_INPUTS),
    Mutation("dropout without rescaling is biased", mutants.DropoutWithoutRescaling, dropout.check_unbiased, dropout.TRAIN_INPUTS),
    Mutation("dropout_prob read as keep probability", mutants.DropoutKeepProbability, dropout.check_zeroed_fraction_is_binomial, dropout.TRAIN_INPUTS),
    Mutation("AlphaDropout instead of Dropout", mutants.AlphaDropoutInstead, dropout.check_commutes_with_relu, dropout.TRAIN_INPUTS),
    # 6. batch norm
    Mutation("BatchNorm on batch statistics in eval", mutants.BatchNormBatchStatisticsInEval, batchnorm.check_eval_is_per_sample, batchnorm.EVAL_INPUTS),
    Mutation("BatchNorm normalizing by the unbiased variance", mutants.BatchNormUnbiasedNormalization, batchnorm.check_train_normalizes_batch, batchnorm.TRAIN_INPUTS),
    Mutation("BatchNorm running variance from the biased variance", mutants.BatchNormBiasedRunningVariance, batchnorm.check_running_statistics, batchnorm.RUNNING_INPUTS),
    Mutation("BatchNorm without the batch-of-1 check", mutants.BatchNormWithoutBatchSizeCheck, batchnorm.check_single_sample_refused, batchnorm.SINGLE_INPUTS),
    # 7. models
    Mutation("model centering inputs by the batch mean", mutants.InputsCenteredByBatch, models.check_batch_independent_in_eval, models.inputs_for("plain")),
    Mutation("model: dropout active in eval", mutants.DropoutActiveInEval, models.check_batch_independent_in_eval, models.inputs_for("dropout")),
    Mutation("model: BatchNorm on batch statistics in eval", mutants.BatchNormBatchStatisticsInEval, models.check_batch_independent_in_eval, models.inputs_for("batchnorm")),
]

# Not mutants: implementations that are right in a different way. Their properties must hold, or
# the kills above could be the harness failing rather than the property catching a bug.
CONTROLS = [
    Mutation("hand-written BatchNorm, normalization", mutants.HandWrittenBatchNorm, batchnorm.check_train_normalizes_batch, batchnorm.TRAIN_INPUTS),
    Mutation("hand-written BatchNorm, running statistics", mutants.HandWrittenBatchNorm, batchnorm.check_running_statistics, batchnorm.RUNNING_INPUTS),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
def test_property_kills_mutant(mutation: Mutation, record_property):
    """Hypothesis must find a counterexample to the property on the mutant."""
    error = find_counterexample(mutation.check, mutation.mutant, mutation.inputs)
    record_property("killed", error is not None)
    assert error is not None, f"mutant survived: {mutation.name} ({mutation.mutant.__doc__.strip()}) passes {mutation.check.__name__}"


@pytest.mark.parametrize("control", CONTROLS, ids=str)
def test_property_accepts_correct_variant(control: Mutation):
    """A correct alternative implementation passes the same derandomized property."""
    error = find_counterexample(control.check, control.mutant, control.inputs)
    assert error is None, f"{control.name} should pass {control.check.__name__}: {error}"
