"""One run of one config, end to end on a tiny slice of the embedded digits, and the preflight that guards it."""

import pytest
import torch
from torch import nn

from examples.my_regularizers import CNN, DROPCONNECT
from regbench import augment, models
from regbench.configs import CONFIGS, Config, ConfigError
from regbench.data import Split, embedded_digits, small_data_split
from regbench.experiment import Settings, preflight, run_one
from regbench.records import RunRecord


@pytest.fixture(scope="module")
def tiny_split():
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits, 5, 5)
    return Split(digits.subset(train_idx), digits.subset(test_idx), source="test slice")


@pytest.mark.parametrize("name", ["l1", "augment-flip", "batchnorm"])
def test_run_one_records_everything(tiny_split, name):
    """A record carries identity, provenance, accuracies, gap, weights, throughput and history; the same seed repeats
    exactly.
    """
    settings = Settings(epochs=2, batch_size=8)
    record = run_one(CONFIGS[name], 0, tiny_split, settings, progress=False)
    assert isinstance(record, RunRecord) and record.ok and record.config == name and record.seed == 0
    assert (record.engine, record.execution, record.members, record.config_hash) == (
        "fast",
        "single",
        1,
        CONFIGS[name].hash,
    )
    as_dict = record.as_dict()
    for key in (
        "train_accuracy",
        "test_accuracy",
        "gap_accuracy",
        "gap_loss",
        "sparsity",
        "samples_per_second",
        "run_seconds",
    ):
        assert isinstance(as_dict[key], float), key
    assert as_dict["gap_accuracy"] == pytest.approx(as_dict["train_accuracy"] - as_dict["test_accuracy"])
    assert len(record.history) == 2 and record.samples_per_second > 0
    again = run_one(CONFIGS[name], 0, tiny_split, settings, progress=False)
    assert again.history == record.history


def test_diverged_run_is_recorded_not_raised(tiny_split):
    """A learning rate that blows up gives status 'diverged' with the message, and every identity field."""
    record = run_one(CONFIGS["baseline"], 0, tiny_split, Settings(epochs=3, batch_size=8, lr=1e30), progress=False)
    assert record.status == "diverged" and "lower the learning rate" in record.error and record.measurement is None
    assert record.as_dict()["execution"] == "single" and torch.isfinite(torch.tensor(record.run_seconds))


@pytest.mark.parametrize("config", [CNN, DROPCONNECT], ids=lambda c: c.name)
def test_any_architecture_trains_on_the_fast_engine(tiny_split, config):
    """A small CNN on (N, 1, 28, 28) images and a DropConnect MLP train on resident tensors and are measured like the
    built-ins.
    """
    record = run_one(config, 0, tiny_split, Settings(epochs=1, batch_size=8), progress=False)
    assert (
        record.ok and 0.0 <= record.measurement.test_accuracy <= 1.0 and record.measurement.eval_nondeterminism == 0.0
    )


_SEEN: list[str] = []  # what the recording transforms below were given, one entry per call


def _recording_transform(*, input_shape=None):
    """The augment config's PIL transform, noting every image it is given (and that it was a PIL image)."""
    real = augment.digit_train_transform(input_shape=input_shape)

    def transform(image):
        _SEEN.append(f"pil:{type(image).__name__}")
        return real(image)

    return transform


def _recording_augment():
    """The augment config's batch augmentation, noting how many images each call is given."""
    real = augment.BatchAugment(flip=False)

    def transform(images, generator):
        _SEEN.extend(["batch"] * len(images))
        return real(images, generator)

    return transform


RECORDING = Config(
    name="recording", model=models.FullyConnected, augment=_recording_augment, transform=_recording_transform
)


