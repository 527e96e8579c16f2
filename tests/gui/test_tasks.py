"""The task runner: work runs off the GUI thread; results, errors and cancels come back to it."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QProgressBar, QPushButton
from pytestqt.qtbot import QtBot

from dxa_app.errors import ArchiveError
from dxa_app.gui.tasks import collect_due_garbage, run_task
from dxa_app.progress import CancelToken

pytestmark = pytest.mark.gui


def test_result_progress_and_thread(qtbot: QtBot) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, Any] = {"progress": []}
    bar = QProgressBar()
    qtbot.addWidget(bar)

    def work(progress: Any, cancel: CancelToken) -> int:
        seen["worker_thread"] = threading.get_ident()
        for i in range(1, 4):
            progress(i, 3, f"step {i}")
        return 42

    handle = run_task(
        work,
        on_done=lambda r: seen.__setitem__("result", r),
        on_progress=lambda d, t, m: seen["progress"].append((d, t)),
        progress_bar=bar,
    )
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert seen["result"] == 42 and handle.result == 42
    assert seen["worker_thread"] != gui_thread
    assert seen["progress"] == [(1, 3), (2, 3), (3, 3)]
    assert not bar.isVisible()


def test_error_is_delivered(qtbot: QtBot) -> None:
    errors: list[BaseException] = []

    def work(progress: Any, cancel: CancelToken) -> None:
        raise ArchiveError("broken", "fix it")

    handle = run_task(work, on_done=lambda r: None, on_error=lambda e, tb: errors.append(e))
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert isinstance(errors[0], ArchiveError) and handle.error is errors[0]


def test_cancel_button_stops_the_work(qtbot: QtBot) -> None:
    started = threading.Event()
    cancelled: list[bool] = []
    button = QPushButton("cancel")
    qtbot.addWidget(button)

    def work(progress: Any, cancel: CancelToken) -> None:
        started.set()
        for _ in range(10_000):
            cancel.raise_if_cancelled()
            threading.Event().wait(0.001)

    handle = run_task(
        work,
        on_done=lambda r: None,
        on_cancelled=lambda: cancelled.append(True),
        cancel_button=button,
    )
    assert started.wait(5)
    assert button.isEnabled()
    button.click()
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert cancelled == [True] and not button.isEnabled()


def test_a_job_that_reports_no_progress_shows_a_moving_bar(qtbot: QtBot) -> None:
    """Issue 16: a fit that reports nothing must not sit at 0 %: the bar is busy (0..0)."""
    start = threading.Event()
    finish = threading.Event()
    bar = QProgressBar()
    qtbot.addWidget(bar)

    def work(progress: Any, cancel: CancelToken) -> None:
        assert start.wait(5)
        progress(1, 4, "step 1")
        assert finish.wait(5)

    handle = run_task(work, on_done=lambda r: None, progress_bar=bar)
    # before any report: a busy indicator, never a bar standing at 0 of 1
    assert (bar.minimum(), bar.maximum()) == (0, 0)
    start.set()
    qtbot.waitUntil(lambda: bar.maximum() == 4, timeout=5000)  # now it says how far
    assert bar.value() == 1
    finish.set()
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert not bar.isVisible()


def test_a_report_of_unknown_length_keeps_the_bar_busy(qtbot: QtBot) -> None:
    bar = QProgressBar()
    qtbot.addWidget(bar)
    ranges: list[tuple[int, int]] = []

    def work(progress: Any, cancel: CancelToken) -> None:
        progress(0, 0, "fitting")

    handle = run_task(
        work,
        on_done=lambda r: None,
        on_progress=lambda d, t, m: ranges.append((bar.minimum(), bar.maximum())),
        progress_bar=bar,
    )
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert ranges == [(0, 0)]


def test_work_that_ends_after_its_widget_was_deleted_calls_nothing_back(qtbot: QtBot) -> None:
    """A list loading when its window closes: the result is kept, no deleted widget is touched."""
    from PySide6.QtWidgets import QComboBox, QWidget

    release = threading.Event()
    owner = QWidget()
    combo = QComboBox(owner)
    bar = QProgressBar(owner)
    button = QPushButton(owner)
    touched: list[str] = []

    def work(progress: Any, cancel: CancelToken) -> int:
        release.wait(10)
        progress(1, 1, "done")
        return 7

    def on_done(result: int) -> None:
        touched.append(str(combo.currentData()))  # raises when the combo is gone

    handle = run_task(work, on_done=on_done, progress_bar=bar, cancel_button=button, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(combo), timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert handle.result == 7
    assert touched == []  # pytest-qt fails the test on an exception in a slot


def test_work_for_a_live_owner_calls_back(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    qtbot.addWidget(owner)
    results: list[int] = []
    handle = run_task(lambda p, c: 5, on_done=results.append, owner=owner)
    qtbot.waitUntil(lambda: handle.finished, timeout=5000)
    assert results == [5]


def test_python_collects_garbage_on_the_gui_thread_only(qtbot: QtBot) -> None:
    # a collection on a worker thread can free a Qt wrapper there and deadlock with the GUI
    # thread deleting a widget (a CI run hung so); the worker here makes cycles far past
    # gc's first threshold, and no collection may start on its thread
    gui_thread = threading.get_ident()
    started: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(threading.get_ident())

    def work(progress: Any, cancel: CancelToken) -> int:
        for _ in range(20 * gc.get_threshold()[0]):
            cycle: list[object] = []
            cycle.append(cycle)
        return threading.get_ident()

    gc.callbacks.append(on_gc)
    try:
        handle = run_task(work, on_done=lambda r: None)
        qtbot.waitUntil(lambda: handle.finished, timeout=10000)
        qtbot.waitUntil(lambda: gui_thread in started, timeout=5000)
    finally:
        gc.callbacks.remove(on_gc)
    assert handle.result != gui_thread
    assert handle.result not in started
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0  # what lived at install is not walked by each full pass


def test_collect_due_garbage_waits_for_gc_threshold_then_frees_young_cycles(
    qtbot: QtBot,
) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    run_task(lambda progress, cancel: None, on_done=lambda r: None)  # the GUI's collector is on
    assert not gc.isenabled()
    gc.collect()  # a clean slate: every count at zero
    node = Node()
    gone = weakref.ref(node)
    del node
    assert collect_due_garbage() == 0  # not due yet: nothing collected
    assert gone() is not None  # a cycle: reference counting alone never frees it
    # tracked objects, kept alive, past gc's first threshold
    kept: list[list[object]] = [[] for _ in range(gc.get_threshold()[0] + 10)]
    assert collect_due_garbage() >= 1
    assert gone() is None
    assert len(kept) > 0
