"""Translated labels and colours of domain values, shared by every table and workspace."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor

from dxa_app.domain import Role, ScanType, Sex
from dxa_app.i18n import _

if TYPE_CHECKING:
    from dxa_app.services.calibration import ScannerQc

#: Colours of a scanner's QC status: ok green, warning amber, reject red, no baseline grey.
QC_COLOURS: dict[str, str] = {
    "ok": "#2e7d32",
    "warning": "#f9a825",
    "reject": "#c62828",
    "no baseline": "#757575",
    "baseline unusable": "#ef6c00",
    "baseline in progress": "#0277bd",
    "no QC today": "#6d4c41",
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
        "baseline in progress": _("New baseline in progress"),
        "no QC today": _("No QC today"),
    }
    return labels.get(status, status)


def today_label(qc: ScannerQc) -> str:
    """Return a scanner's QC state today in words (with the age of the last QC if not today).

    Parameters
    ----------
    qc : ScannerQc
        The scanner's QC.

    Returns
    -------
    str
        E.g. "No QC today (last QC 90 days ago: Reject)" or "New baseline in progress (3 of
        20 scans)".
    """
    if qc.today_status == "no QC today":
        return _("No QC today (last QC {days} days ago: {status})").format(
            days=qc.days_since_last, status=_status_words(qc)
        )
    return _status_words(qc)


def _status_words(qc: ScannerQc) -> str:
    if qc.status == "baseline in progress":
        done, need = qc.baseline_progress
        return _("New baseline in progress ({done} of {need} scans)").format(done=done, need=need)
    return qc_status_label(qc.status)


def segment_label(kind: str, reason: str) -> str:
    """Return why a QC baseline segment started, in words.

    Parameters
    ----------
    kind : str
        ``first``, ``on_demand``, ``service``, ``drift_correction`` or ``software_change``.
    reason : str
        The stored reason (the request's text, the step, the software versions).

    Returns
    -------
    str
        The translated kind, with the reason.
    """
    kinds = {
        "first": _("first baseline"),
        "on_demand": _("new baseline on request"),
        "service": _("service visit"),
        "drift_correction": _("after an approved drift correction"),
        "software_change": _("software change"),
    }
    word = kinds.get(kind, kind)
    return f"{word}: {reason}" if reason else word


def drift_text(qc: ScannerQc) -> str:
    """Return the proposed drift correction of a scanner with its evidence ("" without one).

    Parameters
    ----------
    qc : ScannerQc
        The scanner's QC.

    Returns
    -------
    str
        What the QC proposes (from which date, the factor), the evidence, and the proposed
        steps that wait for the knowledge centre's approval.
    """
    lines = []
    p = qc.drift_proposal()
    if p is not None and p["model"] == "ramp":
        lines.append(
            _(
                "Proposed drift correction (slow drift) from {start} to {end}: factor"
                " {factor:.4f} by {end}, held after."
            ).format(start=p["start"], end=p["ramp_end"], factor=p["factor"])
            + " "
            + str(p["evidence"])
        )
    elif p is not None:
        lines.append(
            _("Proposed drift correction from {start}: factor {factor:.4f}.").format(
                start=p["start"], factor=p["factor"]
            )
            + " "
            + str(p["evidence"])
        )
    for step in qc.pending_drift:
        lines.append(
            _("Drift step {id} from {start} (factor {factor:.4f}) awaits approval.").format(
                id=step["id"], start=step["valid_from"], factor=step["slope"]
            )
        )
    return "\n".join(lines)


def qc_colour(status: str) -> QColor:
    """Return the colour of a QC status (grey for a status without a colour of its own)."""
    return QColor(QC_COLOURS.get(status, NO_QC_COLOUR))


def qc_legend() -> str:
    """Return the rich-text legend of the QC colours (a coloured square and the label)."""
    return " ".join(
        f'<span style="color:{colour}">&#9632;</span> {qc_status_label(status)}'
        for status, colour in QC_COLOURS.items()
    )
