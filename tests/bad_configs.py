"""A config with a mistake only building it shows, for the command line's error tests: `regbench run` stops with one
line.
"""

from torch import nn

from regbench import Config


def vector_model() -> nn.Module:
    """A model for 10-value inputs, which 28x28 images do not fit."""
    return nn.Linear(10, 10)


VECTOR = Config(name="vector", model=vector_model)
