"""The APEX table mapping: parsed PatScan tables -> studies, scans, phantom scans and notes.

Shared by every way the database is read (mdb-export, a folder of table CSV files, ODBC):
each yields the tables as mdb-export-shaped CSV text, parsed here with
:class:`~dxa_app.ingest.cells.CsvReader` and mapped by :func:`build`.

APEX as it is (issue 13): a sentinel date (APEX stores "unknown" as 1799-12-31, which
Debian's mdbtools prints as ``1900-01-00``) or an unreadable date is unknown, with a note; a
bad row fails only what it belongs to (the scan, or the patient with all their scans), with a
note naming file, line, column and the scan or patient; only a structural fault (a required
table or column missing, text that is not CSV, a table beyond its size limit) fails the
whole source. A scan with no analysis result in any result table is not imported (it is
named in the notes and imported once APEX has analysed it), so no empty study reaches a
physician.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dxa_app.cpr import cpr_birth_date, normalise_cpr
from dxa_app.domain import (
    VERTEBRAE,
    IdType,
    ImportNote,
    Manufacturer,
    Measurement,
    ParsedSource,
    PatientIdentity,
    PhantomIdentity,
    PhantomKind,
    PhantomPurpose,
    PhantomRegion,
    PhantomResult,
    PhantomScanRecord,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Sex,
    StudyInfo,
    StudyRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.apex_tables import (
    AAB,
    CALIBRATION_SCAN_TYPES,
    HIP_MEASUREMENTS,
    LABEL_COLUMNS,
    MEASUREMENT_COLUMNS,
    REFERENCE_REGIONS,
    REGION_TABLES,
    SCAN_TYPE_NAMES,
    SCAN_TYPES,
    T_HIP,
    T_PATIENT,
    T_REFERENCE,
    T_SCAN,
    T_SPINE,
    T_SYSTEM,
    region_measurement_columns,
)
from dxa_app.ingest.cells import (
    BOM,
    CellParser,
    CellRules,
    CsvReader,
    DateFormats,
    Row,
    Table,
    When,
    decode_lines,
    line_list,
)

DEFAULT_MODEL: Final = "APEX"
"""Model name used when no SystemId table names the scanner model."""

MDB_DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""The date format passed to ``mdb-export`` (four-digit years, no locale)."""

APEX_UNKNOWN_DATE: Final = dt.date(1799, 12, 31)
"""APEX's "no date" (Access double -36523)."""

RESULT_TABLES: Final[tuple[str, ...]] = (T_SPINE, *REGION_TABLES, *MEASUREMENT_COLUMNS)
"""Tables keyed by (PATIENT_KEY, SCANID) that hold a scan's analysis results."""
TABLES: Final[tuple[str, ...]] = (T_PATIENT, T_SCAN, *RESULT_TABLES, T_REFERENCE, T_SYSTEM)
"""The tables this reader uses; any other table is listed in a note and ignored."""
REQUIRED_TABLES: Final[tuple[str, ...]] = (T_PATIENT, T_SCAN)

_MODEL_COLUMNS: Final = ("MODEL", "SYSTEM_MODEL", "MACHINE_MODEL", "SYSTEM_TYPE")
_INSTITUTION_COLUMNS: Final = ("INSTITUTION", "INSTITUTION_NAME", "SITE_NAME", "HOSPITAL")
_SERIAL_COLUMNS: Final = ("SERIAL_NUMBER", "SERIAL_NO", "SERIAL")
_KEYS: Final = ("PATIENT_KEY", "SCANID")


def _region_columns(regions: Iterable[str]) -> set[str]:
    return {f"{p}_{x}" for p in regions for x in AAB}


_COLUMNS: Final[Mapping[str, frozenset[str]]] = {
    T_PATIENT: frozenset(
        {
            "PATIENT_KEY",
            "IDENTIFIER1",
            "LAST_NAME",
            "FIRST_NAME",
            "BIRTHDATE",
            "SEX",
            "ETHNICITY",
            "HEIGHT",
            "WEIGHT",
            "PHANTOM_ID",
            "PHANTOM_TYPE",
        }
    ),
    T_SCAN: frozenset(
        {
            "PATIENT_KEY",
            "SCANID",
            "SERIAL_NUMBER",
            "SCAN_DATE",
            "SCAN_TYPE",
            "SCAN_MODE",
            "SW_VERSION",
            "QC_SCAN",
            "ACCESSION_NO",
            "WL_STUDY_INST_UID",
            "HEIGHT",
            "WEIGHT",
        }
    ),
    T_SPINE: frozenset(
        {
            *_KEYS,
            *(f"L{i}_INCLUDED" for i in range(1, 5)),
            *_region_columns([*(f"L{i}" for i in range(1, 5)), "TOT"]),
            "STD_TOT_BMD",
        }
    ),
    **{
        name: frozenset(
            {
                *_KEYS,
                *_region_columns(regions),
                *(HIP_MEASUREMENTS if name == T_HIP else ()),
            }
        )
        for name, (_type, regions) in REGION_TABLES.items()
    },
    **{
        name: frozenset({*_KEYS, *columns, *LABEL_COLUMNS.get(name, {}).values()})
        for name, columns in MEASUREMENT_COLUMNS.items()
    },
    T_REFERENCE: frozenset({*_KEYS, "REF_TYPE", "BONERANGE", "T_SCORE", "Z_SCORE"}),
    T_SYSTEM: frozenset({*_MODEL_COLUMNS, *_INSTITUTION_COLUMNS, *_SERIAL_COLUMNS}),
}
_REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    T_PATIENT: ("PATIENT_KEY", "IDENTIFIER1"),
    T_SCAN: ("PATIENT_KEY", "SCANID", "SERIAL_NUMBER", "SCAN_DATE", "SCAN_TYPE"),
    **{name: _KEYS for name in RESULT_TABLES},
    T_REFERENCE: (*_KEYS, "REF_TYPE", "BONERANGE"),
    T_SYSTEM: (),
}

