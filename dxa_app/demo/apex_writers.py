"""Writer of synthetic APEX tables (one CSV per table, in mdb-export's shape).

What :func:`write_apex_folder` writes is what :mod:`dxa_app.ingest.apex_mdb` reads as a
folder source. Reading a written folder gives back equal objects except for:

* every ``source_key`` (``apex:...`` / ``apex-qc:...``, from serial, PATIENT_KEY and SCANID);
* the scanner: always the ``scanner`` argument (manufacturer Hologic, its model and
  institution from the SystemId table, station name lost, software version = the scan's
  ``SW_VERSION``, written as the scan's version or else the scanner's);
* the patient: a CPR number stays; any other identifier becomes the written PATIENT_KEY,
  scoped by the database (``apex:<database>``);
* the study: date = date of its first scan; referrer, indication and menopausal status are
  lost; height and weight are written per scan (the scan's, else the study's) and read back
  per scan and, for the study, from its first scan that has them;
* results that APEX's tables do not hold (L2-L4 next to L1-L4, scans of type ``other``),
  vendor T/Z other than L1-L4, L2-L4, total hip, neck, 1/3 and total radius; scans without
  any result (VFA, for one) are not read back (APEX has no analysis for them);
* the order of region results (the reader's fixed order per table); images;
* hip and forearm scans without a side are written as left;
* patient names: split into FIRST_NAME (all but the last word) and LAST_NAME;
* phantom scans: purpose becomes daily QC, round, operator and description are lost, and
  every phantom kind other than ``Other`` is written as a Hologic spine phantom (type 1).

:func:`write_apex_tables` writes any rows as given, for sources in APEX's real shape
(sentinel dates as mdbtools prints them, placeholder serials, scans without results).

(The module is in ``dxa_app.demo``, which must not import ``dxa_app.ingest``.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dxa_app.csv_safety import escape_cell
from dxa_app.domain import (
    IdType,
    Measurement,
    PatientIdentity,
    PhantomIdentity,
    PhantomKind,
    PhantomRegion,
    PhantomScanRecord,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Side,
    StudyRecord,
)

__all__ = [
    "APEX_TABLE_COLUMNS",
    "ApexCell",
    "Raw",
    "Text",
    "write_apex_folder",
    "write_apex_tables",
]

_AAB: Final = ("AREA", "BMC", "BMD")
_HIP: Final[tuple[tuple[str, Region], ...]] = (
    ("NECK", Region.FEMORAL_NECK),
    ("TROCH", Region.TROCHANTER),
    ("INTER", Region.INTERTROCHANTER),
    ("WARDS", Region.WARDS),
    ("HTOT", Region.TOTAL_HIP),
)
_FOREARM: Final[tuple[tuple[str, Region], ...]] = (
    ("R_13", Region.RADIUS_33),
    ("R_MID", Region.RADIUS_MID),
    ("R_UD", Region.RADIUS_UD),
    ("RTOT", Region.RADIUS_TOTAL),
    ("U_13", Region.ULNA_33),
    ("U_MID", Region.ULNA_MID),
    ("U_UD", Region.ULNA_UD),
    ("UTOT", Region.ULNA_TOTAL),
    ("RU13TOT", Region.RADIUS_ULNA_33),
    ("RUMIDTOT", Region.RADIUS_ULNA_MID),
    ("RUUDTOT", Region.RADIUS_ULNA_UD),
    ("RUTOT", Region.RADIUS_ULNA_TOTAL),
)
_WBODY: Final[tuple[tuple[str, Region], ...]] = (
    ("WBTOT", Region.WHOLE_BODY),
    ("SUBTOT", Region.WB_SUBTOTAL),
    ("HEAD", Region.WB_HEAD),
    ("LARM", Region.WB_LEFT_ARM),
    ("RARM", Region.WB_RIGHT_ARM),
    ("LRIB", Region.WB_LEFT_RIBS),
    ("RRIB", Region.WB_RIGHT_RIBS),
    ("T_S", Region.WB_THORACIC_SPINE),
    ("L_S", Region.WB_LUMBAR_SPINE),
    ("PELV", Region.WB_PELVIS),
    ("LLEG", Region.WB_LEFT_LEG),
    ("RLEG", Region.WB_RIGHT_LEG),
)
_REFERENCE: Final[Mapping[Region, tuple[str, str]]] = {
    Region.L1_L4: ("S", "1234"),
    Region.L2_L4: ("S", ".234"),
    Region.TOTAL_HIP: ("H", "123."),
    Region.FEMORAL_NECK: ("H", "1..."),
    Region.RADIUS_33: ("R", "R.."),
    Region.RADIUS_TOTAL: ("R", "RRR"),
}

APEX_TABLE_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "PATIENT": (
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
    ),
    "ScanAnalysis": (
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
    ),
    "Spine": (
        "PATIENT_KEY",
        "SCANID",
        *(f"L{i}_{x}" for i in range(1, 5) for x in ("INCLUDED", *_AAB)),
        *(f"TOT_{x}" for x in _AAB),
        "STD_TOT_BMD",
    ),
    "Hip": ("PATIENT_KEY", "SCANID", *(f"{p}_{x}" for p, _r in _HIP for x in _AAB)),
    "Forearm": ("PATIENT_KEY", "SCANID", *(f"{p}_{x}" for p, _r in _FOREARM for x in _AAB)),
    "Wbody": ("PATIENT_KEY", "SCANID", *(f"{p}_{x}" for p, _r in _WBODY for x in _AAB)),
    "ReferenceResults": ("PATIENT_KEY", "SCANID", "REF_TYPE", "BONERANGE", "T_SCORE", "Z_SCORE"),
    "SystemId": ("SERIAL_NUMBER", "MODEL", "INSTITUTION"),
}
"""Columns written per table (SystemId's column names are our assumption, UNVERIFIED)."""


@dataclass(frozen=True, slots=True)
class Text:
    """A text value: mdb-export wraps it in double quotes (quotes inside are doubled)."""

    value: str


@dataclass(frozen=True, slots=True)
class Raw:
    """A cell written exactly as given (e.g. ``"1900-01-00 00:00:00"`` as mdbtools prints it)."""

    text: str


_Text = Text
ApexCell = Text | Raw | float | int | bool | dt.datetime | dt.date | None
_Cell = ApexCell


def _cell(value: _Cell, iso_dates: bool = False) -> str:
    if value is None:
        return ""  # NULL
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Text):
        return '"' + str(escape_cell(value.value)).replace('"', '""') + '"'
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        if iso_dates:  # mdb-export -D/-T '%Y-%m-%d %H:%M:%S'
            return f'"{value:%Y-%m-%d %H:%M:%S}"'
        return f'"{value:%m/%d/%y %H:%M:%S}"'  # mdb-export's default: %x %X in the C locale
    if isinstance(value, dt.date):
        day = f"{value:%Y-%m-%d}" if iso_dates else f"{value:%m/%d/%y}"
        return f'"{day} 00:00:00"'
    return repr(value) if isinstance(value, float) else str(value)


