"""One synthetic Hologic DXA study written by the demo writers (spine, left hip, VFA image).

The patient is the issue-13 case by default: PatientID ``0101509990`` (10 digits, no hyphen)
and the Danish double surname ``Østergård-Ærø^Åse Marie``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from dxa_app.demo.dicom_writers import write_hologic_scan, write_hologic_vfa_image
from dxa_app.domain import (
    IdType,
    Manufacturer,
    PatientIdentity,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Sex,
    Side,
    StudyInfo,
)

PATIENT_ID = "0101509990"
PN = "Østergård-Ærø^Åse Marie"
STUDY_UID = "1.2.826.0.1.3680043.8.498.13001"
ROOT = "1.2.826.0.1.3680043.8.498.13"

SCANNER = ScannerIdentity(
    manufacturer=Manufacturer.HOLOGIC,
    model="Horizon A",
    serial="301313",
    software_version="13.6.0.5",
    station_name="HOLX-13",
    institution_name="Testhospitalet",
)
PATIENT = PatientIdentity(
    identifier=PATIENT_ID,
    id_type=IdType.CPR,
    name="Åse Marie Østergård-Ærø",  # the writer's PN: "Østergård-Ærø^Åse Marie"
    birth_date=dt.date(1950, 1, 1),
    sex=Sex.FEMALE,
)
STUDY = StudyInfo(
    study_uid=STUDY_UID,
    study_date=dt.date(2026, 3, 4),
    accession="ACC1313",
    referrer="Jens Lægen",
    indication="Kontrol",
    height_cm=165.0,
    weight_kg=60.0,
)
WHEN = dt.datetime(2026, 3, 4, 9, 15, 30)

SPINE = ScanRecord(
    source_key="",
    scan_type=ScanType.AP_SPINE,
    acquired_at=WHEN,
    scan_mode="Array",
    software_version="13.6.0.5",
    results=(
        RegionResult(Region.L1, 0.801, 11.0, 13.7, -2.0, -0.8),
        RegionResult(Region.L2, 0.861, 12.8, 14.9, -1.5, -0.3),
        RegionResult(Region.L3, 0.902, 13.9, 15.4, -1.2, 0.0),
        RegionResult(Region.L4, 0.921, 15.1, 16.4, -1.1, 0.1),
        RegionResult(Region.L1_L4, 0.876, 52.8, 60.4, -1.4, -0.2),
    ),
)
HIP = ScanRecord(
    source_key="",
    scan_type=ScanType.HIP,
    acquired_at=WHEN + dt.timedelta(minutes=6),
    side=Side.LEFT,
    scan_mode="Array",
    software_version="13.6.0.5",
    results=(
        RegionResult(Region.FEMORAL_NECK, 0.702, 3.4, 4.85, -2.2, -0.9),
        RegionResult(Region.TOTAL_HIP, 0.811, 30.1, 37.1, -1.6, -0.4),
    ),
)


@dataclass(frozen=True)
class WrittenStudy:
    """The files of the study and their SOP Instance UIDs."""

    files: tuple[Path, ...]
    sop_uids: tuple[str, ...]


def write_study(
    folder: Path,
    *,
    patient: PatientIdentity = PATIENT,
    study: StudyInfo = STUDY,
    prefix: str = ROOT,
) -> WrittenStudy:
    """Write the spine, the left hip and the VFA image of one Hologic study into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    series = f"{prefix}.2"
    files = []
    uids = []
    for n, scan in enumerate((SPINE, HIP), start=1):
        sop = f"{prefix}.3.{n}"
        files.append(
            write_hologic_scan(
                folder / f"scan{n}.dcm",
                SCANNER,
                patient,
                study,
                scan,
                series_uid=series,
                sop_instance_uid=sop,
                study_time=WHEN.time(),
            )
        )
        uids.append(sop)
    sop = f"{prefix}.3.9"
    files.append(
        write_hologic_vfa_image(
            folder / "vfa.dcm",
            SCANNER,
            patient,
            study,
            series_uid=series,
            sop_instance_uid=sop,
            acquired_at=WHEN + dt.timedelta(minutes=12),
            study_time=WHEN.time(),
        )
    )
    uids.append(sop)
    return WrittenStudy(tuple(files), tuple(uids))


#: The known spine gradient: stored value 2 * column + row (rows 0..39, columns 0..99; 8 bits
#: as Hologic writes), shown through RescaleSlope 2, RescaleIntercept -100, in the window
#: 150 / 300 (0 to 300).
ROWS, COLUMNS = 40, 100


def stored_gradient() -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The known gradient's stored values (rows x columns)."""
    r, c = np.mgrid[0:ROWS, 0:COLUMNS]
    return np.asarray(2 * c + r, dtype=np.uint8)


def put_gradient(path: Path) -> None:
    """Replace a written file's pixels by the known 8-bit grey gradient."""
    ds = pydicom.dcmread(path)
    for keyword in ("PlanarConfiguration",):
        if keyword in ds:
            delattr(ds, keyword)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = "2", "-100"
    ds.WindowCenter, ds.WindowWidth = "150", "300"
    ds.PixelData = stored_gradient().tobytes()
    ds.save_as(path, enforce_file_format=True)