#: PHANTOM_TYPE -> (kind, description). Descriptions are archive data, not translated.
_PHANTOMS: Final[Mapping[int, tuple[PhantomKind, str]]] = {
    1: (PhantomKind.HOLOGIC_SPINE, ""),
    2: (PhantomKind.OTHER, "Hologic block (linearity) phantom"),
    3: (PhantomKind.OTHER, "Hologic hip phantom"),
}
_PHANTOM_REGIONS: Final[tuple[tuple[str, PhantomRegion], ...]] = (
    ("L1", PhantomRegion.V1),
    ("L2", PhantomRegion.V2),
    ("L3", PhantomRegion.V3),
    ("L4", PhantomRegion.V4),
    ("TOT", PhantomRegion.TOTAL),
)

_STUDY_UID_NAMESPACE: Final = uuid.UUID("3f1c9a52-6d0e-5b8e-a1c4-7e2d9b0a4c61")


# ---------------------------------------------------------------------------
# keys


def apex_scan_source_key(serial: str, patient_key: str, scan_id: str) -> str:
    """Return the ``ScanRecord.source_key`` of a patient scan.

    Parameters
    ----------
    serial : str
        ``ScanAnalysis.SERIAL_NUMBER`` (as the database gives it, a placeholder too).
    patient_key : str
        ``PATIENT_KEY`` (APEX's own key; it holds no CPR number).
    scan_id : str
        ``ScanAnalysis.SCANID``.

    Returns
    -------
    str
        ``apex:<serial>:<patient key>:<scan id>``.
    """
    return f"apex:{serial}:{patient_key}:{scan_id}"


def apex_qc_source_key(serial: str, patient_key: str, scan_id: str) -> str:
    """Return the ``PhantomScanRecord.source_key`` of a QC phantom scan.

    Parameters
    ----------
    serial : str
        ``ScanAnalysis.SERIAL_NUMBER``.
    patient_key : str
        ``PATIENT_KEY`` of the phantom's record.
    scan_id : str
        ``ScanAnalysis.SCANID``.

    Returns
    -------
    str
        ``apex-qc:<serial>:<patient key>:<scan id>``.
    """
    return f"apex-qc:{serial}:{patient_key}:{scan_id}"


def apex_study_uid(serial: str, patient_key: str, study_date: dt.date) -> str:
    """Return the stable study UID used when a scan has no ``WL_STUDY_INST_UID``.

    Parameters
    ----------
    serial : str
        Scanner serial number.
    patient_key : str
        ``PATIENT_KEY`` (never the CPR number, so the UID cannot reveal it).
    study_date : datetime.date
        Date of the scans.

    Returns
    -------
    str
        ``2.25.<uuid5 as integer>``; the same inputs always give the same UID.
    """
    name = "|".join(("apex", serial, patient_key, study_date.isoformat()))
    return f"2.25.{uuid.uuid5(_STUDY_UID_NAMESPACE, name).int}"


def apex_database_scope(patient_key: str, scan_id: str, acquired_at: dt.datetime) -> str:
    """Return the scope of one APEX database, from its oldest scan.

    PATIENT_KEY is APEX's record key within one database, so a patient without a CPR number
    is ``PATIENT_KEY`` within ``apex:<database>``. A database names itself nowhere (SystemId
    holds only counters), so it is known by its oldest scan, which every later copy of the
    same database still holds.

    Parameters
    ----------
    patient_key, scan_id : str
        The keys of the oldest scan (by SCAN_DATE, then PATIENT_KEY, then SCANID).
    acquired_at : datetime.datetime
        Its SCAN_DATE.

    Returns
    -------
    str
        ``apex:<12 hex digits>``.
    """
    text = "|".join((patient_key, scan_id, acquired_at.isoformat()))
    return "apex:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------
# cells

_RULES: Final = CellRules(
    missing=frozenset({-1.0}),
    point_zero_integers=True,
    true_words=frozenset({"1", "-1", "true", "yes", "y"}),
    false_words=frozenset({"0", "false", "no", "n"}),
)
"""-1 is APEX's "no value"; mdb-export prints yes/no as 1/0 (with -B TRUE/FALSE; Access
true is -1)."""
_NOT_MEASURED: Final = frozenset({-1.0, 0.0})
"""In result tables -1 is "missing" and 0 "not analysed"; neither is a value."""
_DATES: Final = DateFormats(
    (
        re.compile(
            r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{2}|\d{4})"
            r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
        ),
        re.compile(
            r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
            r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
        ),
    ),
    lambda: _(
        "'{value}' is not a date (MM/DD/YY HH:MM:SS as mdb-export prints it,"
        " or YYYY-MM-DD HH:MM:SS)"
    ),
    pivot=69,  # the POSIX %y pivot
)
"""As mdb-export prints dates (MM/DD/YY HH:MM:SS, by default), or in ISO form (with -D)."""
_MDBTOOLS_SENTINEL: Final = re.compile(
    r"(?:\d{4}-(?:0{1,2}-\d{1,2}|\d{1,2}-0{1,2})|(?:0{1,2}/\d{1,2}|\d{1,2}/0{1,2})/\d{2,4})"
    r"(?:[ T].*)?"
)
"""Day or month 00: how mdbtools 1.0 prints any date before 1899-12-30 (APEX's 1799-12-31)."""


def _cells(table: Table) -> CellParser:
    return CellParser(table.label, _RULES)


def _apex_column(cell: str) -> str:
    return cell.strip().strip(BOM).upper()


class _Known:
    """The columns of a table that the reader uses (the only ones kept in its rows)."""

    def __init__(self, table: str) -> None:
        self._columns = _COLUMNS[table]

    def __contains__(self, column: object) -> bool:
        return column in self._columns


@dataclass(frozen=True, slots=True)
class ParsedTable:
    """One table's rows, with the problems of rows that could not be read whole."""

    table: Table
    row_problems: Mapping[int, str]


