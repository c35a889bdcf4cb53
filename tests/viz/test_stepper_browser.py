"""The step-through page in a real browser: headless Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tracegrad.viz import BackpropStepper

from tests.support import require, require_program
from tests.viz.helpers import lecture_221

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    chromium = require_program("/usr/bin/chromium")
    sync_api = require("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        pg = browser.new_page()
        yield pg
        browser.close()


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
        text = page.inner_text(".tg-text")
        current = page.eval_on_selector_all(".tg-svg .tg-current", "els => els.map(e => e.id)")
        return text, current

    def grad_of(node_id: str) -> str:
        return page.eval_on_selector(
            f'[id="{node_id}"]',
            "g => Array.from(g.querySelectorAll('text')).map(t => t.textContent)"
            ".find(t => t.startsWith('grad '))")

    text, current = state()
    assert text.startswith("step 1 of 14: C = ") and st[0].node_id in current
    assert grad_of(f"n{st.graph.of(v['w1'])}") == "grad ?"
    page.click(".tg-next")
    text, current = state()
    assert text == st[1].text and st[1].node_id in current and st[0].node_id not in current
    page.keyboard.press("ArrowRight")
    text, current = state()
    assert text == st[2].text and set(current) >= {st[2].node_id, *(e.edge_id for e in st[2].edges)}
    assert grad_of(f"n{st.graph.of(v['z3'])}") == "grad -0.1621"
    page.keyboard.press("ArrowLeft")
    assert state()[0] == st[1].text
    page.eval_on_selector(".tg-slider",
                          "s => { s.value = '13'; s.dispatchEvent(new Event('input')); }")
    text, current = state()
    assert text == st[13].text and st[13].node_id in current
    assert grad_of(f"n{st.graph.of(v['w1'])}") == "grad -0.01055"
    assert page.inner_text(".tg-counter") == "step 14 / 14"
    assert page.eval_on_selector_all("tr.tg-current", "rows => rows.length") == len(st[13].edges)
    page.click(".tg-next")  # already at the end: stays
    assert state()[0] == st[13].text
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
    page.check(".tg-fit-toggle")
    assert page.evaluate(svg_width) <= page.evaluate("() => document.querySelector('.tg-svg').clientWidth") + 1
    page.uncheck(".tg-fit-toggle")
    assert page.evaluate(svg_width) == natural
