"""Moving a network between forms: scalar ``MLP`` <-> tensor ``Sequential`` <-> PyTorch.

* :func:`mlp_to_sequential` / :func:`sequential_to_mlp`: the same weights,
  neuron j's weights becoming row j of the layer's weight matrix (and back);
* :func:`to_torch`: an ``MLP`` or ``Sequential`` as the equivalent
  ``torch.nn.Sequential`` (where users go when they outgrow tracegrad);
* :func:`from_torch`: a torch stack of ``Linear`` and activation layers as a ``Sequential``.

torch is optional: without it, :func:`to_torch` / :func:`from_torch` raise
``ImportError`` with the install hint.  The models' own methods
(``mlp.to_sequential()``, ``seq.to_mlp()``, ``seq.to_torch()``,
``Sequential.from_torch(m)``) call these functions, registered in
``nn.module`` (``register_conversion``), because this module sits above both
kinds of model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .mlp import MLP
from .module import Module, register_conversion

_ACTIVATION_MODULES: dict[str, type[Module]] = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU,
}
_SCALAR_LEAKY_SLOPE = 0.01  # nn.mlp's "leaky_relu" is Value.leaky_relu with its default slope


def _activation_module(name: str) -> Module | None:
    if name == "linear":
        return None
    if name == "leaky_relu":
        return LeakyReLU(_SCALAR_LEAKY_SLOPE)
    return _ACTIVATION_MODULES[name]()


def _activation_name(layer: Module) -> str | None:
    if isinstance(layer, LeakyReLU):
        return "leaky_relu" if layer.slope == _SCALAR_LEAKY_SLOPE else None
    for name, kind in _ACTIVATION_MODULES.items():
        if type(layer) is kind:
            return name
    return None


@register_conversion
def mlp_to_sequential(mlp: MLP, dtype: str = "float64") -> Sequential:
    """The tensor ``Sequential`` computing exactly what the scalar ``mlp`` computes.

    Layer i becomes ``Linear(nin, nout)`` with ``weight[j, k] = layers[i].neurons[j].w[k]``
    and ``bias[j] = layers[i].neurons[j].b``, followed by its activation module.
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp_to_sequential needs an nn.MLP, got {type(mlp).__name__}")
    modules: list[Module] = []
    for layer in mlp.layers:
        lin = Linear(layer.nin, layer.nout, init=mlp.init, seed=0, dtype=dtype)
        lin.weight.data[...] = [[w.data for w in n.w] for n in layer.neurons]
        assert lin.bias is not None
        lin.bias.data[...] = [n.b.data for n in layer.neurons]
        modules.append(lin)
        act = _activation_module(layer.activation)
        if act is not None:
            modules.append(act)
    return Sequential(*modules)


@register_conversion
def sequential_to_mlp(seq: Sequential) -> MLP:
    """The scalar ``MLP`` with the same weights as ``seq``.

    ``seq`` must be ``Linear`` layers (with bias), each followed by at most one
    activation (ReLU, Sigmoid, Tanh, LeakyReLU(0.01)), the hidden layers
    sharing one activation; otherwise ``ValueError`` says what does not fit.
    """
    if not isinstance(seq, Sequential):
        raise TypeError(f"sequential_to_mlp needs an nn.Sequential, got {type(seq).__name__}")
    linears, acts = _mlp_plan(seq)
    hidden = set(acts[:-1])
    if len(hidden) > 1:
        raise ValueError(f"an MLP's hidden layers share one activation; got {sorted(hidden)}")
    activation = acts[0] if len(acts) > 1 else "relu"
    mlp = MLP(linears[0].nin, [lin.nout for lin in linears], activation=activation,
              output_activation=acts[-1], seed=0)
    for layer, lin in zip(mlp.layers, linears):
        _copy_weights(lin, layer)
    return mlp


def _mlp_plan(seq: Sequential) -> tuple[list[Linear], list[str]]:
    """The Linear layers of ``seq`` and the activation after each ("linear" when none follows)."""
    linears: list[Linear] = []
    acts: list[str] = []
    for i, layer in enumerate(seq.layers):
        if isinstance(layer, Linear):
            _check_next_linear(i, layer, linears[-1] if linears else None)
            if len(acts) < len(linears):
                acts.append("linear")
            linears.append(layer)
        else:
            acts.append(_activation_after(i, layer, len(linears), len(acts)))
    if not linears:
        raise ValueError("sequential_to_mlp: the Sequential has no Linear layer")
    if len(acts) < len(linears):
        acts.append("linear")
    return linears, acts


def _check_next_linear(i: int, layer: Linear, previous: Linear | None) -> None:
    if layer.bias is None:
        raise ValueError(f"layer {i}: an MLP neuron always has a bias; Linear(bias=False) does not fit")
    if previous is not None and layer.nin != previous.nout:
        raise ValueError(f"layer {i}: Linear expects {layer.nin} inputs after {previous.nout} outputs")


def _activation_after(i: int, layer: Module, n_linears: int, n_acts: int) -> str:
    name = _activation_name(layer)
    if name is None:
        raise ValueError(f"layer {i} ({type(layer).__name__}) has no scalar MLP equivalent")
    if not n_linears or n_acts == n_linears:
        raise ValueError(f"layer {i}: an activation must follow a Linear layer (one per Linear)")
    return name