def parse_table(
    name: str,
    label: str,
    chunks: Iterable[bytes],
    unknown: dict[str, list[str]],
    notes: list[ImportNote],
) -> ParsedTable:
    """Parse one table in mdb-export's CSV shape (header row, commas, text in quotes).

    Parameters
    ----------
    name : str
        The canonical table name (one of :data:`TABLES`).
    label : str
        Names the table in messages (a file, or a database and table).
    chunks : Iterable[bytes]
        The text's lines, read once.
    unknown : dict of str to list of str
        Receives the table's columns this reader does not use.
    notes : list of ImportNote
        Receives notes on encoding and removed characters.

    Returns
    -------
    ParsedTable
        The rows (only the columns used) and the problems of rows with too many values.

    Raises
    ------
    ImportProblemError
        When the header row or a required column is missing, or the text is not CSV.
    """
    reader = CsvReader(decode_lines(label, chunks, notes), label, notes=notes)
    header = reader.header(_apex_column)
    if header is None:
        raise ImportProblemError(
            _("{file} is empty: the header row with the column names is missing.").format(
                file=label
            ),
            _("Export the table again with mdb-export (with its header row)."),
        )
    for column in _REQUIRED_COLUMNS[name]:
        if column not in header:
            raise ImportProblemError(
                _("{file}: required column '{column}' of table {table} is missing.").format(
                    file=label, column=column, table=name
                ),
                _("Export the whole table with mdb-export; see the APEX import notes."),
            )
    strange = [c for c in header if c and c not in _COLUMNS[name]]
    if strange:
        unknown[name] = strange
    problems: dict[int, str] = {}
    rows = reader.rows(
        header,
        keep=_Known(name),
        width_remedy=_("Check separators and quotes in that line; decimals need a point."),
        row_problems=problems,
    )
    return ParsedTable(Table(name, label, rows), problems)


# ---------------------------------------------------------------------------
# what went wrong, row by row


ScanKey = tuple[str, str]


@dataclass(slots=True)
class _Problems:
    """Failures and notes met on the way; a failure takes out one scan or one patient."""

    scans: dict[ScanKey, list[str]] = field(default_factory=dict)
    patients: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    sentinels: Counter[tuple[str, str]] = field(default_factory=Counter)
    bad_dates: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    orphans: Counter[str] = field(default_factory=Counter)

    def fail_scan(self, key: ScanKey, problem: str) -> None:
        self.scans.setdefault(key, []).append(problem)

    def fail_patient(self, key: str, problem: str) -> None:
        self.patients.setdefault(key, []).append(problem)


def _date(p: CellParser, row: Row, column: str, problems: _Problems) -> When | None:
    """Return a date; a sentinel or an unreadable date is unknown (None), counted for a note."""
    value = p.text(row, column)
    if not value:
        return None
    if _MDBTOOLS_SENTINEL.fullmatch(value):
        problems.sentinels[(p.label, column)] += 1
        return None
    try:
        when = p.when(row, column, _DATES)
    except ImportProblemError:
        problems.bad_dates.setdefault((p.label, column), []).append(row.line)
        return None
    if when is not None and when.at.date() <= APEX_UNKNOWN_DATE:
        problems.sentinels[(p.label, column)] += 1
        return None
    return when


def _row_problem(parsed: ParsedTable, row: Row) -> str | None:
    return parsed.row_problems.get(row.line)


# ---------------------------------------------------------------------------
# patients, scans, result rows


@dataclass(slots=True)
class _Patient:
    row: Row
    key: str
    identifier1: str
    cpr: str | None
    name: str
    birth: When | None
    sex: Sex | None
    height_cm: float | None
    weight_kg: float | None
    phantom_id: str
    phantom_type: int | None


@dataclass(slots=True)
class _Scan:
    row: Row
    patient: _Patient
    scan_id: str
    serial: str
    acquired_at: dt.datetime
    code: int
    scan_mode: str
    software_version: str
    qc: bool
    accession: str
    wl_uid: str
    height_cm: float | None
    weight_kg: float | None

    @property
    def key(self) -> ScanKey:
        return (self.patient.key, self.scan_id)


@dataclass(slots=True)
class _System:
    by_serial: dict[str, tuple[str, str]] = field(default_factory=dict)
    default: tuple[str, str] = ("", "")


def _first_text(p: CellParser, row: Row, columns: Sequence[str]) -> str:
    return next((v for c in columns if (v := p.text(row, c))), "")


def _read_system(table: Table | None) -> _System:
    """Model and institution per serial from SystemId (UNVERIFIED: column names guessed)."""
    system = _System()
    if table is None:
        return system
    p = _cells(table)
    for row in table.rows:
        model = _first_text(p, row, _MODEL_COLUMNS)
        institution = _first_text(p, row, _INSTITUTION_COLUMNS)
        serial = _first_text(p, row, _SERIAL_COLUMNS)
        if serial:
            system.by_serial.setdefault(serial, (model, institution))
        elif system.default == ("", ""):
            system.default = (model, institution)
    if len(system.by_serial) == 1 and system.default == ("", ""):
        system.default = next(iter(system.by_serial.values()))
    return system


def _read_patient(p: CellParser, row: Row, key: str, problems: _Problems) -> _Patient:
    raw_id = p.text(row, "IDENTIFIER1")
    sex_text = p.text(row, "SEX").upper()
    names = (p.text(row, "FIRST_NAME"), p.text(row, "LAST_NAME"))
    return _Patient(
        row=row,
        key=key,
        identifier1=raw_id,
        cpr=normalise_cpr(raw_id),
        name=" ".join(n for n in names if n),
        birth=_date(p, row, "BIRTHDATE", problems),
        sex=Sex.FEMALE if sex_text == "F" else Sex.MALE if sex_text == "M" else None,
        height_cm=p.number(row, "HEIGHT", missing=_NOT_MEASURED),
        weight_kg=p.number(row, "WEIGHT", missing=_NOT_MEASURED),
        phantom_id=p.text(row, "PHANTOM_ID"),
        phantom_type=p.integer(row, "PHANTOM_TYPE"),
    )


