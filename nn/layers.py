"""The tensor path's modules: ``Linear``, ``Sequential``, activations, ``Embedding``.

Each parameter is one ``engine.Tensor`` (a whole weight matrix), so a batch
goes through a layer as one matrix product, and backward computes the
lecture's matrix form ``dW = delta x^T`` in one gate::

    net = Sequential(Linear(784, 100), ReLU(), Linear(100, 10))
    loss = cross_entropy(net(X_batch), y_batch)      # X_batch: (n, 784)
    loss.backward()                                  # fills every weight's .grad

They are ``nn.Module`` s: ``parameters()``, ``named_parameters()``
(``layers.0.weight``), ``state_dict``, ``save`` / ``load`` and the optimizers
of ``nn.optim`` work on them unchanged.  Layer i of a ``Sequential`` makes its
nodes in scope ``layers.i`` (the prefix of its parameters' names).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..engine import Tensor, linear, no_grad, scope
from ..engine.tensor import to_array
from .init import check_init
from .module import Module, check_size, config_size, conversion, encoded_count
from .tensor_losses import binary_cross_entropy, hinge, mse  # their home; kept here under their old names

_DTYPES = ("float64", "float32")


def _check_dtype(dtype: Any) -> str:
    """``'float64'`` or ``'float32'`` (a name or a numpy dtype), else ``ValueError``."""
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = None
    if name not in _DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return name


def numpy_rng(seed: int | None = None, rng: Any = None) -> np.random.Generator:
    """A numpy Generator for ``seed=`` / ``rng=`` (numpy or ``random.Random``); neither: the
    global ``random`` stream, so ``random.seed(...)`` makes a model reproducible."""
    if seed is not None and rng is not None:
        raise ValueError("give seed= or rng=, not both")
    if rng is not None:
        if isinstance(rng, np.random.Generator):
            return rng
        if isinstance(rng, np.random.RandomState):
            return np.random.default_rng(rng.randint(0, 2**63 - 1, dtype=np.int64))
        if isinstance(rng, random.Random):
            return np.random.default_rng(rng.getrandbits(64))
        raise TypeError(f"rng must be a random.Random or a numpy Generator/RandomState, got {type(rng).__name__}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
        return np.random.default_rng(seed)
    return np.random.default_rng(random.getrandbits(64))


def draw_matrix(gen: np.random.Generator, init: str, nout: int, nin: int) -> np.ndarray:
    """A (nout, nin) weight matrix under ``nn.init``'s schemes (uniform, xavier, he)."""
    if init == "uniform":
        return gen.uniform(-1.0, 1.0, size=(nout, nin))
    if init == "xavier":
        a = math.sqrt(6.0 / (nin + nout))
        return gen.uniform(-a, a, size=(nout, nin))
    return gen.normal(0.0, math.sqrt(2.0 / nin), size=(nout, nin))  # he


def _input(x: Any) -> Tensor:
    return x if type(x) is Tensor else Tensor(x)


class Linear(Module):
    """``y = x W^T + b``: ``Linear(nin, nout, bias=True, init="xavier", seed=None, rng=None, dtype="float64")``.

    ``weight`` is a (nout, nin) Tensor (row j = neuron j's weights, as the
    lecture's ``W x`` and as PyTorch), ``bias`` a (nout,) Tensor starting at 0.
    Input: (..., nin); output (..., nout).  ``init``: "uniform" (U(-1, 1)),
    "xavier" (Glorot, for sigmoid / tanh) or "he" (Kaiming, for ReLU).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        init: str = "xavier",
        seed: int | None = None,
        rng: Any = None,
        dtype: str = "float64",
    ) -> None:
        self.nin = check_size("nin", nin)
        self.nout = check_size("nout", nout)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.init = check_init(init)
        self.dtype = _check_dtype(dtype)
        W = draw_matrix(numpy_rng(seed, rng), init, nout, nin).astype(self.dtype)
        self.weight = Tensor(W, requires_grad=True, label="weight")
        self.bias = Tensor(np.zeros(nout, dtype=self.dtype), requires_grad=True, label="bias") if bias else None

    def __call__(self, x: Any) -> Tensor:
        """``x W^T + b`` for ``x`` of shape (..., nin): one linear gate."""
        return linear(x if type(x) is Tensor else Tensor(x), self.weight, self.bias)

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """nout x nin weights, plus nout biases unless ``bias`` is false."""
        nin, nout = config_size(config, "nin"), config_size(config, "nout")
        return nout * nin + (nout if config.get("bias", True) else 0)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {"nin": self.nin, "nout": self.nout, "bias": self.bias is not None,
                "init": self.init, "dtype": self.dtype}

    def extra_repr(self) -> str:
        return f"{self.nin} -> {self.nout}{'' if self.bias is not None else ', bias=False'}"


class _Activation(Module):
    """An element-wise gate as a module (no parameters)."""

    def __call__(self, x: Any) -> Tensor:
        return self.forward(_input(x))

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Constructor arguments (none)."""
        return {}

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """0: an activation has no parameters."""
        return 0


