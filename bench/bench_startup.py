"""Print the time from process start to the first shown window: our app vs a bare QMainWindow."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(["bare"])
w = QMainWindow(); w.resize(1024, 700); w.show()
def shown():
    print("shown", flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""

OURS = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(["dxa"])
from dxa_app.gui.main_window import MainWindow
w = MainWindow()
w.show()
def shown():
    print("shown", flush=True)
    if len(sys.argv) > 1:  # as the app does: the archive loads right after the first show
        w.open_archive(sys.argv[1])
        print("archive", flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def _time(code: str, *args: str, runs: int = 7, marker: str = "shown") -> float:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "DXA_NO_DIALOGS": "1",
    }
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(marker):
                times.append(time.perf_counter() - t0)
                break
        proc.wait()
    return statistics.median(times)


def main() -> None:
    """Median of 7 runs each; with the demo archive opened when one is given as argv[1]."""
    archive = sys.argv[1] if len(sys.argv) > 1 else ""
    bare = _time(BARE)
    ours = _time(OURS, *([archive] if archive else []))
    print(f"bare QMainWindow first shown: {1000 * bare:7.1f} ms (median of 7)")
    print(f"our main window first shown:  {1000 * ours:7.1f} ms (median of 7)")
    print(f"ratio: {ours / bare:.2f} (target <= 2)")
    if archive:
        loaded = _time(OURS, archive, marker="archive")
        print(f"... and the demo archive's patient and study lists loaded: {1000 * loaded:7.1f} ms")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
