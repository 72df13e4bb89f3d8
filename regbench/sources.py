"""Readers of offline data sources, each returning plain numpy arrays (``Arrays``) that ``regbench.datasets`` wraps.

- ``read_cifar``: CIFAR-10 / CIFAR-100 python-version batches in a folder;
- ``read_image_folder``: ``train/CLASS/*`` and ``test/CLASS/*`` (torchvision's ImageFolder layout);
- ``read_sklearn``: scikit-learn's bundled tables (breast-cancer, wine, iris, digits-8x8);
- ``read_csv`` and ``read_npz``: files a user exports from anywhere.

``validate`` checks any data set, a user's own included. Nothing here downloads. Every error is a
``SourceError`` in one line naming the file or folder, what is wrong and how to fix it.
scikit-learn, torchvision and PIL are imported inside the readers that need them, so importing
regbench stays fast.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import math
import pickle
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from regbench.errors import UsageError, first_line

__all__ = [
    "SKLEARN_SETS",
    "SPLIT_SEED",
    "TEST_FRACTION",
    "Arrays",
    "SourceError",
    "read_cifar",
    "read_csv",
    "read_image_folder",
    "read_npz",
    "read_sklearn",
    "validate",
]

# Tables come as one pool that regbench splits. 30% held out keeps every class of the smallest set
# (wine's 48-sample class) at 14 or more test samples; one fixed split seed keeps the test set the
# same across training seeds, so seeds vary training and not what it is measured on.
TEST_FRACTION = 0.3
SPLIT_SEED = 0
SKLEARN_SETS = ("breast-cancer", "wine", "iris", "digits-8x8")
_SKLEARN_LOADERS = {
    "breast-cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
    "digits-8x8": "load_digits",
}
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_SINGLE_BAND = ("1", "L", "I", "F")  # PIL modes read as grayscale (with every "I;16..." variant)


class SourceError(UsageError):
    """A data source is missing or malformed; the message names the file and what was expected."""


@dataclass(frozen=True)
class Arrays:
    """One data set's train and test parts as loaded, before regbench wraps them."""

    x_train: np.ndarray  # images (N, C, H, W) uint8 or float32 in [0, 1]; or feature vectors float32 (N, D)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int  # labels are in [0, classes)
    source: str  # one line: where the data came from, e.g. "CIFAR-10 python batches in /data/cifar-10-batches-py"


# ---------------------------------------------------------------------- CIFAR


class _CifarLayout(NamedTuple):
    """What one CIFAR variant's python-version archive holds once extracted."""

    title: str
    folder: str
    train: tuple[str, ...]
    test: str
    label_key: str
    classes: int


