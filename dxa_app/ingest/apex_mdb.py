"""Reader of the Hologic APEX database PatScan.mdb (via mdbtools) and of its CSV table export."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dxa_app.cpr import cpr_birth_date, normalise_cpr
from dxa_app.domain import (
    VERTEBRAE,
    IdType,
    ImportNote,
    Manufacturer,
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
    Side,
    StudyInfo,
    StudyRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.base import FileReader, FolderReader, Reader
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
)
from dxa_app.ingest.files import binary_lines, check_size, open_regular

__all__ = [
    "DEFAULT_MODEL",
    "FOLDER_READER",
    "FOLDER_READER_NAME",
    "MDB_DATE_FORMAT",
    "READER",
    "READER_NAME",
    "REQUIRED_TABLES",
    "TABLES",
    "ApexFolderReader",
    "ApexMdbReader",
    "apex_qc_source_key",
    "apex_scan_source_key",
    "apex_study_uid",
    "read_folder",
    "read_mdb",
]

READER_NAME: Final = "apex_mdb"
FOLDER_READER_NAME: Final = "apex_folder"
DEFAULT_MODEL: Final = "APEX"
"""Model name used when no SystemId table names the scanner model."""

MDB_DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""The date format passed to ``mdb-export`` (four-digit years, no locale)."""

MDB_SIGNATURES: Final[tuple[bytes, ...]] = (b"Standard Jet DB", b"Standard ACE DB")
MDBTOOLS_TIMEOUT_S: Final = 300

T_PATIENT: Final = "PATIENT"
T_SCAN: Final = "ScanAnalysis"
T_SPINE: Final = "Spine"
T_HIP: Final = "Hip"
T_FOREARM: Final = "Forearm"
T_REFERENCE: Final = "ReferenceResults"
T_SYSTEM: Final = "SystemId"
TABLES: Final[tuple[str, ...]] = (
    T_PATIENT,
    T_SCAN,
    T_SPINE,
    T_HIP,
    T_FOREARM,
    T_REFERENCE,
    T_SYSTEM,
)
"""The tables this reader uses; any other table is listed in a note and ignored."""
REQUIRED_TABLES: Final[tuple[str, ...]] = (T_PATIENT, T_SCAN)

_AAB: Final = ("AREA", "BMC", "BMD")
HIP_REGIONS: Final[Mapping[str, Region]] = {
    "NECK": Region.FEMORAL_NECK,
    "TROCH": Region.TROCHANTER,
    "INTER": Region.INTERTROCHANTER,
    "WARDS": Region.WARDS,
    "HTOT": Region.TOTAL_HIP,
}
"""Column prefix of the Hip table -> region."""
FOREARM_REGIONS: Final[Mapping[str, Region]] = {
    "R_13": Region.RADIUS_33,
    "R_UD": Region.RADIUS_UD,
    "RTOT": Region.RADIUS_TOTAL,
}
"""Column prefix of the Forearm table -> region (other forearm regions are not imported)."""
REFERENCE_REGIONS: Final[Mapping[tuple[str, str], Region]] = {
    ("S", "1234"): Region.L1_L4,
    ("S", ".234"): Region.L2_L4,
    ("H", "123."): Region.TOTAL_HIP,
    ("H", "1..."): Region.FEMORAL_NECK,
    ("R", "R.."): Region.RADIUS_33,
    ("R", "RRR"): Region.RADIUS_TOTAL,
}
"""(REF_TYPE, BONERANGE) of ReferenceResults -> the region that gets its T- and Z-score."""

