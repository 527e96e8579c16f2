"""Risk factors, FRAX and suggestions of one study; the recall list of the physician workspace.

:class:`RiskPanel` is the questionnaire form (technician and physician: every save is a new
version), the FRAX entry (inputs prefilled from the questionnaire and the femoral-neck BMD,
the probabilities typed from the external calculator) and, for the physician, the rule-made
suggestions to keep or drop. :class:`RecallPanel` lists the patients due for DXA within a
period and saves the list as CSV. Both only collect input and call one service each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dxa_app.gui.common import read_only_table
from dxa_app.gui.table_model import Column, ObjectTableModel
from dxa_app.gui.workspace import ProgressFn, Workspace
from dxa_app.i18n import _, current_language
from dxa_app.progress import CancelToken
from dxa_app.services import risk
from dxa_app.services.auth import Permission, Session
from dxa_app.services.risk import RecallEntry, SuggestionList
from reports.risk import frax_input_label, frax_input_text

#: The yes/no questions, in form order.
BOOL_FIELDS = (
    "prior_fracture",
    "parent_hip_fracture",
    "current_smoking",
    "glucocorticoids",
    "rheumatoid_arthritis",
    "secondary_osteoporosis",
    "alcohol_3_units",
)
#: The questions typed as text (numbers, a date, the treatment).
TEXT_FIELDS = (
    "prior_fracture_date",
    "glucocorticoid_dose_mg",
    "glucocorticoid_months",
    "height_loss_cm",
    "falls_last_year",
    "current_treatment",
)
_SITES = ("", "hip", "vertebra", "wrist", "humerus", "pelvis", "other")


def question_label(name: str) -> str:
    """Return the translated label of a questionnaire question."""
    labels = {
        "prior_fracture": _("Prior fragility fracture"),
        "prior_fracture_site": _("Fracture site"),
        "prior_fracture_date": _("Fracture date (YYYY-MM-DD)"),
        "parent_hip_fracture": _("Parent hip fracture"),
        "current_smoking": _("Current smoking"),
        "glucocorticoids": _("Glucocorticoids"),
        "glucocorticoid_dose_mg": _("Dose (mg prednisolone a day)"),
        "glucocorticoid_months": _("Duration (months)"),
        "rheumatoid_arthritis": _("Rheumatoid arthritis"),
        "secondary_osteoporosis": _("Secondary osteoporosis"),
        "alcohol_3_units": _("Alcohol 3 units a day or more"),
        "height_loss_cm": _("Height loss (cm)"),
        "falls_last_year": _("Falls in the past year"),
        "current_treatment": _("Current osteoporosis treatment"),
    }
    return labels.get(name, name)


def _site_label(site: str) -> str:
    return {
        "": _("(not given)"),
        "hip": _("hip"),
        "vertebra": _("vertebra"),
        "wrist": _("wrist"),
        "humerus": _("upper arm"),
        "pelvis": _("pelvis"),
        "other": _("other site"),
    }[site]


class RiskPanel(Workspace):
    """The questionnaire, FRAX and suggestions of one study (see the module docstring).

    A yes/no question has three states: checked (yes), unchecked (no) and partly checked
    (not asked). Made like every :class:`~dxa_app.gui.workspace.Workspace`:
    ``(session, parent=None)``.
    """

    #: Emitted after a save that changes the report (questionnaire, FRAX or decisions).
    saved = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.study_id: int | None = None
        self.suggestions: SuggestionList | None = None
        self.study_label = QLabel()
        self.study_label.setWordWrap(True)
        self.version_label = QLabel()

        self.questions = QGroupBox()
        form = QFormLayout(self.questions)
        self.bools: dict[str, QCheckBox] = {}
        self.texts: dict[str, QLineEdit] = {}
        self.labels: dict[str, QLabel] = {}
        for name in BOOL_FIELDS:
            box = QCheckBox()
            box.setTristate(True)
            box.setCheckState(Qt.CheckState.PartiallyChecked)
            self.bools[name] = box
            self.labels[name] = QLabel()
            form.addRow(self.labels[name], box)
            if name == "prior_fracture":
                self.site_combo = QComboBox()
                for site in _SITES:
                    self.site_combo.addItem("", site)
                self.labels["prior_fracture_site"] = QLabel()
                form.addRow(self.labels["prior_fracture_site"], self.site_combo)
                self._text_row(form, "prior_fracture_date")
            if name == "glucocorticoids":
                self._text_row(form, "glucocorticoid_dose_mg")
                self._text_row(form, "glucocorticoid_months")
        for name in ("height_loss_cm", "falls_last_year", "current_treatment"):
            self._text_row(form, name)
        self.save_button = QPushButton()
        self.save_button.clicked.connect(self.save)
        form.addRow(self.save_button)

        self.frax_box = QGroupBox()
        frax_form = QFormLayout(self.frax_box)
        self.prefill_label = QLabel()
        self.prefill_label.setObjectName("fraxPrefill")
        self.prefill_label.setWordWrap(True)
        self.prefill_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.major_edit = QLineEdit()
        self.hip_edit = QLineEdit()
        self.calculator_edit = QLineEdit()
        self.major_label, self.hip_label, self.calculator_label = QLabel(), QLabel(), QLabel()
        self.frax_button = QPushButton()
        self.frax_button.clicked.connect(self.save_frax)
        frax_form.addRow(self.prefill_label)
        frax_form.addRow(self.major_label, self.major_edit)
        frax_form.addRow(self.hip_label, self.hip_edit)
        frax_form.addRow(self.calculator_label, self.calculator_edit)
        frax_form.addRow(self.frax_button)

        self.suggestion_box = QGroupBox()
        sbox = QVBoxLayout(self.suggestion_box)
        self.suggestion_list = QListWidget()
        self.suggestion_list.setObjectName("suggestionList")
        self.suggestion_list.setWordWrap(True)
        self.suggestion_note = QLabel()
        self.suggestion_note.setWordWrap(True)
        self.decide_button = QPushButton()
        self.decide_button.clicked.connect(self.save_decisions)
        sbox.addWidget(self.suggestion_note)
        sbox.addWidget(self.suggestion_list)
        sbox.addWidget(self.decide_button)

        self.status_label = self.make_status_label()
        layout = QVBoxLayout(self)
        layout.addWidget(self.study_label)
        layout.addWidget(self.version_label)
        row = QHBoxLayout()
        row.addWidget(self.questions, 1)
        right = QVBoxLayout()
        right.addWidget(self.frax_box)
        right.addWidget(self.suggestion_box, 1)
        row.addLayout(right, 1)
        layout.addLayout(row, 1)
        layout.addWidget(self.status_label)
        self.retranslate()
        self.update_actions()

    def _text_row(self, form: QFormLayout, name: str) -> None:
        self.texts[name] = QLineEdit()
        self.labels[name] = QLabel()
        form.addRow(self.labels[name], self.texts[name])

    # -- texts and actions ----------------------------------------------------------------
    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        for name, label in self.labels.items():
            label.setText(question_label(name))
        for i, site in enumerate(_SITES):
            self.site_combo.setItemText(i, _site_label(site))
        self.questions.setTitle(_("Risk-factor questionnaire"))
        self.save_button.setText(_("Save questionnaire"))
        self.frax_box.setTitle(_("FRAX (computed outside this program, Danish model)"))
        self.major_label.setText(_("Major osteoporotic fracture (%)"))
        self.hip_label.setText(_("Hip fracture (%)"))
        self.calculator_label.setText(_("Calculator and version"))
        self.frax_button.setText(_("Record FRAX"))
        self.suggestion_box.setTitle(_("Suggestions (keep: checked, drop: unchecked)"))
        self.decide_button.setText(_("Save decisions"))

    def update_actions(self) -> None:
        """Offer what the role may do (the services check again)."""
        shown = self.study_id is not None
        may_enter = self.session.may(Permission.RISK_ENTRY)
        self.save_button.setEnabled(shown and may_enter)
        self.frax_button.setEnabled(shown and may_enter)
        self.decide_button.setEnabled(shown and self.session.may(Permission.DRAFT_EDIT))

    # -- loading ----------------------------------------------------------------------------
    def set_study(self, study_id: int, description: str = "") -> None:
        """Show a study's questionnaire, FRAX prefill and suggestions."""
        self.study_id = study_id
        self.study_label.setText(description or _("Study {id}").format(id=study_id))
        self.update_actions()
        self.load()

    def load(self) -> None:
        """Read the study's questionnaire, FRAX form and suggestions (one call each)."""
        study = self.study_id
        if study is None:
            return
        lang = current_language()
        view = self.call(lambda s: risk.risk_factors(s, study))
        form = self.call(lambda s: risk.frax_form(s, study))
        self.suggestions = self.call(lambda s: risk.study_suggestions(s, study, lang=lang))
        if view is not None:
            self._show_answers(view.risk.to_mapping() if view.risk is not None else {})
            self.version_label.setText(
                _("No questionnaire yet.")
                if view.latest is None
                else _("Version {v} of {n}, entered by {who} at {when}.").format(
                    v=view.latest.version_no,
                    n=view.versions,
                    who=view.latest.entered_by,
                    when=view.latest.entered_at.replace("T", " ")[:16],
                )
            )
        if form is not None:
            shown = ", ".join(
                f"{frax_input_label(k, _)}: {frax_input_text(v, current_language(), _)}"
                for k, v in form.inputs.items()
            )
            text = _("Type into the calculator: {inputs}").format(inputs=shown)
            if form.latest is not None:
                text += "\n" + _("Recorded: major {major} %, hip {hip} % ({calc}).").format(
                    major=form.latest.major_osteoporotic_pct,
                    hip=form.latest.hip_pct,
                    calc=form.latest.calculator_version,
                )
            self.prefill_label.setText(text)
        self._show_suggestions()

    def _show_answers(self, answers: dict[str, Any]) -> None:
        for name, box in self.bools.items():
            value = answers.get(name)
            box.setCheckState(
                Qt.CheckState.PartiallyChecked
                if value is None
                else (Qt.CheckState.Checked if value else Qt.CheckState.Unchecked)
            )
        self.site_combo.setCurrentIndex(
            max(self.site_combo.findData(answers.get("prior_fracture_site") or ""), 0)
        )
        for name, edit in self.texts.items():
            value = answers.get(name)
            edit.setText(
                "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
            )

    def _show_suggestions(self) -> None:
        self.suggestion_list.clear()
        rows = self.suggestions.rows if self.suggestions is not None else ()
        note = ""
        for r in rows:
            s = r.suggestion
            item = QListWidgetItem(s.text)
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                {"kept": Qt.CheckState.Checked, "dropped": Qt.CheckState.Unchecked}.get(
                    r.decision, Qt.CheckState.PartiallyChecked
                )
            )
            self.suggestion_list.addItem(item)
            if not s.verified:
                note = _("The rules are UNVERIFIED: not yet confirmed by the knowledge centre.")
        if not rows:
            note = _("No suggestion for this study.")
        self.suggestion_note.setText(note)

    # -- saving -----------------------------------------------------------------------------
    def answers(self) -> dict[str, str]:
        """Return the form's answers as text ("" for a question not asked)."""
        out: dict[str, str] = {}
        for name, box in self.bools.items():
            state = box.checkState()
            out[name] = (
                ""
                if state == Qt.CheckState.PartiallyChecked
                else ("1" if state == Qt.CheckState.Checked else "0")
            )
        out["prior_fracture_site"] = str(self.site_combo.currentData() or "")
        for name, edit in self.texts.items():
            out[name] = edit.text()
        return out

    def _after(self, message: str) -> Callable[[object], None]:
        def done(_result: object) -> None:
            self.set_status(message)
            self.load()
            self.saved.emit()

        return done

    def save(self) -> None:
        """Store the form as a new version of the questionnaire."""
        study, answers = self.study_id, self.answers()
        if study is None:
            return

        def work(_progress: ProgressFn, _cancel: CancelToken) -> object:
            return risk.save_risk_factors(self.session, study, answers, replace=True)

        self.run(work, self._after(_("Questionnaire saved.")))

    def save_frax(self) -> None:
        """Record the FRAX result typed from the external calculator."""
        study = self.study_id
        if study is None:
            return
        try:
            major = float(self.major_edit.text().replace(",", "."))
            hip = float(self.hip_edit.text().replace(",", "."))
        except ValueError:
            self.set_status(_("Type both probabilities as numbers (percent)."))
            return
        version = self.calculator_edit.text()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> object:
            return risk.save_frax(
                self.session,
                study,
                major_osteoporotic_pct=major,
                hip_pct=hip,
                calculator_version=version,
            )

        self.run(work, self._after(_("FRAX recorded.")))

    def decisions(self) -> dict[str, str]:
        """Return the keep/drop decisions shown in the list."""
        out: dict[str, str] = {}
        for i in range(self.suggestion_list.count()):
            item = self.suggestion_list.item(i)
            state = item.checkState()
            out[str(item.data(Qt.ItemDataRole.UserRole))] = (
                "kept"
                if state == Qt.CheckState.Checked
                else "dropped"
                if state == Qt.CheckState.Unchecked
                else "pending"
            )
        return out

    def save_decisions(self, level: str = "B") -> None:
        """Store the physician's decisions with the report draft."""
        study, decisions, lang = self.study_id, self.decisions(), current_language()
        if study is None:
            return

        def work(_progress: ProgressFn, _cancel: CancelToken) -> object:
            return risk.decide_suggestions(self.session, study, decisions, lang=lang, level=level)

        self.run(work, self._after(_("Decisions saved with the draft.")))


