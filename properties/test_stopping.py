"""Early stopping: the validation split comes from the training data only (disjoint, per class, never the test set);
the run stops `patience` epochs after its best validation loss and ends with that epoch's weights."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from regbench.checks import strategies as gen
from regbench.configs import Config
from regbench.data import NUM_CLASSES, ImageDataset, Split, as_inputs, holdout_split
from regbench.experiment import Settings, prepare
from regbench.models import FullyConnected
from regbench.stopping import EarlyStopping

# ------------------------------------------------------------------------------ the held-out split

HOLDOUT_INPUTS = dict(labels=gen.class_labels(min_per_class=2, max_extra=8), fraction=st.floats(0.01, 0.99))


def labelled(labels: list[int], first_id: int = 0) -> ImageDataset:
    """A dataset whose image i carries its id (first_id + i) in its first two pixels, so where an image went can be
    read back.
    """
    ids = torch.arange(first_id, first_id + len(labels))
    images = torch.zeros(len(labels), 28, 28, dtype=torch.uint8)
    images[:, 0, 0], images[:, 0, 1] = (ids // 256).to(torch.uint8), (ids % 256).to(torch.uint8)
    return ImageDataset(images, torch.tensor(labels, dtype=torch.int64))


def ids_of(images: torch.Tensor) -> set[int]:
    """The ids written by ``labelled``, read back from the images as stored (uint8) or ToTensor-scaled."""
    pixels = (as_inputs(images)[:, 0, 0, :2] * 255).round().long()
    return set((pixels[:, 0] * 256 + pixels[:, 1]).tolist())


def check_holdout_split(split, device, *, labels: list[int], fraction: float) -> None:
    """Kept and held out partition the set; per class, the last ceil(fraction * n) images (at least 1, never all) are
    held out.
    """
    kept, held = (t.tolist() for t in split(labelled(labels), fraction))
    assert not set(kept) & set(held), f"images {sorted(set(kept) & set(held))[:5]} are both trained on and held out"
    assert sorted(kept + held) == list(range(len(labels))), "not every image is either kept or held out, exactly once"
    for c in range(NUM_CLASSES):
        own = [i for i, label in enumerate(labels) if label == c]
        n = min(len(own) - 1, max(1, math.ceil(fraction * len(own))))
        assert sorted(i for i in held if labels[i] == c) == own[len(own) - n :], (
            f"class {c}: held out is not its last {n} of {len(own)} images"
        )


@given(**HOLDOUT_INPUTS)
def test_holdout_split_partitions_each_class(labels, fraction):
    check_holdout_split(holdout_split, None, labels=labels, fraction=fraction)


SPLIT_INPUTS = dict(
    train=gen.class_labels(min_per_class=2, max_extra=3),
    test=gen.class_labels(min_per_class=1, max_extra=2),
    fraction=st.floats(0.05, 0.9),
)


def check_validation_from_training_only(
    prepare_run, device, *, train: list[int], test: list[int], fraction: float
) -> None:
    """A run with early stopping validates on training images it does not train on, and never on a test image."""
    split = Split(labelled(train), labelled(test, first_id=len(train)), "ids")
    config = Config(
        name="es", model=FullyConnected, stopping=EarlyStopping, stopping_args={"validation_fraction": fraction}
    )
    run = prepare_run(config, 0, split, Settings(epochs=1, batch_size=4))
    held, trained = ids_of(run.holdout.inputs), ids_of(run.train.inputs)
    assert held, "nothing is held out for validation"
    assert held <= set(range(len(train))), (
        f"validation images {sorted(held - set(range(len(train))))[:5]} come from the test set"
    )
    assert not held & trained, f"validation images {sorted(held & trained)[:5]} are also trained on"
    assert ids_of(run.clean_train.inputs) == trained, "train accuracy is not measured on the images trained on"
    assert run.validation_size == len(held)


@given(**SPLIT_INPUTS)
def test_early_stopping_never_validates_on_test_images(train, test, fraction):
    """No decision a run makes has seen the test set: otherwise its test accuracy is no longer an honest estimate."""
    check_validation_from_training_only(prepare, None, train=train, test=test, fraction=fraction)


# ------------------------------------------------------------------------------ when it stops

MONITOR_INPUTS = dict(
    losses=st.lists(st.floats(0, 10, allow_subnormal=False), min_size=1, max_size=25),
    patience=st.integers(1, 5),
    min_delta=st.sampled_from([0.0, 0.01, 0.5]),
)


def check_stops_after_patience_keeping_the_best(
    rule_factory, device, *, losses: list[float], patience: int, min_delta: float
) -> None:
    """Feed validation losses epoch by epoch: the run stops exactly `patience` epochs after the chosen one, no later
    epoch
    beat the chosen loss by more than min_delta, the chosen loss is within min_delta of the best seen, and the model
    ends with the chosen epoch's weights."""
    monitor = rule_factory(patience=patience, min_delta=min_delta).monitor()
    model = nn.Linear(1, 1, bias=False)
    seen = []
    for epoch, loss in enumerate(losses, start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights of each epoch are the epoch's number
        seen.append(loss)
        if monitor.update(epoch, loss, model):
            break
    monitor.restore(model)
    chosen = monitor.best_epoch
    assert chosen is not None and 1 <= chosen <= len(seen), f"chosen epoch {chosen} of {len(seen)}"
    stopped = len(seen) if monitor.stopped_epoch is not None else None
    if stopped is not None:
        assert stopped - chosen == patience, (
            f"stopped at epoch {stopped}, {stopped - chosen} epochs after the chosen {chosen}, patience {patience}"
        )
    else:
        assert len(seen) - chosen < patience, (
            f"ran all {len(seen)} epochs although nothing improved after epoch {chosen} (patience {patience})"
        )
    later = seen[chosen:]
    assert all(loss >= seen[chosen - 1] - min_delta for loss in later), (
        f"a later epoch improved on the chosen {chosen} by more than {min_delta}"
    )
    assert seen[chosen - 1] <= min(seen) + min_delta, (
        f"the chosen loss {seen[chosen - 1]} is not within {min_delta} of the best {min(seen)}"
    )
    assert model.weight.item() == chosen, (
        f"the model ends with epoch {model.weight.item():g}'s weights, not the chosen epoch {chosen}'s"
    )


@given(**MONITOR_INPUTS)
def test_stopping_waits_patience_epochs_and_keeps_the_best_weights(losses, patience, min_delta):
    check_stops_after_patience_keeping_the_best(
        EarlyStopping, None, losses=losses, patience=patience, min_delta=min_delta
    )
