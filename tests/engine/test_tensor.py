"""engine.Tensor: construction, the backprop rule on arrays, errors, no_grad, anomaly, gradcheck."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from tracegrad import engine
from tracegrad.engine import Tensor, Value
from tracegrad.engine.tensor import make_node
from tracegrad.engine.tensor_ops import TENSOR_OPS

# ---------------------------------------------------------------- construction


def test_data_becomes_float64_and_float32_stays() -> None:
    assert Tensor([1, 2, 3]).dtype == np.float64
    assert Tensor(2.5).shape == ()
    assert Tensor(np.array([True, False])).dtype == np.float64
    f32 = Tensor(np.ones(3, dtype=np.float32))
    assert f32.dtype == np.float32
    assert Tensor([1.0], dtype=np.float32).dtype == np.float32
    arr = np.ones((2, 2))
    assert Tensor(arr).data is arr  # no copy


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object(), 1], dtype=object), [1j], "text"])
def test_non_numeric_data_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="Tensor data"):
        Tensor(bad)


def test_bad_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1.0], dtype=np.int64)
    with pytest.raises(TypeError, match="label"):
        Tensor([1.0], label=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="requires_grad"):
        Tensor([1.0], requires_grad=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="combine"):
        Tensor([1.0]) + "x"  # type: ignore[operator]


def test_grad_is_none_until_backward_and_item() -> None:
    x = Tensor([[3.0]], requires_grad=True)
    assert x.grad is None and x.is_leaf()
    y = x * x
    y.backward()  # one element: the seed 1 is implicit
    assert x.grad.shape == (1, 1) and x.grad[0, 0] == 6.0
    assert y.item() == 9.0
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()
    assert bool(Tensor([2.0])) and not Tensor(0.0)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


# ---------------------------------------------------------------- the lecture's network


def test_lecture_221_network_matches_the_scalar_engine() -> None:
    """Seed 000's 2-2-1 sigmoid net, as matrices, gives the scalar engine's numbers and gradients."""
    w = [Value(v, f"w{i + 1}") for i, v in enumerate([0.7, 0.3, 0.4, 0.6, 0.55, 0.45])]
    x1, x2 = 0.5, 0.3
    h1 = (w[0] * x1 + w[2] * x2).sigmoid()
    h2 = (w[1] * x1 + w[3] * x2).sigmoid()
    c_scalar = (1.0 - (w[4] * h1 + w[5] * h2).sigmoid()) ** 2
    c_scalar.backward()

    W1 = Tensor([[0.7, 0.4], [0.3, 0.6]], requires_grad=True)  # rows: z1 = w1 x1 + w3 x2, z2 = w2 x1 + w4 x2
    W2 = Tensor([[0.55, 0.45]], requires_grad=True)
    x = Tensor([0.5, 0.3])
    z = W1 @ x
    np.testing.assert_allclose(z.data, [0.47, 0.33])
    o1 = (W2 @ z.sigmoid()).sigmoid()
    c = ((1.0 - o1) ** 2).sum()
    c.backward()
    assert abs(o1.data[0] - 0.645) < 1e-3 and abs(c.item() - 0.126) < 1e-3
    assert c.item() == pytest.approx(c_scalar.data, abs=1e-15)
    grads = [W1.grad[0, 0], W1.grad[1, 0], W1.grad[0, 1], W1.grad[1, 1], W2.grad[0, 0], W2.grad[0, 1]]
    np.testing.assert_allclose(grads, [wi.grad for wi in w], rtol=0, atol=1e-15)


def test_linear_gate_is_the_lectures_matrix_form() -> None:
    """dS/dW = delta x^T: for one sample, the weight gradient is the outer product."""
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(1, 4)))
    W = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    delta = rng.normal(size=(1, 3))
    y = engine.linear(x, W, b)
    assert y.op == "linear" and "delta" in y.op.explain
    y.backward(delta)
    np.testing.assert_allclose(W.grad, np.outer(delta[0], x.data[0]), atol=1e-15)
    np.testing.assert_allclose(b.grad, delta[0])


# ---------------------------------------------------------------- the rule on arrays


def test_elementwise_ops_come_from_the_op_table() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    assert y.op is engine.OPS["mul"] and y.op.gate == "swap multiplier"
    np.testing.assert_array_equal(y.local_grads[0], b.data)  # swap: d(ab)/da = b
    assert engine.maximum(a, b).op.gate == "gradient router"
    assert a.leaky_relu(0.2).op.arg == 0.2
    assert (a**3).op.arg == 3.0
    assert (a @ b).op is TENSOR_OPS["matmul"]


def test_broadcast_gradients_are_summed_back() -> None:
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.arange(4.0), requires_grad=True)
    c = Tensor(2.0, requires_grad=True)
    (a * b + c).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 6.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 3.0))
    assert c.grad.shape == () and float(c.grad) == 12.0


def test_fan_out_adds_and_leaves_accumulate_interior_recomputed() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    y = (h + h * x).sum()  # x used twice, h used twice: the adder
    y.backward()
    np.testing.assert_allclose(x.grad, 3.0 + 6.0 * x.data)
    first_h = h.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * (3.0 + 6.0 * x.data))  # leaves accumulate
    np.testing.assert_allclose(h.grad, first_h)  # interior recomputed
    x.zero_grad()
    assert x.grad is None


def test_leaf_grad_never_aliases_the_seed_or_an_interior_grad() -> None:
    x = Tensor(np.zeros(3), requires_grad=True)
    y = x + 1.0
    seed = np.ones(3)
    y.backward(seed)
    assert x.grad is not seed and x.grad is not y.grad
    y.backward(seed)
    np.testing.assert_array_equal(seed, np.ones(3))
    np.testing.assert_array_equal(y.grad, np.ones(3))
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0))


def test_indexing_scatters_and_repeated_indices_add_up() -> None:
    x = Tensor(np.arange(5.0), requires_grad=True)
    x[np.array([0, 0, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 0, 1, 0])
    m = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    (m[1:, ::2] * 2).sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0, 0, 0], [2, 0, 2, 0], [2, 0, 2, 0]])
    m.zero_grad()
    m[Tensor([2.0, 2.0])].sum().backward()  # an integer-valued Tensor works as an index
    np.testing.assert_array_equal(m.grad[2], [2, 2, 2, 2])
    with pytest.raises(TypeError, match="non-integer"):
        m[Tensor([0.5])]


def test_concatenate_and_stack_split_the_gradient() -> None:
    a = Tensor(np.ones((2, 2)), requires_grad=True)
    b = Tensor(np.ones((1, 2)), requires_grad=True)
    w = np.arange(6.0).reshape(3, 2)
    (engine.concatenate([a, b]) * w).sum().backward()
    np.testing.assert_array_equal(a.grad, w[:2])
    np.testing.assert_array_equal(b.grad, w[2:])
    c = Tensor(np.ones(2), requires_grad=True)
    (engine.stack([c, c * 2], axis=1) * np.array([[1.0, 10.0], [1.0, 10.0]])).sum().backward()
    np.testing.assert_array_equal(c.grad, [21.0, 21.0])
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 2\), \(1, 3\)"):
        engine.concatenate([a, Tensor(np.ones((1, 3)))])
    with pytest.raises(TypeError, match="list"):
        engine.stack(a)  # type: ignore[arg-type]


def test_max_routes_to_the_first_largest() -> None:
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    x.zero_grad()
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 0, 0]])


def test_softmax_family_is_stable_and_cross_entropy_is_fused() -> None:
    z = Tensor([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]], requires_grad=True)
    s = z.softmax()
    assert np.isfinite(s.data).all() and np.allclose(s.data.sum(axis=1), 1.0)
    ls = z.log_softmax()
    assert np.isfinite(ls.data).all() and ls.data[0, 0] == 0.0
    loss = engine.cross_entropy(z, [2, 0])
    assert loss.op.gate == "softmax cross-entropy gate" and len(loss.parents) == 1
    expected = -(ls.data[0, 2] + ls.data[1, 0]) / 2
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    onehot = np.array([[0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(z.grad, (s.data - onehot) / 2, atol=1e-15)
    total = engine.cross_entropy(z, np.array([2, 0]), reduction="sum")
    assert total.item() == pytest.approx(2 * loss.item())


def test_cross_entropy_errors_name_the_problem() -> None:
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"target class 3 is out of range \[0, 3\)"):
        engine.cross_entropy(z, [0, 3])
    with pytest.raises(ValueError, match=r"targets shape \(3,\) does not match logits rows \(2,\)"):
        engine.cross_entropy(z, [0, 1, 2])
    with pytest.raises(TypeError, match="integer class"):
        engine.cross_entropy(z, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="2-D"):
        engine.cross_entropy(Tensor(np.zeros(3)), [0])
    with pytest.raises(ValueError, match="reduction"):
        engine.cross_entropy(z, [0, 1], reduction="none")


def test_float32_stays_float32_through_forward_and_backward() -> None:
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(4, 3)).astype(np.float32))
    W = Tensor(rng.normal(size=(2, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    loss = engine.cross_entropy((engine.linear(x, W, b) * 2.0 + 1.0).relu(), [0, 1, 0, 1])
    assert loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_numpy_arrays_combine_from_either_side() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0]) - x / np.array([2.0, 2.0])
    assert type(y) is Tensor
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.5, 3.5])
    m = np.eye(2) @ x
    assert type(m) is Tensor and m.op == "matmul"


# ---------------------------------------------------------------- errors


def test_shape_mismatch_names_both_shapes_and_the_op() -> None:
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not match"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"linear: input shape \(2, 3\) does not match weight shape \(5, 4\)"):
        engine.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((5, 4))))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape shape \(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        Tensor(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(ValueError, match="not a permutation"):
        Tensor(np.ones((2, 3))).transpose(0, 0)


def test_backward_of_a_non_scalar_needs_a_gradient() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"non-scalar Tensor of shape \(2, 3\) needs an explicit gradient"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient's shape \(3,\) does not match the root's shape \(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="does not require grad"):
        Tensor([1.0]).backward()


def test_domain_errors_name_the_op_and_inputs() -> None:
    with pytest.raises(OverflowError, match="exp: exp overflows"):
        Tensor([1.0, 800.0]).exp()
    assert Tensor([-np.inf, 0.0]).exp().data[0] == 0.0
    with pytest.raises(ValueError, match=r"log: .*x \(2,\)"):
        Tensor([1.0, -1.0], label="x").log()
    with pytest.raises(ZeroDivisionError, match="div"):
        Tensor([1.0]) / Tensor([0.0])


# ---------------------------------------------------------------- state: no_grad, anomaly


def test_no_grad_records_nothing() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with engine.no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y.parents == () and y.op == ""
    z = Tensor([1.0]) * 2  # constants need no graph either
    assert not z.requires_grad and z.parents == ()


def test_scope_is_recorded() -> None:
    x = Tensor([1.0], requires_grad=True)
    with engine.scope("layers"), engine.scope("0"):
        y = x * 2
    assert y.scope == "layers.0"


def test_detect_anomaly_in_forward() -> None:
    x = Tensor([1.0, 1e200], requires_grad=True, label="x")
    with engine.detect_anomaly(), pytest.raises(FloatingPointError, match="op 'mul'.*x \\(2,\\)"):
        with np.errstate(over="ignore"):
            x * x
    with engine.detect_anomaly(), pytest.raises(FloatingPointError, match="leaf"):
        Tensor([np.nan])


def test_detect_anomaly_in_backward_changes_no_grad() -> None:
    a = Tensor([1e-300], requires_grad=True, label="a")
    y = a * Tensor([1e300]) * 1e300  # forward finite; backward 1e300 * 1e300 overflows
    assert np.isfinite(y.data).all()
    with engine.detect_anomaly(), pytest.raises(FloatingPointError, match="backward through op 'mul'"):
        with np.errstate(over="ignore"):
            y.sum().backward()
    assert a.grad is None


# ---------------------------------------------------------------- gradcheck


def test_gradcheck_on_tensors_passes_per_element() -> None:
    rng = np.random.default_rng(3)
    W = Tensor(rng.normal(size=(3, 2)), label="W")
    x = rng.normal(size=(4, 2))
    report = engine.gradcheck(lambda W, x: (x @ W.T).tanh().sum(), [W, x])
    assert len(report) == 6 + 8 and all(r.ok for r in report)
    assert report[5].label == "W[2, 1]"
    num = engine.numerical_grad(lambda t: (t * t).sum(), [np.array([1.0, -2.0])])
    np.testing.assert_allclose(num[0], [2.0, -4.0], atol=1e-6)


def _wrong_vjp(node: Tensor, g: np.ndarray) -> tuple[np.ndarray]:
    return (2.0 * g,)  # the true local gradient of x^2 is 2x, not 2


def test_gradcheck_catches_a_wrong_rule() -> None:
    def square_with_a_bug(x: Tensor) -> Tensor:
        return make_node(x.data**2, engine.OPS["mul"], (x,), _wrong_vjp).sum()

    with pytest.raises(engine.GradcheckError, match=r"x\[1\]"):
        engine.gradcheck(square_with_a_bug, [Tensor([1.0, 3.0], label="x")])


def test_gradcheck_scalar_behaviour_unchanged() -> None:
    report = engine.gradcheck(lambda a, b: a * b + a.tanh(), [0.3, Value(-1.2, label="b")])
    assert [r.label for r in report] == ["input 0", "b"] and all(r.ok for r in report)
    assert engine.numerical_grad(lambda a: a * a, [3.0])[0] == pytest.approx(6.0)


def test_gradcheck_needs_a_one_element_tensor() -> None:
    with pytest.raises(ValueError, match="one-element"):
        engine.gradcheck(lambda x: x * 2, [Tensor([1.0, 2.0])])


# ---------------------------------------------------------------- memory


def test_graph_is_freed_without_the_garbage_collector() -> None:
    gc.disable()
    try:
        x = Tensor(np.ones((3, 3)), requires_grad=True)
        y = engine.cross_entropy((x @ x).relu().softmax(), [0, 1, 2])
        y.backward()
        ref = weakref.ref(y)
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_detect_anomaly_catches_a_fan_out_sum_that_overflows() -> None:
    x = Tensor([1e-10, 2e-10], requires_grad=True, label="x")
    y = (x * 1e308 + x * 1e308).sum()  # forward finite, each edge finite, their sum at x is not
    assert np.isfinite(y.data)
    with engine.detect_anomaly(), np.errstate(over="ignore"), pytest.raises(
        FloatingPointError, match=r"gradient of x \(2,\) overflowed.*adder"
    ):
        y.backward()
    assert x.grad is None
    x.grad = np.array([1e308, 0.0])  # a leaf's accumulated gradient that the next backward overflows
    z = (x * 1e308).sum()
    with engine.detect_anomaly(), np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="leaf x"):
        z.backward()
    assert x.grad.tolist() == [1e308, 0.0]


def test_reshape_to_a_non_shape_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="shape must be ints"):
        Tensor(np.ones(4)).reshape("2, 2")


def test_power_with_a_tensor_exponent_at_base_zero_follows_the_scalar_rule() -> None:
    x = Tensor([0.0, 2.0], requires_grad=True)
    y = Tensor([2.0, 2.0], requires_grad=True)
    (x**y).sum().backward()
    vs = [(Value(a), Value(2.0)) for a in (0.0, 2.0)]
    for a, b in vs:
        (a**b).backward()
    np.testing.assert_allclose(x.grad, [a.grad for a, _ in vs])
    np.testing.assert_allclose(y.grad, [b.grad for _, b in vs])
