"""Use cases of the technician workspace: audited import, study detail, precision-table entry."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from dxa_app.archive.db import audit
from dxa_app.errors import NotFoundError, UsageError
from dxa_app.i18n import _
from dxa_app.progress import CancelToken, Progress, no_progress
from dxa_app.services.importing import ImportSummary, import_paths
from dxa_app.services.precision import iscd_minimums
from dxa_app.services.scoring import StudyScores, compute_study_scores
from dxa_app.services.vfa import VfaIndication, vfa_indication

#: Precision-study designs that give the ISCD minimum of 30 degrees of freedom.
PRECISION_DESIGNS: dict[str, tuple[int, int]] = {"15x3": (15, 3), "30x2": (30, 2)}


@dataclass(frozen=True)
class ScannerChoice:
    """A scanner to pick in a form."""

    id: int
    serial: str
    manufacturer: str
    model: str
    site: str


@dataclass(frozen=True)
class StudyImage:
    """One stored image of a study."""

    id: int
    sop_instance_uid: str
    kind: str
    rows: int | None
    columns: int | None
    file_path: str
    note: str


@dataclass(frozen=True)
class StudyDetail:
    """What the study view shows: the scores per region, the images, the VFA indication."""

    scores: StudyScores
    images: tuple[StudyImage, ...]
    indication: VfaIndication


def import_as_user(
    db: sqlite_utils.Database,
    paths: Sequence[str | Path],
    *,
    by: str,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportSummary:
    """Import files and folders (see :func:`import_paths`) and audit the batch with the user.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    paths : sequence of str or Path
        Files and folders.
    by : str
        The logged-in user.
    progress : Progress
        Called after each file.
    cancel : CancelToken, optional
        Checked between files.

    Returns
    -------
    ImportSummary
        One outcome per file.
    """
    summary = import_paths(db, paths, progress=progress, cancel=cancel)
    audit(
        db,
        "import",
        username=by,
        entity="import_batch",
        entity_id=summary.batch,
        details={"paths": [str(p) for p in paths], "counts": summary.counts},
    )
    return summary


def scanner_choices(db: sqlite_utils.Database) -> list[ScannerChoice]:
    """Return every scanner of the archive, by site and serial.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.

    Returns
    -------
    list of ScannerChoice
        The scanners.
    """
    return [
        ScannerChoice(r["id"], r["serial"], r["manufacturer"], r["model"], r["site"])
        for r in db.query(
            "SELECT sc.id, sc.serial, sc.manufacturer, sc.model, coalesce(si.code, '') AS site"
            " FROM scanners sc LEFT JOIN sites si ON si.id = sc.site_id ORDER BY site, sc.serial"
        )
    ]


def precision_regions() -> list[str]:
    """Return the regions that have an ISCD minimum precision (the wizard's choices)."""
    return list(iscd_minimums()["minimum_cv_pct"])


def study_images(db: sqlite_utils.Database, study_id: int) -> list[StudyImage]:
    """Return the stored images of a study.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of StudyImage
        The images in import order.
    """
    return [
        StudyImage(
            r["id"],
            r["sop_instance_uid"],
            r["kind"],
            r["rows"],
            r["columns"],
            r["file_path"],
            r["note"],
        )
        for r in db.query("SELECT * FROM images WHERE study_id = ? ORDER BY id", [study_id])
    ]


def study_detail(db: sqlite_utils.Database, study_id: int, *, by: str) -> StudyDetail:
    """Return a study's scores, images and VFA indication; the access is audited.

    Parameters
    ----------
    db : sqlite_utils.Database
        The open archive.
    study_id : int
        The study.
    by : str
        The user who opens the study (patient data access is logged).

    Returns
    -------
    StudyDetail
        The study view's data.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    scores = compute_study_scores(db, study_id)
    detail = StudyDetail(scores, tuple(study_images(db, study_id)), vfa_indication(db, study_id))
    audit(db, "study_open", username=by, entity="study", entity_id=study_id)
    return detail


def study_id_by_uid(db: sqlite_utils.Database, study_uid: str) -> int:
    """Return the archive id of a study by its UID.

    Raises
    ------
    NotFoundError
        When no study has that UID.
    """
    rows = list(db.query("SELECT id FROM studies WHERE study_uid = ?", [study_uid.strip()]))
    if not rows:
        raise NotFoundError(_("No study {id}.").format(id=study_uid), "")
    return int(rows[0]["id"])


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
        for row in raw[1:]:
            if len(row) >= 2:
                grouped.setdefault(row[0].strip(), []).append(row[1].strip())
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
