"""``python -m tracegrad.viz demo [--out DIR]``: the same as the ``tracegrad`` command."""

from .cli import main

raise SystemExit(main())
