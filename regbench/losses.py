"""Penalty losses: a base criterion plus lambda times a norm of the model's weights.

The notebook's LassoLoss adds ``lambda * sum|W|`` and RidgeLoss ``lambda * sum W**2`` over the
parameters that ``penalized_parameters`` selects; ElasticNetLoss adds both, and MixedL1L2Loss
(the notebook's exercise) puts Ridge on some layers and Lasso on others. Every loss is a
``PenaltyLoss``: a list of ``PenaltyTerm`` objects, so the base and penalty parts can be read
apart (``parts``) and recorded during training.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple, Sequence

import torch
from torch import nn

__all__ = [
    "ElasticNetLoss",
    "LassoLoss",
    "LossParts",
    "MixedL1L2Loss",
    "PenaltyLoss",
    "PenaltyTerm",
    "RidgeLoss",
    "l1_norm",
    "loss_parts",
    "penalized_parameters",
    "weight_decay_groups",
    "squared_l2_norm",
]

Norm = Callable[[Sequence[torch.Tensor]], torch.Tensor]


def penalized_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The one rule for what a penalty touches: trainable weights, never biases or 1-D parameters.

    Biases and BatchNorm's affine parameters shift or rescale activations; shrinking them does not
    simplify the model, so every penalty in regbench (and in the notebook) leaves them alone. A
    weight under ``torch.nn.utils.parametrize`` (spectral norm, weight norm) counts once, through
    the original that holds its entries: spectral norm's ``original``, weight norm's direction
    ``original1``, never weight norm's magnitude ``original0``, a per-row scale like BatchNorm's.
    """
    left_out = {id(p) for m in model.modules() for p in _scales_of_parametrized_weights(m)}
    return [
        (name, p)
        for name, p in model.named_parameters()
        if p.requires_grad and name.rsplit(".", 1)[-1] != "bias" and p.ndim > 1 and id(p) not in left_out
    ]


def _scales_of_parametrized_weights(module: nn.Module) -> list[nn.Parameter]:
    """Every original of a parametrized tensor but the one holding its entries: the largest, the last of equals (weight
    norm's v).

    Read from the originals alone: computing the tensor runs its parametrization, and spectral
    norm's advances its power iteration in train mode, so merely asking the rule would train.
    """
    scales = []
    for originals in getattr(module, "parametrizations", {}).values():
        params = [p for _, p in sorted(originals.named_parameters(recurse=False))]
        holder = max(reversed(params), key=lambda p: p.numel(), default=None)
        scales += [p for p in params if p is not holder]
    return scales


def weight_decay_groups(model: nn.Module) -> list[dict]:
    """Optimizer parameter groups under the same rule: the penalized weights, then everything else with weight_decay 0.

    An optimizer's weight decay (Adam's coupled L2, AdamW's decoupled shrinkage) then acts on
    exactly what regbench's penalties act on; groups left empty are dropped.
    """
    penalized = {id(p) for _, p in penalized_parameters(model)}
    weights = [p for p in model.parameters() if id(p) in penalized]
    others = [p for p in model.parameters() if id(p) not in penalized]
    return [group for group in ({"params": weights}, {"params": others, "weight_decay": 0.0}) if group["params"]]


class _L1Norm(torch.autograd.Function):
    """sum |W| with its gradient sign(W) kept from the forward pass.

    The same value and gradient as ``torch.stack([p.abs().sum() for p in params]).sum()``, in
    fewer passes over the weights: sign(W) is computed once and is both half of the value
    (sum |W| = W . sign(W)) and the whole gradient, so forward and backward take less time than
    the autograd expression's.
    """

    @staticmethod
    def forward(ctx, *params: torch.Tensor) -> torch.Tensor:
        signs = [p.sign() for p in params]
        ctx.save_for_backward(*signs)
        return torch.stack([torch.dot(p.reshape(-1), s.reshape(-1)) for p, s in zip(params, signs)]).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(s * grad for s in ctx.saved_tensors)


