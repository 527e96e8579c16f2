"""The Qt binding's work-arounds: calls from Python never use up ``None``, ``True`` or ``False``."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

_MANY_CALLS = """
import dxa_app.gui  # applies the work-arounds
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QProgressBar

class Sender(QObject):
    ping = Signal(int, int, str)

app = QApplication([])
sender, bar = Sender(), QProgressBar()
bar.setMaximum(200_000)
for i in range(200_000):  # an import of 200,000 files: progress emitted and shown
    sender.ping.emit(i, 200_000, "file")
    bar.setValue(i)
print("done")
"""


def test_a_long_run_of_qt_calls_does_not_abort_the_interpreter() -> None:
    """More progress updates than None and True have references in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", _MANY_CALLS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "_dealloc" not in proc.stderr


_MANY_DISCONNECTS = """
import warnings
import dxa_app.gui  # applies the work-arounds
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

class Sender(QObject):
    ping = Signal()

def slot() -> None:
    pass

app = QApplication([])
sender = Sender()
warnings.simplefilter("ignore")  # "Failed to disconnect"
for _ in range(50_000):  # a long session's disconnects, half of them of a slot already gone
    sender.ping.connect(slot)
    sender.ping.disconnect(slot)
    sender.ping.disconnect(slot)
print("done")
"""


def test_failed_disconnects_do_not_abort_the_interpreter_at_exit() -> None:
    """Without the spare references of ``False`` this aborts at exit with ``bool_dealloc``."""
    proc = subprocess.run(
        [sys.executable, "-c", _MANY_DISCONNECTS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "Fatal Python error" not in proc.stderr and "_dealloc" not in proc.stderr


def test_the_work_arounds_apply_only_where_needed() -> None:
    from dxa_app.gui import qt_fixes

    applied = qt_fixes.apply()  # already applied on import: the same answer
    old_python = sys.version_info < (3, 12)
    assert applied == {
        "None": old_python and qt_fixes.void_call_drops_none(),
        "True": old_python and qt_fixes.emit_drops_true(),
        "False": old_python and qt_fixes.disconnect_drops_false(),
    }
    for name, target in (("None", None), ("True", True), ("False", False)):
        if applied[name]:
            assert sys.getrefcount(target) > qt_fixes.SPARE_REFERENCES // 2
