"""Choosing a run's configs: built-in names and a user's "module:attribute" references, in the order given."""

from __future__ import annotations

from typing import Iterable, Mapping

from regbench.configs.builtins import BUILTINS, CONFIGS
from regbench.configs.config import Config, ConfigError
from regbench.references import is_reference, load_reference

__all__ = ["load_configs", "select_configs"]


def load_configs(reference: str) -> list[Config]:
    """The configs at ``module:attribute``: a Config, or a list, tuple or dict of them."""
    obj = load_reference(reference)
    items = list(obj.values()) if isinstance(obj, Mapping) else list(obj) if isinstance(obj, (list, tuple)) else [obj]
    wrong = [type(item).__name__ for item in items if not isinstance(item, Config)]
    if wrong or not items:
        raise ConfigError(
            f"{reference} is"
            f" {'empty' if not items else 'a ' + type(obj).__name__ + ' holding ' + ', '.join(sorted(set(wrong)))};"
            " expected a regbench.Config, or a list or dict of them"
        )
    return items


def select_configs(spec: str | Iterable[str | Config] | None) -> list[Config]:
    """Configs from a comma-separated list of built-in names and ``module:attribute`` references (None or 'all': the
    built-ins).

    The order given is kept; the same config twice is kept once; two different configs with one
    name are refused, since results, tables and the gate key on names.
    """
    if spec is None or (isinstance(spec, str) and spec.strip() == "all"):
        return list(BUILTINS)
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    chosen: list[Config] = []
    for item in items:
        if isinstance(item, Config):
            chosen.append(item)
        elif not isinstance(item, str):
            raise ConfigError(f"expected a Config, a built-in name or MODULE:ATTRIBUTE, got {type(item).__name__}")
        elif is_reference(item):
            chosen += load_configs(item)
        elif item in CONFIGS:
            chosen.append(CONFIGS[item])
        elif item:
            raise ConfigError(
                f"unknown configuration {item!r}; choose from {', '.join(CONFIGS)}, or name your own as"
                " MODULE:ATTRIBUTE"
            )
    if not chosen:
        raise ConfigError(
            f"no configuration given; choose from {', '.join(CONFIGS)}, or name your own as MODULE:ATTRIBUTE"
        )
    unique: dict[str, Config] = {}
    for config in chosen:
        if config.name in unique and unique[config.name].hash != config.hash:
            raise ConfigError(
                f"two different configs are named {config.name!r} ({unique[config.name].hash} and {config.hash});"
                " rename one"
            )
        unique.setdefault(config.name, config)
    return list(unique.values())
