"""Moving a network between forms: scalar ``MLP`` <-> tensor ``Sequential`` <-> PyTorch.

* :func:`mlp_to_sequential` / :func:`sequential_to_mlp`: the same weights,
  neuron j's weights becoming row j of the layer's weight matrix (and back);
* :func:`to_torch`: an ``MLP`` or ``Sequential`` as the equivalent
  ``torch.nn.Sequential`` (where users go when they outgrow tracegrad);
* :func:`from_torch`: a torch stack of ``Linear`` and activation layers as a ``Sequential``.

torch is optional: without it, :func:`to_torch` / :func:`from_torch` raise
``ImportError`` with the install hint.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .layers import Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .mlp import MLP
from .module import Module

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


def sequential_to_mlp(seq: Sequential) -> MLP:
    """The scalar ``MLP`` with the same weights as ``seq``.

    ``seq`` must be ``Linear`` layers (with bias), each followed by at most one
    activation (ReLU, Sigmoid, Tanh, LeakyReLU(0.01)), the hidden layers
    sharing one activation; otherwise ``ValueError`` says what does not fit.
    """
    if not isinstance(seq, Sequential):
        raise TypeError(f"sequential_to_mlp needs an nn.Sequential, got {type(seq).__name__}")
    linears: list[Linear] = []
    acts: list[str] = []
    for i, layer in enumerate(seq.layers):
        if isinstance(layer, Linear):
            if layer.bias is None:
                raise ValueError(f"layer {i}: an MLP neuron always has a bias; Linear(bias=False) does not fit")
            if linears and len(acts) < len(linears):
                acts.append("linear")
            if linears and layer.nin != linears[-1].nout:
                raise ValueError(f"layer {i}: Linear expects {layer.nin} inputs after {linears[-1].nout} outputs")
            linears.append(layer)
            continue
        name = _activation_name(layer)
        if name is None:
            raise ValueError(f"layer {i} ({type(layer).__name__}) has no scalar MLP equivalent")
        if not linears or len(acts) == len(linears):
            raise ValueError(f"layer {i}: an activation must follow a Linear layer (one per Linear)")
        acts.append(name)
    if not linears:
        raise ValueError("sequential_to_mlp: the Sequential has no Linear layer")
    if len(acts) < len(linears):
        acts.append("linear")
    hidden = set(acts[:-1])
    if len(hidden) > 1:
        raise ValueError(f"an MLP's hidden layers share one activation; got {sorted(hidden)}")
    activation = acts[0] if len(acts) > 1 else "relu"
    mlp = MLP(linears[0].nin, [lin.nout for lin in linears], activation=activation,
              output_activation=acts[-1], seed=0)
    for layer, lin in zip(mlp.layers, linears):
        W = lin.weight.data
        assert lin.bias is not None
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                w.data = float(W[j, k])
            neuron.b.data = float(lin.bias.data[j])
    return mlp


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
    tnn = torch.nn
    out = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear):
            dtype = torch.float32 if layer.dtype == "float32" else torch.float64
            t = tnn.Linear(layer.nin, layer.nout, bias=layer.bias is not None, dtype=dtype)
            with torch.no_grad():
                t.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
                if layer.bias is not None:
                    t.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
            out.append(t)
        elif type(layer) is ReLU:
            out.append(tnn.ReLU())
        elif type(layer) is Sigmoid:
            out.append(tnn.Sigmoid())
        elif type(layer) is Tanh:
            out.append(tnn.Tanh())
        elif isinstance(layer, LeakyReLU):
            out.append(tnn.LeakyReLU(layer.slope))
        elif isinstance(layer, Flatten):
            out.append(tnn.Flatten())
        else:
            raise ValueError(f"to_torch: layer {i} ({type(layer).__name__}) has no converter")
    return tnn.Sequential(*out)


def from_torch(module: Any, dtype: str | None = None) -> Sequential:
    """A ``Sequential`` with the weights of a torch ``Sequential`` (or one layer).

    Supported: ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``,
    ``Flatten``, ``Identity`` (skipped) and nested ``Sequential``.  ``dtype``:
    "float64" or "float32" (default: the torch weights' own dtype).  Another
    layer type raises ``ValueError`` naming it.
    """
    torch = _torch()
    tnn = torch.nn
    if not isinstance(module, tnn.Module):
        raise TypeError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    flat: list[Any] = []

    def walk(m: Any) -> None:
        if isinstance(m, tnn.Sequential):
            for child in m:
                walk(child)
        else:
            flat.append(m)

    walk(module)
    layers: list[Module] = []
    for i, m in enumerate(flat):
        if isinstance(m, tnn.Linear):
            W = m.weight.detach().cpu().numpy()
            want = dtype or ("float32" if W.dtype == np.float32 else "float64")
            lin = Linear(m.in_features, m.out_features, bias=m.bias is not None, seed=0, dtype=want)
            lin.weight.data[...] = W
            if m.bias is not None:
                assert lin.bias is not None
                lin.bias.data[...] = m.bias.detach().cpu().numpy()
            layers.append(lin)
        elif isinstance(m, tnn.ReLU):
            layers.append(ReLU())
        elif isinstance(m, tnn.Sigmoid):
            layers.append(Sigmoid())
        elif isinstance(m, tnn.Tanh):
            layers.append(Tanh())
        elif isinstance(m, tnn.LeakyReLU):
            layers.append(LeakyReLU(m.negative_slope))
        elif isinstance(m, tnn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError(f"from_torch: layer {i} Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) "
                                 "is not supported (only the default (1, -1))")
            layers.append(Flatten())
        elif isinstance(m, tnn.Identity):
            continue
        else:
            raise ValueError(
                f"from_torch: layer {i} is a torch {type(m).__name__}; supported: Linear, ReLU, "
                "Sigmoid, Tanh, LeakyReLU, Flatten, Identity, Sequential"
            )
    if not layers:
        raise ValueError("from_torch: the module has no layers to import")
    return Sequential(*layers)

