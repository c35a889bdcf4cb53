"""tracegrad's autodiff core: ``Value``, ``Tensor``, the op table, backward, ``grad``, checks, trace.

    downstream gradient = local gradient x upstream gradient

``engine`` imports nothing from ``nn`` or ``viz``.
"""

from .backward import Edge, Step, backward, backward_schedule, topological_order, zero_grad
from .check import GradcheckError, GradcheckResult, gradcheck, numerical_grad
from .define import define_op
from .grad import grad
from .ops import OPS, Op, gate_rule
from .state import current_scope, detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad, scope
from .tensor import Tensor, tensor_backward
from .tensor_ops import (
    TENSOR_OPS,
    concatenate,
    cross_entropy,
    linear,
    log_softmax,
    matmul,
    maximum,
    minimum,
    softmax,
    stack,
)
from .trace import Replay, Trace, TraceMismatchError, trace
from .value import Value, apply, sum_values

__all__ = [
    "OPS",
    "Edge",
    "GradcheckError",
    "GradcheckResult",
    "Op",
    "Step",
    "TENSOR_OPS",
    "Tensor",
    "Replay",
    "Trace",
    "TraceMismatchError",
    "Value",
    "apply",
    "backward",
    "backward_schedule",
    "define_op",
    "grad",
    "concatenate",
    "cross_entropy",
    "current_scope",
    "detect_anomaly",
    "gate_rule",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "linear",
    "log_softmax",
    "matmul",
    "maximum",
    "minimum",
    "no_grad",
    "numerical_grad",
    "scope",
    "softmax",
    "stack",
    "sum_values",
    "tensor_backward",
    "topological_order",
    "trace",
    "zero_grad",
]
