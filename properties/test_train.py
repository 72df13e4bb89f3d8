"""Training: on the CPU the same seed gives the same history and the same weights."""

from __future__ import annotations

import random

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties.support import CPU, fewer_examples
from regbench.checks import strategies as gen
from regbench.data import TensorLoader
from regbench.losses import LassoLoss
from regbench.train import rngs_restored, seed_everything, train_model

TRAIN_INPUTS = dict(
    spec=gen.model_specs(max_width=8),
    seed=gen.seeds(),
    batch_size=st.integers(2, 6),  # >= 2 so a BatchNorm model never meets a batch of 1
    n_batches=st.integers(1, 3),
    epochs=st.integers(1, 2),
    priors=st.lists(gen.seeds(), min_size=2, max_size=2, unique=True),
)


def check_same_seed_same_history(
    seed_fn, device, *, spec: gen.ModelSpec, seed: int, batch_size: int, n_batches: int, epochs: int, priors: list[int]
) -> None:
    """Two runs after seed_fn(seed), from two different prior RNG states: init, shuffling and dropout masks must all
    come from the seeding, so histories and weights match exactly.
    """
    generator = torch.Generator().manual_seed(seed)  # the data is fixed apart from the seeding under test
    n = batch_size * n_batches
    x, y = (
        torch.rand(n, spec.input_size, generator=generator),
        torch.randint(spec.output_size, (n,), generator=generator),
    )

    def run(prior: int) -> tuple[list[dict], dict]:
        with rngs_restored():
            random.seed(prior)  # some other state the process might be in before seeding
            np.random.seed(prior)
            torch.manual_seed(prior)
            seed_fn(seed)
            model = spec.build(device=device, reseed=False)
            history = train_model(
                model,
                LassoLoss(nn.CrossEntropyLoss(), model, 1e-3),
                torch.optim.SGD(model.parameters(), lr=0.1),
                TensorLoader(x, y, batch_size=batch_size, shuffle=True),
                TensorLoader(x, y, batch_size=batch_size),
                epochs,
                device=device,
                progress=False,
            )
            return history.epochs, model.state_dict()

    (first, first_weights), (second, second_weights) = (run(prior) for prior in priors)
    assert first == second, f"same seed, different histories:\n{first}\n{second}"
    for name, value in first_weights.items():
        assert torch.equal(value, second_weights[name]), f"same seed, different {name} after training"


@fewer_examples(2)
@given(**TRAIN_INPUTS)
def test_same_seed_same_history_on_cpu(spec, seed, batch_size, n_batches, epochs, priors):
    """A benchmark result is only evidence if running it again gives the same numbers."""
    check_same_seed_same_history(
        seed_everything,
        CPU,
        spec=spec,
        seed=seed,
        batch_size=batch_size,
        n_batches=n_batches,
        epochs=epochs,
        priors=priors,
    )
