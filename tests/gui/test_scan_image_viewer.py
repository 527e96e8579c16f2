"""Issue 16: the study view shows the stored scan images beside the results, with window/level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from dxa_app.domain import Role
from dxa_app.gui.study_panel import StudyPanel
from dxa_app.services.browse import studies
from dxa_app.services.images import window
from dxa_app.services.importing import import_paths
from tests.dicom_study import COLUMNS, ROWS, put_gradient, stored_gradient, write_study
from tests.sessions import session_as

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture
def panel(tmp_path: Path, qtbot: QtBot) -> StudyPanel:
    written = write_study(tmp_path / "in")
    put_gradient(written.files[0])
    archive = tmp_path / "a.dxa.sqlite"
    import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [tmp_path / "in"])
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    widget = StudyPanel(tech)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    widget.refresh()
    (study,) = studies(tech)
    assert widget.show_study(study.id)
    return widget


def test_the_spine_image_is_shown_in_its_stored_window(panel: StudyPanel) -> None:
    viewer = panel.viewer
    assert viewer.view.isVisible() and not viewer.message.isVisible()
    assert [viewer.picker.itemText(i) for i in range(viewer.picker.count())] == [
        "AP spine image",
        "Hip image, left",
        "VFA image",
    ]
    shown = viewer.displayed()
    assert shown is not None and shown.shape == (ROWS, COLUMNS)
    values = 2.0 * stored_gradient() - 100.0
    assert np.array_equal(shown, window(values, 150, 300))
    assert (shown[0, 0], shown[1, 62], shown[ROWS - 1, COLUMNS - 1]) == (0, 128, 255)
    assert (viewer.level_value.text(), viewer.width_value.text()) == ("150", "300")
    # the viewer sits beside the results, not under them
    results = panel.region_view.mapTo(panel, panel.region_view.rect().topLeft())
    image = viewer.mapTo(panel, viewer.rect().topLeft())
    assert image.x() > results.x() + panel.region_view.width() - 5


def test_window_and_level_change_the_displayed_pixels(panel: StudyPanel) -> None:
    viewer = panel.viewer
    before = viewer.displayed()
    assert before is not None
    viewer.set_window(150, 40)  # 130 to 170: a hard contrast
    narrow = viewer.displayed()
    assert narrow is not None and not np.array_equal(narrow, before)
    assert (narrow[0, 57], narrow[1, 62], narrow[0, 68]) == (0, 128, 255)
    # moving the level slider to its top makes the image darker everywhere
    viewer.level_slider.setValue(viewer.level_slider.maximum())
    darker = viewer.displayed()
    assert darker is not None and viewer.center == pytest.approx(374.0)
    assert int(darker.sum()) < int(narrow.sum()) and darker[0, 68] == 0
    viewer.reset_button.click()
    after = viewer.displayed()
    assert after is not None and np.array_equal(after, before)


def test_the_wheel_zooms_in(panel: StudyPanel) -> None:
    viewer = panel.viewer
    (x0, x1), _ = viewer.box.viewRange()
    viewport = viewer.view.viewport()
    centre = QPointF(viewport.rect().center())
    for _step in range(3):
        event = QWheelEvent(
            centre,
            QPointF(viewport.mapToGlobal(centre.toPoint())),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(viewport, event)
    (z0, z1), _ = viewer.box.viewRange()
    assert (z1 - z0) < (x1 - x0) * 0.8  # zoomed in
    viewer.fit_button.click()
    (f0, f1), _ = viewer.box.viewRange()
    assert (f1 - f0) == pytest.approx(x1 - x0, rel=0.05)


def test_choosing_an_image_row_shows_that_image(panel: StudyPanel) -> None:
    hip_row = next(i for i, r in enumerate(panel.detail.images) if r.kind == "hip_image")  # type: ignore[union-attr]
    panel.image_view.selectionModel().select(
        panel.image_model.index(hip_row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert panel.viewer.picker.currentText() == "Hip image, left"
    shown = panel.viewer.displayed()
    assert shown is not None and shown.shape == (64, 64)


def test_a_missing_file_is_said_in_place_of_the_image(panel: StudyPanel, tmp_path: Path) -> None:
    for p in (tmp_path / "a.dxa.sqlite-images").rglob("*.dcm"):
        p.unlink()
    assert panel.show_study(panel.current.id)  # type: ignore[union-attr]
    viewer = panel.viewer
    assert not viewer.view.isVisible() and viewer.message.isVisible()
    assert "missing" in viewer.message.text()
    assert not viewer.level_slider.isEnabled()


def test_an_archive_moved_without_its_image_store_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    """Renamed without its -images folder: the viewer names the missing store and its path."""
    from dxa_app import i18n

    written = write_study(tmp_path / "in")
    put_gradient(written.files[0])
    archive = tmp_path / "a.dxa.sqlite"
    import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [tmp_path / "in"])
    moved = tmp_path / "moved" / "renamed.dxa.sqlite"
    moved.parent.mkdir()
    archive.rename(moved)  # the user moved the file only; a-images stays behind
    tech = session_as(moved, Role.TECHNICIAN, "tech")
    i18n.set_language("da")
    widget = StudyPanel(tech)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    widget.refresh()
    (study,) = studies(tech)
    assert widget.show_study(study.id)
    viewer = widget.viewer
    assert not viewer.view.isVisible() and viewer.message.isVisible()
    expected = moved.parent / "renamed.dxa.sqlite-images"
    assert viewer.message.text().startswith(f"Billedlageret mangler: {expected}.")
