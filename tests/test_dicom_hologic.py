"""Round trips of the Hologic DICOM writer and reader, and the reader's tolerance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from pathlib import Path
from typing import Literal

import pytest
from pydicom import dcmread
from pydicom.tag import Tag

from dxa_app.cpr import normalise_cpr
from dxa_app.demo.dicom_writers import (
    write_ge_image,
    write_ge_sr,
    write_hologic_scan,
    write_hologic_vfa_image,
)
from dxa_app.domain import (
    AnalysisStatus,
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
)
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.base import file_sha256
from dxa_app.ingest.dicom_common import person_name
from dxa_app.ingest.dicom_ge import READER as GE_READER
from dxa_app.ingest.dicom_hologic import NOTE_NO_ANALYSIS, READER

SCANNER = ScannerIdentity(
    manufacturer=Manufacturer.HOLOGIC,
    model="Horizon A",
    serial="301234",
    software_version="13.6.0.5",
    station_name="HOLX-AAR-01",
    institution_name="Aarhus Universitetshospital",
)
GE_SCANNER = ScannerIdentity(Manufacturer.GE_LUNAR, "Lunar iDXA", "200123", "16.20.059")
PATIENT = PatientIdentity(
    identifier="010250-1234",
    id_type=IdType.CPR,
    name="Søren Ærø Åberg",
    birth_date=dt.date(1950, 2, 1),
    sex=Sex.FEMALE,
)
STUDY = StudyInfo(
    study_uid="1.2.826.0.1.3680043.8.498.1001",
    study_date=dt.date(2024, 5, 6),
    accession="ACC0001",
    referrer="Jens Lægen",
    indication="Mistanke om osteoporose",
    height_cm=172.5,
    weight_kg=70.3,
)
WHEN = dt.datetime(2024, 5, 6, 10, 11, 12, 345000)

SPINE = ScanRecord(
    source_key="demo",
    scan_type=ScanType.AP_SPINE,
    acquired_at=WHEN,
    scan_mode="Array",
    operator="Anne Nielsen",
    software_version="13.6.0.5",
    results=(
        RegionResult(Region.L1, 1.203, 17.1, 14.2, 1.6, 2.9, included=False),
        RegionResult(Region.L2, 0.874, 12.9, 14.76, -1.4, -0.2),
        RegionResult(Region.L3, 0.812, 11.2, 13.8, -1.9, -0.7),
        RegionResult(Region.L4, 0.9, 15.0, 16.6666, -1.1, 0.1),
        # L1 is excluded, so the spine total is L2-L4 (issue 13: labelled from the vertebrae
        # included; it used to be an "L1-L4" over L1, L2 and L4 here)
        RegionResult(Region.L2_L4, 0.8612345678901234, 39.1, 45.2266, -1.5, -0.3),
    ),
)
HIP = ScanRecord(
    source_key="demo",
    scan_type=ScanType.HIP,
    acquired_at=dt.datetime(2024, 5, 6, 10, 20),
    side=Side.RIGHT,
    scan_mode="Fast Array",
    operator="",
    software_version="",
    results=(
        RegionResult(Region.FEMORAL_NECK, 0.701, 3.4, 4.85, -2.6, -1.1),
        RegionResult(Region.TROCHANTER, 0.612, None, None, -1.0, None),
        RegionResult(Region.INTERTROCHANTER, 1.01, 20.0, 19.8),
        RegionResult(Region.TOTAL_HIP, 0.83, 30.1, 36.2, -1.5, -0.4),
        RegionResult(Region.WARDS, None),
    ),
)

Fmt = Literal["xml", "text"]


def _write(
    tmp_path: Path,
    scan: ScanRecord,
    fmt: Fmt = "xml",
    *,
    sop: str = "1.2.826.0.1.3680043.8.498.2001",
    creator: str = "HOLOGIC",
    slot: int = 0x11,
    patient: PatientIdentity = PATIENT,
) -> Path:
    return write_hologic_scan(
        tmp_path / f"{sop}.dcm",
        SCANNER,
        patient,
        STUDY,
        scan,
        series_uid="1.2.826.0.1.3680043.8.498.3001",
        sop_instance_uid=sop,
        analysis_format=fmt,
        private_creator=creator,
        private_block_slot=slot,
    )


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(4096)


def _only_study(parsed: ParsedSource) -> tuple[ScanRecord, ...]:
    assert parsed.reader == "dicom_hologic"
    assert len(parsed.studies) == 1
    return parsed.studies[0].scans


@pytest.mark.parametrize("fmt", ["xml", "text"])
@pytest.mark.parametrize("scan", [SPINE, HIP], ids=["spine", "hip"])
def test_round_trip(tmp_path: Path, scan: ScanRecord, fmt: Fmt) -> None:
    sop = "1.2.826.0.1.3680043.8.498.2002"
    path = _write(tmp_path, scan, fmt, sop=sop)
    parsed = READER.read(path)
    (record,) = parsed.studies
    assert record.scans == (dataclasses.replace(scan, source_key=f"dicom:{sop}"),)
    assert record.scanner == SCANNER
    assert record.patient == PATIENT
    assert record.study == STUDY
    (image,) = record.images
    assert image.sop_instance_uid == sop
    assert image.sop_class_uid == "1.2.840.10008.5.1.4.1.1.7"
    assert (image.rows, image.columns, image.bits_allocated) == (64, 64, 8)
    assert image.file_path == str(path)
    assert image.sha256 == file_sha256(path)
    assert image.kind == f"{scan.scan_type.value}_image"
    assert parsed.notes == ()


def test_excluded_vertebra_survives(tmp_path: Path) -> None:
    (scan,) = _only_study(READER.read(_write(tmp_path, SPINE, "text")))
    assert [r.included for r in scan.results] == [False, True, True, True, True]


def test_writer_shape(tmp_path: Path) -> None:
    ds = dcmread(_write(tmp_path, HIP))
    assert ds.Modality == "OT"
    assert ds.Manufacturer == "HOLOGIC"
    assert ds.BodyPartExamined == "HIP"
    assert ds.Laterality == "R"
    assert ds.SamplesPerPixel == 3 and ds.PhotometricInterpretation == "RGB"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    # the Hologic block is at a non-default slot: (0021,0010) holds a padding creator
    assert ds[Tag(0x0021, 0x0011)].value == "HOLOGIC"
    assert ds[Tag(0x0021, 0x0010)].value != "HOLOGIC"
    assert "<ScanAnalysis" in ds[Tag(0x0021, 0x1101)].value
    assert ds.get_private_item(0x0023, 0x01, "HOLOGIC").value.endswith(".P05")


@pytest.mark.parametrize(
    ("creator", "slot"),
    [
        ("HOLOGIC", 0x10),
        ("HOLOGIC", 0x11),
        ("Hologic", 0x10),
        ("Hologic", 0x23),
        ("HOLOGIC, Inc.", 0x11),
        ("HOLOGIC, Inc.", 0x10),
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "text"])
def test_private_block_resolved_via_creator(
    tmp_path: Path, creator: str, slot: int, fmt: Fmt
) -> None:
    path = _write(tmp_path, SPINE, fmt, creator=creator, slot=slot)
    ds = dcmread(path)
    assert ds[Tag(0x0021, slot)].value == creator
    assert Tag(0x0021, (slot << 8) | 0x01) in ds
    assert READER.sniff(path, _head(path))
    (scan,) = _only_study(READER.read(path))
    assert scan.results == SPINE.results


def test_vfa_image_is_kept_as_image(tmp_path: Path) -> None:
    sop = "1.2.826.0.1.3680043.8.498.2003"
    path = write_hologic_vfa_image(
        tmp_path / "vfa.dcm",
        SCANNER,
        PATIENT,
        STUDY,
        series_uid="1.2.826.0.1.3680043.8.498.3002",
        sop_instance_uid=sop,
        acquired_at=WHEN,
    )
    ds = dcmread(path)
    assert ds.BodyPartExamined == "LSPINE" and ds.BitsAllocated == 16
    assert READER.sniff(path, _head(path))
    (record,) = READER.read(path).studies
    assert record.scans == ()
    (image,) = record.images
    assert image.kind == "vfa"
    assert image.sop_instance_uid == sop
    assert image.bits_allocated == 16
    assert image.sha256 == file_sha256(path)


def test_image_without_analysis_is_kept_as_image(tmp_path: Path) -> None:
    path = _write(tmp_path, HIP)
    ds = dcmread(path)
    del ds[Tag(0x0021, 0x1101)]
    ds.save_as(path, enforce_file_format=True)
    (record,) = READER.read(path).studies
    assert record.scans == ()
    (image,) = record.images
    assert image.kind == "hip_image"
    assert image.note == NOTE_NO_ANALYSIS
    assert image.rows == 64


def test_vendor_results_table_is_tolerated(tmp_path: Path) -> None:
    """A Discovery-like table: Danish decimal comma, extra columns, CRLF, 'Total' = L1-L4."""
    path = _write(tmp_path, SPINE, "text")
    header = ["Region", "Area[cm<sup><small>2</small></sup>]", "BMC[(g)]", "% Fat"]
    header += ["BMD[(g/cm<sup><small>2</small></sup>)]", "T - Score", "Z - Score"]
    table = [header, ["L1", "13,80", "11,20", "12", "0,812", "-1.9", "-"]]
    table.append(["Total", "45.23", "39.10", "9", "0.861", "-1.5", "-0.3"])
    table.append(["T12", "1", "1", "1", "1", "1", "1"])
    lines = ['PatientName = "Åberg";', "ImageXSize = 300;"]
    for r, row in enumerate(table):
        lines += [f'ResultsTable[{r:2d}][{c:2d}] = "{v}";' for c, v in enumerate(row)]
    ds = dcmread(path)
    ds[Tag(0x0021, 0x1101)].value = "\r\n".join(lines)
    ds.save_as(path, enforce_file_format=True)

    parsed = READER.read(path)
    (scan,) = _only_study(parsed)
    assert scan.scan_type is ScanType.AP_SPINE  # from BodyPartExamined
    # the only vertebra is L1, so the total is over L1 alone: no region stands for it and it
    # is named in a note with its numbers (issue 13: never stored as "L1-L4")
    assert scan.results == (RegionResult(Region.L1, 0.812, 11.2, 13.8, -1.9, None),)
    messages = " | ".join(n.message for n in parsed.notes)
    assert "% Fat" in messages
    assert "T12" in messages
    assert "BMD 0.861 g/cm², T -1.5, Z -0.3) is over L1," in messages


@pytest.mark.parametrize(
    ("raw", "identifier", "id_type"),
    [
        ("0102501234", "010250-1234", IdType.CPR),
        ("010250-1234", "010250-1234", IdType.CPR),
        (" 3112991234 ", "311299-1234", IdType.CPR),
        ("3213451234", "3213451234", IdType.OTHER),
        ("PAT-000017", "PAT-000017", IdType.OTHER),
    ],
)
def test_cpr_normalisation(tmp_path: Path, raw: str, identifier: str, id_type: IdType) -> None:
    patient = dataclasses.replace(PATIENT, identifier=raw.strip())
    (record,) = READER.read(_write(tmp_path, HIP, patient=patient)).studies
    assert record.patient.identifier == identifier
    assert record.patient.id_type is id_type


def test_normalise_cpr_and_person_name() -> None:
    assert normalise_cpr("0102031234") == "010203-1234"
    assert normalise_cpr("010203-123") is None
    assert normalise_cpr("011303-1234") is None
    assert person_name("Hansen^Anne Marie") == "Anne Marie Hansen"
    assert person_name("Hansen^Anne^K^Dr.") == "Dr. Anne K Hansen"
    assert person_name("Hansen") == "Hansen"
    assert person_name(None) == ""


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99, 200, 131])
def test_truncated_file_raises_with_path(tmp_path: Path, keep: float) -> None:
    path = _write(tmp_path, SPINE)
    data = path.read_bytes()
    cut = int(len(data) * keep) if keep < 1 else int(keep)
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(data[:cut])
    with pytest.raises(ImportProblemError) as info:
        READER.read(broken)
    assert str(broken) in info.value.message


def test_not_dicom_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 100)
    with pytest.raises(ImportProblemError, match=r"notes\.txt"):
        READER.read(path)


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "PatientID"])
def test_missing_required_element_raises(tmp_path: Path, keyword: str) -> None:
    path = _write(tmp_path, SPINE)
    ds = dcmread(path)
    delattr(ds, keyword)
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ImportProblemError) as info:
        READER.read(path)
    assert str(path) in info.value.message
    assert keyword in info.value.message


def test_garbled_analysis_is_an_image_with_analysis_not_understood(tmp_path: Path) -> None:
    """Issue 13: analysis data that cannot be parsed no longer fails the file."""
    path = _write(tmp_path, SPINE)
    ds = dcmread(path)
    ds[Tag(0x0021, 0x1101)].value = "<ScanAnalysis><Region name='L1'"
    ds.save_as(path, enforce_file_format=True)
    parsed = READER.read(path)
    (study,) = parsed.studies
    assert study.scans == ()
    (image,) = study.images
    assert image.analysis is AnalysisStatus.NOT_UNDERSTOOD
    assert image.analysis_detail.startswith("HOLOGIC (0021,1101): it cannot be parsed")
    assert image.kind == "ap_spine_image"
    messages = [n.message for n in parsed.notes]
    assert any(m.startswith("Analysis data not understood: HOLOGIC (0021,1101)") for m in messages)


def test_ge_file_is_refused(tmp_path: Path) -> None:
    path = write_ge_image(
        tmp_path / "ge.dcm",
        GE_SCANNER,
        PATIENT,
        STUDY,
        protocol_name="AP Spine",
        series_uid="1.2.826.0.1.3680043.8.498.3003",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.2004",
        acquired_at=WHEN,
    )
    assert not READER.sniff(path, _head(path))
    with pytest.raises(ImportProblemError, match="Hologic"):
        READER.read(path)


def test_sniff(tmp_path: Path) -> None:
    hologic = _write(tmp_path, SPINE)
    sr = write_ge_sr(
        tmp_path / "sr.dcm",
        GE_SCANNER,
        PATIENT,
        STUDY,
        [SPINE],
        series_uid="1.2.826.0.1.3680043.8.498.3004",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.2005",
    )
    text = tmp_path / "export.csv"
    text.write_text("patient_id;bmd\n0102031234;0.9\n", encoding="utf-8")
    short = tmp_path / "short.dcm"
    short.write_bytes(hologic.read_bytes()[:100])
    assert READER.sniff(hologic, _head(hologic))
    assert not GE_READER.sniff(hologic, _head(hologic))
    assert not READER.sniff(sr, _head(sr))
    assert not READER.sniff(text, _head(text))
    assert not GE_READER.sniff(text, _head(text))
    assert not READER.sniff(short, _head(short))


def test_writer_refuses_values_that_do_not_fit(tmp_path: Path) -> None:
    scanner = dataclasses.replace(SCANNER, station_name="A-STATION-NAME-LONGER-THAN-16")
    with pytest.raises(ValueError, match="StationName"):
        write_hologic_scan(
            tmp_path / "x.dcm",
            scanner,
            PATIENT,
            STUDY,
            SPINE,
            series_uid="1.2.3",
            sop_instance_uid="1.2.4",
        )


@pytest.mark.parametrize("kind", ["scan", "vfa"])
def test_dciodvfy_reports_no_errors(tmp_path: Path, kind: str) -> None:
    if kind == "scan":
        path = _write(tmp_path, HIP)
    else:
        path = write_hologic_vfa_image(
            tmp_path / "vfa.dcm",
            SCANNER,
            PATIENT,
            STUDY,
            series_uid="1.2.826.0.1.3680043.8.498.3005",
            sop_instance_uid="1.2.826.0.1.3680043.8.498.2006",
            acquired_at=WHEN,
        )
    run = subprocess.run(
        ["dciodvfy", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    output = run.stdout + run.stderr
    assert "SCImage" in output
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert errors == []


def test_exposure_attributes_as_written_top_level_then_each_dose_sequence_item() -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from dxa_app.ingest.dicom_common import exposure_from, private_creator

    ds = Dataset()
    ds.KVP = "140"
    ds.XRayTubeCurrent = ""  # empty: left out
    ds.EntranceDoseInmGy = "0.146"
    first, second = Dataset(), Dataset()
    first.KVP = "100"
    second.ExposureInuAs = "2500"
    ds.ExposureDoseSequence = Sequence([first, second])
    assert exposure_from(ds) == (
        ("KVP", "140"),
        ("EntranceDoseInmGy", "0.146"),
        ("ExposureDoseSequence[1].KVP", "100"),
        ("ExposureDoseSequence[2].ExposureInuAs", "2500"),
    )
    ds.add_new(0x00210011, "LO", "HOLOGIC")
    ds.add_new(0x00211101, "LT", "<results/>")
    assert private_creator(ds, 0x00211101) == "HOLOGIC"
    assert private_creator(ds, 0x00231001) == "?"
