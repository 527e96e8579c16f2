"""Precision studies: read the entry table or file, compute RMS-SD, %CV, LSC, store, compare."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibration.precision import Precision, meets_minimum, precision
from dxa_app.archive import write_transaction
from dxa_app.archive.db import now_iso
from dxa_app.archive.precision import insert_precision_study
from dxa_app.archive.scanners import scanner_by_id, scanner_by_serial
from dxa_app.errors import ImportProblemError, UsageError
from dxa_app.i18n import _
from dxa_app.resources import resource_path
from dxa_app.services.auth import Permission, Session, acting, record

#: Precision-study designs that give the ISCD minimum of 30 degrees of freedom.
PRECISION_DESIGNS: dict[str, tuple[int, int]] = {"15x3": (15, 3), "30x2": (30, 2)}


def iscd_minimums() -> dict[str, Any]:
    """Return the versioned ISCD minimum-precision data (resources/calibration)."""
    data: dict[str, Any] = json.loads(
        resource_path("calibration", "iscd_precision_minimums.json").read_text(encoding="utf-8")
    )
    return data


@dataclass(frozen=True)
class PrecisionResult:
    """A stored precision study and its figures."""

    id: int
    serial: str
    region: str
    technologist: str
    precision: Precision
    minimum_cv_pct: float | None
    meets_minimum: bool | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        p = self.precision
        return {
            "id": self.id,
            "serial": self.serial,
            "region": self.region,
            "technologist": self.technologist,
            "design": p.design,
            "n_subjects": p.n_subjects,
            "n_scans": p.n_scans,
            "df": p.df,
            "rms_sd_g_cm2": p.rms_sd,
            "rms_cv_pct": p.rms_cv_pct,
            "lsc_g_cm2": p.lsc,
            "lsc_pct": p.lsc_pct,
            "iscd_minimum_cv_pct": self.minimum_cv_pct,
            "meets_iscd_minimum": self.meets_minimum,
        }


def read_measurements(path: Path) -> dict[str, list[float]]:
    """Read a precision file: the same formats as the app's entry table accepts.

    Either long rows with the header ``subject,bmd_g_cm2`` (one row per scan) or wide rows
    ``subject,v1,v2[,v3]``, separated by commas, semicolons or tabs, decimal point or comma
    (see :func:`rows_from_text` and :func:`measurements_from_rows`).

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    dict of str to list of float
        The values per subject.

    Raises
    ------
    ImportProblemError
        When the file cannot be read or its content is not a precision table (the message
        names the file and the line or row).
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ImportProblemError(
            _("{path} could not be read: {error}").format(path=path, error=exc.strerror), ""
        ) from exc
    except UnicodeDecodeError as exc:
        raise ImportProblemError(
            _("{path} is not a UTF-8 text file.").format(path=path), ""
        ) from exc
    try:
        return measurements_from_rows(rows_from_text(text))
    except UsageError as exc:
        raise ImportProblemError(
            _("{path}: {problem}").format(path=path, problem=exc.message), exc.remedy
        ) from exc


def record_precision(
    session: Session,
    *,
    scanner: str | int,
    region: str,
    measurements: dict[str, list[float]],
    technologist: str = "",
) -> PrecisionResult:
    """Compute a precision study, store it with its measurements, and audit it.

    Parameters
    ----------
    session : Session
        The acting technician.
    scanner : str or int
        The scanner's serial (str) or archive id (int).
    region : str
        The region, e.g. ``L1-L4``.
    measurements : dict of str to list of float
        The repeated BMD values per subject (see :func:`measurements_from_rows`).
    technologist : str, optional
        Who scanned.

    Returns
    -------
    PrecisionResult
        The stored study and its figures.

    Raises
    ------
    NotFoundError
        When the scanner is unknown.
    UsageError
        When a subject has fewer than two scans.
    """
    if any(len(v) < 2 for v in measurements.values()) or not measurements:
        raise UsageError(
            _("Every subject needs at least two scans."), _("Check the precision table.")
        )
    p = precision(list(measurements.values()))
    minimum = iscd_minimums()["minimum_cv_pct"].get(region)
    with acting(session, Permission.PRECISION) as db, write_transaction(db):
        row = (
            scanner_by_id(db, scanner)
            if isinstance(scanner, int)
            else scanner_by_serial(db, scanner)
        )
        study_id = insert_precision_study(
            db,
            scanner_id=row.id,
            region=region,
            technologist=technologist,
            design=p.design,
            started=now_iso()[:10],
            rms_sd_g_cm2=p.rms_sd,
            rms_cv_pct=p.rms_cv_pct,
            df=p.df,
            lsc_g_cm2=p.lsc,
            measurements=[
                (subject, n, v)
                for subject, values in measurements.items()
                for n, v in enumerate(values, start=1)
            ],
        )
        record(
            db,
            session,
            "precision_study",
            entity="precision_study",
            entity_id=study_id,
            details={"serial": row.serial, "region": region, "rms_sd": p.rms_sd},
        )
    return PrecisionResult(
        study_id,
        row.serial,
        region,
        technologist,
        p,
        minimum,
        None if minimum is None else meets_minimum(p, float(minimum)),
    )


