"""python -m tracegrad.viz demo|step ...: the same as the tracegrad command (see viz.cli)."""

from .cli import main

raise SystemExit(main())
