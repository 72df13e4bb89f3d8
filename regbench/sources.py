"""Readers of offline data sources, each returning plain arrays (``Arrays``) that ``regbench.datasets`` wraps.

- ``read_cifar``: CIFAR-10 / CIFAR-100 python-version batches in a folder;
- ``read_image_folder``: ``train/CLASS/*`` and ``test/CLASS/*`` (torchvision's ImageFolder layout);
- ``read_sklearn``: scikit-learn's bundled tables (breast-cancer, wine, iris, digits-8x8);
- ``read_csv`` and ``read_npz``: files a user exports from anywhere.

``validate`` checks any data set, a user's own included. Nothing here downloads: every error is
one line naming the file or folder, what is wrong and how to fix it. scikit-learn, torchvision
and PIL are imported inside the readers that need them, so importing regbench stays fast.
"""

from __future__ import annotations

import csv
import pickle
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from regbench.errors import UsageError

__all__ = ["SKLEARN_SETS", "SPLIT_SEED", "TEST_FRACTION", "Arrays", "SourceError", "read_cifar", "read_csv", "read_image_folder", "read_npz",
           "read_sklearn", "validate"]

# Tables come as one pool: 30% held out for testing keeps every class of the smallest set (wine's 48-sample class) at
# 14 or more test samples, and the split is the same for every seed (seed 0), so seeds vary training, not the test set.
TEST_FRACTION = 0.3
SPLIT_SEED = 0
SKLEARN_SETS = ("breast-cancer", "wine", "iris", "digits-8x8")
_SKLEARN_LOADERS = {"breast-cancer": "load_breast_cancer", "wine": "load_wine", "iris": "load_iris", "digits-8x8": "load_digits"}
_CIFAR = {  # variant: (folder, training batches, test batch, label key)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{k}" for k in range(1, 6)], "test_batch", b"labels"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels"),
}


class SourceError(UsageError):
    """A data source is missing or malformed; the message names the file and what was expected."""


@dataclass(frozen=True)
class Arrays:
    """One data set's train and test parts as loaded, before regbench wraps them."""

    x_train: np.ndarray  # images uint8 (N, C, H, W) or float (N, C, H, W) in [0, 1]; or feature vectors float (N, D)
    y_train: np.ndarray  # integer labels (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int  # labels are in [0, classes)
    source: str  # one line: where the data came from


# ---------------------------------------------------------------------- CIFAR


def read_cifar(root: Path | str, *, variant: str) -> Arrays:
    """CIFAR-10 or CIFAR-100 from the python-version batches, the files ``torchvision.datasets.CIFAR10(root, download=False)`` reads.

    The pickles are read here, not through torchvision, which verifies each file's md5 sum against
    the official release and so refuses any other batch (the tests' tiny ones, a re-packed copy).
    """
    if variant not in _CIFAR:
        raise SourceError(f"unknown CIFAR variant {variant!r}; choose one of {', '.join(_CIFAR)}")
    folder_name, train_files, test_file, label_key = _CIFAR[variant]
    root = Path(root)
    if not root.is_dir():
        raise SourceError(f"{root}: no such directory; pass --root the folder holding {folder_name}/ (the python-version batches)")
    folder = root / folder_name if (root / folder_name).is_dir() else root
    missing = [name for name in [*train_files, test_file] if not (folder / name).is_file()]
    if missing:
        raise SourceError(f"{folder}: {', '.join(missing)} missing; expected {folder_name}/ with {', '.join([*train_files, test_file])} "
                          "(the python-version archive, extracted)")
    train = [_cifar_batch(folder / name, label_key) for name in train_files]
    x_test, y_test = _cifar_batch(folder / test_file, label_key)
    return Arrays(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test,
                  classes=10 if variant == "cifar10" else 100, source=f"{variant} python batches in {folder.resolve()}")


