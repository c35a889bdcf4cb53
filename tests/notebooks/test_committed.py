"""The committed notebooks are fully executed, in order, small, free of machine details, and name their lectures.

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


def _map_rows(heading: str) -> list[list[str]]:
    """The table rows under `heading` in notebooks/README.md, as lists of cells (header and rule dropped)."""
    text = (NOTEBOOKS / "README.md").read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()]
    return [r for r in rows if len(r) > 1][2:]


LESSON_MAP = {row[0].strip("`"): [t.strip() for t in row[1].split(";")] for row in _map_rows("Lesson map")}
GLOSSARY_HEADING = "Glossary: the lectures' Korean terms and the English used in code"
GLOSSARY = [(row[0], row[2].strip("`")) for row in _map_rows(GLOSSARY_HEADING)]
LECTURE_FILE = re.compile(r"\b\d{3}_[0-9a-f]{16}(\.txt)?\b")
SEED_NUMBER = re.compile(r"\bseeds? 00[0-4]\b", re.IGNORECASE)


def test_every_notebook_is_in_the_lesson_map() -> None:
    assert sorted(LESSON_MAP) == PRESENT


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_names_its_lecture_by_topic_first(name: str) -> None:
    first = _load(name)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = " ".join("".join(first["source"]).split())  # a topic may wrap across lines
    missing = [topic for topic in LESSON_MAP.get(name, []) if topic not in text]
    assert LESSON_MAP.get(name) and not missing, f"{name}: the first cell does not name {missing}"


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_never_names_lecture_files(name: str) -> None:
    text = (NOTEBOOKS / name).read_text(encoding="utf-8")
    found = LECTURE_FILE.search(text)
    assert found is None, f"{name} names the lecture file {found.group(0)!r}; name the lecture by its topic"


@pytest.mark.parametrize("name", PRESENT)
def test_notebook_names_lectures_not_seed_numbers(name: str) -> None:
    sources = "".join("".join(c["source"]) for c in _load(name)["cells"])
    found = SEED_NUMBER.search(sources)
    assert found is None, f"{name} says {found.group(0)!r}; name the lecture by its topic (the map has the numbers)"


@pytest.mark.parametrize(("term", "name"), GLOSSARY)
def test_glossary_term_is_used_where_it_is_introduced(term: str, name: str) -> None:
    sources = "".join("".join(c["source"]) for c in _load(name)["cells"] if c["cell_type"] == "markdown")
    assert term in sources, f"glossary: {term!r} should appear beside its English in {name}"


INTERACTIVE = ("application/vnd.jupyter.widget-view+json", "application/javascript")
STATIC_PICTURES = ("image/svg+xml", "image/png", "image/jpeg")


def _interactive(data: dict) -> bool:
    html = "".join(data.get("text/html", ""))
    return any(k in data for k in INTERACTIVE) or "<script" in html


def _has_static_picture(data: dict) -> bool:
    html = "".join(data.get("text/html", ""))
    return any(k in data for k in STATIC_PICTURES) or "<svg" in html or "<img" in html


@pytest.mark.parametrize("name", PRESENT)
def test_every_interactive_output_carries_a_static_picture(name: str) -> None:
    """Where a widget or a script runs (the stepper), the saved output also shows a picture,
    for readers without a kernel (GitHub, nbviewer) and with scripts off."""
    for i, cell in enumerate(_load(name)["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _interactive(data):
                assert _has_static_picture(data), f"{name}: cell {i + 1} is interactive with no static picture"


def test_the_check_for_static_pictures_can_fail() -> None:
    assert _interactive({"text/html": "<div><script>x()</script></div>"})
    assert not _has_static_picture({"text/html": "<div><script>x()</script></div>"})
    assert _has_static_picture({"text/html": "<script></script><svg></svg>"})
