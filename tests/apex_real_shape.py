"""A synthetic APEX database in the real shape issue 13 measured (our own values, its facts).

56 patients and 73 scans; 21 birth dates hold APEX's "unknown date" (printed by mdbtools as
``1900-01-00 00:00:00``), as do ScanAnalysis ANALYSIS_DATE / LAST_UPDATE / ALR_ARCH_DATE1
cells; IDENTIFIER1 is empty for 27 patients and one of two generic labels for 26 (3 have a
CPR number); 9 serial numbers including the placeholders ``APEX`` and ``000``; SW_VERSION
13.2, 13.0, or empty on 1988-1999 QDR scans; SCAN_TYPE codes 1, 2/3, 5, 6/7, 8, 21/22, 36/37;
HEIGHT/WEIGHT on 34 scans; only 31 scans have result rows, spread over every result table;
SystemId holds only counters; a Version table. Nothing here comes from a real database: the
values are drawn from a seeded generator.

The same rows are written as a folder of table CSV files in mdb-export's shape (dates as the
importer's ``mdb-export -D`` prints them), and as an SQLite database read through ODBC
(dates as real dates: the sentinel as 1799-12-31, as Microsoft's driver returns it).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dxa_app.demo.apex_writers import ApexCell, Raw, Text, write_apex_tables


class _Sentinel:
    """APEX's unknown date (1799-12-31)."""


SENTINEL: Final = _Sentinel()
Cell = ApexCell | _Sentinel
Rows = list[dict[str, Cell]]

N_PATIENTS: Final = 56
N_SCANS: Final = 73
N_WITH_RESULTS: Final = 31
SERIALS: Final = ("APEX", "000", "47001", "47002", "49310", "49311", "50022", "50023", "81234")
PLACEHOLDERS: Final = ("APEX", "000")
GENERIC_LABELS: Final = ("PATIENT", "Hologic Test")
CPRS: Final = ("120352-9988", "040467-9991", "230871-9904")
#: SCAN_TYPE codes in the order scans get them (cycled); each has its result tables.
CODES: Final = (1, 2, 5, 6, 3, 7, 8, 21, 36, 1, 22, 37, 2, 1)
RESULT_TABLES: Final[Mapping[int, tuple[str, ...]]] = {
    1: ("Spine",),
    2: ("Hip", "HipHSA"),
    3: ("Hip", "HipHSA"),
    5: (
        "Wbody",
        "WbodyComposition",
        "SubRegionBone",
        "SubRegionComposition",
        "AndroidGynoidComposition",
        "ObesityIndices",
    ),
    6: ("Forearm",),
    7: ("Forearm",),
    8: ("Lateral",),
    21: ("Hip",),
    22: ("Hip",),
    36: ("Lateral",),
    37: ("Lateral",),
}

_FOREARM: Final = (
    "R_13",
    "R_MID",
    "R_UD",
    "RTOT",
    "U_13",
    "U_MID",
    "U_UD",
    "UTOT",
    "RU13TOT",
    "RUMIDTOT",
    "RUUDTOT",
    "RUTOT",
)
_WBODY: Final = (
    "WBTOT",
    "SUBTOT",
    "HEAD",
    "LARM",
    "RARM",
    "LRIB",
    "RRIB",
    "T_S",
    "L_S",
    "PELV",
    "LLEG",
    "RLEG",
)
_HIP: Final = ("NECK", "TROCH", "INTER", "WARDS", "HTOT")
_COMP: Final = ("HEAD", "LARM", "RARM", "TRUNK", "L_LEG", "R_LEG", "SUBTOT", "WBTOT")
_HSA: Final = ("BMD", "CSA", "CSMI", "WIDTH", "ED", "ACT", "PCD", "CMP", "SECT_MOD", "BR")


@dataclass
class RealShape:
    """The tables, and what the import must hold afterwards."""

    tables: dict[str, Rows]
    #: (PATIENT_KEY, SCANID) of the scans with results
    with_results: list[tuple[str, str]] = field(default_factory=list)
    #: (PATIENT_KEY, SCANID) -> {(table, column): value} of every value a result row holds
    values: dict[tuple[str, str], dict[tuple[str, str], float]] = field(default_factory=dict)
    #: (PATIENT_KEY, SCANID) -> SCAN_TYPE code, serial, SW_VERSION, HEIGHT, WEIGHT
    scans: dict[tuple[str, str], tuple[int, str, str, float | None, float | None]] = field(
        default_factory=dict
    )
    patients: dict[str, tuple[str, dt.date | None, str]] = field(default_factory=dict)