def _read_patients(parsed: ParsedTable, problems: _Problems) -> dict[str, _Patient]:
    """Return the readable patients by PATIENT_KEY; a bad row fails its patient."""
    table = parsed.table
    p = _cells(table)
    patients: dict[str, _Patient] = {}
    lines: dict[str, int] = {}
    for row in table.rows:
        key = p.text(row, "PATIENT_KEY")
        if not key:
            problems.messages.append(
                _("{file}, line {line}: the row has no PATIENT_KEY; it was not read.").format(
                    file=table.label, line=row.line
                )
            )
            continue
        if key in lines:
            problems.fail_patient(
                key,
                p.fail(
                    row,
                    "PATIENT_KEY",
                    _("'{value}' appears twice (first on line {first})").format(
                        value=key, first=lines[key]
                    ),
                ).message,
            )
            continue
        lines[key] = row.line
        width = _row_problem(parsed, row)
        if width is not None:
            problems.fail_patient(key, width)
            continue
        try:
            patients[key] = _read_patient(p, row, key, problems)
        except ImportProblemError as exc:
            problems.fail_patient(key, exc.message)
    for key in problems.patients:
        patients.pop(key, None)
    return patients


def _read_scan(p: CellParser, row: Row, patient: _Patient, problems: _Problems) -> _Scan:
    when = _date(p, row, "SCAN_DATE", problems)
    if when is None:
        raise p.fail(row, "SCAN_DATE", _("the scan date is unknown"))
    code = p.integer(row, "SCAN_TYPE")
    if code is None:
        raise p.fail(row, "SCAN_TYPE", _("a value is required"))
    return _Scan(
        row=row,
        patient=patient,
        scan_id=p.required_text(row, "SCANID"),
        serial=p.text(row, "SERIAL_NUMBER"),
        acquired_at=when.at,
        code=code,
        scan_mode=p.text(row, "SCAN_MODE"),
        software_version=p.text(row, "SW_VERSION"),
        qc=p.flag(row, "QC_SCAN", False),
        accession=p.text(row, "ACCESSION_NO"),
        wl_uid=p.text(row, "WL_STUDY_INST_UID"),
        height_cm=p.number(row, "HEIGHT", missing=_NOT_MEASURED),
        weight_kg=p.number(row, "WEIGHT", missing=_NOT_MEASURED),
    )


def _read_scans(
    parsed: ParsedTable, patients: Mapping[str, _Patient], problems: _Problems
) -> tuple[list[_Scan], dict[str, int]]:
    """Return the readable scans, and how many scans each failed patient had."""
    table = parsed.table
    p = _cells(table)
    scans: dict[ScanKey, _Scan] = {}
    lines: dict[ScanKey, int] = {}
    of_failed: Counter[str] = Counter()
    for row in table.rows:
        patient_key, scan_id = p.text(row, "PATIENT_KEY"), p.text(row, "SCANID")
        if not patient_key or not scan_id:
            problems.messages.append(
                _(
                    "{file}, line {line}: the row has no PATIENT_KEY or SCANID; it was not read."
                ).format(file=table.label, line=row.line)
            )
            continue
        key = (patient_key, scan_id)
        if patient_key in problems.patients:
            of_failed[patient_key] += 1
            continue
        if key in lines:
            problems.fail_scan(
                key,
                p.fail(
                    row,
                    "SCANID",
                    _(
                        "scan {scan} of patient key {key} appears twice (first on line {first})"
                    ).format(scan=scan_id, key=patient_key, first=lines[key]),
                ).message,
            )
            continue
        lines[key] = row.line
        patient = patients.get(patient_key)
        if patient is None:
            problems.fail_scan(
                key,
                p.fail(
                    row,
                    "PATIENT_KEY",
                    _("'{value}' is not in table PATIENT").format(value=patient_key),
                ).message,
            )
            continue
        width = _row_problem(parsed, row)
        if width is not None:
            problems.fail_scan(key, width)
            continue
        try:
            scans[key] = _read_scan(p, row, patient, problems)
        except ImportProblemError as exc:
            problems.fail_scan(key, exc.message)
    return [s for k, s in scans.items() if k not in problems.scans], dict(of_failed)


def _index(
    parsed: ParsedTable | None, scans: Mapping[ScanKey, _Scan], problems: _Problems
) -> dict[ScanKey, Row]:
    """Return the rows of a result table by (PATIENT_KEY, SCANID); a bad row fails its scan."""
    out: dict[ScanKey, Row] = {}
    if parsed is None:
        return out
    table = parsed.table
    p = _cells(table)
    for row in table.rows:
        key = (p.text(row, "PATIENT_KEY"), p.text(row, "SCANID"))
        if not all(key):
            problems.messages.append(
                _(
                    "{file}, line {line}: the row has no PATIENT_KEY or SCANID; it was not read."
                ).format(file=table.label, line=row.line)
            )
            continue
        if key not in scans:
            if key[0] not in problems.patients and key not in problems.scans:
                problems.orphans[table.name] += 1
            continue
        if key in out:
            problems.fail_scan(
                key,
                p.fail(
                    row,
                    "SCANID",
                    _(
                        "scan {scan} of patient key {key} appears twice (first on line {first})"
                    ).format(scan=key[1], key=key[0], first=out[key].line),
                ).message,
            )
            continue
        width = _row_problem(parsed, row)
        if width is not None:
            problems.fail_scan(key, width)
        out[key] = row
    return out


Score = tuple[Region, float | None, float | None]


def _reference_scores(
    parsed: ParsedTable | None, scans: Mapping[ScanKey, _Scan], problems: _Problems
) -> tuple[dict[ScanKey, list[Score]], set[str]]:
    scores: dict[ScanKey, list[Score]] = {}
    unknown: set[str] = set()
    if parsed is None:
        return scores, unknown
    table = parsed.table
    p = _cells(table)
    for row in table.rows:
        key = (p.text(row, "PATIENT_KEY"), p.text(row, "SCANID"))
        if key not in scans:
            if all(key) and key[0] not in problems.patients and key not in problems.scans:
                problems.orphans[table.name] += 1
            continue
        width = _row_problem(parsed, row)
        if width is not None:
            problems.fail_scan(key, width)
            continue
        try:
            ref_type = p.text(row, "REF_TYPE").upper()
            bone_range = p.text(row, "BONERANGE")
            # T- and Z-scores of -1 (and 0) are real scores: no sentinel here.
            t = p.measurement(row, "T_SCORE", "t_score", missing=())
            z = p.measurement(row, "Z_SCORE", "z_score", missing=())
        except ImportProblemError as exc:
            problems.fail_scan(key, exc.message)
            continue
        region = REFERENCE_REGIONS.get((ref_type, bone_range))
        if region is None:
            unknown.add(f"{ref_type}/{bone_range}")
            continue
        scores.setdefault(key, []).append((region, t, z))
    return scores, unknown


