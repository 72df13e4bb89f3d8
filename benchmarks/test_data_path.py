"""The notebook's data path against regbench's, both with the notebook's augmentation, in one run.

- ``notebook``: the notebook verbatim: ``torchvision.datasets.MNIST`` (here reading IDX files
  written from the embedded digits, since there is no download), ``select_n_per_class`` and a
  ``Subset``, PIL transforms (flip, rotation, crop, ToTensor), a shuffling ``DataLoader``.
- ``regbench``: whatever ``regbench run`` trains the augment-flip config on, taken from
  ``regbench.experiment.make_loaders``; when regbench's data path changes, this follows it.
- ``regbench-notebook-engine``: ``regbench run --engine notebook``, the notebook path kept inside
  regbench for comparison, as a check that the two notebook rows agree.

One round is one epoch over the 1,000 training images at batch 32. The conftest prints
regbench / notebook, the ratio of median samples per second, and writes it into the JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import MNIST

from regbench.augment import notebook_train_transform
from regbench.configs import CONFIGS
from regbench.data import Split, select_n_per_class
from regbench.datasets import load_dataset
from regbench.experiment import Settings, make_loaders

pytestmark = [pytest.mark.benchmark, pytest.mark.usefixtures("timed_threads")]

BATCH_SIZE = 32  # the notebook's small-data batch size
N_PER_CLASS = 100  # the notebook's small training set
ROUNDS = 7  # epochs timed per path; Mann-Whitney U needs at least 4 vs 4 to reach p < 0.05
SEED = 0


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed uint8 IDX file, the format torchvision's MNIST reads from root/MNIST/raw."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def split() -> Split:
    """The embedded digits, split as regbench run splits them."""
    return load_dataset("digits", n_train=N_PER_CLASS)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory, split: Split) -> Path:
    """A torchvision MNIST folder holding the same training images (test files only need to exist)."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", split.train.data[:, 0].numpy())
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", split.train.targets.numpy())
    return root


def notebook_batches(root: Path) -> Iterable:
    """The notebook's code: torchvision dataset, per-class subset, PIL transforms, DataLoader."""
    dataset = MNIST(root, train=True, download=False, transform=notebook_train_transform())
    subset = Subset(dataset, select_n_per_class(dataset, N_PER_CLASS))
    return DataLoader(subset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(SEED))


def regbench_batches(split: Split, engine: str = "fast") -> Iterable:
    """What `regbench run` feeds the training loop for the augmented config (replace nothing here: it follows
    regbench).
    """
    return make_loaders(
        CONFIGS["augment-flip"], SEED, split, Settings(batch_size=BATCH_SIZE, device="cpu", engine=engine)
    )[0]


def one_epoch(batches: Iterable) -> int:
    """Draw every batch once; the sum keeps the images from being optimized away."""
    n = 0
    for images, labels in batches:
        n += len(labels)
        images.sum()
    return n


@pytest.mark.parametrize("path", ["notebook", "regbench", "regbench-notebook-engine"])
def test_data_path(benchmark, split, mnist_root, path):
    """Time one augmented epoch of each path; record samples per second."""
    batches = {
        "notebook": lambda: notebook_batches(mnist_root),
        "regbench": lambda: regbench_batches(split),
        "regbench-notebook-engine": lambda: regbench_batches(split, engine="notebook"),
    }[path]()
    n = one_epoch(batches)
    assert n == 10 * N_PER_CLASS  # both paths see the same 1,000 images
    benchmark.group = "data-path"
    benchmark.extra_info.update(
        path=path, device="cpu", batch_size=BATCH_SIZE, samples_per_call=n, torch_threads=torch.get_num_threads()
    )
    benchmark.pedantic(one_epoch, args=(batches,), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    if benchmark.stats:  # None under --benchmark-disable, where the call runs once untimed
        benchmark.extra_info["samples_per_second"] = n / benchmark.stats.stats.median
