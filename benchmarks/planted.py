"""Planted regressions for the gate-under-load benchmark: code that is slower, or learns less, than regbench's own.

Imported by a run's interpreter before regbench trains (``benchmarks/test_gate_under_load.py``),
or appended to a revision's ``regbench/__init__.py`` for ``regbench continuous``.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

__all__ = ["linear_work", "learning_rate"]


def linear_work(factor: float) -> None:
    """Every nn.Linear does ``factor`` times its work, forward and backward, and returns exactly the same output.

    The extra work is the layer again (on part of the batch for a fraction), added times 0.0: it
    is in the graph, so backward pays for it too, and the loss and every gradient stay bit-identical.
    """
    forward = torch.nn.Linear.forward
    whole, part = divmod(factor - 1, 1)

    def slower(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
        y = forward(self, x)
        for _ in range(int(whole)):
            y = y + 0.0 * F.linear(x, self.weight, self.bias).sum()
        if part:
            y = y + 0.0 * F.linear(x[: max(1, int(len(x) * part))], self.weight, self.bias).sum()
        return y

    torch.nn.Linear.forward = slower


def learning_rate(factor: float) -> None:
    """Every Adam optimizer steps at ``factor`` times the learning rate it is given (a slip in training code)."""
    init = torch.optim.Adam.__init__

    @functools.wraps(
        init
    )  # the same signature: a config's description (read off it) does not change, only what it does
    def slipped(self: torch.optim.Adam, params: object, lr: float = 1e-3, **kwargs: object) -> None:
        init(self, params, lr=lr * factor, **kwargs)

    torch.optim.Adam.__init__ = slipped
