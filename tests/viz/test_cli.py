"""`tracegrad demo` end to end into a temporary folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tracegrad import __version__, nn
from tracegrad.viz.cli import EXAMPLES, OUTPUTS, classic_neuron, live_neuron, main

from tests.support import require
from tests.viz.helpers import groups, parse_svg, texts


def test_demo_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("matplotlib")
    require("sklearn")
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--epochs", "3", "--samples", "30",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for name in OUTPUTS:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert f"wrote {path}" in printed
    assert "backprop.html in a browser" in printed
    graph = parse_svg((out / "graph.svg").read_text(encoding="utf-8"))
    assert len(groups(graph, "op-mul")) == 2 and len(groups(graph, "op-relu")) == 1
    flow = parse_svg((out / "flow.svg").read_text(encoding="utf-8"))
    assert groups(flow, "legend")
    net = parse_svg((out / "network.svg").read_text(encoding="utf-8"))
    assert len(groups(net, "weight")) == 2 * 16 + 16 * 16 + 16
    assert (out / "boundary.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "backprop.html").read_text(encoding="utf-8")
    assert "step 1 of 14" in page and "<svg" in page


def test_bad_arguments_exit_with_a_message(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--epochs", "0"]) == 1
    assert "--epochs >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bogus"])


def test_python_dash_m_viz(tmp_path: Path) -> None:
    require("matplotlib")
    proc = subprocess.run([sys.executable, "-m", "tracegrad.viz", "demo", "--out", str(tmp_path),
                           "--epochs", "1", "--samples", "20"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and (tmp_path / "backprop.html").is_file()


@pytest.mark.parametrize("where", ["file", "inside-file"])
def test_out_at_or_inside_a_file_is_one_line_and_exit_2(tmp_path: Path, where: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me", encoding="utf-8")
    out = taken if where == "file" else taken / "out"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--no-progress"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(taken) in err and "file" in err
    assert "training" not in captured.out  # refused before any work
    assert taken.read_text(encoding="utf-8") == "keep me"


def test_out_problem_exits_2_from_the_console_script(tmp_path: Path) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tracegrad.viz", "demo", "--out", str(taken / "x")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def _box_texts(svg: Path) -> dict[str, list[str]]:
    """Each value box's texts (label, data, grad), by id."""
    root = parse_svg(svg.read_text(encoding="utf-8"))
    return {g.get("id") or "": texts(g) for g in groups(root, "value")}


def test_demo_graph_and_flow_show_one_live_gradient(tmp_path: Path) -> None:
    """The flagship pictures: gradient flows on every weight, and graph.svg agrees with flow.svg."""
    require("matplotlib")
    require("sklearn")
    assert main(["demo", "--out", str(tmp_path), "--epochs", "3", "--samples", "30",
                 "--no-progress"]) == 0
    flow = parse_svg((tmp_path / "flow.svg").read_text(encoding="utf-8"))
    wires = [g for g in groups(flow, "flow") if (g.get("id") or "").startswith("e")]
    assert len(wires) >= 5  # into two products, the sum (with the bias) and the ReLU: none dead
    assert not [g.get("id") for g in wires if "dead" in g.get("class", "").split()]
    graph_boxes, flow_boxes = _box_texts(tmp_path / "graph.svg"), _box_texts(tmp_path / "flow.svg")
    assert graph_boxes and graph_boxes == flow_boxes  # same data, same grad, box by box
    grads = [t for box in flow_boxes.values() for t in box if t.startswith("grad ")]
    assert any(t != "grad 0.0" for t in grads)


def test_live_neuron_skips_a_dead_relu() -> None:
    X = [[1.0, 1.0], [2.0, 2.0]]
    model = nn.MLP(2, [2, 1], seed=0)
    first, second = model.layers[0].neurons
    for a, b in zip(first.w, second.w):
        a.data, b.data = -1.0, 1.0
    second.b.data = -3.0  # first: dead on both points; second: live on the second point only
    assert live_neuron(model, X) == (1, 1)
    assert all(p.grad == 0.0 for p in model.parameters())
    second.b.data = -10.0
    with pytest.raises(RuntimeError, match="dead"):
        live_neuron(model, X)