# ---------------------------------------------------------------------------
# values of one result row


def _aab(p: CellParser, row: Row, prefix: str) -> tuple[float | None, float | None, float | None]:
    """Return area, BMC and BMD of one region, each checked against its plausible range."""
    return (
        p.measurement(row, f"{prefix}_AREA", "area_cm2", missing=_NOT_MEASURED),
        p.measurement(row, f"{prefix}_BMC", "bmc_g", missing=_NOT_MEASURED),
        p.measurement(row, f"{prefix}_BMD", "bmd_g_cm2", missing=_NOT_MEASURED),
    )


def _region(
    p: CellParser, row: Row, prefix: str, region: Region, included: bool = True
) -> RegionResult | None:
    area, bmc, bmd = _aab(p, row, prefix)
    if area is None and bmc is None and bmd is None:
        return None
    return RegionResult(region, bmd, bmc, area, included=included)


def _spine_results(p: CellParser, row: Row, notes: list[str]) -> list[RegionResult]:
    results: list[RegionResult] = []
    included: set[int] = set()
    for i, region in enumerate(VERTEBRAE, start=1):
        inc = p.flag(row, f"L{i}_INCLUDED", True)
        result = _region(p, row, f"L{i}", region, inc)
        if result is not None:
            results.append(result)
            if inc:
                included.add(i)
    if not results or included == {1, 2, 3, 4}:
        total_region: Region | None = Region.L1_L4
    elif included == {2, 3, 4}:
        total_region = Region.L2_L4
    else:
        total_region = None
    total = _region(p, row, "TOT", total_region or Region.L1_L4)
    if total is not None:
        if total_region is None:
            levels = ",".join(f"L{i}" for i in sorted(included))
            notes.append(
                _(
                    "{file}, line {line}: the spine total over {levels} has no matching region;"
                    " only the vertebrae were imported."
                ).format(file=p.label, line=row.line, levels=levels or "-")
            )
        else:
            results.append(total)
    return results


def _measurements(
    p: CellParser, row: Row, table: str, columns: Mapping[str, str]
) -> list[Measurement]:
    """Return the values of a row's measurement columns (-1 and 0 are no value)."""
    labels = LABEL_COLUMNS.get(table, {})
    out: list[Measurement] = []
    for column, unit in columns.items():
        value = p.number(row, column, missing=_NOT_MEASURED)
        if value is None:
            continue
        label = next(
            (p.text(row, name) for prefix, name in labels.items() if column.startswith(prefix)),
            "",
        )
        out.append(Measurement(table, column, value, unit, label))
    return out


def _phantom_results(p: CellParser, row: Row) -> tuple[PhantomResult, ...]:
    out: list[PhantomResult] = []
    for prefix, region in _PHANTOM_REGIONS:
        area, bmc, bmd = _aab(p, row, prefix)
        if bmd is not None:
            out.append(PhantomResult(region, bmd, bmc, area))
    return tuple(out)


# ---------------------------------------------------------------------------
# the mapping


@dataclass(slots=True)
class _Source:
    """The tables of one source, read and indexed for the mapping."""

    tables: Mapping[str, ParsedTable]
    institution_name: str
    system: _System
    patients: dict[str, _Patient]
    scans: list[_Scan]
    of_failed_patients: dict[str, int]
    results: dict[str, dict[ScanKey, Row]]
    scores: dict[ScanKey, list[Score]]
    unknown_ranges: set[str]
    scope: str
    has_scan_heights: bool


@dataclass(slots=True)
class _Tally:
    """What the mapping met on its way, for the notes (each kind listed once)."""

    messages: list[str] = field(default_factory=list)
    guessed_births: int = 0
    births_from_cpr: int = 0
    calibration: int = 0
    no_phantom_results: int = 0
    unknown_codes: set[int] = field(default_factory=set)
    unmatched_scores: set[str] = field(default_factory=set)
    no_cpr: dict[str, bool] = field(default_factory=dict)  # key -> IDENTIFIER1 empty
    no_results: list[_Scan] = field(default_factory=list)
    as_measurements: Counter[tuple[str, int]] = field(default_factory=Counter)


@dataclass(slots=True)
class _StudyAcc:
    uid: str
    first: _Scan
    scans: list[ScanRecord] = field(default_factory=list)
    sources: list[_Scan] = field(default_factory=list)


def _read_source(
    path: Path, tables: Mapping[str, ParsedTable], institution_name: str, problems: _Problems
) -> _Source:
    """Check that the required tables are there, then read and index every table."""
    for name in REQUIRED_TABLES:
        if name not in tables:
            raise ImportProblemError(
                _("{source}: required table {table} is missing.").format(
                    source=path.name, table=name
                ),
                _("Export table {table} too (file {table}.csv); see the APEX import notes.").format(
                    table=name
                ),
            )
    system_table = tables.get(T_SYSTEM)
    system = _read_system(None if system_table is None else system_table.table)
    patients = _read_patients(tables[T_PATIENT], problems)
    scans, of_failed = _read_scans(tables[T_SCAN], patients, problems)
    by_key = {s.key: s for s in scans}
    results = {name: _index(tables.get(name), by_key, problems) for name in RESULT_TABLES}
    scores, unknown_ranges = _reference_scores(tables.get(T_REFERENCE), by_key, problems)
    oldest = min(scans, key=lambda s: (s.acquired_at, s.patient.key, s.scan_id), default=None)
    scope = (
        apex_database_scope(oldest.patient.key, oldest.scan_id, oldest.acquired_at)
        if oldest is not None
        else "apex:" + path.name
    )
    scan_header = tables[T_SCAN].table.rows[0].values if tables[T_SCAN].table.rows else {}
    return _Source(
        tables=tables,
        institution_name=institution_name,
        system=system,
        patients=patients,
        scans=[s for s in scans if s.key not in problems.scans],
        of_failed_patients=of_failed,
        results=results,
        scores=scores,
        unknown_ranges=unknown_ranges,
        scope=scope,
        has_scan_heights="HEIGHT" in scan_header or "WEIGHT" in scan_header,
    )


