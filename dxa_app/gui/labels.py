"""Translated labels and colours of domain values, shared by every table and workspace."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor

from dxa_app.domain import Role, ScanType, Sex
from dxa_app.i18n import _, current_language
from reports import labels as terms

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
    """Return a date as the reports print it: ``dd-mm-yyyy`` in Danish, ISO in English."""
    return terms.fmt_date(value, current_language()) if value is not None else ""


def format_iso_date(value: str | None) -> str:
    """Return a stored ISO date (``YYYY-MM-DD``, maybe with a time) in the screen's format."""
    if not value:
        return ""
    try:
        if len(value) > 10:
            moment = dt.datetime.fromisoformat(value)
            return terms.fmt_datetime(moment, current_language())
        return format_date(dt.date.fromisoformat(value))
    except ValueError:
        return value


def number(value: float | Decimal | None, places: int, *, signed: bool = False) -> str:
    """Return a number with fixed decimals in the screen's language (decimal comma in Danish).

    Parameters
    ----------
    value : float, Decimal or None
        The number (empty text when None).
    places : int
        Decimals (BMD 3, T/Z 1).
    signed : bool
        Print a ``+`` before positive values.

    Returns
    -------
    str
        The formatted number, rounded half away from zero as in the reports.
    """
    if value is None:
        return ""
    return terms.fmt_decimal(value, places, current_language(), signed=signed)


class _LocalFormatter(string.Formatter):
    """``str.format`` that writes numbers with the decimal comma in Danish."""

    def format_field(self, value: object, format_spec: str) -> str:
        text = str(super().format_field(value, format_spec))
        if isinstance(value, float | Decimal) and current_language() == "da":
            return text.replace(".", ",")
        return text


_FORMATTER = _LocalFormatter()


def localised(template: str, /, **values: object) -> str:
    """Fill a translated message like ``str.format`` with numbers in the screen's language.

    Parameters
    ----------
    template : str
        The translated message, e.g. ``_("factor {factor:.4f}")``.
    **values
        The values; floats and Decimals get the decimal comma in Danish.

    Returns
    -------
    str
        The message.
    """
    return _FORMATTER.format(template, **values)


def region_text(code: str, side: str | None = None) -> str:
    """Return a region in words with its side (``femoral_neck``, L -> "Femoral neck, left")."""
    return terms.capitalise(terms.region_label(code, _, side))


def category_text(category: str | None, *, fracture: bool = False) -> str:
    """Return a WHO/ISCD category in words (empty when there is none)."""
    return terms.category_label(category, _, fracture=fracture) if category else ""


def step_kind_text(kind: str) -> str:
    """Return the kind of a calibration step in words."""
    return terms.step_kind_label(kind, _)


def step_status_text(status: str) -> str:
    """Return the status of a calibration step in words."""
    return terms.step_status_label(status, _)


def method_text(method: str) -> str:
    """Return how a calibration step was fitted, in words."""
    return terms.method_label(method, _)


def dataset_text(dataset: str) -> str:
    """Return the data a calibration step was fitted on, in words."""
    return terms.dataset_label(dataset, _)


def qc_rule_text(rules: str) -> str:
    """Return the QC rules that fired, as a user reads them."""
    return terms.qc_rule_label(rules, _)


def image_kind_text(kind: str) -> str:
    """Return what a stored image is, in words."""
    return terms.image_kind_label(kind, _)


def side_text(side: str | None) -> str:
    """Return a side in words (empty when none)."""
    return terms.side_label(side, _)


def sex_code_text(sex: str | None) -> str:
    """Return a stored sex code (``F``, ``M``) in words (empty when unknown)."""
    return terms.sex_label(sex, _) if sex else ""


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