def _write(folder: Path, table: str, rows: Sequence[Mapping[str, _Cell]]) -> None:
    write_apex_tables(folder, {table: rows}, {table: APEX_TABLE_COLUMNS[table]})


def write_apex_tables(
    folder: Path,
    tables: Mapping[str, Sequence[Mapping[str, ApexCell]]],
    columns: Mapping[str, Sequence[str]] | None = None,
    *,
    iso_dates: bool = False,
) -> Path:
    """Write tables as mdb-export prints them, one ``<TABLE>.csv`` each, rows as given.

    Parameters
    ----------
    folder : Path
        Where to write (created when missing; existing table files are replaced).
    tables : Mapping[str, sequence of mapping]
        Table name -> rows (column -> value; a missing column is NULL).
    columns : Mapping[str, sequence of str], optional
        The columns of each table, in order; by default those the rows name, in the order
        they first appear.
    iso_dates : bool, optional
        Dates as ``mdb-export -D '%Y-%m-%d %H:%M:%S'`` prints them (as the importer runs
        it) instead of mdb-export's default ``MM/DD/YY HH:MM:SS``.

    Returns
    -------
    Path
        ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        names = list((columns or {}).get(table, ()))
        if not names:
            names = list(dict.fromkeys(c for row in rows for c in row))
        lines = [",".join(names)]
        lines.extend(",".join(_cell(row.get(c), iso_dates) for c in names) for row in rows)
        (folder / f"{table}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _measurement_rows(
    rows: dict[str, list[dict[str, _Cell]]], ids: Mapping[str, _Cell], items: Sequence[Measurement]
) -> None:
    """Add a scan's measurements to the rows of their tables (a label to REGn_NAME)."""
    by_table: dict[str, dict[str, _Cell]] = {}
    for m in items:
        row = by_table.setdefault(m.table, dict(ids))
        row[m.name] = m.value
        if m.label and m.name.startswith("REG"):
            row[m.name.split("_", 1)[0] + "_NAME"] = Text(m.label)
    for table, row in by_table.items():
        rows.setdefault(table, []).append(row)


def _by_region(results: Sequence[RegionResult]) -> dict[Region, RegionResult]:
    return {r.region: r for r in results}


def _aab(prefix: str, result: RegionResult | None) -> dict[str, _Cell]:
    if result is None:
        return {}
    return {
        f"{prefix}_AREA": result.area_cm2,
        f"{prefix}_BMC": result.bmc_g,
        f"{prefix}_BMD": result.bmd_g_cm2,
    }