def _copy_weights(lin: Linear, layer: Any) -> None:
    """Row j of ``lin``'s weight (and bias j) into neuron j of the scalar ``layer``."""
    W = lin.weight.data
    assert lin.bias is not None
    for j, neuron in enumerate(layer.neurons):
        for k, w in enumerate(neuron.w):
            w.data = float(W[j, k])
        neuron.b.data = float(lin.bias.data[j])


# ---------------------------------------------------------------- PyTorch


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            "this needs PyTorch, which is optional for tracegrad: pip install torch "
            "(or pip install 'tracegrad[bench]')"
        ) from None
    return torch


@register_conversion
def to_torch(model: Module) -> Any:
    """The equivalent ``torch.nn.Sequential`` (float64 unless the weights are float32).

    ``model`` is an ``nn.MLP`` or an ``nn.Sequential`` of Linear, activation
    and Flatten layers; weights are copied (changing one does not change the other).
    """
    torch = _torch()
    if isinstance(model, MLP):
        model = mlp_to_sequential(model)
    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch needs an nn.MLP or nn.Sequential, got {type(model).__name__}")
    return torch.nn.Sequential(*[_torch_layer(torch, layer, i) for i, layer in enumerate(model.layers)])


_TORCH_ACTIVATIONS: tuple[tuple[type[Module], str], ...] = ((ReLU, "ReLU"), (Sigmoid, "Sigmoid"), (Tanh, "Tanh"))


def _torch_layer(torch: Any, layer: Module, i: int) -> Any:
    tnn = torch.nn
    if isinstance(layer, Linear):
        return _torch_linear(torch, layer)
    for kind, name in _TORCH_ACTIVATIONS:
        if type(layer) is kind:
            return getattr(tnn, name)()
    if isinstance(layer, LeakyReLU):
        return tnn.LeakyReLU(layer.slope)
    if isinstance(layer, Flatten):
        return tnn.Flatten()
    raise ValueError(f"to_torch: layer {i} ({type(layer).__name__}) has no converter")


def _torch_linear(torch: Any, layer: Linear) -> Any:
    dtype = torch.float32 if layer.dtype == "float32" else torch.float64
    t = torch.nn.Linear(layer.nin, layer.nout, bias=layer.bias is not None, dtype=dtype)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
        if layer.bias is not None:
            t.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return t


@register_conversion
def from_torch(module: Any, dtype: str | None = None) -> Sequential:
    """A ``Sequential`` with the weights of a torch ``Sequential`` (or one layer).

    Supported: ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``,
    ``Flatten``, ``Identity`` (skipped) and nested ``Sequential``.  ``dtype``:
    "float64" or "float32" (default: the torch weights' own dtype).  Another
    layer type raises ``ValueError`` naming it.
    """
    tnn = _torch().nn
    if not isinstance(module, tnn.Module):
        raise TypeError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    layers: list[Module] = []
    for i, m in enumerate(_torch_leaves(tnn, module)):
        layer = _from_torch_layer(tnn, m, i, dtype)
        if layer is not None:
            layers.append(layer)
    if not layers:
        raise ValueError("from_torch: the module has no layers to import")
    return Sequential(*layers)


def _torch_leaves(tnn: Any, m: Any) -> list[Any]:
    """The layers of a torch module, nested ``Sequential`` s flattened, in order."""
    if isinstance(m, tnn.Sequential):
        return [leaf for child in m for leaf in _torch_leaves(tnn, child)]
    return [m]


def _from_torch_layer(tnn: Any, m: Any, i: int, dtype: str | None) -> Module | None:
    """Layer ``i`` of the torch stack as an ``nn`` module (None for an Identity)."""
    if isinstance(m, tnn.Linear):
        return _linear_from_torch(m, dtype)
    for kind, name in _TORCH_ACTIVATIONS:
        if isinstance(m, getattr(tnn, name)):
            return kind()
    if isinstance(m, tnn.LeakyReLU):
        return LeakyReLU(m.negative_slope)
    if isinstance(m, tnn.Flatten):
        if (m.start_dim, m.end_dim) != (1, -1):
            raise ValueError(f"from_torch: layer {i} Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) "
                             "is not supported (only the default (1, -1))")
        return Flatten()
    if isinstance(m, tnn.Identity):
        return None
    raise ValueError(
        f"from_torch: layer {i} is a torch {type(m).__name__}; supported: Linear, ReLU, "
        "Sigmoid, Tanh, LeakyReLU, Flatten, Identity, Sequential"
    )


def _linear_from_torch(m: Any, dtype: str | None) -> Linear:
    W = m.weight.detach().cpu().numpy()
    want = dtype or ("float32" if W.dtype == np.float32 else "float64")
    lin = Linear(m.in_features, m.out_features, bias=m.bias is not None, seed=0, dtype=want)
    lin.weight.data[...] = W
    if m.bias is not None:
        assert lin.bias is not None
        lin.bias.data[...] = m.bias.detach().cpu().numpy()
    return lin
