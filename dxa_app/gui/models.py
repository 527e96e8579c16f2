"""The Patients tab's tables: patients and studies, paged from the archive, sorted in SQL.

Header labels and translated cell texts are computed at call time with
:func:`dxa_app.i18n._`, so :meth:`ObjectTableModel.retranslate` (which only emits change
signals) is enough after a language switch.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt

from dxa_app.domain import PatientSummary, StudySummary, scanner_label
from dxa_app.gui.labels import format_date, scan_type_label, sex_label
from dxa_app.gui.table_model import Column, ObjectRole, PagedTableModel, SortRole
from dxa_app.i18n import _

__all__ = ["ObjectRole", "PatientTableModel", "SortRole", "StudyTableModel"]


class PatientTableModel(PagedTableModel[PatientSummary]):
    """Patients: CPR/ID, name, birth date, sex, number of studies, last study, identity flag."""

    COL_IDENTIFIER, COL_NAME, COL_BIRTH, COL_SEX, COL_N_STUDIES, COL_LAST, COL_IDENTITY = range(7)

    sort_keys = ("identifier", "name", "birth_date", "sex", "n_studies", "last_study")
    default_sort = (COL_NAME, Qt.SortOrder.AscendingOrder)

    columns: Sequence[Column[PatientSummary]] = (
        Column(lambda: _("CPR/ID"), lambda p: p.identifier),
        Column(lambda: _("Name"), lambda p: p.name),
        Column(
            lambda: _("Birth date"),
            lambda p: format_date(p.birth_date),
            lambda p: p.birth_date.isoformat() if p.birth_date else "",
        ),
        Column(lambda: _("Sex"), lambda p: sex_label(p.sex)),
        Column(
            lambda: _("Studies"), lambda p: str(p.n_studies), lambda p: p.n_studies, numeric=True
        ),
        Column(
            lambda: _("Last study"),
            lambda p: format_date(p.last_study),
            lambda p: p.last_study.isoformat() if p.last_study else "",
        ),
        # a record kept apart (same identifier, other birth date or sex): an administrator
        # decides whether it is the same person ('patients --duplicates', 'merge')
        Column(
            lambda: _("Identity"),
            lambda p: _("possible duplicate") if p.possible_duplicate else "",
        ),
    )


class StudyTableModel(PagedTableModel[StudySummary]):
    """Studies: date, patient ID, name, site, scanner, serial, scan types, number of results."""

    (
        COL_DATE,
        COL_PATIENT_ID,
        COL_PATIENT_NAME,
        COL_SITE,
        COL_SCANNER,
        COL_SERIAL,
        COL_SCAN_TYPES,
        COL_N_RESULTS,
    ) = range(8)

    sort_keys = (
        "date",
        "patient_identifier",
        "patient_name",
        "site",
        "scanner",
        "serial",
        "scan_types",
        "n_results",
    )
    default_sort = (COL_DATE, Qt.SortOrder.DescendingOrder)

    columns: Sequence[Column[StudySummary]] = (
        Column(
            lambda: _("Date"),
            lambda s: format_date(s.study_date),
            lambda s: s.study_date.isoformat() if s.study_date else "",
        ),
        Column(lambda: _("Patient ID"), lambda s: s.patient_identifier),
        Column(lambda: _("Patient name"), lambda s: s.patient_name),
        Column(lambda: _("Site"), lambda s: s.site),
        Column(lambda: _("Scanner"), lambda s: scanner_label(s.manufacturer, s.model)),
        Column(lambda: _("Serial"), lambda s: s.serial),
        Column(
            lambda: _("Scan types"),
            lambda s: ", ".join(scan_type_label(t) for t in s.scan_types),
        ),
        Column(
            lambda: _("Results"), lambda s: str(s.n_results), lambda s: s.n_results, numeric=True
        ),
    )

    def tooltip(self, item: StudySummary) -> str | None:
        """Return the study UID as the row's tooltip."""
        return _("Study UID: {uid}").format(uid=item.study_uid)
