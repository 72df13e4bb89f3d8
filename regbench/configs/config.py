"""The Config type: what one cell of the matrix trains, as factories and their keyword arguments.

A ``Config`` names a model factory, a loss factory in the notebook's convention
(``LassoLoss(base_criterion, model, l1_lambda)``), an augmentation for each engine and an
optimizer, each beside its keyword arguments; nothing is dispatched on strings. A config checks
itself when it is made (factories callable, keywords accepted, everything picklable so worker
processes can import it) and describes itself as stable JSON with a short hash, which every
results file records so that the gate never compares two different things under one name.
"""

from __future__ import annotations

import functools
import inspect
import json
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch
from torch import nn

from regbench import losses
from regbench.describing import described, qualified_name, stable_hash
from regbench.errors import UsageError
from regbench.stopping import EarlyStopping

__all__ = ["BatchTransform", "DATA_ARGUMENTS", "FACTORIES", "Config", "ConfigError", "fitted_arguments", "signature_of"]

BatchTransform = Callable[[torch.Tensor, Optional[torch.Generator]], torch.Tensor]

# Each factory field, with the positional arguments regbench passes before the config's keywords.
FACTORIES: dict[str, tuple[str, ...]] = {
    "model": (),  # model(**model_args) -> nn.Module
    "criterion": (),  # criterion(**criterion_args) -> the base loss on (logits, targets)
    "loss": ("base_criterion", "model"),  # loss(base, model, **loss_args) -> base + penalty
    "augment": (),  # augment(**augment_args) -> (images, generator) -> images, on whole batches (fast engine)
    "transform": (),  # transform(**transform_args) -> PIL image -> tensor (notebook engine)
    "optimizer": ("params",),  # optimizer(<parameter groups>, lr=<the run's lr>, **optimizer_args)
    "stopping": (),  # stopping(**stopping_args) -> EarlyStopping (None: train every epoch)
}
# What a run fills in from its dataset, for any factory whose signature names it and whose config does not set it:
# one sample's shape (C, H, W) or (D,), and the number of classes. A config's hash leaves them out unless it sets them,
# since they describe the data, not the regularizer.
DATA_ARGUMENTS = ("input_shape", "num_classes")


