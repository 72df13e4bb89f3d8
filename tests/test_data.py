"""Offline data: the embedded digits, IDX files in every layout, and every way they can be broken."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from regbench.data import (
    DataError,
    ImageDataset,
    TensorLoader,
    as_inputs,
    embedded_digits,
    load_idx,
    read_idx,
    select_n_per_class,
    small_data_split,
)
from regbench.datasets import load_dataset

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format, independently of the reader under test."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_set(
    folder: Path, *, n: int = 30, train: bool = True, gz: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small MNIST-format set (3 per class when n=30) in ``folder``."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    prefix = "train" if train else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


def test_embedded_digits_are_5000_real_mnist_images():
    """500 images per class, uint8 (N, 28, 28), int64 targets, like torchvision's MNIST."""
    digits = embedded_digits()
    assert digits.data.shape == (5000, 1, 28, 28) and digits.data.dtype == torch.uint8
    assert digits.targets.dtype == torch.int64
    assert torch.bincount(digits.targets).tolist() == [500] * 10
    # real handwriting: dark background, bright strokes covering a minority of the pixels
    assert digits.data.max() == 255 and (digits.data > 0).float().mean() < 0.35


def test_dataset_indexes_like_torchvision_mnist():
    """Indexing gives (PIL image through the transform, int label)."""
    digits = embedded_digits()
    image, label = digits[0]
    assert image.size == (28, 28) and image.mode == "L" and isinstance(label, int)
    ds = digits.subset(torch.tensor([0, 1]), transform=lambda img: np.asarray(img).sum())
    assert ds[1][0] == int(digits.data[1].sum())


def test_tensors_match_to_tensor():
    """tensors() keeps uint8 images as stored, (N, 1, 28, 28); as_inputs of them is ToTensor applied to every image,
    float in [0, 1].
    """
    from torchvision.transforms import ToTensor

    digits = embedded_digits().subset(torch.arange(5))
    x, y = digits.tensors()
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.uint8
    torch.testing.assert_close(as_inputs(x)[3], ToTensor()(digits[3][0]), rtol=0, atol=0)
    assert torch.equal(y, digits.targets)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_reads_plain_and_gzipped_files(tmp_path, gz):
    """The same content, gzipped or not, reads back exactly."""
    images, labels = write_set(tmp_path, gz=gz)
    ds = load_idx(tmp_path, train=True)
    assert torch.equal(ds.data[:, 0], torch.from_numpy(images))
    assert ds.targets.tolist() == labels.tolist()


@pytest.mark.parametrize("layout", ["MNIST/raw", "FashionMNIST/raw"])
def test_load_idx_finds_torchvision_layout(tmp_path, layout):
    """torchvision keeps the files in root/MNIST/raw; --root root must find them."""
    images, _ = write_set(tmp_path / layout, train=False, n=20)
    assert torch.equal(load_idx(tmp_path, train=False).data[:, 0], torch.from_numpy(images))


def test_missing_directory_and_files_are_named(tmp_path):
    """No folder, or a folder without the IDX files: the error names what was looked for."""
    with pytest.raises(DataError, match="no such directory"):
        load_idx(tmp_path / "nope", train=True)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_idx(tmp_path, train=True)
    write_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_idx(tmp_path, train=True)


def test_truncated_idx_is_refused(tmp_path):
    """A file shorter than its header promises is an error, never a short read."""
    write_set(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated"):
        load_idx(tmp_path, train=True)


def test_trailing_bytes_bad_magic_and_type_are_refused(tmp_path):
    """Trailing data, a wrong magic number, a non-uint8 type or a cut header are all named."""
    path = tmp_path / "f"
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    for data, message in [
        (good + b"x", "trailing bytes"),
        (b"\x01" + good[1:], "bad magic"),
        (good[:2] + b"\x0d" + good[3:], "element type 0x0d"),
        (good[:6], "truncated header"),
        (b"", "empty file"),
    ]:
        path.write_bytes(data)
        with pytest.raises(DataError, match=message):
            read_idx(path)


def test_corrupt_gzip_is_refused(tmp_path):
    """A cut gzip stream names the file and says it is corrupt."""
    write_set(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_idx(tmp_path, train=True)


def test_mismatched_counts_are_refused(tmp_path):
    """Images and labels from different releases: both files are named."""
    write_set(tmp_path, n=30)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(DataError, match="30 images but .* 29 labels"):
        load_idx(tmp_path, train=True)


def test_labels_out_of_range_and_wrong_dimensions(tmp_path):
    """Labels must be 0..9; images must be 3-D."""
    write_set(tmp_path, n=10)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(10, 12, np.uint8)))
    with pytest.raises(DataError, match="labels must be 0..9"):
        load_idx(tmp_path, train=True)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((10, 784), np.uint8)))
    with pytest.raises(DataError, match="expected 3 dimensions"):
        load_idx(tmp_path, train=True)


def test_select_n_per_class_is_the_notebook_function():
    """First n indices of each class, classes 0..9 in order."""
    targets = torch.tensor([3, 0, 1, 0, 2, 1, 3, 2, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4])

    class Holder:
        pass

    holder = Holder()
    holder.targets = targets
    idx = select_n_per_class(holder, 2)
    assert idx.tolist() == [1, 3, 2, 5, 4, 7, 0, 6, 8, 19, 9, 18, 10, 17, 11, 16, 12, 15, 13, 14]
    with pytest.raises(ValueError, match="class 0 has only 2 samples"):
        select_n_per_class(holder, 3)


