"""tracegrad: a scalar reverse-mode autodiff engine with graph tracing, for learning backprop.

The distribution is one import name with three packages::

    tracegrad.engine   Value, Tensor, the op table, backward, grad, trace
    tracegrad.nn       modules, losses, optimizers, fit, data
    tracegrad.viz      graphs, gradient flow, networks, the stepper, plots

This file becomes ``tracegrad/__init__.py`` at build time (``pyproject.toml``
maps the folders ``engine/``, ``nn/`` and ``viz/`` under this package); it
imports none of them, so ``import tracegrad`` stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("tracegrad")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
