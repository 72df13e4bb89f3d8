"""The matrix: preflight, grouping by what the stacked engine can represent, and dispatch, with every decision
recorded.
"""

import pytest
import torch

from examples.my_regularizers import CNN, MAXNORM
from regbench.configs import CONFIGS, Config, ConfigError
from regbench.data import Split, embedded_digits, small_data_split
from regbench.errors import UsageError
from regbench.experiment import Cell, Settings
from regbench.matrix import AUTO_RULE, cell_order, choose_execution, group_configs, run_matrix
from regbench.models import FullyConnected


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 8, 8)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


def test_configs_are_grouped_by_architecture_and_the_rest_say_why(tiny_split):
    """Plain and dropout MLPs share a group, BatchNorm has its own, a CNN and a custom penalty train one by one with
    the reason.
    """
    configs = [CONFIGS["l1"], CONFIGS["batchnorm"], CNN, CONFIGS["dropout"], MAXNORM]
    groups, reasons, refused = group_configs(configs, tiny_split, Settings())
    assert {name: [c.name for c in members] for name, members in groups.items()} == {
        "mlp-784-500-10": ["l1", "dropout"],
        "mlp-batchnorm-784-500-10": ["batchnorm"],
    }
    assert set(reasons) == {"cnn", "maxnorm"} and "SmallCNN" in reasons["cnn"] and refused == {}
    _, notebook, _ = group_configs(configs[:2], tiny_split, Settings(engine="notebook"))
    assert notebook == {
        "l1": "the notebook engine trains one run at a time",
        "batchnorm": "the notebook engine trains one run at a time",
    }


def test_records_come_back_in_config_seed_order_with_their_execution(tiny_split):
    """Whichever execution trained a cell, records are in (config, seed) order and say how they were trained."""
    configs = [CONFIGS["batchnorm"], CNN, CONFIGS["l1"]]
    records, decisions = run_matrix(
        configs, 2, tiny_split, Settings(epochs=1, batch_size=16), execution="sweep", workers=1
    )
    assert [(r.config, r.seed, r.execution) for r in records] == [
        ("batchnorm", 0, "sweep"),
        ("batchnorm", 1, "sweep"),
        ("cnn", 0, "single"),
        ("cnn", 1, "single"),
        ("l1", 0, "sweep"),
        ("l1", 1, "sweep"),
    ]
    assert decisions["one by one"] == {
        "choice": "single",
        "members": 2,
        "configs": ["cnn"],
        "executor": "local",
        "workers": 1,
        "reasons": {"cnn": decisions["one by one"]["reasons"]["cnn"]},
    }
    assert decisions["mlp-784-500-10"] == {"choice": "sweep", "members": 2, "configs": ["l1"]}
    assert all(r.members == (2 if r.execution == "sweep" else 1) for r in records)


def test_auto_chooses_by_device_the_same_every_time(tiny_split):
    """execution=None: one by one on a CPU and stacked on a GPU, whatever the load; the run records the rule it
    followed.
    """
    cells = [Cell(CONFIGS["l1"], 0), Cell(CONFIGS["l2"], 0)]
    on_cpu = choose_execution(cells, Settings(epochs=1, batch_size=16))
    assert on_cpu == {"choice": "single", "members": 2, "rule": AUTO_RULE["cpu"][1]} and "CPU" in on_cpu["rule"]
    for gpu in ("cuda", "cuda:1", torch.device("cuda", 0)):  # the device's type decides, whatever its index or spelling
        on_gpu = choose_execution(cells * 2, Settings(epochs=1, batch_size=16, device=gpu))
        assert on_gpu == {"choice": "sweep", "members": 4, "rule": AUTO_RULE["cuda"][1]}, gpu
    assert (
        choose_execution(cells, Settings(epochs=1, batch_size=16, device="meta"))["choice"] == "single"
    )  # no rule: a CPU's
    records, decisions = run_matrix(
        [CONFIGS["l1"], CONFIGS["l2"]], 1, tiny_split, Settings(epochs=1, batch_size=16), workers=1
    )
    assert {r.execution for r in records} == {"single"} and decisions["mlp-784-500-10"]["rule"] == on_cpu["rule"]


def test_one_config_s_seeds_never_run_back_to_back():
    """Cells go out seed by seed, in a fixed order that differs from seed to seed, so one burst of load cannot hit a
    config's every seed.
    """
    names = ["baseline", "l1", "l2", "dropout", "batchnorm", "noise"]
    cells = [Cell(CONFIGS[n], k) for n in names for k in range(3)]
    order = cell_order(cells)
    assert sorted(order, key=lambda c: (names.index(c.config.name), c.seed)) == cells and order == cell_order(
        list(reversed(cells))
    )
    assert [c.seed for c in order] == [0] * 6 + [1] * 6 + [2] * 6
    assert all(a.config.name != b.config.name for a, b in zip(order, order[1:]))
    rounds = [[c.config.name for c in order if c.seed == k] for k in range(3)]
    assert (
        rounds[0] != rounds[1] != rounds[2]
    )  # not the same place in every round: a load in step with a round would hit one config


def _broken_model() -> torch.nn.Module:
    """A model for 10 inputs: the digits do not fit it."""
    return torch.nn.Linear(10, 10)


def test_a_broken_config_stops_the_matrix_before_anything_trains(tiny_split, monkeypatch):
    """The preflight of every config comes first: a mistake in the last config costs no training of the first."""
    trained = []
    monkeypatch.setattr("regbench.experiment.run_one", lambda config, *a, **k: trained.append(config))
    with pytest.raises(ConfigError, match="config 'broken'"):
        run_matrix(
            [CONFIGS["l1"], Config(name="broken", model=_broken_model)],
            1,
            tiny_split,
            Settings(epochs=1),
            execution="single",
        )
    assert trained == []


@pytest.mark.parametrize(
    "kwargs, message",
    [({"execution": "parallel"}, "unknown execution 'parallel'"), ({"seeds": 0}, "seeds must be >= 1")],
)
def test_bad_arguments_are_usage_errors(tiny_split, kwargs, message):
    """The Python API refuses what the command line's argparse would."""
    with pytest.raises(UsageError, match=message):
        run_matrix(
            [Config(name="plain", model=FullyConnected)],
            kwargs.pop("seeds", 1),
            tiny_split,
            Settings(epochs=1),
            **kwargs,
        )
