"""Finding Graphviz: one resolver, used by every render in tracegrad.

Order (the first that exists wins):

1. the ``TRACEGRAD_DOT`` environment variable (a program name or path;
   set ``TRACEGRAD_DOT=dot`` to use a system Graphviz, e.g. for PDF);
2. ``graphviz-pure`` in this environment's scripts folder
   (``sysconfig.get_path("scripts")``, ``graphviz-pure.exe`` on Windows): the
   pinned pure-Rust port, so output is the same on every machine;
3. ``graphviz-pure`` or ``dot`` on ``PATH``.

graphviz-pure writes svg, png, jpeg, json, plain, xdot and dot, but no PDF.

For slides: ``diagram.png(scale=2)`` is a PNG at twice the 100 % size
(Graphviz's 96 dpi × ``scale``: sharp on a projector), and ``diagram.pdf()``
a PDF through a system Graphviz (``TRACEGRAD_DOT=dot``).  Without one,
``pdf()`` raises :class:`PdfUnavailableError`, which says how to get PDF.

:class:`Diagram` is a ``graphviz.Digraph`` whose ``pipe``, ``render`` and
Jupyter display (``_repr_mimebundle_``) go through the resolver instead of
the ``dot`` program the graphviz package would look for.  Building a diagram
and reading its ``.source`` never needs a program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphviz
from graphviz.backend import dot_command

from .frames import write_file

ENV_VAR = "TRACEGRAD_DOT"
TIMEOUT_VAR = "TRACEGRAD_RENDER_TIMEOUT"
DEFAULT_TIMEOUT = 120.0  # seconds; diagrams within max_nodes lay out in seconds (see viz.limits)

INSTALL_HINT = (
    "tracegrad needs a Graphviz program to render diagrams and found none. "
    "Install the pinned one with `python -m pip install graphviz-pure==0.2.2` "
    "(it ships with tracegrad), or install Graphviz (https://graphviz.org/download/, "
    "e.g. `apt-get install graphviz`, `brew install graphviz`) and make sure `dot` is on "
    f"PATH, or point {ENV_VAR} at a dot-compatible program. "
    "The DOT source (`diagram.source`) works without any program."
)

# graphviz-pure's text metrics cover ASCII only; it says so once per glyph on
# stderr.  Harmless (the layout is still fine), so it is not echoed.
_HARMLESS = ("no value for width of non-ASCII character",)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """No Graphviz program was found (a ``RuntimeError``); the message says how to get one."""

    def __init__(self, detail: str = "") -> None:
        RuntimeError.__init__(self, f"{INSTALL_HINT}{' ' + detail if detail else ''}")


PDF_HINT = (
    "To get PDF, install Graphviz (https://graphviz.org/download/, e.g. `apt-get install graphviz`, "
    f"`brew install graphviz`) and set {ENV_VAR}=dot; or export SVG (diagram.svg(), or "
    "render(outfile='g.svg')) and convert it (e.g. `rsvg-convert -f pdf g.svg -o g.pdf`, or Inkscape), "
    "or use a PNG at slide size: diagram.png('g.png', scale=2)."
)
DEFAULT_DPI = 96.0  # Graphviz's PNG resolution at 100 %
MAX_SCALE = 10.0


class PdfUnavailableError(graphviz.CalledProcessError):
    """The Graphviz program cannot write PDF (graphviz-pure has none); the message says how to get it.

    A ``subprocess.CalledProcessError``, as other failed renders are.
    """

    def __init__(self, program: str, returncode: int, cmd: list[str], stderr: str) -> None:
        super().__init__(returncode, cmd, stderr=stderr)
        detail = f": {stderr.strip().splitlines()[-1]}" if stderr.strip() else ""
        self.message = f"{program} cannot write PDF{detail}. {PDF_HINT}"

    def __str__(self) -> str:
        return self.message


class RenderTimeoutError(RuntimeError):
    """Graphviz did not finish within the render timeout; the message suggests ``collapse=``."""


def render_timeout() -> float:
    """Seconds a render may take: ``TRACEGRAD_RENDER_TIMEOUT`` (a positive number), default 120."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0.0 or seconds == float("inf"):
        raise ValueError(f"{TIMEOUT_VAR} must be a positive number of seconds, got {raw!r}")
    return seconds


def _exe(name: str) -> str:
    return f"{name}.exe" if sys.platform == "win32" else name


