"""Configs whose cells fail in each way a matrix must survive, for the executor tests (importable by worker
processes).
"""

import multiprocessing
import os
import time

import torch
from torch import nn

from regbench import Config

PREFLIGHT_BATCH = 20  # the preflight's 2 images per class: the failures below wait for a real training batch


class RaisesInTraining(nn.Linear):
    """Fine on the preflight's batch, a bug on a training batch."""

    def __init__(self) -> None:
        super().__init__(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > PREFLIGHT_BATCH:
            raise RuntimeError("a bug in the user's forward")
        return super().forward(x.flatten(1))


class KillsItsWorker(nn.Linear):
    """Ends the process it trains in (as an out-of-memory kill would), but never the driver's."""

    def __init__(self) -> None:
        super().__init__(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        return super().forward(x.flatten(1))


class Slow(nn.Linear):
    """Almost half a second per batch: a one-second time limit catches it after its first epoch of three batches."""

    def __init__(self) -> None:
        super().__init__(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > PREFLIGHT_BATCH:
            time.sleep(0.4)
        return super().forward(x.flatten(1))


RAISES = Config(name="raises", model=RaisesInTraining)
KILLS = Config(name="kills", model=KillsItsWorker)
SLOW = Config(name="slow", model=Slow)
