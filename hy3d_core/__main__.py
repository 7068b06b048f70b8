"""``python -m hy3d_core``: the command line (``hy3d_core/cli/``)."""

from .cli import main

raise SystemExit(main())
