"""Commands start light: the `scores` and `info` paths do not load the heavy libraries."""

from __future__ import annotations

import json
import os
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


#: Loaded by the archive library or the entry point, not needed to show scores (slow imports).
LAZY = ("numpy", "pandas", "importlib.metadata", "multiprocessing", "sqlite_utils", "click")
#: Standard-library and third-party modules of a few milliseconds each that a command loads
#: only when it needs them (the help's width, --debug, a warning, a new archive's id, keys
#: as files).
LAZY_SMALL = (
    "shutil",
    "uuid",
    "logging",
    "traceback",
    "cryptography.hazmat.primitives.serialization",
)

_PROBE_MAIN = """
import json, sys
from dxa_app.cli import build_parser, registered_commands
registered_commands()
build_parser()
import dxa_app.services.browse, dxa_app.services.scoring, dxa_app.archive.db
import dxa_app.services.tickets, dxa_app.archive.seal, dxa_app.archive.images
print(json.dumps(sorted(m for m in {lazy!r} if m in sys.modules)))
"""


def test_the_command_path_leaves_numpy_and_package_metadata_unloaded() -> None:
    # the archive is plain sqlite3 (no sqlite-utils with its numpy and click), and the
    # version is read from package metadata only for --version
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE_MAIN.format(lazy=LAZY + LAZY_SMALL)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_numpy_loaded_after_the_archive_still_works_with_it(tmp_path: Path) -> None:
    # the archive stores numpy numbers from a fit as before, and --version still answers
    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys; from dxa_app.archive import open_archive; import numpy as np;"
        f" db = open_archive({str(tmp_path / 'a.sqlite')!r});"
        " db.execute('CREATE TEMP TABLE t (x REAL)');"
        " db.execute('INSERT INTO t VALUES (?)', [np.float64(0.25)]);"
        " print(db.execute('SELECT x FROM t').fetchone()[0], 'numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["0.25", "True"]
    version = subprocess.run(
        [sys.executable, "main.py", "--version"], cwd=root, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("dxa ")


_PROBE_WINDOW = """
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication(["dxa"])
from dxa_app.gui.main_window import MainWindow
window = MainWindow()
window.show()
app.processEvents()
before = "dxa_app.archive.db" in sys.modules
import dxa_app.services.auth  # as the log-in then does: the archive, still without numpy
print(json.dumps([before, "numpy" in sys.modules, "dxa_app.archive.db" in sys.modules]))
"""


def test_the_window_shows_before_the_archive_loads_and_that_loads_without_numpy(
    tmp_path: Path,
) -> None:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE_WINDOW],
        cwd=root,
        env={**os.environ, "DXA_SETTINGS_DIR": str(tmp_path), "DXA_NO_DIALOGS": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False, True]
