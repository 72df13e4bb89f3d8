"""Mutation check: every property, run on a deliberately broken implementation, must find the bug.

Each row pairs a mutant from mutants.py with the property that must kill it; the property is the
same check and the same strategies as its test on regbench: a ``check_*`` function of a property
module, or one of the checks engine's invariants (``model_check`` and friends, as
test_invariants.py runs them on regbench and ``regbench check`` on a user's component). A mutant counts as
killed only when Hypothesis finds an AssertionError (a crash for another reason fails this test).
The terminal summary prints the score; the derandomized settings make it the same on every run.
"""

from __future__ import annotations

import pytest

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
from properties.mutation import Mutation, find_counterexample

SMOOTHING = {"label_smoothing": 0.1}
MUTATIONS = [
    # 1. dropout
    Mutation("dropout active in eval", mutants.DropoutActiveInEval, model_check("dropout_identity_in_eval", "dropout"), DATA),
    Mutation("dropout without 1/(1-p) rescaling", mutants.DropoutWithoutRescaling, model_check("dropout_train_statistics", "dropout"), DATA),
    Mutation("dropout without rescaling is biased", mutants.DropoutWithoutRescaling, dropout.check_unbiased, dropout.TRAIN_INPUTS),
    Mutation("dropout_prob read as keep probability", mutants.DropoutKeepProbability, dropout.check_rate_is_dropout_prob, {"case": dropout.CASES}),
    Mutation("AlphaDropout instead of Dropout", mutants.AlphaDropoutInstead, dropout.check_commutes_with_relu, dropout.TRAIN_INPUTS),
    # 6. batch norm
    Mutation("BatchNorm on batch statistics in eval", mutants.BatchNormBatchStatisticsInEval, model_check("batch_independent_in_eval", "batchnorm"), DATA),
    Mutation("BatchNorm updating running statistics in eval", mutants.BatchNormBatchStatisticsInEval, model_check("eval_keeps_state", "batchnorm"), DATA),
    Mutation("BatchNorm without running statistics", mutants.BatchNormWithoutRunningStatistics, model_check("batchnorm_tracks_running_stats", "batchnorm"), DATA),
    Mutation("BatchNorm accepting a batch of 1", mutants.BatchNormAcceptingOneSample, model_check("batchnorm_rejects_batch_of_one", "batchnorm"), DATA),
    Mutation("BatchNorm normalizing by the unbiased variance", mutants.BatchNormUnbiasedNormalization, batchnorm.check_train_normalizes_batch, batchnorm.TRAIN_INPUTS),
    Mutation("BatchNorm running variance from the biased variance", mutants.BatchNormBiasedRunningVariance, batchnorm.check_running_statistics, batchnorm.RUNNING_INPUTS),
    Mutation("BatchNorm without the batch-of-1 check", mutants.BatchNormWithoutBatchSizeCheck, batchnorm.check_single_sample_refused, batchnorm.SINGLE_INPUTS),
    # 7. models
    Mutation("model centering inputs by the batch mean", mutants.InputsCenteredByBatch, model_check("batch_independent_in_eval", "plain"), DATA),
    Mutation("model re-batching mis-sized samples", mutants.RebatchingFullyConnected, models.check_one_prediction_per_sample, {"case": models.sized_cases(kinds=("plain",))}),
    Mutation("model: dropout active in eval", mutants.DropoutActiveInEval, model_check("eval_deterministic", "dropout"), DATA),
    # 2. L1
    Mutation("L1 norm without abs", mutants.l1_norm_without_abs, l1.check_is_a_norm, l1.NORM_INPUTS),
    Mutation("Lasso without abs", mutants.lasso_without_abs, loss_check("penalty_non_negative"), DATA),
    Mutation("L1 gradient with the wrong sign", mutants.lasso_wrong_gradient_sign, l1.check_l1_gradient, l1.GRADIENT_INPUTS),
    Mutation("L1 wrong sign: sparsity does not grow", mutants.lasso_wrong_gradient_sign, l1.check_sparsity_grows_with_lambda, l1.SPARSITY_INPUTS),
    # 3. L2
    Mutation("Ridge with lambda/2", mutants.ridge_half_lambda, l2.check_l2_gradient, l2.GRADIENT_INPUTS),
    Mutation("Ridge on the norm, not its square", mutants.ridge_norm_not_squared, l2.check_closed_form_is_minimizer, l2.CLOSED_FORM_INPUTS),
    Mutation("Ridge with lambda/2 vs weight decay", mutants.ridge_half_lambda, l2.check_sgd_step_matches_weight_decay, l2.SGD_INPUTS),
    Mutation("Ridge decaying biases too", mutants.ridge_penalizing_all_parameters, l2.check_sgd_step_matches_weight_decay, l2.SGD_INPUTS),
    # 4. what a penalty touches
    Mutation("penalty over all parameters", mutants.lasso_penalizing_all_parameters, loss_check("penalty_skips_biases_and_1d"), DATA),
    Mutation("penalty skipping biases by name only", mutants.lasso_skipping_biases_by_name_only, loss_check("penalty_skips_biases_and_1d"), DATA),
    Mutation("mixed loss with the layer lists swapped", mutants.mixed_layers_swapped, scope.check_mixed_penalizes_named_layers, scope.MIXED_INPUTS),
    Mutation("mixed loss skipping unknown layers", mutants.mixed_skipping_unknown_layers, scope.check_mixed_rejects_unknown_layers, scope.BAD_LAYER_INPUTS),
    Mutation("mixed loss penalizing a repeated layer twice", mutants.mixed_counting_repeats, scope.check_mixed_penalizes_named_layers, scope.REPEATED_INPUTS),
    # 5. lambda
    Mutation("lambda = 0 replaced by a default", mutants.lasso_lambda_or_default, loss_check("lambda_zero_is_base"), DATA),
    Mutation("lambda applied twice", mutants.lasso_lambda_applied_twice, loss_check("penalty_linear_in_lambda"), DATA),
    # 8. augmentation
    Mutation("train transform left in uint8", mutants.train_transform_without_scaling, transform_check("output_shape_dtype_range"), DATA),
    Mutation("test transform with the train augmentation", mutants.test_transform_with_augmentation, augment.check_test_transform_deterministic, augment.TEST_INPUTS),
    Mutation("train transform with a private RNG", mutants.train_transform_with_private_rng, transform_check("reproducible_under_seed"), DATA),
    Mutation("rotation filling with white", mutants.train_transform_filling_white, augment.check_never_brighter, augment.IMAGE_INPUTS),
    Mutation("flip that rotates", mutants.train_transform_rotating_for_flip, augment.check_flip_is_mirror_involution, augment.FLIP_INPUTS),
    # 9. data
    Mutation("select_n_per_class taking the last n", mutants.select_last_n_per_class, data.check_select_n_per_class, data.SELECT_INPUTS),
    Mutation("select_n_per_class sorted by index", mutants.select_sorted_by_index, data.check_select_n_per_class, data.SELECT_INPUTS),
    Mutation("small-data split overlapping", mutants.small_split_overlapping, data.check_small_split, data.SPLIT_INPUTS),
    # 10. training
    Mutation("seed_everything not seeding torch", mutants.seed_everything_without_torch, train.check_same_seed_same_history, train.TRAIN_INPUTS),
    # 11. decoupled weight decay
    Mutation("AdamW decaying biases too", mutants.adamw_decaying_everything, decay.check_decoupled_step, decay.STEP_INPUTS),
    Mutation("optimizer merging its parameter groups", mutants.AdamWIgnoringGroups, config_check("optimizer", "weight_decay_skips_biases_and_1d", optimizer_args={"weight_decay": 1.0}), DATA),
    Mutation("Adam's coupled weight decay for AdamW", mutants.adam_with_coupled_decay, decay.check_decoupled_step, decay.STEP_INPUTS),
    Mutation("coupled decay equals Adam + Ridge", mutants.adam_with_coupled_decay, decay.check_differs_from_coupled_ridge, decay.STEP_INPUTS),
    # 12. label smoothing
    Mutation("label smoothing with an offset", mutants.smoothing_with_an_offset, config_check("criterion", "smoothing_zero_is_cross_entropy", criterion_args=SMOOTHING), DATA),
    Mutation("label smoothing as scaled cross-entropy", mutants.smoothing_by_scaling, config_check("criterion", "smoothing_is_cross_entropy_on_smoothed_targets", criterion_args=SMOOTHING), DATA),
    # 13. early stopping
    Mutation("validation split overlapping training", mutants.holdout_split_overlapping, stopping.check_holdout_split, stopping.HOLDOUT_INPUTS),
    Mutation("early stopping validating on the test set", mutants.prepare_validating_on_test, stopping.check_validation_from_training_only, stopping.SPLIT_INPUTS),
    Mutation("early stopping keeping the last weights", mutants.EarlyStoppingKeepingTheLast, stopping.check_stops_after_patience_keeping_the_best, stopping.MONITOR_INPUTS),
    Mutation("early stopping without patience", mutants.EarlyStoppingWithoutPatience, stopping.check_stops_after_patience_keeping_the_best, stopping.MONITOR_INPUTS),
    # 14. noise
    Mutation("noise in eval mode too", mutants.noise_in_eval_too, noise.check_identity_in_eval, noise.EVAL_INPUTS),
    Mutation("noise with a nonzero mean", mutants.noise_with_nonzero_mean, noise.check_zero_mean_and_stated_std, noise.SPREAD_INPUTS),
    Mutation("noise scaled by the variance", mutants.noise_scaled_by_variance, noise.check_zero_mean_and_stated_std, noise.SPREAD_INPUTS),
    Mutation("uniform noise of width std", mutants.noise_uniform_of_width_std, noise.check_zero_mean_and_stated_std, noise.SPREAD_INPUTS),
    Mutation("unit noise at std 0", mutants.noise_at_std_zero, noise.check_std_zero_is_identity, noise.IDENTITY_INPUTS),
    Mutation("noise that never adds noise", mutants.noise_never, noise.check_training_adds_noise, noise.CHANGE_INPUTS),
    Mutation("noise model noisy in eval", mutants.NoiseModelInEval, noise.check_model_is_plain_in_eval_and_at_std_zero, noise.MODEL_INPUTS),
]

MUTATIONS += batch_augment.MUTATIONS  # the fast engine's batch augmentation, beside its properties

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
