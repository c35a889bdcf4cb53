"""The step-through page in a real browser: headless Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tracegrad.viz import BackpropStepper

from tests.support import require, require_program
from tests.viz.helpers import lecture_221

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


# the smallest on-screen font size (px) of the graph's texts, after any zoom
SMALLEST_GRAPH_TEXT = """() => Math.min(...Array.from(document.querySelectorAll('.tg-svg svg text')).map(
    t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_program("/usr/bin/chromium")
    sync_api = require("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    return browser.new_page()


def test_page_steps_with_buttons_keys_and_slider(page: Any, tmp_path: Path) -> None:
    C, v = lecture_221()
    st = BackpropStepper(C)
    path = st.to_html(tmp_path / "backprop.html")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
               else route.continue_())  # no network: the page must not need it
    page.goto(path.as_uri())

    def state() -> tuple[str, list[str]]:
        text = page.inner_text(".tg-step.tg-shown")
        current = page.eval_on_selector_all(".tg-svg .tg-current", "els => els.map(e => e.id)")
        return text, current

    def grad_of(node_id: str) -> str:
        return page.eval_on_selector(
            f'[id="{node_id}"]',
            "g => Array.from(g.querySelectorAll('text')).map(t => t.textContent)"
            ".find(t => t.startsWith('grad '))")

    text, current = state()
    assert text.startswith("backward step 1 of 14") and st[0].node_id in current
    assert grad_of(f"n{st.graph.of(v['w1'])}") == "grad ?"
    page.click(".tg-next")
    text, current = state()
    assert text.startswith("backward step 2 of 14") and st[1].node_id in current and st[0].node_id not in current
    page.keyboard.press("ArrowRight")
    text, current = state()
    assert text.startswith("backward step 3 of 14")
    assert set(current) >= {st[2].node_id, *(e.edge_id for e in st[2].edges)}
    assert grad_of(f"n{st.graph.of(v['z3'])}") == "grad -0.1621"
    page.keyboard.press("ArrowLeft")
    assert state()[0].startswith("backward step 2 of 14")
    page.eval_on_selector(".tg-slider",
                          "s => { s.value = '13'; s.dispatchEvent(new Event('input')); }")
    text, current = state()
    assert text.startswith("backward step 14 of 14") and st[13].node_id in current
    assert grad_of(f"n{st.graph.of(v['w1'])}") == "grad -0.01055"
    assert page.inner_text(".tg-counter") == "backward step 14 / 14"
    assert page.eval_on_selector_all("tr.tg-current", "rows => rows.length") == len(st[13].edges)
    page.click(".tg-next")  # already at the end: stays
    assert state()[0].startswith("backward step 14 of 14")
    assert errors == []


def test_current_gate_is_scrolled_into_view_and_fit_toggles(page: Any, tmp_path: Path) -> None:
    C, _ = lecture_221()
    path = BackpropStepper(C).to_html(tmp_path / "backprop.html")
    page.set_viewport_size({"width": 800, "height": 700})  # narrower than the graph
    page.goto(path.as_uri())
    in_view = """() => {
        const pane = document.querySelector('.tg-svg').getBoundingClientRect();
        const gate = document.querySelector('.tg-svg g.node.tg-current').getBoundingClientRect();
        return gate.left >= pane.left - 1 && gate.right <= pane.right + 1;
    }"""
    for _ in range(13):  # walk to the last step, at the far (input) end of the graph
        page.keyboard.press("ArrowRight")
        assert page.evaluate(in_view), page.inner_text(".tg-counter")
    svg_width = "() => document.querySelector('.tg-svg svg').getBoundingClientRect().width"
    natural = page.evaluate(svg_width)
    page.check(".tg-fit-toggle")  # as narrow as the pane, unless the text would drop below 12 px
    pane_width = page.evaluate("() => document.querySelector('.tg-svg').clientWidth")
    assert page.evaluate(svg_width) <= pane_width + 1 or abs(page.evaluate(SMALLEST_GRAPH_TEXT) - 12) < 0.1
    assert page.evaluate(SMALLEST_GRAPH_TEXT) >= 12 - 0.01
    page.uncheck(".tg-fit-toggle")
    assert page.evaluate(svg_width) == natural


# every text that is on screen (in the viewport, not hidden): its font size in px as drawn
VISIBLE_FONT_SIZES = """() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        const el = node.parentElement;
        if (!node.textContent.trim() || !el || el.closest('script, style, title')) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        const box = range.getBoundingClientRect();
        const style = getComputedStyle(el);
        if (!box.width || style.visibility === 'hidden') continue;
        if (box.right < 0 || box.left > innerWidth || box.bottom < 0 || box.top > innerHeight) continue;
        const scale = el instanceof SVGElement ? el.getScreenCTM().a : 1;
        out.push([parseFloat(style.fontSize) * scale, node.textContent.trim().slice(0, 30)]);
    }
    return out;
}"""

IN_VIEWPORT = """sel => {
    const b = document.querySelector(sel).getBoundingClientRect();
    return b.left >= 0 && b.top >= 0 && b.right <= innerWidth && b.bottom <= innerHeight;
}"""


@pytest.fixture()
def lecture_page(page: Any, tmp_path: Path) -> Any:
    C, _ = lecture_221()
    path = BackpropStepper(C).to_html(tmp_path / "backprop.html")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(path.as_uri())
    return page


def test_at_1024x768_the_legend_the_current_gate_and_its_formula_are_on_screen(lecture_page: Any) -> None:
    pg = lecture_page
    legend = pg.inner_text(".tg-legend")
    for state in ("done", "partial", "current", "pending"):
        assert state in legend
    no_sideways = "() => document.scrollingElement.scrollWidth <= innerWidth"
    for mode, n in (("forward", 14), ("backward", 14)):
        pg.click(f".tg-mode[data-mode={mode}]")
        for k in range(n):
            where = f"{mode} step {k + 1}"
            assert pg.evaluate(IN_VIEWPORT, ".tg-svg g.node.tg-current"), where
            assert pg.evaluate(IN_VIEWPORT, ".tg-step.tg-shown"), where
            assert pg.evaluate(no_sideways), where
            sizes = pg.evaluate(VISIBLE_FONT_SIZES)
            assert min(sizes)[0] >= 12 - 0.01, (where, min(sizes))
            pg.keyboard.press("ArrowRight")


def test_fit_to_width_keeps_graph_text_at_least_12px(lecture_page: Any) -> None:
    pg = lecture_page
    pg.check(".tg-fit-toggle")
    assert pg.evaluate(SMALLEST_GRAPH_TEXT) >= 12 - 0.01
    for _ in range(10):
        pg.click(".tg-zoom-out")
    assert pg.evaluate(SMALLEST_GRAPH_TEXT) >= 12 - 0.01
    pg.click(".tg-zoom-in")
    assert pg.evaluate(SMALLEST_GRAPH_TEXT) > 12.5


# every <math> of the shown step: its text, its rendered size, and what is inside it
SHOWN_MATHS = """sel => Array.from(document.querySelectorAll(sel + ' math')).map(m => {
    const b = m.getBoundingClientRect();
    const subs = Array.from(m.querySelectorAll('msub, msubsup')).map(
        s => [s.children[0].textContent, s.children[1].textContent,
              parseFloat(getComputedStyle(s.children[1]).fontSize)]);
    return {text: m.textContent, width: b.width, height: b.height, display: getComputedStyle(m).display,
            fracs: m.querySelectorAll('mfrac').length, subs: subs};
})"""


def test_formulas_are_mathml_rendered_by_the_browser(lecture_page: Any) -> None:
    pg = lecture_page
    for _ in range(2):  # step 3: the sigmoid gate o1 = σ(z3)
        pg.keyboard.press("ArrowRight")
    maths = pg.evaluate(SHOWN_MATHS, ".tg-step.tg-shown")
    assert len(maths) == 3  # o1 = σ(z3) = …; upstream ∂C/∂o1 = …; ∂C/∂z3 = o1·(1 − o1) · ∂C/∂o1 = …
    for m in maths:
        assert m["width"] > 20 and m["height"] > 15, m  # laid out as maths, not an unknown tag
        assert m["display"] in ("math", "inline math", "inline-math"), m["display"]
        for code in (".data", "*", "^", ".grad", " x "):
            assert code not in m["text"]
    last = maths[-1]
    assert last["text"].startswith("∂C∂z3=o1·(1−o1)·∂C∂o1=0.2288×−0.7086=−0.1621")
    assert last["fracs"] == 2  # ∂C/∂z3 and ∂C/∂o1 as fractions
    assert ["z", "3"] in [s[:2] for s in last["subs"]] and ["o", "1"] in [s[:2] for s in last["subs"]]
    assert min(s[2] for s in last["subs"]) >= 14 - 0.01  # subscripts readable on a projector


def test_current_is_purple_not_the_red_of_a_positive_gradient(lecture_page: Any) -> None:
    stroke = lecture_page.eval_on_selector(".tg-svg g.node.tg-current polygon",
                                           "p => getComputedStyle(p).stroke")
    assert stroke == "rgb(106, 61, 154)"


def test_play_advances_and_pause_stops(lecture_page: Any) -> None:
    pg = lecture_page
    pg.select_option(".tg-speed", "500")
    pg.click(".tg-play")
    pg.wait_for_function("() => Number(document.querySelector('.tg-stepper').dataset.step) >= 2")
    assert "pause" in pg.inner_text(".tg-play")
    pg.click(".tg-play")
    assert "play" in pg.inner_text(".tg-play")
    stopped = pg.get_attribute(".tg-stepper", "data-step")
    pg.wait_for_timeout(1200)
    assert pg.get_attribute(".tg-stepper", "data-step") == stopped


def test_forward_mode_steps_the_values_then_play_runs_into_the_backward_pass(lecture_page: Any) -> None:
    pg = lecture_page
    C, v = lecture_221()
    st = BackpropStepper(C)
    o1 = f"n{st.graph.of(v['o1'])}"
    data_of = "g => Array.from(g.querySelectorAll('text')).map(t => t.textContent).find(t => t.startsWith('data '))"
    pg.click(".tg-mode[data-mode=forward]")
    assert pg.inner_text(".tg-step.tg-shown").startswith("forward step 1 of 14")
    assert pg.eval_on_selector(f'[id="{o1}"]', data_of) == "data ?"
    pg.eval_on_selector(".tg-slider", "s => { s.value = '13'; s.dispatchEvent(new Event('input')); }")
    assert pg.eval_on_selector(f'[id="{o1}"]', data_of) == f"data {v['o1'].data:.4g}"
    pg.select_option(".tg-speed", "500")
    pg.click(".tg-play")  # at the end of the forward pass, play carries on backward
    pg.wait_for_function("() => document.querySelector('.tg-stepper').dataset.mode === 'backward'")
    pg.click(".tg-play")


@contextmanager
def page_without_javascript(browser: Any, st: BackpropStepper, tmp_path: Path) -> Iterator[Any]:
    """The stepper's page opened at 1024 x 768 with JavaScript off (closed afterwards)."""
    path = st.to_html(tmp_path / "backprop.html")
    pg = browser.new_page(java_script_enabled=False, viewport={"width": 1024, "height": 768})
    try:
        pg.goto(path.as_uri())
        yield pg
    finally:
        pg.close()


def test_without_javascript_the_page_shows_step_1_its_graph_and_the_table(browser: Any,
                                                                         tmp_path: Path) -> None:
    C, v = lecture_221()
    st = BackpropStepper(C)
    with page_without_javascript(browser, st, tmp_path) as pg:
        steps = pg.locator(".tg-backward-steps .tg-step")
        assert steps.count() == 14 and steps.first.is_visible()
        assert steps.first.inner_text().startswith("backward step 1 of 14")
        maths = pg.evaluate(SHOWN_MATHS, ".tg-backward-steps .tg-step:first-child")
        assert maths and all(m["width"] > 20 and m["height"] > 15 for m in maths)  # MathML, no script
        assert maths[-1]["text"].startswith("∂C∂(y-o1)=2·(y-o1)1·∂C∂C=0.7086×1.0=0.7086")
        assert pg.locator(".tg-svg svg").is_visible()
        current = pg.eval_on_selector_all(".tg-svg g.node.tg-current", "gs => gs.map(g => g.id)")
        assert sorted(current) == sorted([st[0].node_id, "op" + st[0].node_id[1:]])
        assert pg.evaluate(IN_VIEWPORT, f'[id="{st[0].node_id}"]')  # the graph opens at step 1's end
        w1 = pg.eval_on_selector(f'[id="n{st.graph.of(v["w1"])}"]',
                                 "g => Array.from(g.querySelectorAll('text')).map(t => t.textContent)")
        assert "grad ?" in w1  # step 1: w1's gradient not reached yet
        assert pg.locator("table.tg-table tbody tr").count() == len(st.table())
        assert pg.locator("table.tg-table").is_visible()


def test_zoom_keys_and_buttons_scale_the_graph_and_keep_text_readable(lecture_page: Any) -> None:
    pg = lecture_page
    width = "() => document.querySelector('.tg-svg svg').getBoundingClientRect().width"
    natural = pg.evaluate(width)
    assert pg.get_attribute(".tg-stepper", "data-scale") == "1.000"
    pg.keyboard.press("+")
    assert pg.get_attribute(".tg-stepper", "data-scale") == "1.250"
    assert abs(pg.evaluate(width) - 1.25 * natural) < 1
    pg.click(".tg-zoom-in")
    assert abs(pg.evaluate(width) - 1.5625 * natural) < 1
    assert pg.evaluate(SMALLEST_GRAPH_TEXT) > 12 * 1.5
    pg.keyboard.press("-")
    pg.click(".tg-zoom-out")
    assert abs(pg.evaluate(width) - natural) < 1
    for _ in range(8):  # never below 12 px text, however far out
        pg.keyboard.press("-")
    assert pg.evaluate(SMALLEST_GRAPH_TEXT) >= 12 - 0.01
    assert pg.evaluate(IN_VIEWPORT, ".tg-step.tg-shown")


def test_space_plays_and_pauses(lecture_page: Any) -> None:
    pg = lecture_page
    pg.select_option(".tg-speed", "500")
    pg.locator("body").click(position={"x": 5, "y": 5})  # focus off the select
    pg.keyboard.press(" ")
    assert "pause" in pg.inner_text(".tg-play")
    pg.wait_for_function("() => Number(document.querySelector('.tg-stepper').dataset.step) >= 1")
    pg.keyboard.press(" ")
    assert "play" in pg.inner_text(".tg-play")


def test_forward_steps_are_rendered_mathml_too(lecture_page: Any) -> None:
    pg = lecture_page
    pg.click(".tg-mode[data-mode=forward]")
    (m,) = pg.evaluate(SHOWN_MATHS, ".tg-step.tg-shown")
    assert m["width"] > 100 and m["height"] > 15
    assert m["text"] == "(w4·x2)=w4×x2=0.6×0.3=0.18"  # (w₄·x₂) = w₄ × x₂ = 0.6 × 0.3 = 0.18
    assert [s[:2] for s in m["subs"]] == [["w", "4"], ["x", "2"], ["w", "4"], ["x", "2"]]


def test_without_javascript_no_dead_controls_and_the_whole_table(browser: Any, tmp_path: Path) -> None:
    st = BackpropStepper(lecture_221()[0])
    with page_without_javascript(browser, st, tmp_path) as pg:
        assert not pg.locator(".tg-controls").is_visible()  # buttons that would do nothing
        assert pg.locator(".tg-legend").is_visible()
        assert pg.locator("noscript").count() == 1
        rows = pg.locator("table.tg-table tbody tr")
        assert rows.count() == len(st.table())
        assert all(rows.nth(k).is_visible() for k in range(rows.count()))
        assert rows.first.inner_text().split()[:3] == ["1", "C", "pow"]
        first = pg.locator(".tg-backward-steps .tg-step").first
        assert pg.evaluate(IN_VIEWPORT, ".tg-backward-steps .tg-step:first-child .tg-head")
        assert first.locator("math").count() == 3
