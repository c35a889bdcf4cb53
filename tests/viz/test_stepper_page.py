"""The stepper page's maths, colours and static sections, without a browser."""

from __future__ import annotations

import re

import pytest
from tracegrad.viz import BackpropStepper
from tracegrad.viz.stepmath import formula_html, name_html, number_html, prose_html
from tracegrad.viz.stepper import STEP_CURRENT_EDGE
from tracegrad.viz.style import POSITIVE_TEXT

from tests.viz.helpers import lecture_221


@pytest.mark.parametrize(("code", "maths"), [
    ("o1.data·(1 - o1.data)", "<i>o</i><sub>1</sub>·(1 − <i>o</i><sub>1</sub>)"),
    ("2·sub1.data^1", "2·sub<sub>1</sub><sup>1</sup>"),
    ("k·a1.data^(k - 1)", "<i>k</i>·<i>a</i><sub>1</sub><sup><i>k</i> − 1</sup>"),
    ("-a.data / b.data^2", "−<i>a</i> / <i>b</i><sup>2</sup>"),
    ("1 - out.data*out.data", "1 − out·out"),
    ("exp(x)", "exp(<i>x</i>)"),
])
def test_rule_texts_read_as_maths(code: str, maths: str) -> None:
    assert formula_html(code) == maths


def test_names_and_numbers() -> None:
    assert name_html("w5") == "<i>w</i><sub>5</sub>"
    assert name_html("mul6") == "mul<sub>6</sub>" and name_html("h1_2") == "<i>h</i><sub>1,2</sub>"
    assert name_html("<b>") == "&lt;b&gt;"
    assert number_html("-0.1621") == "−0.1621"


def test_every_step_is_static_html_without_code_text() -> None:
    C, _ = lecture_221()
    st = BackpropStepper(C)
    page = st.html()
    assert page.count('class="tg-step" data-mode="backward"') == len(st) == 14
    assert page.count('class="tg-step" data-mode="forward"') == len(st.forward_order()) == 14
    for i in range(len(st)):
        maths = st.step_html(i)
        assert ".data" not in maths and "*" not in maths and "^" not in maths
    assert "∂<i>C</i>/∂<i>z</i><sub>3</sub> += <i>o</i><sub>1</sub>·(1 − <i>o</i><sub>1</sub>)" in st.step_html(2)
    assert 'class="tg-legend"' in page


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
        assert bundle["text/plain"].startswith("BackpropStepper: backprop through C, 14 backward steps")
        assert "step 1 of 14: C = sub1^2" in bundle["text/plain"]
        assert "IPython" not in bundle["text/plain"]


def test_the_widget_saves_the_static_page_beside_its_controls() -> None:
    pytest.importorskip("ipywidgets")
    C, _ = lecture_221()
    bundle = BackpropStepper(C).widget()._repr_mimebundle_()
    assert "<svg" in bundle["text/html"] and "tg-step" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
