"""Commands start light: the `scores` and `info` paths do not load the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Libraries that only some commands need (the network, PDFs, plots, fits, the GUI).
HEAVY = ("scipy", "reportlab", "pynetdicom", "pyqtgraph", "highdicom", "PySide6", "pyhanko")

_PROBE = """
import json, sys
from dxa_app.cli import build_parser, registered_commands
registered_commands()
build_parser()
import dxa_app.services.browse, dxa_app.services.scoring
from dxa_app.cli import commands, calibration_commands
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def test_scores_and_info_import_paths_leave_heavy_modules_unloaded() -> None:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
