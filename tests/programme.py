"""Small hand-made archives with known truth for the calibration-programme tests.

Hip studies, spine studies and daily-QC series are written through the real store
(``store_parsed``), so every test reads them back through the same queries the app uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dxa_app.archive.database import Database
from dxa_app.archive.store import store_parsed
from dxa_app.domain import (
    IdType,
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

REF = ScannerIdentity(Manufacturer.HOLOGIC, "Horizon A", "REF-1", "Apex 5.6", "R1", "Ref Sygehus")
OTHER = ScannerIdentity(Manufacturer.GE_LUNAR, "Lunar iDXA", "OTH-2", "enCORE 18", "O2", "Oth")
THIRD = ScannerIdentity(Manufacturer.NORLAND, "XR-800", "NOR-3", "4.2", "N3", "Nor Sygehus")
QC_PHANTOM = PhantomIdentity(PhantomKind.HOLOGIC_SPINE, "HSP-T-1")


def person(n: int, *, sex: Sex = Sex.FEMALE, birth: dt.date | None = None) -> PatientIdentity:
    """Return a fake patient with a fake CPR number (DDMMYY-98NS)."""
    b = birth or dt.date(1950, 1 + n % 12, 1 + n % 28)
    last = 1 if sex is Sex.MALE else 0
    return PatientIdentity(
        f"{b:%d%m%y}-{9800 + (n % 50) * 2 + last:04d}", IdType.CPR, f"Test{n}", b, sex
    )


def hip_study(
    scanner: ScannerIdentity,
    pat: PatientIdentity,
    uid: str,
    day: dt.date,
    *,
    side: Side = Side.LEFT,
    total_hip: float | None = None,
    femoral_neck: float | None = None,
    spine: float | None = None,
    extra_hips: Sequence[tuple[float | None, float | None]] = (),
    software_version: str = "",
) -> StudyRecord:
    """Return one study: a hip scan (and its repeats) of one side, optionally an AP spine."""
    at = dt.datetime.combine(day, dt.time(9, 0))
    scans: list[ScanRecord] = []
    for i, (th, fn) in enumerate(((total_hip, femoral_neck), *extra_hips)):
        results = tuple(
            RegionResult(region, value)
            for region, value in ((Region.TOTAL_HIP, th), (Region.FEMORAL_NECK, fn))
            if value is not None
        )
        if results:
            scans.append(
                ScanRecord(
                    f"test:{uid}:hip:{i}",
                    ScanType.HIP,
                    at + dt.timedelta(minutes=5 * i + 1),
                    side,
                    software_version=software_version,
                    results=results,
                )
            )
    if spine is not None:
        scans.append(
            ScanRecord(
                f"test:{uid}:spine",
                ScanType.AP_SPINE,
                at,
                results=(RegionResult(Region.L1_L4, spine),),
            )
        )
    return StudyRecord(scanner, pat, StudyInfo(uid, day), tuple(scans))


def store_studies(db: Database, studies: Sequence[StudyRecord]) -> None:
    """Store studies through the real import path (one parsed source)."""
    store_parsed(db, ParsedSource(path="programme.csv", reader="test", studies=tuple(studies)))


def qc_series(
    scanner: ScannerIdentity,
    start: dt.date,
    values: Sequence[float],
    *,
    phantom: PhantomIdentity = QC_PHANTOM,
    days: Sequence[int] | None = None,
) -> ParsedSource:
    """Return daily-QC phantom scans (one a day from ``start``, or on the given day offsets)."""
    offsets = list(days) if days is not None else list(range(len(values)))
    scans = tuple(
        PhantomScanRecord(
            f"test:qc:{scanner.serial}:{off}",
            phantom,
            scanner,
            dt.datetime.combine(start + dt.timedelta(days=off), dt.time(7, 30)),
            PhantomPurpose.DAILY_QC,
            (PhantomResult(PhantomRegion.TOTAL, float(v)),),
        )
        for off, v in zip(offsets, values, strict=True)
    )
    return ParsedSource(path="qc.csv", reader="test", phantom_scans=scans)


def scanner_id(db: Database, serial: str) -> int:
    """Return the archive id of a scanner."""
    return int(db.execute("SELECT id FROM scanners WHERE serial = ?", [serial]).fetchone()[0])
