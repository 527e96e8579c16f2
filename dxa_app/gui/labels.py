"""Translated labels and colours of domain values, shared by every table and workspace."""

from __future__ import annotations

import datetime as dt

from PySide6.QtGui import QColor

from dxa_app.domain import Role, ScanType, Sex
from dxa_app.i18n import _

#: Colours of a scanner's QC status: ok green, warning amber, reject red, no baseline grey.
QC_COLOURS: dict[str, str] = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "reject": "#c62828",
    "no baseline": "#757575",
    "baseline unusable": "#ef6c00",
}
#: The colour of any other QC status (e.g. a scanner without QC scans).
NO_QC_COLOUR = "#bdbdbd"


def format_date(value: dt.date | None) -> str:
    """Return a date as ISO ``YYYY-MM-DD`` (empty when unknown)."""
    return value.isoformat() if value is not None else ""


def sex_label(sex: Sex | None) -> str:
    """Return the translated label of a patient's sex (empty when unknown)."""
    if sex is None:
        return ""
    labels = {Sex.FEMALE: _("Female"), Sex.MALE: _("Male"), Sex.OTHER: _("Other")}
    return labels.get(sex, str(sex))


def scan_type_label(scan_type: str) -> str:
    """Return the translated label of a scan type (the raw value when unknown)."""
    labels = {
        ScanType.AP_SPINE: _("AP spine"),
        ScanType.HIP: _("Hip"),
        ScanType.FOREARM: _("Forearm"),
        ScanType.WHOLE_BODY: _("Whole body"),
        ScanType.VFA: _("VFA"),
        ScanType.OTHER: _("Other"),
    }
    try:
        return labels[ScanType(scan_type)]
    except ValueError:
        return scan_type


def role_label(role: Role) -> str:
    """Return the translated name of a role (lower case, as in a sentence)."""
    labels = {
        Role.TECHNICIAN: _("technician"),
        Role.PHYSICIAN: _("physician"),
        Role.CENTRE_ANALYST: _("centre analyst"),
        Role.ADMIN: _("administrator"),
    }
    return labels.get(role, str(role))


def qc_status_label(status: str) -> str:
    """Return the translated label of a QC status (ok, warning, reject, no baseline)."""
    labels = {
        "ok": _("OK"),
        "warning": _("Warning"),
        "reject": _("Reject"),
        "no baseline": _("No baseline"),
        "baseline unusable": _("Baseline unusable"),
    }
    return labels.get(status, status)


def qc_colour(status: str) -> QColor:
    """Return the colour of a QC status (grey for a status without a colour of its own)."""
    return QColor(QC_COLOURS.get(status, NO_QC_COLOUR))


def qc_legend() -> str:
    """Return the rich-text legend of the QC colours (a coloured square and the label)."""
    return " ".join(
        f'<span style="color:{colour}">&#9632;</span> {qc_status_label(status)}'
        for status, colour in QC_COLOURS.items()
    )
