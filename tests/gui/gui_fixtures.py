"""Sample data for the Qt tests: a small archive built with the real archive layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import (
    IdType,
    Manufacturer,
    ParsedSource,
    PatientIdentity,
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


@dataclass(frozen=True)
class SampleArchive:
    """An archive file and what was put into it."""

    path: Path
    patients: dict[str, str]  # identifier -> name
    studies: dict[str, tuple[str, dt.date]]  # study_uid -> (patient identifier, date)


HOLOGIC = ScannerIdentity(
    Manufacturer.HOLOGIC, "Horizon A", "HZ-200123", "13.6", "DXA1", "Aarhus Universitetshospital"
)
LUNAR = ScannerIdentity(
    Manufacturer.GE_LUNAR, "iDXA", "LU-8890", "18", "IDXA-OUH", "Odense Universitetshospital"
)

PATIENTS = {
    "010150-9990": PatientIdentity(
        "010150-9990", IdType.CPR, "Søren Ærøskøbing", dt.date(1950, 1, 1), Sex.MALE
    ),
    "120465-9992": PatientIdentity(
        "120465-9992", IdType.CPR, "Åse Møller", dt.date(1965, 4, 12), Sex.FEMALE
    ),
    "300782-9994": PatientIdentity(
        "300782-9994", IdType.CPR, "Bjørk Læsø", dt.date(1982, 7, 30), Sex.FEMALE
    ),
}

# (study uid, patient, scanner, date, scan types)
STUDIES: tuple[tuple[str, str, ScannerIdentity, dt.date, tuple[ScanType, ...]], ...] = (
    (
        "1.2.826.0.1.3680043.9.1.1",
        "010150-9990",
        HOLOGIC,
        dt.date(2021, 3, 4),
        (ScanType.AP_SPINE, ScanType.HIP),
    ),
    (
        "1.2.826.0.1.3680043.9.1.2",
        "010150-9990",
        HOLOGIC,
        dt.date(2023, 3, 9),
        (ScanType.AP_SPINE, ScanType.HIP),
    ),
    (
        "1.2.826.0.1.3680043.9.1.3",
        "120465-9992",
        LUNAR,
        dt.date(2022, 11, 21),
        (ScanType.AP_SPINE, ScanType.FOREARM),
    ),
    ("1.2.826.0.1.3680043.9.1.4", "120465-9992", LUNAR, dt.date(2024, 1, 15), (ScanType.HIP,)),
    (
        "1.2.826.0.1.3680043.9.1.5",
        "300782-9994",
        HOLOGIC,
        dt.date(2024, 6, 2),
        (ScanType.AP_SPINE, ScanType.VFA),
    ),
)


def _scan(uid: str, i: int, scan_type: ScanType, date: dt.date) -> ScanRecord:
    at = dt.datetime.combine(date, dt.time(9, 30 + i))
    if scan_type == ScanType.AP_SPINE:
        results = tuple(
            RegionResult(r, 0.9 + 0.01 * k, vendor_t=-1.2)
            for k, r in enumerate((Region.L1, Region.L2, Region.L3, Region.L4, Region.L1_L4))
        )
        return ScanRecord(f"test:{uid}:{i}", scan_type, at, results=results)
    if scan_type == ScanType.HIP:
        results = (
            RegionResult(Region.TOTAL_HIP, 0.85, vendor_t=-1.6),
            RegionResult(Region.FEMORAL_NECK, 0.71, vendor_t=-2.1),
        )
        return ScanRecord(f"test:{uid}:{i}", scan_type, at, side=Side.LEFT, results=results)
    if scan_type == ScanType.FOREARM:
        results = (RegionResult(Region.RADIUS_33, 0.66),)
        return ScanRecord(f"test:{uid}:{i}", scan_type, at, side=Side.LEFT, results=results)
    return ScanRecord(f"test:{uid}:{i}", scan_type, at)


def build_sample_archive(path: Path) -> SampleArchive:
    """Store the sample patients and studies in a new archive at ``path``."""
    records = tuple(
        StudyRecord(
            scanner=scanner,
            patient=PATIENTS[pid],
            study=StudyInfo(uid, date),
            scans=tuple(_scan(uid, i, t, date) for i, t in enumerate(types)),
        )
        for uid, pid, scanner, date, types in STUDIES
    )
    db = open_archive(path)
    try:
        store_parsed(db, ParsedSource(path="test-fixture", reader="test", studies=records))
    finally:
        db.close()
    return SampleArchive(
        path=path,
        patients={pid: p.name for pid, p in PATIENTS.items()},
        studies={uid: (pid, date) for uid, pid, _scanner, date, _types in STUDIES},
    )
