"""Configs: built from factories, validated when made, described stably, found by name or MODULE:ATTRIBUTE."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from examples import my_regularizers
from regbench import augment, losses, models
from regbench.configs import (
    BUILTINS,
    CONFIGS,
    Config,
    ConfigError,
    expand_grids,
    load_configs,
    parse_value,
    select_configs,
)
from regbench.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_the_builtins_are_the_notebooks_matrix_written_with_the_public_api():
    """Nine configs, each building what the notebook trains; the mixed loss puts Ridge on linear_1 and Lasso on
    linear_2.
    """
    assert list(CONFIGS)[:9] == [
        "baseline",
        "l1",
        "l2",
        "mixed",
        "elasticnet",
        "dropout",
        "batchnorm",
        "augment",
        "augment-flip",
    ]
    assert list(CONFIGS)[9:] == [
        "adamw",
        "label-smoothing",
        "noise",
        "early-stopping",
    ]  # the regularizers models ship with today
    built = {name: (c.build_model(), c) for name, c in CONFIGS.items()}
    assert type(built["dropout"][0]) is models.FullyConnectedDropout and built["dropout"][0].dropout.p == 0.2
    assert type(built["batchnorm"][0]) is models.FullyConnectedBatchNorm
    mixed = CONFIGS["mixed"].build_loss(built["mixed"][0])
    assert [
        (t.name, t.lam, t.params[0] is getattr(built["mixed"][0], layer).weight)
        for t, layer in zip(mixed.terms, ("linear_2", "linear_1"))
    ] == [("l1", 1e-4, True), ("l2", 1e-3, True)]
    assert type(CONFIGS["baseline"].build_loss(built["baseline"][0])) is nn.CrossEntropyLoss
    assert (
        isinstance(CONFIGS["augment"].build_augment(), augment.BatchAugment)
        and not CONFIGS["augment"].build_augment().flip
    )
    assert CONFIGS["augment-flip"].build_augment().flip and CONFIGS["baseline"].build_augment() is None
    assert CONFIGS["augment"].build_transform() is not None and CONFIGS["baseline"].build_transform() is None


def test_the_optimizer_is_adam_at_the_runs_lr_unless_the_config_says_otherwise():
    """lr comes from the run; optimizer_args win over it; fused is passed only where the optimizer takes it."""
    model = models.FullyConnected(4, 3, 2)
    adam = CONFIGS["baseline"].build_optimizer(model, 0.05, fused=True)
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["lr"] == 0.05 and adam.param_groups[0]["fused"]
    adamw = CONFIGS["adamw"].build_optimizer(model, 0.05)
    assert type(adamw) is torch.optim.AdamW and [g["weight_decay"] for g in adamw.param_groups] == [1.0, 0.0]
    assert [len(g["params"]) for g in adamw.param_groups] == [
        2,
        1,
    ]  # the two weight matrices decay; linear_1.bias does not
    sgd = Config(
        name="sgd", model=models.FullyConnected, optimizer=torch.optim.SGD, optimizer_args={"lr": 0.1, "momentum": 0.9}
    )
    built = sgd.build_optimizer(model, 0.05, fused=True)
    assert (
        type(built) is torch.optim.SGD
        and built.param_groups[0]["lr"] == 0.1
        and built.param_groups[0]["momentum"] == 0.9
    )


def _local_factory():
    def model():
        return models.FullyConnected()

    return model


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"model": "FullyConnected"}, "model must be callable"),
        ({"model": lambda: models.FullyConnected()}, "is not a class or module-level function"),
        ({"model": _local_factory()}, "is not a class or module-level function"),
        (
            {"model": functools.partial(lambda **k: models.FullyConnected())},
            "is not a class or module-level function",
        ),  # refused like the lambda
        (
            {"model": functools.partial(models.FullyConnected, 784)},
            "a functools.partial with positional arguments (784,)",
        ),
        ({"model": functools.partial(models.FullyConnected, hidden=5)}, "does not accept the keywords ['hidden']"),
        ({"model": models.FullyConnected, "model_args": {"hidden": 5}}, "does not accept the keywords ['hidden']"),
        (
            {"model": models.FullyConnected, "loss": losses.LassoLoss, "loss_args": {"l1": 1e-4}},
            "loss: regbench.losses:LassoLoss",
        ),
        ({"model": models.FullyConnected, "loss_args": {"l1_lambda": 1e-4}}, "loss_args given without a loss factory"),
        (
            {"model": models.FullyConnected, "optimizer": torch.optim.SGD, "optimizer_args": {"betas": (0.9, 0.99)}},
            "optimizer: torch.optim.sgd:SGD",
        ),
        (
            {"model": models.FullyConnected, "model_args": {"hidden_size": object()}},
            "model_args['hidden_size']: <object object",
        ),
        ({"model": models.FullyConnected, "model_args": ["hidden_size"]}, "model_args must be a dict"),
        ({"model": None}, "model is required"),
    ],
)
def test_a_config_that_cannot_train_is_refused_when_made(fields, message):
    """Not callable, a lambda or local function (workers could not import it), a keyword the signature refuses:
    ConfigError naming config and field.
    """
    with pytest.raises(ConfigError, match="config 'mine'") as error:
        Config(name="mine", **fields)
    assert message in str(error.value)


@pytest.mark.parametrize("name", ["", "a,b", "my:config", "two words", 3])
def test_names_are_labels_the_command_line_can_list(name):
    """Commas, colons and spaces would break `--configs a,b,module:attr`."""
    with pytest.raises(ConfigError, match="config name"):
        Config(name=name, model=models.FullyConnected)


def test_the_description_is_stable_json_and_the_hash_covers_what_is_built():
    """Same factories and arguments: same hash, whatever the name or description; another argument or default:
    another hash.
    """
    l1 = CONFIGS["l1"]
    described = l1.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["loss"] == {"factory": "regbench.losses:LassoLoss", "args": {"l1_lambda": 1e-4}, "defaults": {}}
    assert described["model"]["defaults"] == {
        "input_size": None,
        "hidden_size": 500,
        "output_size": None,
    }  # what the factory fills in counts too; the data fills in the rest
    renamed = Config(
        name="lasso",
        description="another text",
        model=models.FullyConnected,
        loss=losses.LassoLoss,
        loss_args={"l1_lambda": 1e-4},
    )
    assert renamed.hash == l1.hash and len({c.hash for c in BUILTINS}) == len(BUILTINS)
    stronger = Config(name="l1", model=models.FullyConnected, loss=losses.LassoLoss, loss_args={"l1_lambda": 1e-3})
    assert stronger.hash != l1.hash
    wider = Config(
        name="l1",
        model=models.FullyConnected,
        model_args={"hidden_size": 500},
        loss=losses.LassoLoss,
        loss_args={"l1_lambda": 1e-4},
    )
    assert (
        wider.hash != l1.hash
    )  # the same model, but written down differently: an honest difference in the description


def test_the_hash_is_the_same_in_another_process():
    """Hashes compare results across machines and days: nothing process-specific (ids, dict order, reprs) goes into
    them.
    """
    code = "from regbench.configs import CONFIGS; print(' '.join(c.hash for c in CONFIGS.values()))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == [c.hash for c in CONFIGS.values()]


def test_args_are_copied_so_a_config_cannot_change_after_it_is_made():
    """A config is a value: changing the dict it was made from changes nothing."""
    args = {"l1_lambda": 1e-4}
    config = Config(name="l1", model=models.FullyConnected, loss=losses.LassoLoss, loss_args=args)
    args["l1_lambda"] = 1.0
    assert config.loss_args == {"l1_lambda": 1e-4}


def test_select_mixes_builtins_and_targets_in_order():
    """Built-in names and MODULE:ATTRIBUTE (a list of configs, or one); the same config twice is kept once."""
    chosen = select_configs("l2, examples.my_regularizers:CONFIGS,l2,examples.my_regularizers:CNN")
    assert [c.name for c in chosen] == ["l2", "dropconnect", "maxnorm", "cnn"]
    assert [c.name for c in select_configs(None)] == list(CONFIGS) == [c.name for c in select_configs("all")]
    assert select_configs([CONFIGS["l1"], "baseline"]) == [CONFIGS["l1"], CONFIGS["baseline"]]


def test_two_different_configs_with_one_name_are_refused():
    """Results, tables and the gate key on names: two meanings of one name would mix."""
    impostor = Config(name="l1", model=models.FullyConnected, loss=losses.LassoLoss, loss_args={"l1_lambda": 0.5})
    with pytest.raises(ConfigError, match="two different configs are named 'l1'"):
        select_configs(["l1", impostor])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("l1,nope", "unknown configuration 'nope'; choose from baseline"),
        ("", "no configuration given"),
        ("examples.my_regularizers:DropConnectNet", "is a type holding type; expected a regbench.Config"),
        ("examples.nothing_here:CONFIGS", "module 'examples.nothing_here' not found"),
        ("examples.my_regularizers:MISSING", "has no attribute 'MISSING'"),
    ],
)
def test_selection_errors_name_what_was_wrong(spec, message):
    """Each mistake is one UsageError (the command line prints it in one line) with the name and the fix."""
    with pytest.raises(UsageError) as error:
        select_configs(spec)
    assert message in str(error.value)


def test_load_configs_takes_a_config_a_list_or_a_dict():
    """The three shapes a module may hold its configs in."""
    assert load_configs("examples.my_regularizers:CNN") == [my_regularizers.CNN]
    assert [c.name for c in load_configs("regbench.configs:CONFIGS")] == list(CONFIGS)
    assert [c.name for c in load_configs("examples.my_regularizers:CONFIGS")] == ["dropconnect", "maxnorm", "cnn"]


# ---------------------------------------------------------------------------------------------- grids


def test_a_grid_expands_a_config_over_values_named_deterministically():
    """--grid l1.l1_lambda=... and dropout.dropout_prob=...: one cell per value, in the config's place, named for the
    value.
    """
    cells = expand_grids(
        select_configs("baseline,l1,dropout"),
        ["l1.l1_lambda=1e-5,1e-4,1e-3,1e-2", "dropout.dropout_prob=0,0.2,0.5,0.8"],
    )
    assert [c.name for c in cells] == [
        "baseline",
        "l1[l1_lambda=1e-05]",
        "l1[l1_lambda=0.0001]",
        "l1[l1_lambda=0.001]",
        "l1[l1_lambda=0.01]",
        "dropout[dropout_prob=0]",
        "dropout[dropout_prob=0.2]",
        "dropout[dropout_prob=0.5]",
        "dropout[dropout_prob=0.8]",
    ]
    assert (
        cells[2].loss_args == {"l1_lambda": 1e-4} and cells[2].hash == CONFIGS["l1"].hash
    )  # the built-in's value: the same definition
    assert cells[5].model_args == {"dropout_prob": 0.0} and isinstance(
        cells[5].model_args["dropout_prob"], float
    )  # "0" read as the float it replaces
    assert cells[1].describe()["grid"] == {"of": "l1", "values": {"loss.l1_lambda": 1e-05}}
    assert "grid" not in CONFIGS["l1"].describe()


def test_several_grids_on_one_config_make_their_product():
    """Two arguments of one config: every combination, the first argument varying slowest; qualified names work too."""
    cells = expand_grids(
        [CONFIGS["dropout"]], {"dropout.model.dropout_prob": [0.1, 0.5], "dropout.optimizer.lr": [1e-3, 1e-2]}
    )
    assert [c.name for c in cells] == [
        "dropout[dropout_prob=0.1][lr=0.001]",
        "dropout[dropout_prob=0.1][lr=0.01]",
        "dropout[dropout_prob=0.5][lr=0.001]",
        "dropout[dropout_prob=0.5][lr=0.01]",
    ]
    assert cells[1].optimizer_args == {"lr": 0.01} and cells[1].grid == {
        "model.dropout_prob": 0.1,
        "optimizer.lr": 0.01,
    }


def _loss_with_width(base: nn.Module, model: nn.Module, hidden_size: int = 3, penalty_lambda: float = 0.1) -> nn.Module:
    """A loss factory that shares an argument name with the model factory."""
    return losses.LassoLoss(base, model, penalty_lambda)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("l1.lam=1,2", "config 'l1' has no factory argument 'lam'; its factories take model.input_size"),
        (
            "shared.hidden_size=3,4",
            "'hidden_size' is an argument of its model and loss factories; qualify it, e.g. shared.model.hidden_size",
        ),
        ("l1.loss.hidden_size=3", "'loss.hidden_size' is not an argument of its loss factory; it takes l1_lambda"),
        ("l1.layer.l1_lambda=3", "'layer' is not a factory field"),
        ("l3.l1_lambda=1,2", "expected CONFIG.ARGUMENT=V1,V2,... with CONFIG one of this run's configs (l1, shared)"),
        ("l1.l1_lambda", "expected CONFIG.ARGUMENT=V1,V2"),
        ("l1.l1_lambda=1e-3,0.001", "repeats a value"),
    ],
)
def test_grid_mistakes_name_the_config_and_argument(spec, message):
    """An unknown or ambiguous argument, a config not in the run, a value twice: one ConfigError each."""
    shared = Config(name="shared", model=models.FullyConnected, loss=_loss_with_width)
    with pytest.raises(ConfigError) as error:
        expand_grids([CONFIGS["l1"], shared], [spec])
    assert message in str(error.value)


def test_grid_values_are_parsed_like_the_argument_they_replace():
    """Numbers, booleans and None from text; an int where a float stands becomes a float (so it hashes like one)."""
    assert [parse_value(t, 0.5) for t in ("0", "1e-3", "2")] == [0.0, 1e-3, 2.0]
    assert [parse_value(t, 3) for t in ("7", "true", "None", "relu")] == [7, True, None, "relu"]


def test_factories_are_sized_by_the_data_unless_the_config_sets_it():
    """input_shape and num_classes come from the dataset where the factory takes them; a config's own value wins and
    is hashed.
    """
    baseline = CONFIGS["baseline"]
    model = baseline.build_model({"input_shape": (3, 32, 32), "num_classes": 100})
    assert (model.linear_1.in_features, model.linear_2.out_features) == (3072, 100)
    assert baseline.build_model().linear_1.in_features == 784  # no data: the notebook's digits
    assert "input_shape" not in baseline.describe()["model"]["defaults"]  # the data's, not the config's
    fixed = Config(name="fixed", model=models.FullyConnected, model_args={"input_shape": (1, 28, 28)})
    assert fixed.build_model({"input_shape": (30,), "num_classes": 2}).linear_1.in_features == 784
    assert fixed.hash != baseline.hash
    sized = Config(name="sized", model=models.FullyConnected, model_args={"input_size": 784})
    with pytest.raises(ValueError, match=r"input_size=784 does not fit the data: its input_shape gives 3072"):
        sized.build_model({"input_shape": (3, 32, 32), "num_classes": 10})


def test_partial_factories_are_their_function_with_those_keywords():
    """partial(f, a=1) (Hydra's _partial_, nested partials too) is f with args {a: 1}: the same description and hash,
    pickled to
    workers, and the config's own keywords win over the partial's, as they would in a call."""
    import pickle

    bound = Config(
        name="x",
        model=functools.partial(functools.partial(models.FullyConnectedDropout, dropout_prob=0.3), hidden_size=50),
        loss=functools.partial(losses.RidgeLoss, l2_lambda=0.01),
    )
    plain = Config(
        name="x",
        model=models.FullyConnectedDropout,
        model_args={"dropout_prob": 0.3, "hidden_size": 50},
        loss=losses.RidgeLoss,
        loss_args={"l2_lambda": 0.01},
    )
    assert bound.describe() == plain.describe() and bound.hash == plain.hash
    assert pickle.loads(pickle.dumps(bound)).hash == plain.hash
    assert bound.build_model({"input_size": 784, "output_size": 10}).linear_1.out_features == 50
    overridden = Config(
        name="x",
        model=functools.partial(models.FullyConnectedDropout, dropout_prob=0.3),
        model_args={"dropout_prob": 0.1},
    )
    assert overridden.model_args == {"dropout_prob": 0.1}
