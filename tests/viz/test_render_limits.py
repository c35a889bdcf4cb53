"""Diagrams never hang: the limit counts layout work, the walk stops at the limit, renders time out.

A graph's layout time follows its cycles times its placed nodes (see
``viz.limits``), not its node count: a dense random graph well under
``max_nodes`` is refused before any DOT is written, while chains and MLPs
of the same size still draw.
"""

from __future__ import annotations

import random
import stat
import sys
from pathlib import Path

import pytest
from tracegrad import engine, viz
from tracegrad.engine import Value
from tracegrad.viz import DiagramTooBigError, RenderTimeoutError
from tracegrad.viz.dot import TIMEOUT_VAR, render_timeout
from tracegrad.viz.limits import WORK_PER_NODE, layout_work
from tracegrad.viz.style import GraphStyle
from tracegrad.viz.value_graph import value_scene
from tracegrad.viz.walk import index_graph, reaches_more_than


def random_dag(n: int, seed: int) -> Value:
    """``n`` random + and * gates, each over two earlier nodes anywhere in the graph (many cycles)."""
    rng = random.Random(seed)
    nodes = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    while len(nodes) < n:
        a, b = rng.choice(nodes), rng.choice(nodes)
        nodes.append(a * b if rng.random() < 0.5 else a + b)
    return engine.sum_values(nodes[-n // 4:])


def chain(n: int) -> Value:
    x = Value(0.5, "x")
    for _ in range(n):
        x = (x * 0.9).tanh()
    return x


def work(root: Value) -> int:
    gi = index_graph(root)
    return layout_work(value_scene(gi, GraphStyle(), [0.0] * len(gi.order))).work


def test_a_dense_graph_under_the_node_limit_is_refused_before_rendering() -> None:
    root = random_dag(600, 5)  # 479 nodes, work 2.76M: graphviz-pure took 11.5 s
    assert len(engine.topological_order(root)) < 2000
    with pytest.raises(DiagramTooBigError, match="collapse='neuron'") as err:
        viz.draw_graph(root)
    assert isinstance(err.value, ValueError) and "cycles" in str(err.value)
    with pytest.raises(DiagramTooBigError):
        viz.draw_flow(root)
    assert viz.draw_graph(root, max_nodes=work(root) // WORK_PER_NODE + 1).source  # raising the limit


def test_chains_and_mlps_of_the_same_size_still_draw() -> None:
    assert work(chain(600)) == 0  # a tree: no cycles, lays out in linear time
    assert "op1799" in viz.draw_graph(chain(600)).source
    from tracegrad import nn  # noqa: PLC0415 - nn is only needed for this picture

    model = nn.MLP(2, [16, 16, 1], seed=0)
    out = model([Value(0.3), Value(-0.2)])
    assert len(engine.topological_order(out)) > 400
    assert viz.draw_graph(out).source


class Tripwire(Value):
    """A leaf that fails the test if anything walks to it."""

    __slots__ = ()

    @property
    def parents(self) -> tuple[Value, ...]:
        raise AssertionError("the walk went past max_nodes")


def test_the_walk_stops_as_soon_as_the_limit_is_passed() -> None:
    root = Tripwire(1.0)
    for _ in range(3000):  # 6,000 nodes above the tripwire
        root = (root * 0.5).tanh()
    with pytest.raises(DiagramTooBigError, match="more than 2000 nodes"):
        viz.draw_graph(root)
    with pytest.raises(DiagramTooBigError, match="more than max_nodes=100"):
        viz.BackpropStepper(root, max_nodes=100)
    assert reaches_more_than(root, 10) and not reaches_more_than(chain(3), 10)


@pytest.fixture
def slow_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 'Graphviz' that takes 5 s (it reads its input, then sleeps)."""
    prog = tmp_path / "slow-dot"
    prog.write_text(f"#!{sys.executable}\nimport sys, time\nsys.stdin.read()\ntime.sleep(5)\n",
                    encoding="utf-8")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TRACEGRAD_DOT", str(prog))
    return prog


def test_a_render_past_the_timeout_is_stopped_with_an_error_suggesting_collapse(
        slow_dot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT_VAR, "0.3")
    diagram = viz.draw_graph(chain(3))
    with pytest.raises(RenderTimeoutError, match="collapse='neuron'") as err:
        diagram.svg()
    assert "0.3 s" in str(err.value) and TIMEOUT_VAR in str(err.value)
    assert isinstance(err.value, RuntimeError)


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf"])
def test_a_bad_render_timeout_is_named(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT_VAR, raw)
    with pytest.raises(ValueError, match=TIMEOUT_VAR):
        render_timeout()
    monkeypatch.setenv(TIMEOUT_VAR, "2.5")
    assert render_timeout() == 2.5