class ConfigError(UsageError):
    """A config that cannot be trained as written; the message names the config and the field."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """One cell of the matrix: factories and their keyword arguments, trained over seeds.

    ``model`` and ``loss`` are any callables (a class such as ``FullyConnected`` or a function);
    keywords for each live in ``<field>_args``, so a config says in data what it builds.
    """

    name: str  # a short label: results, tables and the gate key on it
    model: Callable[..., nn.Module]
    loss: Optional[Callable[..., nn.Module]] = None  # None: the base criterion alone
    description: str = ""
    model_args: Mapping[str, Any] = field(default_factory=dict)
    loss_args: Mapping[str, Any] = field(default_factory=dict)
    criterion: Callable[..., nn.Module] = nn.CrossEntropyLoss  # the notebook's base criterion
    criterion_args: Mapping[str, Any] = field(default_factory=dict)
    augment: Optional[Callable[..., BatchTransform]] = None  # the fast engine's batch augmentation (None: none)
    augment_args: Mapping[str, Any] = field(default_factory=dict)
    transform: Optional[Callable[..., Callable]] = (
        None  # the notebook engine's PIL train transform (None: ToTensor only)
    )
    transform_args: Mapping[str, Any] = field(default_factory=dict)
    optimizer: Callable[..., torch.optim.Optimizer] = (
        torch.optim.Adam
    )  # at the run's lr unless optimizer_args says otherwise
    optimizer_args: Mapping[str, Any] = field(default_factory=dict)
    stopping: Optional[Callable[..., EarlyStopping]] = (
        None  # early stopping on a split of the training data (None: every epoch)
    )
    stopping_args: Mapping[str, Any] = field(default_factory=dict)
    grid_of: Optional[str] = None  # set by expand_grids: the config this cell of a grid expands
    grid: Mapping[str, Any] = field(default_factory=dict)  # ... and its swept values, {"loss.l1_lambda": 1e-05}

    def __post_init__(self) -> None:
        """Refuse, before any training, what would fail later or in a worker process."""
        if (
            not isinstance(self.name, str)
            or not self.name
            or any(c in self.name for c in ",:")
            or any(c.isspace() for c in self.name)
        ):
            raise ConfigError(
                f"config name {self.name!r}: give a non-empty name without commas, colons or spaces (the command line"
                " lists configs with them)"
            )
        if not isinstance(self.description, str):
            raise ConfigError(
                f"config {self.name!r}: description must be a string, got {type(self.description).__name__}"
            )
        if not isinstance(self.grid, Mapping) or not all(
            isinstance(k, str) and k.partition(".")[0] in FACTORIES for k in self.grid
        ):
            raise ConfigError(
                f"config {self.name!r}: grid must map FIELD.ARGUMENT (a factory field and one of its arguments) to a"
                " value"
            )
        object.__setattr__(self, "grid", dict(self.grid))
        for name, leading in FACTORIES.items():
            factory, args = getattr(self, name), getattr(self, f"{name}_args")
            if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
                raise ConfigError(
                    f"config {self.name!r}: {name}_args must be a dict of keyword arguments, got {args!r}"
                )
            if isinstance(
                factory, functools.partial
            ):  # Hydra's _partial_, or arguments bound the usual way: the same config unwrapped
                factory, args = _unwrap_partial(factory, args, f"config {self.name!r}: {name}")
                object.__setattr__(self, name, factory)
            object.__setattr__(
                self, f"{name}_args", dict(args)
            )  # a copy: the caller's dict may change later, the config may not
            if factory is None:
                if args:
                    raise ConfigError(f"config {self.name!r}: {name}_args given without a {name} factory")
                if name in ("model", "criterion", "optimizer"):
                    raise ConfigError(f"config {self.name!r}: {name} is required (a class or function that builds it)")
                continue
            self._check_factory(name, factory, leading, args)

    def _check_factory(self, name: str, factory: Any, leading: tuple[str, ...], args: Mapping[str, Any]) -> None:
        """Callable, importable by name, picklable with its arguments, and accepting those arguments."""
        where = f"config {self.name!r}: {name}"
        if not callable(factory):
            raise ConfigError(
                f"{where} must be callable (a class or a module-level function), got {type(factory).__name__}"
                f" {factory!r}"
            )
        qualified = qualified_name(factory)
        if qualified is None:
            raise ConfigError(
                f"{where}: {factory!r} is not a class or module-level function; give the function itself and its"
                f" keywords in {name}_args"
            )
        try:
            pickle.dumps((factory, dict(args)))
        except Exception as error:  # PicklingError, AttributeError ("Can't pickle local object"), TypeError
            raise ConfigError(
                f"{where}: {qualified} or its {name}_args cannot be pickled ({type(error).__name__}), so worker"
                " processes could not import it; define factories at module level (not a lambda or a local function)"
            ) from None
        for key, value in args.items():
            try:
                described(value)
            except TypeError as error:
                raise ConfigError(f"{where}_args[{key!r}]: {error}") from None
        signature = signature_of(factory)
        if signature is None:
            return  # a builtin without a signature: its arguments are checked when it is built
        placeholders = [None] * len(leading)
        call_args = {"lr": 1.0, **args} if name == "optimizer" else dict(args)
        try:
            signature.bind(*placeholders, **call_args)
        except TypeError as error:
            takes = f" after ({', '.join(leading)})" if leading else ""
            raise ConfigError(
                f"{where}: {qualified}{signature} does not accept the keywords {sorted(call_args)}{takes}: {error}"
            ) from None

    # ------------------------------------------------------------------ building

    def build_model(self, data: Optional[Mapping[str, Any]] = None) -> nn.Module:
        """A freshly initialized model (seed first for a repeatable run), sized by ``data`` (DATA_ARGUMENTS) where
        its factory asks.
        """
        return _expect(self._call("model", data=data), nn.Module, self.name, "model")

    def build_criterion(self, data: Optional[Mapping[str, Any]] = None) -> nn.Module:
        """The base criterion on (logits, targets): cross-entropy unless the config says otherwise."""
        return _expect(self._call("criterion", data=data), Callable, self.name, "criterion")

    def build_loss(self, model: nn.Module, data: Optional[Mapping[str, Any]] = None) -> nn.Module:
        """The base criterion, plus this config's penalty on ``model``'s weights when it has one."""
        base = self.build_criterion(data)
        return (
            base
            if self.loss is None
            else _expect(self._call("loss", base, model, data=data), Callable, self.name, "loss")
        )

    def build_optimizer(self, model: nn.Module, lr: float, *, fused: bool = False) -> torch.optim.Optimizer:
        """The optimizer over the model's parameters at ``lr``; ``fused`` where the optimizer takes it and the config
        leaves it open.

        An optimizer with weight decay gets two parameter groups (``losses.weight_decay_groups``):
        its decay acts on the penalized weights only, never on biases or 1-D parameters.
        """
        signature = signature_of(self.optimizer)
        takes = signature.parameters if signature is not None else {}
        extra: dict[str, Any] = {"lr": lr}
        if fused and "fused" in takes and "fused" not in self.optimizer_args:
            extra["fused"] = True  # one kernel per device for the whole update
        params = losses.weight_decay_groups(model) if "weight_decay" in takes else model.parameters()
        return _expect(self._call("optimizer", params, **extra), torch.optim.Optimizer, self.name, "optimizer")

    def build_stopping(self) -> Optional[EarlyStopping]:
        """The early-stopping rule, or None to train every epoch."""
        return None if self.stopping is None else _expect(self._call("stopping"), EarlyStopping, self.name, "stopping")

    def build_augment(self, data: Optional[Mapping[str, Any]] = None) -> Optional[BatchTransform]:
        """The fast engine's batch augmentation, or None for none."""
        return (
            None if self.augment is None else _expect(self._call("augment", data=data), Callable, self.name, "augment")
        )

    def build_transform(self, data: Optional[Mapping[str, Any]] = None) -> Optional[Callable]:
        """The notebook engine's PIL-image train transform, or None for none."""
        return (
            None
            if self.transform is None
            else _expect(self._call("transform", data=data), Callable, self.name, "transform")
        )

    def _call(self, name: str, *leading: Any, data: Optional[Mapping[str, Any]] = None, **extra: Any) -> Any:
        """factory(*leading, **{**extra, **fitted, **args}): the config's keywords win over what the data fills in
        and regbench's defaults.
        """
        factory, args = getattr(self, name), getattr(self, f"{name}_args")
        return factory(*leading, **{**extra, **fitted_arguments(factory, data, given=args), **args})

    # ------------------------------------------------------------------ describing

    def describe(self) -> dict:
        """Stable JSON: each factory's qualified name, the keywords given and the defaults it fills in, the hash, and
        grid values.
        """
        parts = self._parts()
        grid = (
            {"grid": {"of": self.grid_of, "values": {k: described(v) for k, v in self.grid.items()}}}
            if self.grid_of
            else {}
        )
        return {"name": self.name, "description": self.description, "hash": stable_hash(parts), **parts, **grid}

    def arguments(self, field: str) -> list[str]:
        """The keyword arguments a factory field takes: the ones given, and every named parameter of its signature."""
        factory = getattr(self, field)
        if factory is None:
            return []
        given = list(getattr(self, f"{field}_args"))
        signature = signature_of(factory)
        named = (
            [
                p.name
                for p in list(signature.parameters.values())[len(FACTORIES[field]) :]
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            if signature is not None
            else []
        )
        return list(dict.fromkeys(given + named))

    @functools.cached_property
    def hash(self) -> str:
        """A short hash of what the config builds (not its name or description): equal hashes train alike."""
        return stable_hash(self._parts())

    def _parts(self) -> dict:
        """Per factory field: None, or {factory, args, defaults}."""
        parts: dict[str, Any] = {}
        for name, leading in FACTORIES.items():
            factory, args = getattr(self, name), getattr(self, f"{name}_args")
            if factory is None:
                parts[name] = None
                continue
            given = {"lr": "<the run's lr>", **args} if name == "optimizer" else args
            parts[name] = {
                "factory": qualified_name(factory),
                "args": {k: described(v) for k, v in sorted(args.items())},
                "defaults": _defaults(factory, len(leading), given),
            }
        return parts

    def summary(self) -> str:
        """One line per factory that is set, for `regbench configs`: 'loss:
        regbench.losses:LassoLoss(l1_lambda=0.0001)'.
        """
        lines = []
        for name, part in self._parts().items():
            if part is None:
                continue
            default = (name == "criterion" and self.criterion is nn.CrossEntropyLoss and not self.criterion_args) or (
                name == "optimizer" and self.optimizer is torch.optim.Adam and not self.optimizer_args
            )
            if default:
                continue  # the same in every built-in: shown once in the listing's header instead
            args = ", ".join(f"{k}={json.dumps(v)}" for k, v in part["args"].items())
            lines.append(f"{name}: {part['factory']}({args})")
        return "\n".join(lines)

    def __hash__(self) -> int:
        return hash(self.hash)


def _unwrap_partial(factory: functools.partial, args: Mapping[str, Any], where: str) -> tuple[Any, dict[str, Any]]:
    """partial(f, a=1) with args {b: 2} is f with args {a: 1, b: 2} (the config's keywords win, as in a call), nested
    partials too.
    """
    merged: dict[str, Any] = dict(args)
    while isinstance(factory, functools.partial):
        if factory.args:
            raise ConfigError(
                f"{where}: a functools.partial with positional arguments {factory.args!r} cannot be described by"
                " keyword; bind them by keyword (partial(f, name=value)) or give them in the config's arguments"
            )
        merged = {**factory.keywords, **merged}
        factory = factory.func
    return factory, merged


def fitted_arguments(
    factory: Any, data: Optional[Mapping[str, Any]], *, given: Optional[Mapping[str, Any]] = None
) -> dict[str, Any]:
    """What a factory takes from the data (DATA_ARGUMENTS its signature names), less what is ``given`` outright."""
    signature = signature_of(factory) if data else None
    takes = signature.parameters if signature is not None else {}
    return {k: v for k, v in (data or {}).items() if k in DATA_ARGUMENTS and k in takes and k not in (given or {})}


def signature_of(factory: Any) -> Optional[inspect.Signature]:
    """The call signature, or None for a builtin that has none."""
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


def _defaults(factory: Any, leading: int, given: Mapping[str, Any]) -> dict:
    """The keyword defaults the factory fills in for what the config leaves out: they shape the run as much as the
    given ones.
    """
    signature = signature_of(factory)
    if signature is None:
        return {}
    out = {}
    for param in list(signature.parameters.values())[leading:]:
        if (
            param.name in given
            or param.name in DATA_ARGUMENTS
            or param.default is inspect.Parameter.empty
            or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
        ):
            continue
        try:
            out[param.name] = described(param.default)
        except TypeError:
            out[param.name] = f"<{type(param.default).__name__}>"  # stable across runs, unlike its repr
    return out


def _expect(value: Any, kind: Any, config: str, name: str) -> Any:
    """A factory's product, refused when it is not what training needs (a module, an optimizer, a callable)."""
    ok = callable(value) if kind is Callable else isinstance(value, kind)
    if not ok:
        what = "a callable" if kind is Callable else kind.__name__
        raise ConfigError(f"config {config!r}: the {name} factory returned {type(value).__name__}, not {what}")
    return value