def _regions_row(
    prefixes: Sequence[tuple[str, Region]], results: Mapping[Region, RegionResult]
) -> dict[str, _Cell]:
    row: dict[str, _Cell] = {}
    for prefix, region in prefixes:
        row.update(_aab(prefix, results.get(region)))
    return row


def _spine_row(results: Mapping[Region, RegionResult]) -> dict[str, _Cell]:
    row: dict[str, _Cell] = {}
    for i, region in enumerate((Region.L1, Region.L2, Region.L3, Region.L4), start=1):
        vertebra = results.get(region)
        row[f"L{i}_INCLUDED"] = vertebra.included if vertebra is not None else False
        row.update(_aab(f"L{i}", vertebra))
    row.update(_aab("TOT", results.get(Region.L1_L4) or results.get(Region.L2_L4)))
    return row


def _scan_code(scan: ScanRecord) -> int | None:
    """Return APEX's SCAN_TYPE code, or None when APEX has no such scan."""
    left = scan.side is not Side.RIGHT  # hip and forearm scans without a side: left
    codes = {
        ScanType.AP_SPINE: 1,
        ScanType.HIP: 2 if left else 3,
        ScanType.FOREARM: 6 if left else 7,
        ScanType.WHOLE_BODY: 5,
        ScanType.VFA: 27,
    }
    return codes.get(scan.scan_type)


def _split_name(name: str) -> tuple[str, str]:
    words = name.split()
    return (" ".join(words[:-1]), words[-1] if words else "")


def _phantom_type(phantom: PhantomIdentity) -> int:
    if phantom.kind is not PhantomKind.OTHER:
        return 1
    return 3 if "hip" in phantom.description.lower() else 2


