"""Grids: one config swept over values of its factories' arguments, a config per combination (a regularization path).

``regbench run --grid l1.l1_lambda=1e-5,1e-4,1e-3`` and ``regbench.run(grid={...})`` expand here;
each cell is a plain Config named by its values (``l1[l1_lambda=1e-05]``) that remembers the
config it came from (``grid_of``) and its swept values (``grid``).
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from typing import Any, Iterable, Mapping

from regbench.configs.config import FACTORIES, Config, ConfigError, signature_of

__all__ = ["argument_of", "current_value", "expand_grids", "grid_cell", "parse_value"]


def argument_of(config: Config, argument: str) -> tuple[str, str]:
    """(field, name) of ``argument``: a bare name when one factory takes it ('l1_lambda'), or qualified
    ('loss.l1_lambda').
    """
    field, dot, name = argument.partition(".")
    if dot:
        if field not in FACTORIES or name not in config.arguments(field):
            raise ConfigError(
                f"config {config.name!r}: {argument!r} is not an argument of its {field} factory; "
                f"it takes {', '.join(config.arguments(field)) or 'nothing'}"
                if field in FACTORIES
                else f"config {config.name!r}: {field!r} is not a factory field; choose one of {', '.join(FACTORIES)}"
            )
        return field, name
    fields = [f for f in FACTORIES if argument in config.arguments(f)]
    if not fields:
        known = ", ".join(f"{f}.{a}" for f in FACTORIES for a in config.arguments(f))
        raise ConfigError(f"config {config.name!r} has no factory argument {argument!r}; its factories take {known}")
    if len(fields) > 1:
        raise ConfigError(
            f"config {config.name!r}: {argument!r} is an argument of its {' and '.join(fields)} factories; "
            f"qualify it, e.g. {config.name}.{fields[0]}.{argument}"
        )
    return fields[0], argument


def current_value(config: Config, field: str, name: str) -> Any:
    """What an argument is now: the config's keyword, or the factory's default (None when it has neither)."""
    args = getattr(config, f"{field}_args")
    if name in args:
        return args[name]
    signature = signature_of(getattr(config, field))
    param = signature.parameters.get(name) if signature is not None else None
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def grid_cell(config: Config, values: Mapping[tuple[str, str], Any]) -> Config:
    """One cell of a grid: these (field, argument) values set, named deterministically: l1[l1_lambda=1e-05]."""
    updated = {f"{part}_args": {**getattr(config, f"{part}_args")} for part, _ in values}
    for (part, name), value in values.items():
        updated[f"{part}_args"][name] = value
    label = "".join(f"[{name}={_label(value)}]" for (_, name), value in values.items())
    return dataclasses.replace(
        config,
        name=f"{config.name}{label}",
        **updated,
        grid_of=config.grid_of or config.name,
        grid={**config.grid, **{f"{part}.{name}": value for (part, name), value in values.items()}},
    )


def _label(value: Any) -> str:
    """A value as it appears in a cell's name: 1e-05, 0.2, 300, true."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_value(text: str, like: Any = None) -> Any:
    """A grid value from the command line: a number, true/false/none, or a string; an int where a float is expected
    becomes a float.
    """
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return float(value) if isinstance(like, float) and not isinstance(like, bool) else value
    return text


def _grid_spec(spec: str, names: list[str]) -> tuple[str, str, list[str]]:
    """'CONFIG.ARGUMENT=V1,V2,...' split against the configs of the run: (config, argument, value texts)."""
    qualified, eq, values = spec.partition("=")
    owners = sorted((n for n in names if qualified.startswith(n + ".")), key=len, reverse=True)
    texts = [v for v in values.split(",") if v.strip()]
    if not eq or not owners or not texts:
        raise ConfigError(
            f"grid {spec!r}: expected CONFIG.ARGUMENT=V1,V2,... with CONFIG one of this run's configs"
            f" ({', '.join(names)}), e.g. l1.l1_lambda=1e-5,1e-4,1e-3"
        )
    return owners[0], qualified[len(owners[0]) + 1 :], texts


def expand_grids(configs: list[Config], grids: Iterable[str] | Mapping[str, Iterable[Any]]) -> list[Config]:
    """Each config with grids replaced by one config per combination of the values (several arguments: their product).

    ``grids`` are 'CONFIG.ARGUMENT=V1,V2,...' strings (values parsed like the argument's current
    value), or a mapping from 'CONFIG.ARGUMENT' to values. Cells keep the config's place in the
    order, values in the order given. A value the factory refuses is caught by the preflight of
    the run, before anything trains.
    """
    names = [c.name for c in configs]
    by_name = {c.name: c for c in configs}
    items = (
        [(*_grid_spec(f"{key}=x", names)[:2], list(values)) for key, values in grids.items()]
        if isinstance(grids, Mapping)
        else [_grid_spec(spec, names) for spec in grids]
    )
    swept: dict[str, dict[tuple[str, str], list]] = {}
    for name, argument, values in items:
        config = by_name[name]
        key = argument_of(config, argument)
        if key in swept.setdefault(name, {}):
            raise ConfigError(f"grid: {name}.{key[0]}.{key[1]} is swept twice; give all its values in one --grid")
        like = current_value(config, *key)
        parsed = [parse_value(v, like) if isinstance(v, str) else v for v in values]
        if len(set(map(_label, parsed))) != len(parsed):
            raise ConfigError(f"grid: {name}.{argument} repeats a value ({', '.join(map(_label, parsed))})")
        swept[name][key] = parsed
    expanded: list[Config] = []
    for config in configs:
        if config.name not in swept:
            expanded.append(config)
            continue
        keys = list(swept[config.name])
        for combination in itertools.product(*(swept[config.name][k] for k in keys)):
            expanded.append(grid_cell(config, dict(zip(keys, combination))))
    return expanded
