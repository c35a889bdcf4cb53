"""``python -m tests.fuzz``: the long fuzz run of ``make fuzz`` (budget: ``TRACEGRAD_FUZZ``, default 12,000).

Prints one line per fuzzer (scalar, tensor, traced, validate) and the totals (graphs, mismatches, seconds), then
every mismatch; exits 1 if there was any.
"""

from __future__ import annotations

import sys
import time

from tests.fuzz.budget import LONG, budget, shares
from tests.fuzz.scalar import fuzz_scalar
from tests.fuzz.tensor import fuzz_tensor
from tests.fuzz.traced import fuzz_traced, fuzz_validate

SHOWN = 20  # mismatches printed in full


def main() -> int:
    """Run the three fuzzers on the long budget; print their figures."""
    n = shares(budget(LONG))
    start = time.perf_counter()
    reports = []
    for fuzz, share in ((fuzz_scalar, "scalar"), (fuzz_tensor, "tensor"), (fuzz_traced, "traced"),
                        (fuzz_validate, "validate")):
        reports.append(fuzz(n[share]))
        print(reports[-1].line(), flush=True)
    mismatches = [m for r in reports for m in r.mismatches]
    print(f"fuzz: {sum(r.cases for r in reports):,} graphs and programs, {len(mismatches)} mismatches, "
          f"{time.perf_counter() - start:.1f} s")
    for m in mismatches[:SHOWN]:
        print("  MISMATCH", m)
    if len(mismatches) > SHOWN:
        print(f"  ... and {len(mismatches) - SHOWN} more")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
