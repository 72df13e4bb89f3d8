"""The object under check, whatever it is: what kind it is (model, loss, transform or config), loading it from
"module:attribute", and its checks.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Mapping, Optional

from torch import nn

from regbench import references
from regbench.checks.configs import CONFIG_INVARIANTS, check_config
from regbench.checks.losses import LOSS_INVARIANTS, check_loss
from regbench.checks.models import MODEL_INVARIANTS, check_model
from regbench.checks.objects import (
    IMAGE_NAMES,
    MODEL_NAMES,
    is_factory,
    is_torchvision_transform,
    made,
    name_of,
    named_like,
    signature_parameters,
)
from regbench.checks.report import KINDS, CheckUsageError, Report
from regbench.checks.transforms import TRANSFORM_INVARIANTS, check_transform
from regbench.configs import Config, fitted_arguments
from regbench.losses import PenaltyLoss

INVARIANTS = {
    "model": tuple(MODEL_INVARIANTS),
    "loss": tuple(LOSS_INVARIANTS),
    "transform": tuple(TRANSFORM_INVARIANTS),
    "config": CONFIG_INVARIANTS,
}


def kind_of(obj: Any) -> str:
    """ "model", "loss", "transform" or "config", by inspection; CheckUsageError when the object does not say."""
    if isinstance(obj, Config):
        return "config"
    if is_torchvision_transform(obj):
        return "transform"
    if isinstance(obj, PenaltyLoss) or (inspect.isclass(obj) and issubclass(obj, PenaltyLoss)):
        return "loss"
    if isinstance(obj, nn.Module):
        return "model"
    if not callable(obj):
        raise CheckUsageError(
            f"{name_of(obj)} is a {type(obj).__name__}, not a model, loss or transform (nor a callable making one)"
        )
    params = [
        p
        for p in signature_parameters(obj)
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if len(required) >= 2 and named_like(required[1], MODEL_NAMES):
        return "loss"  # the notebook's Loss(base_criterion, model, lam)
    if len(required) == 1:
        if named_like(required[0], MODEL_NAMES):
            return "loss"
        if named_like(required[0], IMAGE_NAMES):
            return "transform"
    if not required and is_factory(obj):
        if inspect.isclass(obj) and issubclass(obj, nn.Module):
            return "model"
        product = made(obj)  # a factory: what it makes says what it is
        if is_torchvision_transform(product) or (
            callable(product) and not isinstance(product, nn.Module) and not inspect.isclass(product)
        ):
            return "transform"
        if isinstance(product, nn.Module):
            return "model"
    signature = f"({', '.join(p.name for p in required)})"
    raise CheckUsageError(
        f"cannot tell what {name_of(obj)}{signature} is: name the argument model or img, or pass --kind"
        " model|loss|transform"
    )


def check(
    obj: Any,
    *,
    kind: Optional[str] = None,
    name: Optional[str] = None,
    dataset: Any = None,
    root: Any = None,
    **options: Any,
) -> Report:
    """The checks for whatever ``obj`` is (or ``kind`` says); options that do not apply to that kind are ignored.

    ``dataset`` (a built-in name with its ``root``, MODULE:ATTR, or a regbench Dataset) shapes the
    inputs like that dataset's samples and sizes a config's factories by it; ``input_shape`` still wins.
    """
    if dataset is not None:
        from regbench.datasets import select_datasets

        whole = (
            {} if dataset == "digits" else {"n_train": None, "n_test": None}
        )  # only its shape and classes matter here: every sample
        # (the digits' one pool cannot give all of itself to both sides, so it keeps its default split)
        split = select_datasets(
            dataset if isinstance(dataset, str) else [dataset], roots={"": root} if root is not None else None, **whole
        )[0].split()
        options = {
            "input_shape": split.sample_shape,
            **{k: v for k, v in options.items() if v is not None},
            "data": split.fit,
        }
    kind = kind or kind_of(obj)
    if dataset is not None and kind in ("model", "transform"):
        obj = _sized(obj, options["data"])
    runners = {"model": check_model, "loss": check_loss, "transform": check_transform, "config": check_config}
    if kind not in runners:
        raise CheckUsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    accepted = inspect.signature(runners[kind]).parameters
    return runners[kind](obj, name=name, **{k: v for k, v in options.items() if k in accepted and v is not None})


def _sized(factory: Any, data: dict) -> Any:
    """A model or transform factory that names input_shape or num_classes (configs.DATA_ARGUMENTS), given the
    dataset's; any other as it is.
    """
    fitted = fitted_arguments(factory, data)
    if not fitted:
        return factory
    sized = functools.partial(factory, **fitted)
    functools.update_wrapper(sized, factory)  # reports name the factory, not the partial
    return sized


def load_target(target: str) -> Any:
    """``module:attribute`` imported from the current directory or PYTHONPATH; CheckUsageError with one line on any
    problem.
    """
    try:
        return references.load_reference(target)
    except references.BadReference as error:
        raise CheckUsageError(str(error)) from None


def check_target(target: str, **options: Any) -> list[Report]:
    """The reports for what ``target`` names: one object, or each config of a list or dict of configs, named as
    typed.
    """
    obj = load_target(target)
    items = list(obj.values()) if isinstance(obj, Mapping) else list(obj) if isinstance(obj, (list, tuple)) else None
    if items and all(isinstance(item, Config) for item in items):
        return [check(config, name=f"{target}[{config.name}]", **options) for config in items]
    return [check(obj, name=target, **options)]