@pytest.mark.parametrize("engine, seen", [("notebook", "pil:Image"), ("fast", "batch")])
def test_each_engine_trains_its_own_kind_of_transform(tiny_split, engine, seen):
    """The notebook engine puts every training image through the config's torchvision transform once an epoch, as a PIL
    image;
    the fast engine puts them through its batch transform instead; neither calls the other's."""
    _SEEN.clear()
    record = run_one(RECORDING, 0, tiny_split, Settings(epochs=2, batch_size=8, engine=engine), progress=False)
    assert record.ok and record.engine == engine
    assert _SEEN == [seen] * (2 * len(tiny_split.train)), f"{len(_SEEN)} calls, {sorted(set(_SEEN))}"


def _vector_model() -> nn.Module:
    """A model for 10-value inputs, which 28x28 images do not fit."""
    return nn.Linear(10, 10)


def _raises() -> nn.Module:
    raise ValueError("hidden_size must be positive")


def _sum_loss(base: nn.Module, model: nn.Module) -> nn.Module:
    """A loss that forgets to reduce: one value per sample."""
    return nn.CrossEntropyLoss(reduction="none")


@pytest.mark.parametrize(
    "config, message",
    [
        (
            Config(name="vector", model=_vector_model),
            "its augmentation, model and loss failed on a training batch: RuntimeError",
        ),
        (Config(name="raises", model=_raises), "building it failed: ValueError: hidden_size must be positive"),
        (
            Config(
                name="negative", model=models.FullyConnected, loss=CONFIGS["l1"].loss, loss_args={"l1_lambda": -1.0}
            ),
            "l1 lambda must be a finite number >= 0",
        ),
        (
            Config(name="unreduced", model=models.FullyConnected, loss=_sum_loss),
            "the loss returned a tensor of shape (20,)",
        ),
        (
            Config(name="pil-only", model=models.FullyConnected, transform=augment.digit_train_transform),
            "the fast engine augments whole batches",
        ),
    ],
)
def test_preflight_names_the_config_and_what_failed(tiny_split, config, message):
    """Mistakes that would fail minutes into a matrix (or in a worker) are one ConfigError before any training."""
    state = torch.get_rng_state()
    with pytest.raises(ConfigError, match=f"config '{config.name}'") as error:
        preflight(config, tiny_split, Settings())
    assert message in str(error.value)
    assert torch.equal(state, torch.get_rng_state())  # the preflight leaves the global RNG alone


def test_preflight_refuses_a_batch_transform_on_the_notebook_engine(tiny_split):
    """A config with only a batch augmentation cannot run on the PIL path."""
    with pytest.raises(ConfigError, match="the notebook engine augments PIL images"):
        preflight(
            Config(
                name="batch-only",
                model=models.FullyConnected,
                augment=augment.BatchAugment,
                augment_args={"flip": False},
            ),
            tiny_split,
            Settings(engine="notebook"),
        )


def test_early_stopping_records_its_chosen_epoch_and_validation_size(tiny_split):
    """The early-stopping built-in holds out part of the training set, may stop before the last epoch, and says so."""
    record = run_one(CONFIGS["early-stopping"], 0, tiny_split, Settings(epochs=30, batch_size=8), progress=False)
    assert (
        record.ok and record.stopping["validation_size"] == 10
    )  # 1 of each class's 5 training images (10% rounded up)
    chosen, trained = record.stopping["chosen_epoch"], record.stopping["epochs_trained"]
    assert trained == len(record.history) and 1 <= chosen <= trained and (trained == 30 or trained - chosen == 3)
    losses = [e["holdout_loss"] for e in record.history]
    assert losses[chosen - 1] == min(losses[:trained])  # the chosen epoch has the lowest validation loss seen
    assert (
        "stopping"
        not in run_one(CONFIGS["baseline"], 0, tiny_split, Settings(epochs=1, batch_size=8), progress=False).as_dict()
    )


def test_the_whole_data_set_is_selectable(tmp_path):
    """n_train=None: every image the test side leaves (digits) or the whole training file (IDX)."""
    from regbench.data import DataError
    from regbench.datasets import load_dataset

    split = load_dataset("digits", n_train=None, n_test=100)
    assert (len(split.train), len(split.test)) == (4000, 1000)
    with pytest.raises(DataError, match="cannot give all its images to both"):
        load_dataset("digits", n_train=None, n_test=None)
