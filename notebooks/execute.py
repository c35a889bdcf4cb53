"""Regenerate the lecture notebooks in place: one top-to-bottom run each (`make notebooks`).

    python notebooks/execute.py [NOTEBOOK ...]

Each notebook runs in a fresh kernel with the notebooks folder as its working
directory, so committed outputs show the diagrams and numbers when browsing
the repository.  Fails (exit 1) on the first cell that raises.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def execute(path: Path, timeout: int = 300) -> float:
    """Run one notebook top to bottom in a fresh python3 kernel and save it in place."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    for cell in nb.cells:  # no timestamps: a re-run that changes nothing leaves no diff
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(HERE)}}
    )
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        try:
            seconds = execute(path)
        except Exception as exc:  # report which notebook failed, then stop
            print(f"FAILED {path.name}: {exc}", file=sys.stderr)
            return 1
        print(f"executed {path.name} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