def _scanner(source: _Source, scan: _Scan) -> ScannerIdentity:
    model, institution = source.system.by_serial.get(scan.serial, source.system.default)
    return ScannerIdentity(
        manufacturer=Manufacturer.HOLOGIC,
        model=model or DEFAULT_MODEL,
        serial=scan.serial,
        software_version=scan.software_version,
        institution_name=source.institution_name or institution,
    )


def _birth_date(patient: _Patient, reference: dt.date) -> tuple[dt.date | None, bool]:
    """Return the birth date and whether its century had to be guessed."""
    if patient.birth is None:
        return None, False
    day = patient.birth.at.date()
    if not patient.birth.two_digit_year:
        return day, False
    yy = day.year % 100
    if patient.cpr is not None:
        from_cpr = cpr_birth_date(patient.cpr)
        if from_cpr is not None and (from_cpr.day, from_cpr.month, from_cpr.year % 100) == (
            day.day,
            day.month,
            yy,
        ):
            return from_cpr, False
    for century in (2000, 1900, 1800):
        try:
            candidate = day.replace(year=century + yy)
        except ValueError:
            continue
        if candidate <= reference:
            return candidate, True
    return day, True


def _identities(source: _Source, tally: _Tally) -> dict[str, PatientIdentity]:
    """Return each patient by PATIENT_KEY.

    A CPR number in IDENTIFIER1 identifies the person nationally; any other patient is its
    PATIENT_KEY within this database (IDENTIFIER1 is free text, often shared by many).
    """
    first_scan: dict[str, dt.date] = {}
    for scan in source.scans:
        day = scan.acquired_at.date()
        first_scan[scan.patient.key] = min(first_scan.get(scan.patient.key, day), day)
    today = dt.date.today()
    identities: dict[str, PatientIdentity] = {}
    for patient_key, p in source.patients.items():
        birth, guessed = _birth_date(p, first_scan.get(patient_key, today))
        tally.guessed_births += guessed
        if birth is None and p.cpr is not None:
            birth = cpr_birth_date(p.cpr)
            tally.births_from_cpr += birth is not None
        if p.cpr is not None:
            identities[patient_key] = PatientIdentity(p.cpr, IdType.CPR, p.name, birth, p.sex)
        else:
            identities[patient_key] = PatientIdentity(
                patient_key, IdType.OTHER, p.name, birth, p.sex, source.scope
            )
    return identities


def _phantom_scan(source: _Source, scan: _Scan, tally: _Tally) -> PhantomScanRecord | None:
    """Return a QC phantom scan with its results from table Spine; None without results."""
    p = scan.patient
    spine_table, spine = source.tables.get(T_SPINE), source.results[T_SPINE].get(scan.key)
    phantom_results: tuple[PhantomResult, ...] = ()
    if spine_table is not None and spine is not None:
        phantom_results = _phantom_results(_cells(spine_table.table), spine)
    if not phantom_results:
        tally.no_phantom_results += 1
        return None
    kind, description = _PHANTOMS.get(
        p.phantom_type or 0,
        (PhantomKind.OTHER, f"APEX QC phantom (PHANTOM_TYPE {p.phantom_type or 0})"),
    )
    return PhantomScanRecord(
        source_key=apex_qc_source_key(scan.serial, p.key, scan.scan_id),
        phantom=PhantomIdentity(kind, p.phantom_id or p.identifier1 or p.key, description),
        scanner=_scanner(source, scan),
        acquired_at=scan.acquired_at,
        purpose=PhantomPurpose.DAILY_QC,
        results=phantom_results,
    )


def _scan_values(
    source: _Source, scan: _Scan, scan_type: ScanType, tally: _Tally
) -> tuple[list[RegionResult], list[Measurement]]:
    """Return a scan's region results (from its own type's table) and further measurements."""
    regions: list[RegionResult] = []
    measurements: list[Measurement] = []
    for name, rows in source.results.items():
        row = rows.get(scan.key)
        if row is None:
            continue
        p = _cells(source.tables[name].table)
        if name == T_SPINE and scan_type is ScanType.AP_SPINE:
            regions.extend(_spine_results(p, row, tally.messages))
        elif name in REGION_TABLES and REGION_TABLES[name][0] is scan_type:
            prefixes = REGION_TABLES[name][1]
            regions.extend(r for pre, reg in prefixes.items() if (r := _region(p, row, pre, reg)))
        elif name == T_SPINE or name in REGION_TABLES:
            # a result row of another type's table (e.g. a prosthetic hip in table Hip):
            # kept as it is, never as a diagnostic region
            prefixes = REGION_TABLES[name][1] if name in REGION_TABLES else _SPINE_PREFIXES
            found = _measurements(p, row, name, region_measurement_columns(prefixes))
            measurements.extend(found)
            if found:
                tally.as_measurements[(name, scan.code)] += 1
        if name in MEASUREMENT_COLUMNS:
            measurements.extend(_measurements(p, row, name, MEASUREMENT_COLUMNS[name]))
        elif name == T_HIP:
            measurements.extend(_measurements(p, row, name, HIP_MEASUREMENTS))
    for region, t, z in source.scores.get(scan.key, ()):
        index = next((i for i, r in enumerate(regions) if r.region is region), None)
        if index is None:
            tally.unmatched_scores.add(str(region))
            continue
        regions[index] = dataclasses.replace(regions[index], vendor_t=t, vendor_z=z)
    return regions, measurements


