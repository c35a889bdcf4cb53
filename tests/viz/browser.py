"""Measuring a rendered SVG in headless Chromium at 100 % zoom: its size, and every text's
on-screen size, colour, the colour behind it and its box.

Graphviz writes SVG in points inside a ``viewBox``; the browser's ``getScreenCTM`` turns
user units into CSS px, so a text's size on screen is its font-size times that scale.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support import require, require_program

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

Rect = tuple[float, float, float, float]  # left, top, right, bottom in CSS px


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright); the test skips without one, and fails in CI."""
    program = require_program("/usr/bin/chromium")
    sync_api = require("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=program, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class Text:
    """One ``<text>`` as the browser draws it."""

    text: str
    px: float  # font size on screen
    fg: tuple[int, int, int]  # its fill
    bg: tuple[int, int, int]  # the fill of the topmost filled shape under its centre (else the white page)
    box: Rect


@dataclass(frozen=True)
class Picture:
    width: float
    height: float
    texts: list[Text]
    nodes: dict[str, Rect]  # every <g> with an id: its on-screen box


# every @font-face of the page loaded (a face loads only when used, after document.fonts.ready)
LOAD_FONTS = ("Promise.all(Array.from(document.fonts).map(f => f.load()))"
              ".then(() => document.fonts.ready).then(() => true)")

MEASURE = """() => {
  const svg = document.querySelector('svg');
  const r = svg.getBoundingClientRect();
  const behind = (x, y) => {
    for (const el of document.elementsFromPoint(x, y)) {
      if (!(el instanceof SVGGeometryElement) || el.tagName === 'text') continue;
      const f = getComputedStyle(el).fill;
      if (f && f !== 'none' && !/rgba\\(.*,\\s*0\\)$/.test(f)) return f;
    }
    return 'rgb(255, 255, 255)';
  };
  const texts = Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim()).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
            fg: getComputedStyle(t).fill, bg: behind(b.left + b.width / 2, b.top + b.height / 2),
            box: [b.left, b.top, b.right, b.bottom]};
  });
  const nodes = {};
  for (const g of svg.querySelectorAll('g[id]')) {
    const b = g.getBoundingClientRect();
    nodes[g.id] = [b.left, b.top, b.right, b.bottom];
  }
  return {width: r.width, height: r.height, texts, nodes};
}"""


def _rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (round(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def open_svg(page: Any, svg: str, head: str = "") -> None:
    """Show ``svg`` in ``page``: the page and its fonts first, then the picture (a text shaped
    before its web font loaded would keep the fallback's empty boxes)."""
    page.set_content(page_html("", head))
    page.evaluate(LOAD_FONTS)
    page.evaluate("svg => { document.body.innerHTML = svg; }", inline(svg))


def inline(svg: str) -> str:
    """The SVG without its XML declaration and doctype, to put in an HTML page."""
    return re.sub(r"<\?xml[^>]*>|<!DOCTYPE[^>]*>", "", svg)


def page_html(svg: str, head: str = "") -> str:
    """The SVG inline in a white page with no margin (``head``: extra ``<head>`` content)."""
    return (f"<!doctype html><html><head><meta charset='utf-8'>{head}</head>"
            f"<body style='margin:0;background:#ffffff'>{inline(svg)}</body></html>")


def svg_size_px(svg: str) -> tuple[float, float]:
    """The width and height an SVG declares, in CSS px (``pt`` is 4/3 px)."""
    head = re.search(r"<svg\b[^>]*>", svg, re.S).group()
    out = []
    for key in ("width", "height"):
        value, unit = re.search(rf'\b{key}="([\d.]+)(pt|px)?"', head).groups()
        out.append(float(value) * (4 / 3 if unit == "pt" else 1.0))
    return out[0], out[1]


def evaluate_on(browser: Any, svg: str, head: str, script: str) -> Any:
    """Render ``svg`` at 100 % in a viewport of its own size and run ``script`` on the page."""
    w, h = svg_size_px(svg)
    page = browser.new_page(viewport={"width": int(w) + 2, "height": int(h) + 2})
    try:
        open_svg(page, svg, head)
        return page.evaluate(script)
    finally:
        page.close()


def measure(browser: Any, svg: str, head: str = "") -> Picture:
    """Render ``svg`` at 100 % in a viewport of its own size and measure it."""
    raw = evaluate_on(browser, svg, head, MEASURE)
    texts = [Text(html.unescape(t["text"]), t["px"], _rgb(t["fg"]), _rgb(t["bg"]), tuple(t["box"]))
             for t in raw["texts"]]
    return Picture(raw["width"], raw["height"], texts, {k: tuple(v) for k, v in raw["nodes"].items()})


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance."""
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), lighter over darker."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def overlap(a: Rect, b: Rect) -> float:
    """How far two boxes overlap: the smaller of the overlaps across and down (<= 0: apart)."""
    return min(min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1]))


def overlapping(texts: list[Text], tolerance: float = 1.0) -> list[tuple[str, str, float]]:
    """Pairs of texts whose boxes overlap by more than ``tolerance`` px both ways."""
    out = []
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            depth = overlap(a.box, b.box)
            if depth > tolerance:
                out.append((a.text, b.text, round(depth, 1)))
    return out


def centre(r: Rect) -> tuple[float, float]:
    return (r[0] + r[2]) / 2, (r[1] + r[3]) / 2


CELLS = """() => Array.from(document.querySelectorAll('svg g.node.value')).map(g => {
  const rect = el => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const outline = g.querySelector('polygon');
  return {id: g.id, box: outline ? rect(outline) : null,
          rules: Array.from(g.querySelectorAll('polyline')).map(rect),
          texts: Array.from(g.querySelectorAll('text')).map(t => ({text: t.textContent, box: rect(t)}))};
})"""


def overflowing(browser: Any, svg: str, head: str = "", tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Texts of record boxes that run out of their cell: past the box's outline, or across a rule
    between two fields.  ``(node id, text)`` pairs."""
    nodes = evaluate_on(browser, svg, head, CELLS)
    bad = []
    for node in nodes:
        if node["box"] is None:
            continue
        x0, y0, x1, y1 = node["box"]
        for t in node["texts"]:
            a, b, c, d = t["box"]
            outside = a < x0 - tolerance or c > x1 + tolerance
            across = any(_crosses(tuple(r), (a, b, c, d), tolerance) for r in node["rules"])
            if outside or across:
                bad.append((node["id"], t["text"]))
    return bad


def _crosses(rule: Rect, text: Rect, tolerance: float) -> bool:
    """Whether a rule between record fields (a vertical or horizontal line) runs through a text."""
    a, b, c, d = text
    if rule[2] - rule[0] < rule[3] - rule[1]:  # vertical
        x = (rule[0] + rule[2]) / 2
        return a + tolerance < x < c - tolerance and min(d, rule[3]) - max(b, rule[1]) > tolerance
    y = (rule[1] + rule[3]) / 2
    return b + tolerance < y < d - tolerance and min(c, rule[2]) - max(a, rule[0]) > tolerance