_FOREARM_ANY_RE: Final = re.compile(r"^(?:R|U|RU)[A-Z0-9_]*_(?:AREA|BMC|BMD)$")
_MODEL_COLUMNS: Final = ("MODEL", "SYSTEM_MODEL", "MACHINE_MODEL", "SYSTEM_TYPE")
_INSTITUTION_COLUMNS: Final = ("INSTITUTION", "INSTITUTION_NAME", "SITE_NAME", "HOSPITAL")
_SERIAL_COLUMNS: Final = ("SERIAL_NUMBER", "SERIAL_NO", "SERIAL")

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
        }
    ),
    T_SPINE: frozenset(
        {
            "PATIENT_KEY",
            "SCANID",
            *(f"L{i}_{x}" for i in range(1, 5) for x in ("INCLUDED", *_AAB)),
            *(f"TOT_{x}" for x in _AAB),
            "STD_TOT_BMD",
        }
    ),
    T_HIP: frozenset({"PATIENT_KEY", "SCANID", *(f"{p}_{x}" for p in HIP_REGIONS for x in _AAB)}),
    T_FOREARM: frozenset({"PATIENT_KEY", "SCANID"}),  # plus every R*/U*/RU* x AREA/BMC/BMD
    T_REFERENCE: frozenset(
        {"PATIENT_KEY", "SCANID", "REF_TYPE", "BONERANGE", "T_SCORE", "Z_SCORE"}
    ),
    T_SYSTEM: frozenset({*_MODEL_COLUMNS, *_INSTITUTION_COLUMNS, *_SERIAL_COLUMNS}),
}
_REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    T_PATIENT: ("PATIENT_KEY", "IDENTIFIER1"),
    T_SCAN: ("PATIENT_KEY", "SCANID", "SERIAL_NUMBER", "SCAN_DATE", "SCAN_TYPE"),
    T_SPINE: ("PATIENT_KEY", "SCANID"),
    T_HIP: ("PATIENT_KEY", "SCANID"),
    T_FOREARM: ("PATIENT_KEY", "SCANID"),
    T_REFERENCE: ("PATIENT_KEY", "SCANID", "REF_TYPE", "BONERANGE"),
    T_SYSTEM: (),
}

