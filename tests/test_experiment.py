"""The configuration matrix and one run of it, end to end on a tiny slice of the embedded digits."""

import pytest
import torch

from regbench import losses, models
from regbench.configs import CONFIGS, select_configs
from regbench.data import Split, embedded_digits, small_data_split
from regbench.experiment import Settings, run_one


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 5, 5)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def test_matrix_has_the_notebook_configurations():
    """Every configuration the issue names, each building its model and loss."""
    assert {"baseline", "l1", "l2", "mixed", "elasticnet", "dropout", "batchnorm", "augment", "augment-flip"} <= set(CONFIGS)
    kinds = {name: (type(c.build_model()), type(c.build_loss(c.build_model()))) for name, c in CONFIGS.items()}
    assert kinds["l1"][1] is losses.LassoLoss and kinds["mixed"][1] is losses.MixedL1L2Loss
    assert kinds["dropout"][0] is models.FullyConnectedDropout and kinds["batchnorm"][0] is models.FullyConnectedBatchNorm
    assert CONFIGS["augment"].train_transform() is not None and CONFIGS["baseline"].train_transform() is None


def test_select_configs():
    """Comma lists in order, duplicates once; unknown names list the known ones."""
    assert [c.name for c in select_configs("l2, l1,l2")] == ["l2", "l1"]
    assert len(select_configs("all")) == len(CONFIGS)
    with pytest.raises(ValueError, match="unknown configuration.*nope.*baseline"):
        select_configs("l1,nope")


@pytest.mark.parametrize("name", ["l1", "augment-flip", "batchnorm"])
def test_run_one_records_everything(tiny_split, name):
    """A record carries accuracies, gap, weights, throughput and history; same seed repeats exactly."""
    settings = Settings(epochs=2, batch_size=8)
    record = run_one(CONFIGS[name], 0, tiny_split, settings, progress=False)
    assert record["status"] == "ok" and record["config"] == name and record["seed"] == 0
    for key in ("train_accuracy", "test_accuracy", "gap_accuracy", "gap_loss", "sparsity", "samples_per_second", "run_seconds"):
        assert isinstance(record[key], float), key
    assert record["gap_accuracy"] == pytest.approx(record["train_accuracy"] - record["test_accuracy"])
    assert len(record["history"]) == 2 and record["samples_per_second"] > 0
    again = run_one(CONFIGS[name], 0, tiny_split, settings, progress=False)
    assert again["history"] == record["history"]


def test_diverged_run_is_recorded_not_raised(tiny_split):
    """A learning rate that blows up gives status 'diverged' with the message."""
    record = run_one(CONFIGS["baseline"], 0, tiny_split, Settings(epochs=3, batch_size=8, lr=1e30), progress=False)
    assert record["status"] == "diverged" and "lower the learning rate" in record["error"]
    assert torch.isfinite(torch.tensor(record["run_seconds"]))
