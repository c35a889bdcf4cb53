"""The fuzz budget (``TRACEGRAD_FUZZ``) and the report every fuzzer returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENV_VAR = "TRACEGRAD_FUZZ"
DEFAULT = 120  # scalar graphs under `make test`: a few seconds for all three fuzzers
LONG = 12_000  # `make fuzz`


def budget(default: int = DEFAULT) -> int:
    """How many scalar graphs to fuzz: ``TRACEGRAD_FUZZ`` (a positive int), else ``default``."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return default
    try:
        n = int(raw.replace("_", ""))
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR} must be a positive int (scalar graphs to fuzz), got {raw!r}")
    return n


def shares(n: int) -> dict[str, int]:
    """The cases per fuzzer for a budget of ``n`` scalar graphs (tensor: n/2, traced and validate: n/3)."""
    return {"scalar": n, "tensor": max(1, n // 2), "traced": max(1, n // 3), "validate": max(1, n // 3)}


@dataclass
class Report:
    """What a fuzzer did: cases run, cases skipped (and why), mismatches (seed: what differed)."""

    name: str
    cases: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def line(self) -> str:
        skipped = sum(self.skipped.values())
        extra = "".join(f", {v:,} {k}" for k, v in self.extra.items())
        return (f"{self.name}: {self.cases:,} cases ({skipped:,} skipped{extra}), "
                f"{len(self.mismatches)} mismatches, {self.seconds:.1f} s")
