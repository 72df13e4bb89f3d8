"""The user's objects as the checks meet them: built seeded, named, their signatures read."""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, Callable, Sequence

import torch

from regbench.checks.report import CheckUsageError
from regbench.configs import Config
from regbench.errors import first_line
from regbench.train import rngs_restored, seed_everything


def built(factory: Callable[[], Any], seed: int) -> Any:
    """factory() with its random initialization drawn from ``seed``, leaving the global RNGs alone."""
    with rngs_restored():
        seed_everything(seed)
        return factory()


def made(factory: Callable[[], Any]) -> Any:
    """The user's object built once for inspection; an error there is a usage problem, reported in one line."""
    try:
        return built(factory, 0)
    except Exception as error:
        raise CheckUsageError(
            f"calling {name_of(factory)}() failed: {type(error).__name__}: {first_line(error)}"
        ) from None


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, for messages."""
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def tensor_output(output: Any, what: str) -> torch.Tensor:
    """A model's output as one tensor; a tuple or dict is a usage problem the message names."""
    assert isinstance(output, torch.Tensor), f"{what} returned {type(output).__name__}, not a tensor"
    return output


MODEL_NAMES = ("model", "net", "network", "module", "classifier")
IMAGE_NAMES = ("img", "image", "images", "pic", "picture", "x", "tensor", "sample")


def is_torchvision_transform(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("torchvision.transforms") or (
        getattr(obj, "__module__", "") or ""
    ).startswith("torchvision.transforms")


def signature_parameters(obj: Any) -> list[inspect.Parameter]:
    """The call (or constructor) signature's parameters, without self."""
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return []


def is_factory(obj: Any) -> bool:
    """A class, function or partial callable with no arguments (an object instance is the thing itself, not its
    maker).
    """
    if not (inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, functools.partial)):
        return False
    return not any(
        p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for p in signature_parameters(obj)
    )


def named_like(param: inspect.Parameter, names: Sequence[str]) -> bool:
    """A parameter called like one of ``names``, or annotated as a model (for MODEL_NAMES) or an image (for
    IMAGE_NAMES).
    """
    annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    hint = r"(torch\.)?(nn\.)?Module" if names is MODEL_NAMES else r"(PIL\.)?(Image\.)?Image|(torch\.)?Tensor"
    return param.name.lower().strip("_") in names or re.fullmatch(hint, annotation) is not None


def name_of(obj: Any) -> str:
    """A config's name; module:qualname for a class or function; a transform's short repr
    (Compose(RandomRotation(...), ToTensor())); else module:Type().
    """
    if isinstance(obj, Config):
        return obj.name
    if hasattr(obj, "__qualname__"):
        return f"{obj.__module__}:{obj.__qualname__}"
    if is_torchvision_transform(obj):
        text = re.sub(r"\s+", " ", repr(obj)).replace("( ", "(").replace(" )", ")").replace(") ", "), ")
        return text if len(text) <= 100 else text[:97] + "..."
    return f"{type(obj).__module__}:{type(obj).__qualname__}()"
