"""``python -m tests.fuzz``: the long fuzz run of ``make fuzz`` (budget: ``TRACEGRAD_FUZZ``, default 12,000).

Prints one line per fuzzer and the totals (graphs, mismatches, seconds), then
every mismatch; exits 1 if there was any.
"""

from __future__ import annotations

import sys
import time

from tests.fuzz.budget import LONG, budget, shares
from tests.fuzz.scalar import fuzz_scalar
from tests.fuzz.tensor import fuzz_tensor
from tests.fuzz.traced import fuzz_traced


def main() -> int:
    """Run the three fuzzers on the long budget; print their figures."""
    n = shares(budget(LONG))
    start = time.perf_counter()
    reports = []
    for fuzz, cases in ((fuzz_scalar, n["scalar"]), (fuzz_tensor, n["tensor"]), (fuzz_traced, n["traced"])):
        reports.append(fuzz(cases))
        print(reports[-1].line(), flush=True)
    mismatches = [m for r in reports for m in r.mismatches]
    print(f"fuzz: {sum(r.cases for r in reports):,} graphs and programs, {len(mismatches)} mismatches, "
          f"{time.perf_counter() - start:.1f} s")
    for m in mismatches:
        print("  MISMATCH", m)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
