"""The application exits cleanly: a session through every workspace, then File > Quit, exit 0.

Each run is its own interpreter (offscreen), so the exit is the real one: the event loop ends,
:func:`dxa_app.gui.app.run_window` shuts down in order and the interpreter finalizes. A
reference-count fault of the Qt binding shows here as "Fatal Python error: bool_dealloc" on
stderr and an abort instead of exit code 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dxa_app.domain import Role

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]

#: Log in, go through every workspace tab a few rounds (each loads its lists off the GUI
#: thread), open and close the About box and (administrator) the settings dialog, sign out
#: of nothing: quit with the application's own Quit action.
_SESSION = """
import faulthandler
import sys

# a session that hangs prints every thread's stack and ends, so the test says where
faulthandler.dump_traceback_later(240, exit=True)
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import dxa_app.gui  # the binding's work-arounds, as the application applies them
from dxa_app.domain import Role
from dxa_app.gui import settings as ui_settings
from dxa_app.gui.app import run_window
from dxa_app.gui.main_window import MainWindow
from tests.sessions import session_as

archive, role, rounds = Path(sys.argv[1]), Role(sys.argv[2]), int(sys.argv[3])
app = QApplication(["dxa"])
session = session_as(archive, role, f"exit_{role}")
window = MainWindow(ui_settings.make_settings(), session=session)
window.show()


def close_dialogs() -> None:
    for widget in QApplication.topLevelWidgets():
        if widget is not window and widget.isVisible():
            widget.close()


steps = []
for _round in range(rounds):
    for i in range(window.tabs.count()):
        steps.append(lambda i=i: window.tabs.setCurrentIndex(i))
    for workspace in window.workspaces.values():
        steps.append(getattr(workspace, "refresh", lambda: None))
    steps.append(window.show_about)
    steps.append(close_dialogs)
    steps.append(window.open_settings)
    steps.append(close_dialogs)
steps.append(window.quit_action.trigger)


def busy() -> bool:
    return any(getattr(w, "busy", lambda: False)() for w in window.workspaces.values())


def next_step() -> None:
    if busy():
        QTimer.singleShot(20, next_step)
        return
    if steps:
        steps.pop(0)()
        QTimer.singleShot(20, next_step)


QTimer.singleShot(0, next_step)
code = run_window(app, window)
print(f"exited {code} with {len(steps)} steps left")
sys.exit(code)
"""


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PHYSICIAN, Role.TECHNICIAN])
def test_a_session_ends_with_a_clean_exit(demo_archive: Path, tmp_path: Path, role: Role) -> None:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(ROOT),
        DXA_SETTINGS_DIR=str(tmp_path / "ui"),
        DXA_NO_DIALOGS="1",
        DXA_LANG="en",
    )
    for _run in range(2):  # the fault was intermittent: more than one exit
        proc = subprocess.run(
            [sys.executable, "-c", _SESSION, str(demo_archive), str(role), "2"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert "Fatal Python error" not in proc.stderr, proc.stderr[-3000:]
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().endswith("exited 0 with 0 steps left"), proc.stdout