class ReLU(_Activation):
    """max(0, x) element-wise: the gradient switch."""

    def forward(self, x: Tensor) -> Tensor:
        """relu(x); local gradient 1 where x > 0, else 0."""
        return x.relu()


class Sigmoid(_Activation):
    """σ(x) = 1 / (1 + e^-x) element-wise; local gradient σ(1 - σ)."""

    def forward(self, x: Tensor) -> Tensor:
        """σ(x)."""
        return x.sigmoid()


class Tanh(_Activation):
    """tanh(x) element-wise; local gradient 1 - tanh^2."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh(x)."""
        return x.tanh()


class LeakyReLU(_Activation):
    """x if x > 0 else slope * x: ``LeakyReLU(slope=0.01)``."""

    def __init__(self, slope: float = 0.01) -> None:
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise TypeError(f"slope must be a number, got {type(slope).__name__}")
        if not math.isfinite(slope):
            raise ValueError(f"slope must be finite, got {slope!r}")
        self.slope = float(slope)

    def forward(self, x: Tensor) -> Tensor:
        """leaky_relu(x, slope)."""
        return x.leaky_relu(self.slope)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {"slope": self.slope}


class Flatten(_Activation):
    """(n, d1, d2, ...) -> (n, d1 * d2 * ...): e.g. a window of word vectors into one row."""

    def forward(self, x: Tensor) -> Tensor:
        """x reshaped to (n, -1)."""
        if x.ndim < 2:
            raise ValueError(f"Flatten needs a batch of at least 2 axes, got shape {x.shape}")
        return x.reshape(x.shape[0], -1)


class Embedding(Module):
    """A lookup table of word vectors: ``Embedding(num, dim, seed=None, rng=None, dtype="float64")``.

    ``weight`` is (num, dim), drawn from N(0, 1); calling it with integer ids
    of any shape returns their rows, shape (*ids.shape, dim).  Backward
    scatters the upstream into the picked rows (a word used twice gets both).
    Seed 002's window classifier: ``Sequential(Embedding(V, d), Flatten(), Linear(5 d, h), ...)``.
    """

    def __init__(
        self, num: int, dim: int, seed: int | None = None, rng: Any = None, dtype: str = "float64"
    ) -> None:
        self.num = check_size("num", num)
        self.dim = check_size("dim", dim)
        self.dtype = _check_dtype(dtype)
        W = numpy_rng(seed, rng).normal(0.0, 1.0, size=(num, dim)).astype(self.dtype)
        self.weight = Tensor(W, requires_grad=True, label="embedding")

    def __call__(self, ids: Any) -> Tensor:
        """The rows of ``weight`` for integer ``ids`` (``IndexError`` when out of range)."""
        raw = ids.data if isinstance(ids, Tensor) else ids
        idx = np.asarray(raw)
        if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
            idx = idx.astype(np.intp)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding needs integer ids, got {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num):
            bad = idx[(idx < 0) | (idx >= self.num)].flat[0]
            raise IndexError(f"Embedding: id {int(bad)} is out of range [0, {self.num})")
        return self.weight[idx]

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """num x dim vector entries."""
        return config_size(config, "num") * config_size(config, "dim")

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {"num": self.num, "dim": self.dim, "dtype": self.dtype}

    def extra_repr(self) -> str:
        return f"{self.num} x {self.dim}"