class _SquaredL2Norm(torch.autograd.Function):
    """sum W**2 as one dot product per tensor (one read of the weights, no temporary), gradient 2 W.

    Faster than ``torch.stack([p.square().sum() ...]).sum()``, which reads the weights and writes a temporary.
    """

    @staticmethod
    def forward(ctx, *params: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(*params)
        return torch.stack([torch.dot(p.reshape(-1), p.reshape(-1)) for p in params]).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
        twice = 2 * grad
        return tuple(p * twice for p in ctx.saved_tensors)


def l1_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum |W| over all tensors: the Lasso penalty before lambda."""
    return _L1Norm.apply(*params)


def squared_l2_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum W**2 over all tensors: the Ridge penalty before lambda (no square root, as in the notebook)."""
    return _SquaredL2Norm.apply(*params)


@dataclass
class PenaltyTerm:
    """lam * norm(params): one penalty over one group of parameters."""

    name: str
    lam: float
    norm: Norm
    params: list[nn.Parameter]

    def __call__(self) -> torch.Tensor:
        """The term's value; lam = 0 still builds the graph so gradients are exactly zero."""
        return self.lam * self.norm(self.params)


class LossParts(NamedTuple):
    """A loss split into what the data asks for (base) and what the regularizer adds (penalty)."""

    base: torch.Tensor
    penalty: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """What the optimizer minimizes."""
        return self.base + self.penalty


class PenaltyLoss(nn.Module):
    """base_criterion(outputs, targets) + the sum of the penalty terms."""

    def __init__(self, base_criterion: nn.Module, terms: Iterable[PenaltyTerm]) -> None:
        super().__init__()
        self.base = base_criterion
        self.terms = list(terms)
        if not self.terms:
            raise ValueError("a PenaltyLoss needs at least one penalty term")
        for term in self.terms:
            term.lam = _check_lambda(term.name, term.lam)
            if not term.params:
                raise ValueError(
                    f"the {term.name} penalty has no parameters to act on: the model has no "
                    "trainable weight with ndim > 1 that is not a bias"
                )

    def penalty(self) -> torch.Tensor:
        """The regularizer alone, independent of the batch."""
        return torch.stack([term() for term in self.terms]).sum()

    def parts(self, outputs: torch.Tensor, targets: torch.Tensor) -> LossParts:
        """Base and penalty apart, so training can record both without computing either twice."""
        return LossParts(self.base(outputs, targets), self.penalty())

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """base + penalty, the notebook's single scalar."""
        return self.parts(outputs, targets).total

    def extra_repr(self) -> str:
        """Show each term's lambda and size so a printed loss says what it does."""
        return ", ".join(f"{t.name}={t.lam:g} over {sum(p.numel() for p in t.params)} weights" for t in self.terms)


class LassoLoss(PenaltyLoss):
    """base + l1_lambda * sum|W|: drives unimportant weights to zero."""

    def __init__(self, base_criterion: nn.Module, model: nn.Module, l1_lambda: float = 1e-4) -> None:
        super().__init__(base_criterion, [PenaltyTerm("l1", l1_lambda, l1_norm, _weights(model))])


class RidgeLoss(PenaltyLoss):
    """base + l2_lambda * sum W**2: shrinks all weights, zeroes none."""

    def __init__(self, base_criterion: nn.Module, model: nn.Module, l2_lambda: float = 1e-4) -> None:
        super().__init__(base_criterion, [PenaltyTerm("l2", l2_lambda, squared_l2_norm, _weights(model))])


class ElasticNetLoss(PenaltyLoss):
    """base + l1_lambda * sum|W| + l2_lambda * sum W**2 over the same weights."""

    def __init__(
        self,
        base_criterion: nn.Module,
        model: nn.Module,
        l1_lambda: float = 1e-4,
        l2_lambda: float = 1e-4,
    ) -> None:
        weights = _weights(model)
        super().__init__(
            base_criterion,
            [
                PenaltyTerm("l1", l1_lambda, l1_norm, weights),
                PenaltyTerm("l2", l2_lambda, squared_l2_norm, weights),
            ],
        )


class MixedL1L2Loss(PenaltyLoss):
    """Ridge on ``l2_layers`` and Lasso on ``l1_layers``; the notebook's exercise by default.

    Layers are module names as in ``model.named_modules()`` (``"linear_1"``); a layer named in
    neither list is not penalized at all.
    """

    def __init__(
        self,
        base_criterion: nn.Module,
        model: nn.Module,
        l1_lambda: float = 1e-4,
        l2_lambda: float = 1e-3,
        *,
        l1_layers: Sequence[str] = ("linear_2",),
        l2_layers: Sequence[str] = ("linear_1",),
    ) -> None:
        if not l1_layers and not l2_layers:
            raise ValueError("MixedL1L2Loss needs at least one layer in l1_layers or l2_layers")
        terms = [
            PenaltyTerm(name, lam, norm, _layer_weights(model, layers))
            for name, lam, norm, layers in (
                ("l1", l1_lambda, l1_norm, l1_layers),
                ("l2", l2_lambda, squared_l2_norm, l2_layers),
            )
            if layers  # an empty list means "no penalty of this kind", e.g. Ridge on one layer only
        ]
        super().__init__(base_criterion, terms)


def _weights(model: nn.Module) -> list[nn.Parameter]:
    """All penalized parameters; an empty list is caught by PenaltyLoss with a clear message."""
    return [p for _, p in penalized_parameters(model)]


def _layer_weights(model: nn.Module, layers: Sequence[str]) -> list[nn.Parameter]:
    """Penalized parameters of the named layers, each once (a layer named twice, or a parent and its
    child, is still penalized once); a typo in a layer name is an error, not a no-op."""
    if isinstance(layers, str):
        raise ValueError(f"layers must be a list of layer names, got the string {layers!r}; write [{layers!r}]")
    modules = dict(model.named_modules())
    weighted = {name for name, _ in penalized_parameters(model)}
    params: list[nn.Parameter] = []
    for layer in layers:
        if layer not in modules or layer == "":
            known = sorted(n for n in modules if n)
            raise ValueError(f"layer {layer!r} does not exist in {type(model).__name__}; its layers are {known}")
        own = [p for n, p in modules[layer].named_parameters(prefix=layer) if n in weighted]
        if not own:
            raise ValueError(f"layer {layer!r} has no penalizable weight (trainable, not a bias, ndim > 1)")
        params.extend(p for p in own if not any(p is q for q in params))
    return params


def _check_lambda(name: str, lam: float) -> float:
    """Negative or non-finite lambdas silently turn a regularizer into nonsense, so refuse them.

    Any real scalar is accepted (a NumPy float, a 0-d tensor) and returned as a Python float.
    """
    if isinstance(lam, torch.Tensor) and lam.numel() == 1 and not lam.is_complex():
        lam = lam.item()
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise ValueError(f"{name} lambda must be a real number, got {lam!r}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} lambda must be a finite number >= 0, got {lam!r}")
    return float(lam)


def loss_parts(loss_fn: nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> LossParts:
    """Base and penalty of any loss: a plain criterion is all base and a zero penalty."""
    if isinstance(loss_fn, PenaltyLoss):
        return loss_fn.parts(outputs, targets)
    base = loss_fn(outputs, targets)
    return LossParts(base, torch.zeros((), device=base.device, dtype=base.dtype))
