"""``python -m dxa_app <command>`` runs the CLI (the console entry of the bundle too)."""

from dxa_app.cli import main

raise SystemExit(main())
