"""BackpropStepper: step texts on the lecture's 2-2-1 network, table, render, widget, to_html."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tracegrad.engine import Value, define_op
from tracegrad.viz import BackpropStepper
from tracegrad.viz.walk import grouped

from tests.support import require
from tests.viz.helpers import by_id, groups, lecture_221, parse_svg, texts


def step_for(stepper: BackpropStepper, name: str) -> int:
    return next(s.index for s in stepper if s.node == name)


def test_the_lectures_words_on_a_mul_gate() -> None:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    out = a * b
    out.label = "out"
    (step,) = BackpropStepper(out).steps
    lines = step.text.splitlines()
    assert lines[0] == "step 1 of 1: out = a × b = -6.0, upstream out.grad = 1.0"
    assert "mul gate (swap multiplier): a.grad += b.data x out.grad = -3.0 x 1.0 = -3.0" in lines[2]
    assert "mul gate (swap multiplier): b.grad += a.data x out.grad = 2.0 x 1.0 = 2.0" in lines[3]


def test_lecture_221_step_texts_follow_the_engine_order() -> None:
    C, v = lecture_221()
    st = BackpropStepper(C)
    assert len(st) == 14
    assert [s.node for s in st][:4] == ["C", st.graph.name(C.parents[0]), "o1", "z3"]
    t = st[step_for(st, "o1")].text
    # the local gradient's text is derived from the op table's rule (Op.local_text)
    assert "sigmoid gate: z3.grad += o1.data·(1 - o1.data) x o1.grad = 0.2288 x -0.7086 = -0.1621" in t
    t = st[step_for(st, "z3")].text
    assert "add gate (gradient distributor)" in t and "1 x z3.grad = 1.0 x -0.1621 = -0.1621" in t
    t = st[step_for(st, "C")].text
    assert re.search(r"pow gate \(power gate\): \(y-o1\)\.grad \+= 2·\(y-o1\)\.data\^1 x "
                     r"C\.grad = 0\.7086 x 1\.0 = 0\.7086", t)
    # the h1 branch reaches w1 with the lecture's numbers
    t = st[step_for(st, "z1")].text
    assert "upstream z1.grad = -0.0211" in t


def test_step_texts_come_from_the_op_table_even_for_a_new_op() -> None:
    softplus = define_op("stepper_softplus", forward=lambda m, x: m.log(1 + m.exp(x)),
                         local_grads=lambda m, x, out: (m.sigmoid(x),), symbol="softplus")
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    z = a * b + a.tanh() / b
    z.label = "z"
    out = softplus(z)
    out.label = "out"
    st = BackpropStepper(out)
    assert st[0].text.splitlines()[0].startswith("step 1 of 5: out = softplus(z) = ")
    assert st[0].edges[0].expression == "σ(z.data)"
    for s in st:
        node = st.graph.order[int(s.node_id[1:])]
        parents = [grouped(st.graph.name(p)) for p in node.parents]  # a computed name, bracketed
        assert f"{s.node} = {node.op.forward_text(parents)} = " in s.text
        want = node.op.local_text([f"{p}.data" for p in parents], f"{grouped(s.node)}.data")
        for e in s.edges:
            k = int(e.edge_id.split("_")[1])
            assert e.expression in (want[k], f"({want[k]})")
    (tanh,) = [s for s in st if s.op == "tanh"]
    assert tanh.edges[0].expression == "(1 - tanh(a).data·tanh(a).data)"  # x upstream


def test_stepper_never_touches_real_grads_and_matches_backward() -> None:
    C, v = lecture_221()
    st = BackpropStepper(C)
    st.render(3)
    str(st.table())
    assert all(n.grad == 0.0 for n in v.values())
    C.backward()
    final = {}
    for s in st:
        for e in s.edges:
            final[e.input] = e.accumulated
    for name in ("w1", "w2", "w3", "w4", "w5", "w6", "x1", "x2", "h1", "z1", "o1"):
        assert final[name] == v[name].grad  # same loop, same order, same arithmetic


def test_fan_out_accumulates_in_the_text() -> None:
    x = Value(3.0, "x")
    y = x * x
    y.label = "y"
    (step,) = BackpropStepper(y).steps
    assert step.edges[1].text.endswith("(so x.grad is now 6.0)")


def test_table_text_and_html() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    table = st.table()
    n_edges = sum(len(s.edges) for s in st)
    assert len(table) == n_edges
    lines = str(table).splitlines()
    assert lines[0].split() == ["step", "node", "op", "gate", "upstream", "input", "local",
                                "contribution", "accumulated"]
    assert len(lines) == 2 + n_edges
    assert re.match(r"\s*1\s+C\s+pow\s+power gate\s+1\.0\s+y-o1\s+0\.7086\s+0\.7086\s+0\.7086",
                    lines[2])
    html = table._repr_html_()
    assert html.count("<tr data-step=") == n_edges and "<th>contribution</th>" in html


def test_render_highlights_the_step_and_fills_known_grads() -> None:
    C, v = lecture_221()
    st = BackpropStepper(C)
    k = step_for(st, "o1")
    svg = parse_svg(st.render(k).svg())
    current = [g.get("id") for g in groups(svg, "current")]
    assert st[k].node_id in current and st[k].edges[0].edge_id in current
    root = by_id(svg, f"n{len(st.graph.order) - 1}")
    assert "grad 1.0" in texts(root)
    assert "grad -0.1621" in texts(by_id(svg, f"n{st.graph.of(v['z3'])}"))
    assert "grad ?" in texts(by_id(svg, f"n{st.graph.of(v['w1'])}"))  # pending
    last = parse_svg(st.render(len(st) - 1).svg())
    assert not any(t == "grad ?" for t in texts(last))
    x1 = texts(by_id(parse_svg(st.render(9).svg()), f"n{st.graph.of(v['x1'])}"))
    assert any(t.startswith("grad ") and t.endswith("…") for t in x1)  # partial: one of two


def test_bad_input() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    with pytest.raises(IndexError, match="14 steps"):
        st.render(14)
    with pytest.raises(TypeError, match="int"):
        st.render("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="engine.Value"):
        BackpropStepper(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed gradient"):
        BackpropStepper(C, grad="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes"):
        BackpropStepper(C, max_nodes=5)


def test_widget_steps_with_the_slider() -> None:
    require("ipywidgets")
    C, _ = lecture_221()
    st = BackpropStepper(C)
    w = st.widget()
    (prev, nxt, slider), text, picture = w.children[0].children, w.children[1], w.children[2]
    assert "step 1 of 14" in text.value and "<svg" in picture.value
    nxt.click()
    nxt.click()
    assert slider.value == 2 and "step 3 of 14" in text.value
    prev.click()
    assert "step 2 of 14" in text.value


def test_to_html_is_one_self_contained_file(tmp_path: Path) -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    path = st.to_html(tmp_path / "bp.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script>" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page and "cdn" not in page.lower()
    assert page.count('class="tg-table"') == 1
    assert st._repr_html_().startswith('<div class="tg-stepper"')
    with pytest.raises(IsADirectoryError):
        st.to_html(tmp_path)


def test_stepper_checks_its_arguments_up_front(tmp_path: Path) -> None:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    out = a * b
    out.label = "out"
    with pytest.raises(ValueError, match="rankdir must be one of"):
        BackpropStepper(out, rankdir="XX")  # at construction, not at the first render
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        BackpropStepper(out, max_nodes=0)
    with pytest.raises(ValueError, match="seed gradient must be finite, got nan"):
        BackpropStepper(out, grad=float("nan"))
    with pytest.raises(IndexError, match="is a leaf, so its backward pass has no steps"):
        BackpropStepper(Value(1.0, "x")).render(0)
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        BackpropStepper(out).to_html(tmp_path / "nowhere" / "page.html")
    assert list(tmp_path.iterdir()) == []
    page = BackpropStepper(out).to_html(tmp_path / "page.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temp file left behind
    assert "mul gate (swap multiplier): a.grad += b.data x out.grad = -3.0 x 1.0 = -3.0" in page.read_text()