def write_apex_folder(
    folder: Path,
    *,
    scanner: ScannerIdentity,
    studies: Sequence[StudyRecord],
    qc_scans: Sequence[PhantomScanRecord],
) -> Path:
    """Write synthetic APEX tables as mdb-export would print them, one ``<TABLE>.csv`` each.

    Writes PATIENT, ScanAnalysis, Spine, Hip, Forearm, Wbody, ReferenceResults and SystemId,
    and a table for each table named by a scan's measurements (e.g. HipHSA). Dates are
    ``MM/DD/YY HH:MM:SS`` in double quotes, NULL is an empty cell, yes/no is 1/0.

    Parameters
    ----------
    folder : Path
        Where to write (created when missing; existing table files are replaced).
    scanner : ScannerIdentity
        The one scanner of this database (the serial of every scan; SystemId's row).
    studies : sequence of StudyRecord
        Patient studies; their scans become ScanAnalysis rows with results in Spine, Hip,
        Forearm and vendor T/Z in ReferenceResults.
    qc_scans : sequence of PhantomScanRecord
        Phantom scans; each phantom becomes a PATIENT row with PHANTOM_ID/PHANTOM_TYPE and
        each scan a ScanAnalysis row with QC_SCAN = 1 and its results in Spine.

    Returns
    -------
    Path
        ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    further: dict[str, list[dict[str, _Cell]]] = {}
    wbody: list[dict[str, _Cell]] = []
    patients: list[dict[str, _Cell]] = []
    patient_keys: dict[tuple[str, str], str] = {}
    scans: list[dict[str, _Cell]] = []
    spine: list[dict[str, _Cell]] = []
    hip: list[dict[str, _Cell]] = []
    forearm: list[dict[str, _Cell]] = []
    reference: list[dict[str, _Cell]] = []
    counter = [0]

    def next_scan_id(at: dt.datetime) -> str:
        counter[0] += 1
        return f"A{at:%m%d%y}{counter[0]:05d}"

    def patient_key(ident: tuple[str, str], first: dt.datetime) -> tuple[str, bool]:
        key = patient_keys.get(ident)
        if key is not None:
            return key, False
        key = f"{first:%y%m%d}{len(patient_keys) + 1:06d}{scanner.serial}"
        patient_keys[ident] = key
        return key, True

    def add_scan(key: str, scan_id: str, at: dt.datetime, **values: _Cell) -> None:
        scans.append(
            {
                "PATIENT_KEY": _Text(key),
                "SCANID": _Text(scan_id),
                "SERIAL_NUMBER": _Text(scanner.serial),
                "SCAN_DATE": at,
                **values,
            }
        )

    for study in studies:
        if not study.scans:
            continue
        p: PatientIdentity = study.patient
        first_at = min(s.acquired_at for s in study.scans)
        key, new = patient_key((str(p.id_type), p.identifier), first_at)
        if new:
            first_name, last_name = _split_name(p.name)
            patients.append(
                {
                    "PATIENT_KEY": _Text(key),
                    "IDENTIFIER1": _Text(p.identifier if p.id_type is IdType.CPR else ""),
                    "LAST_NAME": _Text(last_name),
                    "FIRST_NAME": _Text(first_name),
                    "BIRTHDATE": p.birth_date,
                    "SEX": _Text(str(p.sex)) if p.sex is not None else None,
                    "ETHNICITY": _Text("W"),
                    "HEIGHT": study.study.height_cm,
                    "WEIGHT": study.study.weight_kg,
                    "PHANTOM_ID": _Text(""),
                    "PHANTOM_TYPE": 0,
                }
            )
        for scan in study.scans:
            code = _scan_code(scan)
            if code is None:
                continue
            scan_id = next_scan_id(scan.acquired_at)
            add_scan(
                key,
                scan_id,
                scan.acquired_at,
                SCAN_TYPE=code,
                SCAN_MODE=_Text(scan.scan_mode),
                SW_VERSION=_Text(scan.software_version or scanner.software_version),
                QC_SCAN=False,
                ACCESSION_NO=_Text(study.study.accession),
                WL_STUDY_INST_UID=_Text(study.study.study_uid),
                HEIGHT=scan.height_cm if scan.height_cm is not None else study.study.height_cm,
                WEIGHT=scan.weight_kg if scan.weight_kg is not None else study.study.weight_kg,
            )
            ids: dict[str, _Cell] = {"PATIENT_KEY": _Text(key), "SCANID": _Text(scan_id)}
            results = _by_region(scan.results)
            if scan.scan_type is ScanType.AP_SPINE:
                spine.append({**ids, **_spine_row(results)})
            elif scan.scan_type is ScanType.HIP:
                hip.append({**ids, **_regions_row(_HIP, results)})
            elif scan.scan_type is ScanType.FOREARM:
                forearm.append({**ids, **_regions_row(_FOREARM, results)})
            elif scan.scan_type is ScanType.WHOLE_BODY:
                wbody.append({**ids, **_regions_row(_WBODY, results)})
            _measurement_rows(further, ids, scan.measurements)
            for region, (ref_type, bone_range) in _REFERENCE.items():
                result = results.get(region)
                if result is None or (result.vendor_t is None and result.vendor_z is None):
                    continue
                reference.append(
                    {
                        **ids,
                        "REF_TYPE": _Text(ref_type),
                        "BONERANGE": _Text(bone_range),
                        "T_SCORE": result.vendor_t,
                        "Z_SCORE": result.vendor_z,
                    }
                )

    phantom_regions = {
        PhantomRegion.V1: "L1",
        PhantomRegion.V2: "L2",
        PhantomRegion.V3: "L3",
        PhantomRegion.V4: "L4",
        PhantomRegion.TOTAL: "TOT",
    }
    for qc in qc_scans:
        ph = qc.phantom
        key, new = patient_key(("phantom", f"{ph.kind}|{ph.serial}"), qc.acquired_at)
        if new:
            patients.append(
                {
                    "PATIENT_KEY": _Text(key),
                    "IDENTIFIER1": _Text(ph.serial),
                    "LAST_NAME": _Text("Phantom"),
                    "FIRST_NAME": _Text(str(ph.kind)),
                    "PHANTOM_ID": _Text(ph.serial),
                    "PHANTOM_TYPE": _phantom_type(ph),
                }
            )
        scan_id = next_scan_id(qc.acquired_at)
        add_scan(
            key,
            scan_id,
            qc.acquired_at,
            SCAN_TYPE=2 if _phantom_type(ph) == 3 else 1,
            SW_VERSION=_Text(scanner.software_version),
            QC_SCAN=True,
        )
        row: dict[str, _Cell] = {"PATIENT_KEY": _Text(key), "SCANID": _Text(scan_id)}
        for r in qc.results:
            prefix = phantom_regions[r.region]
            row.update({f"{prefix}_AREA": r.area_cm2, f"{prefix}_BMC": r.bmc_g})
            row[f"{prefix}_BMD"] = r.bmd_g_cm2
            if prefix != "TOT":
                row[f"{prefix}_INCLUDED"] = True
        spine.append(row)

    _write(folder, "PATIENT", patients)
    _write(folder, "ScanAnalysis", scans)
    _write(folder, "Spine", spine)
    _write(folder, "Hip", hip)
    _write(folder, "Forearm", forearm)
    _write(folder, "Wbody", wbody)
    write_apex_tables(folder, further)
    _write(folder, "ReferenceResults", reference)
    _write(
        folder,
        "SystemId",
        [
            {
                "SERIAL_NUMBER": _Text(scanner.serial),
                "MODEL": _Text(scanner.model),
                "INSTITUTION": _Text(scanner.institution_name),
            }
        ],
    )
    return folder
