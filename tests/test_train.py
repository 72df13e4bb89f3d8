"""The training wrapper: history, modes, seeding, divergence, throughput bookkeeping."""

import math

import pytest
import torch
from torch import nn

from regbench.data import TensorLoader
from regbench.losses import LassoLoss
from regbench.models import FullyConnected, FullyConnectedDropout
from regbench.train import History, TrainingDiverged, accuracy, evaluate, seed_everything, seed_torch, train_model


def toy_data(n=64, seed=0):
    """Two separable blobs in 12 dimensions: learnable in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 12, generator=g) * 0.5 + y.unsqueeze(1).float() * 2 - 1
    return x, y


def fit(seed=0, epochs=3, model_cls=FullyConnected, lr=1e-2, **kw):
    seed_everything(seed)
    model = model_cls(12, 16, 2, **kw)
    loss = LassoLoss(nn.CrossEntropyLoss(), model, 1e-3)
    x, y = toy_data()
    train = TensorLoader(x, y, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed))
    history = train_model(
        model,
        loss,
        torch.optim.Adam(model.parameters(), lr=lr),
        train,
        TensorLoader(x, y, batch_size=64),
        epochs,
        progress=False,
    )
    return model, history


def test_accuracy_is_the_notebook_definition():
    """argmax over classes compared with targets, as a float mean."""
    preds = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(preds, torch.tensor([1, 0, 0])).item() == pytest.approx(2 / 3)


def test_history_has_base_and_penalty_apart_and_learns():
    """One entry per epoch with train/val loss, penalty and accuracy; the toy problem is learned."""
    _, history = fit(epochs=4)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]
    last = history.epochs[-1]
    assert set(last) == {
        "epoch",
        "train_loss",
        "train_penalty",
        "train_accuracy",
        "val_loss",
        "val_penalty",
        "val_accuracy",
    }
    assert last["val_accuracy"] > 0.9 and last["train_penalty"] > 0 and last["val_penalty"] > 0
    assert history.epochs[-1]["val_loss"] < history.epochs[0]["val_loss"]
    assert history.train_samples == 4 * 64 and history.samples_per_second > 0
    assert len(history.epoch_seconds) == 4 and sum(history.epoch_seconds) == pytest.approx(history.train_seconds)


def test_throughput_leaves_out_warm_up_and_a_burst_of_load():
    """samples/s is the median epoch's after the first: a slow first epoch (warm-up) or one epoch a neighbour slowed
    does not move it.
    """
    assert History(train_samples=200, train_seconds=1.1, epoch_seconds=[1.0, 0.1]).samples_per_second == pytest.approx(
        1000
    )
    burst = History(train_samples=500, train_seconds=1.5, epoch_seconds=[0.1, 0.1, 1.0, 0.1, 0.1])
    assert burst.samples_per_second == pytest.approx(1000)
    assert History(train_samples=100, train_seconds=0.5, epoch_seconds=[0.5]).samples_per_second == pytest.approx(
        200
    )  # one epoch: itself
    assert History(train_samples=100, train_seconds=0.5).samples_per_second == pytest.approx(
        200
    )  # no per-epoch timings: the total


def test_same_seed_same_history_on_cpu():
    """Seeding makes a CPU run repeat exactly; another seed differs."""
    _, a = fit(seed=3, model_cls=FullyConnectedDropout, dropout_prob=0.3)
    _, b = fit(seed=3, model_cls=FullyConnectedDropout, dropout_prob=0.3)
    _, c = fit(seed=4, model_cls=FullyConnectedDropout, dropout_prob=0.3)
    assert a.epochs == b.epochs and a.epochs != c.epochs


class ModeSpy(nn.Module):
    """Records the mode it was called in; a stand-in model to see train/eval switching."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(12, 2)
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.linear(x)


def test_train_and_eval_modes_are_switched():
    """Training batches run in train mode, validation in eval mode; evaluate restores the mode."""
    model = ModeSpy()
    x, y = toy_data(32)
    train_model(
        model,
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1),
        TensorLoader(x, y, batch_size=16),
        TensorLoader(x, y, batch_size=32),
        2,
        progress=False,
    )
    assert model.modes == [True, True, False, True, True, False]
    model.train()
    evaluate(model, nn.CrossEntropyLoss(), TensorLoader(x, y, batch_size=32))
    assert model.training and model.modes[-1] is False


def test_divergence_stops_with_a_clear_message():
    """A NaN loss raises TrainingDiverged naming the epoch and what to change."""
    model = FullyConnected(12, 4, 2)
    with torch.no_grad():
        model.linear_1.weight[0, 0] = float("nan")
    x, y = toy_data(16)
    with pytest.raises(TrainingDiverged, match="epoch 1; lower the learning rate or the penalty lambda"):
        train_model(
            model,
            nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.1),
            TensorLoader(x, y, batch_size=8),
            TensorLoader(x, y, batch_size=8),
            3,
            progress=False,
        )


def test_bad_arguments():
    """Zero epochs and an empty loader are refused."""
    model = FullyConnected(12, 4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = toy_data(8)
    with pytest.raises(ValueError, match="epochs"):
        train_model(model, nn.CrossEntropyLoss(), opt, [], [], 0)
    with pytest.raises(ValueError, match="no samples"):
        train_model(model, nn.CrossEntropyLoss(), opt, [], TensorLoader(x, y, batch_size=8), 1, progress=False)


def test_seed_everything_covers_numpy_and_random():
    """All three generators repeat after reseeding."""
    import random

    import numpy as np

    seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    assert not math.isnan(first[0])


def test_flushed_denormals_only_inside_the_block():
    """Denormals read as zero inside the block and as themselves after it (torch's default)."""
    from regbench.train import flushed_denormals

    tiny = torch.tensor([1e-40])
    with flushed_denormals():
        assert float(tiny * 1.0) == 0.0
    assert float(tiny * 1.0) > 0.0


def test_seed_torch_draws_what_manual_seed_draws():
    """The fast seeding is torch.manual_seed's CPU stream exactly: results do not move."""
    seed_torch(7)
    ours = torch.rand(5)
    torch.manual_seed(7)
    assert torch.equal(ours, torch.rand(5))
