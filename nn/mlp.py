"""The scalar path: ``Neuron``, ``Layer``, ``MLP`` built from ``engine.Value`` gates.

A neuron is the lecture's weighted sum and activation::

    z = w1 x1 + ... + wn xn + b      (one mul gate per weight, one n-ary adder)
    out = phi(z)                      (relu, sigmoid, tanh, leaky_relu or linear)

Calling a module records which neuron / layer made each node
(``engine.scope``): neuron j of layer i makes nodes under
``layers.i.neurons.j``, the same prefix as its parameters' names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from ..engine import Value, scope, sum_values
from .init import check_init, draw_weights, make_draw
from .module import Module, check_size, config_size, conversion

Activation = Callable[[Value], Value]

ACTIVATIONS: dict[str, Activation] = {
    "relu": Value.relu,
    "sigmoid": Value.sigmoid,
    "tanh": Value.tanh,
    "leaky_relu": Value.leaky_relu,  # slope 0.01
    "linear": lambda z: z,
}


def check_activation(activation: str | None) -> str:
    """The activation's name (``None`` means ``"linear"``), or ValueError listing the choices."""
    if activation is None:
        return "linear"
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return activation


def as_inputs(x: Any, nin: int, who: str) -> list[Value]:
    """Check one input vector (length ``nin``, numbers or Values) and make it Values.

    Numbers become leaf Values labelled ``x1``, ``x2``, ... once, so every
    neuron of the first layer shares them (their fan-out is a gradient adder).
    """
    if isinstance(x, (str, bytes, Mapping)) or not hasattr(x, "__len__"):
        raise TypeError(f"{who} expects a list of {nin} numbers, got {type(x).__name__}: {x!r:.60}")
    if len(x) != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {len(x)}")
    out: list[Value] = []
    for i, xi in enumerate(x):
        if type(xi) is Value:
            out.append(xi)
            continue
        if isinstance(xi, bool) or not isinstance(xi, Real):
            raise TypeError(f"{who}: input {i} is not a number: {type(xi).__name__} {xi!r:.60}")
        xi = float(xi)
        if not math.isfinite(xi):
            raise ValueError(f"{who}: input {i} is {xi!r}; inputs must be finite")
        out.append(Value(xi, f"x{i + 1}"))
    return out


