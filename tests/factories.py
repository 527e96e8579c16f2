"""Small hand-made domain objects for tests (fake CPR numbers, Danish letters)."""

from __future__ import annotations

import datetime as dt

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
    StudyInfo,
    StudyRecord,
)

SCANNER = ScannerIdentity(
    Manufacturer.HOLOGIC, "Horizon A", "TEST-001", "Apex 5.6", "ST1", "Test Sygehus"
)


def patient(n: int = 1, *, sex: Sex = Sex.FEMALE, birth: dt.date | None = None) -> PatientIdentity:
    """Return a fake patient (CPR DDMMYY-99NS)."""
    b = birth or dt.date(1950, 1, n)
    last = 1 if sex is Sex.MALE else 0
    return PatientIdentity(f"{b:%d%m%y}-99{n % 10}{last}", IdType.CPR, f"Søs Testperson{n}", b, sex)


def study_record(
    n: int = 1, *, uid: str | None = None, pat: PatientIdentity | None = None, bmd: float = 0.9
) -> StudyRecord:
    """Return a study with one AP-spine scan (L1-L4 + total)."""
    uid = uid or f"1.2.826.0.1.3680043.8.498.{n}"
    results = (
        *(
            RegionResult(r, bmd + i * 0.01, 10.0, 14.0 + i, -1.5, -0.5, True)
            for i, r in enumerate((Region.L1, Region.L2, Region.L3, Region.L4))
        ),
        RegionResult(Region.L1_L4, bmd, 60.0, 62.0, -1.4, -0.4),
    )
    scan = ScanRecord(
        f"test:{uid}:spine", ScanType.AP_SPINE, dt.datetime(2026, 6, 1, 9, n % 60), results=results
    )
    return StudyRecord(SCANNER, pat or patient(n), StudyInfo(uid, dt.date(2026, 6, 1)), (scan,))


def parsed(*studies: StudyRecord, path: str = "test.dcm") -> ParsedSource:
    """Wrap study records as one parsed source."""
    return ParsedSource(path=path, reader="test", studies=tuple(studies))
