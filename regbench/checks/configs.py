"""A whole config checked at once: its model, its loss on that model, and each augmentation, in one report.

The same file of configs is then both checked (``regbench check my_bench:CONFIGS``) and
benchmarked (``regbench run --configs my_bench:CONFIGS``). Each part goes through the checks of
its kind, and its results are named ``model.<invariant>``, ``loss.<invariant>``,
``augment.<invariant>`` (the fast engine's batch transform, checked one image at a time) and
``transform.<invariant>`` (the notebook engine's PIL transform). Two parts exist only in
configs: ``optimizer.*`` (an optimizer's weight decay must follow the penalty rule) and
``criterion.*`` (a label-smoothed criterion must be cross-entropy on the smoothed targets).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from regbench.checks.engine import Invariant
from regbench.checks.losses import LOSS_INVARIANTS, check_loss
from regbench.checks.models import MODEL_INVARIANTS, check_model
from regbench.checks.objects import built
from regbench.checks.report import MAX_EXAMPLES, Report, Result, Status
from regbench.checks.transforms import DIGIT_SHAPE, TRANSFORM_INVARIANTS, check_transform
from regbench.configs import BatchTransform, Config
from regbench.errors import first_line
from regbench.losses import penalized_parameters

__all__ = ["CONFIG_INVARIANTS", "check_config"]

DECAY_LR = 1e-2  # the step size of the weight-decay check: any positive lr shows where the decay acts


class OneImage:
    """A batch augmentation seen as a per-image transform (a (C, H, W) tensor in, a tensor out), as the transform checks
    take them.

    Its generator is seeded from torch's global RNG, which the checks seed: an augmentation that
    honours the generator it is given is then reproducible under seed, as the fast engine needs.
    """

    def __init__(self, batch_transform: BatchTransform) -> None:
        self.batch_transform = batch_transform

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        return self.batch_transform(image[None], generator)[0]


def _prefixed(part: str, results: list[Result]) -> list[Result]:
    """A part's results, named for the part."""
    return [Result(f"{part}.{r.invariant}", r.status, r.explanation, r.observed, r.counterexample) for r in results]


def _absent(part: str, reason: str) -> list[Result]:
    """Every invariant of a part the config does not have, not applicable with the reason."""
    return [Result(f"{part}.{name}", Status.NOT_APPLICABLE, reason) for name in PARTS[part]]


def _prop_decay_scope(config: Config, seed: int) -> None:
    model = built(config.build_model, seed)
    twin = copy.deepcopy(model)
    decayed = config.build_optimizer(model, DECAY_LR)
    undecayed = dataclasses.replace(
        config, optimizer_args={**config.optimizer_args, "weight_decay": 0.0}
    ).build_optimizer(twin, DECAY_LR)
    generator = torch.Generator().manual_seed(seed)
    for p, q in zip(model.parameters(), twin.parameters()):
        p.grad = torch.randn(p.shape, generator=generator).to(p)
        q.grad = p.grad.clone()
    decayed.step()
    undecayed.step()
    penalized = {name for name, _ in penalized_parameters(model)}
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        if name not in penalized:
            assert torch.equal(p.detach(), q.detach()), (
                f"weight decay moved {name} (shape {tuple(p.shape)}) by up to {float((p - q).detach().abs().max()):.3g}"
            )


def _decays(config: Config) -> bool:
    """Whether the built optimizer has any weight decay to check."""
    if "weight_decay" not in config.arguments("optimizer"):
        return False
    with torch.random.fork_rng(devices=[]):
        optimizer = config.build_optimizer(config.build_model(), DECAY_LR)
    return any(group.get("weight_decay", 0) for group in optimizer.param_groups)


@st.composite
def _logits(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) float64 logits, confident and uncertain rows alike, and class targets."""
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 10))
    values = draw(st.lists(st.floats(-30, 30, allow_subnormal=False), min_size=n * c, max_size=n * c))
    return torch.tensor(values, dtype=torch.float64).view(n, c), torch.tensor(
        draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
    )


def _smoothed(config: Config, eps: float) -> torch.nn.Module:
    """The config's criterion with its label smoothing set to ``eps``."""
    return dataclasses.replace(
        config, criterion_args={**config.criterion_args, "label_smoothing": eps}
    ).build_criterion()