class Neuron(Module):
    """One unit: out = phi(sum_i w_i x_i + b).

    ``Neuron(nin, activation="relu", init="uniform", seed=None, rng=None)``;
    weights ``w`` (a list of Values ``w.0 ... w.{nin-1}``) drawn by ``init``,
    bias ``b`` starts at 0.  ``fan_out`` only matters for ``init="xavier"``.
    """

    def __init__(
        self,
        nin: int,
        activation: str | None = "relu",
        init: str = "uniform",
        seed: int | None = None,
        rng: Any = None,
        fan_out: int = 1,
    ) -> None:
        self.nin = check_size("nin", nin)
        self.activation = check_activation(activation)
        self.init = check_init(init)
        draw = make_draw(seed, rng)
        self.w = [Value(wi, f"w{i + 1}") for i, wi in enumerate(draw_weights(draw, init, nin, fan_out))]
        self.b = Value(0.0, "b")
        self._phi = ACTIVATIONS[self.activation]

    def forward(self, x: Sequence[Value]) -> Value:
        """phi(w . x + b) on checked inputs: mul gates, one adder, the activation gate."""
        products = [wi * xi for wi, xi in zip(self.w, x)]
        products.append(self.b)
        return self._phi(sum_values(products))

    def __call__(self, x: Sequence[Any]) -> Value:
        """The neuron's output Value for one input vector (numbers or Values)."""
        return self.forward(as_inputs(x, self.nin, "Neuron"))

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """nin weights and one bias."""
        return config_size(config, "nin") + 1

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {"nin": self.nin, "activation": self.activation, "init": self.init}


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs.

    Called with one input vector it returns a list of ``nout`` Values (one
    Value when ``nout == 1``).  Neuron j makes its nodes in scope ``neurons.j``.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | None = "relu",
        init: str = "uniform",
        seed: int | None = None,
        rng: Any = None,
    ) -> None:
        self.nin = check_size("nin", nin)
        self.nout = check_size("nout", nout)
        self.activation = check_activation(activation)
        self.init = check_init(init)
        draw = make_draw(seed, rng)
        self.neurons = [Neuron(nin, self.activation, init, rng=draw, fan_out=nout) for _ in range(nout)]
        self._scopes = [f"neurons.{j}" for j in range(nout)]

    def forward(self, x: Sequence[Value]) -> list[Value]:
        """Every neuron's output on checked inputs, each under its own scope."""
        out = []
        for name, n in zip(self._scopes, self.neurons):
            with scope(name):
                out.append(n.forward(x))
        return out

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        """The layer's outputs for one input vector (a single Value if ``nout == 1``)."""
        out = self.forward(as_inputs(x, self.nin, "Layer"))
        return out[0] if len(out) == 1 else out

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """nout neurons of nin weights and a bias."""
        return config_size(config, "nout") * (config_size(config, "nin") + 1)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation, "init": self.init}

    def extra_repr(self) -> str:
        return f"{self.nin} -> {self.nout}, {self.activation}"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(nin, nouts, activation="relu", output_activation=None)``.

    Layer i maps ``([nin] + nouts)[i]`` inputs to ``nouts[i]`` outputs; hidden
    layers use ``activation``, the last one ``output_activation`` (``None`` =
    linear, as micrograd).  ``MLP(2, [16, 16, 1])`` has 337 parameters.
    Called with one input vector it returns a Value (one output) or a list.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | None = "relu",
        output_activation: str | None = None,
        init: str = "uniform",
        seed: int | None = None,
        rng: Any = None,
    ) -> None:
        self.nin = check_size("nin", nin)
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence):
            raise TypeError(f"nouts must be a list of layer sizes, got {type(nouts).__name__}: {nouts!r:.60}")
        if not nouts:
            raise ValueError("nouts must name at least one layer size, got []")
        self.nouts = [check_size(f"nouts[{i}]", n) for i, n in enumerate(nouts)]
        self.activation = check_activation(activation)
        self.output_activation = check_activation(output_activation)
        self.init = check_init(init)
        draw = make_draw(seed, rng)
        sizes = [nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], self.output_activation if i == last else self.activation, init, rng=draw)
            for i in range(len(self.nouts))
        ]
        self._scopes = [f"layers.{i}" for i in range(len(self.layers))]

    @property
    def nout(self) -> int:
        """Number of outputs (the last layer's size)."""
        return self.nouts[-1]

    def forward(self, x: Sequence[Value]) -> list[Value]:
        """All outputs as a list, on checked inputs; layer i under scope ``layers.i``."""
        for name, layer in zip(self._scopes, self.layers):
            with scope(name):
                x = layer.forward(x)
        return list(x)

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        """The network's output for one input vector: a Value, or a list if ``nouts[-1] > 1``."""
        out = self.forward(as_inputs(x, self.nin, "MLP"))
        return out[0] if len(out) == 1 else out

    @classmethod
    def count_parameters(cls, config: Any) -> int:
        """Each layer's nout x (nin + 1), with nin the size before it."""
        nouts = config.get("nouts")
        if not isinstance(nouts, list):
            raise ValueError(f"config.nouts must be a list of layer sizes, got {nouts!r:.60}")
        sizes = [config_size(config, "nin"), *(config_size({"nouts": n}, "nouts") for n in nouts)]
        return sum(b * (a + 1) for a, b in zip(sizes, sizes[1:]))

    def config(self) -> dict[str, Any]:
        """Constructor arguments (for save/load)."""
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
        }

    # ------------------------------------------------------------ interop
    def to_sequential(self, dtype: str = "float64") -> Module:
        """The equivalent tensor ``nn.Sequential`` with the same weights (see :func:`nn.convert.mlp_to_sequential`)."""
        return conversion("mlp_to_sequential")(self, dtype)  # type: ignore[no-any-return]

    def to_torch(self) -> Any:
        """The equivalent ``torch.nn.Sequential`` with the same weights, float64 (needs torch)."""
        return conversion("to_torch")(self)

    def __repr__(self) -> str:
        lines = [f"MLP({self.nin} -> {' -> '.join(map(str, self.nouts))}, {self.num_parameters()} parameters)"]
        for i, layer in enumerate(self.layers):
            lines.append(f"  (layers.{i}): {layer!r}")
        return "\n".join(lines)
