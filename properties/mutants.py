"""Deliberately broken variants of regbench's components, one plausible bug each.

Each mutant has the interface of the component it breaks (same constructor or call signature), so
a property can run on it unchanged; test_mutations.py asserts that the property finds the bug.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision import transforms
from torchvision.transforms import functional as TF

from regbench import augment, data, losses, noise, stopping
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout, FullyConnectedNoise


class _Rebatching:
    """Bug (regbench's own, found by this property): the check asks only that the values divide into rows of input_size,
    then reshape(-1, input_size) turns mis-sized samples into other samples."""

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() % self.input_size:
            raise ValueError(f"{x.numel()} values do not make rows of input_size={self.input_size}")
        return x.reshape(-1, self.input_size)


class RebatchingFullyConnected(_Rebatching, FullyConnected):
    """FullyConnected with the re-batching flatten."""


class RebatchingDropout(_Rebatching, FullyConnectedDropout):
    """FullyConnectedDropout with the re-batching flatten."""


class RebatchingBatchNorm(_Rebatching, FullyConnectedBatchNorm):
    """FullyConnectedBatchNorm with the re-batching flatten."""


REBATCHING = {
    "plain": RebatchingFullyConnected,
    "dropout": RebatchingDropout,
    "batchnorm": RebatchingBatchNorm,
}  # every kind, as CLASSES

# ---------------------------------------------------------------------------------------- dropout


class DropoutActiveInEval(FullyConnectedDropout):
    """Bug: F.dropout(training=True) hard-coded, so eval mode keeps dropping units."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(FullyConnected.hidden(self, x), self.dropout.p, training=True)


class _RescalelessDropout(nn.Dropout):
    """nn.Dropout that zeroes units with probability p but never scales the survivors by 1/(1-p)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.bernoulli(torch.full_like(x, 1 - self.p)) if self.training else x


class DropoutWithoutRescaling(FullyConnectedDropout):
    """Bug: its dropout layer (called in forward as usual) zeroes units with probability p but never scales survivors
    by 1/(1-p).
    """

    def __init__(
        self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10, dropout_prob: float = 0.2
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, dropout_prob)
        self.dropout = _RescalelessDropout(p=dropout_prob)


class _OneMaskDropout(nn.Dropout):
    """nn.Dropout that draws one mask of features and applies it to every sample of the batch (rescaled correctly)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * torch.bernoulli(torch.full_like(x[:1], 1 - self.p)) / (1 - self.p)


class DropoutOneMaskPerBatch(FullyConnectedDropout):
    """Bug: its dropout layer draws a mask of shape (1, features), so every sample of a batch loses the same units:
    the survivors are rescaled right, but the dropped count is not Binomial(n, p) over the batch's units."""

    def __init__(
        self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10, dropout_prob: float = 0.2
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, dropout_prob)
        self.dropout = _OneMaskDropout(p=dropout_prob)


class DropoutKeepProbability(FullyConnectedDropout):
    """Bug: dropout_prob read as the keep probability (Keras/TF1 convention), so units drop with 1 - p."""

    def __init__(
        self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10, dropout_prob: float = 0.2
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, dropout_prob)
        self.dropout = nn.Dropout(p=1 - dropout_prob)


class AlphaDropoutInstead(FullyConnectedDropout):
    """Bug: nn.AlphaDropout (meant for SELU) instead of nn.Dropout: dropped units become a negative constant."""

    def __init__(
        self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10, dropout_prob: float = 0.2
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, dropout_prob)
        self.dropout = nn.AlphaDropout(p=dropout_prob)


# ------------------------------------------------------------------------------------- batch norm


class _BatchStatisticsAlways(nn.BatchNorm1d):
    """BatchNorm1d that passes training=True to F.batch_norm whatever the mode."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            z, self.running_mean, self.running_var, self.weight, self.bias, True, self.momentum, self.eps
        )


class _HandWrittenBatchNorm1d(nn.BatchNorm1d):
    """Textbook BatchNorm1d with the two variance choices exposed, so each can be got wrong."""

    def __init__(
        self, num_features: int, *, unbiased_normalization: bool = False, unbiased_running_var: bool = True
    ) -> None:
        super().__init__(num_features)
        self.unbiased_normalization = unbiased_normalization
        self.unbiased_running_var = unbiased_running_var

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.batch_norm(z, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        mean = z.mean(0)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * z.var(0, unbiased=self.unbiased_running_var))
            self.num_batches_tracked += 1
        var = z.var(0, unbiased=self.unbiased_normalization)
        return (z - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class BatchNormBatchStatisticsInEval(FullyConnectedBatchNorm):
    """Bug: BatchNorm normalizes with the current batch's statistics in eval mode too."""

    def __init__(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.bn_1 = _BatchStatisticsAlways(hidden_size)


class BatchNormUnbiasedNormalization(FullyConnectedBatchNorm):
    """Bug: training batches normalized by the unbiased variance, so their variance is (N-1)/N, not 1."""

    def __init__(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.bn_1 = _HandWrittenBatchNorm1d(hidden_size, unbiased_normalization=True)


class BatchNormBiasedRunningVariance(FullyConnectedBatchNorm):
    """Bug: the running variance averages the biased batch variance (PyTorch uses the unbiased one)."""

    def __init__(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.bn_1 = _HandWrittenBatchNorm1d(hidden_size, unbiased_running_var=False)


class HandWrittenBatchNorm(FullyConnectedBatchNorm):
    """Not a mutant: the hand-written BatchNorm with both choices right, to show the two above die for their bug
    alone.
    """

    def __init__(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.bn_1 = _HandWrittenBatchNorm1d(hidden_size)


class BatchNormWithoutBatchSizeCheck(FullyConnectedBatchNorm):
    """Bug: no guard for a batch of 1 in train mode, so users get BatchNorm's internal message, not the fix."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn_1(self.linear_1(x.reshape(x.size(0), -1))))


class BatchNormWithoutRunningStatistics(FullyConnectedBatchNorm):
    """Bug: BatchNorm1d(track_running_stats=False), so eval mode normalizes with the statistics of the batch it is
    given.
    """

    def __init__(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.bn_1 = nn.BatchNorm1d(hidden_size, track_running_stats=False)


class BatchNormAcceptingOneSample(FullyConnectedBatchNorm):
    """Bug: a train-mode batch of 1 quietly normalized with the running statistics instead of refused."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        z, bn = self.linear_1(self.flatten(x)), self.bn_1
        if self.training and len(z) == 1:
            return F.relu(F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))
        return F.relu(bn(z))


# ----------------------------------------------------------------------------------------- models


class InputsCenteredByBatch(FullyConnected):
    """Bug: inputs "normalized" by subtracting the batch mean, so a prediction depends on the other samples."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, self.input_size)
        return F.relu(self.linear_1(x - x.mean(0)))


# ----------------------------------------------------------------------------------------- losses


def l1_norm_without_abs(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Bug: sum W instead of sum |W|, so negative weights cancel positive ones."""
    return torch.stack([p.sum() for p in params]).sum()


def lasso_without_abs(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: lambda * sum W (no abs), a penalty that goes negative and so grows the weights it should shrink."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l1", lam, l1_norm_without_abs, _weights(model))])


class _AbsWithWrongGradient(torch.autograd.Function):
    """|x| forward, -sign(x) backward: the value is right, the gradient points away from zero."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.abs()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return -torch.sign(x) * grad


def _l1_norm_wrong_sign(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([_AbsWithWrongGradient.apply(p).sum() for p in params]).sum()


def _weights(model: nn.Module) -> list[nn.Parameter]:
    return [p for _, p in losses.penalized_parameters(model)]


def lasso_wrong_gradient_sign(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: a hand-written L1 whose backward returns -lambda*sign(W), pushing weights away from zero."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l1", lam, _l1_norm_wrong_sign, _weights(model))])


def lasso_weights_listed_twice(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: every weight listed twice (gathered from the modules and again from the parameters), so the gradient is
    2*lambda*sign(W).
    """
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l1", lam, losses.l1_norm, _weights(model) * 2)])


def lasso_penalizing_all_parameters(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: sum |p| over model.parameters(), biases and BatchNorm's affine parameters included."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l1", lam, losses.l1_norm, list(model.parameters()))])


def lasso_skipping_biases_by_name_only(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: excludes parameters named "bias" but not other 1-D ones, so BatchNorm's gamma (bn_1.weight) is penalized."""
    params = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l1", lam, losses.l1_norm, params)])


def ridge_half_lambda(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: the weight-decay convention lambda/2 * sum W**2, so the gradient is lambda*W, not 2*lambda*W."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l2", lam / 2, losses.squared_l2_norm, _weights(model))])


def ridge_penalizing_all_parameters(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: sum p**2 over model.parameters(), so biases and BatchNorm's affine parameters decay too."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l2", lam, losses.squared_l2_norm, list(model.parameters()))])


def _l2_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return losses.squared_l2_norm(params).sqrt()


def ridge_norm_not_squared(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: lambda * ||W|| (the norm, not its square), whose gradient is lambda*W/||W||."""
    return losses.PenaltyLoss(base, [losses.PenaltyTerm("l2", lam, _l2_norm, _weights(model))])


def lasso_lambda_or_default(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: `lam or 1e-4` treats lambda = 0 as "not given" and quietly penalizes anyway."""
    return losses.LassoLoss(base, model, lam or 1e-4)


def lasso_lambda_applied_twice(base: nn.Module, model: nn.Module, lam: float) -> losses.PenaltyLoss:
    """Bug: lambda multiplied in both the term and the norm, so the penalty grows as lambda**2."""
    return losses.PenaltyLoss(
        base, [losses.PenaltyTerm("l1", lam, lambda ps: lam * losses.l1_norm(ps), _weights(model))]
    )


def mixed_layers_swapped(
    base: nn.Module,
    model: nn.Module,
    l1_lambda: float,
    l2_lambda: float,
    *,
    l1_layers: Sequence[str],
    l2_layers: Sequence[str],
) -> losses.PenaltyLoss:
    """Bug: the layer lists passed the wrong way round, Lasso on the Ridge layers and vice versa."""
    return losses.MixedL1L2Loss(base, model, l1_lambda, l2_lambda, l1_layers=l2_layers, l2_layers=l1_layers)


def mixed_skipping_unknown_layers(
    base: nn.Module,
    model: nn.Module,
    l1_lambda: float,
    l2_lambda: float,
    *,
    l1_layers: Sequence[str],
    l2_layers: Sequence[str],
) -> losses.PenaltyLoss:
    """Bug: layer names that match nothing are silently dropped, so a typo turns a penalty off."""

    def known(layers: Sequence[str]) -> list[str]:
        modules = dict(model.named_modules())
        return [name for name in layers if name in modules and any(p.ndim > 1 for p in modules[name].parameters())]

    return losses.MixedL1L2Loss(
        base,
        model,
        l1_lambda,
        l2_lambda,
        l1_layers=known(l1_layers) or ["linear_2"],
        l2_layers=known(l2_layers) or ["linear_1"],
    )


def mixed_counting_repeats(
    base: nn.Module,
    model: nn.Module,
    l1_lambda: float,
    l2_lambda: float,
    *,
    l1_layers: Sequence[str],
    l2_layers: Sequence[str],
) -> losses.PenaltyLoss:
    """Bug (regbench's own, found by this property): a layer named twice has its weights penalized twice."""

    def weights(layers: Sequence[str]) -> list[nn.Parameter]:
        return [getattr(model, name).weight for name in layers]

    terms = [
        losses.PenaltyTerm("l1", l1_lambda, losses.l1_norm, weights(l1_layers)),
        losses.PenaltyTerm("l2", l2_lambda, losses.squared_l2_norm, weights(l2_layers)),
    ]
    return losses.PenaltyLoss(base, [t for t in terms if t.params])


# ------------------------------------------------------------------------------------ augmentation


def train_transform_without_scaling() -> transforms.Compose:
    """Bug: PILToTensor instead of ToTensor, so the train images are uint8 in 0..255."""
    return transforms.Compose([*augment.notebook_train_transform().transforms[:-1], transforms.PILToTensor()])


def test_transform_with_augmentation() -> transforms.Compose:
    """Bug: the test loader built with the train transform, so evaluation sees random rotations and crops."""
    return augment.notebook_train_transform()


class _UnseededRotation:
    """Rotation by an angle from a fresh, unseeded numpy Generator: no global seed reaches it."""

    def __call__(self, image: Image.Image) -> Image.Image:
        return TF.rotate(image, float(np.random.default_rng().uniform(-10, 10)))


def train_transform_with_private_rng() -> transforms.Compose:
    """Bug: a rotation drawing from its own np.random.default_rng(), so seeding cannot reproduce a run."""
    steps = augment.notebook_train_transform().transforms
    return transforms.Compose([steps[0], _UnseededRotation(), *steps[2:]])


def train_transform_filling_white() -> transforms.Compose:
    """Bug: the rotation fills the corners it uncovers with white (fill=255), adding ink the digit never had."""
    steps = augment.notebook_train_transform().transforms
    return transforms.Compose([steps[0], transforms.RandomRotation(10, fill=255), *steps[2:]])


class _RotateInsteadOfFlip(transforms.RandomHorizontalFlip):
    """A "flip" that turns the image a quarter turn, an easy slip with PIL's transpose constants."""

    def forward(self, img: Image.Image) -> Image.Image:
        if torch.rand(1) < self.p:
            return img.transpose(Image.Transpose.ROTATE_90)
        return img


def train_transform_rotating_for_flip() -> transforms.Compose:
    """Bug: the notebook pipeline with its flip step replaced by a 90-degree rotation."""
    steps = augment.notebook_train_transform().transforms
    return transforms.Compose([_RotateInsteadOfFlip(p=0.5), *steps[1:]])


# ------------------------------------------------------------------------------------------- data


def select_last_n_per_class(dataset, n_per_class: int) -> torch.Tensor:
    """Bug: the last n indices of each class instead of the first n."""
    targets = torch.as_tensor(dataset.targets)
    picked = []
    for c in range(data.NUM_CLASSES):
        idx = (targets == c).nonzero(as_tuple=True)[0]
        if len(idx) < n_per_class:
            raise ValueError(f"class {c} has only {len(idx)} samples")
        picked.append(idx[len(idx) - n_per_class :])
    return torch.cat(picked)


def select_sorted_by_index(dataset, n_per_class: int) -> torch.Tensor:
    """Bug: the right indices, sorted by position, so the classes come interleaved, not class by class."""
    return torch.sort(data.select_n_per_class(dataset, n_per_class)).values


def small_split_overlapping(dataset, n_train: int = 100, n_test: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """Bug: train and test both take the first images of each class, so the test set contains training images."""
    return data.select_n_per_class(dataset, n_train), data.select_n_per_class(dataset, n_test)


# ------------------------------------------------------------------------------------------ train


def seed_everything_without_torch(seed: int) -> None:
    """Bug: seeds Python's and numpy's RNGs but not torch's, so inits, shuffles and masks still vary."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


# ------------------------------------------------------------------------------ weight decay (AdamW)


def adamw_decaying_everything(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Bug: AdamW over model.parameters(), so biases and BatchNorm's 1-D parameters shrink too."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


class AdamWIgnoringGroups(torch.optim.AdamW):
    """Bug: an optimizer that merges the parameter groups it is given, so its weight decay reaches biases and 1-D
    parameters.
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 1e-2) -> None:
        super().__init__([p for group in params for p in group["params"]], lr=lr, weight_decay=weight_decay)


def adam_with_coupled_decay(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Bug: Adam's own weight_decay (L2 added to the gradient, then normalized) where decoupled decay was meant."""
    return torch.optim.Adam(losses.weight_decay_groups(model), lr=lr, weight_decay=weight_decay)


# ------------------------------------------------------------------------------ label smoothing


def smoothing_with_an_offset(label_smoothing: float) -> nn.Module:
    """Bug: a floor of smoothing (eps + 0.05), so eps = 0 is no longer plain cross-entropy."""
    return nn.CrossEntropyLoss(label_smoothing=min(1.0, label_smoothing + 0.05))


class _ScaledCrossEntropy(nn.Module):
    def __init__(self, label_smoothing: float) -> None:
        super().__init__()
        self.eps = label_smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (1 - self.eps) * F.cross_entropy(logits, targets)


def smoothing_by_scaling(label_smoothing: float) -> nn.Module:
    """Bug: "smoothing" as (1 - eps) * cross-entropy, without the uniform part: confident logits then cost less than
    the targets' entropy.
    """
    return _ScaledCrossEntropy(label_smoothing)


# ------------------------------------------------------------------------------ early stopping


def holdout_split_overlapping(dataset, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bug: holds out the last images of each class but keeps training on them too."""
    kept, held = data.holdout_split(dataset, fraction)
    return torch.cat([kept, held]).sort().values, held


def prepare_validating_on_test(config, seed, split, settings):
    """Bug: early stopping's validation batches taken from the test set, so the stopping decision has seen test
    images.
    """
    from regbench.experiment import evaluation_batches, prepare

    run = prepare(config, seed, split, settings)
    run.holdout = evaluation_batches(split.test, settings)
    return run


class EarlyStoppingKeepingTheLast(stopping.EarlyStopping):
    """Bug: stops at the right epoch but keeps the last epoch's weights instead of restoring the best."""

    def monitor(self) -> stopping.Monitor:
        monitor = super().monitor()
        monitor.restore = lambda model: None
        return monitor


class EarlyStoppingWithoutPatience(stopping.EarlyStopping):
    """Bug: stops at the first epoch that does not improve, whatever the patience."""

    def monitor(self) -> stopping.Monitor:
        return stopping.Monitor(
            stopping.EarlyStopping(patience=1, validation_fraction=self.validation_fraction, min_delta=self.min_delta)
        )


# ------------------------------------------------------------------------------------------ noise


def noise_in_eval_too(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """Noise whatever the mode: eval-mode predictions become random."""
    return x if std == 0 else x + std * torch.randn_like(x)


def noise_with_nonzero_mean(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """Uniform [0, 1) noise scaled by std: it shifts every input up by std / 2 on average."""
    return x if not training or std == 0 else x + std * torch.rand_like(x)


def noise_scaled_by_variance(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """std**2 where std belongs: too little noise below 1, too much above."""
    return x if not training or std == 0 else x + std**2 * torch.randn_like(x)


def noise_uniform_of_width_std(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """Uniform noise in [-std, std): zero mean, but its spread is std / sqrt(3) and its law not Gaussian."""
    return x if not training or std == 0 else x + std * (2 * torch.rand_like(x) - 1)


def noise_at_std_zero(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """std 0 read as 'the default': unit noise where none was asked for."""
    return x if not training else x + (std or 1.0) * torch.randn_like(x)


def noise_never(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """The identity: a noise config that silently regularizes nothing."""
    return x


class NoiseModelInEval(FullyConnectedNoise):
    """FullyConnectedNoise drawing its noise with training=True: eval-mode predictions are noisy."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.linear_1(noise.gaussian_noise(self.flatten(x), self.noise.std, True)))
