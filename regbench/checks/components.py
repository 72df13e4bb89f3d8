"""What a user's model is made of, read from how its modules behave rather than from a class list where possible.

Dropout-like modules are torch's dropout classes and any module with a drop-rate attribute
(``p``, ``drop_prob``, ``drop_rate``, ...) that is random in train mode on the input the model
gives it: torchvision's ``StochasticDepth``, drop-path as vision code writes it, DropBlock.
Normalizations are told apart by where their statistics come from: BatchNorm's from the batch in
train mode (and in eval too when ``track_running_stats=False``), per-sample ones (LayerNorm,
GroupNorm, InstanceNorm, RMSNorm) from each sample alone.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from regbench.train import rngs_restored, seed_torch

__all__ = [
    "DROPOUT_TYPES",
    "PER_SAMPLE_NORM_TYPES",
    "RATE_ATTRIBUTES",
    "TOLERANCE",
    "Stochastic",
    "batchnorms",
    "inputs_seen",
    "per_sample_norms",
    "stochastic_modules",
    "with_rates",
]

# Eval-mode predictions of one sample alone and inside a batch go through float32 kernels chosen by
# batch size; their summation orders move a logit by a few ulps. Batch-dependence bugs move it by O(1).
TOLERANCE = dict(rtol=1e-4, atol=1e-5)

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
PER_SAMPLE_NORM_TYPES = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
)
RATE_ATTRIBUTES = (
    "p",
    "drop_prob",
    "drop_rate",
    "drop_path",
    "drop_path_prob",
    "drop_path_rate",
    "dropout",
    "dropout_prob",
)


@dataclass(frozen=True)
class Stochastic:
    """A module that drops something at random in train mode, and the attribute holding its rate."""

    name: str
    attribute: str
    rate: float


def batchnorms(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every BatchNorm (1d/2d/3d, Sync, Lazy): statistics across the batch."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _BatchNorm)]


def per_sample_norms(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Normalizations whose statistics come from each sample alone (InstanceNorm with running statistics excepted in
    eval).
    """
    return [(name, m) for name, m in model.named_modules() if isinstance(m, PER_SAMPLE_NORM_TYPES)]


def _rate_attribute(module: nn.Module) -> str | None:
    """The first drop-rate attribute holding a number in (0, 1), or None."""
    for attribute in RATE_ATTRIBUTES:
        value = getattr(module, attribute, None)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < float(value) < 1:
            return attribute
    return None


def inputs_seen(model: nn.Module, names: set[str], run: Callable[[nn.Module], object]) -> dict[str, tuple]:
    """The positional inputs each module named in ``names`` receives during ``run`` on a copy of ``model`` in eval
    mode.
    """
    model, seen = copy.deepcopy(model), {}
    handles = [
        m.register_forward_pre_hook(
            lambda mod, args, name=name: seen.setdefault(
                name, tuple(a.detach() if torch.is_tensor(a) else a for a in args)
            )
        )
        for name, m in model.named_modules()
        if name in names
    ]
    try:
        with torch.no_grad(), rngs_restored():
            run(model.eval())
    except Exception:  # a model that fails here fails its own invariants with the reason
        pass
    finally:
        for h in handles:
            h.remove()
    return seen


def _random_in_train(module: nn.Module, args: tuple) -> bool:
    """Whether two train-mode calls on the same input, from different seeds, differ."""
    probe = copy.deepcopy(module).train()
    outputs = []
    with torch.no_grad(), rngs_restored():
        for seed in (0, 1):
            seed_torch(seed)
            try:
                outputs.append(probe(*args))
            except Exception:
                return False
    return all(torch.is_tensor(o) for o in outputs) and not torch.equal(outputs[0], outputs[1])


def stochastic_modules(model: nn.Module, run: Callable[[nn.Module], object]) -> list[Stochastic]:
    """torch's dropout modules with 0 < p < 1, and modules with a drop-rate attribute that are random in train mode
    on what ``run`` feeds them.
    """
    found = [
        Stochastic(name, "p", float(m.p))
        for name, m in model.named_modules()
        if isinstance(m, DROPOUT_TYPES) and 0 < m.p < 1
    ]
    known = {s.name for s in found}
    candidates = {
        name: (m, attribute)
        for name, m in model.named_modules()
        if name not in known and not isinstance(m, DROPOUT_TYPES) and (attribute := _rate_attribute(m)) is not None
    }
    inputs = inputs_seen(model, set(candidates), run) if candidates else {}
    for name, args in inputs.items():
        module, attribute = candidates[name]
        if _random_in_train(module, args):
            found.append(Stochastic(name, attribute, float(getattr(module, attribute))))
    return sorted(found, key=lambda s: s.name)


def with_rates(model: nn.Module, stochastic: Sequence[Stochastic], rate: float = 0.0) -> nn.Module:
    """A copy of ``model`` with every stochastic module's rate set to ``rate`` (0: the model as eval mode should
    compute it).
    """
    copied = copy.deepcopy(model)
    modules = dict(copied.named_modules())
    for s in stochastic:
        setattr(modules[s.name], s.attribute, rate)
    return copied
