"""A 2,000-file import through the technician workspace keeps the window responsive."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.gui.technician import ImportPanel
from tests.gui.technician_fixtures import add_test_user

pytestmark = [pytest.mark.gui, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_longest_event_loop_gap_during_a_2000_file_import(qtbot: QtBot, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_import import write_files
    finally:
        sys.path.remove(str(ROOT / "bench"))
    files = write_files(tmp_path / "export", 2000)
    assert len(files) == 2000
    archive = tmp_path / "a.sqlite"
    open_archive(archive).close()
    session = add_test_user(archive, "tech", Role.TECHNICIAN)
    panel = ImportPanel(session)
    qtbot.addWidget(panel)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    handle = panel.start_import([tmp_path / "export"])
    assert handle is not None
    qtbot.waitUntil(lambda: handle.finished, timeout=600_000)
    timer.stop()
    assert handle.error is None, handle.error
    db = open_archive(archive)
    logged = db.execute("SELECT count(*) FROM import_log WHERE status = 'imported'").fetchone()[0]
    db.close()
    assert logged == 2000
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    longest = max(gaps)
    print(f"\n2,000-file import: {len(ticks)} ticks, longest gap {1000 * longest:.0f} ms")
    assert longest < 0.200
