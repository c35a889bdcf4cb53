"""Saving keeps file modes and cleans up after killed saves; loading builds the class the file names, never another."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tracegrad import nn
from tracegrad.nn.module import Module, class_name


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- file modes and orphaned temporaries


def test_a_new_file_gets_the_umask_default_and_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    old = os.umask(0o022)
    try:
        assert mode(model.save(tmp_path / "new.json")) == 0o644  # 0666 minus the umask, as open() gives
        existing = tmp_path / "shared.json"
        existing.write_text("{}")
        existing.chmod(0o664)
        model.save(existing)
        assert mode(existing) == 0o664
        existing.chmod(0o600)
        model.save(existing)
        assert mode(existing) == 0o600
    finally:
        os.umask(old)


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    pid = int(dead.stdout)  # a process that has exited: its save can never finish
    target = tmp_path / "m.json"
    orphan = tmp_path / f".m.json.{pid}.deadbeef.tmp"
    orphan.write_text('{"half a file')
    running = tmp_path / f".m.json.{os.getpid()}.cafef00d.tmp"  # a save of this process, still in progress
    running.write_text("")
    other = tmp_path / f".other.json.{pid}.deadbeef.tmp"  # another file's temporary: not ours to remove
    other.write_text("")
    nn.MLP(2, [1], seed=0).save(target)
    assert not orphan.exists() and running.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, running.name, other.name])


# ---------------------------------------------------------------- the class registry


def test_a_user_class_with_a_builtin_name_never_replaces_the_builtin(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1))
    path = net.save(tmp_path / "net.json")
    x = np.array([[0.5, -1.0]])

    class Linear(nn.Module):  # a notebook exercise: the student's own Linear
        def __init__(self, nin: int, nout: int, **kw: Any) -> None:
            self.nin, self.nout = nin, nout

        def forward(self, x: Any) -> Any:
            return x * 0.0

        def config(self) -> dict[str, Any]:
            return {"nin": self.nin, "nout": self.nout}

    class MLP(nn.Module):
        def config(self) -> dict[str, Any]:
            return {}

    same = nn.Sequential.load(path)
    assert all(type(layer) is not Linear for layer in same.layers)
    np.testing.assert_array_equal(same(x).data, net(x).data)
    mlp_path = nn.MLP(2, [1], seed=0).save(tmp_path / "mlp.json")
    assert type(nn.MLP.load(mlp_path)) is nn.MLP
    # the user's classes are saved, and found, under their qualified names
    assert class_name(Linear) == f"{__name__}.{Linear.__qualname__}" and class_name(nn.Linear) == "Linear"
    mine = MLP().save(tmp_path / "mine.json")
    assert json.loads(mine.read_text())["class"].endswith("<locals>.MLP")
    assert type(Module.load(mine)) is MLP
    with pytest.raises(ValueError, match=r"holds a .*<locals>\.MLP, not a MLP"):
        nn.MLP.load(mine)


def test_private_classes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "private.json"
    path.write_text(json.dumps({"format": "tracegrad-model", "version": 1, "class": "_Activation", "config": {},
                                "num_parameters": 0, "weights": {}}))
    with pytest.raises(ValueError, match="unknown module class '_Activation'"):
        Module.load(path)
    qualified = "tracegrad.nn.layers._Activation"
    path.write_text(path.read_text().replace('"_Activation"', f'"{qualified}"'))
    with pytest.raises(ValueError, match="private"):
        Module.load(path)
