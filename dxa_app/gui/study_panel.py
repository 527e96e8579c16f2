"""Study view: per region raw and harmonised BMD, T, Z, category, inclusion; the study's images.

The results (regions, notes, the image list) are on the left, the scan image viewer (zoom,
window/level) beside them on the right; choosing a row of the image list shows that image.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import StudySummary
from dxa_app.gui.common import read_only_table
from dxa_app.gui.image_viewer import ScanImageViewer
from dxa_app.gui.labels import (
    category_text,
    format_date,
    format_iso_date,
    number,
    region_text,
    sex_code_text,
)
from dxa_app.gui.technician_models import RegionScoreModel, StudyImageModel
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _
from dxa_app.services import browse
from dxa_app.services.auth import Permission, Session
from dxa_app.services.images import not_understood_line, study_image_pixels
from dxa_app.services.workbench import StudyDetail, study_detail


def study_description(s: StudySummary) -> str:
    """Return a one-line description of a study for pickers and titles."""
    return f"{format_date(s.study_date)} — {s.patient_name} ({s.patient_identifier}) — {s.serial}"


#: Studies the picker lists at a time (the newest that match what was typed).
PICKER_PAGE: Final = 100
#: Milliseconds after the last key before the picker's list is searched again.
SEARCH_DELAY_MS: Final = 250


class StudyPanel(Workspace):
    """Pick a study and see its scores per region and its images.

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``.
    """

    #: Emitted with (study id, study UID, description) when "Enter VFA" is clicked.
    vfa_requested = Signal(int, str, str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.studies: list[StudySummary] = []
        self.detail: StudyDetail | None = None
        self.current: StudySummary | None = None
        self.search = QLineEdit()
        self.search.setObjectName("studySearch")
        self.search.setClearButtonEnabled(True)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.refresh_list_only)
        self.search.textChanged.connect(lambda _text: self.search_timer.start())
        self.search.returnPressed.connect(self._search_now)
        self.picker = QComboBox()
        self.picker.setObjectName("studyPicker")
        self.picker.setMinimumContentsLength(30)
        self.picker.activated.connect(self._on_picked)
        self.match_label = QLabel()
        self.match_label.setObjectName("studyMatches")
        self.picker_label = QLabel()
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        self.diagnosis_label = QLabel()
        self.diagnosis_label.setWordWrap(True)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.region_model = RegionScoreModel(parent=self)
        self.region_view = read_only_table(self.region_model)
        self.region_view.setObjectName("regionTable")
        self.images_title = QLabel()
        self.image_model = StudyImageModel(parent=self)
        self.image_view = read_only_table(self.image_model)
        self.image_view.setObjectName("imageTable")
        self.image_view.selectionModel().selectionChanged.connect(self._on_image_row)
        self.viewer = ScanImageViewer()
        self.viewer.setObjectName("scanImageViewer")
        self.vfa_button = QPushButton()
        self.vfa_button.setEnabled(False)
        self.vfa_button.clicked.connect(self._request_vfa)

        top = QHBoxLayout()
        top.addWidget(self.picker_label)
        top.addWidget(self.search)
        top.addWidget(self.picker, 1)
        top.addWidget(self.match_label)
        top.addWidget(self.vfa_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.title_label)
        layout.addWidget(self.diagnosis_label)
        results = QWidget()
        left = QVBoxLayout(results)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.region_view, 3)
        left.addWidget(self.notes_label)
        left.addWidget(self.images_title)
        left.addWidget(self.image_view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(results)
        self.splitter.addWidget(self.viewer)
        # the results' eight columns fit at 1366 px; the viewer zooms what it is given
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 1)
        layout.addWidget(self.splitter, 1)
        self.retranslate()

    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.picker_label.setText(_("Study"))
        self.search.setPlaceholderText(_("Search CPR or name..."))
        # the hint must show whole (the line edit's margins and clear button beside it)
        hint = self.search.fontMetrics().horizontalAdvance(self.search.placeholderText())
        self.search.setMinimumWidth(hint + 48)
        self.search.setToolTip(
            _("The list shows the newest studies whose patient's CPR or name matches.")
        )
        self._show_matches()
        self.vfa_button.setText(_("Enter VFA reading..."))
        self.images_title.setText(_("Images"))
        self.region_model.retranslate()
        self.image_model.retranslate()
        self.viewer.retranslate()
        self._show_detail()

    def refresh(self) -> None:
        """Reload the picker: the newest studies matching the search box (one page, from SQL).

        The archive may hold a hundred thousand studies: the picker never lists them all;
        typing a CPR (or its beginning) or a name narrows the list as one types.
        """
        text = self.search.text().strip()
        studies = self.call(lambda session: browse.studies(session, search=text, limit=PICKER_PAGE))
        if studies is None:
            return
        self.studies = list(studies)
        self._fill_picker()
        if self.current is not None:
            self.show_study(self.current.id)

    def _fill_picker(self) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for s in self.studies:
            self.picker.addItem(study_description(s), s.id)
        self.picker.setCurrentIndex(-1)
        self.picker.blockSignals(False)
        self._show_matches()

    def _show_matches(self) -> None:
        n = len(self.studies)
        if n == 0:
            text = _("No study matches.") if self.search.text().strip() else ""
        elif n >= PICKER_PAGE:
            text = _("The newest {n} shown: type to narrow.").format(n=n)
        else:
            text = _("{n} studies").format(n=n) if n != 1 else _("1 study")
        self.match_label.setText(text)

    def _search_now(self) -> None:
        self.search_timer.stop()
        self.refresh_list_only()
        if len(self.studies) == 1:  # Enter on a unique match opens it
            self.show_study(self.studies[0].id)

    def _on_picked(self, index: int) -> None:
        if 0 <= index < len(self.studies):
            self.show_study(self.studies[index].id)

    def show_study(self, study_id: int) -> bool:
        """Show one study's scores and images; return False when it cannot be shown."""
        summary = next((s for s in self.studies if s.id == study_id), None)
        if summary is None:  # opened from elsewhere (a list, QC): put it at the top
            found = self.call(lambda session: browse.studies(session, study_id=study_id))
            if found:
                summary = found[0]
                self.studies.insert(0, summary)
                self._fill_picker()
        detail = self.call(lambda session: study_detail(session, study_id))
        if detail is None:
            return False
        self.current = summary
        self.detail = detail
        if summary is not None:
            index = self.picker.findData(study_id)
            self.picker.setCurrentIndex(index)
        self.region_model.set_rows(detail.scores.regions)
        self.image_model.set_rows(detail.images)
        pixels = self.call(lambda session: study_image_pixels(session, study_id))
        self.viewer.set_images(pixels or [])
        self.region_view.resizeColumnsToContents()
        self.image_view.resizeColumnsToContents()
        self.vfa_button.setEnabled(self.session.may(Permission.VFA_ENTRY))
        self._show_detail()
        return True

    def _on_image_row(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        """Show the image of the chosen row of the image list in the viewer."""
        indexes = selected.indexes()
        if self.detail is not None and indexes:
            row = indexes[0].row()
            if 0 <= row < len(self.detail.images):
                self.viewer.select(self.detail.images[row].sop_instance_uid)

    def refresh_list_only(self) -> None:
        """Reload the picker's list without re-showing the current study."""
        current = self.current
        self.current = None
        self.refresh()
        self.current = current

    def description(self) -> str:
        """Return the description of the shown study (empty when none)."""
        if self.current is not None:
            return study_description(self.current)
        if self.detail is not None:
            return f"{self.detail.scores.study_date} — {self.detail.scores.patient}"
        return ""

    def _show_detail(self) -> None:
        d = self.detail
        if d is None:
            self.title_label.setText(_("Choose a study above or double-click one in Patients."))
            self.diagnosis_label.setText("")
            self.notes_label.setText("")
            return
        s = d.scores
        self.title_label.setText(
            _("Study of {date}: patient {patient}, {sex}, age {age}; {kind}-scores.").format(
                date=format_iso_date(s.study_date),
                patient=s.patient,
                sex=sex_code_text(s.sex) or "-",
                age="-" if s.age is None else f"{s.age:.0f}",
                kind=s.score_kind,
            )
        )
        diag = s.diagnosis
        if diag is None:  # e.g. a whole-body study: values shown, no diagnosis (see notes)
            text = _("No diagnosis: no diagnostic region has a score.")
        else:
            text = _("Diagnosis: {category} (deciding region {region}, score {score}).").format(
                category=category_text(str(diag.category)),
                region=region_text(diag.deciding_region) if diag.deciding_region else "-",
                score="-" if diag.printed_score is None else number(diag.printed_score, 1),
            )
        if s.near_threshold:
            text += " " + _("Near threshold: category uncertain.")
        self.diagnosis_label.setText(text)
        notes = list(s.notes)
        if s.exclusion_hints:
            notes.append(
                _("Vertebrae to consider excluding: {hints}.").format(
                    hints=", ".join(s.exclusion_hints)
                )
            )
        if s.fractured_vertebrae:
            notes.append(
                _(
                    "Vertebral fracture of grade 2-3 on the VFA reading at {levels}: consider"
                    " excluding {levels} from the lumbar spine BMD."
                ).format(levels=", ".join(s.fractured_vertebrae))
            )
        if not s.harmonised:
            notes.append(_("Not every region is harmonised."))
        not_understood = not_understood_line(d.images)
        if not_understood is not None:
            notes.append(not_understood)
        if d.measurements:  # hip structure, body composition...: shown, never diagnostic
            shown = "; ".join(
                f"{m.source_table} {m.label} {m.name} {m.value:g} {m.unit}".replace("  ", " ")
                for m in d.measurements[:12]
            )
            more = " …" if len(d.measurements) > 12 else ""
            notes.append(
                _("Further measurements (not used for the diagnosis): {values}.").format(
                    values=shown.strip() + more
                )
            )
        self.notes_label.setText(" ".join(notes))

    def _request_vfa(self) -> None:
        if self.detail is not None:
            self.vfa_requested.emit(
                self.detail.scores.study_id, self.detail.scores.study_uid, self.description()
            )