def find_dot() -> str:
    """The Graphviz program tracegrad renders with (see the module docstring for the order).

    Raises :class:`GraphvizNotFoundError` when none is found, or when
    ``TRACEGRAD_DOT`` names a program that does not exist.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        found = shutil.which(override) or (override if os.path.isfile(override) else None)
        if found is None:
            raise GraphvizNotFoundError(f"({ENV_VAR}={override!r} is not an existing program.)")
        return found
    scripts = sysconfig.get_path("scripts")
    if scripts:
        pinned = Path(scripts) / _exe("graphviz-pure")
        if pinned.is_file():
            return str(pinned)
    for name in ("graphviz-pure", "dot"):
        found = shutil.which(name)
        if found:
            return found
    raise GraphvizNotFoundError()


def _command(engine: str, format: str, renderer: str | None, formatter: str | None,
             neato_no_op: bool | int | None) -> list[str]:
    cmd = dot_command.command(engine, format, renderer=renderer, formatter=formatter,
                              neato_no_op=neato_no_op)
    return [find_dot(), *(os.fspath(c) for c in cmd[1:])]


def _run(cmd: list[str], data: bytes | None, quiet: bool, cwd: str | None = None) -> bytes:
    """Run Graphviz; :class:`RenderTimeoutError` (the program killed) past :func:`render_timeout`."""
    timeout = render_timeout()
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, cwd=cwd, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RenderTimeoutError(
            f"{Path(cmd[0]).name} did not finish laying out the diagram in {timeout:g} s (stopped). "
            "Draw fewer boxes: collapse='neuron' or collapse='layer' draws one box per nn module, "
            f"or draw a smaller part of the graph; or set {TIMEOUT_VAR} to wait longer"
        ) from None
    except OSError as exc:
        raise GraphvizNotFoundError(f"(running {cmd[0]!r} failed: {exc})") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        fmt = next((c[2:] for c in cmd if c.startswith("-T")), "?")
        if fmt.split(":")[0] == "pdf":
            raise PdfUnavailableError(Path(cmd[0]).name, proc.returncode, cmd, stderr)
        raise graphviz.CalledProcessError(proc.returncode, cmd, output=proc.stdout, stderr=stderr.strip())
    if not quiet:
        lines = [ln for ln in stderr.splitlines() if ln and not any(h in ln for h in _HARMLESS)]
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")
    return proc.stdout


def pipe_source(source: str, format: str = "svg", *, engine: str = "dot",
                quiet: bool = False) -> bytes:
    """Render DOT ``source`` with the resolved program; return the output bytes."""
    cmd = _command(engine, format, None, None, None)
    return _run(cmd, source.encode("utf-8"), quiet)


def _pipe_lines(engine: str, format: str, input_lines: Iterator[str], *,
                input_encoding: str, renderer: str | None = None, formatter: str | None = None,
                neato_no_op: bool | int | None = None, quiet: bool = False) -> bytes:
    cmd = _command(engine, format, renderer, formatter, neato_no_op)
    return _run(cmd, "".join(input_lines).encode(input_encoding), quiet)


def _pipe_lines_string(engine: str, format: str, input_lines: Iterator[str], *,
                       encoding: str, renderer: str | None = None, formatter: str | None = None,
                       neato_no_op: bool | int | None = None, quiet: bool = False) -> str:
    raw = _pipe_lines(engine, format, input_lines, input_encoding=encoding, renderer=renderer,
                      formatter=formatter, neato_no_op=neato_no_op, quiet=quiet)
    return raw.decode(encoding)


def _render(engine: str, format: str | None = None, filepath: Any = None,
            renderer: str | None = None, formatter: str | None = None,
            neato_no_op: bool | int | None = None, quiet: bool = False, *,
            outfile: Any = None, raise_if_result_exists: bool = False,
            overwrite_filepath: bool = False) -> str:
    from graphviz.backend import rendering

    if filepath is None:
        raise ValueError("render needs the path of the saved DOT source")
    filepath = Path(filepath)
    if outfile is not None:
        outfile = Path(outfile)
        format = rendering.get_format(outfile, format=format)
        if not overwrite_filepath and outfile.resolve() == filepath.resolve():
            raise ValueError(f"outfile {outfile.name!r} must be different from the input file "
                             f"{filepath.name!r} (pass overwrite_source=True to override)")
    elif format is None:
        raise ValueError("render needs a format (e.g. format='svg') or an outfile with a suffix")
    else:
        outfile = rendering.get_outfile(filepath, format=format, renderer=renderer,
                                        formatter=formatter)
    if raise_if_result_exists and outfile.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
    cmd = _command(engine, format, renderer, formatter, neato_no_op)
    cmd += ["-o", str(outfile.resolve()), str(filepath.resolve())]
    _run(cmd, None, quiet)
    return os.fspath(outfile)


class Diagram(graphviz.Digraph):
    """A ``graphviz.Digraph`` rendered through :func:`find_dot`.

    ``.source`` is the DOT text (no program needed); ``.pipe(format="svg")``,
    ``.render(outfile="g.png")`` and Jupyter's inline display run the program
    the resolver finds.
    """

    @property
    def _pipe_lines(self) -> Any:  # type: ignore[override]
        return _pipe_lines

    @property
    def _pipe_lines_string(self) -> Any:  # type: ignore[override]
        return _pipe_lines_string

    @property
    def _render(self) -> Any:  # type: ignore[override]
        return _render

    def __repr__(self) -> str:
        # deterministic (no memory address), so saved notebook outputs stay clean
        return f"Diagram({self.name or 'graph'!r}, {len(self.body)} statements)"

    def svg(self) -> str:
        """The diagram as an SVG string (rendered by the resolved program)."""
        return self.pipe(format="svg", encoding="utf-8")

    def png(self, path: str | os.PathLike[str] | None = None, *, scale: float = 1.0) -> bytes:
        """The diagram as PNG at ``scale`` × its 100 % size: dpi = 96 × ``scale``.

        ``scale=2`` (192 dpi) or 3 for slides and projectors; ``path`` also
        writes the file.  ``scale`` must be a number in (0, 10].
        """
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not 0.0 < scale <= MAX_SCALE:
            raise ValueError(f"png: scale must be a number in (0, {MAX_SCALE:g}], got {scale!r}")
        sized = self.copy()
        base = float(sized.graph_attr.get("dpi", DEFAULT_DPI))
        sized.graph_attr["dpi"] = f"{base * scale:g}"
        data = sized.pipe(format="png")
        if path is not None:
            write_file(Path(path), data)
        return data

    def pdf(self, path: str | os.PathLike[str] | None = None) -> bytes:
        """The diagram as PDF (vector), through a Graphviz that has PDF (``TRACEGRAD_DOT=dot``).

        Raises :class:`PdfUnavailableError` when the program has no PDF
        (graphviz-pure); its message names the ways to get one.
        """
        data = self.pipe(format="pdf")
        if path is not None:
            write_file(Path(path), data)
        return data
