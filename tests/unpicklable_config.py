"""A config whose model is a local function: worker processes could not import it, so making it fails, and importing
this module with it.
"""

from torch import nn

from regbench import Config


def _make_unpicklable() -> Config:
    def local_model() -> nn.Module:
        return nn.Linear(784, 10)

    return Config(name="local", model=local_model)


LOCAL = _make_unpicklable()
