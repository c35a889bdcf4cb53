"""Korean labels draw correctly: Graphviz boxes wide enough for Hangul (graphviz-pure measures
each non-ASCII byte as a space), and plots with a font that has the glyphs."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from tracegrad.engine import Value
from tracegrad.viz import draw_flow, draw_graph, plot_history, plots, text, use_hangul_font
from tracegrad.viz.text import record_text, wide_padding

from tests.support import IN_CI
from tests.viz.browser import chromium, measure, overflowing, overlapping

WORDS = "나는 오늘 집에 간다"  # notebook 08's sentence


def font_file() -> Any:
    """NanumGothic from koreanize-matplotlib (the notebooks extra): skip without it, fail in CI."""
    path = plots.hangul_font_file()
    if path is None:
        if IN_CI:
            pytest.fail("koreanize-matplotlib is required in CI (CI=true) but is not installed")
        pytest.skip("koreanize-matplotlib not installed")
    return path


def korean_graph() -> Value:
    """The RNN's words as labels: inputs, a weight and a computed value."""
    x, w = Value(1.0, "나는"), Value(0.5, "W_ih[오늘]")
    h = (x * w + Value(0.25, "집에")).tanh()
    h.label = WORDS
    h.backward()
    return h


def test_wide_text_is_padded_on_both_sides_and_ascii_is_not() -> None:
    assert wide_padding("x1") == (0, 0) and record_text("x1") == "x1"
    assert wide_padding("나는") == (0, 1)  # 2 wide characters: 1.2 spaces = 1 no-break space (2 bytes)
    assert wide_padding(WORDS) == (1, 2)  # 8 wide characters: 4.8 spaces = 3 no-break spaces
    assert record_text(WORDS) == "\u00a0나는 오늘 집에 간다\u00a0\u00a0"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def web_font(path: Any) -> bytes:
    """The font without its VTT source tables (TSI*): Chromium's font sanitizer rejects NanumGothic's
    empty TSI3.  They hold hinting sources only; the glyphs and widths are untouched."""
    tt_lib = pytest.importorskip("fontTools.ttLib")
    font = tt_lib.TTFont(str(path))
    for tag in [t for t in font.keys() if t.startswith("TSI")]:
        del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def hangul_css() -> str:
    return hangul_head()


def hangul_head() -> str:
    """A page head loading NanumGothic as a fallback for the SVG's Helvetica (a system with a
    Hangul font falls back to its own the same way)."""
    data = base64.b64encode(web_font(font_file())).decode()
    return ("<style>@font-face { font-family: 'TG Hangul'; src: url(data:font/ttf;base64," + data + "); }"
            "svg text { font-family: Helvetica, 'TG Hangul', sans-serif; }</style>")


@pytest.mark.parametrize("draw", [
    pytest.param(lambda: draw_graph(korean_graph(), rankdir="TB"), id="graph-rows"),
    pytest.param(lambda: draw_graph(korean_graph(), rankdir="LR"), id="graph-stacked"),
    pytest.param(lambda: draw_flow(korean_graph()), id="flow"),
])
def test_korean_labels_fit_their_boxes_and_do_not_overlap(browser: Any, hangul_css: str, draw: Any) -> None:
    svg = draw().svg()
    head = hangul_css
    pic = measure(browser, svg, head)
    (words,) = [t for t in pic.texts if WORDS in t.text]
    assert words.box[2] - words.box[0] >= 8 * 0.9 * words.px  # Hangul drawn full width: the font is in
    assert overflowing(browser, svg, head) == []
    assert overlapping(pic.texts) == []


def test_without_the_padding_the_korean_label_overflows(browser: Any, hangul_css: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: Graphviz's own estimate leaves the sentence wider than its cell."""
    monkeypatch.setattr(text, "WIDE_PAD", 0.0)
    svg = draw_graph(korean_graph(), rankdir="TB").svg()
    assert any(WORDS in t for _, t in overflowing(browser, svg, hangul_css))


def _glyph_warnings(fig: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_a_plot_with_korean_labels_has_every_glyph() -> None:
    font_file()
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    fig = plot_history({"loss": [1.0, 0.5], "metrics": {"정확도": [0.5, 0.9]}}, title=WORDS)
    assert _glyph_warnings(fig) == []
    fig, ax = matplotlib.pyplot.subplots()
    ax.set_xlabel("시간 t")  # a label of one's own, then use_hangul_font
    assert _glyph_warnings(fig)  # DejaVu Sans alone has no Hangul: the check can fail
    assert _glyph_warnings(use_hangul_font(fig)) == []
    assert ax.xaxis.label.get_fontfamily()[-1] == plots.HANGUL_FONT  # Latin keeps its own font


def test_without_the_font_package_a_korean_plot_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    monkeypatch.setattr(plots, "hangul_font_file", lambda: None)
    fig, ax = matplotlib.pyplot.subplots()
    ax.set_title(WORDS)
    with pytest.warns(UserWarning, match="koreanize-matplotlib"):
        use_hangul_font(fig)
    ax.set_title("no Korean here")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        use_hangul_font(fig)  # nothing to do: no warning
