"""The stepper page's maths (MathML), colours and static sections, without a browser."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from tracegrad.engine.ops import BUILT_IN, OPS
from tracegrad.viz import BackpropStepper
from tracegrad.viz.stepmath import (
    MATHML_NS,
    formula_mathml,
    mathml,
    name_mathml,
    number_mathml,
    partial_mathml,
    prose_html,
)
from tracegrad.viz.stepper import STEP_CURRENT_EDGE, forward_mathml, local_mathml
from tracegrad.viz.style import POSITIVE_TEXT

from tests.viz.helpers import lecture_221

M = "{" + MATHML_NS + "}"
CODE = (".data", ".grad", "*", "^", "\ue000")


def parse(fragment: str) -> ET.Element:
    """A MathML fragment inside <math>, parsed as XML (raises if it is not well-formed)."""
    return ET.fromstring(mathml(fragment).encode("utf-8"))


def shown(el: ET.Element) -> str:
    """The text a reader sees, in order."""
    return "".join(el.itertext())


def strip_ns(xml: str) -> str:
    return xml.replace(f' xmlns="{MATHML_NS}"', "")


@pytest.mark.parametrize(("code", "maths"), [
    ("o1.data·(1 - o1.data)",
     "<mrow><msub><mi>o</mi><mn>1</mn></msub><mo>·</mo><mrow><mo>(</mo><mrow><mn>1</mn><mo>−</mo>"
     "<msub><mi>o</mi><mn>1</mn></msub></mrow><mo>)</mo></mrow></mrow>"),
    ("2·sub1.data^1", "<mrow><mn>2</mn><mo>·</mo><msubsup><mi>sub</mi><mn>1</mn><mn>1</mn></msubsup></mrow>"),
    ("1 / b.data", "<mfrac><mn>1</mn><mi>b</mi></mfrac>"),
    ("-a.data / b.data^2", "<mrow><mo>−</mo><mfrac><mi>a</mi><msup><mi>b</mi><mn>2</mn></msup></mfrac></mrow>"),
    ("x1.data^-1", "<msubsup><mi>x</mi><mn>1</mn><mrow><mo>−</mo><mn>1</mn></mrow></msubsup>"),
    ("1 - out.data*out.data", "<mrow><mn>1</mn><mo>−</mo><mi>out</mi><mo>·</mo><mi>out</mi></mrow>"),
    ("exp(x)", "<mrow><mi>exp</mi><mrow><mo>(</mo><mi>x</mi><mo>)</mo></mrow></mrow>"),
    ("|x|(a)", "<mrow><mo>|</mo><mi>a</mi><mo>|</mo></mrow>"),
])
def test_rule_texts_read_as_mathml(code: str, maths: str) -> None:
    assert formula_mathml(code) == maths
    parse(formula_mathml(code))


def test_names_are_subscripted_and_numbers_get_a_real_minus() -> None:
    assert name_mathml("w5") == "<msub><mi>w</mi><mn>5</mn></msub>"
    assert name_mathml("mul6") == "<msub><mi>mul</mi><mn>6</mn></msub>"
    assert name_mathml("h1_2") == "<msub><mi>h</mi><mrow><mn>1</mn><mo>,</mo><mn>2</mn></mrow></msub>"
    assert name_mathml("x") == "<mi>x</mi>" and name_mathml("<b>") == "<mi>&lt;b&gt;</mi>"
    assert name_mathml("2.0") == "<mn>2.0</mn>"  # a constant is its value, not "2." with index 0
    assert name_mathml("-1.5") == "<mn>−1.5</mn>"
    assert number_mathml("-0.1621") == "<mn>−0.1621</mn>"
    frac = parse(partial_mathml("C", "w5")).find(f"{M}mfrac")
    assert frac is not None and [shown(part) for part in frac] == ["∂C", "∂w5"]
    assert frac.find(f".//{M}msub/{M}mi").text == "w"  # type: ignore[union-attr]


def test_a_name_with_operators_in_it_stays_one_bracketed_operand() -> None:
    a = OPS["mul"]
    (local_a, local_b) = local_mathml(a, ["x + y", "나는"], "out")
    assert strip_ns(local_a) == "<mi>나는</mi>"
    assert strip_ns(local_b) == "<mrow><mo>(</mo><mi>x</mi><mo>+</mo><mi>y</mi><mo>)</mo></mrow>"
    assert strip_ns(name_mathml("σ(z1)")) == \
        "<mrow><mi>σ</mi><mo>(</mo><msub><mi>z</mi><mn>1</mn></msub><mo>)</mo></mrow>"


def test_the_issues_example_reads_as_maths() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    (step,) = [s for s in st if any(e.input == "w5" for e in s.edges)]  # mul = w5 × h1
    w5 = partial_mathml("C", "w5") + "<mo>=</mo>" + name_mathml("h1") + "<mo>·</mo>" + \
        partial_mathml("C", step.node) + "<mo>=</mo><mn>0.6154</mn><mo>×</mo><mn>−0.1621</mn>"
    assert w5 in st.step_html(step.index)  # ∂C/∂w5 = h1 · ∂C/∂mul = 0.6154 × −0.1621


names = hs.from_regex(r"[a-zA-Z]{1,3}[0-9]{0,2}(_[0-9])?", fullmatch=True) | \
    hs.sampled_from(["나는", "x + y", "a*b", "w.data", "2.0", "-1.5", "h1_2"])


@settings(max_examples=150, deadline=None)
@given(name=hs.sampled_from(sorted(BUILT_IN)), data=hs.data())
def test_every_op_of_the_table_reads_as_wellformed_mathml(name: str, data: hs.DataObject) -> None:
    op = OPS[name]
    if op.const is not None:
        op = op.bind(data.draw(hs.sampled_from([2.0, 3.0, -1.0, 0.5, -2.5, 1e-7, 0.01]), "arg"))
    n = op.arity if op.arity > 0 else data.draw(hs.integers(1, 4), "n")
    parents = data.draw(hs.lists(names, min_size=n, max_size=n, unique=True), "parents")
    out = data.draw(names.filter(lambda s: s not in parents), "out")
    labels_look_like_code = any(c in "".join([*parents, out]) for c in "*.^")
    forward = forward_mathml(op, [name_mathml(p) for p in parents])
    for fragment in (*local_mathml(op, parents, out), forward):
        text = shown(parse(fragment))
        assert not any("\ue000" <= c <= "\uf8ff" for c in text)  # no stand-in left
        if not labels_look_like_code:
            for code in CODE:
                assert code not in text, (fragment, code)
    for p in parents:  # every input by its whole name, index subscripted (h1_2 reads h₁,₂)
        assert shown(parse(name_mathml(p))) in shown(parse(forward))
        name = name_mathml(p)
        assert (name[6:-7] if name.startswith("<msub>") else name) in forward  # in msub or msubsup
    # the op table's raw texts (with the .data names) read as maths too
    raw = ["a1", "b2", "c3", "d4"][:n]
    for text in (*op.local_text([f"{p}.data" for p in raw], "out.data"), op.forward_text(raw)):
        el = parse(formula_mathml(text))
        for code in CODE:
            assert code not in shown(el), (text, code)
        for sub in el.iter(f"{M}msub"):  # every name's index is a subscript: a₁, never a1
            assert sub[0].text in {"a", "b", "c", "d"} and sub[1].text in {"1", "2", "3", "4"}


def test_every_step_is_static_mathml_without_code_text() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    page = st.html()
    assert page.count('class="tg-step" data-mode="backward"') == len(st) == 14
    assert page.count('class="tg-step" data-mode="forward"') == len(st.forward_order()) == 14
    for html in [st.step_html(i) for i in range(len(st))] + \
            [st.forward_html(k) for k in range(len(st.forward_order()))]:
        maths = re.findall(r"<math .*?</math>", html)
        assert maths
        for m in maths:
            text = shown(ET.fromstring(m))
            for code in CODE:
                assert code not in text
    sigmoid = st.step_html(2)  # ∂C/∂z3 = o1·(1 − o1) · ∂C/∂o1
    assert partial_mathml("C", "z3") + "<mo>=</mo><mrow>" + name_mathml("o1") + "<mo>·</mo><mrow><mo>(</mo>" \
        in sigmoid
    assert 'class="tg-legend"' in page


def test_a_fan_out_input_accumulates_with_plus_equals() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    x1_steps = [s for s in st if any(e.input == "x1" for e in s.edges)]
    assert len(x1_steps) == 2
    first, second = (st.step_html(s.index) for s in x1_steps)
    x1 = partial_mathml("C", "x1")
    assert x1 + "<mo>+=</mo>" in first and x1 + "<mo>+=</mo>" in second and "in all" in second
    assert partial_mathml("C", "w1") + "<mo>=</mo>" in "".join(st.step_html(s.index) for s in st)


def test_render_marks_the_current_gate_in_purple_not_red() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    source = st.render(2).source
    assert STEP_CURRENT_EDGE in source and "#d62728" not in source
    assert STEP_CURRENT_EDGE.lower() != POSITIVE_TEXT.lower()


def test_explanations_keep_their_words_and_lose_the_code() -> None:
    assert prose_html("scales the upstream gradient by k x^(k-1)") == \
        "scales the upstream gradient by k x<sup>k−1</sup>"
    assert prose_html("a*b & c") == "a·b &amp; c"


def test_notebook_outputs_carry_a_static_picture_and_text() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    for bundle in (st.show()._repr_mimebundle_(), st._repr_mimebundle_()):
        page = bundle["text/html"]
        assert "<svg" in page and re.search(r'class="node [^"]*tg(-|&#45;)current', page)  # step 1's graph
        assert page.count('class="tg-step"') == 28 and 'class="tg-table"' in page
        assert page.count("<math ") >= 28
        assert bundle["text/plain"].startswith("BackpropStepper: backprop through C, 14 backward steps")
        assert "step 1 of 14: C = (y-o1)^2" in bundle["text/plain"]
        assert "IPython" not in bundle["text/plain"]


def test_the_widget_saves_the_static_page_beside_its_controls() -> None:
    pytest.importorskip("ipywidgets")
    C, _ = lecture_221()
    bundle = BackpropStepper(C).widget()._repr_mimebundle_()
    assert "<svg" in bundle["text/html"] and "tg-step" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