class RecallModel(ObjectTableModel[RecallEntry]):
    """Patients due for DXA: due date, patient, last study, interval, rule."""

    columns: Sequence[Column[RecallEntry]] = (
        Column(lambda: _("Due"), lambda r: r.due),
        Column(lambda: _("Patient ID"), lambda r: r.identifier),
        Column(lambda: _("Patient name"), lambda r: r.name),
        Column(lambda: _("Last study"), lambda r: r.study_date),
        Column(
            lambda: _("Interval (years)"), lambda r: f"{r.years:g}", lambda r: r.years, numeric=True
        ),
        Column(lambda: _("Rule"), lambda r: r.rule),
    )


class RecallPanel(Workspace):
    """The recall list: patients due for DXA within the chosen number of days, and its CSV."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.entries: list[RecallEntry] = []
        self.model = RecallModel(parent=self)
        self.table = read_only_table(self.model)
        self.table.setObjectName("recallTable")
        self.days = QSpinBox()
        self.days.setRange(0, 3650)
        self.days.setValue(90)
        self.days_label = QLabel()
        self.refresh_button = QPushButton()
        self.refresh_button.clicked.connect(self.refresh)
        self.csv_button = QPushButton()
        self.csv_button.clicked.connect(self.ask_csv)
        self.status_label = self.make_status_label()
        top = QHBoxLayout()
        top.addWidget(self.days_label)
        top.addWidget(self.days)
        top.addWidget(self.refresh_button)
        top.addStretch(1)
        top.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.retranslate()

    def retranslate(self) -> None:
        """Set every visible text in the current language."""
        self.days_label.setText(_("Due for DXA within (days):"))
        self.refresh_button.setText(_("Show"))
        self.csv_button.setText(_("Save as CSV…"))
        self.model.retranslate()

    def refresh(self, as_of: dt.date | None = None) -> None:
        """Load the patients due within the chosen period (from ``as_of``, default today)."""
        days = self.days.value()

        def work(_progress: ProgressFn, _cancel: CancelToken) -> list[RecallEntry]:
            return risk.recall_list(self.session, within_days=days, as_of=as_of)

        def done(entries: list[RecallEntry]) -> None:
            self.entries = entries
            self.model.set_rows(entries)
            self.set_status(
                _("{n} patients due within {days} days.").format(n=len(entries), days=days)
            )

        self.run(work, done)

    def ask_csv(self) -> None:
        """Ask for a file and write the shown list to it."""
        name, _filter = QFileDialog.getSaveFileName(
            self, _("Save the recall list"), "", "CSV (*.csv)"
        )
        if name:
            self.save_csv(Path(name))

    def save_csv(self, path: Path) -> None:
        """Write the shown list as CSV."""
        entries = list(self.entries)

        def work(_progress: ProgressFn, _cancel: CancelToken) -> Path:
            return risk.write_recall_csv(self.session, entries, path)

        self.run(work, lambda p: self.set_status(_("Written to {path}.").format(path=p)))