_SPINE_PREFIXES: Final[Mapping[str, Region]] = {
    "L1": Region.L1,
    "L2": Region.L2,
    "L3": Region.L3,
    "L4": Region.L4,
    "TOT": Region.L1_L4,
}


def _scan_record(source: _Source, scan: _Scan, tally: _Tally) -> ScanRecord | None:
    """Return a patient scan; None (named in the notes) when it has no analysis result."""
    p = scan.patient
    if p.cpr is None:
        tally.no_cpr[p.key] = not p.identifier1
    scan_type, side = SCAN_TYPES.get(scan.code, (ScanType.OTHER, None))
    if scan.code not in SCAN_TYPES:
        tally.unknown_codes.add(scan.code)
    regions, measurements = _scan_values(source, scan, scan_type, tally)
    if not regions and not measurements:
        tally.no_results.append(scan)
        return None
    return ScanRecord(
        source_key=apex_scan_source_key(scan.serial, p.key, scan.scan_id),
        scan_type=scan_type,
        acquired_at=scan.acquired_at,
        side=side,
        scan_mode=scan.scan_mode,
        software_version=scan.software_version,
        results=tuple(regions),
        height_cm=scan.height_cm,
        weight_kg=scan.weight_kg,
        measurements=tuple(measurements),
    )


def _add_to_study(
    source: _Source,
    studies: dict[str, _StudyAcc],
    scan: _Scan,
    record: ScanRecord,
    problems: _Problems,
) -> None:
    """Put a scan into its study (the worklist UID, else one derived per patient and day)."""
    p = scan.patient
    uid = scan.wl_uid or apex_study_uid(scan.serial, p.key, scan.acquired_at.date())
    acc = studies.get(uid)
    if acc is None:
        acc = studies[uid] = _StudyAcc(uid, scan)
    elif acc.first.patient.key != p.key:
        problems.fail_scan(
            scan.key,
            _cells(source.tables[T_SCAN].table)
            .fail(
                scan.row,
                "WL_STUDY_INST_UID",
                _("'{value}' belongs to another patient's study (line {first})").format(
                    value=uid, first=acc.first.row.line
                ),
            )
            .message,
        )
        return
    acc.scans.append(record)
    acc.sources.append(scan)


def _map_scans(
    source: _Source, tally: _Tally, problems: _Problems
) -> tuple[dict[str, _StudyAcc], list[PhantomScanRecord]]:
    """Sort the scans into patient studies and QC phantom scans; skip calibration scans."""
    studies: dict[str, _StudyAcc] = {}
    phantom_scans: list[PhantomScanRecord] = []
    for scan in sorted(source.scans, key=lambda s: (s.acquired_at, s.patient.key, s.scan_id)):
        try:
            if scan.code in CALIBRATION_SCAN_TYPES:
                tally.calibration += 1
            elif (scan.patient.phantom_type or 0) > 0 or scan.qc:
                phantom = _phantom_scan(source, scan, tally)
                if phantom is not None:
                    phantom_scans.append(phantom)
            else:
                record = _scan_record(source, scan, tally)
                if record is not None:
                    _add_to_study(source, studies, scan, record, problems)
        except ImportProblemError as exc:
            problems.fail_scan(scan.key, exc.message)
    return studies, phantom_scans


def _study_records(
    source: _Source,
    studies: Mapping[str, _StudyAcc],
    identities: Mapping[str, PatientIdentity],
) -> tuple[StudyRecord, ...]:
    records: list[StudyRecord] = []
    for acc in studies.values():
        first = acc.first
        accession = next((s.accession for s in acc.sources if s.accession), "")
        height = next((s.height_cm for s in acc.sources if s.height_cm is not None), None)
        weight = next((s.weight_kg for s in acc.sources if s.weight_kg is not None), None)
        if not source.has_scan_heights:  # an older APEX: only the patient row's values
            height, weight = first.patient.height_cm, first.patient.weight_kg
        info = StudyInfo(
            study_uid=acc.uid,
            study_date=first.acquired_at.date(),
            accession=accession,
            height_cm=height,
            weight_kg=weight,
        )
        records.append(
            StudyRecord(
                scanner=_scanner(source, first),
                patient=identities[first.patient.key],
                study=info,
                scans=tuple(acc.scans),
            )
        )
    return tuple(records)


# ---------------------------------------------------------------------------
# notes


def _scan_name(scan: _Scan) -> str:
    kind = SCAN_TYPE_NAMES.get(scan.code, f"SCAN_TYPE {scan.code}")
    return f"{scan.scan_id} ({scan.acquired_at:%Y-%m-%d}, {kind}, PATIENT_KEY {scan.patient.key})"


def _failure_notes(source: _Source, problems: _Problems) -> list[ImportNote]:
    """One error per failed patient and per failed scan, naming it and the first problem."""
    notes: list[ImportNote] = []
    for key, found in problems.patients.items():
        notes.append(
            ImportNote(
                _(
                    "Patient {key} was not imported ({n} scans): {problem}"
                    " The rest of the database was imported."
                ).format(key=key, n=source.of_failed_patients.get(key, 0), problem=found[0]),
                "error",
            )
        )
    for (patient_key, scan_id), found in problems.scans.items():
        more = (
            " " + _("({n} more problems in this scan.)").format(n=len(found) - 1)
            if len(found) > 1
            else ""
        )
        notes.append(
            ImportNote(
                _("Scan {scan} of patient {key} was not imported: {problem}").format(
                    scan=scan_id, key=patient_key, problem=found[0]
                )
                + more,
                "error",
            )
        )
    return notes


def _date_notes(problems: _Problems) -> list[str]:
    messages: list[str] = []
    for (label, column), n in sorted(problems.sentinels.items()):
        messages.append(
            _(
                "{file}, column '{column}': {n} cells hold APEX's 'unknown date' (1799-12-31,"
                " which mdbtools prints as 1900-01-00); read as unknown."
            ).format(file=label, column=column, n=n)
        )
    for (label, column), lines in sorted(problems.bad_dates.items()):
        messages.append(
            _(
                "{file}, column '{column}': line {lines} holds no readable date; read as unknown."
            ).format(file=label, column=column, lines=line_list(lines))
        )
    return messages


