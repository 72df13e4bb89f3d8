"""The matrix: preflight, grouping by what the stacked engine can represent, and dispatch, with every decision recorded."""

import pytest
import torch

from examples.my_regularizers import CNN, MAXNORM
from regbench.configs import CONFIGS, Config, ConfigError
from regbench.data import Split, embedded_digits, small_data_split
from regbench.errors import UsageError
from regbench.experiment import Cell, Settings
from regbench.matrix import choose_execution, group_configs, run_matrix
from regbench.models import FullyConnected


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 8, 8)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def test_configs_are_grouped_by_architecture_and_the_rest_say_why(tiny_split):
    """Plain and dropout MLPs share a group, BatchNorm has its own, a CNN and a custom penalty train one by one with the reason."""
    configs = [CONFIGS["l1"], CONFIGS["batchnorm"], CNN, CONFIGS["dropout"], MAXNORM]
    groups, reasons, refused = group_configs(configs, tiny_split, Settings())
    assert {name: [c.name for c in members] for name, members in groups.items()} == \
        {"mlp-784-500-10": ["l1", "dropout"], "mlp-batchnorm-784-500-10": ["batchnorm"]}
    assert set(reasons) == {"cnn", "maxnorm"} and "SmallCNN" in reasons["cnn"] and refused == {}
    _, notebook, _ = group_configs(configs[:2], tiny_split, Settings(engine="notebook"))
    assert notebook == {"l1": "the notebook engine trains one run at a time", "batchnorm": "the notebook engine trains one run at a time"}


def test_records_come_back_in_config_seed_order_with_their_execution(tiny_split):
    """Whichever execution trained a cell, records are in (config, seed) order and say how they were trained."""
    configs = [CONFIGS["batchnorm"], CNN, CONFIGS["l1"]]
    records, decisions = run_matrix(configs, 2, tiny_split, Settings(epochs=1, batch_size=16), execution="sweep", workers=1)
    assert [(r.config, r.seed, r.execution) for r in records] == [
        ("batchnorm", 0, "sweep"), ("batchnorm", 1, "sweep"), ("cnn", 0, "single"), ("cnn", 1, "single"), ("l1", 0, "sweep"), ("l1", 1, "sweep")]
    assert decisions["one by one"] == {"choice": "single", "members": 2, "configs": ["cnn"], "executor": "local", "workers": 1,
                                       "reasons": {"cnn": decisions["one by one"]["reasons"]["cnn"]}}
    assert decisions["mlp-784-500-10"] == {"choice": "sweep", "members": 2, "configs": ["l1"]}
    assert all(r.members == (2 if r.execution == "sweep" else 1) for r in records)


def test_auto_times_both_ways_and_records_the_probe(tiny_split):
    """execution=None probes the stacked and the one-by-one step on this device and keeps the timings."""
    decision = choose_execution([Cell(CONFIGS["l1"], 0), Cell(CONFIGS["l2"], 0)], tiny_split, Settings(epochs=1, batch_size=16))
    assert decision["choice"] in ("sweep", "single") and set(decision["probe_train_seconds"]) == {"sweep", "single"}


def _broken_model() -> torch.nn.Module:
    """A model for 10 inputs: the digits do not fit it."""
    return torch.nn.Linear(10, 10)


def test_a_broken_config_stops_the_matrix_before_anything_trains(tiny_split, monkeypatch):
    """The preflight of every config comes first: a mistake in the last config costs no training of the first."""
    trained = []
    monkeypatch.setattr("regbench.experiment.run_one", lambda config, *a, **k: trained.append(config))
    with pytest.raises(ConfigError, match="config 'broken'"):
        run_matrix([CONFIGS["l1"], Config(name="broken", model=_broken_model)], 1, tiny_split, Settings(epochs=1), execution="single")
    assert trained == []


@pytest.mark.parametrize("kwargs, message", [({"execution": "parallel"}, "unknown execution 'parallel'"), ({"seeds": 0}, "seeds must be >= 1")])
def test_bad_arguments_are_usage_errors(tiny_split, kwargs, message):
    """The Python API refuses what the command line's argparse would."""
    with pytest.raises(UsageError, match=message):
        run_matrix([Config(name="plain", model=FullyConnected)], kwargs.pop("seeds", 1), tiny_split, Settings(epochs=1), **kwargs)
