"""The fuzz suite: seeded random programs against PyTorch float64, HIPS autograd and the dynamic engine.

``TRACEGRAD_FUZZ`` sets the budget (scalar graphs; tensor and traced programs
get a share of it).  ``make test`` runs the small default through pytest;
``make fuzz`` runs ``python -m tests.fuzz`` with a long budget and prints the
counts.  Every case comes from ``random.Random(seed)`` / ``numpy`` generators
seeded by its number, so a mismatch is reproduced by its seed alone.
"""
