"""Offline data sources: CIFAR batches, image folders, scikit-learn tables, CSV and NPZ files, and validate().

Every file is written here in tmp_path; nothing is downloaded. Where a trusted reader exists
(torchvision's CIFAR10 and ImageFolder, PIL's resize) the result is checked against it.
"""

import io
import os
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from regbench.errors import UsageError
from regbench.sources import (
    SKLEARN_SETS,
    TEST_FRACTION,
    Arrays,
    SourceError,
    read_cifar,
    read_csv,
    read_image_folder,
    read_npz,
    read_sklearn,
    validate,
)

CIFAR10_FILES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 str (BINSTRING), as the released CIFAR files hold their keys and pixel buffers."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        size = len(obj)
        self.write(pickle.SHORT_BINSTRING + bytes([size]) if size < 256 else pickle.BINSTRING + struct.pack("<i", size))
        self.write(obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def write_batch(path: Path, batch: dict) -> None:
    """A batch pickled as the released files are: protocol 2, Python 2 str keys and buffers, numpy 1's module names."""
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(batch)
    path.write_bytes(buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


def write_cifar10(root: Path, *, per_batch: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tiny cifar-10-batches-py/ (per_batch images in each of the six files); returns the images and labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(6 * per_batch, 3, 32, 32), dtype=np.uint8)
    labels = (np.arange(6 * per_batch) % 10).tolist()
    for k, name in enumerate(CIFAR10_FILES):
        part = slice(k * per_batch, (k + 1) * per_batch)
        write_batch(
            folder / name,
            {b"batch_label": b"tiny", b"data": images[part].reshape(per_batch, -1), b"labels": labels[part]},
        )
    return images, np.asarray(labels)


def write_images(folder: Path, mode: str, sizes: list[tuple[int, int]], *, seed: int = 0) -> None:
    """PNG images of PIL mode 'L' or 'RGB' with the given (width, height) sizes, random pixels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k, (w, h) in enumerate(sizes):
        shape = (h, w) if mode == "L" else (h, w, 3)
        Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode=mode).save(folder / f"{k}.png")


def write_tree(root: Path, mode: str = "L") -> Path:
    """An ImageFolder tree: classes 'cat' and 'dog', 3 train and 2 test images each, of different sizes."""
    for part, count in (("train", 3), ("test", 2)):
        for c, name in enumerate(("dog", "cat")):  # written out of order: the classes must come back sorted
            write_images(root / part / name, mode, [(10 + k, 7 + 2 * k) for k in range(count)], seed=c)
    return root


def arrays(**changes) -> Arrays:
    """A small valid feature set (3 classes, 6 train and 3 test samples), with fields replaced."""
    base = dict(
        x_train=np.arange(12, dtype=np.float64).reshape(6, 2),
        y_train=np.array([0, 1, 2, 0, 1, 2]),
        x_test=np.zeros((3, 2)),
        y_test=np.array([0, 1, 2]),
        classes=3,
        source="a test",
    )
    return Arrays(**{**base, **changes})


# ---------------------------------------------------------------------- CIFAR


def test_cifar10_matches_torchvision(tmp_path, monkeypatch):
    """Our reader gives torchvision's CIFAR10 pixels and labels, channels first (md5 check bypassed: tiny files)."""
    import torchvision

    images, labels = write_cifar10(tmp_path)
    meta = {b"label_names": [f"class{k}".encode() for k in range(10)], b"num_cases_per_batch": 3}
    write_batch(tmp_path / "cifar-10-batches-py" / "batches.meta", meta)
    monkeypatch.setattr(
        torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True
    )  # its md5 sums are the release's
    result = read_cifar(tmp_path, variant="cifar10")
    for train, x, y in ((True, result.x_train, result.y_train), (False, result.x_test, result.y_test)):
        reference = torchvision.datasets.CIFAR10(str(tmp_path), train=train, download=False)
        np.testing.assert_array_equal(x, reference.data.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(y, reference.targets)
    np.testing.assert_array_equal(result.x_train, images[:15])
    np.testing.assert_array_equal(result.y_test, labels[15:])
    assert result.x_train.dtype == np.uint8 and result.x_train.shape == (15, 3, 32, 32)
    assert result.y_train.dtype == np.int64 and result.classes == 10
    assert result.source.startswith("CIFAR-10 python batches in ") and result.source.endswith("cifar-10-batches-py")
    inner = read_cifar(tmp_path / "cifar-10-batches-py", variant="cifar10")
    np.testing.assert_array_equal(inner.x_test, result.x_test)


def test_cifar100_reads_fine_labels(tmp_path):
    """CIFAR-100 reads the fine labels (not the coarse ones) from cifar-100-python/; Python 3 pickles read too."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, size=(5, 3, 32, 32), dtype=np.uint8)
    test = rng.integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8)
    for name, x, fine in (("train", train, [99, 0, 5, 7, 42]), ("test", test, [5, 99])):
        batch = {
            "data": x.reshape(len(x), -1),
            "fine_labels": fine,
            "coarse_labels": [1] * len(x),
        }  # Python 3 str keys read too
        (folder / name).write_bytes(pickle.dumps(batch))
    result = read_cifar(tmp_path, variant="cifar100")
    np.testing.assert_array_equal(result.x_train, train)
    np.testing.assert_array_equal(result.y_train, [99, 0, 5, 7, 42])
    np.testing.assert_array_equal(result.y_test, [5, 99])
    assert result.classes == 100 and "CIFAR-100" in result.source


def test_cifar_errors_name_the_folder_and_the_files(tmp_path):
    """A missing root names it; a missing batch names which and the expected set; an unknown variant lists both."""
    with pytest.raises(SourceError, match=rf"{tmp_path / 'nowhere'}: no such directory; .*cifar-10-batches-py/"):
        read_cifar(tmp_path / "nowhere", variant="cifar10")
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(SourceError) as caught:
        read_cifar(tmp_path, variant="cifar10")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'cifar-10-batches-py'}: data_batch_3 missing;")
    assert "data_batch_1, data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch" in message
    with pytest.raises(SourceError, match="unknown CIFAR variant 'cifar'; choose one of cifar10, cifar100"):
        read_cifar(tmp_path, variant="cifar")


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda good: good[: len(good) // 2], "truncated or not a CIFAR python batch"),
        (lambda good: b"", r"truncated or not a CIFAR python batch \(EOFError"),
        (lambda good: b"not a pickle at all", "truncated or not a CIFAR python batch"),
        (
            lambda good: pickle.dumps([1, 2, 3]),
            r"expected a dict with keys b'data' and b'labels' \(CIFAR-10\), found a list",
        ),
        (lambda good: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "found data$"),
        (lambda good: pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"uint8 \(N, 3072\)"),
        (
            lambda good: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
            r"labels of shape \(1,\)",
        ),
        (
            lambda good: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}),
            "such as 'a', not integers",
        ),
    ],
)
def test_cifar_damaged_batch(tmp_path, content, message):
    """A truncated, empty or foreign pickle, missing keys or a wrong data shape: one line naming the file."""
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(content(path.read_bytes()))
    with pytest.raises(SourceError, match=message) as caught:
        read_cifar(tmp_path, variant="cifar10")
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


class _Exploit:
    """A pickle that would run a command when loaded."""

    def __reduce__(self):
        return (os.system, ("echo never",))


def test_cifar_pickle_cannot_run_code(tmp_path):
    """A batch whose pickle names any global beyond numpy's array builders is refused, not executed."""
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": [0]}, protocol=2))
    with pytest.raises(
        SourceError, match=r"data_batch_1: truncated or not a CIFAR python batch \(UnpicklingError: refused global"
    ):
        read_cifar(tmp_path, variant="cifar10")


# ---------------------------------------------------------------------- ImageFolder


def test_image_folder_grayscale_matches_imagefolder_and_pil(tmp_path):
    """Classes and labels as torchvision's ImageFolder gives them; pixels as PIL's bilinear resize; one channel."""
    from PIL import Image
    from torchvision.datasets import ImageFolder

    root = write_tree(tmp_path, "L")
    result = read_image_folder(root, image_size=8)
    reference = ImageFolder(str(root / "train"))
    assert reference.classes == ["cat", "dog"] and result.classes == 2
    np.testing.assert_array_equal(result.y_train, reference.targets)
    assert (
        result.x_train.shape == (6, 1, 8, 8)
        and result.x_test.shape == (4, 1, 8, 8)
        and result.x_train.dtype == np.uint8
    )
    for k, (path, _) in enumerate(reference.samples):
        expected = np.asarray(Image.open(path).convert("L").resize((8, 8), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(result.x_train[k, 0], expected)
    np.testing.assert_array_equal(result.y_test, [0, 0, 1, 1])
    assert "(grayscale, 8x8)" in result.source


def test_image_folder_rgb_when_any_image_has_colour(tmp_path):
    """One RGB image makes every image RGB (C = 3); a test part may hold only some of train's classes."""
    from PIL import Image

    root = write_tree(tmp_path, "RGB")
    write_images(root / "train" / "cat", "L", [(5, 5)], seed=9)  # a grayscale one among the colour ones
    (root / "test" / "dog" / "0.png").unlink()
    (root / "test" / "dog" / "1.png").unlink()
    (root / "test" / "dog").rmdir()
    result = read_image_folder(root, image_size=4)
    assert result.x_train.shape == (6, 3, 4, 4) and result.x_test.shape == (2, 3, 4, 4)
    assert result.x_train.flags["C_CONTIGUOUS"]
    expected = np.asarray(
        Image.open(root / "train" / "dog" / "2.png").convert("RGB").resize((4, 4), Image.Resampling.BILINEAR)
    )
    np.testing.assert_array_equal(result.x_train[-1], expected.transpose(2, 0, 1))
    np.testing.assert_array_equal(result.y_test, [0, 0])
    assert result.classes == 2 and "(RGB," in result.source


def test_image_folder_errors(tmp_path):
    """Missing root, train/ or test/; an empty class folder; a test class train lacks; a file PIL cannot open."""
    with pytest.raises(SourceError, match=rf"{tmp_path / 'nowhere'}: no such directory"):
        read_image_folder(tmp_path / "nowhere", image_size=8)
    (tmp_path / "train").mkdir()
    with pytest.raises(SourceError, match=rf"{tmp_path / 'train'}: no class folders"):
        read_image_folder(tmp_path, image_size=8)
    root = write_tree(tmp_path / "tree")
    (root / "test").rename(root / "elsewhere")
    with pytest.raises(
        SourceError, match=rf"{root / 'test'}: no such directory; --root must hold train/CLASS/\* and test/CLASS/\*"
    ):
        read_image_folder(root, image_size=8)
    (root / "elsewhere").rename(root / "test")
    (root / "train" / "bird").mkdir()
    (root / "train" / "bird" / "notes.txt").write_text("not an image")
    with pytest.raises(SourceError, match=rf"{root / 'train'}: class folder\(s\) bird hold no image"):
        read_image_folder(root, image_size=8)
    (root / "train" / "bird" / "notes.txt").unlink()
    (root / "train" / "bird").rmdir()
    write_images(root / "test" / "fish", "L", [(4, 4)])
    with pytest.raises(
        SourceError, match=rf"{root / 'test'}: class folder\(s\) fish not in .*\(whose classes are cat, dog\)"
    ):
        read_image_folder(root, image_size=8)
    (root / "test" / "fish" / "0.png").unlink()
    (root / "test" / "fish").rmdir()
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(SourceError, match=rf"{root / 'train' / 'cat' / 'broken.png'}: not an image PIL can open"):
        read_image_folder(root, image_size=8)
    with pytest.raises(SourceError, match="image_size must be a positive integer, got 0"):
        read_image_folder(root, image_size=0)


# ---------------------------------------------------------------------- scikit-learn's tables


@pytest.mark.parametrize(
    "name, features, classes", [("breast-cancer", 30, 2), ("wine", 13, 3), ("iris", 4, 3), ("digits-8x8", 64, 10)]
)
def test_sklearn_sets_split_stratified_and_standardized_on_train(name, features, classes):
    """Shapes, classes; each class's test share within one sample of the fraction; train-only statistics; one split."""
    result = read_sklearn(name)
    total = len(result.y_train) + len(result.y_test)
    assert result.x_train.shape[1] == result.x_test.shape[1] == features and result.classes == classes
    assert result.x_train.dtype == result.x_test.dtype == np.float32 and result.y_train.dtype == np.int64
    assert abs(len(result.y_test) - TEST_FRACTION * total) <= 1
    for c in range(classes):
        in_test, in_all = (result.y_test == c).sum(), (result.y_train == c).sum() + (result.y_test == c).sum()
        assert abs(in_test - TEST_FRACTION * in_all) <= 1, (c, in_test, in_all)
    varying = result.x_train.std(axis=0) > 0  # digits-8x8 has pixels that are 0 in every image
    np.testing.assert_allclose(result.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(result.x_train.std(axis=0)[varying], 1, atol=1e-4)
    assert (
        np.abs(result.x_test.mean(axis=0)).max() > 1e-3
        and np.abs(result.x_test[:, varying].std(axis=0) - 1).max() > 1e-3
    )
    again = read_sklearn(name)
    np.testing.assert_array_equal(again.x_test, result.x_test)
    np.testing.assert_array_equal(again.y_train, result.y_train)
    assert "stratified 30% test split (seed 0), standardized on the training part" in result.source


def test_sklearn_seed_and_fraction_change_the_split():
    """Another seed gives another split of the same pool; the fraction sets the test size."""
    a, b = read_sklearn("iris"), read_sklearn("iris", seed=1, test_fraction=0.2)
    assert len(b.y_test) == 30 and len(a.y_test) == 45 and not np.array_equal(a.y_train[:20], b.y_train[:20])


def test_sklearn_unknown_name_and_missing_package(monkeypatch):
    """An unknown name lists the names; without scikit-learn the message says how to install it."""
    with pytest.raises(
        SourceError, match="unknown scikit-learn data set 'mnist'; choose one of " + ", ".join(SKLEARN_SETS)
    ):
        read_sklearn("mnist")
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(
        SourceError, match="data set 'wine' needs scikit-learn, which is not installed: pip install scikit-learn"
    ):
        read_sklearn("wine")


# ---------------------------------------------------------------------- CSV


def test_csv_split_standardized_with_any_class_numbers(tmp_path):
    """Labels '3.0' read as 3, classes is max + 1, features are the other columns, split and standardized as tables."""
    path = tmp_path / "table.csv"
    labels = ["0", "2", "3.0"]
    path.write_text("a,label,b\n" + "".join(f"{k * 0.5},{labels[k % 3]},{k * k}\n" for k in range(30)) + "\n")
    result = read_csv(path, label_column="label")
    assert result.classes == 4 and result.x_train.shape == (21, 2) and result.x_test.shape == (9, 2)
    assert sorted(np.unique(result.y_test)) == [0, 2, 3] and result.y_train.dtype == np.int64
    np.testing.assert_allclose(result.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(result.x_train.std(axis=0), 1, atol=1e-5)
    assert str(path.resolve()) in result.source and "labels in 'label'" in result.source


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty; expected a header row"),
        ("1,2\n3,4\n", r"no header row \(the first row is all numbers\)"),
        ("x,y\n", "a header row but no samples"),
        ("x,y\n1,0\n2,1\n", r"no column 'label'; the columns are x, y"),
        ("x,label\n1,0\n2,cat\n", r"line 3, column 'label': label 'cat' is not a class number"),
        ("x,label\n1,0\n2,1.5\n", r"line 3, column 'label': label '1.5' is not a class number"),
        ("x,label\n1,0\n2,-1\n", r"line 3, column 'label': label '-1' is not a class number"),
        ("x,label,z\n1,0,4\n\n2,1,high\n", r"line 4, column 'z': 'high' is not a finite number"),
        ("x,label\n1,0\nnan,1\n", r"line 3, column 'x': 'nan' is not a finite number"),
        ("x,label\n1,0\n2,1,3\n", "line 3: 3 fields but the header has 2"),
        ("label\n1\n0\n", "only the label column 'label'"),
    ],
)
def test_csv_errors_name_file_line_and_column(tmp_path, text, message):
    """Each malformed CSV gives one line naming the file, and the row and column where one is to blame."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SourceError, match=message) as caught:
        read_csv(path, label_column="label")
    assert str(caught.value).startswith(str(path))


def test_csv_missing_file_and_a_single_sample_class(tmp_path):
    """A missing file is named; a class with one row cannot be split by stratum, and the message says so."""
    with pytest.raises(SourceError, match=rf"{tmp_path / 'none.csv'}: no such file"):
        read_csv(tmp_path / "none.csv", label_column="y")
    path = tmp_path / "t.csv"
    path.write_text("f,y\n" + "".join(f"{k},{k % 2}\n" for k in range(10)) + "3,2\n")
    with pytest.raises(SourceError, match=r"class\(es\) 2 have a single sample"):
        read_csv(path, label_column="y")


# ---------------------------------------------------------------------- NPZ


def test_npz_features_standardized_and_images_kept(tmp_path):
    """(N, D) features are standardized with train statistics; (N, H, W) images gain a channel and keep their pixels."""
    rng = np.random.default_rng(0)
    features = tmp_path / "features.npz"
    np.savez(
        features,
        x_train=rng.normal(5, 3, (20, 4)),
        y_train=np.arange(20) % 4,
        x_test=rng.normal(5, 3, (8, 4)),
        y_test=np.arange(8) % 2,
    )
    result = read_npz(features)
    np.testing.assert_allclose(result.x_train.mean(axis=0), 0, atol=1e-5)
    assert result.x_train.dtype == np.float32 and result.classes == 4 and "standardized" in result.source
    images = tmp_path / "images.npz"
    x_train = rng.integers(0, 256, (6, 5, 5), dtype=np.uint8)
    np.savez(images, x_train=x_train, y_train=np.arange(6) % 3, x_test=x_train[:2], y_test=np.array([[4.0], [0.0]]))
    result = read_npz(images)
    assert result.x_train.shape == (6, 1, 5, 5) and result.x_train.dtype == np.uint8 and result.classes == 5
    np.testing.assert_array_equal(result.x_train[:, 0], x_train)
    np.testing.assert_array_equal(result.y_test, [4, 0])


def test_npz_errors(tmp_path):
    """A missing file, a non-npz, a missing key (listing what is there), float labels, unscaled images, NaN, strings."""
    path = tmp_path / "d.npz"
    with pytest.raises(SourceError, match=rf"{path}: no such file"):
        read_npz(path)
    np.save(tmp_path / "d.npy", np.zeros(3))
    with pytest.raises(
        SourceError, match=r"d.npy: not an .npz archive \(a zip of .npy arrays\); write it with numpy.savez"
    ):
        read_npz(tmp_path / "d.npy")
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.zeros(2, int), X_test=np.zeros((1, 3)))
    with pytest.raises(SourceError, match=rf"{path}: no x_test, y_test; it holds x_train, y_train, X_test;"):
        read_npz(path)
    np.savez(
        path, x_train=np.zeros((2, 3)), y_train=np.array([0.5, 1]), x_test=np.zeros((1, 3)), y_test=np.zeros(1, int)
    )
    with pytest.raises(SourceError, match=rf"{path}: y_train: labels are float64 such as 0.5, not integers"):
        read_npz(path)
    np.savez(
        path,
        x_train=np.full((2, 1, 2, 2), 255.0),
        y_train=np.zeros(2, int),
        x_test=np.zeros((1, 1, 2, 2)),
        y_test=np.zeros(1, int),
    )
    with pytest.raises(SourceError, match=rf"{path}: x_train: float images span 255..255; scale them to \[0, 1\]"):
        read_npz(path)
    np.savez(
        path,
        x_train=np.array([[1.0], [np.nan]]),
        y_train=np.zeros(2, int),
        x_test=np.zeros((1, 1)),
        y_test=np.zeros(1, int),
    )
    with pytest.raises(SourceError, match=rf"{path}: x_train: 1 NaN and 0 infinite values \(first in sample 1\)"):
        read_npz(path)
    np.savez(
        path, x_train=np.array(["a", "b"]), y_train=np.zeros(2, int), x_test=np.array(["c"]), y_test=np.zeros(1, int)
    )
    with pytest.raises(SourceError, match=rf"{path}: x_train: shape \(2,\); expected feature vectors"):
        read_npz(path)


# ---------------------------------------------------------------------- validate


def test_validate_casts_without_copying_images():
    """Float labels with integral values become int64, float64 features float32; uint8 images pass through uncopied."""
    result = validate(
        arrays(y_train=np.array([0.0, 1, 2, 0, 1, 2]), y_test=np.array([0, 1, 2], dtype=np.uint8)), name="t"
    )
    assert result.y_train.dtype == result.y_test.dtype == np.int64 and result.x_train.dtype == np.float32
    images = np.zeros((3, 1, 4, 4), np.uint8)
    result = validate(
        arrays(x_train=images, y_train=np.array([0, 1, 2]), x_test=images[:1], y_test=np.array([1])), name="t"
    )
    assert result.x_train is images
    gray = validate(
        arrays(x_train=images[:, 0], y_train=np.array([0, 1, 2]), x_test=images[:1, 0], y_test=np.array([1])), name="t"
    )
    assert gray.x_train.shape == (3, 1, 4, 4) and np.shares_memory(gray.x_train, images)


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            dict(x_train=np.array([[np.nan, 1], [np.inf, 2], [3, np.nan], [0, 0], [0, 0], [0, 0]])),
            r"train inputs: 2 NaN and 1 infinite values \(first in sample 0\)",
        ),
        (dict(y_test=np.array([0, 1, 7])), r"test labels span 0..7; they must lie in \[0, 3\)"),
        (dict(y_train=np.array([-1, 1, 2, 0, 1, 2])), r"train labels span -1..2; they must lie in \[0, 3\)"),
        (dict(x_test=np.zeros((3, 5))), r"training samples have shape \(2,\) but test samples \(5,\)"),
        (dict(y_train=np.array([0, 2, 2, 0, 4, 2]), classes=5), r"class\(es\) 1, 3 of 5 have no training sample"),
        (dict(x_test=np.zeros((0, 2)), y_test=np.zeros(0, int)), "the test part is empty"),
        (dict(y_train=np.array([0, 1, 2])), r"train: 6 samples but labels of shape \(3,\)"),
        (dict(y_train=np.array([0, 1.5, 2, 0, 1, 2])), "train: labels are float64 such as 1.5, not integers"),
        (dict(x_train=np.zeros((6, 2), np.int64)), "train inputs are int64; expected uint8 images or float values"),
        (dict(x_train=np.zeros((6, 1, 1, 2, 2))), r"train inputs have shape \(6, 1, 1, 2, 2\); expected images"),
        (
            dict(x_train=np.full((6, 1, 2, 2), 2.0), x_test=np.zeros((3, 1, 2, 2))),
            r"float images span 2..2; scale them to \[0, 1\]",
        ),
        (dict(classes=0), "classes must be a positive integer, got 0"),
    ],
)
def test_validate_refuses(changes, message):
    """Every check names the dataset and its source, the part, and what was found."""
    with pytest.raises(SourceError, match=message) as caught:
        validate(arrays(**changes), name="mine")
    assert str(caught.value).startswith("dataset 'mine' (a test)") and "\n" not in str(caught.value)


def test_source_error_is_a_usage_error():
    """The command line prints SourceError in one line and exits 2, as every UsageError."""
    assert issubclass(SourceError, UsageError) and issubclass(SourceError, ValueError)