def test_small_data_split_is_disjoint_and_balanced():
    """100 + 300 per class from the 500 embedded per class, with no image in both."""
    digits = embedded_digits()
    train_idx, test_idx = small_data_split(digits)
    assert len(train_idx) == 1000 and len(test_idx) == 3000
    assert not set(train_idx.tolist()) & set(test_idx.tolist())
    assert torch.bincount(digits.targets[train_idx]).tolist() == [100] * 10
    assert torch.bincount(digits.targets[test_idx]).tolist() == [300] * 10
    with pytest.raises(ValueError, match="fewer than the 501"):
        small_data_split(digits, 201, 300)


def test_load_dataset_from_idx_and_errors(tmp_path):
    """mnist from a folder: n per class from train and from test; unknown names and no root are refused."""
    write_set(tmp_path, n=30)
    write_set(tmp_path, n=20, train=False, seed=1)
    split = load_dataset("mnist", tmp_path, n_train=3, n_test=2)
    assert len(split.train) == 30 and len(split.test) == 20
    with pytest.raises(DataError, match="pass --root"):
        load_dataset("mnist", "/nonexistent/mnist")
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar", tmp_path)


def test_image_dataset_validates_its_tensors():
    """Wrong dtype or rank, or mismatched lengths, are refused at construction."""
    with pytest.raises(DataError, match="uint8 or float"):
        ImageDataset(torch.zeros(2, 28, 28, dtype=torch.int32), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(DataError, match=r"got torch.float32 \(2, 1, 1, 28, 28\)"):
        ImageDataset(torch.zeros(2, 1, 1, 28, 28), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(DataError, match="2 samples but 3 labels"):
        ImageDataset(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))


def test_tensor_loader_covers_every_sample_once_per_epoch():
    """Shuffled batches are a permutation; the generator fixes the order; the last batch is partial."""
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    loader = TensorLoader(x, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert all(torch.equal(bx.squeeze(1).long(), by) for bx, by in batches)
    again = torch.cat(
        [b[1] for b in TensorLoader(x, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))]
    )
    assert torch.equal(seen, again)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(x, y, batch_size=0)


@pytest.mark.skipif(
    not FASHION.is_dir(), reason="Fashion-MNIST IDX files absent: apt-get install dataset-fashion-mnist"
)
def test_debian_fashion_mnist():
    """The Debian package's gzipped files: 60k/10k, 6k/1k per class."""
    train = load_idx(FASHION, train=True, name="fashion-mnist")
    test = load_idx(FASHION, train=False, name="fashion-mnist")
    assert train.data.shape == (60000, 1, 28, 28) and test.data.shape == (10000, 1, 28, 28)
    assert torch.bincount(train.targets).tolist() == [6000] * 10


def test_copy_of_fashion_file_corrupted_names_it(tmp_path):
    """A real file cut short (here a synthetic gz when the package is absent) is refused by name."""
    source = FASHION / "t10k-labels-idx1-ubyte.gz"
    if source.is_file():
        shutil.copy(source, tmp_path / "t10k-labels-idx1-ubyte.gz")
    else:
        (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8))))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        read_idx(path)


def test_tensor_loader_applies_the_transform_once_per_pass():
    """The transform sees the whole split (in chunks) each pass, with the loader's generator, before batching."""
    calls = []

    def plus_pass(images, generator):
        calls.append((len(images), generator))
        return images + len(calls) * 100

    x, y = torch.arange(6).float().unsqueeze(1), torch.arange(6)
    g = torch.Generator().manual_seed(0)
    loader = TensorLoader(x, y, batch_size=4, shuffle=True, generator=g, transform=plus_pass)
    first = torch.cat([b[0] for b in loader])
    second_targets = [b[1] for b in loader]
    assert calls == [(6, g), (6, g)]
    assert sorted(first.squeeze(1).tolist()) == [100.0 + k for k in range(6)]
    assert [len(t) for t in second_targets] == [4, 2]


def test_a_pass_augmented_batch_by_batch_equals_the_whole_pass_augmented():
    """BatchAugment's parameters drawn for the whole pass and applied a block of batches at a time give exactly the
    images epoch() augments at once.
    """
    from regbench.augment import BatchAugment

    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (50, 3, 20, 36), dtype=torch.uint8, generator=g), torch.arange(50) % 5
    batched = TensorLoader(
        x, y, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1), transform=BatchAugment(flip=True)
    )
    batched.BLOCK = 20  # blocks of two batches (the last one short), so a pass is several blocks
    whole = TensorLoader(
        x, y, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(1), transform=BatchAugment(flip=True)
    )
    for _ in range(2):  # two passes: the generator is left where the whole-pass path leaves it
        inputs, order = whole.epoch()
        expected = [(inputs.index_select(0, idx), y.index_select(0, idx)) for idx in order.split(8)]
        found = list(batched)
        assert len(found) == len(expected) == 7
        assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(found, expected))
