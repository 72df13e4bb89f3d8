"""A whole config checked at once: its model, its loss on that model, and each augmentation, in one report.

The same file of configs is then both checked (``regbench check my_bench:CONFIGS``) and
benchmarked (``regbench run --configs my_bench:CONFIGS``). Each part goes through the checks of
its kind, and its results are named ``model.<invariant>``, ``loss.<invariant>``,
``augment.<invariant>`` (the fast engine's batch transform, checked one image at a time) and
``transform.<invariant>`` (the notebook engine's PIL transform).
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import torch

from regbench.checks.losses import LOSS_INVARIANTS, check_loss
from regbench.checks.models import MODEL_INVARIANTS, check_model
from regbench.checks.report import MAX_EXAMPLES, Report, Result, Status
from regbench.checks.transforms import TRANSFORM_INVARIANTS, check_transform
from regbench.configs import BatchTransform, Config

__all__ = ["CONFIG_INVARIANTS", "check_config"]

PARTS = {"model": MODEL_INVARIANTS, "loss": LOSS_INVARIANTS, "augment": TRANSFORM_INVARIANTS, "transform": TRANSFORM_INVARIANTS}
CONFIG_INVARIANTS = tuple(f"{part}.{name}" for part, invariants in PARTS.items() for name in invariants)


class OneImage:
    """A batch augmentation seen as a per-image transform (a (1, H, W) tensor in, a tensor out), as the transform checks take them.

    Its generator is seeded from torch's global RNG, which the checks seed: an augmentation that
    honours the generator it is given is then reproducible under seed, as the fast engine needs.
    """

    def __init__(self, batch_transform: BatchTransform) -> None:
        self.batch_transform = batch_transform

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        return self.batch_transform(image[None], generator)[0]


def _prefixed(part: str, report: Report) -> list[Result]:
    """A part's results, named for the part."""
    return [Result(f"{part}.{r.invariant}", r.status, r.explanation, r.observed, r.counterexample) for r in report.results]


def _absent(part: str, reason: str) -> list[Result]:
    """Every invariant of a part the config does not have, not applicable with the reason."""
    return [Result(f"{part}.{name}", Status.NOT_APPLICABLE, reason) for name in PARTS[part]]


def check_config(config: Config, *, max_examples: int = MAX_EXAMPLES, input_shape: Optional[Sequence[int]] = None,
                 name: Optional[str] = None) -> Report:
    """Every invariant of what ``config`` builds: its model, its loss built on that model, its augmentations."""
    results = _prefixed("model", check_model(config.build_model, input_shape=input_shape, max_examples=max_examples))
    if config.loss is None:
        results += _absent("loss", "the config trains on its base criterion alone: there is no penalty to check")
    else:  # the config's keywords are the defaults; the checks set every lambda argument themselves
        loss = functools.partial(config.loss, **config.loss_args)
        results += _prefixed("loss", check_loss(loss, model=config.build_model, max_examples=max_examples))
    for part, built in (("augment", config.build_augment()), ("transform", config.build_transform())):
        if built is None:
            results += _absent(part, f"the config has no {part} ({'fast' if part == 'augment' else 'notebook'} engine)")
        else:
            results += _prefixed(part, check_transform(OneImage(built) if part == "augment" else built, max_examples=max_examples))
    return Report(name or config.name, "config", results, {"hash": config.hash, "examples": max_examples})