def _aab(rng: random.Random, prefix: str, bmd: float) -> dict[str, Cell]:
    area = round(rng.uniform(5.0, 60.0), 2)
    return {
        f"{prefix}_AREA": area,
        f"{prefix}_BMC": round(area * bmd, 3),
        f"{prefix}_BMD": round(bmd, 3),
    }


def _result_rows(rng: random.Random, code: int, table: str) -> dict[str, Cell]:
    bmd = rng.uniform(0.55, 1.15)
    row: dict[str, Cell] = {}
    if table == "Spine":
        for i in range(1, 5):
            row[f"L{i}_INCLUDED"] = 1
            row.update(_aab(rng, f"L{i}", bmd + i * 0.02))
        row.update(_aab(rng, "TOT", bmd + 0.05))
        row["STD_TOT_BMD"] = -1
    elif table == "Hip":
        for prefix in _HIP:
            row.update(_aab(rng, prefix, bmd))
        row["AXIS_LENGTH"] = round(rng.uniform(9.5, 12.5), 2)
        row["ROI_TYPE"] = 1
    elif table == "Forearm":
        for prefix in _FOREARM:
            row.update(_aab(rng, prefix, bmd * 0.7))
        row["ARM_LENGTH"] = 31.0
    elif table == "Wbody":
        for prefix in _WBODY:
            row.update(_aab(rng, prefix, bmd))
        row["WBTOT_AREA"] = round(rng.uniform(1800.0, 2300.0), 1)
        row["WBTOT_BMC"] = round(rng.uniform(1800.0, 2800.0), 1)
        row["PHYSICIAN_COMMENT"] = Text("")
    elif table == "HipHSA":
        for site in ("NN", "IT", "FS"):
            for what in _HSA:
                row[f"{site}_{what}"] = round(rng.uniform(0.2, 3.0), 3)
        row["FS_BR"] = -1  # missing
        row["SHAFT_NECK_ANGLE"] = round(rng.uniform(120.0, 135.0), 1)
    elif table == "WbodyComposition":
        for part in _COMP:
            fat, lean = round(rng.uniform(800, 9000), 1), round(rng.uniform(2000, 30000), 1)
            row.update(
                {
                    f"{part}_FAT": fat,
                    f"{part}_LEAN": lean,
                    f"{part}_MASS": round(fat + lean, 1),
                    f"{part}_PFAT": round(100 * fat / (fat + lean), 1),
                }
            )
        row.update({"FAT_STD": 0.95, "LEAN_STD": 1.05, "BRAIN_FAT": 2.9, "WATER_LBM": 73.2})
    elif table == "SubRegionBone":
        row.update(_aab(rng, "NET_AVG", bmd))
        row.update(_aab(rng, "GLOBAL", bmd))
        row["NO_REGIONS"] = 2
        row["REG1_NAME"] = Text("Venstre femur")
        row.update(_aab(rng, "REG1", bmd))
        row["REG2_NAME"] = Text("Højre femur")
        row.update(_aab(rng, "REG2", bmd))
    elif table == "SubRegionComposition":
        for part in ("NET_AVG", "GLOBAL", "REG1"):
            row.update({f"{part}_FAT": 3100.0, f"{part}_LEAN": 9100.5, f"{part}_PFAT": 25.4})
            row[f"{part}_MASS"] = 12200.5
        row["REG1_NAME"] = Text("Venstre femur")
        row["TISSUE_ANALYSIS_METHOD"] = 1
    elif table == "AndroidGynoidComposition":
        row.update(
            {"ANDROID_FAT": 2100.5, "ANDROID_LEAN": 3900.0, "GYNOID_FAT": 4200.0}
        )  # GYNOID_LEAN not analysed:
        row["GYNOID_LEAN"] = 0
    elif table == "ObesityIndices":
        row.update(
            {
                "TOTAL_PERCENT_FAT": 31.5,
                "BODY_MASS_INDEX": 24.8,
                "ANDROID_GYNOID_RATIO": 0.5,
                "FAT_MASS_HEIGHT_SQUARED": 7.8,
                "APPENDAGE_LEAN_MASS_HEIGHT_2": 6.1,
                "TOTAL_FAT_MASS": 21000.0,
                "TOTAL_LEAN_MASS": 44000.0,
            }
        )
    elif table == "Lateral":
        for i in range(1, 6):
            row.update(_aab(rng, f"L{i}", bmd * 0.8))
            row[f"L{i}_VBMD"] = round(rng.uniform(0.15, 0.3), 3)
            row[f"L{i}_WIDTH"] = round(rng.uniform(3.0, 4.5), 2)
        row["L5_BMD"] = -1
        row.update(_aab(rng, "LTOT", bmd * 0.8))
        row.update(_aab(rng, "L3_MID", bmd * 0.7))
        row["L3_P&A_AREA"] = 12.1
        row["L3_P&A_BMC"] = 9.7
    return row


