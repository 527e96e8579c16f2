"""Vendor-shaped DICOM writers (Hologic APEX SC, GE Lunar enCORE SR/CR) for the synthetic demo data.

The files mimic what is publicly known about the vendors' exports (see
``shared/reference/vendor-formats-and-tools.md`` section A). Where the vendor format is
unknown (Hologic's analysis XML schema, GE's SR codes) the shape is our own and documented
in ``docs/dicom-import.md``; :mod:`dxa_app.ingest.dicom_hologic` and
:mod:`dxa_app.ingest.dicom_ge` read these files back exactly.

Name conventions shared with the readers: ``PatientIdentity.name`` is ``"Given Family"``
(last word = family name) and is written as the PN ``"Family^Given"``; BMD/BMC/area/T/Z
floats round-trip exactly (``repr`` in the Hologic analysis text, DS plus an FD
``FloatingPointValue`` when the DS would lose precision in the GE SR).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian
from pydicom.valuerep import format_number_as_ds

from dxa_app.domain import (
    PatientIdentity,
    Region,
    RegionResult,
    ScannerIdentity,
    ScanRecord,
    ScanType,
    Side,
    StudyInfo,
)

__all__ = [
    "CR_IMAGE_STORAGE",
    "ENHANCED_SR_STORAGE",
    "GE_REGION_NAMES",
    "GE_SCAN_LABELS",
    "HOLOGIC_REGION_NAMES",
    "SECONDARY_CAPTURE_STORAGE",
    "write_ge_image",
    "write_ge_sr",
    "write_hologic_scan",
    "write_hologic_vfa_image",
]

SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
ENHANCED_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.22"

CHARSET_UTF8 = "ISO_IR 192"
HOLOGIC_CREATOR = "HOLOGIC"
GE_RAW_CREATOR = "GEMS_LUNAR_RAW"
GE_CODING_SCHEME = "99GEMS"
#: creator put in the slots below the vendor block so that the vendor block is not at xx10
PADDING_CREATOR = "DXA_DEMO_RESERVED"

#: Hologic analysis region names per scan type (the reader maps them back).
HOLOGIC_REGION_NAMES: dict[ScanType, dict[Region, str]] = {
    ScanType.AP_SPINE: {
        Region.L1: "L1",
        Region.L2: "L2",
        Region.L3: "L3",
        Region.L4: "L4",
        Region.L1_L4: "Total",
        Region.L2_L4: "L2-L4",
    },
    ScanType.HIP: {
        Region.FEMORAL_NECK: "Neck",
        Region.TROCHANTER: "Troch",
        Region.INTERTROCHANTER: "Inter",
        Region.TOTAL_HIP: "Total",
        Region.WARDS: "Wards",
    },
    ScanType.FOREARM: {
        Region.RADIUS_33: "R 1/3",
        Region.RADIUS_UD: "R UD",
        Region.RADIUS_TOTAL: "R Total",
    },
    ScanType.WHOLE_BODY: {Region.WHOLE_BODY: "Total"},
}

#: GE Lunar region container names per scan type (the reader maps them back).
GE_REGION_NAMES: dict[ScanType, dict[Region, str]] = {
    ScanType.AP_SPINE: {
        Region.L1: "L1",
        Region.L2: "L2",
        Region.L3: "L3",
        Region.L4: "L4",
        Region.L1_L4: "L1-L4",
        Region.L2_L4: "L2-L4",
    },
    ScanType.HIP: {
        Region.FEMORAL_NECK: "Neck",
        Region.TROCHANTER: "Troch",
        Region.INTERTROCHANTER: "Inter",
        Region.TOTAL_HIP: "Total",
        Region.WARDS: "Wards",
    },
    ScanType.FOREARM: {
        Region.RADIUS_33: "Radius 33%",
        Region.RADIUS_UD: "Radius UD",
        Region.RADIUS_TOTAL: "Radius Total",
    },
    ScanType.WHOLE_BODY: {Region.WHOLE_BODY: "Total"},
}

#: GE Lunar scan container names (scan type, side) -> label.
GE_SCAN_LABELS: dict[tuple[ScanType, Side | None], str] = {
    (ScanType.AP_SPINE, None): "AP Spine",
    (ScanType.HIP, Side.LEFT): "Left Femur",
    (ScanType.HIP, Side.RIGHT): "Right Femur",
    (ScanType.HIP, None): "Femur",
    (ScanType.FOREARM, Side.LEFT): "Left Forearm",
    (ScanType.FOREARM, Side.RIGHT): "Right Forearm",
    (ScanType.FOREARM, None): "Forearm",
    (ScanType.WHOLE_BODY, None): "Total Body",
    (ScanType.VFA, None): "LVA",
    (ScanType.OTHER, None): "Other",
}

_HOLOGIC_BODY_PART: dict[ScanType, str] = {
    ScanType.AP_SPINE: "LSPINE",
    ScanType.HIP: "HIP",
    ScanType.FOREARM: "ARM",
}

#: Invented, plausible dose-area products (dGy·cm²) of Hologic scans by type: APEX writes
#: ImageAndFluoroscopyAreaDoseProduct (the CLSA receiver checks for it).
_HOLOGIC_DAP: dict[ScanType, str] = {
    ScanType.AP_SPINE: "0.12",
    ScanType.HIP: "0.09",
    ScanType.FOREARM: "0.03",
    ScanType.WHOLE_BODY: "0.25",
    ScanType.VFA: "0.2",
}
#: Invented, plausible entrance doses (mGy) of GE Lunar images by protocol word; enCORE
#: writes EntranceDoseInmGy and an ExposureDoseSequence (KVP 100, tube current in µA), as
#: the UK Biobank iDXA files show.
_GE_ENTRANCE_DOSE: tuple[tuple[str, str], ...] = (
    ("spine", "0.146"),
    ("femur", "0.11"),
    ("forearm", "0.04"),
    ("body", "0.012"),
    ("lva", "0.08"),
)

# Header row of the Discovery "ResultsTable" text layout.
_RESULTS_TABLE_HEADER: tuple[str, ...] = (
    "Region",
    "Area[cm<sup><small>2</small></sup>]",
    "BMC[(g)]",
    "BMD[(g/cm<sup><small>2</small></sup>)]",
    "T - Score",
    "Z - Score",
    "Included",
)

_YES = ("373066001", "SCT", "Yes")
_NO = ("373067005", "SCT", "No")


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def _put(ds: Dataset, keyword: str, value: Any) -> None:
    """Set a standard element, validating strictly (a bad value raises ``ValueError``)."""
    tag = tag_for_keyword(keyword)
    if tag is None:  # pragma: no cover - programming error
        raise KeyError(keyword)
    vr = dictionary_VR(tag)
    try:
        ds[tag] = DataElement(tag, vr, value, validation_mode=config.RAISE)
    except ValueError as exc:
        raise ValueError(f"cannot write {keyword}={value!r}: {exc}") from exc


def _put_private(ds: Dataset, group: int, slot: int, offset: int, vr: str, value: Any) -> None:
    """Set the private element ``(group, slot<<8 | offset)``."""
    tag = Tag(group, (slot << 8) | offset)
    ds[tag] = DataElement(tag, vr, value, validation_mode=config.RAISE)


def _reserve_private_block(ds: Dataset, group: int, creator: str, slot: int) -> None:
    """Reserve block ``slot`` (0x10..0xFF) of ``group`` for ``creator``.

    Lower slots that are still free get a padding creator with one element, so the
    vendor block really sits at the requested, possibly non-default, slot.
    """
    if not 0x10 <= slot <= 0xFF:
        raise ValueError(f"private block slot must be 0x10..0xFF, got {slot:#x}")
    for lower in range(0x10, slot):
        if Tag(group, lower) not in ds:
            _put_private(ds, group, 0, lower, "LO", f"{PADDING_CREATOR} {lower - 0x10 + 1}")
            _put_private(ds, group, lower, 0x01, "LO", "reserved")
    _put_private(ds, group, 0, slot, "LO", creator)


def _pn(name: str) -> str:
    """Return the DICOM PN ``Family^Given`` of a ``"Given Family"`` display name."""
    parts = name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[-1]}^{' '.join(parts[:-1])}"


def _da(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value is not None else ""


def _tm(value: dt.datetime) -> str:
    text = value.strftime("%H%M%S")
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _dt(value: dt.datetime) -> str:
    text = value.strftime("%Y%m%d%H%M%S")
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _ds(value: float) -> str:
    """Format a float as a DS (at most 16 characters)."""
    text = repr(float(value))
    if len(text) <= 16 and "e" not in text and "inf" not in text and "nan" not in text:
        return text.removesuffix(".0")
    return format_number_as_ds(float(value))


def _num(value: float | None) -> str:
    """Exact text of an optional float (empty when missing)."""
    return "" if value is None else repr(float(value))


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@cache
def _rgb_pixels(rows: int, columns: int) -> bytes:
    """A small deterministic RGB test pattern (interleaved, PlanarConfiguration 0)."""
    out = bytearray()
    for r in range(rows):
        for c in range(columns):
            out += bytes(((r * 4) % 256, (c * 4) % 256, ((r + c) * 2) % 256))
    return bytes(out)


@cache
def _gray_pixels(rows: int, columns: int, bits: int) -> bytes:
    """A small deterministic grayscale gradient, little endian, 8 or 16 bits."""
    width = bits // 8
    top = (1 << bits) - 1
    out = bytearray()
    for r in range(rows):
        for c in range(columns):
            out += (((r * columns + c) * 37) % (top + 1)).to_bytes(width, "little")
    return bytes(out)


def _new_dataset(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    _put(ds, "SpecificCharacterSet", CHARSET_UTF8)
    _put(ds, "SOPClassUID", sop_class_uid)
    _put(ds, "SOPInstanceUID", sop_instance_uid)
    return ds


def _put_common(
    ds: Dataset,
    *,
    manufacturer: str,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    series_uid: str,
    modality: str,
    when: dt.datetime | None,
    study_time: dt.time | None = None,
) -> None:
    """Patient, study, series and equipment attributes shared by all writers.

    StudyTime is ``study_time`` (the same in every file of a study, as a modality writes
    it), else the time of ``when``.
    """
    _put(ds, "PatientName", _pn(patient.name))
    _put(ds, "PatientID", patient.identifier)
    _put(ds, "PatientBirthDate", _da(patient.birth_date))
    _put(ds, "PatientSex", str(patient.sex) if patient.sex is not None else "")
    if study.height_cm is not None:
        _put(ds, "PatientSize", _ds(round(study.height_cm / 100.0, 6)))
    if study.weight_kg is not None:
        _put(ds, "PatientWeight", _ds(study.weight_kg))
    if study.indication:
        _put(ds, "AdmittingDiagnosesDescription", study.indication)
    _put(ds, "StudyInstanceUID", study.study_uid)
    _put(ds, "StudyDate", _da(study.study_date))
    if study_time is not None:
        _put(ds, "StudyTime", _tm(dt.datetime.combine(study.study_date, study_time)))
    else:
        _put(ds, "StudyTime", _tm(when) if when is not None else "")
    _put(ds, "ReferringPhysicianName", _pn(study.referrer))
    _put(ds, "StudyID", "1")
    _put(ds, "AccessionNumber", study.accession)
    _put(ds, "Modality", modality)
    _put(ds, "SeriesInstanceUID", series_uid)
    _put(ds, "SeriesNumber", 1)
    _put(ds, "InstanceNumber", 1)
    _put(ds, "Manufacturer", manufacturer)
    _put(ds, "ManufacturerModelName", scanner.model)
    _put(ds, "DeviceSerialNumber", scanner.serial)
    _put(ds, "SoftwareVersions", scanner.software_version)
    if scanner.station_name:
        _put(ds, "StationName", scanner.station_name)
    if scanner.institution_name:
        _put(ds, "InstitutionName", scanner.institution_name)


def _put_acquisition(ds: Dataset, when: dt.datetime) -> None:
    _put(ds, "ContentDate", _da(when.date()))
    _put(ds, "ContentTime", _tm(when))
    _put(ds, "AcquisitionDate", _da(when.date()))
    _put(ds, "AcquisitionTime", _tm(when))
    _put(ds, "AcquisitionDateTime", _dt(when))


def _put_pixels(
    ds: Dataset, *, rows: int, columns: int, bits: int, rgb: bool, photometric: str
) -> None:
    _put(ds, "SamplesPerPixel", 3 if rgb else 1)
    _put(ds, "PhotometricInterpretation", photometric)
    if rgb:
        _put(ds, "PlanarConfiguration", 0)
    _put(ds, "Rows", rows)
    _put(ds, "Columns", columns)
    _put(ds, "BitsAllocated", bits)
    _put(ds, "BitsStored", bits)
    _put(ds, "HighBit", bits - 1)
    _put(ds, "PixelRepresentation", 0)
    data = _rgb_pixels(rows, columns) if rgb else _gray_pixels(rows, columns, bits)
    _put(ds, "PixelData", data)


def _save(ds: Dataset, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------------------
# Hologic
# --------------------------------------------------------------------------------------


def _hologic_region_name(scan_type: ScanType, region: Region) -> str:
    return HOLOGIC_REGION_NAMES.get(scan_type, {}).get(region, region.value)


def _hologic_xml(scan: ScanRecord) -> str:
    root = ET.Element(
        "ScanAnalysis",
        {
            "version": "1",
            "scanType": scan.scan_type.value,
            "side": scan.side.value if scan.side is not None else "",
            "scanMode": scan.scan_mode,
            "softwareVersion": scan.software_version,
        },
    )
    for res in scan.results:
        attrs = {
            "name": _hologic_region_name(scan.scan_type, res.region),
            "included": "1" if res.included else "0",
        }
        for key, value in (
            ("area_cm2", res.area_cm2),
            ("bmc_g", res.bmc_g),
            ("bmd_g_cm2", res.bmd_g_cm2),
            ("t_score", res.vendor_t),
            ("z_score", res.vendor_z),
        ):
            if value is not None:
                attrs[key] = repr(float(value))
        ET.SubElement(root, "Region", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _hologic_results_table(scan: ScanRecord, patient: PatientIdentity) -> str:
    lines = [
        f'PatientName = "{patient.name}";',
        f'ScanType = "{scan.scan_type.value}";',
        f'ScanMode = "{scan.scan_mode}";',
        f'SoftwareVersion = "{scan.software_version}";',
    ]
    rows: list[tuple[str, ...]] = [_RESULTS_TABLE_HEADER]
    for res in scan.results:
        rows.append(
            (
                _hologic_region_name(scan.scan_type, res.region),
                _num(res.area_cm2),
                _num(res.bmc_g),
                _num(res.bmd_g_cm2),
                _num(res.vendor_t),
                _num(res.vendor_z),
                "1" if res.included else "0",
            )
        )
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            lines.append(f'ResultsTable[{r:2d}][{c:2d}] = "{cell}";')
    return "\r\n".join(lines) + "\r\n"


def _hologic_common(
    sop_instance_uid: str,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    series_uid: str,
    when: dt.datetime,
    study_time: dt.time | None = None,
) -> Dataset:
    ds = _new_dataset(SECONDARY_CAPTURE_STORAGE, sop_instance_uid)
    _put(ds, "ImageType", ["DERIVED", "SECONDARY"])
    _put_common(
        ds,
        manufacturer="HOLOGIC",
        scanner=scanner,
        patient=patient,
        study=study,
        series_uid=series_uid,
        modality="OT",
        when=when,
        study_time=study_time,
    )
    _put(ds, "ConversionType", "WSD")
    _put(ds, "PatientOrientation", "")
    _put(ds, "PixelSpacing", ["0.5", "0.5"])
    _put_acquisition(ds, when)
    return ds


def _p_file_name(sop_instance_uid: str) -> str:
    return f"P{_hash(sop_instance_uid)[:7].upper()}.P05"


def write_hologic_scan(
    path: Path,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    scan: ScanRecord,
    *,
    series_uid: str,
    sop_instance_uid: str,
    analysis_format: Literal["xml", "text"] = "xml",
    private_creator: str = HOLOGIC_CREATOR,
    private_block_slot: int = 0x11,
    study_time: dt.time | None = None,
) -> Path:
    """Write one Hologic APEX scan as a Secondary Capture file with analysis results.

    Parameters
    ----------
    path : Path
        Target file; parent folders are created.
    scanner : ScannerIdentity
        Model, serial, software version, station and institution of the scanner.
    patient : PatientIdentity
        The patient; ``name`` is ``"Given Family"``.
    study : StudyInfo
        The study (UID, date, accession, referrer, height, weight).
    scan : ScanRecord
        The scan and its region results; ``source_key`` is not written (the reader
        derives ``dicom:<SOP Instance UID>``).
    series_uid : str
        Series Instance UID.
    sop_instance_uid : str
        SOP Instance UID.
    analysis_format : {"xml", "text"}
        ``"xml"``: our documented ``<ScanAnalysis>`` XML; ``"text"``: the Discovery
        ``ResultsTable[r][c] = "...";`` layout.
    private_creator : str
        Spelling of the Hologic private creator (``HOLOGIC``, ``Hologic``, ``HOLOGIC, Inc.``).
    private_block_slot : int
        Private block (0x10..0xFF) of groups 0021 and 0023 used for the Hologic elements;
        the default 0x11 puts a padding creator at xx10 so readers must resolve the block.
    study_time : datetime.time, optional
        StudyTime (the same in every file of the study); default the acquisition time.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If a value does not fit its DICOM VR (e.g. a station name longer than 16 chars).
    """
    ds = _hologic_common(
        sop_instance_uid, scanner, patient, study, series_uid, scan.acquired_at, study_time
    )
    _put(ds, "BodyPartExamined", _HOLOGIC_BODY_PART.get(scan.scan_type, ""))
    if scan.scan_type in (ScanType.HIP, ScanType.FOREARM):
        _put(ds, "Laterality", scan.side.value if scan.side is not None else "")
    _put(ds, "KVP", "140")
    _put(ds, "ImageAndFluoroscopyAreaDoseProduct", _HOLOGIC_DAP.get(scan.scan_type, "0.1"))
    if scan.operator:
        _put(ds, "OperatorsName", _pn(scan.operator))
    _put_pixels(ds, rows=64, columns=64, bits=8, rgb=True, photometric="RGB")

    if analysis_format == "xml":
        analysis = _hologic_xml(scan)
    elif analysis_format == "text":
        analysis = _hologic_results_table(scan, patient)
    else:
        raise ValueError(f"analysis_format must be 'xml' or 'text', got {analysis_format!r}")
    _reserve_private_block(ds, 0x0021, private_creator, private_block_slot)
    _put_private(ds, 0x0021, private_block_slot, 0x01, "LT", analysis)
    _reserve_private_block(ds, 0x0023, private_creator, private_block_slot)
    _put_private(ds, 0x0023, private_block_slot, 0x01, "LO", _p_file_name(sop_instance_uid))
    return _save(ds, path)


def write_hologic_vfa_image(
    path: Path,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    *,
    series_uid: str,
    sop_instance_uid: str,
    acquired_at: dt.datetime,
    study_time: dt.time | None = None,
) -> Path:
    """Write the 16-bit IVA/VFA "measure" image of Hologic APEX (no analysis data).

    Parameters
    ----------
    path : Path
        Target file; parent folders are created.
    scanner : ScannerIdentity
        The scanner.
    patient : PatientIdentity
        The patient.
    study : StudyInfo
        The study.
    series_uid : str
        Series Instance UID.
    sop_instance_uid : str
        SOP Instance UID.
    acquired_at : datetime.datetime
        Acquisition time (naive, scanner local time).
    study_time : datetime.time, optional
        StudyTime (the same in every file of the study); default the acquisition time.

    Returns
    -------
    Path
        ``path``.
    """
    ds = _hologic_common(
        sop_instance_uid, scanner, patient, study, series_uid, acquired_at, study_time
    )
    _put(ds, "BodyPartExamined", "LSPINE")
    _put(ds, "KVP", "140")
    _put(ds, "ImageAndFluoroscopyAreaDoseProduct", _HOLOGIC_DAP[ScanType.VFA])
    _put_pixels(ds, rows=96, columns=48, bits=16, rgb=False, photometric="MONOCHROME2")
    _reserve_private_block(ds, 0x0023, HOLOGIC_CREATOR, 0x10)
    _put_private(ds, 0x0023, 0x10, 0x01, "LO", _p_file_name(sop_instance_uid))
    return _save(ds, path)


# --------------------------------------------------------------------------------------
# GE Lunar
# --------------------------------------------------------------------------------------


def _code_value(meaning: str) -> str:
    value = "".join(ch for ch in meaning.upper() if ch.isalnum())
    return (value or "X")[:16]


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    _put(item, "CodeValue", value)
    _put(item, "CodingSchemeDesignator", scheme)
    _put(item, "CodeMeaning", meaning)
    return item


def _concept(meaning: str) -> DicomSequence:
    return DicomSequence([_code(_code_value(meaning), GE_CODING_SCHEME, meaning)])


def _container(meaning: str, children: list[Dataset]) -> Dataset:
    item = Dataset()
    _put(item, "RelationshipType", "CONTAINS")
    _put(item, "ValueType", "CONTAINER")
    item.ConceptNameCodeSequence = _concept(meaning)
    _put(item, "ContinuityOfContent", "SEPARATE")
    item.ContentSequence = DicomSequence(children)
    return item


def _num_item(meaning: str, value: float, unit: str, unit_meaning: str) -> Dataset:
    measured = Dataset()
    text = _ds(value)
    _put(measured, "NumericValue", text)
    if float(text) != float(value):
        _put(measured, "FloatingPointValue", float(value))
    measured.MeasurementUnitsCodeSequence = DicomSequence([_code(unit, "UCUM", unit_meaning)])
    item = Dataset()
    _put(item, "RelationshipType", "CONTAINS")
    _put(item, "ValueType", "NUM")
    item.ConceptNameCodeSequence = _concept(meaning)
    item.MeasuredValueSequence = DicomSequence([measured])
    return item


def _text_item(meaning: str, value: str) -> Dataset:
    item = Dataset()
    _put(item, "RelationshipType", "CONTAINS")
    _put(item, "ValueType", "TEXT")
    item.ConceptNameCodeSequence = _concept(meaning)
    _put(item, "TextValue", value)
    return item


def _region_item(scan_type: ScanType, res: RegionResult) -> Dataset:
    name = GE_REGION_NAMES.get(scan_type, {}).get(res.region, res.region.value)
    children: list[Dataset] = []
    for meaning, value, unit, unit_meaning in (
        ("BMD", res.bmd_g_cm2, "g/cm2", "gram per square centimeter"),
        ("BMC", res.bmc_g, "g", "gram"),
        ("Area", res.area_cm2, "cm2", "square centimeter"),
        ("T-Score", res.vendor_t, "{T-score}", "T-score"),
        ("Z-Score", res.vendor_z, "{Z-score}", "Z-score"),
    ):
        if value is not None:
            children.append(_num_item(meaning, value, unit, unit_meaning))
    if res.region.is_vertebra or not res.included:
        included = Dataset()
        _put(included, "RelationshipType", "CONTAINS")
        _put(included, "ValueType", "CODE")
        included.ConceptNameCodeSequence = _concept("Included")
        included.ConceptCodeSequence = DicomSequence([_code(*(_YES if res.included else _NO))])
        children.append(included)
    return _container(name, children)


def _scan_item(scan: ScanRecord) -> Dataset:
    side = scan.side if scan.scan_type in (ScanType.HIP, ScanType.FOREARM) else None
    label = GE_SCAN_LABELS.get((scan.scan_type, side), GE_SCAN_LABELS[(ScanType.OTHER, None)])
    when = Dataset()
    _put(when, "RelationshipType", "CONTAINS")
    _put(when, "ValueType", "DATETIME")
    when.ConceptNameCodeSequence = _concept("Acquisition DateTime")
    _put(when, "DateTime", _dt(scan.acquired_at))
    children = [when]
    if scan.scan_mode:
        children.append(_text_item("Scan Mode", scan.scan_mode))
    if scan.operator:
        children.append(_text_item("Operator", scan.operator))
    if scan.software_version:
        children.append(_text_item("Software Version", scan.software_version))
    children.extend(_region_item(scan.scan_type, res) for res in scan.results)
    return _container(label, children)


def _ge_common(
    sop_class_uid: str,
    sop_instance_uid: str,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    series_uid: str,
    modality: str,
    when: dt.datetime | None,
    study_time: dt.time | None = None,
) -> Dataset:
    ds = _new_dataset(sop_class_uid, sop_instance_uid)
    _put_common(
        ds,
        manufacturer="GE Healthcare",
        scanner=scanner,
        patient=patient,
        study=study,
        series_uid=series_uid,
        modality=modality,
        when=when,
        study_time=study_time,
    )
    _put(ds, "StudyDescription", "DXA Exam")
    return ds


def write_ge_sr(
    path: Path,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    scans: Sequence[ScanRecord],
    *,
    series_uid: str,
    sop_instance_uid: str,
    study_time: dt.time | None = None,
) -> Path:
    """Write GE Lunar enCORE results as an Enhanced SR (our shape; real codes unknown).

    The content tree is: root CONTAINER "Lunar DXA Report"; per scan a CONTAINER named
    after the scan (``GE_SCAN_LABELS``) holding a DATETIME "Acquisition DateTime",
    optional TEXT "Scan Mode" / "Operator" / "Software Version", and per region a
    CONTAINER (``GE_REGION_NAMES``) with NUM "BMD" (g/cm2), "BMC" (g), "Area" (cm2),
    "T-Score" ({T-score}), "Z-Score" ({Z-score}) and, for vertebrae or excluded regions,
    a CODE "Included" (SCT Yes/No). Concept names use the private scheme ``99GEMS``.

    Parameters
    ----------
    path : Path
        Target file; parent folders are created.
    scanner : ScannerIdentity
        The scanner.
    patient : PatientIdentity
        The patient; ``name`` is ``"Given Family"``.
    study : StudyInfo
        The study.
    scans : Sequence[ScanRecord]
        The scans, in order; the reader keys them ``dicom:<SOP Instance UID>:<n>``
        (n = 1-based position).
    series_uid : str
        Series Instance UID.
    sop_instance_uid : str
        SOP Instance UID.
    study_time : datetime.time, optional
        StudyTime (the same in every file of the study); default the last scan's time.

    Returns
    -------
    Path
        ``path``.
    """
    last = max((s.acquired_at for s in scans), default=None)
    ds = _ge_common(
        ENHANCED_SR_STORAGE,
        sop_instance_uid,
        scanner,
        patient,
        study,
        series_uid,
        "SR",
        last,
        study_time,
    )
    _put(ds, "SeriesDescription", "DXA Results")
    content_when = last or dt.datetime.combine(study.study_date, dt.time())
    _put(ds, "ContentDate", _da(content_when.date()))
    _put(ds, "ContentTime", _tm(content_when))
    ds.ReferencedPerformedProcedureStepSequence = DicomSequence()
    ds.PerformedProcedureCodeSequence = DicomSequence()
    _put(ds, "CompletionFlag", "COMPLETE")
    _put(ds, "VerificationFlag", "UNVERIFIED")
    _put(ds, "ValueType", "CONTAINER")
    ds.ConceptNameCodeSequence = _concept("Lunar DXA Report")
    _put(ds, "ContinuityOfContent", "SEPARATE")
    ds.ContentSequence = DicomSequence([_scan_item(scan) for scan in scans])
    return _save(ds, path)


def write_ge_image(
    path: Path,
    scanner: ScannerIdentity,
    patient: PatientIdentity,
    study: StudyInfo,
    *,
    protocol_name: str,
    series_uid: str,
    sop_instance_uid: str,
    acquired_at: dt.datetime,
    modality: Literal["CR", "OT"] = "CR",
    private_block_slot: int = 0x11,
    study_time: dt.time | None = None,
) -> Path:
    """Write a GE Lunar image-only file: region only in ProtocolName, raw enCORE blob.

    Parameters
    ----------
    path : Path
        Target file; parent folders are created.
    scanner : ScannerIdentity
        The scanner.
    patient : PatientIdentity
        The patient.
    study : StudyInfo
        The study.
    protocol_name : str
        The enCORE protocol, e.g. ``"AP Spine"``, ``"Left Femur"``, ``"DualFemur"``,
        ``"LVA"``, ``"Total Body"``, ``"Left Forearm"``.
    series_uid : str
        Series Instance UID.
    sop_instance_uid : str
        SOP Instance UID.
    acquired_at : datetime.datetime
        Acquisition time (naive, scanner local time).
    modality : {"CR", "OT"}
        ``"CR"`` writes CR Image Storage, ``"OT"`` Secondary Capture (enCORE lets sites
        configure the modality).
    private_block_slot : int
        Block (0x10..0xFF) of group 7003 used for ``GEMS_LUNAR_RAW``.
    study_time : datetime.time, optional
        StudyTime (the same in every file of the study); default the acquisition time.

    Returns
    -------
    Path
        ``path``.
    """
    if modality == "CR":
        sop_class = CR_IMAGE_STORAGE
    elif modality == "OT":
        sop_class = SECONDARY_CAPTURE_STORAGE
    else:
        raise ValueError(f"modality must be 'CR' or 'OT', got {modality!r}")
    ds = _ge_common(
        sop_class,
        sop_instance_uid,
        scanner,
        patient,
        study,
        series_uid,
        modality,
        acquired_at,
        study_time,
    )
    _put(ds, "ImageType", ["ORIGINAL", "PRIMARY"])
    _put(ds, "SeriesDescription", "DXA Images")
    _put(ds, "ProtocolName", protocol_name)
    _put(ds, "PerformedProcedureStepDescription", protocol_name)
    _put(ds, "BodyPartExamined", "")
    _put(ds, "Laterality", "")
    _put(ds, "PatientOrientation", "")
    if modality == "CR":
        _put(ds, "ViewPosition", "")
    else:
        _put(ds, "ConversionType", "DI")
    _put_acquisition(ds, acquired_at)
    words = protocol_name.lower()
    dose = next((d for word, d in _GE_ENTRANCE_DOSE if word in words), "0.1")
    _put(ds, "EntranceDoseInmGy", dose)
    exposure = Dataset()
    _put(exposure, "KVP", "100")
    _put(exposure, "XRayTubeCurrentInuA", "2500")
    ds.ExposureDoseSequence = DicomSequence([exposure])
    _put_pixels(ds, rows=80, columns=64, bits=8, rgb=False, photometric="MONOCHROME2")
    blob = b"LUNARRAW" + bytes.fromhex(_hash("blob", sop_instance_uid))
    _reserve_private_block(ds, 0x7003, GE_RAW_CREATOR, private_block_slot)
    _put_private(ds, 0x7003, private_block_slot, 0x01, "ST", f"{_hash(sop_instance_uid)[:8]}.dfx")
    _put_private(ds, 0x7003, private_block_slot, 0x02, "OB", blob)
    _put_private(ds, 0x7003, private_block_slot, 0x03, "UL", len(blob))
    return _save(ds, path)
