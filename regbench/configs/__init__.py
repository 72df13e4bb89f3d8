"""Configurations: the Config type, the built-in matrix, choosing a run's configs, and grids over their arguments."""

from regbench.configs.builtins import BUILTINS, CONFIGS
from regbench.configs.config import DATA_ARGUMENTS, FACTORIES, BatchTransform, Config, ConfigError, fitted_arguments
from regbench.configs.grids import expand_grids, parse_value
from regbench.configs.selection import load_configs, select_configs

__all__ = [
    "BUILTINS",
    "CONFIGS",
    "DATA_ARGUMENTS",
    "FACTORIES",
    "BatchTransform",
    "Config",
    "ConfigError",
    "expand_grids",
    "fitted_arguments",
    "load_configs",
    "parse_value",
    "select_configs",
]
