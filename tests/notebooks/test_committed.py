"""The committed notebooks are fully executed, in order, small, and free of machine details.

Their outputs are what people see when browsing the repository, so they must
be the result of one clean top-to-bottom run (`make notebooks`).  Executing
them is nbmake's job (`make test` runs `pytest --nbmake ... notebooks`).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = [
    "01_perceptron.ipynb",
    "02_backprop_by_hand.ipynb",
    "03_gate_rules.ipynb",
    "04_activations.ipynb",
    "05_mlp_from_scratch.ipynb",
    "06_tensor_path.ipynb",
    "07_window_classifier.ipynb",
    "08_rnn_and_neural_lm.ipynb",
    "09_gradients_of_gradients.ipynb",
    "10_gradient_descent.ipynb",
    "11_loss_and_information.ipynb",
]
PRESENT = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
MACHINE_DETAILS = re.compile(r"0x[0-9a-fA-F]{6,}|/work/|/root/|/home/|/tmp/|/Users/|\.venv/|site-packages")


def test_every_lecture_has_its_notebook() -> None:
    assert PRESENT == EXPECTED


def _should_show_output(source: str) -> bool:
    """A cell that prints, displays, or ends in a bare expression (not silenced by ';')."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return False
    if not tree.body:
        return False
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    ends_in_expression = isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";")
    return ends_in_expression or bool(calls & {"print", "display"})


def _load(name: str) -> dict:
    return json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_is_fully_executed_in_order(name: str) -> None:
    cells = [c for c in _load(name)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{name}: run `make notebooks` (counts {counts})"
    for i, cell in enumerate(cells):
        if _should_show_output("".join(cell["source"])):
            assert cell["outputs"], f"{name}: code cell {i + 1} should show its result but has no output"
        for out in cell["outputs"]:
            assert out.get("output_type") != "error", f"{name}: code cell {i + 1} was saved with an error"


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_is_small_and_has_no_machine_details(name: str) -> None:
    path = NOTEBOOKS / name
    assert path.stat().st_size < 2 * 1024 * 1024, f"{name} is over 2 MB"
    nb = _load(name)
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            text = json.dumps({k: v for k, v in out.items() if k != "data"}) + json.dumps(
                {k: v for k, v in out.get("data", {}).items() if k.startswith("text/")}
            )
            found = MACHINE_DETAILS.search(text)
            assert found is None, f"{name}: cell {i + 1} output contains {found.group(0)!r}"


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_names_its_lecture_first(name: str) -> None:
    first = _load(name)["cells"][0]
    assert first["cell_type"] == "markdown"
    assert re.search(r"seed[s]? 00[0-4]|00[0-4]_[0-9a-f]{16}", "".join(first["source"])), name