_NOT_VALUES: Final = frozenset(
    {"L1_INCLUDED", "L2_INCLUDED", "L3_INCLUDED", "L4_INCLUDED", "ROI_TYPE", "ARM_LENGTH"}
    | {"NO_REGIONS", "TISSUE_ANALYSIS_METHOD", "STD_TOT_BMD"}
)


def build(seed: int = 13, with_results: int = N_WITH_RESULTS) -> RealShape:
    """Return the tables of the synthetic database (deterministic for a seed).

    Parameters
    ----------
    seed : int
        The generator's seed.
    with_results : int
        How many scans (the first ones, one per patient first) have result rows.

    Returns
    -------
    RealShape
        Tables and the expected content.
    """
    rng = random.Random(seed)
    shape = RealShape(tables={})
    patients: Rows = []
    keys: list[str] = []
    for i in range(N_PATIENTS):
        key = f"{(dt.date(1990, 1, 1) + dt.timedelta(days=97 * i)):%y%m%d}{i + 1:04d}"
        keys.append(key)
        if i < 27:
            ident = ""
        elif i < 53:
            ident = GENERIC_LABELS[i % 2]
        else:
            ident = CPRS[i - 53]
        sex = "F" if i % 3 else "M"
        birth: Cell
        if ident in CPRS:
            dd, mm, yy = int(ident[:2]), int(ident[2:4]), int(ident[4:6])
            birth = dt.datetime(1900 + yy, mm, dd)
            sex = "M" if int(ident[-1]) % 2 else "F"
        elif i % 2 and sum(p["BIRTHDATE"] is SENTINEL for p in patients) < 21:
            birth = SENTINEL
        else:
            birth = dt.datetime(1925 + i % 50, 1 + i % 12, 1 + (7 * i) % 28)
        patients.append(
            {
                "PATIENT_KEY": Text(key),
                "IDENTIFIER1": Text(ident),
                "LAST_NAME": Text(f"Testesen{i:02d}"),
                "FIRST_NAME": Text("Åse" if sex == "F" else "Søren"),
                "BIRTHDATE": birth,
                "SEX": Text(sex),
                "ETHNICITY": Text("W"),
                "HEIGHT": 170.0,
                "WEIGHT": -1,
                "PHANTOM_ID": Text(""),
                "PHANTOM_TYPE": 0,
                "MRN": Text(""),
            }
        )
        shape.patients[key] = (
            ident,
            None if birth is SENTINEL else birth.date() if isinstance(birth, dt.datetime) else None,
            sex,
        )
    assert sum(p["BIRTHDATE"] is SENTINEL for p in patients) == 21
    order = list(range(N_PATIENTS)) + list(range(17))
    scans: Rows = []
    reference: Rows = []
    results: dict[str, Rows] = {}
    heights = 0
    for n, p_index in enumerate(order):
        key = keys[p_index]
        scan_id = f"A{n + 1:07d}"
        code = CODES[n % len(CODES)]
        year = 1988 + (n * 37) % 38
        at = dt.datetime(year, 1 + n % 12, 1 + n % 28, 8 + n % 9, (n * 7) % 60, 11)
        serial = SERIALS[n % len(SERIALS)]
        version = "" if year < 2000 else "13.0" if year < 2016 else "13.2"
        if serial == "81234":
            version = "13.0" if n < 40 else "13.2"
        height: float | None = None
        weight: float | None = None
        if heights < 34 and n % 2 == 0:
            height, weight = round(rng.uniform(150, 190), 1), round(rng.uniform(48, 95), 1)
            heights += 1
        scans.append(
            {
                "PATIENT_KEY": Text(key),
                "SCANID": Text(scan_id),
                "SERIAL_NUMBER": Text(serial),
                "SCAN_DATE": at,
                "SCAN_TYPE": code,
                "SCAN_MODE": Text("Array"),
                "SW_VERSION": Text(version),
                "QC_SCAN": 0,
                "ACCESSION_NO": Text(""),
                "WL_STUDY_INST_UID": Text(""),
                "HEIGHT": height if height is not None else -1,
                "WEIGHT": weight if weight is not None else -1,
                "ANALYSIS_DATE": SENTINEL if n % 2 else at,
                "LAST_UPDATE": SENTINEL if n % 3 == 0 else at,
                "ALR_ARCH_DATE1": SENTINEL if n % 4 == 0 else None,
                "REF_TYPE": Text("S"),
            }
        )
        shape.scans[(key, scan_id)] = (code, serial, version, height, weight)
        if n >= with_results:
            continue
        shape.with_results.append((key, scan_id))
        expected: dict[tuple[str, str], float] = {}
        for table in RESULT_TABLES[code]:
            row = _result_rows(rng, code, table)
            results.setdefault(table, []).append(
                {"PATIENT_KEY": Text(key), "SCANID": Text(scan_id), **row}
            )
            for column, value in row.items():
                if column in _NOT_VALUES or isinstance(value, Text) or value in (-1, 0):
                    continue
                assert isinstance(value, int | float)
                expected[(table, column)] = float(value)
        shape.values[(key, scan_id)] = expected
        if code == 1:
            reference.append(
                {
                    "PATIENT_KEY": Text(key),
                    "SCANID": Text(scan_id),
                    "REF_TYPE": Text("S"),
                    "BONERANGE": Text("1234"),
                    "T_SCORE": -1.0,  # a real score of -1
                    "Z_SCORE": 0.0,
                }
            )
    assert len(scans) == N_SCANS and heights == 34
    shape.tables = {
        "PATIENT": patients,
        "ScanAnalysis": scans,
        **results,
        "ReferenceResults": reference,
        "SystemId": [{"LastPatientNo": N_PATIENTS, "LastScanNo": N_SCANS}],
        "Version": [{"VERSION": Text("12.9.0")}],
    }
    return shape


