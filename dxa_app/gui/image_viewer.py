"""The study view's scan image viewer: one stored image at a time, zoom and window/level.

The pixels come from :func:`dxa_app.services.images.study_image_pixels` (the service reads the
stored DICOM file); this widget only windows them for display with
:func:`dxa_app.services.images.window` and shows the 8-bit result in a pyqtgraph view: the
mouse wheel zooms, dragging pans, "Fit" shows the whole image again, and the two sliders set
the window's level (centre) and width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.labels import image_kind_text, number, side_text
from dxa_app.i18n import _
from dxa_app.services.images import ImagePixels, window

#: Slider positions across a value range (the window is set exactly by :meth:`set_window`).
_STEPS = 1000


def image_title(image: ImagePixels) -> str:
    """Return how an image is named in the viewer's picker ("Hip image, left")."""
    text = image_kind_text(image.kind)
    side = side_text(image.side)
    return f"{text}, {side}" if side else text


class ScanImageViewer(QWidget):
    """Shows one of a study's stored images with zoom and window/level.

    Parameters
    ----------
    parent : QWidget, optional
        The owner.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: list[ImagePixels] = []
        self.current: ImagePixels | None = None
        self.center = 0.0
        self.width_ = 1.0
        self._low = 0.0
        self._high = 1.0
        self.picker = QComboBox()
        self.picker.setObjectName("imagePicker")
        self.picker.currentIndexChanged.connect(self._on_picked)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setObjectName("imageView")
        self.view.setBackground("k")
        self.view.setMinimumSize(220, 220)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        self.message = QLabel()
        self.message.setObjectName("imageMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.level_label = QLabel()
        self.width_label = QLabel()
        self.level_value = QLabel()
        self.width_value = QLabel()
        self.level_slider = QSlider(Qt.Orientation.Horizontal)
        self.level_slider.setObjectName("levelSlider")
        self.width_slider = QSlider(Qt.Orientation.Horizontal)
        self.width_slider.setObjectName("widthSlider")
        for slider in (self.level_slider, self.width_slider):
            slider.setRange(0, _STEPS)
            slider.valueChanged.connect(self._on_slider)
        self.fit_button = QPushButton()
        self.fit_button.clicked.connect(self.fit)
        self.reset_button = QPushButton()
        self.reset_button.clicked.connect(self.reset_window)
        self.hint = QLabel()
        self.hint.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.picker, 1)
        top.addWidget(self.fit_button)
        top.addWidget(self.reset_button)
        grid = QGridLayout()
        grid.addWidget(self.level_label, 0, 0)
        grid.addWidget(self.level_slider, 0, 1)
        grid.addWidget(self.level_value, 0, 2)
        grid.addWidget(self.width_label, 1, 0)
        grid.addWidget(self.width_slider, 1, 1)
        grid.addWidget(self.width_value, 1, 2)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message, 1)
        layout.addLayout(grid)
        layout.addWidget(self.hint)
        self.retranslate()
        self.set_images([])

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.level_label.setText(_("Level"))
        self.width_label.setText(_("Width"))
        self.fit_button.setText(_("Fit"))
        self.fit_button.setToolTip(_("Show the whole image"))
        self.reset_button.setText(_("Reset window"))
        self.reset_button.setToolTip(_("Back to the window stored with the image"))
        self.hint.setText(_("Wheel: zoom. Drag: move. Sliders: level and width of the window."))
        index = self.picker.currentIndex()
        self.picker.blockSignals(True)
        for i, image in enumerate(self.images):
            self.picker.setItemText(i, image_title(image))
        self.picker.setCurrentIndex(index)
        self.picker.blockSignals(False)
        self._show_values()
        if not self.images:
            self.message.setText(_("No image is stored for this study."))

    def set_images(self, images: Sequence[ImagePixels]) -> None:
        """Offer these images and show the first (or say that there is none)."""
        self.images = list(images)
        self.picker.blockSignals(True)
        self.picker.clear()
        for image in self.images:
            self.picker.addItem(image_title(image), image.sop_instance_uid)
        self.picker.blockSignals(False)
        self.picker.setEnabled(len(self.images) > 1)
        if self.images:
            # the first image that can be shown (a structured report has no pixels)
            first = next((i for i, im in enumerate(self.images) if im.values is not None), 0)
            self.picker.setCurrentIndex(first)
            self.show_image(first)
        else:
            self.current = None
            self.item.clear()
            self._show_state(_("No image is stored for this study."))

    def show_image(self, index: int) -> None:
        """Show image ``index`` of the offered ones in its stored window, fitted to the view."""
        if not 0 <= index < len(self.images):
            return
        image = self.images[index]
        self.current = image
        if image.values is None:
            self.item.clear()
            self._show_state(image.problem or _("The image cannot be shown."))
            return
        self._low = float(image.values.min())
        self._high = float(image.values.max())
        if self._high <= self._low:
            self._high = self._low + 1.0
        self._show_state("")
        self.set_window(image.center, image.width)
        self.fit()

    def select(self, sop_instance_uid: str) -> bool:
        """Show the image with this SOP Instance UID; return False when it is not offered."""
        index = self.picker.findData(sop_instance_uid)
        if index < 0:
            return False
        self.picker.setCurrentIndex(index)
        return True

    def set_window(self, center: float, width: float) -> None:
        """Set the window (level ``center``, ``width``) and redraw the image."""
        self.center = float(center)
        self.width_ = max(float(width), 1.0)
        span = self._high - self._low
        for slider, position in (
            (self.level_slider, (self.center - self._low) / span),
            (self.width_slider, self.width_ / (2.0 * span)),
        ):
            slider.blockSignals(True)
            slider.setValue(round(min(max(position, 0.0), 1.0) * _STEPS))
            slider.blockSignals(False)
        self._redraw()

    def reset_window(self) -> None:
        """Go back to the window stored with the image."""
        if self.current is not None and self.current.values is not None:
            self.set_window(self.current.center, self.current.width)

    def fit(self) -> None:
        """Zoom so that the whole image is seen."""
        if self.current is not None and self.current.values is not None:
            self.box.autoRange(padding=0.02)

    def displayed(self) -> np.ndarray[Any, np.dtype[np.uint8]] | None:
        """Return the grey levels shown now (rows x columns), None when no image is shown."""
        image = self.item.image
        return None if image is None else np.asarray(image, dtype=np.uint8)

    def _on_picked(self, index: int) -> None:
        self.show_image(index)

    def _on_slider(self, _value: int) -> None:
        span = self._high - self._low
        self.center = self._low + self.level_slider.value() / _STEPS * span
        self.width_ = max(self.width_slider.value() / _STEPS * 2.0 * span, 1.0)
        self._redraw()

    def _redraw(self) -> None:
        image = self.current
        if image is None or image.values is None:
            return
        self.item.setImage(window(image.values, self.center, self.width_), levels=(0, 255))
        self._show_values()

    def _show_values(self) -> None:
        shown = self.current is not None and self.current.values is not None
        self.level_value.setText(number(self.center, 0) if shown else "")
        self.width_value.setText(number(self.width_, 0) if shown else "")

    def _show_state(self, message: str) -> None:
        """Show the image (no message) or the message in its place."""
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.view.setVisible(not message)
        has_image = not message
        for widget in (self.level_slider, self.width_slider, self.fit_button, self.reset_button):
            widget.setEnabled(has_image)
        self._show_values()
