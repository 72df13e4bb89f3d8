"""Data selection: select_n_per_class returns the first n indices of each class, class by class; the small-data split
is disjoint and balanced.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.support import CPU
from regbench.checks import strategies as gen
from regbench.data import NUM_CLASSES, ImageDataset, select_n_per_class, small_data_split

SELECT_INPUTS = dict(labels=gen.class_labels(min_per_class=0, max_extra=6), n=st.integers(0, 5))


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[list[int], int, int]:
    """Labels with enough of every class for the split, and the split's per-class sizes."""
    n_train, n_test = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    return draw(gen.class_labels(min_per_class=n_train + n_test, max_extra=3)), n_train, n_test


SPLIT_INPUTS = dict(case=split_cases())


def dataset_of(labels: list[int]) -> ImageDataset:
    """An ImageDataset with these labels; selection reads only the labels, so the images are 1x1."""
    return ImageDataset(torch.zeros(len(labels), 1, 1, dtype=torch.uint8), torch.tensor(labels, dtype=torch.int64))


def first_of_class(labels: list[int], c: int, start: int, count: int) -> list[int]:
    """Reference, written plainly: positions start..start+count-1 among the indices of class c."""
    return [i for i, label in enumerate(labels) if label == c][start : start + count]


def check_select_n_per_class(select, device, *, labels: list[int], n: int) -> None:
    """Exactly n valid indices per class, classes 0..9 in order, each class's first n in order; too few is a
    ValueError naming the class.
    """
    counts = [labels.count(c) for c in range(NUM_CLASSES)]
    short = [c for c in range(NUM_CLASSES) if counts[c] < n]
    if short:
        try:
            select(dataset_of(labels), n)
        except ValueError as error:
            assert f"class {short[0]}" in str(error), f"the error does not name class {short[0]}: {error}"
            return
        raise AssertionError(f"asked for {n} per class, class {short[0]} has {counts[short[0]]}, and no error")
    indices = select(dataset_of(labels), n).tolist()
    assert len(indices) == NUM_CLASSES * n, f"{len(indices)} indices for {n} per class"
    assert all(0 <= i < len(labels) for i in indices), "an index outside the dataset"
    for c in range(NUM_CLASSES):
        block = indices[c * n : (c + 1) * n]
        assert all(labels[i] == c for i in block), (
            f"block {c} holds labels {[labels[i] for i in block]}: classes not in order"
        )
        assert block == first_of_class(labels, c, 0, n), (
            f"class {c}: got {block}, its first {n} indices are {first_of_class(labels, c, 0, n)}"
        )


@given(**SELECT_INPUTS)
def test_select_n_per_class_takes_first_n_of_each_class(labels, n):
    """The notebook's subsampler, reproducible and balanced: same dataset, same images, every time."""
    check_select_n_per_class(select_n_per_class, CPU, labels=labels, n=n)


def check_small_split(split, device, *, case: tuple[list[int], int, int]) -> None:
    """Train and test share no index; each has exactly its n per class; per class, train is the first n_train and
    test the next n_test.
    """
    labels, n_train, n_test = case
    train, test = (t.tolist() for t in split(dataset_of(labels), n_train, n_test))
    assert not set(train) & set(test), f"indices in both train and test: {sorted(set(train) & set(test))}"
    for name, chosen, size in (("train", train, n_train), ("test", test, n_test)):
        per_class = [sum(labels[i] == c for i in chosen) for c in range(NUM_CLASSES)]
        assert per_class == [size] * NUM_CLASSES, f"{name} has {per_class} images per class, expected {size} each"
    for c in range(NUM_CLASSES):
        assert [i for i in train if labels[i] == c] == first_of_class(labels, c, 0, n_train), (
            f"class {c}: train is not the first {n_train}"
        )
        assert [i for i in test if labels[i] == c] == first_of_class(labels, c, n_train, n_test), (
            f"class {c}: test is not the next {n_test}"
        )


@given(**SPLIT_INPUTS)
def test_small_data_split_is_disjoint_and_balanced(case):
    """A test image seen in training would make the small-data gap look smaller than it is."""
    check_small_split(small_data_split, CPU, case=case)
