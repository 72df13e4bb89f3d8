"""Mutation check: every property, run on a deliberately broken implementation, must find the bug.

Each row pairs a mutant from mutants.py with the property that must kill it; the property is the
same check and the same strategies as its test on regbench: a ``check_*`` function of a property
module, or one of the checks engine's invariants (``model_check`` and friends, as
test_invariants.py runs them on regbench and ``regbench check`` on a user's component). A mutant counts as
killed only when Hypothesis finds an AssertionError carrying the property's own words for that bug
(``kills_with``; a crash, or another assertion, fails this test), and each row's regbench component
passes the same property under the same settings (``test_property_accepts_regbench``), so a kill is
the bug's and not the harness's. The terminal summary prints the score; the derandomized settings
make it the same on every run.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from properties import mutants
from properties import test_augment as augment
from properties import test_batch_augment as batch_augment
from properties import test_batchnorm as batchnorm
from properties import test_data as data
from properties import test_dropout as dropout
from properties import test_losses_l1 as l1
from properties import test_losses_l2 as l2
from properties import test_losses_scope as scope
from properties.support import DATA, config_check, loss_check, model_check, transform_check
from properties import test_models as models
from properties import test_noise as noise
from properties import test_stopping as stopping
from properties import test_train as train
from properties import test_weight_decay as decay
from properties.budget import statistical, uses_statistics
from properties.mutation import MUTANT_SETTINGS, Mutation, find_counterexample
from regbench.augment import notebook_train_transform, test_transform
from regbench.checks.statistics import PROPERTY_ALPHA
from regbench.data import holdout_split, select_n_per_class, small_data_split
from regbench.experiment import prepare
from regbench.losses import MixedL1L2Loss, l1_norm
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout, FullyConnectedNoise
from regbench.noise import gaussian_noise
from regbench.stopping import EarlyStopping
from regbench.train import seed_everything

SMOOTHING = {"label_smoothing": 0.1}
MLP, DROPOUT, BATCHNORM, LASSO = (
    FullyConnected,
    FullyConnectedDropout,
    FullyConnectedBatchNorm,
    l1.lasso,
)  # regbench's own, the controls
TENSORS_DIFFER = (  # what assert_values_close adds when values (of the same shape and dtype) differ
    "Tensor-likes are not close"
)
MUTATIONS = [
    # 1. dropout
    Mutation(
        "dropout active in eval",
        mutants.DropoutActiveInEval,
        model_check("dropout_identity_in_eval", "dropout"),
        DATA,
        "eval-mode output differs from the same model with every dropout rate set to 0",
        DROPOUT,
    ),
    Mutation(
        "dropout without 1/(1-p) rescaling",
        mutants.DropoutWithoutRescaling,
        model_check("dropout_train_statistics", "dropout"),
        DATA,
        "survivors are not scaled by 1/(1-p)",
        DROPOUT,
    ),
    Mutation(
        "dropout without rescaling is biased",
        mutants.DropoutWithoutRescaling,
        dropout.check_unbiased,
        dropout.TRAIN_INPUTS,
        "sum of dropped-out units: sum",
        DROPOUT,
    ),
    Mutation(
        "dropout with one mask for the whole batch",
        mutants.DropoutOneMaskPerBatch,
        model_check("dropout_train_statistics", "dropout"),
        DATA,
        "dropped units: ",
        DROPOUT,
    ),
    Mutation(
        "dropout_prob read as keep probability",
        mutants.DropoutKeepProbability,
        dropout.check_rate_is_dropout_prob,
        {"case": dropout.CASES},
        "built dropout layers with rates",
        DROPOUT,
    ),
    Mutation(
        "AlphaDropout instead of Dropout",
        mutants.AlphaDropoutInstead,
        dropout.check_commutes_with_relu,
        dropout.TRAIN_INPUTS,
        f"dropout before the ReLU gives different numbers than after it: {TENSORS_DIFFER}",
        DROPOUT,
    ),
    # 6. batch norm
    Mutation(
        "BatchNorm on batch statistics in eval",
        mutants.BatchNormBatchStatisticsInEval,
        model_check("batch_independent_in_eval", "batchnorm"),
        DATA,
        "alone cannot be predicted in eval mode: a BatchNorm normalizes it with the statistics of its batch",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm updating running statistics in eval",
        mutants.BatchNormBatchStatisticsInEval,
        model_check("eval_keeps_state", "batchnorm"),
        DATA,
        "an eval-mode forward changed bn_1.running_mean",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm without running statistics",
        mutants.BatchNormWithoutRunningStatistics,
        model_check("batchnorm_tracks_running_stats", "batchnorm"),
        DATA,
        "bn_1: track_running_stats=False",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm accepting a batch of 1",
        mutants.BatchNormAcceptingOneSample,
        model_check("batchnorm_rejects_batch_of_one", "batchnorm"),
        DATA,
        "train mode accepted a batch of 1 without an error",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm normalizing by the unbiased variance",
        mutants.BatchNormUnbiasedNormalization,
        batchnorm.check_train_normalizes_batch,
        batchnorm.TRAIN_INPUTS,
        f"normalized (biased) batch variance is not 1: {TENSORS_DIFFER}",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm running variance from the biased variance",
        mutants.BatchNormBiasedRunningVariance,
        batchnorm.check_running_statistics,
        batchnorm.RUNNING_INPUTS,
        f"running variance is not the momentum average of the unbiased batch variance: {TENSORS_DIFFER}",
        BATCHNORM,
    ),
    Mutation(
        "BatchNorm without the batch-of-1 check",
        mutants.BatchNormWithoutBatchSizeCheck,
        batchnorm.check_single_sample_refused,
        batchnorm.SINGLE_INPUTS,
        "unclear error for a batch of 1",
        BATCHNORM,
    ),
    # 7. models
    Mutation(
        "model centering inputs by the batch mean",
        mutants.InputsCenteredByBatch,
        model_check("batch_independent_in_eval", "plain"),
        DATA,
        "eval-mode output alone differs from its output inside the batch",
        MLP,
    ),
    Mutation(
        "model re-batching mis-sized samples",
        mutants.REBATCHING,
        models.check_one_prediction_per_sample,
        models.SIZE_INPUTS,
        "the samples were silently re-batched",
        models.CLASSES,
    ),
    Mutation(
        "model: dropout active in eval",
        mutants.DropoutActiveInEval,
        model_check("eval_deterministic", "dropout"),
        DATA,
        "two eval-mode calls on the same batch differ",
        DROPOUT,
    ),
    # 2. L1
    Mutation(
        "L1 norm without abs",
        mutants.l1_norm_without_abs,
        l1.check_is_a_norm,
        l1.NORM_INPUTS,
        "!= |c| norm(x)",
        l1_norm,
    ),
    Mutation(
        "Lasso without abs",
        mutants.lasso_without_abs,
        loss_check("penalty_non_negative"),
        DATA,
        "the penalty is -",
        LASSO,
    ),
    Mutation(
        "L1 gradient with the wrong sign",
        mutants.lasso_wrong_gradient_sign,
        l1.check_l1_gradient,
        l1.GRADIENT_INPUTS,
        f"is not lambda*sign(W): {TENSORS_DIFFER}",
        LASSO,
    ),
    Mutation(
        "L1 with every weight listed twice",
        mutants.lasso_weights_listed_twice,
        l1.check_l1_gradient,
        l1.GRADIENT_INPUTS,
        f"is not lambda*sign(W): {TENSORS_DIFFER}",
        LASSO,
    ),
    Mutation(
        "L1 wrong sign: sparsity does not grow",
        mutants.lasso_wrong_gradient_sign,
        l1.check_sparsity_grows_with_lambda,
        l1.SPARSITY_INPUTS,
        "weights near zero, the Lasso solution has",
        LASSO,
    ),
    # 3. L2
    Mutation(
        "Ridge with lambda/2",
        mutants.ridge_half_lambda,
        l2.check_l2_gradient,
        l2.GRADIENT_INPUTS,
        f"is not 2*lambda*W: {TENSORS_DIFFER}",
        l2.ridge,
    ),
    Mutation(
        "Ridge on the norm, not its square",
        mutants.ridge_norm_not_squared,
        l2.check_closed_form_is_minimizer,
        l2.CLOSED_FORM_INPUTS,
        "at the closed-form ridge solution; it is not the loss's minimizer",
        l2.ridge,
    ),
    Mutation(
        "Ridge with lambda/2 vs weight decay",
        mutants.ridge_half_lambda,
        l2.check_sgd_step_matches_weight_decay,
        l2.SGD_INPUTS,
        f"weight after one step: Ridge(lambda) and SGD(weight_decay=2*lambda) disagree: {TENSORS_DIFFER}",
        l2.ridge,
    ),
    Mutation(
        "Ridge decaying biases too",
        mutants.ridge_penalizing_all_parameters,
        l2.check_sgd_step_matches_weight_decay,
        l2.SGD_INPUTS,
        f"bias after one step: Ridge(lambda) and SGD(weight_decay=2*lambda) disagree: {TENSORS_DIFFER}",
        l2.ridge,
    ),
    # 4. what a penalty touches
    Mutation(
        "penalty over all parameters",
        mutants.lasso_penalizing_all_parameters,
        loss_check("penalty_skips_biases_and_1d"),
        DATA,
        "the penalty has a gradient on linear_1.bias",
        LASSO,
    ),
    Mutation(
        "penalty skipping biases by name only",
        mutants.lasso_skipping_biases_by_name_only,
        loss_check("penalty_skips_biases_and_1d"),
        DATA,
        "the penalty has a gradient on bn_1.weight",
        LASSO,
    ),
    Mutation(
        "mixed loss with the layer lists swapped",
        mutants.mixed_layers_swapped,
        scope.check_mixed_penalizes_named_layers,
        scope.MIXED_INPUTS,
        "mixed penalty gradient on linear_1.weight (l1 on ['linear_2', 'linear_1'], l2 on ['linear_2']):"
        f" {TENSORS_DIFFER}",
        MixedL1L2Loss,
    ),
    Mutation(
        "mixed loss skipping unknown layers",
        mutants.mixed_skipping_unknown_layers,
        scope.check_mixed_rejects_unknown_layers,
        scope.BAD_LAYER_INPUTS,
        "was accepted",
        MixedL1L2Loss,
    ),
    Mutation(
        "mixed loss penalizing a repeated layer twice",
        mutants.mixed_counting_repeats,
        scope.check_mixed_penalizes_named_layers,
        scope.REPEATED_INPUTS,
        f"l2 on ['linear_1', 'linear_2']): {TENSORS_DIFFER}",
        MixedL1L2Loss,
    ),
    # 5. lambda
    Mutation(
        "lambda = 0 replaced by a default",
        mutants.lasso_lambda_or_default,
        loss_check("lambda_zero_is_base"),
        DATA,
        "with lambda = 0 the loss is",
        LASSO,
    ),
    Mutation(
        "lambda applied twice",
        mutants.lasso_lambda_applied_twice,
        loss_check("penalty_linear_in_lambda"),
        DATA,
        "at 2 x lambda (expected",
        LASSO,
    ),
    # 8. augmentation
    Mutation(
        "train transform left in uint8",
        mutants.train_transform_without_scaling,
        transform_check("output_shape_dtype_range"),
        DATA,
        "dtype torch.uint8, not a floating-point tensor",
        notebook_train_transform,
    ),
    Mutation(
        "test transform with the train augmentation",
        mutants.test_transform_with_augmentation,
        augment.check_test_transform_deterministic,
        augment.TEST_INPUTS,
        "the test transform changes the image beyond converting it",
        test_transform,
    ),
    Mutation(
        "train transform with a private RNG",
        mutants.train_transform_with_private_rng,
        transform_check("reproducible_under_seed"),
        DATA,
        "gave different outputs",
        notebook_train_transform,
    ),
    Mutation(
        "rotation filling with white",
        mutants.train_transform_filling_white,
        augment.check_never_brighter,
        augment.IMAGE_INPUTS,
        "above the image's brightest pixel",
        notebook_train_transform,
    ),
    Mutation(
        "flip that rotates",
        mutants.train_transform_rotating_for_flip,
        augment.check_flip_is_mirror_involution,
        augment.FLIP_INPUTS,
        "the flip is not a left-right mirror",
        notebook_train_transform,
    ),
    # 9. data
    Mutation(
        "select_n_per_class taking the last n",
        mutants.select_last_n_per_class,
        data.check_select_n_per_class,
        data.SELECT_INPUTS,
        "its first 1 indices are",
        select_n_per_class,
    ),
    Mutation(
        "select_n_per_class sorted by index",
        mutants.select_sorted_by_index,
        data.check_select_n_per_class,
        data.SELECT_INPUTS,
        "classes not in order",
        select_n_per_class,
    ),
    Mutation(
        "small-data split overlapping",
        mutants.small_split_overlapping,
        data.check_small_split,
        data.SPLIT_INPUTS,
        "indices in both train and test",
        small_data_split,
    ),
    # 10. training
    Mutation(
        "seed_everything not seeding torch",
        mutants.seed_everything_without_torch,
        train.check_same_seed_same_history,
        train.TRAIN_INPUTS,
        "same seed, different histories",
        seed_everything,
    ),
    # 11. decoupled weight decay
    Mutation(
        "AdamW decaying biases too",
        mutants.adamw_decaying_everything,
        decay.check_decoupled_step,
        decay.STEP_INPUTS,
        f"bias did not move by the Adam step alone (no decay on biases and 1-D parameters): {TENSORS_DIFFER}",
        decay.adamw,
    ),
    Mutation(
        "optimizer merging its parameter groups",
        mutants.AdamWIgnoringGroups,
        config_check("optimizer", "weight_decay_skips_biases_and_1d", optimizer_args={"weight_decay": 1.0}),
        DATA,
        "weight decay moved linear_1.bias",
        torch.optim.AdamW,
    ),
    Mutation(
        "Adam's coupled weight decay for AdamW",
        mutants.adam_with_coupled_decay,
        decay.check_decoupled_step,
        decay.STEP_INPUTS,
        f"weight did not move by the Adam step plus -lr * wd * w: {TENSORS_DIFFER}",
        decay.adamw,
    ),
    Mutation(
        "coupled decay equals Adam + Ridge",
        mutants.adam_with_coupled_decay,
        decay.check_differs_from_coupled_ridge,
        decay.STEP_INPUTS,
        "the decay is coupled into Adam's normalization",
        decay.adamw,
    ),
    # 12. label smoothing
    Mutation(
        "label smoothing with an offset",
        mutants.smoothing_with_an_offset,
        config_check("criterion", "smoothing_zero_is_cross_entropy", criterion_args=SMOOTHING),
        DATA,
        "with label_smoothing = 0 the loss is",
        nn.CrossEntropyLoss,
    ),
    Mutation(
        "label smoothing as scaled cross-entropy",
        mutants.smoothing_by_scaling,
        config_check("criterion", "smoothing_is_cross_entropy_on_smoothed_targets", criterion_args=SMOOTHING),
        DATA,
        "cross-entropy on the smoothed targets",
        nn.CrossEntropyLoss,
    ),
    # 13. early stopping
    Mutation(
        "validation split overlapping training",
        mutants.holdout_split_overlapping,
        stopping.check_holdout_split,
        stopping.HOLDOUT_INPUTS,
        "are both trained on and held out",
        holdout_split,
    ),
    Mutation(
        "early stopping validating on the test set",
        mutants.prepare_validating_on_test,
        stopping.check_validation_from_training_only,
        stopping.SPLIT_INPUTS,
        "come from the test set",
        prepare,
    ),
    Mutation(
        "early stopping keeping the last weights",
        mutants.EarlyStoppingKeepingTheLast,
        stopping.check_stops_after_patience_keeping_the_best,
        stopping.MONITOR_INPUTS,
        "weights, not the chosen epoch",
        EarlyStopping,
    ),
    Mutation(
        "early stopping without patience",
        mutants.EarlyStoppingWithoutPatience,
        stopping.check_stops_after_patience_keeping_the_best,
        stopping.MONITOR_INPUTS,
        "epochs after the chosen",
        EarlyStopping,
    ),
    # 14. noise
    Mutation(
        "noise in eval mode too",
        mutants.noise_in_eval_too,
        noise.check_identity_in_eval,
        noise.EVAL_INPUTS,
        "noise must act in training only",
        gaussian_noise,
    ),
    Mutation(
        "noise with a nonzero mean",
        mutants.noise_with_nonzero_mean,
        noise.check_zero_mean_and_stated_std,
        noise.SPREAD_INPUTS,
        "is not 0: p-value",
        gaussian_noise,
    ),
    Mutation(
        "noise scaled by the variance",
        mutants.noise_scaled_by_variance,
        noise.check_zero_mean_and_stated_std,
        noise.SPREAD_INPUTS,
        "is not N(0, ",
        gaussian_noise,
    ),
    Mutation(
        "uniform noise of width std",
        mutants.noise_uniform_of_width_std,
        noise.check_zero_mean_and_stated_std,
        noise.SPREAD_INPUTS,
        "is not N(0, ",
        gaussian_noise,
    ),
    Mutation(
        "unit noise at std 0",
        mutants.noise_at_std_zero,
        noise.check_std_zero_is_identity,
        noise.IDENTITY_INPUTS,
        "std 0 changed the input in train mode",
        gaussian_noise,
    ),
    Mutation(
        "noise that never adds noise",
        mutants.noise_never,
        noise.check_training_adds_noise,
        noise.CHANGE_INPUTS,
        "left the input unchanged",
        gaussian_noise,
    ),
    Mutation(
        "noise model noisy in eval",
        mutants.NoiseModelInEval,
        noise.check_model_is_plain_in_eval_and_at_std_zero,
        noise.MODEL_INPUTS,
        "in eval mode differs from FullyConnected",
        FullyConnectedNoise,
    ),
]

MUTATIONS += batch_augment.MUTATIONS  # the fast engine's batch augmentation, beside its properties

# Not mutants: implementations that are right in a different way. Their properties must hold, or
# the kills above could be the harness failing rather than the property catching a bug.
CONTROLS = [
    Mutation(
        "hand-written BatchNorm, normalization",
        mutants.HandWrittenBatchNorm,
        batchnorm.check_train_normalizes_batch,
        batchnorm.TRAIN_INPUTS,
    ),
    Mutation(
        "hand-written BatchNorm, running statistics",
        mutants.HandWrittenBatchNorm,
        batchnorm.check_running_statistics,
        batchnorm.RUNNING_INPUTS,
    ),
]


def regbench_controls(mutations: list[Mutation]) -> list[Mutation]:
    """Each (property, regbench component) pair of the table once: regbench's own component under the mutants' exact
    settings.
    """
    controls: dict[tuple, Mutation] = {}
    for m in mutations:
        key = (m.check.__module__, m.check.__qualname__, tuple(sorted(m.inputs)), id(m.control))
        controls.setdefault(
            key, Mutation(f"regbench under {m.check.__name__} ({m.name})", m.control, m.check, m.inputs)
        )
    return list(controls.values())


REGBENCH_CONTROLS = regbench_controls(MUTATIONS)
# Statistical tests per example of each statistical property in the table, for the controls' budget (a new one must be
# added here).
STATISTICAL_TESTS = {"dropout_train_statistics": 1, "check_unbiased": 1, "check_zero_mean_and_stated_std": 2}
SLOW_CONTROLS = (
    "check_sparsity_grows_with_lambda",
)  # 100 examples that each train a model to convergence: run with -m slow


@statistical(alpha=PROPERTY_ALPHA, examples=MUTANT_SETTINGS.max_examples, on_mutants=True)
@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
def test_property_kills_mutant(mutation: Mutation, record_property):
    """Hypothesis must find a counterexample to the property on the mutant, and the counterexample must fail the
    property's own
    assertion for this bug (its message), not another assertion or a crash (a crash propagates out of
    find_counterexample).
    """
    error = find_counterexample(mutation.check, mutation.mutant, mutation.inputs)
    reason = "" if error is None else str(error)
    record_property("killed", error is not None)
    record_property("kill_reason", reason.split("\n")[0])
    assert error is not None, f"mutant survived: {mutation.name} passes {mutation.check.__name__}"
    assert mutation.kills_with and mutation.kills_with in reason, (
        f"{mutation.name} killed for another reason than {mutation.kills_with!r}: {reason}"
    )


@statistical(
    alpha=PROPERTY_ALPHA
    * sum(STATISTICAL_TESTS[c.check.__name__] for c in REGBENCH_CONTROLS if uses_statistics(c.check)),
    examples=MUTANT_SETTINGS.max_examples,
)
@pytest.mark.parametrize(
    "control",
    [pytest.param(c, marks=pytest.mark.slow) if c.check.__name__ in SLOW_CONTROLS else c for c in REGBENCH_CONTROLS],
    ids=str,
)
def test_property_accepts_regbench(control: Mutation):
    """regbench's own component passes each property under the mutants' settings (100 derandomized examples): a kill
    is the bug's.
    """
    error = find_counterexample(control.check, control.mutant, control.inputs)
    assert error is None, f"{control.name}: regbench's component fails {control.check.__name__}: {error}"


@pytest.mark.parametrize("control", CONTROLS, ids=str)
def test_property_accepts_correct_variant(control: Mutation):
    """A correct alternative implementation passes the same derandomized property."""
    error = find_counterexample(control.check, control.mutant, control.inputs)
    assert error is None, f"{control.name} should pass {control.check.__name__}: {error}"
