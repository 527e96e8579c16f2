"""Round trips of the GE Lunar DICOM writers (Enhanced SR, CR image) and the GE reader."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag

from dxa_app.demo.dicom_writers import write_ge_image, write_ge_sr, write_hologic_scan
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
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.base import file_sha256
from dxa_app.ingest.dicom_ge import READER
from dxa_app.ingest.dicom_hologic import READER as HOLOGIC_READER

SCANNER = ScannerIdentity(
    manufacturer=Manufacturer.GE_LUNAR,
    model="Lunar Prodigy",
    serial="PRD-7731",
    software_version="16.20.059",
    station_name="PRODIGY1",
    institution_name="Odense Universitetshospital",
)
PATIENT = PatientIdentity(
    "241163-4321", IdType.CPR, "Kirsten Møller", dt.date(1963, 11, 24), Sex.FEMALE
)
STUDY = StudyInfo(
    study_uid="1.2.826.0.1.3680043.8.498.5001",
    study_date=dt.date(2025, 1, 9),
    accession="OUH123",
    referrer="Peter Ørsted",
    height_cm=165.0,
    weight_kg=61.25,
)
SOP = "1.2.826.0.1.3680043.8.498.6001"
SERIES = "1.2.826.0.1.3680043.8.498.7001"

SPINE = ScanRecord(
    source_key="demo",
    scan_type=ScanType.AP_SPINE,
    acquired_at=dt.datetime(2025, 1, 9, 9, 1, 2),
    scan_mode="Standard",
    operator="Lise Holm",
    software_version="16.20.059",
    results=(
        RegionResult(Region.L1, 1.31, 20.0, 15.27, 1.8, 2.6, included=False),
        RegionResult(Region.L2, 1.002, 14.9, 14.87, -1.1, -0.3),
        RegionResult(Region.L3, 0.951, 13.1, 13.77, -1.4, -0.6),
        RegionResult(Region.L4, 1.0123456789012345, 17.2, 17.0, -0.9, 0.0),
        # L1 is excluded, so the total is L2-L4 (issue 13: an "L1-L4" total over the
        # vertebrae included is labelled from them)
        RegionResult(Region.L2_L4, 0.987, 52.1, 52.8, -1.2, -0.4),
    ),
)
LEFT_HIP = ScanRecord(
    source_key="demo",
    scan_type=ScanType.HIP,
    acquired_at=dt.datetime(2025, 1, 9, 9, 10, 30, 500),
    side=Side.LEFT,
    results=(
        RegionResult(Region.FEMORAL_NECK, 0.803, 4.1, 5.1, -1.9, -0.8),
        RegionResult(Region.TOTAL_HIP, 0.884, None, None, -1.3, None, included=False),
        RegionResult(Region.TROCHANTER, None, 9.0),
    ),
)
RIGHT_FOREARM = ScanRecord(
    source_key="demo",
    scan_type=ScanType.FOREARM,
    acquired_at=dt.datetime(2025, 1, 9, 9, 20),
    side=Side.RIGHT,
    results=(
        RegionResult(Region.RADIUS_33, 0.71, 2.0, 2.8, -1.0, 0.2),
        RegionResult(Region.RADIUS_TOTAL, 0.55),
    ),
)
SCANS = (SPINE, LEFT_HIP, RIGHT_FOREARM)


def _sr(tmp_path: Path, scans: tuple[ScanRecord, ...] = SCANS) -> Path:
    return write_ge_sr(
        tmp_path / "sr.dcm", SCANNER, PATIENT, STUDY, scans, series_uid=SERIES, sop_instance_uid=SOP
    )


def _image(tmp_path: Path, protocol: str, *, slot: int = 0x11, name: str = "img.dcm") -> Path:
    return write_ge_image(
        tmp_path / name,
        SCANNER,
        PATIENT,
        STUDY,
        protocol_name=protocol,
        series_uid=SERIES,
        sop_instance_uid=SOP,
        acquired_at=dt.datetime(2025, 1, 9, 9, 30),
        private_block_slot=slot,
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4096)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def test_sr_round_trip(tmp_path: Path) -> None:
    path = _sr(tmp_path)
    parsed = READER.read(path)
    assert parsed.reader == "dicom_ge"
    (record,) = parsed.studies
    expected = tuple(
        dataclasses.replace(scan, source_key=f"dicom:{SOP}:{n}")
        for n, scan in enumerate(SCANS, start=1)
    )
    assert record.scans == expected
    assert record.scanner == SCANNER
    assert record.patient == PATIENT
    assert record.study == STUDY
    (image,) = record.images
    assert image.kind == "sr"
    assert image.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.22"
    assert image.rows is None
    assert image.sha256 == file_sha256(path)
    assert parsed.notes == ()


def test_sr_shape(tmp_path: Path) -> None:
    ds = dcmread(_sr(tmp_path))
    assert ds.Modality == "SR"
    assert ds.Manufacturer == "GE Healthcare"
    names = [item.ConceptNameCodeSequence[0].CodeMeaning for item in ds.ContentSequence]
    assert names == ["AP Spine", "Left Femur", "Right Forearm"]
    l1 = ds.ContentSequence[0].ContentSequence[-5]
    assert l1.ConceptNameCodeSequence[0].CodeMeaning == "L1"
    bmd = l1.ContentSequence[0]
    assert bmd.ConceptNameCodeSequence[0].CodingSchemeDesignator == "99GEMS"
    assert bmd.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "g/cm2"


def test_sr_unknown_items_are_noted(tmp_path: Path) -> None:
    path = _sr(tmp_path)
    ds = dcmread(path)
    spine = ds.ContentSequence[0]
    l1 = next(i for i in spine.ContentSequence if i.get("ValueType") == "CONTAINER")
    extra = Dataset()
    extra.RelationshipType = "CONTAINS"
    extra.ValueType = "NUM"
    extra.ConceptNameCodeSequence = DicomSequence([_code("AVGH", "99GEMS", "Average Height")])
    measured = Dataset()
    measured.NumericValue = "2.71"
    measured.MeasurementUnitsCodeSequence = DicomSequence([_code("cm", "UCUM", "centimeter")])
    extra.MeasuredValueSequence = DicomSequence([measured])
    l1.ContentSequence.append(extra)
    shaft = Dataset()
    shaft.RelationshipType = "CONTAINS"
    shaft.ValueType = "CONTAINER"
    shaft.ConceptNameCodeSequence = DicomSequence([_code("SHAFT", "99GEMS", "Shaft")])
    shaft.ContinuityOfContent = "SEPARATE"
    shaft.ContentSequence = DicomSequence()
    ds.ContentSequence[1].ContentSequence.append(shaft)
    ds.save_as(path, enforce_file_format=True)

    parsed = READER.read(path)
    (record,) = parsed.studies
    assert record.scans[0].results == SPINE.results
    assert record.scans[1].results == LEFT_HIP.results
    messages = [n.message for n in parsed.notes]
    assert len(messages) == 2
    assert "Average Height" in messages[0] and "L1" in messages[0]
    assert "Shaft" in messages[1]


def test_sr_float_precision_uses_floating_point_value(tmp_path: Path) -> None:
    ds = dcmread(_sr(tmp_path, (SPINE,)))
    l4 = ds.ContentSequence[0].ContentSequence[-2]
    measured = l4.ContentSequence[0].MeasuredValueSequence[0]
    assert len(str(measured.NumericValue)) <= 16
    assert measured.FloatingPointValue == 1.0123456789012345


def test_sr_mg_units_are_converted(tmp_path: Path) -> None:
    path = _sr(tmp_path, (SPINE,))
    ds = dcmread(path)
    bmd = ds.ContentSequence[0].ContentSequence[-5].ContentSequence[0]
    measured = bmd.MeasuredValueSequence[0]
    measured.NumericValue = "951"
    measured.MeasurementUnitsCodeSequence[0].CodeValue = "mg/cm2"
    ds.save_as(path, enforce_file_format=True)
    (record,) = READER.read(path).studies
    assert record.scans[0].results[0].bmd_g_cm2 == pytest.approx(0.951)


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [
        ("Left Femur", "hip_image"),
        ("Right Femur", "hip_image"),
        ("DualFemur", "hip_image"),
        ("AP Spine", "ap_spine_image"),
        ("LVA", "lva"),
        ("Total Body", "whole_body_image"),
        ("Left Forearm", "forearm_image"),
    ],
)
def test_image_kind_from_protocol_name(tmp_path: Path, protocol: str, kind: str) -> None:
    path = _image(tmp_path, protocol)
    (record,) = READER.read(path).studies
    assert record.scans == ()
    (image,) = record.images
    assert image.kind == kind


@pytest.mark.parametrize("slot", [0x10, 0x11, 0x42])
def test_cr_image_left_femur(tmp_path: Path, slot: int) -> None:
    path = _image(tmp_path, "Left Femur", slot=slot)
    ds = dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1"
    assert ds.Modality == "CR"
    assert ds.BodyPartExamined == "" and ds.Laterality == ""
    assert ds.BitsAllocated == 8 and ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds[Tag(0x7003, slot)].value == "GEMS_LUNAR_RAW"
    blob = ds.get_private_item(0x7003, 0x02, "GEMS_LUNAR_RAW").value
    assert ds.get_private_item(0x7003, 0x03, "GEMS_LUNAR_RAW").value == len(blob)

    assert READER.sniff(path, _head(path))
    parsed = READER.read(path)
    (record,) = parsed.studies
    assert record.patient == PATIENT and record.scanner == SCANNER and record.study == STUDY
    (image,) = record.images
    assert image.kind == "hip_image"
    assert image.sop_instance_uid == SOP
    assert (image.rows, image.columns, image.bits_allocated) == (80, 64, 8)
    assert image.file_path == str(path)
    assert image.sha256 == file_sha256(path)
    assert hashlib.sha256(blob).hexdigest() in image.note
    assert "not parsed" in image.note


def test_unknown_protocol_is_kept_with_note(tmp_path: Path) -> None:
    parsed = READER.read(_image(tmp_path, "Left Ortho Knee"))
    assert parsed.studies[0].images[0].kind == "image"
    assert any("Left Ortho Knee" in n.message for n in parsed.notes)


def test_ot_modality_writes_secondary_capture(tmp_path: Path) -> None:
    path = write_ge_image(
        tmp_path / "ot.dcm",
        SCANNER,
        PATIENT,
        STUDY,
        protocol_name="AP Spine",
        series_uid=SERIES,
        sop_instance_uid=SOP,
        acquired_at=dt.datetime(2025, 1, 9, 9, 30),
        modality="OT",
    )
    assert dcmread(path).SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert READER.read(path).studies[0].images[0].kind == "ap_spine_image"


def test_raw_creator_alone_is_enough_to_sniff(tmp_path: Path) -> None:
    path = _image(tmp_path, "AP Spine")
    ds = dcmread(path)
    ds.Manufacturer = ""
    ds.save_as(path, enforce_file_format=True)
    assert READER.sniff(path, _head(path))
    assert not HOLOGIC_READER.sniff(path, _head(path))


def test_sniff(tmp_path: Path) -> None:
    sr = _sr(tmp_path)
    hologic = write_hologic_scan(
        tmp_path / "hologic.dcm",
        dataclasses.replace(SCANNER, manufacturer=Manufacturer.HOLOGIC),
        PATIENT,
        STUDY,
        SPINE,
        series_uid=SERIES,
        sop_instance_uid="1.2.826.0.1.3680043.8.498.6002",
    )
    text = tmp_path / "readme.txt"
    text.write_text("DICM " * 200, encoding="utf-8")
    assert READER.sniff(sr, _head(sr))
    assert not HOLOGIC_READER.sniff(sr, _head(sr))
    assert not READER.sniff(hologic, _head(hologic))
    assert not READER.sniff(text, _head(text))
    assert not HOLOGIC_READER.sniff(text, _head(text))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_sr_raises_with_path(tmp_path: Path, keep: float) -> None:
    data = _sr(tmp_path).read_bytes()
    broken = tmp_path / "cut.dcm"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImportProblemError) as info:
        READER.read(broken)
    assert str(broken) in info.value.message


def test_missing_study_uid_raises(tmp_path: Path) -> None:
    path = _image(tmp_path, "AP Spine")
    ds = dcmread(path)
    del ds.StudyInstanceUID
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImportProblemError, match="StudyInstanceUID"):
        READER.read(path)


def test_hologic_file_is_refused(tmp_path: Path) -> None:
    path = write_hologic_scan(
        tmp_path / "h.dcm",
        dataclasses.replace(SCANNER, manufacturer=Manufacturer.HOLOGIC),
        PATIENT,
        STUDY,
        SPINE,
        series_uid=SERIES,
        sop_instance_uid=SOP,
    )
    with pytest.raises(ImportProblemError, match="GE Lunar"):
        READER.read(path)


def _dciodvfy_errors(path: Path, iod: str) -> list[str]:
    run = subprocess.run(
        ["dciodvfy", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    output = run.stdout + run.stderr
    assert iod in output
    return [line for line in output.splitlines() if line.startswith("Error")]


def test_dciodvfy_sr_is_valid(tmp_path: Path) -> None:
    assert _dciodvfy_errors(_sr(tmp_path), "EnhancedSR") == []


def test_dciodvfy_cr_image_has_no_errors(tmp_path: Path) -> None:
    assert _dciodvfy_errors(_image(tmp_path, "Left Femur"), "CRImage") == []
