"""VFA entry: a T4-L4 column; keys 0-3 grade, W/B/C morphology, N not evaluable, Up/Down move."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dxa_app.domain import Morphology, VfaLevel
from dxa_app.gui.labels import number, sex_code_text
from dxa_app.gui.workspace import Workspace
from dxa_app.i18n import _
from dxa_app.services import vfa
from dxa_app.services.auth import Permission, Session
from dxa_app.services.vfa import LEVELS, NOT_EVALUABLE_REASONS, LevelEntry, VfaIndication

_GRADE_KEYS = {Qt.Key.Key_0: 0, Qt.Key.Key_1: 1, Qt.Key.Key_2: 2, Qt.Key.Key_3: 3}
_MORPH_KEYS = {
    Qt.Key.Key_W: Morphology.WEDGE,
    Qt.Key.Key_B: Morphology.BICONCAVE,
    Qt.Key.Key_C: Morphology.CRUSH,
}


def morphology_label(m: Morphology | None) -> str:
    """Return the translated name of a morphology (empty for none)."""
    labels = {
        Morphology.WEDGE: _("wedge"),
        Morphology.BICONCAVE: _("biconcave"),
        Morphology.CRUSH: _("crush"),
    }
    return "" if m is None else labels.get(m, str(m))


def reason_label(code: str) -> str:
    """Return the translated label of a not-evaluable reason code."""
    labels = {
        "overlap": _("overlap"),
        "scoliosis": _("scoliosis"),
        "poor_image": _("poor image"),
        "artefact": _("artefact"),
        "other": _("other"),
    }
    return labels.get(code, code)


def indication_text(ind: VfaIndication) -> str:
    """Return the sentence the VFA panel shows about the ISCD indication."""
    facts = _("lowest T {t}, sex {sex}, age {age}").format(
        t="-" if ind.t_min is None else number(float(ind.t_min), 1),
        sex=sex_code_text(ind.sex) or "-",
        age="-" if ind.age is None else f"{ind.age:.0f}",
    )
    if ind.indicated is None:
        verdict = _("ISCD VFA indication: unknown (no T-score).")
    elif ind.indicated:
        verdict = _("ISCD VFA indication: indicated ({reasons}).").format(
            reasons="; ".join(ind.reasons)
        )
    elif ind.questionnaire:
        verdict = _(
            "ISCD VFA indication: not indicated (age, sex and the risk-factor questionnaire)."
        )
    else:
        verdict = _(
            "ISCD VFA indication: not indicated by age and sex; ask about height loss over"
            " 4 cm, glucocorticoids and earlier vertebral fractures."
        )
    return f"{verdict} ({facts})"


class VfaPanel(Workspace):
    """Enter a VFA reading (Genant grade, morphology or not-evaluable reason per level).

    Made like every :class:`~dxa_app.gui.workspace.Workspace`: ``(session, parent=None)``;
    ``chosen_in`` says where its user picks the study (the technician's study view, or the
    physician's worklist), for the hint shown before one is picked.
    """

    #: Emitted with the new reading's id after a save.
    saved = Signal(int)

    def __init__(
        self, session: Session, parent: QWidget | None = None, *, chosen_in: str = "study"
    ) -> None:
        super().__init__(session, parent)
        self.chosen_in = chosen_in
        self.study_id: int | None = None
        self.study_uid: str = ""
        self.study_text: str = ""
        self.indication: VfaIndication | None = None
        self.entries: dict[VfaLevel, LevelEntry] = {}
        #: The newest stored reading of the study (saving the same again stores nothing).
        self.stored_entries: dict[VfaLevel, LevelEntry] = {}
        self.last_saved_id: int | None = None

        self.study_label = QLabel()
        self.study_label.setWordWrap(True)
        self.indication_label = QLabel()
        self.indication_label.setObjectName("vfaIndication")
        self.indication_label.setWordWrap(True)
        self.level_list = QListWidget()
        self.level_list.setObjectName("vfaLevels")
        for level in LEVELS:
            item = QListWidgetItem(str(level))
            item.setData(Qt.ItemDataRole.UserRole, str(level))
            self.level_list.addItem(item)
        self.level_list.setCurrentRow(0)
        self.level_list.installEventFilter(self)
        self.level_list.setMaximumWidth(320)

        self.grade_buttons: list[QPushButton] = []
        grades = QHBoxLayout()
        for g in range(4):
            b = QPushButton(str(g))
            b.clicked.connect(lambda _c=False, grade=g: self.set_grade(grade))
            grades.addWidget(b)
            self.grade_buttons.append(b)
        self.morph_buttons: dict[Morphology, QPushButton] = {}
        morphs = QHBoxLayout()
        for m in Morphology:
            b = QPushButton()
            b.clicked.connect(lambda _c=False, morph=m: self.set_morphology(morph))
            morphs.addWidget(b)
            self.morph_buttons[m] = b
        self.reason_combo = QComboBox()
        for code in NOT_EVALUABLE_REASONS:
            self.reason_combo.addItem(reason_label(code), code)
        self.not_evaluable_button = QPushButton()
        self.not_evaluable_button.clicked.connect(lambda: self.set_not_evaluable())
        self.rest_normal_button = QPushButton()
        self.rest_normal_button.clicked.connect(self.set_remaining_normal)
        self.clear_button = QPushButton()
        self.clear_button.clicked.connect(self.clear)
        self.save_button = QPushButton()
        self.save_button.setObjectName("vfaSave")
        self.save_button.clicked.connect(self.save)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.help_label = QLabel()
        self.help_label.setWordWrap(True)

        self.grade_box = QGroupBox()
        box = QGridLayout(self.grade_box)
        self.grade_title = QLabel()
        self.morph_title = QLabel()
        self.reason_title = QLabel()
        box.addWidget(self.grade_title, 0, 0)
        box.addLayout(grades, 0, 1)
        box.addWidget(self.morph_title, 1, 0)
        box.addLayout(morphs, 1, 1)
        box.addWidget(self.reason_title, 2, 0)
        reason_row = QHBoxLayout()
        reason_row.addWidget(self.reason_combo, 1)
        reason_row.addWidget(self.not_evaluable_button)
        box.addLayout(reason_row, 2, 1)

        right = QVBoxLayout()
        right.addWidget(self.grade_box)
        right.addWidget(self.help_label)
        right.addWidget(self.rest_normal_button)
        right.addWidget(self.clear_button)
        right.addStretch(1)
        right.addWidget(self.status_label)
        right.addWidget(self.save_button)
        body = QHBoxLayout()
        body.addWidget(self.level_list)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.study_label)
        layout.addWidget(self.indication_label)
        layout.addLayout(body, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.retranslate()

    # -- texts --------------------------------------------------------------------------
    def retranslate(self) -> None:
        """Re-set the texts in the current language."""
        self.grade_box.setTitle(_("Selected level"))
        self.grade_title.setText(_("Genant grade"))
        self.morph_title.setText(_("Morphology"))
        self.reason_title.setText(_("Not evaluable"))
        for m, b in self.morph_buttons.items():
            b.setText(morphology_label(m))
        for i, code in enumerate(NOT_EVALUABLE_REASONS):
            self.reason_combo.setItemText(i, reason_label(code))
        self.not_evaluable_button.setText(_("Not evaluable"))
        self.rest_normal_button.setText(_("Remaining levels: grade 0"))
        self.clear_button.setText(_("Clear"))
        self.save_button.setText(_("Save reading"))
        self.help_label.setText(
            _(
                "Keys: 0-3 grade, W wedge, B biconcave, C crush, N not evaluable"
                " (reason from the list), Up/Down next level."
            )
        )
        if self.study_id is None:
            self.study_label.setText(
                _("No study chosen: pick one in the worklist.")
                if self.chosen_in == "worklist"
                else _("No study chosen: pick one in the Study view.")
            )
            self.indication_label.setText("")
        else:
            self.study_label.setText(_("VFA reading of {study}").format(study=self.study_text))
            if self.indication is not None:
                self.indication_label.setText(indication_text(self.indication))
        for level in LEVELS:
            self._update_item(level)
        self.update_actions()

    def update_actions(self) -> None:
        """Offer saving when the role may enter VFA readings and a study is chosen."""
        allowed = self.session.may(Permission.VFA_ENTRY)
        self.save_button.setEnabled(allowed and self.study_id is not None)
        if not allowed:
            self.save_button.setToolTip(_("Your role does not enter VFA readings."))

    def _update_item(self, level: VfaLevel) -> None:
        item = self.level_list.item(LEVELS.index(level))
        e = self.entries.get(level, LevelEntry())
        if e.not_evaluable_reason:
            detail = _("not evaluable: {reason}").format(
                reason=reason_label(e.not_evaluable_reason)
            )
        elif e.grade is None:
            detail = "—"
        else:
            detail = _("grade {grade}").format(grade=e.grade)
            if e.morphology is not None:
                detail += f", {morphology_label(e.morphology)}"
        item.setText(f"{level}\t{detail}")
        colour = None
        if e.grade is not None and e.grade >= 2:
            colour = QColor("#ffcdd2")
        elif e.grade == 1:
            colour = QColor("#fff9c4")
        elif e.not_evaluable_reason:
            colour = QColor("#e0e0e0")
        item.setBackground(QBrush(colour) if colour is not None else QBrush())

    # -- study --------------------------------------------------------------------------
    def set_study(self, study_id: int, study_uid: str, description: str) -> None:
        """Show a study's newest VFA reading (empty when none) and its ISCD VFA indication.

        Saving after a change stores a new version of the reading (the newest one counts);
        saving without a change stores nothing.
        """
        self.study_id = study_id
        self.study_uid = study_uid
        self.study_text = description
        stored = self.call(lambda session: vfa.latest_reading(session, study_id))
        self.stored_entries = dict(stored or {})
        self.entries = dict(self.stored_entries)
        self.indication = self.call(lambda session: vfa.vfa_indication(session, study_id))
        self.status_label.setText(
            _("The newest stored reading is shown; saving a change stores a new version.")
            if self.stored_entries
            else ""
        )
        self.level_list.setCurrentRow(0)
        self.retranslate()

    # -- editing ------------------------------------------------------------------------
    def current_level(self) -> VfaLevel:
        """Return the selected level (T4 when none is)."""
        row = max(self.level_list.currentRow(), 0)
        return LEVELS[row]

    def select_level(self, level: VfaLevel) -> None:
        """Make ``level`` the selected one."""
        self.level_list.setCurrentRow(LEVELS.index(level))

    def move_level(self, step: int) -> None:
        """Select the level ``step`` rows down (negative: up), staying within T4-L4."""
        row = min(max(self.level_list.currentRow() + step, 0), len(LEVELS) - 1)
        self.level_list.setCurrentRow(row)

    def set_grade(self, grade: int) -> None:
        """Give the selected level a Genant grade 0-3 (grade 0 drops any morphology)."""
        level = self.current_level()
        old = self.entries.get(level, LevelEntry())
        self.entries[level] = LevelEntry(grade, old.morphology if grade >= 1 else None, "")
        self._update_item(level)

    def set_morphology(self, morphology: Morphology) -> None:
        """Set the morphology of the selected level (it needs a grade of 1 or more)."""
        level = self.current_level()
        old = self.entries.get(level, LevelEntry())
        if old.grade is None or old.grade < 1:
            self.status_label.setText(
                _("{level}: set a grade of 1-3 before the morphology.").format(level=level)
            )
            return
        self.entries[level] = LevelEntry(old.grade, morphology, "")
        self._update_item(level)

    def set_not_evaluable(self, reason: str | None = None) -> None:
        """Mark the selected level not evaluable (reason default: the one in the list)."""
        code = reason or str(self.reason_combo.currentData())
        level = self.current_level()
        self.entries[level] = LevelEntry(None, None, code)
        self._update_item(level)

    def set_remaining_normal(self) -> None:
        """Give every level that has no entry yet grade 0."""
        for level in LEVELS:
            if not self.entries.get(level, LevelEntry()).done:
                self.entries[level] = LevelEntry(0)
                self._update_item(level)

    def clear(self) -> None:
        """Forget every entry of the reading."""
        self.entries = {}
        for level in LEVELS:
            self._update_item(level)
        self.status_label.setText("")

    def handle_key(self, key: int) -> bool:
        """Apply a shortcut key to the selected level; return True when it was one."""
        try:
            k = Qt.Key(key)
        except ValueError:
            return False
        if k in _GRADE_KEYS:
            self.set_grade(_GRADE_KEYS[k])
        elif k in _MORPH_KEYS:
            self.set_morphology(_MORPH_KEYS[k])
        elif k == Qt.Key.Key_N:
            self.set_not_evaluable()
        elif k == Qt.Key.Key_Up:
            self.move_level(-1)
        elif k == Qt.Key.Key_Down:
            self.move_level(1)
        else:
            return False
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Catch the shortcut keys on the level list before its type-ahead search."""
        if watched is self.level_list and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if mods == Qt.KeyboardModifier.NoModifier and event.key() not in (
                Qt.Key.Key_Up,
                Qt.Key.Key_Down,
            ):
                return self.handle_key(event.key())
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Shortcut keys also work when a button of the panel has the focus."""
        if not self.handle_key(event.key()):
            super().keyPressEvent(event)

    # -- saving -------------------------------------------------------------------------
    def save(self) -> bool:
        """Store the reading with the logged-in user as reader (audited)."""
        if self.study_id is None:
            return False
        if self.stored_entries and self.entries == self.stored_entries:
            self.status_label.setText(_("Nothing changed since the stored reading."))
            return False
        uid, entries = self.study_uid, dict(self.entries)
        reading_id = self.call(lambda session: vfa.save_vfa_reading(session, uid, entries))
        if reading_id is None:
            self.status_label.setText(self.status_text)
            return False
        self.last_saved_id = reading_id
        amended = bool(self.stored_entries)
        self.stored_entries = entries
        self.status_label.setText(
            (
                _("Saved as reading {id}, a new version of the earlier reading.")
                if amended
                else _("Saved as reading {id}.")
            ).format(id=reading_id)
        )
        self.saved.emit(reading_id)
        return True