def _source_notes(source: _Source, tally: _Tally) -> list[str]:
    """Notes on what the database lacks: scanner model, institution, birth years, CPR."""
    messages: list[str] = []
    system = source.system
    if not system.default[0] and not system.by_serial:
        messages.append(
            _(
                "No scanner model found (table SystemId missing or without a model column);"
                " the model is recorded as '{model}'."
            ).format(model=DEFAULT_MODEL)
        )
    if not source.institution_name and not system.default[1] and not system.by_serial:
        messages.append(
            _(
                "The database names no institution; the site comes from the site mapping"
                " of the scanner serial (or is UNKNOWN)."
            )
        )
    if tally.guessed_births:
        messages.append(
            _(
                "{n} birth dates have a two-digit year; the century was chosen so that the"
                " patient was born before the first scan. Export with mdb-export -D"
                " '{fmt}' to avoid the guess."
            ).format(n=tally.guessed_births, fmt=MDB_DATE_FORMAT)
        )
    if tally.births_from_cpr:
        messages.append(
            _("{n} unknown birth dates were taken from the patients' CPR numbers.").format(
                n=tally.births_from_cpr
            )
        )
    if tally.no_cpr:
        empty = sum(tally.no_cpr.values())
        messages.append(
            _(
                "{n} patients have no CPR number in IDENTIFIER1 ({empty} empty, {text} other"
                " text); each is identified by its APEX PATIENT_KEY within this database"
                " ({scope}), never by IDENTIFIER1, which many patients may share."
            ).format(
                n=len(tally.no_cpr), empty=empty, text=len(tally.no_cpr) - empty, scope=source.scope
            )
        )
    return messages


def _skipped_notes(source: _Source, tally: _Tally) -> list[str]:
    """Notes on scans and scores that were not imported, or imported as 'other'."""
    messages: list[str] = []
    if tally.no_results:
        messages.append(
            _(
                "{n} scans have no analysis results in the database and were not imported"
                " (they are imported once APEX has analysed them): {scans}."
            ).format(
                n=len(tally.no_results), scans="; ".join(_scan_name(s) for s in tally.no_results)
            )
        )
    if tally.calibration:
        messages.append(
            _("{n} calibration (flattening) scans were not imported.").format(n=tally.calibration)
        )
    if tally.no_phantom_results:
        messages.append(
            _("{n} QC phantom scans have no results in table Spine and were not imported.").format(
                n=tally.no_phantom_results
            )
        )
    if tally.unknown_codes:
        messages.append(
            _("Scans with unknown SCAN_TYPE codes were imported as 'other': {codes}.").format(
                codes=", ".join(str(c) for c in sorted(tally.unknown_codes))
            )
        )
    for (table, code), n in sorted(tally.as_measurements.items()):
        messages.append(
            _(
                "{n} rows of table {table} belong to scans of SCAN_TYPE {code}; their values"
                " were kept as additional measurements, not as diagnostic regions."
            ).format(n=n, table=table, code=code)
        )
    if source.unknown_ranges:
        messages.append(
            _(
                "ReferenceResults: T- and Z-scores of unknown REF_TYPE/BONERANGE combinations"
                " were not imported: {ranges}."
            ).format(ranges=", ".join(sorted(source.unknown_ranges)))
        )
    if tally.unmatched_scores:
        messages.append(
            _(
                "ReferenceResults: T- and Z-scores without a matching region result were"
                " not imported: {regions}."
            ).format(regions=", ".join(sorted(tally.unmatched_scores)))
        )
    return messages


def _orphan_notes(problems: _Problems) -> list[str]:
    return [
        _("{n} rows of table {table} belong to no scan in ScanAnalysis; ignored.").format(
            n=n, table=name
        )
        for name, n in sorted(problems.orphans.items())
    ]


def build(
    path: Path,
    reader_name: str,
    tables: Mapping[str, ParsedTable],
    notes: list[ImportNote],
    institution_name: str,
) -> ParsedSource:
    """Map the parsed tables to studies and phantom scans.

    Parameters
    ----------
    path : Path
        The source (a database file or a folder), named in messages.
    reader_name : str
        The reader's name, recorded with the import.
    tables : Mapping[str, ParsedTable]
        The tables found (canonical name -> parsed table).
    notes : list of ImportNote
        The notes met while reading the tables; the mapping's are added.
    institution_name : str
        The institution to record for the scanner (else SystemId's, else "").

    Returns
    -------
    ParsedSource
        One StudyRecord per patient visit, one PhantomScanRecord per QC phantom scan, the
        database's scope (``apex:<database>``) and the notes: what was unknown, what failed
        (errors naming the scan or patient) and what was not imported.

    Raises
    ------
    ImportProblemError
        When a required table is missing.
    """
    problems = _Problems()
    source = _read_source(path, tables, institution_name, problems)
    tally = _Tally()
    identities = _identities(source, tally)
    studies, phantom_scans = _map_scans(source, tally, problems)
    failed = {key for key in problems.scans}
    kept = {
        uid: dataclasses.replace(
            acc,
            scans=[r for r, s in zip(acc.scans, acc.sources, strict=True) if s.key not in failed],
            sources=[s for s in acc.sources if s.key not in failed],
        )
        for uid, acc in studies.items()
    }
    study_records = _study_records(
        source, {uid: acc for uid, acc in kept.items() if acc.scans}, identities
    )
    messages = [
        *problems.messages,
        *tally.messages,  # met on the way, e.g. spine totals without a region
        *_date_notes(problems),
        *_source_notes(source, tally),
        *_skipped_notes(source, tally),
        *_orphan_notes(problems),
    ]
    notes.extend(ImportNote(m) for m in messages)
    notes.extend(_failure_notes(source, problems))
    return ParsedSource(
        path=str(path),
        reader=reader_name,
        studies=study_records,
        phantom_scans=tuple(phantom_scans),
        notes=tuple(notes),
        scope=source.scope,
    )
