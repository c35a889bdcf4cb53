"""The Graphviz resolver and the Diagram that renders through it."""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from pathlib import Path

import graphviz
import pytest
from tracegrad.viz import dot
from tracegrad.viz.dot import Diagram, GraphvizNotFoundError, find_dot

PINNED = Path(sysconfig.get_path("scripts")) / ("graphviz-pure.exe" if sys.platform == "win32"
                                                 else "graphviz-pure")


def small() -> Diagram:
    g = Diagram("t")
    g.node("a", "alpha", id="a", **{"class": "value"})
    g.node("b", "beta", id="b")
    g.edge("a", "b", id="e0")
    return g


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEGRAD_DOT", str(PINNED))
    assert find_dot() == str(PINNED)


def test_env_var_naming_a_missing_program_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEGRAD_DOT", "/nonexistent/dot-xyz")
    with pytest.raises(GraphvizNotFoundError, match="TRACEGRAD_DOT='/nonexistent/dot-xyz'"):
        find_dot()


def test_pinned_program_from_scripts_folder_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEGRAD_DOT", raising=False)
    assert PINNED.is_file(), "graphviz-pure is a dependency of tracegrad"
    assert find_dot() == str(PINNED)


def test_path_fallback_then_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRACEGRAD_DOT", raising=False)
    monkeypatch.setattr(dot.sysconfig, "get_path", lambda name: str(tmp_path / "noscripts"))
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert find_dot() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GraphvizNotFoundError, match="pip install graphviz-pure"):
        find_dot()
    # the DOT source still works without any program
    assert "alpha" in small().source
    with pytest.raises(RuntimeError, match="found none"):
        small().pipe(format="svg")


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX shell wrapper")
def test_every_render_goes_through_the_resolver(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "mydot"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{PINNED}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("TRACEGRAD_DOT", str(wrapper))
    g = small()
    assert "<svg" in g.pipe(format="svg", encoding="utf-8")
    assert "image/svg+xml" in g._repr_mimebundle_()
    out = g.render(outfile=tmp_path / "g.png")
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    calls = log.read_text().splitlines()
    assert len(calls) == 3 and all("-Kdot" in c for c in calls)
    assert "-Tpng" in calls[2]


def test_svg_keeps_ids_and_classes() -> None:
    svg = small().svg()
    assert 'id="a"' in svg and 'class="node value"' in svg and 'id="e0"' in svg


def test_pdf_is_not_available_from_graphviz_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEGRAD_DOT", raising=False)
    if os.path.basename(find_dot()).startswith("graphviz-pure"):
        with pytest.raises(graphviz.CalledProcessError, match="TRACEGRAD_DOT=dot"):
            small().pipe(format="pdf")
