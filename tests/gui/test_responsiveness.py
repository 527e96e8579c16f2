"""An import through the technician workspace runs off the GUI thread, which keeps turning.

Structural, with no duration compared to a limit: the import's work runs on a worker thread,
and while that worker is between its first and its last file the GUI thread's event loop keeps
processing events (a QTimer on the GUI thread fires, and the worker's queued progress reports
reach the progress bar). The longest event-loop gap is a speed figure, printed by
``bench/bench_gui_responsiveness.py``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.gui.technician import ImportPanel
from tests.gui.technician_fixtures import add_test_user

pytestmark = [pytest.mark.gui, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
N_FILES = 300


def test_import_runs_on_a_worker_while_the_gui_thread_keeps_turning(
    qtbot: QtBot, tmp_path: Path
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_import import write_files
    finally:
        sys.path.remove(str(ROOT / "bench"))
    files = write_files(tmp_path / "export", N_FILES)
    assert len(files) == N_FILES
    archive = tmp_path / "a.sqlite"
    open_archive(archive).close()
    session = add_test_user(archive, "tech", Role.TECHNICIAN)
    panel = ImportPanel(session)
    qtbot.addWidget(panel)

    gui_thread = threading.get_ident()
    worker_threads: set[int] = set()
    reported: list[int] = []  # files done, appended on the thread that runs the import
    ticks: list[tuple[int, int, int]] = []  # at each GUI tick: (len(reported), bar value, max)
    tick_threads: set[int] = set()

    def tick() -> None:
        tick_threads.add(threading.get_ident())
        bar = panel.progress_bar
        ticks.append((len(reported), bar.value(), bar.maximum()))

    def on_worker_progress(done: int, total: int, message: str) -> None:
        worker_threads.add(threading.get_ident())
        reported.append(done)

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    handle = panel.start_import([tmp_path / "export"])
    assert handle is not None
    # a direct connection runs in the emitting thread: the one that does the import
    handle.signals.progress.connect(on_worker_progress, Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(lambda: handle.finished, timeout=600_000)  # a hang guard, not a limit
    timer.stop()
    assert handle.error is None, handle.error
    db = open_archive(archive)
    logged = db.execute("SELECT count(*) FROM import_log WHERE status = 'imported'").fetchone()[0]
    db.close()
    assert logged == N_FILES

    # the import ran on one worker thread, the timer on the GUI thread
    assert len(worker_threads) == 1 and gui_thread not in worker_threads
    assert tick_threads == {gui_thread}
    # the GUI thread ticked while the worker was between its first and its last report ...
    during = [t for t in ticks if 0 < t[0] < len(reported)]
    print(f"\n{N_FILES}-file import: {len(reported)} reports, {len(during)} GUI ticks during it")
    assert len(reported) > 100
    assert len(during) >= 3, ticks
    # ... and the worker's queued progress reports reached the GUI thread meanwhile
    assert any(0 < value < maximum for _, value, maximum in during), during


def test_fitting_a_big_tables_columns_reads_the_shown_rows_and_a_few_more(qtbot: QtBot) -> None:
    """An import's result table of 5,000 files is fitted from the rows shown, not all of them."""
    from collections.abc import Sequence

    from dxa_app.gui.common import RESIZE_PRECISION, read_only_table
    from dxa_app.gui.table_model import Column, ObjectTableModel

    class Counted(ObjectTableModel[int]):
        columns: Sequence[Column[int]] = (
            Column(lambda: "n", lambda n: f"file {n}"),
            Column(lambda: "status", lambda n: "imported"),
        )

        def __init__(self) -> None:
            super().__init__(range(5000))
            self.rows_read: set[int] = set()

        def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
            self.rows_read.add(index.row())
            return super().data(index, role)

    model = Counted()
    view = read_only_table(model)
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    model.rows_read.clear()
    view.resizeColumnsToContents()
    assert 0 < len(model.rows_read) <= RESIZE_PRECISION + 50  # the shown rows and 100 more
