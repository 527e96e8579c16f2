"""Print the longest event-loop gap of the GUI thread while the app imports 2,000 files.

The technician workspace's import panel imports on a worker thread; a 10 ms QTimer on the GUI
thread records each time it fires, from the start of the import until it has finished. The
gaps between ticks are how long the window could not react. The structural check (the import
runs off the GUI thread, which keeps processing events) is tests/gui/test_responsiveness.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DXA_NO_DIALOGS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_import import write_files
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.gui.technician import ImportPanel
from tests.sessions import session_as


def measure(folder: Path, archive: Path) -> tuple[float, list[float], int]:
    """Import ``folder`` through the import panel; seconds, tick times and files imported."""
    panel = ImportPanel(session_as(archive, Role.TECHNICIAN, "tech"))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    t0 = time.perf_counter()
    timer.start()
    handle = panel.start_import([folder])
    if handle is None:
        raise SystemExit("the import did not start")
    task = handle

    def quit_when_finished() -> None:
        if task.finished:
            loop.quit()

    poll.timeout.connect(quit_when_finished)
    poll.start()
    loop.exec()  # the app's own event loop, as in the running window
    seconds = time.perf_counter() - t0
    timer.stop()
    poll.stop()
    if handle.error is not None:
        raise SystemExit(f"the import failed: {handle.error}")
    db = open_archive(archive)
    try:
        imported = int(
            db.execute("SELECT count(*) FROM import_log WHERE status = 'imported'").fetchone()[0]
        )
    finally:
        db.close()
    return seconds, ticks, imported


def main(argv: Sequence[str] | None = None) -> None:
    """Write the files, import them through the panel and print the gaps."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000, help="number of files (2000)")
    args = parser.parse_args(argv)
    _app = QApplication.instance() or QApplication(sys.argv[:1])  # kept alive until the end
    with tempfile.TemporaryDirectory(prefix="dxa-bench-") as tmp:
        folder = Path(tmp) / "files"
        files = write_files(folder, args.files)
        seconds, ticks, imported = measure(folder, Path(tmp) / "bench.sqlite")
    gaps = sorted(b - a for a, b in pairwise(ticks))
    print(f"{len(files)}-file import through the panel: {seconds:.1f} s, {imported} imported")
    print(f"GUI ticks (10 ms timer): {len(ticks)}")
    print(f"median gap: {1000 * statistics.median(gaps):7.1f} ms")
    print(f"99th percentile gap: {1000 * gaps[int(0.99 * (len(gaps) - 1))]:7.1f} ms")
    print(f"longest event-loop gap: {1000 * gaps[-1]:7.1f} ms")


if __name__ == "__main__":
    main()
