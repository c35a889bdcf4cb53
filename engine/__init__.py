"""tracegrad's autodiff core: ``Value``, the op table, backward, checks.

    downstream gradient = local gradient x upstream gradient

``engine`` imports nothing from ``nn`` or ``viz``.
"""

from .backward import Edge, Step, backward, backward_schedule, topological_order, zero_grad
from .check import GradcheckError, GradcheckResult, gradcheck, numerical_grad
from .ops import OPS, Op, gate_rule
from .state import current_scope, detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad, scope
from .value import Value, apply, sum_values

__all__ = [
    "OPS",
    "Edge",
    "GradcheckError",
    "GradcheckResult",
    "Op",
    "Step",
    "Value",
    "apply",
    "backward",
    "backward_schedule",
    "current_scope",
    "detect_anomaly",
    "gate_rule",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "numerical_grad",
    "scope",
    "sum_values",
    "topological_order",
    "zero_grad",
]