def _csv_cell(value: Cell) -> ApexCell:
    return Raw('"1900-01-00 00:00:00"') if value is SENTINEL else value  # type: ignore[return-value]


def write_folder(shape: RealShape, folder: Path) -> Path:
    """Write the tables as mdb-export (run as the importer runs it, ``-D``) prints them.

    Parameters
    ----------
    shape : RealShape
        The tables.
    folder : Path
        Where to write.

    Returns
    -------
    Path
        ``folder``.
    """
    tables = {
        name: [{c: _csv_cell(v) for c, v in row.items()} for row in rows]
        for name, rows in shape.tables.items()
    }
    columns = {name: _columns(rows) for name, rows in shape.tables.items()}
    return write_apex_tables(folder, tables, columns, iso_dates=True)


def _columns(rows: Sequence[Mapping[str, Cell]]) -> list[str]:
    return list(dict.fromkeys(c for row in rows for c in row))


def _sql_value(value: Cell) -> object:
    if value is SENTINEL:
        return "1799-12-31 00:00:00"
    if isinstance(value, Text):
        return value.value
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, Raw):
        return value.text
    return value


def _sql_type(values: Sequence[Cell]) -> str:
    present = [v for v in values if v is not None]
    if any(v is SENTINEL or isinstance(v, dt.datetime) for v in present):
        return "TIMESTAMP"
    if any(isinstance(v, Text) for v in present):
        return "TEXT"
    if any(isinstance(v, float) for v in present):
        return "DOUBLE"
    return "INTEGER"


def write_sqlite(shape: RealShape, path: Path) -> Path:
    """Write the tables into an SQLite database, typed as an Access database types them.

    Parameters
    ----------
    shape : RealShape
        The tables.
    path : Path
        The database file to create.

    Returns
    -------
    Path
        ``path``.
    """
    con = sqlite3.connect(path)
    try:
        for name, rows in shape.tables.items():
            columns = _columns(rows)
            types = {c: _sql_type([r.get(c) for r in rows]) for c in columns}
            con.execute(
                f'CREATE TABLE "{name}" (' + ", ".join(f'"{c}" {types[c]}' for c in columns) + ")"
            )
            marks = ", ".join("?" for _c in columns)
            con.executemany(
                f'INSERT INTO "{name}" VALUES ({marks})',
                [[_sql_value(r.get(c)) for c in columns] for r in rows],
            )
        con.commit()
    finally:
        con.close()
    return path
