"""The physician workspace's table: the worklist of studies waiting for a report."""

from __future__ import annotations

from collections.abc import Sequence

from dxa_app.gui.labels import format_date
from dxa_app.gui.table_model import Column, PagedTableModel
from dxa_app.i18n import _
from dxa_app.services.worklist import PendingReport
from reports import labels as terms


def report_status_label(status: str) -> str:
    """Return the translated label of a worklist report state."""
    return terms.report_status_label(status, _)


class WorklistModel(PagedTableModel[PendingReport]):
    """Studies waiting for a report: date, days waiting, patient, site, scanner, state.

    The rows are paged from the archive (oldest first), never all held at once.
    """

    (
        COL_DATE,
        COL_DAYS,
        COL_PATIENT_ID,
        COL_PATIENT_NAME,
        COL_SITE,
        COL_SCANNER,
        COL_SERIAL,
        COL_STATUS,
        COL_STUDY,
    ) = range(9)

    sort_keys = (
        "date",
        None,
        "patient_identifier",
        "patient_name",
        "site",
        "scanner",
        "serial",
        "status",
        "study",
    )

    columns: Sequence[Column[PendingReport]] = (
        Column(
            lambda: _("Date"),
            lambda r: format_date(r.study_date),
            lambda r: r.study_date.isoformat() if r.study_date else "",
        ),
        Column(
            lambda: _("Days waiting"),
            lambda r: str(r.days_waiting),
            lambda r: r.days_waiting,
            numeric=True,
        ),
        Column(lambda: _("Patient ID"), lambda r: r.patient_identifier),
        Column(lambda: _("Patient name"), lambda r: r.patient_name),
        Column(lambda: _("Site"), lambda r: r.site),
        Column(lambda: _("Scanner"), lambda r: r.scanner),
        Column(lambda: _("Serial"), lambda r: r.serial),
        Column(lambda: _("Report"), lambda r: report_status_label(r.report_status)),
        Column(lambda: _("Study"), lambda r: str(r.study_id), lambda r: r.study_id, numeric=True),
    )

    def tooltip(self, item: PendingReport) -> str | None:
        """Return the study UID as the row's tooltip."""
        return _("Study UID: {uid}").format(uid=item.study_uid)

    def row_of_study(self, study_id: int) -> int | None:
        """Return the row of a study among the rows fetched, or None when it is not there."""
        return self.find_row(lambda r: r.study_id == study_id)