_CIFAR = {
    "cifar10": _CifarLayout(
        "CIFAR-10", "cifar-10-batches-py", tuple(f"data_batch_{k}" for k in range(1, 6)), "test_batch", "labels", 10
    ),
    "cifar100": _CifarLayout("CIFAR-100", "cifar-100-python", ("train",), "test", "fine_labels", 100),
}
_NUMPY_CORE = "numpy._core" if importlib.util.find_spec("numpy._core") else "numpy.core"  # numpy 2 renamed it
_PICKLE_GLOBALS = {  # all a CIFAR batch's pickle may name: numpy arrays and Python 2 byte strings
    ("_codecs", "encode"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}


def read_cifar(root: Path | str, *, variant: str) -> Arrays:
    """CIFAR-10 or CIFAR-100 from the files ``torchvision.datasets.CIFAR10(root, download=False)`` reads; no download.

    The pickles are read here rather than through torchvision, which checks every file's md5 sum
    against the official release and so refuses any other batch (the tests' tiny ones, a re-packed
    copy). ``root`` holds ``cifar-10-batches-py/`` (or ``cifar-100-python/``) or is that folder.
    Images come out uint8 (N, 3, 32, 32).
    """
    if variant not in _CIFAR:
        raise SourceError(f"unknown CIFAR variant {variant!r}; choose one of {', '.join(_CIFAR)}")
    layout = _CIFAR[variant]
    folder = _cifar_folder(Path(root), layout)
    train = [_cifar_batch(folder / name, layout) for name in layout.train]
    x_test, y_test = _cifar_batch(folder / layout.test, layout)
    return Arrays(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        x_test,
        y_test,
        classes=layout.classes,
        source=f"{layout.title} python batches in {folder.resolve()}",
    )


def _cifar_folder(root: Path, layout: _CifarLayout) -> Path:
    """The folder holding the batches: root/<folder>/ or root itself, with every batch file present."""
    if not root.is_dir():
        raise SourceError(
            f"{root}: no such directory; pass --root the folder holding {layout.folder}/ "
            f"(the extracted {layout.title} python-version archive; nothing is downloaded)"
        )
    folder = root / layout.folder if (root / layout.folder).is_dir() else root
    expected = [*layout.train, layout.test]
    missing = [name for name in expected if not (folder / name).is_file()]
    if missing:
        raise SourceError(
            f"{folder}: {', '.join(missing)} missing; a {layout.title} folder ({layout.folder}/) holds "
            f"{', '.join(expected)}: extract the python-version archive there"
        )
    return folder


def _cifar_batch(path: Path, layout: _CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """One batch: 'data' (N, 3072) uint8, the R, G and B planes of 32x32 images row by row, and its labels."""
    batch = _unpickle(path)
    if isinstance(batch, dict):
        batch = {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if not isinstance(batch, dict) or "data" not in batch or layout.label_key not in batch:
        found = ", ".join(sorted(map(str, batch))) if isinstance(batch, dict) else f"a {type(batch).__name__}"
        raise SourceError(
            f"{path}: expected a dict with keys b'data' and b'{layout.label_key}' ({layout.title}), found {found}"
        )
    data, labels = np.asarray(batch["data"]), np.asarray(batch[layout.label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise SourceError(
            f"{path}: b'data' must be uint8 (N, 3072) with N labels, found {data.dtype} {data.shape} "
            f"and labels of shape {labels.shape}; extract the archive again"
        )
    return data.reshape(-1, 3, 32, 32), _labels(labels, f"{path}: b'{layout.label_key}'")


class _NumpyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else, so a CIFAR file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        """Only the globals numpy arrays and Python 2 byte strings pickle to, under numpy 1's or 2's module names."""
        core = module.replace("numpy.core", "numpy._core", 1) if module.startswith("numpy.core") else module
        if (core, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(core.replace("numpy._core", _NUMPY_CORE, 1), name)


def _unpickle(path: Path) -> object:
    """A pickled batch, with any failure to decode it reported in one line."""
    try:
        with open(path, "rb") as f:
            return _NumpyUnpickler(f, encoding="bytes").load()
    except Exception as error:  # a damaged pickle raises many types: EOFError, UnpicklingError, KeyError...
        raise SourceError(
            f"{path}: truncated or not a CIFAR python batch ({type(error).__name__}: {first_line(error)}); "
            "extract the archive again"
        ) from None


# ---------------------------------------------------------------------- ImageFolder


def read_image_folder(root: Path | str, *, image_size: int) -> Arrays:
    """``root/train/CLASS/*`` and ``root/test/CLASS/*`` as ImageFolder reads them, resized to image_size (bilinear).

    Classes are train's folder names, sorted; test's must be among them. Images are grayscale
    (C = 1) when every one is single-band ('1', 'L', 'I', 'I;16', 'F', converted to 'L' by PIL,
    which clips values above 255), otherwise all are converted to RGB (C = 3); uint8
    (N, C, image_size, image_size).
    """
    root = Path(root)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise SourceError(f"{root}: image_size must be a positive integer, got {image_size!r}")
    if not root.is_dir():
        raise SourceError(f"{root}: no such directory; pass --root the folder holding train/CLASS/* and test/CLASS/*")
    classes = _class_folders(root / "train")
    test_classes = _class_folders(root / "test")
    unknown = [name for name in test_classes if name not in classes]
    if unknown:
        raise SourceError(
            f"{root / 'test'}: class folder(s) {', '.join(unknown)} not in {root / 'train'} "
            f"(whose classes are {', '.join(classes)}); rename or remove them"
        )
    index = {name: k for k, name in enumerate(classes)}
    train_files = _image_files(root / "train", {name: index[name] for name in classes})
    test_files = _image_files(root / "test", {name: index[name] for name in test_classes})
    gray = all(_is_single_band(_image_mode(path)) for path, _ in [*train_files, *test_files])
    x_train, y_train = _load_images(train_files, gray=gray, size=image_size)
    x_test, y_test = _load_images(test_files, gray=gray, size=image_size)
    return Arrays(
        x_train,
        y_train,
        x_test,
        y_test,
        classes=len(classes),
        source=f"image folder {root.resolve()} ({'grayscale' if gray else 'RGB'}, {image_size}x{image_size})",
    )


def _class_folders(part: Path) -> list[str]:
    """The sorted class folder names in train/ or test/, as ImageFolder finds them."""
    from torchvision.datasets.folder import find_classes

    if not part.is_dir():
        raise SourceError(
            f"{part}: no such directory; --root must hold train/CLASS/* and test/CLASS/* (ImageFolder's layout)"
        )
    try:
        classes, _ = find_classes(str(part))
    except FileNotFoundError:
        raise SourceError(f"{part}: no class folders; put each class's images in {part}/CLASS_NAME/") from None
    return classes


def _image_files(part: Path, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
    """Every image file under part's class folders with its label; a class folder with none is refused by name."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    files = make_dataset(str(part), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
    found = {label for _, label in files}
    empty = [name for name, label in class_to_idx.items() if label not in found]
    if empty:
        raise SourceError(
            f"{part}: class folder(s) {', '.join(empty)} hold no image ({' '.join(IMG_EXTENSIONS)}); "
            "add images or remove the folder"
        )
    return files


def _is_single_band(mode: str) -> bool:
    """Whether a PIL mode is one band that converts to 8-bit grayscale."""
    return mode in _SINGLE_BAND or mode.startswith("I;16")


def _image_mode(path: str) -> str:
    """An image's PIL mode, read from its header only."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.mode
    except Exception as error:  # PIL raises UnidentifiedImageError, OSError, ValueError, SyntaxError... for bad files
        raise SourceError(f"{path}: not an image PIL can open ({first_line(error)}); remove or replace it") from None


def _load_images(files: list[tuple[str, int]], *, gray: bool, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images decoded one at a time, converted to 'L' or 'RGB' and resized: uint8 (N, C, size, size), int64 labels."""
    from PIL import Image

    pixels = []
    for path, _ in files:
        try:
            with Image.open(path) as image:
                resized = image.convert("L" if gray else "RGB").resize((size, size), Image.BILINEAR)
        except Exception as error:  # a file whose header reads but whose data is truncated or corrupt
            raise SourceError(f"{path}: PIL cannot decode it ({first_line(error)}); remove or replace it") from None
        pixels.append(np.asarray(resized, dtype=np.uint8))
    x = np.stack(pixels)
    x = x[:, None] if gray else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x, np.asarray([label for _, label in files], dtype=np.int64)


# ---------------------------------------------------------------------- tables: scikit-learn and CSV


def read_sklearn(name: str, *, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> Arrays:
    """One of scikit-learn's bundled tables (shipped inside the package: no network), split and standardized."""
    if name not in _SKLEARN_LOADERS:
        raise SourceError(f"unknown scikit-learn data set {name!r}; choose one of {', '.join(SKLEARN_SETS)}")
    loader = _SKLEARN_LOADERS[name]
    bunch = getattr(_sklearn("datasets", f"data set {name!r}"), loader)()
    return _split_features(bunch.data, bunch.target, test_fraction, seed, f"scikit-learn {loader}()")


def read_csv(
    path: Path | str, *, label_column: str, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
) -> Arrays:
    """A CSV with a header row: class numbers (0, 1, 2, ...) in ``label_column``, numeric features in the others.

    Labels may be any non-negative integers ("3.0" reads as 3); classes is the largest plus one.
    The rows are split and standardized as scikit-learn's tables are.
    """
    path = Path(path)
    header, rows = _csv_rows(path)
    if label_column not in header:
        raise SourceError(
            f"{path}: no column {label_column!r}; the columns are {', '.join(header)} (name the label column)"
        )
    if len(header) < 2:
        raise SourceError(f"{path}: only the label column {label_column!r}; features go in the other columns")
    at = header.index(label_column)
    features, labels = np.empty((len(rows), len(header) - 1)), np.empty(len(rows), dtype=np.int64)
    for k, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise SourceError(f"{path}, line {line}: {len(row)} fields but the header has {len(header)}")
        labels[k] = _class_number(row[at], f"{path}, line {line}, column {label_column!r}")
        features[k] = _feature_row(row, at, header, f"{path}, line {line}")
    return _split_features(features, labels, test_fraction, seed, f"{path.resolve()} (labels in {label_column!r})")


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows, each with its line number."""
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise SourceError(f"{path}: {what}; pass --root a CSV file with a header row")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            lines = [(reader.line_num, [field.strip() for field in row]) for row in reader if any(map(str.strip, row))]
    except (UnicodeDecodeError, csv.Error) as error:
        raise SourceError(f"{path}: not a UTF-8 CSV file ({first_line(error)}); save it as CSV (UTF-8)") from None
    if not lines:
        raise SourceError(f"{path}: empty; expected a header row naming the columns, then one row per sample")
    (_, header), rows = lines[0], lines[1:]
    if all(_is_number(name) for name in header):
        raise SourceError(f"{path}: no header row (the first row is all numbers); add a row naming the columns")
    if not rows:
        raise SourceError(f"{path}: a header row but no samples")
    return header, rows


def _is_number(text: str) -> bool:
    """Whether float() reads the text."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _feature_row(row: list[str], label_at: int, header: list[str], where: str) -> list[float]:
    """A row's features as finite numbers, or one line naming the first cell that is not one."""
    cells = [(header[j], text) for j, text in enumerate(row) if j != label_at]
    try:
        values = [float(text) for _, text in cells]
        if all(map(math.isfinite, values)):
            return values
    except ValueError:
        pass
    column, text = next((c, t) for c, t in cells if not (_is_number(t) and math.isfinite(float(t))))
    raise SourceError(
        f"{where}, column {column!r}: {text!r} is not a finite number; "
        "features must be numeric (fill or drop missing values)"
    )


def _class_number(text: str, where: str) -> int:
    """A label cell: '3' and '3.0' are class 3; anything else is refused by name."""
    value = float(text) if _is_number(text) else float("nan")
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise SourceError(f"{where}: label {text!r} is not a class number; labels must be integers 0, 1, 2, ...")
    return int(value)


def _split_features(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, source: str) -> Arrays:
    """A stratified train/test split of one pool of feature vectors, standardized with the training part's statistics.

    Shared by the scikit-learn tables and CSV files, so both are split and scaled the same way.
    """
    model_selection = _sklearn("model_selection", source)
    if not 0 < test_fraction < 1:
        raise SourceError(f"{source}: the test fraction must lie strictly between 0 and 1, got {test_fraction}")
    y = _labels(y, source)
    counts = np.bincount(y)
    rare = np.flatnonzero(counts == 1)
    if len(rare):
        raise SourceError(
            f"{source}: class(es) {', '.join(map(str, rare))} have a single sample; "
            "a stratified split needs two or more per class"
        )
    try:
        x_train, x_test, y_train, y_test = model_selection.train_test_split(
            x, y, test_size=test_fraction, stratify=y, random_state=seed
        )
    except ValueError as error:  # e.g. fewer test samples than classes
        raise SourceError(
            f"{source}: cannot split {len(y)} samples with test fraction {test_fraction} ({first_line(error)})"
        ) from None
    x_train, x_test = _standardized(x_train, x_test, source)
    return Arrays(
        x_train,
        y_train,
        x_test,
        y_test,
        classes=int(y.max()) + 1,
        source=f"{source}, stratified {test_fraction:.0%} test split (seed {seed}), standardized on the training part",
    )


def _standardized(x_train: np.ndarray, x_test: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean and unit variance per feature by the training part's statistics only: the test part stays unseen."""
    scaler = _sklearn("preprocessing", source).StandardScaler().fit(np.asarray(x_train, dtype=np.float64))
    x_train = scaler.transform(np.asarray(x_train, dtype=np.float64))
    x_test = scaler.transform(np.asarray(x_test, dtype=np.float64))
    return x_train.astype(np.float32), x_test.astype(np.float32)


def _sklearn(module: str, what: str) -> Any:
    """A scikit-learn module, or one line saying how to install it."""
    try:
        return importlib.import_module(f"sklearn.{module}")
    except ModuleNotFoundError:
        raise SourceError(f"{what} needs scikit-learn, which is not installed: pip install scikit-learn") from None


def _labels(y: Any, where: str) -> np.ndarray:
    """Integer labels as int64 (floats with integral values are cast), or one line saying they are not."""
    y = np.asarray(y)
    if y.dtype.kind in "iu":
        return y.astype(np.int64, copy=False)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if not bad.any():
            return y.astype(np.int64)
        example = f" such as {y[bad].flat[0].item()!r}"
    else:
        example = f" such as {_plain(y.flat[0])!r}" if y.size else ""
    raise SourceError(
        f"{where}: labels are {y.dtype}{example}, not integers; give each sample its class number 0, 1, 2, ..."
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages read 'cat', not np.str_('cat')."""
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------- NPZ


def read_npz(path: Path | str) -> Arrays:
    """Arrays x_train, y_train, x_test, y_test from an .npz (``numpy.savez``); loaded without pickle.

    x (N, D): feature vectors, standardized with the training part's statistics as the tables are;
    (N, H, W): grayscale images, read as (N, 1, H, W); (N, C, H, W): images, uint8 or float in [0, 1].
    classes is the largest label in either part plus one.
    """
    path = Path(path)
    arrays = _npz_arrays(path)
    y_train, y_test = (_labels(_flat_labels(arrays[k]), f"{path}: {k}") for k in ("y_train", "y_test"))
    x_train, x_test = (_npz_inputs(arrays[k], f"{path}: {k}") for k in ("x_train", "x_test"))
    if x_train.ndim == 2 and x_test.ndim == 2 and x_train.shape[1] == x_test.shape[1]:
        x_train, x_test = _standardized(x_train, x_test, str(path))
        kind = "feature vectors, standardized with training statistics"
    else:
        kind = "images"
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return Arrays(x_train, y_train, x_test, y_test, classes=classes, source=f"{path.resolve()} ({kind})")


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The four arrays, or one line saying what the file is not or which are missing."""
    hint = "write it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
    if not path.is_file():
        raise SourceError(
            f"{path}: {'a directory' if path.is_dir() else 'no such file'}; pass --root an .npz file ({hint})"
        )
    if not zipfile.is_zipfile(path):
        raise SourceError(f"{path}: not an .npz archive (a zip of .npy arrays); {hint}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            arrays = {k: archive[k] for k in _NPZ_KEYS if k in names}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # damaged members, object arrays
        raise SourceError(f"{path}: cannot read its arrays ({first_line(error)}); {hint} from numeric arrays") from None
    missing = [k for k in _NPZ_KEYS if k not in arrays]
    if missing:
        raise SourceError(f"{path}: no {', '.join(missing)}; it holds {', '.join(names) or 'nothing'}; {hint}")
    return arrays


def _flat_labels(y: np.ndarray) -> np.ndarray:
    """Labels saved as a column (N, 1) read as (N,)."""
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def _npz_inputs(x: np.ndarray, where: str) -> np.ndarray:
    """Feature vectors (N, D) as float, images as (N, C, H, W) uint8 or float in [0, 1]; anything else refused."""
    if x.ndim == 3:
        x = x[:, None]  # grayscale (N, H, W): one channel
    if x.ndim == 2:
        if x.dtype.kind not in "biuf":
            raise SourceError(f"{where}: feature vectors are {x.dtype}; save numbers")
        _check_finite(x, where)
        return x
    if x.ndim != 4:
        raise SourceError(
            f"{where}: shape {x.shape}; expected feature vectors (N, D) or images (N, H, W) or (N, C, H, W)"
        )
    if x.dtype.kind == "f":
        _check_finite(x, where)
        _check_unit_range(x, where)
    elif x.dtype != np.uint8:
        raise SourceError(f"{where}: images are {x.dtype}; save uint8 pixels (0..255) or float values scaled to [0, 1]")
    return x


def _check_finite(x: np.ndarray, where: str) -> None:
    """Refuse NaN and infinite values, saying how many there are."""
    bad = ~np.isfinite(x)
    if bad.any():
        nan = int(np.isnan(x).sum())
        first = int(np.argwhere(bad)[0][0])
        raise SourceError(
            f"{where}: {nan} NaN and {int(bad.sum()) - nan} infinite values (first in sample {first}); "
            "drop or impute them"
        )


def _check_unit_range(x: np.ndarray, where: str) -> None:
    """Refuse float images outside [0, 1], which training would read as different pixels."""
    if x.size and (x.min() < 0 or x.max() > 1):
        raise SourceError(
            f"{where}: float images span {float(x.min()):g}..{float(x.max()):g}; "
            "scale them to [0, 1] (or save uint8 pixels)"
        )


# ---------------------------------------------------------------------- every data set


def validate(arrays: Arrays, *, name: str) -> Arrays:
    """Refuse what training would choke on or silently get wrong; returns int64 labels and float32 float inputs.

    Called on every data set, a user's own included, so each check is one pass over the arrays;
    uint8 images are not copied, and (N, H, W) grayscale images are read as (N, 1, H, W).
    """
    where = f"dataset {name!r} ({arrays.source})"
    classes = arrays.classes
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
        raise SourceError(f"{where}: classes must be a positive integer, got {classes!r}")
    x_train, y_train = _checked_part(arrays.x_train, arrays.y_train, int(classes), f"{where}: train")
    x_test, y_test = _checked_part(arrays.x_test, arrays.y_test, int(classes), f"{where}: test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise SourceError(
            f"{where}: training samples have shape {x_train.shape[1:]} but test samples {x_test.shape[1:]}; "
            "both parts must hold samples of one shape"
        )
    if not len(y_test):
        raise SourceError(f"{where}: the test part is empty; hold out at least one sample")
    empty = np.flatnonzero(np.bincount(y_train, minlength=classes) == 0)
    if len(empty):
        shown = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        raise SourceError(
            f"{where}: class(es) {shown} of {classes} have no training sample; "
            "every class needs one (or number the classes 0..K-1 without gaps)"
        )
    return replace(arrays, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, classes=int(classes))


def _checked_part(x: Any, y: Any, classes: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One part's inputs and labels checked: rank, dtype, finite values, image range, one label in range per sample."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, None]  # grayscale (N, H, W): one channel
    if x.ndim not in (2, 4):
        raise SourceError(
            f"{where} inputs have shape {x.shape}; expected images (N, C, H, W) or feature vectors (N, D)"
        )
    if not (x.dtype == np.uint8 or x.dtype.kind == "f"):
        raise SourceError(f"{where} inputs are {x.dtype}; expected uint8 images or float values")
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise SourceError(f"{where}: {len(x)} samples but labels of shape {y.shape}; give one label per sample")
    if x.dtype.kind == "f":
        _check_finite(x, f"{where} inputs")
        if x.ndim == 4:
            _check_unit_range(x, f"{where} inputs")
        x = x.astype(np.float32, copy=False)
    y = _labels(y, where)
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise SourceError(f"{where} labels span {int(y.min())}..{int(y.max())}; they must lie in [0, {classes})")
    return x, y