def precision_regions() -> list[str]:
    """Return the regions that have an ISCD minimum precision (the wizard's choices)."""
    return list(iscd_minimums()["minimum_cv_pct"])


def _number(text: str, where: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError as exc:
        raise UsageError(
            _("{where}: {text} is not a number.").format(where=where, text=text),
            _("Use a BMD in g/cm² such as 1.023."),
        ) from exc


def measurements_from_rows(rows: Sequence[Sequence[str]]) -> dict[str, list[float]]:
    """Turn an entry table (subject, value 1, value 2, ...) into precision measurements.

    Empty rows are skipped; empty value cells are ignored.

    Parameters
    ----------
    rows : sequence of sequence of str
        One row per subject: the subject's code, then its repeated BMD values.

    Returns
    -------
    dict of str to list of float
        The values per subject.

    Raises
    ------
    UsageError
        When a value is not a number, a subject appears twice, has fewer than two values,
        or a row has values but no subject.
    """
    out: dict[str, list[float]] = {}
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        subject = cells[0] if cells else ""
        where = _("Row {n}").format(n=n)
        if not subject:
            raise UsageError(_("{where}: the subject is missing.").format(where=where), "")
        if subject in out:
            raise UsageError(
                _("{where}: the subject {subject} appears twice.").format(
                    where=where, subject=subject
                ),
                "",
            )
        values = [_number(c, where) for c in cells[1:] if c]
        if len(values) < 2:
            raise UsageError(
                _("{where}: the subject {subject} needs at least two scans.").format(
                    where=where, subject=subject
                ),
                "",
            )
        out[subject] = values
    if not out:
        raise UsageError(_("The table is empty."), _("Enter or paste the measurements."))
    return out


def rows_from_text(text: str) -> list[list[str]]:
    """Split pasted text (CSV, semicolons or tabs) into table rows.

    Accepts either wide rows (``subject,v1,v2,v3``) or long rows with the header
    ``subject,bmd_g_cm2`` (one row per scan, as in the precision CSV), which are grouped.

    Parameters
    ----------
    text : str
        The pasted text.

    Returns
    -------
    list of list of str
        One row per subject: the subject, then its values.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    sample = lines[0]
    delimiter = "\t" if "\t" in sample else (";" if ";" in sample else ",")
    raw = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [c.strip().lower() for c in raw[0]]
    if header[:2] == ["subject", "bmd_g_cm2"]:
        grouped: dict[str, list[str]] = {}
        for n, row in enumerate(raw[1:], start=2):
            if len(row) < 2 or not row[0].strip():
                raise UsageError(
                    _("Line {n}: expected the columns subject,bmd_g_cm2 with a number.").format(
                        n=n
                    ),
                    "",
                )
            value = row[1].strip()
            _number(value, _("Line {n}").format(n=n))
            grouped.setdefault(row[0].strip(), []).append(value)
        return [[subject, *values] for subject, values in grouped.items()]
    if header and header[0] == "subject":
        raw = raw[1:]
    return [[c.strip() for c in row] for row in raw]


def design_of(measurements: dict[str, list[float]]) -> str | None:
    """Return the standard design ("15x3", "30x2") the measurements follow, or None."""
    counts = {len(v) for v in measurements.values()}
    for name, (subjects, scans) in PRECISION_DESIGNS.items():
        if len(measurements) == subjects and counts == {scans}:
            return name
    return None