def _prop_zero_smoothing(config: Config, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    logits, targets = batch
    loss, plain = float(_smoothed(config, 0.0)(logits, targets)), float(F.cross_entropy(logits, targets))
    assert abs(loss - plain) <= 1e-9 * max(1.0, abs(plain)), (
        f"with label_smoothing = 0 the loss is {loss:.8g}, cross-entropy {plain:.8g}"
    )


def _prop_smoothed_targets(config: Config, batch: tuple[torch.Tensor, torch.Tensor], eps: float) -> None:
    logits, targets = batch
    q = (1 - eps) * F.one_hot(targets, logits.shape[1]).double() + eps / logits.shape[1]
    expected = float(-(q * F.log_softmax(logits, 1)).sum(1).mean())
    loss = float(_smoothed(config, eps)(logits, targets))
    assert abs(loss - expected) <= 1e-7 * max(1.0, abs(expected)), (
        f"at label_smoothing {eps:.4g} the loss is {loss:.8g}, cross-entropy on the smoothed targets {expected:.8g}"
    )


def _needs_decay(config: Config) -> Optional[str]:
    return None if _decays(config) else "the optimizer has no weight decay"


def _needs_smoothing(config: Config) -> Optional[str]:
    smoothing = "label_smoothing" in config.criterion_args and "label_smoothing" in config.arguments("criterion")
    return None if smoothing else "the config does not set the criterion's label_smoothing"


OPTIMIZER_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "weight_decay_skips_biases_and_1d",
            "a step with the config's weight decay moves biases and 1-D parameters exactly as the same step without"
            " decay",
            "the optimizer decays biases or 1-D parameters (BatchNorm's scale and shift); build it from "
            "regbench.losses.weight_decay_groups(model), as regbench does for any optimizer taking weight_decay",
            _prop_decay_scope,
            lambda config: {"seed": st.integers(0, 2**16 - 1)},
            _needs_decay,
        ),
    )
}
CRITERION_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "smoothing_zero_is_cross_entropy",
            "with label_smoothing = 0 the criterion equals torch.nn.functional.cross_entropy",
            "label_smoothing = 0 still smooths (a floor or an offset on the smoothing); eps = 0 must be plain"
            " cross-entropy",
            _prop_zero_smoothing,
            lambda config: {"batch": _logits()},
            _needs_smoothing,
        ),
        Invariant(
            "smoothing_is_cross_entropy_on_smoothed_targets",
            "the loss is -sum(q log softmax(z)) with q = (1 - eps) one-hot + eps / C, so never below the entropy of q",
            "the criterion is not cross-entropy against the smoothed targets (the uniform part missing, or eps / (C -"
            " 1) spread over the other classes); use torch.nn.CrossEntropyLoss(label_smoothing=eps)",
            _prop_smoothed_targets,
            lambda config: {"batch": _logits(), "eps": st.floats(0.0, 1.0)},
            _needs_smoothing,
        ),
    )
}
PARTS = {
    "model": MODEL_INVARIANTS,
    "loss": LOSS_INVARIANTS,
    "augment": TRANSFORM_INVARIANTS,
    "transform": TRANSFORM_INVARIANTS,
    "optimizer": OPTIMIZER_INVARIANTS,
    "criterion": CRITERION_INVARIANTS,
}
CONFIG_INVARIANTS = tuple(f"{part}.{name}" for part, invariants in PARTS.items() for name in invariants)


def _training_parts(config: Config, max_examples: int) -> list[Result]:
    """The optimizer's and the criterion's invariants, where the config's choices make them apply."""
    return [
        result
        for part in ("optimizer", "criterion")
        for result in _prefixed(part, [i.result(config, max_examples) for i in PARTS[part].values()])
    ]


def check_config(
    config: Config,
    *,
    max_examples: int = MAX_EXAMPLES,
    input_shape: Optional[Sequence[int]] = None,
    data: Optional[Mapping[str, Any]] = None,
    name: Optional[str] = None,
) -> Report:
    """Every invariant of what ``config`` builds: its model, its loss built on that model, its augmentations, optimizer
    and criterion.

    ``data`` (a split's ``fit``: input_shape, num_classes) sizes the factories as a run on that dataset would.
    """
    build_model = functools.partial(config.build_model, data)
    results = _prefixed("model", check_model(build_model, input_shape=input_shape, max_examples=max_examples).results)
    if config.loss is None:
        results += _absent("loss", "the config trains on its base criterion alone: there is no penalty to check")
    else:  # the config's keywords are the defaults; the checks set every lambda argument themselves
        loss = functools.partial(config.loss, **config.loss_args)
        results += _prefixed(
            "loss", check_loss(loss, model=build_model, input_shape=input_shape, max_examples=max_examples).results
        )
    for part in ("augment", "transform"):
        if getattr(config, part) is None:
            results += _absent(part, f"the config has no {part} ({'fast' if part == 'augment' else 'notebook'} engine)")
            continue
        shape = tuple(data["input_shape"]) if data else DIGIT_SHAPE
        why = (
            None
            if len(shape) == 3 and shape[0] in (1, 3)
            else f"the transform checks draw images of 1 or 3 channels, (C, H, W); this dataset's samples are {shape}"
        )
        try:
            made_part = config.build_augment(data) if part == "augment" else config.build_transform(data)
        except (
            ValueError,
            TypeError,
        ) as error:  # an image transform asked to fit feature vectors, as a run's preflight finds
            why = f"it cannot be built for this dataset: {type(error).__name__}: {first_line(error)}"
        if why:
            results += _absent(part, why)
        else:
            checked = OneImage(made_part) if part == "augment" else made_part
            results += _prefixed(part, check_transform(checked, input_shape=shape, max_examples=max_examples).results)
    return Report(
        name or config.name,
        "config",
        results + _training_parts(config, max_examples),
        {"hash": config.hash, "examples": max_examples},
    )
