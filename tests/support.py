"""Shared test helpers: optional reference libraries that CI must have."""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(module: str) -> ModuleType:
    """Import an optional reference library; skip without it, but fail in CI (CI=true)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{module} is required in CI (CI=true) but is not installed")
        pytest.skip(f"{module} not installed")
        raise


def require_program(path: str) -> str:
    """A program that must exist in CI (CI=true); skip elsewhere when absent."""
    found = shutil.which(path) or (path if os.path.exists(path) else None)
    if found is None:
        if IN_CI:
            pytest.fail(f"{path} is required in CI (CI=true) but was not found")
        pytest.skip(f"{path} not found")
    return found
