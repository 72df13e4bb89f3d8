"""Searching a property with Hypothesis, derandomized, and turning what it finds into a Result."""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from regbench.checks.report import CheckUsageError, Invariant, Result, Status
from regbench.configs import Config
from regbench.errors import first_line
from regbench.train import rngs_restored, seed_everything


def _search_settings(max_examples: int) -> settings:
    """Derandomized and database-free, so a verdict is the same on every run and machine; quiet, since the report says it all."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )


@dataclass(frozen=True)
class _Found:
    """A failing example as the report shows it."""

    example: str
    observed: str


def _search(prop: Callable[..., None], strategies: Mapping[str, st.SearchStrategy], max_examples: int) -> Optional[_Found]:
    """The minimal example on which ``prop`` raises, or None when Hypothesis finds none.

    Every example runs with torch seeded to 0, so a random bug fails again on replay; Hypothesis
    replays the shrunk example last, so the last failure recorded is the minimal one. An exception
    from the user's code is a failure of the invariant too (the check could not hold).
    """
    failures: list[tuple[dict, BaseException]] = []

    @_search_settings(max_examples)
    @given(**strategies)
    def run(**drawn: Any) -> None:
        try:
            with rngs_restored():
                torch.manual_seed(0)
                prop(**drawn)
        except Exception as error:
            failures.append((drawn, error))
            raise

    try:
        run()
    except Exception:
        if not failures:
            raise  # Hypothesis itself failed: not a verdict about the user's code
        drawn, error = failures[-1]
        return _Found("; ".join(f"{k} = {v}" for k, v in drawn.items()), _one_line(error))
    return None


def _one_line(error: BaseException) -> str:
    """An assertion's message as is; any other exception with its type; first line only."""
    return (first_line(error) if isinstance(error, AssertionError) else f"raised {type(error).__name__}: {first_line(error)}")[:400]


def property_result(invariant: Invariant, prop: Callable[..., None], strategies: Mapping[str, st.SearchStrategy], max_examples: int) -> Result:
    """Search ``prop`` and turn the outcome into a Result."""
    found = _search(prop, strategies, max_examples)
    if found is None:
        return Result(invariant.name, Status.PASSED, invariant.checks, f"held on {max_examples} generated examples")
    return Result(invariant.name, Status.FAILED, invariant.fix, found.observed, found.example)


def not_applicable(invariant: Invariant, reason: str) -> Result:
    return Result(invariant.name, Status.NOT_APPLICABLE, reason)


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
        raise CheckUsageError(f"calling {name_of(factory)}() failed: {type(error).__name__}: {first_line(error)}") from None


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
    return (type(obj).__module__ or "").startswith("torchvision.transforms") or (getattr(obj, "__module__", "") or "").startswith("torchvision.transforms")


def signature_parameters(obj: Any) -> list[inspect.Parameter]:
    """The call (or constructor) signature's parameters, without self."""
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return []


def is_factory(obj: Any) -> bool:
    """A class, function or partial callable with no arguments (an object instance is the thing itself, not its maker)."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, functools.partial)):
        return False
    return not any(p.default is inspect.Parameter.empty and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in signature_parameters(obj))


def named_like(param: inspect.Parameter, names: Sequence[str]) -> bool:
    """A parameter called like one of ``names``, or annotated as a model (for MODEL_NAMES) or an image (for IMAGE_NAMES)."""
    annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    hint = r"(torch\.)?(nn\.)?Module" if names is MODEL_NAMES else r"(PIL\.)?(Image\.)?Image|(torch\.)?Tensor"
    return param.name.lower().strip("_") in names or re.fullmatch(hint, annotation) is not None


def name_of(obj: Any) -> str:
    """A config's name; module:qualname for a class or function; a transform's short repr (Compose(RandomRotation(...), ToTensor())); else module:Type()."""
    if isinstance(obj, Config):
        return obj.name
    if hasattr(obj, "__qualname__"):
        return f"{obj.__module__}:{obj.__qualname__}"
    if is_torchvision_transform(obj):
        text = re.sub(r"\s+", " ", repr(obj)).replace("( ", "(").replace(" )", ")").replace(") ", "), ")
        return text if len(text) <= 100 else text[:97] + "..."
    return f"{type(obj).__module__}:{type(obj).__qualname__}()"
