"""``python -m betty_telemetry``: the same CLI as the ``betty-telemetry`` command."""

from __future__ import annotations

from betty_telemetry.cli.main import main

raise SystemExit(main())