#: SCAN_TYPE code -> (scan type, side). Codes not listed are imported as ScanType.OTHER.
_SCAN_TYPES: Final[Mapping[int, tuple[ScanType, Side | None]]] = {
    1: (ScanType.AP_SPINE, None),
    26: (ScanType.AP_SPINE, None),
    2: (ScanType.HIP, Side.LEFT),
    3: (ScanType.HIP, Side.RIGHT),
    5: (ScanType.WHOLE_BODY, None),
    6: (ScanType.FOREARM, Side.LEFT),
    7: (ScanType.FOREARM, Side.RIGHT),
    8: (ScanType.OTHER, None),
    19: (ScanType.OTHER, None),
    21: (ScanType.OTHER, Side.LEFT),
    22: (ScanType.OTHER, Side.RIGHT),
    27: (ScanType.VFA, None),
    28: (ScanType.VFA, None),
    29: (ScanType.VFA, None),
    35: (ScanType.VFA, None),
    36: (ScanType.VFA, None),
    37: (ScanType.VFA, None),
}
_CALIBRATION_SCAN_TYPES: Final = frozenset({33, 34})
_RESULT_TABLE: Final[Mapping[ScanType, str]] = {
    ScanType.AP_SPINE: T_SPINE,
    ScanType.HIP: T_HIP,
    ScanType.FOREARM: T_FOREARM,
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
        ``ScanAnalysis.SERIAL_NUMBER``.
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


# ---------------------------------------------------------------------------
# tables and cells


_RULES: Final = CellRules(
    missing=frozenset({-1.0}),
    point_zero_integers=True,
    true_words=frozenset({"1", "-1", "true", "yes", "y"}),
    false_words=frozenset({"0", "false", "no", "n"}),
)
"""-1 is APEX's "no value"; mdb-export prints yes/no as 1/0 (with -B TRUE/FALSE; Access
true is -1)."""
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


def _cells(table: Table) -> CellParser:
    return CellParser(table.label, _RULES)


def _is_known(table: str, column: str) -> bool:
    if column in _COLUMNS[table]:
        return True
    return table == T_FOREARM and _FOREARM_ANY_RE.match(column) is not None


def _apex_column(cell: str) -> str:
    return cell.strip().strip(BOM).upper()


class _Known:
    """The columns of a table that the reader uses (the only ones kept in its rows)."""

    def __init__(self, table: str) -> None:
        self._table = table

    def __contains__(self, column: object) -> bool:
        return isinstance(column, str) and _is_known(self._table, column)


def _parse_table(
    name: str,
    label: str,
    chunks: Iterable[bytes],
    unknown: dict[str, list[str]],
    notes: list[ImportNote],
) -> Table:
    """Parse mdb-export CSV (header row, comma separated, text in double quotes), streamed."""
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
    strange = [c for c in header if c and not _is_known(name, c)]
    if strange:
        unknown[name] = strange
    rows = reader.rows(
        header,
        keep=_Known(name),
        width_remedy=_("Check separators and quotes in that line; decimals need a point."),
    )
    return Table(name, label, rows)


# ---------------------------------------------------------------------------
# the table mapping (shared by the .mdb and the folder source)


@dataclass(slots=True)
class _Patient:
    row: Row
    key: str
    identifier: str
    id_type: IdType
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


@dataclass(slots=True)
class _StudyAcc:
    uid: str
    first: _Scan
    scans: list[ScanRecord] = field(default_factory=list)
    sources: list[_Scan] = field(default_factory=list)


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


def _read_patients(table: Table) -> dict[str, _Patient]:
    patients: dict[str, _Patient] = {}
    p = _cells(table)
    for row in table.rows:
        key = p.required_text(row, "PATIENT_KEY")
        if key in patients:
            raise p.fail(
                row,
                "PATIENT_KEY",
                _("'{value}' appears twice (first on line {first})").format(
                    value=key, first=patients[key].row.line
                ),
            )
        raw_id = p.text(row, "IDENTIFIER1")
        cpr = normalise_cpr(raw_id)
        sex_text = p.text(row, "SEX").upper()
        names = (p.text(row, "FIRST_NAME"), p.text(row, "LAST_NAME"))
        patients[key] = _Patient(
            row=row,
            key=key,
            identifier=cpr or raw_id,
            id_type=IdType.CPR if cpr else IdType.OTHER,
            name=" ".join(n for n in names if n),
            birth=p.when(row, "BIRTHDATE", _DATES, required=False),
            sex=Sex.FEMALE if sex_text == "F" else Sex.MALE if sex_text == "M" else None,
            height_cm=p.number(row, "HEIGHT"),
            weight_kg=p.number(row, "WEIGHT"),
            phantom_id=p.text(row, "PHANTOM_ID"),
            phantom_type=p.integer(row, "PHANTOM_TYPE"),
        )
    return patients


def _index(table: Table | None) -> dict[tuple[str, str], Row]:
    """Return the rows of a result table by (PATIENT_KEY, SCANID)."""
    out: dict[tuple[str, str], Row] = {}
    if table is None:
        return out
    p = _cells(table)
    for row in table.rows:
        key = (p.required_text(row, "PATIENT_KEY"), p.required_text(row, "SCANID"))
        if key in out:
            raise p.fail(
                row,
                "SCANID",
                _("scan {scan} of patient key {key} appears twice (first on line {first})").format(
                    scan=key[1], key=key[0], first=out[key].line
                ),
            )
        out[key] = row
    return out


def _aab(p: CellParser, row: Row, prefix: str) -> tuple[float | None, float | None, float | None]:
    """Return area, BMC and BMD of one region, each checked against its plausible range."""
    return (
        p.measurement(row, f"{prefix}_AREA", "area_cm2"),
        p.measurement(row, f"{prefix}_BMC", "bmc_g"),
        p.measurement(row, f"{prefix}_BMD", "bmd_g_cm2"),
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


def _mapped_results(p: CellParser, row: Row, regions: Mapping[str, Region]) -> list[RegionResult]:
    return [r for pre, reg in regions.items() if (r := _region(p, row, pre, reg)) is not None]


def _phantom_results(p: CellParser, row: Row) -> tuple[PhantomResult, ...]:
    out: list[PhantomResult] = []
    for prefix, region in _PHANTOM_REGIONS:
        area, bmc, bmd = _aab(p, row, prefix)
        if bmd is not None:
            out.append(PhantomResult(region, bmd, bmc, area))
    return tuple(out)


def _birth_date(patient: _Patient, reference: dt.date) -> tuple[dt.date | None, bool]:
    """Return the birth date and whether its century had to be guessed."""
    if patient.birth is None:
        return None, False
    day = patient.birth.at.date()
    if not patient.birth.two_digit_year:
        return day, False
    yy = day.year % 100
    if patient.id_type is IdType.CPR:
        from_cpr = cpr_birth_date(patient.identifier)
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


def _reference_scores(
    table: Table | None,
) -> tuple[dict[tuple[str, str], list[tuple[Region, float | None, float | None]]], set[str]]:
    scores: dict[tuple[str, str], list[tuple[Region, float | None, float | None]]] = {}
    unknown: set[str] = set()
    if table is None:
        return scores, unknown
    p = _cells(table)
    for row in table.rows:
        key = (p.required_text(row, "PATIENT_KEY"), p.required_text(row, "SCANID"))
        ref_type = p.text(row, "REF_TYPE").upper()
        bone_range = p.text(row, "BONERANGE")
        # T- and Z-scores of -1 are real scores: no sentinel here.
        t = p.measurement(row, "T_SCORE", "t_score", missing=())
        z = p.measurement(row, "Z_SCORE", "z_score", missing=())
        region = REFERENCE_REGIONS.get((ref_type, bone_range))
        if region is None:
            unknown.add(f"{ref_type}/{bone_range}")
            continue
        scores.setdefault(key, []).append((region, t, z))
    return scores, unknown


def _read_scans(table: Table, patients: Mapping[str, _Patient]) -> list[_Scan]:
    scans: list[_Scan] = []
    seen: dict[tuple[str, str], int] = {}
    p = _cells(table)
    for row in table.rows:
        patient_key = p.required_text(row, "PATIENT_KEY")
        patient = patients.get(patient_key)
        if patient is None:
            raise p.fail(
                row,
                "PATIENT_KEY",
                _("'{value}' is not in table PATIENT").format(value=patient_key),
            )
        scan_id = p.required_text(row, "SCANID")
        if (patient_key, scan_id) in seen:
            raise p.fail(
                row,
                "SCANID",
                _("scan {scan} of patient key {key} appears twice (first on line {first})").format(
                    scan=scan_id, key=patient_key, first=seen[(patient_key, scan_id)]
                ),
            )
        seen[(patient_key, scan_id)] = row.line
        when = p.when(row, "SCAN_DATE", _DATES, required=True)
        assert when is not None
        code = p.integer(row, "SCAN_TYPE")
        if code is None:
            raise p.fail(row, "SCAN_TYPE", _("a value is required"))
        scans.append(
            _Scan(
                row=row,
                patient=patient,
                scan_id=scan_id,
                serial=p.required_text(row, "SERIAL_NUMBER"),
                acquired_at=when.at,
                code=code,
                scan_mode=p.text(row, "SCAN_MODE"),
                software_version=p.text(row, "SW_VERSION"),
                qc=p.flag(row, "QC_SCAN", False),
                accession=p.text(row, "ACCESSION_NO"),
                wl_uid=p.text(row, "WL_STUDY_INST_UID"),
            )
        )
    return scans


@dataclass(slots=True)
class _Source:
    """The tables of one source, read and indexed for the mapping."""

    tables: Mapping[str, Table]
    institution_name: str
    system: _System
    patients: dict[str, _Patient]
    scans: list[_Scan]
    result_tables: dict[str, Table | None]
    results: dict[str, dict[tuple[str, str], Row]]
    scores: dict[tuple[str, str], list[tuple[Region, float | None, float | None]]]
    unknown_ranges: set[str]


@dataclass(slots=True)
class _Tally:
    """What the mapping met on its way, for the notes (each kind listed once)."""

    messages: list[str] = field(default_factory=list)
    used: set[tuple[str, tuple[str, str]]] = field(default_factory=set)
    guessed_births: int = 0
    calibration: int = 0
    no_phantom_results: int = 0
    unknown_codes: set[int] = field(default_factory=set)
    unmatched_scores: set[str] = field(default_factory=set)
    no_identifier: set[str] = field(default_factory=set)


def _read_source(path: Path, tables: Mapping[str, Table], institution_name: str) -> _Source:
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
    system = _read_system(tables.get(T_SYSTEM))
    patients = _read_patients(tables[T_PATIENT])
    scans = _read_scans(tables[T_SCAN], patients)
    result_tables = {name: tables.get(name) for name in (T_SPINE, T_HIP, T_FOREARM)}
    results = {name: _index(t) for name, t in result_tables.items()}
    scores, unknown_ranges = _reference_scores(tables.get(T_REFERENCE))
    return _Source(
        tables=tables,
        institution_name=institution_name,
        system=system,
        patients=patients,
        scans=scans,
        result_tables=result_tables,
        results=results,
        scores=scores,
        unknown_ranges=unknown_ranges,
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


def _identities(source: _Source, tally: _Tally) -> dict[str, PatientIdentity]:
    """Return each patient by PATIENT_KEY; a two-digit birth year gets a century."""
    first_scan: dict[str, dt.date] = {}
    for scan in source.scans:
        day = scan.acquired_at.date()
        first_scan[scan.patient.key] = min(first_scan.get(scan.patient.key, day), day)
    today = dt.date.today()
    identities: dict[str, PatientIdentity] = {}
    for patient_key, p in source.patients.items():
        birth, guessed = _birth_date(p, first_scan.get(patient_key, today))
        tally.guessed_births += guessed
        identifier = p.identifier or patient_key
        identities[patient_key] = PatientIdentity(identifier, p.id_type, p.name, birth, p.sex)
    return identities


def _phantom_scan(source: _Source, scan: _Scan, tally: _Tally) -> PhantomScanRecord | None:
    """Return a QC phantom scan with its results from table Spine; None without results."""
    p = scan.patient
    key = (p.key, scan.scan_id)
    spine_table, spine = source.result_tables[T_SPINE], source.results[T_SPINE].get(key)
    phantom_results: tuple[PhantomResult, ...] = ()
    if spine_table is not None and spine is not None:
        phantom_results = _phantom_results(_cells(spine_table), spine)
        tally.used.add((T_SPINE, key))
    if not phantom_results:
        tally.no_phantom_results += 1
        return None
    kind, description = _PHANTOMS.get(
        p.phantom_type or 0,
        (PhantomKind.OTHER, f"APEX QC phantom (PHANTOM_TYPE {p.phantom_type or 0})"),
    )
    return PhantomScanRecord(
        source_key=apex_qc_source_key(scan.serial, p.key, scan.scan_id),
        phantom=PhantomIdentity(kind, p.phantom_id or p.identifier or p.key, description),
        scanner=_scanner(source, scan),
        acquired_at=scan.acquired_at,
        purpose=PhantomPurpose.DAILY_QC,
        results=phantom_results,
    )


def _region_results(
    source: _Source, scan: _Scan, scan_type: ScanType, tally: _Tally
) -> list[RegionResult]:
    """Return a patient scan's results from its result table, with the vendor T/Z-scores."""
    key = (scan.patient.key, scan.scan_id)
    region_results: list[RegionResult] = []
    table_name = _RESULT_TABLE.get(scan_type)
    if table_name is not None and (row := source.results[table_name].get(key)) is not None:
        table = source.result_tables[table_name]
        assert table is not None
        tally.used.add((table_name, key))
        p = _cells(table)
        if table_name == T_SPINE:
            region_results = _spine_results(p, row, tally.messages)
        elif table_name == T_HIP:
            region_results = _mapped_results(p, row, HIP_REGIONS)
        else:
            region_results = _mapped_results(p, row, FOREARM_REGIONS)
    for region, t, z in source.scores.get(key, ()):
        index = next((i for i, r in enumerate(region_results) if r.region is region), None)
        if index is None:
            tally.unmatched_scores.add(str(region))
            continue
        region_results[index] = dataclasses.replace(region_results[index], vendor_t=t, vendor_z=z)
    return region_results


def _scan_record(source: _Source, scan: _Scan, tally: _Tally) -> ScanRecord:
    """Return a patient scan; an unknown SCAN_TYPE code is imported as 'other'."""
    p = scan.patient
    if not p.identifier:
        tally.no_identifier.add(p.key)
    scan_type, side = _SCAN_TYPES.get(scan.code, (ScanType.OTHER, None))
    if scan.code not in _SCAN_TYPES:
        tally.unknown_codes.add(scan.code)
    region_results = _region_results(source, scan, scan_type, tally)
    return ScanRecord(
        source_key=apex_scan_source_key(scan.serial, p.key, scan.scan_id),
        scan_type=scan_type,
        acquired_at=scan.acquired_at,
        side=side,
        scan_mode=scan.scan_mode,
        software_version=scan.software_version,
        results=tuple(region_results),
    )


def _add_to_study(
    source: _Source, studies: dict[str, _StudyAcc], scan: _Scan, record: ScanRecord
) -> None:
    """Put a scan into its study (the worklist UID, else one derived per patient and day)."""
    p = scan.patient
    uid = scan.wl_uid or apex_study_uid(scan.serial, p.key, scan.acquired_at.date())
    acc = studies.get(uid)
    if acc is None:
        acc = studies[uid] = _StudyAcc(uid, scan)
    elif acc.first.patient.key != p.key:
        raise _cells(source.tables[T_SCAN]).fail(
            scan.row,
            "WL_STUDY_INST_UID",
            _("'{value}' differs from line {first} of the same study ({uid})").format(
                value=p.key, first=acc.first.row.line, uid=uid
            ),
        )
    acc.scans.append(record)
    acc.sources.append(scan)


def _map_scans(
    source: _Source, tally: _Tally
) -> tuple[dict[str, _StudyAcc], list[PhantomScanRecord]]:
    """Sort the scans into patient studies and QC phantom scans; skip calibration scans."""
    studies: dict[str, _StudyAcc] = {}
    phantom_scans: list[PhantomScanRecord] = []
    for scan in source.scans:
        if scan.code in _CALIBRATION_SCAN_TYPES:
            tally.calibration += 1
        elif (scan.patient.phantom_type or 0) > 0 or scan.qc:
            phantom = _phantom_scan(source, scan, tally)
            if phantom is not None:
                phantom_scans.append(phantom)
        else:
            _add_to_study(source, studies, scan, _scan_record(source, scan, tally))
    return studies, phantom_scans


def _study_records(
    source: _Source, studies: Mapping[str, _StudyAcc], identities: Mapping[str, PatientIdentity]
) -> tuple[StudyRecord, ...]:
    records: list[StudyRecord] = []
    for acc in studies.values():
        first = acc.first
        accession = next((s.accession for s in acc.sources if s.accession), "")
        info = StudyInfo(
            study_uid=acc.uid,
            study_date=first.acquired_at.date(),
            accession=accession,
            height_cm=first.patient.height_cm,
            weight_kg=first.patient.weight_kg,
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


def _source_notes(source: _Source, tally: _Tally) -> list[str]:
    """Notes on what the database lacks: scanner model, institution, birth years, IDs."""
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
    if tally.no_identifier:
        messages.append(
            _(
                "{n} patients have no IDENTIFIER1; their APEX PATIENT_KEY is used as identifier."
            ).format(n=len(tally.no_identifier))
        )
    return messages


def _skipped_notes(source: _Source, tally: _Tally) -> list[str]:
    """Notes on scans and scores that were not imported, or imported as 'other'."""
    messages: list[str] = []
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


def _unused_notes(source: _Source, tally: _Tally) -> list[str]:
    """Notes on forearm regions and result rows that no imported scan used."""
    messages: list[str] = []
    skipped_regions: set[str] = set()
    forearm = source.result_tables[T_FOREARM]
    if forearm is not None:
        p = _cells(forearm)
        for scan_key, row in source.results[T_FOREARM].items():
            if (T_FOREARM, scan_key) not in tally.used:
                continue
            for column in row.values:
                prefix = column.rsplit("_", 1)[0]
                if (
                    _FOREARM_ANY_RE.match(column)
                    and prefix not in FOREARM_REGIONS
                    and p.number(row, column) is not None
                ):
                    skipped_regions.add(prefix)
    if skipped_regions:
        messages.append(
            _("Forearm regions not imported: {regions}.").format(
                regions=", ".join(sorted(skipped_regions))
            )
        )
    for name, rows in source.results.items():
        count = sum(1 for scan_key in rows if (name, scan_key) not in tally.used)
        if count:
            messages.append(
                _(
                    "{n} rows of table {table} belong to no imported scan of a matching type;"
                    " ignored."
                ).format(n=count, table=name)
            )
    return messages


def _build(
    path: Path,
    reader_name: str,
    tables: Mapping[str, Table],
    notes: list[ImportNote],
    institution_name: str,
) -> ParsedSource:
    """Map the parsed tables to studies and phantom scans (raises before returning half)."""
    source = _read_source(path, tables, institution_name)
    tally = _Tally()
    identities = _identities(source, tally)
    studies, phantom_scans = _map_scans(source, tally)
    study_records = _study_records(source, studies, identities)
    messages = [
        *tally.messages,  # met on the way, e.g. spine totals without a region
        *_source_notes(source, tally),
        *_skipped_notes(source, tally),
        *_unused_notes(source, tally),
    ]
    notes.extend(ImportNote(m) for m in messages)
    return ParsedSource(
        path=str(path),
        reader=reader_name,
        studies=study_records,
        phantom_scans=tuple(phantom_scans),
        notes=tuple(notes),
    )


def _parse_all(
    path: Path,
    reader_name: str,
    sources: Mapping[str, tuple[str, Iterable[bytes]]],
    other_tables: Sequence[str],
    institution_name: str,
) -> ParsedSource:
    """Parse the tables (canonical name -> (label, lines as bytes, read once)) and map them."""
    notes: list[ImportNote] = []
    if other_tables:
        notes.append(
            ImportNote(
                _("Tables not read: {tables}.").format(tables=", ".join(sorted(other_tables)))
            )
        )
    unknown: dict[str, list[str]] = {}
    try:
        tables = {
            name: _parse_table(name, label, chunks, unknown, notes)
            for name, (label, chunks) in sources.items()
        }
    finally:  # a table left half read (a bad cell) stops its mdb-export now
        for _label, chunks in sources.values():
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    if unknown:
        notes.append(
            ImportNote(
                _("Columns not read: {columns}.").format(
                    columns="; ".join(
                        f"{t}: {', '.join(cols)}" for t, cols in sorted(unknown.items())
                    )
                )
            )
        )
    return _build(path, reader_name, tables, notes, institution_name)


_CANONICAL: Final[Mapping[str, str]] = {t.lower(): t for t in TABLES}


# ---------------------------------------------------------------------------
# source B: a folder of per-table CSV files


def _table_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Return the CSV file of each known table (case-insensitive) and the other tables."""
    found: dict[str, Path] = {}
    others: list[str] = []
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.suffix.lower() != ".csv" or file.name.startswith("."):
            continue
        name = _CANONICAL.get(file.stem.lower())
        if name is None:
            others.append(file.stem)
            continue
        if name in found:
            raise ImportProblemError(
                _("{folder}: two files hold table {table}: {a} and {b}.").format(
                    folder=folder.name, table=name, a=found[name].name, b=file.name
                ),
                _("Keep one file per table."),
            )
        found[name] = file
    return found, others


def read_folder(path: Path, *, institution_name: str = "") -> ParsedSource:
    """Read a folder of APEX tables exported with mdb-export (one ``<TABLE>.csv`` per table).

    Parameters
    ----------
    path : Path
        The folder; it must hold ``PATIENT.csv`` and ``ScanAnalysis.csv`` (any case).
    institution_name : str, optional
        The institution to record for the scanner; by default the SystemId table's (if
        any), else ``""`` (and a note).

    Returns
    -------
    ParsedSource
        One StudyRecord per patient visit, one PhantomScanRecord per QC phantom scan, and
        notes on what was not read.

    Raises
    ------
    ImportProblemError
        When a required table or column is missing, a table file is too large
        (``resources/ingest/file_limits.json``), or a value cannot be understood or is an
        implausible measurement (``resources/ingest/plausible_measurements.json``; the
        message names the file, line and column). Nothing is returned then: one bad cell
        fails the whole source.
    """
    try:
        files, others = _table_files(path)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    sources = {name: (file.name, _file_lines(file)) for name, file in files.items()}
    return _parse_all(path, FOLDER_READER_NAME, sources, others, institution_name)


def _unreadable(path: Path, exc: OSError) -> ImportProblemError:
    return ImportProblemError(
        _("{file} could not be read: {error}").format(file=path, error=exc.strerror or str(exc))
    )


def _file_lines(file: Path) -> Iterator[bytes]:
    """Yield the lines of one table file (a regular file within the table size limit)."""
    try:
        with open_regular(file) as fh:
            check_size(os.fstat(fh.fileno()).st_size, "apex_table_csv", file.name)
            yield from binary_lines(fh, file.name, fmt="apex_table_csv")
    except OSError as exc:
        raise _unreadable(file, exc) from exc


# ---------------------------------------------------------------------------
# source A: PatScan.mdb through mdbtools


def _mdbtools() -> tuple[str, str]:
    tables, export = shutil.which("mdb-tables"), shutil.which("mdb-export")
    if tables is None or export is None:
        raise ImportProblemError(
            _(
                "Cannot read Access databases (.mdb): the mdbtools programs mdb-tables and"
                " mdb-export were not found."
            ),
            _("Install mdbtools (Debian package mdbtools) and import again."),
        )
    return tables, export


def _summary(stderr: bytes) -> str:
    lines = [x.strip() for x in stderr.decode("utf-8", errors="replace").splitlines()]
    text = "; ".join(x for x in lines if x)
    return (text[:300] + "…") if len(text) > 300 else text or "-"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    locale_all = env.pop("LC_ALL", None)
    if locale_all:
        env.setdefault("LC_CTYPE", locale_all)
    env["LC_NUMERIC"] = "C"  # decimal point, not comma
    env["LC_TIME"] = "C"
    return env


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # fixed programs, no shell
        command, capture_output=True, timeout=MDBTOOLS_TIMEOUT_S, check=False, env=_env()
    )


def _export_lines(command: list[str], label: str) -> Iterator[bytes]:
    """Yield the lines mdb-export prints, as it prints them (the table is never held whole).

    The program is stopped when it runs longer than :data:`MDBTOOLS_TIMEOUT_S`, when its
    output passes the table size limit, or when the caller stops reading.
    """
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # fixed programs, no shell
            command, stdout=subprocess.PIPE, stderr=errors, env=_env()
        ) as proc,
    ):
        timer = threading.Timer(MDBTOOLS_TIMEOUT_S, proc.kill)
        timer.start()
        finished = False
        try:
            assert proc.stdout is not None
            yield from binary_lines(proc.stdout, label, fmt="apex_table_csv")
            finished = True
        finally:
            timer.cancel()
            if not finished:
                proc.kill()
            returncode = proc.wait()
        if returncode != 0:
            errors.seek(0)
            why = _summary(errors.read(64 * 1024))
            if returncode < 0:
                why = _("stopped after {seconds} s").format(seconds=MDBTOOLS_TIMEOUT_S)
            raise ImportProblemError(
                _("{file}: mdb-export failed: {error}").format(file=label, error=why),
                _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
            )


def read_mdb(path: Path, *, institution_name: str = "") -> ParsedSource:
    """Read an APEX ``PatScan.mdb`` with mdbtools (``mdb-tables``, ``mdb-export``).

    Each needed table is exported with ``mdb-export -D/-T`` :data:`MDB_DATE_FORMAT` and read
    from its output line by line (keeping only the columns this reader uses), then mapped
    exactly as :func:`read_folder` maps a CSV folder. The database may be as large as the
    Access format allows (``apex_mdb`` in ``resources/ingest/file_limits.json``); each
    table's output is bounded by ``apex_table_csv``.

    Parameters
    ----------
    path : Path
        The database file (a copy; APEX should not be writing to it).
    institution_name : str, optional
        As for :func:`read_folder`.

    Returns
    -------
    ParsedSource
        As for :func:`read_folder`.

    Raises
    ------
    ImportProblemError
        When mdbtools is not installed, the file is not a readable Access database or is
        too large, a required table or column is missing, or a value cannot be understood
        or is an implausible measurement (the whole source fails).
    """
    try:
        with open_regular(path) as fh:
            check_size(os.fstat(fh.fileno()).st_size, "apex_mdb", path.name)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    tables_exe, export_exe = _mdbtools()
    try:
        listing = _run([tables_exe, "-1", str(path)])
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=path, error=exc),
        ) from exc
    if listing.returncode != 0:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(
                path=path, error=_summary(listing.stderr)
            ),
            _("Check that the file is an undamaged copy of APEX's PatScan.mdb."),
        )
    names = [n.strip() for n in listing.stdout.decode("utf-8", "replace").splitlines()]
    wanted: dict[str, str] = {}
    others: list[str] = []
    for name in names:
        if not name:
            continue
        canonical = _CANONICAL.get(name.lower())
        if canonical is None:
            others.append(name)
        else:
            wanted.setdefault(canonical, name)
    sources: dict[str, tuple[str, Iterable[bytes]]] = {}
    for canonical, actual in wanted.items():
        label = _("{file} (table {table})").format(file=path.name, table=actual)
        command = [export_exe, "-D", MDB_DATE_FORMAT, "-T", MDB_DATE_FORMAT, str(path), actual]
        sources[canonical] = (label, _export_lines(command, label))
    try:
        return _parse_all(path, READER_NAME, sources, others, institution_name)
    except OSError as exc:
        raise ImportProblemError(
            _("unreadable .mdb file {path}: {error}").format(path=path, error=exc),
        ) from exc


# ---------------------------------------------------------------------------
# the reader objects


def _is_mdb(head: bytes) -> bool:
    """Return True when the file starts with the Jet/ACE signature (bytes 4-18)."""
    return head[4:19] in MDB_SIGNATURES


class ApexMdbReader(FileReader):
    """The :class:`~dxa_app.ingest.base.Reader` of APEX ``PatScan.mdb``; see :func:`read_mdb`."""

    def __init__(self) -> None:
        super().__init__(READER_NAME, _is_mdb, read_mdb)


class ApexFolderReader:
    """The :class:`~dxa_app.ingest.base.FolderReader` of a folder of APEX table CSV files."""

    name: str = FOLDER_READER_NAME

    def sniff_folder(self, path: Path) -> bool:
        """Return True when the folder holds ``PATIENT.csv`` and ``ScanAnalysis.csv`` (any case).

        Parameters
        ----------
        path : Path
            The folder.

        Returns
        -------
        bool
            Whether this reader should handle the folder as one source.
        """
        try:
            names = {f.name.lower() for f in path.iterdir() if f.is_file()}
        except OSError:
            return False
        return all(f"{t.lower()}.csv" in names for t in REQUIRED_TABLES)

    def read(self, path: Path) -> ParsedSource:
        """Parse the folder; see :func:`read_folder`.

        Parameters
        ----------
        path : Path
            The folder.

        Returns
        -------
        ParsedSource
            What the tables hold.
        """
        return read_folder(path)


READER: Final[Reader] = ApexMdbReader()
"""The file reader instance the import registry uses."""

FOLDER_READER: Final[FolderReader] = ApexFolderReader()
"""The folder reader instance the import registry uses."""