def _cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch: b'data' (N, 3072) uint8, R, G and B planes of 32x32, and its labels."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as error:
        raise SourceError(f"{path}: truncated or not a CIFAR python batch ({type(error).__name__}: {error}); re-extract the archive") from None
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in batch) if isinstance(batch, dict) else type(batch).__name__
        raise SourceError(f"{path}: expected a dict with b'data' and {label_key!r}, found {keys}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise SourceError(f"{path}: b'data' must be uint8 (N, 3072) with N labels, found {data.dtype} {data.shape} and {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


# ---------------------------------------------------------------------- ImageFolder


def read_image_folder(root: Path | str, *, image_size: int) -> Arrays:
    """``root/train/CLASS/*`` and ``root/test/CLASS/*``, each image resized to image_size x image_size; grayscale or RGB as found."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    root = Path(root)
    for part in ("train", "test"):
        if not (root / part).is_dir():
            raise SourceError(f"{root / part}: no such directory; --root must hold train/CLASS/* and test/CLASS/* (torchvision's ImageFolder layout)")
    classes, index = find_classes(str(root / "train"))
    test_classes, _ = find_classes(str(root / "test"))
    unknown = sorted(set(test_classes) - set(classes))
    if unknown:
        raise SourceError(f"{root / 'test'}: class folder(s) {', '.join(unknown)} have no counterpart in {root / 'train'}")
    parts = {}
    for part in ("train", "test"):
        try:
            files = make_dataset(str(root / part), {c: index[c] for c in (classes if part == "train" else test_classes)}, extensions=IMG_EXTENSIONS)
        except FileNotFoundError as error:
            raise SourceError(f"{root / part}: {error}; every class folder needs at least one image ({', '.join(IMG_EXTENSIONS)})") from None
        parts[part] = [(_open_image(Path(path)), label) for path, label in files]
    gray = all(image.mode in ("L", "1", "I", "I;16", "F") for images in parts.values() for image, _ in images)
    mode = "L" if gray else "RGB"

    def stack(images: list) -> tuple[np.ndarray, np.ndarray]:
        pixels = [np.asarray(image.convert(mode).resize((image_size, image_size), resample=2)) for image, _ in images]  # 2: bilinear
        x = np.stack(pixels)
        return (x[:, None] if gray else x.transpose(0, 3, 1, 2)).astype(np.uint8), np.asarray([label for _, label in images], dtype=np.int64)

    (x_train, y_train), (x_test, y_test) = stack(parts["train"]), stack(parts["test"])
    return Arrays(x_train, y_train, x_test, y_test, classes=len(classes),
                  source=f"image folder {root.resolve()} ({'grayscale' if gray else 'RGB'}, {image_size}x{image_size})")


def _open_image(path: Path):
    """A fully read PIL image, or one line naming the file PIL cannot read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise SourceError(f"{path}: not an image PIL can read ({error}); remove or replace it") from None


# ---------------------------------------------------------------------- tables


def read_sklearn(name: str, *, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> Arrays:
    """One of scikit-learn's bundled tables (shipped inside the package: no network), split and standardized."""
    if name not in _SKLEARN_LOADERS:
        raise SourceError(f"unknown scikit-learn dataset {name!r}; choose one of {', '.join(SKLEARN_SETS)}")
    try:
        import sklearn.datasets
    except ModuleNotFoundError:
        raise SourceError(f"dataset {name!r} comes with scikit-learn, which is not installed: pip install scikit-learn") from None
    bunch = getattr(sklearn.datasets, _SKLEARN_LOADERS[name])()
    return _split_features(np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target), test_fraction, seed,
                           f"scikit-learn {_SKLEARN_LOADERS[name]}() ({int(round(test_fraction * 100))}% stratified test split, seed {seed}, "
                           "standardized with training statistics)")


def read_csv(path: Path | str, *, label_column: str, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> Arrays:
    """A CSV with a header row: integer labels in ``label_column``, numeric features in every other column; split and standardized."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: cannot read ({getattr(error, 'strerror', None) or error}); pass --root the CSV file") from None
    if not rows or not rows[0]:
        raise SourceError(f"{path}: empty; expected a header row naming the columns, then one row per sample")
    header, body = [h.strip() for h in rows[0]], [r for r in rows[1:] if r]
    if label_column not in header:
        raise SourceError(f"{path}: no column {label_column!r}; the columns are {', '.join(header)} (choose one with --label-column)")
    if not body:
        raise SourceError(f"{path}: a header but no rows")
    where = header.index(label_column)
    features, labels = [], []
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise SourceError(f"{path}, line {number}: {len(row)} fields, the header has {len(header)}")
        labels.append(_integer(row[where], f"{path}, line {number}, column {label_column!r}"))
        try:
            features.append([float(v) for k, v in enumerate(row) if k != where])
        except ValueError:
            bad = next(k for k, v in enumerate(row) if k != where and not _is_float(v))
            raise SourceError(f"{path}, line {number}, column {header[bad]!r}: {row[bad]!r} is not a number; features must be numeric") from None
    return _split_features(np.asarray(features, dtype=np.float64), np.asarray(labels), test_fraction, seed,
                           f"{path.resolve()} ({int(round(test_fraction * 100))}% stratified test split, seed {seed}, standardized with training statistics)")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer(text: str, where: str) -> int:
    """A label: '3' or '3.0' is 3; anything else is refused by name."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value != int(value) or value < 0:
        raise SourceError(f"{where}: label {text!r} is not a non-negative integer; labels must be class numbers 0, 1, 2, ...")
    return int(value)


def _split_features(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, source: str) -> Arrays:
    """A stratified train/test split of one pool of feature vectors, standardized with the training part's statistics only."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise SourceError(f"the test fraction must be between 0 and 1, got {test_fraction}")
    y = _labels(y, source)
    counts = np.bincount(y)
    if (counts[counts > 0] < 2).any():
        rare = [str(c) for c in np.flatnonzero((counts > 0) & (counts < 2))]
        raise SourceError(f"{source}: class(es) {', '.join(rare)} have a single sample; a stratified split needs two or more per class")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    x_train, x_test = _standardized(x_train, x_test)
    return Arrays(x_train, y_train, x_test, y_test, classes=int(y.max()) + 1, source=source)


def _standardized(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean and unit variance per feature, with statistics of the training part only (a constant feature is left at 0)."""
    from sklearn.preprocessing import StandardScaler

    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        return x_train.astype(np.float32), x_test.astype(np.float32)  # validate() names the NaN or infinite values
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train).astype(np.float32), scaler.transform(x_test).astype(np.float32)


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    """Integer labels as int64, or one line saying they are not."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise SourceError(f"{where}: labels are {y.dtype}, not integers; give each sample its class number 0, 1, 2, ...")
    return y.astype(np.int64)


# ---------------------------------------------------------------------- NPZ


def read_npz(path: Path | str) -> Arrays:
    """Arrays x_train, y_train, x_test, y_test from an .npz: feature vectors (N, D), standardized with training statistics, or images."""
    path = Path(path)
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise SourceError(f"{path}: no array {', '.join(missing)}; it holds {', '.join(archive.files) or 'nothing'}, "
                                  f"expected {', '.join(keys)}")
            x_train, y_train, x_test, y_test = (archive[k] for k in keys)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise SourceError(f"{path}: cannot read as .npz ({error}); write it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    y_train, y_test = _labels(y_train, f"{path}: y_train"), _labels(y_test, f"{path}: y_test")
    if x_train.ndim == 3:  # grayscale (N, H, W)
        x_train, x_test = x_train[:, None], x_test[:, None] if x_test.ndim == 3 else x_test
    if x_train.ndim == 2 and x_test.ndim == 2 and x_train.dtype.kind == "f" and x_train.shape[1] == x_test.shape[1]:
        x_train, x_test = _standardized(x_train, x_test)
        source = f"{path.resolve()} (feature vectors, standardized with training statistics)"
    else:
        source = f"{path.resolve()}"
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return Arrays(x_train, y_train, x_test, y_test, classes=classes, source=source)


# ---------------------------------------------------------------------- every data set


def validate(arrays: Arrays, *, name: str) -> Arrays:
    """Refuse what training would choke on or silently get wrong; labels as int64, float inputs as float32."""
    parts = {"train": (arrays.x_train, arrays.y_train), "test": (arrays.x_test, arrays.y_test)}
    out = {}
    for part, (x, y) in parts.items():
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim not in (2, 4):
            raise SourceError(f"dataset {name!r}: {part} inputs have shape {x.shape}; expected images (N, C, H, W) or feature vectors (N, D)")
        if not (x.dtype == np.uint8 or x.dtype.kind == "f"):
            raise SourceError(f"dataset {name!r}: {part} inputs are {x.dtype}; expected uint8 images or float values")
        if y.ndim != 1 or len(y) != len(x):
            raise SourceError(f"dataset {name!r}: {part} has {len(x)} samples but labels of shape {y.shape}; give one label per sample")
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x)
            if bad.any():
                nan = int(np.isnan(x).sum())
                raise SourceError(f"dataset {name!r}: {part} inputs hold {nan} NaN and {int(bad.sum()) - nan} infinite values "
                                  f"(first in sample {int(np.argwhere(bad)[0][0])}); drop or impute them")
            if x.ndim == 4 and len(x) and (x.min() < 0 or x.max() > 1):
                raise SourceError(f"dataset {name!r}: float {part} images span {float(x.min()):g}..{float(x.max()):g}; scale them to [0, 1] "
                                  "(or give uint8 pixels)")
            x = x.astype(np.float32, copy=False)
        y = _labels(y, f"dataset {name!r}: {part}")
        if len(y) and (y.min() < 0 or y.max() >= arrays.classes):
            raise SourceError(f"dataset {name!r}: {part} labels span {int(y.min())}..{int(y.max())}; they must lie in [0, {arrays.classes})")
        out[part] = (x, y)
    (x_train, y_train), (x_test, y_test) = out["train"], out["test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise SourceError(f"dataset {name!r}: training samples have shape {x_train.shape[1:]} but test samples {x_test.shape[1:]}; "
                          "both parts must hold samples of one shape")
    empty = [str(c) for c in np.flatnonzero(np.bincount(y_train, minlength=arrays.classes) == 0)]
    if empty:
        raise SourceError(f"dataset {name!r}: class(es) {', '.join(empty[:10])}{' ...' if len(empty) > 10 else ''} of {arrays.classes} have "
                          "no training sample; every class needs one (or relabel the classes 0..K-1)")
    if not len(y_test):
        raise SourceError(f"dataset {name!r}: the test part is empty")
    return replace(arrays, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