def _layers(config: Any) -> list[Any]:
    """A Sequential's saved ``config["layers"]`` (``ValueError`` if it is missing or not a list)."""
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        raise ValueError(f"config.layers must be a list of modules, got {layers!r:.60}")
    return layers


class Sequential(Module):
    """Modules applied in order: ``Sequential(Linear(784, 100), ReLU(), Linear(100, 10))``.

    ``layers`` holds them; layer i's parameters are named ``layers.i.weight``
    and its nodes are made in scope ``layers.i``.  Indexing, ``len`` and
    iteration work as on a list.
    """

    def __init__(self, *layers: Module) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not an nn.Module")
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        self.layers = list(layers)
        self._scopes = [f"layers.{i}" for i in range(len(self.layers))]

    @property
    def nin(self) -> int | None:
        """Input size of the first layer that has one (None if unknown)."""
        for layer in self.layers:
            if isinstance(layer, Embedding):
                return None
            if hasattr(layer, "nin"):
                return layer.nin  # type: ignore[no-any-return]
        return None

    @property
    def nout(self) -> int | None:
        """Output size of the last layer that has one (None if unknown)."""
        for layer in reversed(self.layers):
            if hasattr(layer, "nout"):
                return layer.nout  # type: ignore[no-any-return]
            if isinstance(layer, Embedding):
                return None
        return None

    def __call__(self, x: Any) -> Tensor:
        """Feed ``x`` (a Tensor, an array or nested lists) through every layer in turn."""
        if not isinstance(x, Tensor) and not isinstance(self.layers[0], Embedding):
            x = Tensor(x)
        for name, layer in zip(self._scopes, self.layers):
            with scope(name):
                x = layer(x)
        return x  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def config(self) -> dict[str, Any]:
        """The layers (for save/load)."""
        return {"layers": list(self.layers)}

    @classmethod
    def from_config(cls, config: Any) -> Sequential:
        """Rebuild from :meth:`config` output."""
        return cls(*_layers(config))

    @classmethod
    def count_parameters(cls, config: Any) -> int | None:
        """The sum over the layers (None if one of them cannot tell)."""
        counts = [encoded_count(entry) for entry in _layers(config)]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return f"{len(self.layers)} layers"

    def __repr__(self) -> str:
        lines = [f"Sequential({self.num_parameters()} parameters)"]
        lines += [f"  (layers.{i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)

    # ------------------------------------------------------------ interop
    def to_torch(self) -> Any:
        """The equivalent ``torch.nn.Sequential`` with the same weights (needs torch)."""
        return conversion("to_torch")(self)

    @classmethod
    def from_torch(cls, module: Any, dtype: str | None = None) -> Sequential:
        """Import a torch stack of Linear and activation layers (see :func:`nn.convert.from_torch`)."""
        return conversion("from_torch")(module, dtype)  # type: ignore[no-any-return]

    def to_mlp(self) -> Module:
        """The equivalent scalar ``nn.MLP`` (see :func:`nn.convert.sequential_to_mlp`)."""
        return conversion("sequential_to_mlp")(self)  # type: ignore[no-any-return]

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Class predictions (argmax of the outputs) for the rows of ``X``, without a graph."""
        return np.concatenate([out.argmax(axis=-1) for out in self.outputs(X, batch_size)])

    def outputs(self, X: Any, batch_size: int = 1024) -> Iterator[np.ndarray]:
        """The output arrays for ``X`` in batches of ``batch_size`` rows, without a graph."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        X = to_array(X) if not isinstance(self.layers[0], Embedding) else np.asarray(X)
        with no_grad():
            for b in range(0, len(X), batch_size):
                yield self(X[b : b + batch_size]).data


def takes_ids(model: Any) -> bool:
    """Whether ``model`` reads integer ids (an ``Embedding``, or a ``Sequential`` starting with one)."""
    if isinstance(model, Sequential):
        return takes_ids(model.layers[0])
    return isinstance(model, Embedding)


__all__ = [
    "Embedding",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "binary_cross_entropy",
    "hinge",
    "mse",
    "takes_ids",
]
