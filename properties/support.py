"""Small helpers the property modules share: seeded RNG scopes, example budgets, the penalty rule written independently
of
regbench, value comparisons that tell a wrong value from a crash, and the checks engine's invariants as property checks
on
regbench's components or their mutants."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional

import torch
from hypothesis import settings
from hypothesis import strategies as st
from torch import nn

from regbench.checks import strategies as gen
from regbench.checks.configs import PARTS
from regbench.checks.engine import Invariant
from regbench.checks.losses import LOSS_INVARIANTS, loss_subject
from regbench.checks.models import MODEL_INVARIANTS, ModelSubject
from regbench.checks.transforms import TRANSFORM_INVARIANTS, transform_subject
from regbench.configs import Config
from regbench.models import FullyConnectedBatchNorm
from regbench.train import seed_torch

__all__ = [
    "CPU",
    "DATA",
    "NOTEBOOK_SPEC",
    "assert_penalty_gradient",
    "assert_values_close",
    "config_check",
    "config_with",
    "drawn_model",
    "fewer_examples",
    "is_penalized",
    "loss_check",
    "model_check",
    "penalty_losses",
    "seeded",
    "trained_state",
    "transform_check",
]

CPU = torch.device("cpu")
DATA = {"data": st.data()}  # what every engine check draws its inputs (and model) from
NOTEBOOK_SPEC = gen.ModelSpec(
    "plain", 784, 500, 10
)  # the notebook's MLP: the smallest initial weights (|W| < 1/sqrt(784)) of any model drawn
Check = Callable[..., None]


@contextlib.contextmanager
def seeded(seed: int, device: torch.device = CPU) -> Iterator[None]:
    """Seed torch's global RNG (CPU and this CUDA device) inside the block only, so examples stay independent."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        seed_torch(seed)
        yield


def fewer_examples(divisor: int) -> settings:
    """A fraction of the profile's examples, for properties that train a model per example."""
    return settings(max_examples=max(3, settings.default.max_examples // divisor))


def is_penalized(name: str, parameter: nn.Parameter) -> bool:
    """The notebook's rule (it penalizes the two weight matrices, never a bias), written independently of regbench:
    trainable, not a bias, ndim > 1."""
    return parameter.requires_grad and name.rsplit(".", 1)[-1] != "bias" and parameter.ndim > 1


def assert_values_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    what: str,
    rtol: Optional[float] = None,
    atol: Optional[float] = None,
) -> None:
    """torch.testing.assert_close on values, its message naming ``what``; a tensor of another shape, dtype or device
    raises
    TypeError: a crash, so a mutant that returns the wrong kind of tensor is not counted as caught by a property about
    values.
    """
    for attribute in ("shape", "dtype", "device"):
        if getattr(actual, attribute) != getattr(expected, attribute):
            raise TypeError(
                f"{what}: no values to compare, {attribute} {getattr(actual, attribute)} where"
                f" {getattr(expected, attribute)} was expected"
            )
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=lambda message: f"{what}: {message}")


GRADIENT_RTOL = (
    1e-5  # float32 rounding of lambda * sign(W) or 2 * lambda * W is a few ulps (1.2e-7 each); a factor-2 bug is 0.5
)


def assert_penalty_gradient(grad: torch.Tensor, expected: torch.Tensor, *, what: str) -> None:
    """A penalty's gradient against its closed form, in float64, relative to the expected value itself (lambda * |W| or
    lambda):
    no absolute floor, which at lambda 1e-4 and the notebook's |W| < 0.05 would hide a gradient twice too large."""
    assert_values_close(grad.double(), expected.double(), what=what, rtol=GRADIENT_RTOL, atol=0.0)


def penalty_losses() -> dict[str, Callable[[nn.Module, nn.Module, float], nn.Module]]:
    """regbench's penalty losses behind one (base, model, lambda) signature, every lambda set to the same value."""
    from regbench import losses

    return {
        "lasso": lambda base, model, lam: losses.LassoLoss(base, model, lam),
        "ridge": lambda base, model, lam: losses.RidgeLoss(base, model, lam),
        "elasticnet": lambda base, model, lam: losses.ElasticNetLoss(base, model, lam, lam),
        "mixed": lambda base, model, lam: losses.MixedL1L2Loss(base, model, lam, lam),
    }


def trained_state(model: nn.Module, spec: gen.ModelSpec, device: torch.device) -> nn.Module:
    """Give BatchNorm non-trivial running statistics and affine parameters, as after training."""
    if hasattr(model, "bn_1"):
        with torch.no_grad(), seeded(spec.seed, device):
            model.bn_1.weight.uniform_(0.5, 2.0)
            model.bn_1.bias.uniform_(-1.0, 1.0)
            model.train()(torch.randn(8, spec.input_size, device=device) * 2 + 0.5)
    return model.eval()


def _engine_check(invariant: Invariant, subject: Callable[[Any, torch.device, st.DataObject], Any]) -> Check:
    """``invariant`` as a property check ``check(impl, device, *, data)``: the subject built from the implementation
    under test
    (regbench's, or a mutant of it), its inputs drawn as ``regbench check`` draws them."""

    def check(impl: Any, device: torch.device, *, data: st.DataObject) -> None:
        invariant.holds(subject(impl, device, data), data)

    check.__name__ = check.__qualname__ = invariant.name
    return check


def drawn_model(model_class: Any, kind: str, device: torch.device, data: st.DataObject) -> ModelSubject:
    """A model of ``kind``'s constructor as the engine sees it, with generated widths, dropout rate, seed and trained
    BatchNorm statistics.
    """
    spec = data.draw(gen.model_specs(kinds=(kind,), min_dropout=0.01), label="model")
    return ModelSubject(trained_state(spec.build(model_class, device), spec, device), (spec.input_size,))


def model_check(name: str, kind: str) -> Check:
    """A model invariant on a class of ``kind``'s constructor (drawn_model)."""
    return _engine_check(
        MODEL_INVARIANTS[name], lambda model_class, device, data: drawn_model(model_class, kind, device, data)
    )


def loss_check(name: str) -> Check:
    """A loss invariant on a (base, model, lambda) factory, over regbench's models."""
    return _engine_check(LOSS_INVARIANTS[name], lambda factory, device, data: loss_subject(factory, device=device))


def transform_check(name: str) -> Check:
    """A transform invariant on a zero-argument transform factory."""
    return _engine_check(TRANSFORM_INVARIANTS[name], lambda factory, device, data: transform_subject(factory))


def config_with(part: str, factory: Any, **arguments: Any) -> Config:
    """A config whose ``part`` (optimizer or criterion) is ``factory`` with ``arguments``, on a small BatchNorm MLP."""
    return Config(
        name=part,
        model=FullyConnectedBatchNorm,
        model_args={"input_size": 12, "hidden_size": 12},
        **{part: factory},
        **arguments,
    )


def config_check(part: str, name: str, **arguments: Any) -> Check:
    """An optimizer or criterion invariant on a factory, as config_with builds it."""
    return _engine_check(PARTS[part][name], lambda factory, device, data: config_with(part, factory, **arguments))