# ---------------------------------------------------------------- tracegrad step, --version, --help


def _backward_steps(page: str) -> list[str]:
    """The page's static backward steps (the text each ``<li>`` holds), in order."""
    return re.findall(r'<li class="tg-step" data-mode="backward" data-step="\d+">(.*?)</li>', page, re.S)


def test_step_writes_the_page_for_an_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pages" / "step.html"
    assert main(["step", "x*w + b", "--values", "x=2,w=-3,b=1", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    steps = _backward_steps(out.read_text(encoding="utf-8"))
    assert len(steps) == 2  # the add gate, then the mul gate
    first = steps[0]
    assert "backward step 1 of 2 · add gate" in first  # step 1 is the root's gate
    assert "<mi>out</mi><mo>=</mo>" in first and "<mn>−5.0</mn>" in first and "<mi>b</mi>" in first
    assert "mul gate" in steps[1] and "<mi>x</mi>" in steps[1] and "<mi>w</mi>" in steps[1]


def test_step_example_221_walks_the_lecture_network(tmp_path: Path) -> None:
    out = tmp_path / "221.html"
    assert main(["step", "--example", "221", "--out", str(out)]) == 0
    steps = _backward_steps(out.read_text(encoding="utf-8"))
    assert len(steps) == 14 and "backward step 1 of 14" in steps[0]


def test_every_example_builds_and_neuron_is_the_classic_one(tmp_path: Path) -> None:
    assert set(EXAMPLES) >= {"221", "neuron"}
    for name in EXAMPLES:
        assert main(["step", "--example", name, "--out", str(tmp_path / f"{name}.html")]) == 0
    o = classic_neuron()
    assert o.label == "o" and o.op == "tanh" and abs(o.data - 0.7071) < 1e-4


@pytest.mark.parametrize(("argv", "names"), [
    (["x*w + q", "--values", "x=2,w=-3"], ["'q' has no value", "column 7"]),
    (["x*w", "--values", "x=2,w=-3,b=1"], ["values given for b", "does not use"]),
    (["x*w", "--values", "x=2,w"], ["'w' has no '='"]),
    (["x*w", "--values", "x=2,w=abc"], ["'abc' is not a number"]),
    (["x.real * w", "--values", "x=2,w=1"], ["attribute access", "column 1", "'x.real'"]),
    (["x[0] * w", "--values", "x=2,w=1"], ["a subscript", "'x[0]'"]),
    (["x * (lambda: w)", "--values", "x=2,w=1"], ["'lambda: w' at column 6", "a lambda"]),
    (["tanh(x, w=1)", "--values", "x=2,w=1"], ["keyword arguments", "'w=1'"]),
    (["sin(x) * w", "--values", "x=2,w=1"], ["function 'sin' is not allowed", "column 1"]),
    (["x * * w", "--values", "x=2,w=1"], ["syntax error", "column"]),
    (["x", "--values", "x=2"], ["no gate to step through"]),
    ([], ["give an expression"]),
    (["x", "--example", "221"], ["takes no expression"]),
])
def test_step_refuses_bad_input_with_one_line_and_exit_2(tmp_path: Path, argv: list[str], names: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "step.html"
    assert main(["step", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tracegrad step: ") and err.count("\n") == 1 and "Traceback" not in err
    for part in names:
        assert part in err
    assert not out.exists()


def test_step_out_that_is_a_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["step", "--example", "neuron", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_step_from_the_console_script(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tracegrad.viz", "step", "relu(x) * log(y)", "--values",
                           "x=2,y=0", "--out", str(tmp_path / "s.html")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "log(y)" in proc.stderr and "column 11" in proc.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tracegrad {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["step", "--help"]])
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: tracegrad" in text
    assert "``" not in text and ":func:" not in text and ":class:" not in text
