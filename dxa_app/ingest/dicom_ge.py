"""Reader of GE Lunar enCORE DICOM exports (Enhanced SR results and CR/SC image-only files).

What the reader understands and tolerates is described in ``docs/dicom-import.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydicom.dataset import Dataset

from dxa_app.domain import (
    AnalysisStatus,
    ImageRecord,
    ImportNote,
    Manufacturer,
    ParsedSource,
    Region,
    RegionResult,
    ScanRecord,
    ScanType,
    Side,
    StudyRecord,
)
from dxa_app.i18n import _
from dxa_app.ingest.base import Reader
from dxa_app.ingest.clean import clean_source
from dxa_app.ingest.dicom_common import (
    HOLOGIC_CREATORS,
    acquisition_datetime,
    content_items,
    dicom_problem,
    find_private,
    image_record,
    interpret,
    is_foreign_instance,
    label_spine_total,
    load_dataset,
    looks_like_results,
    parse_dt,
    parse_flag,
    patient_from,
    private_elements,
    private_slots,
    refuse_foreign,
    region_of,
    require_value,
    scanner_from,
    sniff_dataset,
    source_identity_from,
    study_from,
    text_of,
    value_of,
)
from dxa_app.ingest.plausibility import Quantity, measurement_problem
from dxa_app.ingest.sr_fast import SrItem

__all__ = ["GE_CREATORS", "READER", "READER_NAME", "GeDicomReader"]

READER_NAME: Final = "dicom_ge"

#: Private creator of the embedded enCORE raw file (compared case-insensitively).
GE_CREATORS: Final[frozenset[str]] = frozenset({"gems_lunar_raw"})

_SR_CLASSES: Final = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
    }
)
_GE_MANUFACTURER = re.compile(r"\bGE\b|LUNAR|GENERAL ELECTRIC|GE[ _]?HEALTHCARE|GEMS", re.I)

#: GE region container names per scan type (lower case), looked up before the common names.
_GE_REGIONS: Final[dict[ScanType, dict[str, Region]]] = {
    ScanType.AP_SPINE: {"total": Region.L1_L4},
    ScanType.HIP: {"total": Region.TOTAL_HIP, "neck": Region.FEMORAL_NECK},
    ScanType.FOREARM: {
        "radius 33%": Region.RADIUS_33,
        "33%": Region.RADIUS_33,
        "radius ud": Region.RADIUS_UD,
        "radius ultradistal": Region.RADIUS_UD,
        "radius total": Region.RADIUS_TOTAL,
        "total": Region.RADIUS_TOTAL,
    },
    ScanType.WHOLE_BODY: {"total": Region.WHOLE_BODY},
}

#: A data set or sequence item, or an SR content item read by the fast path.
_Item = Dataset | SrItem

NOTE_SR: Final = "GE Lunar SR; {n} scan(s) imported"
NOTE_SR_NOT_UNDERSTOOD: Final = "GE Lunar SR; content not understood: {detail}"
NOTE_RAW: Final = "GEMS_LUNAR_RAW enCORE file {name!r} stored, not parsed (sha256 {sha})"
NOTE_NO_RAW: Final = "image only; no GEMS_LUNAR_RAW data"
NOTE_NOT_UNDERSTOOD: Final = "private data not understood: {detail}; kept as image"

#: GEMS_LUNAR_RAW elements whose meaning is known (the embedded enCORE file, not read).
_KNOWN_RAW_OFFSETS: Final = frozenset({0x01, 0x02, 0x03, 0x04})
_TEXT_VRS: Final = frozenset({"LT", "UT", "ST", "LO", "SH", "UC", "OB", "UN"})


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _scan_of_label(label: str) -> tuple[ScanType, Side | None] | None:
    """Map a scan container or ProtocolName (``"Left Femur"``, ``"AP Spine"``...) to a scan."""
    key = label.lower()
    side = Side.LEFT if "left" in key else Side.RIGHT if "right" in key else None
    compact = _norm(label)
    if "lva" in compact or "vfa" in compact or "lateral" in key:
        return ScanType.VFA, None
    if "spine" in key:
        return ScanType.AP_SPINE, None
    if "femur" in key or "hip" in key:
        return ScanType.HIP, side
    if "forearm" in key or "radius" in key:
        return ScanType.FOREARM, side
    if "totalbody" in compact or "wholebody" in compact:
        return ScanType.WHOLE_BODY, None
    return None


_IMAGE_KIND: Final[dict[ScanType, str]] = {
    ScanType.AP_SPINE: "ap_spine_image",
    ScanType.HIP: "hip_image",
    ScanType.FOREARM: "forearm_image",
    ScanType.WHOLE_BODY: "whole_body_image",
    ScanType.VFA: "lva",
}


def _meaning(item: _Item) -> str:
    seq = value_of(item, "ConceptNameCodeSequence")
    if not seq:
        return ""
    return text_of(value_of(seq[0], "CodeMeaning")) or text_of(value_of(seq[0], "CodeValue"))


def _unit(measured: _Item) -> str:
    seq = value_of(measured, "MeasurementUnitsCodeSequence")
    return text_of(value_of(seq[0], "CodeValue")) if seq else ""


#: NUM concept (normalised meaning) -> (field, {accepted unit: factor to our unit}).
_NUM_FIELDS: Final[dict[str, tuple[str, dict[str, float]]]] = {
    "bmd": ("bmd", {"g/cm2": 1.0, "g/cm^2": 1.0, "g.cm-2": 1.0, "mg/cm2": 0.001}),
    "bonemineraldensity": ("bmd", {"g/cm2": 1.0, "g/cm^2": 1.0, "mg/cm2": 0.001}),
    "bmc": ("bmc", {"g": 1.0, "mg": 0.001, "kg": 1000.0}),
    "bonemineralcontent": ("bmc", {"g": 1.0, "mg": 0.001, "kg": 1000.0}),
    "area": ("area", {"cm2": 1.0, "cm^2": 1.0, "mm2": 0.01}),
    "tscore": ("t", {"{T-score}": 1.0, "1": 1.0, "{SD}": 1.0, "{score}": 1.0, "": 1.0}),
    "zscore": ("z", {"{Z-score}": 1.0, "1": 1.0, "{SD}": 1.0, "{score}": 1.0, "": 1.0}),
}


@dataclass
class _Walk:
    """The state of one SR walk: the file, and what was not understood (notes)."""

    path: Path
    notes: list[ImportNote] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)

    def unknown(self, where: str, what: str) -> None:
        self.not_understood.append(f"{where}: {what}")
        self.notes.append(
            ImportNote(
                _("Not understood in the SR, ignored: {where}: {what}").format(
                    where=where, what=what
                )
            )
        )


def _num_value(item: _Item) -> tuple[float | None, str]:
    seq = value_of(item, "MeasuredValueSequence")
    if not seq:
        return None, ""
    measured = seq[0]
    fp = value_of(measured, "FloatingPointValue")
    if fp is not None:
        return float(fp), _unit(measured)
    numeric = value_of(measured, "NumericValue")
    return (float(numeric) if numeric is not None and text_of(numeric) else None), _unit(measured)


#: SR measurement -> the quantity whose plausible range it must lie in (after unit conversion).
_QUANTITIES: Final[dict[str, Quantity]] = {
    "bmd": "bmd_g_cm2",
    "bmc": "bmc_g",
    "area": "area_cm2",
    "t": "t_score",
    "z": "z_score",
}


def _check(walk: _Walk, where: str, meaning: str, target: str, value: float | None) -> None:
    """Refuse the file when a measurement is NaN, infinite or implausible."""
    problem = None if value is None else measurement_problem(_QUANTITIES[target], value)
    if problem is not None:
        raise dicom_problem(
            walk.path,
            _("{where}, {measurement}: {problem}").format(
                where=where, measurement=meaning, problem=problem
            ),
        )


def _region_result(
    item: _Item, scan_type: ScanType, where: str, walk: _Walk
) -> RegionResult | None:
    name = _meaning(item)
    region = region_of(name, scan_type, _GE_REGIONS)
    if region is None:
        walk.unknown(where, _("region '{name}'").format(name=name))
        return None
    where = f"{where} / {name}"
    values: dict[str, float | None] = {}
    included: bool | None = None
    for child in value_of(item, "ContentSequence", []):
        value_type = text_of(value_of(child, "ValueType"))
        meaning = _meaning(child)
        key = _norm(meaning)
        if value_type == "NUM" and key in _NUM_FIELDS:
            target, units = _NUM_FIELDS[key]
            value, unit = _num_value(child)
            if unit not in units:
                walk.unknown(
                    where, _("{meaning} in unit '{unit}'").format(meaning=meaning, unit=unit)
                )
            elif target in values:
                walk.unknown(where, _("second {meaning}").format(meaning=meaning))
            else:
                values[target] = None if value is None else value * units[unit]
                _check(walk, where, meaning, target, values[target])
        elif key == "included" and value_type in ("CODE", "TEXT"):
            if value_type == "CODE":
                seq = value_of(child, "ConceptCodeSequence")
                code = seq[0] if seq else Dataset()
                text = text_of(value_of(code, "CodeMeaning")) or text_of(
                    value_of(code, "CodeValue")
                )
            else:
                text = text_of(value_of(child, "TextValue"))
            included = parse_flag(text)
            if included is None:
                walk.unknown(where, _("Included = '{value}'").format(value=text))
        else:
            walk.unknown(where, f"{value_type} '{meaning}'")
    return RegionResult(
        region=region,
        bmd_g_cm2=values.get("bmd"),
        bmc_g=values.get("bmc"),
        area_cm2=values.get("area"),
        vendor_t=values.get("t"),
        vendor_z=values.get("z"),
        included=True if included is None else included,
    )


def _scan(item: _Item, key: str, fallback_when: dt.datetime, walk: _Walk) -> ScanRecord | None:
    label = _meaning(item)
    scan = _scan_of_label(label)
    if scan is None:
        walk.unknown(_("report"), _("scan '{label}'").format(label=label))
        return None
    scan_type, side = scan
    acquired: dt.datetime | None = None
    texts: dict[str, str] = {}
    results: list[RegionResult] = []
    for child in value_of(item, "ContentSequence", []):
        value_type = text_of(value_of(child, "ValueType"))
        meaning = _meaning(child)
        norm = _norm(meaning)
        if value_type == "CONTAINER":
            result = _region_result(child, scan_type, label, walk)
            if result is not None:
                results.append(result)
        elif value_type == "DATETIME" and acquired is None and "datetime" in norm:
            acquired = parse_dt(text_of(value_of(child, "DateTime")))
        elif value_type in ("TEXT", "PNAME") and norm in (
            "scanmode",
            "operator",
            "softwareversion",
        ):
            keyword = "TextValue" if value_type == "TEXT" else "PersonName"
            raw = value_of(child, keyword)
            texts[norm] = text_of(raw)
        else:
            walk.unknown(label, f"{value_type} '{meaning}'")
    if acquired is None:
        acquired = fallback_when
        walk.notes.append(
            ImportNote(
                _("Scan '{label}' has no acquisition time; the report time was used.").format(
                    label=label
                )
            )
        )
    final = tuple(results)
    if scan_type is ScanType.AP_SPINE:
        final = label_spine_total(results, label, walk.notes)
    return ScanRecord(
        source_key=key,
        scan_type=scan_type,
        acquired_at=acquired,
        side=side,
        scan_mode=texts.get("scanmode", ""),
        operator=texts.get("operator", ""),
        software_version=texts.get("softwareversion", ""),
        results=final,
    )


def _is_ge(ds: Dataset) -> bool:
    """GEMS_LUNAR_RAW data, or a GE maker on a DXA-shaped instance (GE also makes CT, MR...)."""
    if private_slots(ds, 0x0021, HOLOGIC_CREATORS):
        return False
    manufacturer = text_of(value_of(ds, "Manufacturer"))
    if manufacturer and "HOLOGIC" in manufacturer.upper():
        return False
    if private_slots(ds, 0x7003, GE_CREATORS):
        return True
    return bool(_GE_MANUFACTURER.search(manufacturer)) and not is_foreign_instance(ds)


class GeDicomReader:
    """The :class:`~dxa_app.ingest.base.Reader` of GE Lunar enCORE DICOM files."""

    name: str = READER_NAME

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True for a DICOM file whose Manufacturer says GE/Lunar or with GEMS_LUNAR_RAW.

        Parameters
        ----------
        path : Path
            The file.
        head : bytes
            Its first bytes.

        Returns
        -------
        bool
            Whether this reader should handle the file.
        """
        ds = sniff_dataset(path, head, (0x0021, 0x7003))
        return ds is not None and _is_ge(ds)

    def read(self, path: Path) -> ParsedSource:
        """Parse one GE Lunar DICOM file (Enhanced SR with results, or an image).

        Parameters
        ----------
        path : Path
            The file.

        Returns
        -------
        ParsedSource
            One study with the scans of the SR (if any) and the instance as an ImageRecord.

        Raises
        ------
        ImportProblemError
            When the file is damaged, not GE, lacks required elements, or a measurement
            of the SR is NaN, infinite or outside its plausible range
            (``resources/ingest/plausible_measurements.json``): the file fails, naming the
            scan, region and measurement.
        """
        path = Path(path)
        notes: list[ImportNote] = []
        ds = load_dataset(path, notes)
        record = interpret(path, notes, lambda: self._study(ds, path, notes))
        return clean_source(
            ParsedSource(path=str(path), reader=self.name, studies=(record,), notes=tuple(notes))
        )

    def _study(self, ds: Dataset, path: Path, notes: list[ImportNote]) -> StudyRecord:
        refuse_foreign(ds, path)
        if not _is_ge(ds):
            raise dicom_problem(path, _("the file was not written by a GE Lunar scanner"))
        sop_uid = require_value(ds, "SOPInstanceUID", path)
        scanner = scanner_from(ds, Manufacturer.GE_LUNAR, notes)
        patient = patient_from(ds, path, notes)
        study = study_from(ds, path, notes)
        identity = source_identity_from(ds)
        candidates = _unknown_private(ds, notes)
        sop_class = text_of(value_of(ds, "SOPClassUID"))
        if sop_class in _SR_CLASSES or text_of(value_of(ds, "Modality")) == "SR":
            walk = _Walk(path, notes)
            fallback = acquisition_datetime(ds, []) or dt.datetime.combine(
                study.study_date, dt.time()
            )
            scans: list[ScanRecord] = []
            for n, item in enumerate(content_items(ds), start=1):
                if text_of(value_of(item, "ValueType")) != "CONTAINER":
                    walk.unknown(
                        _("report"), f"{text_of(value_of(item, 'ValueType'))} '{_meaning(item)}'"
                    )
                    continue
                scan = _scan(item, f"dicom:{sop_uid}:{n}", fallback, walk)
                if scan is not None:
                    scans.append(scan)
            if any(s.results or s.scan_type is ScanType.VFA for s in scans):
                _note_candidates(candidates, notes)
                image = image_record(
                    ds, path, "sr", NOTE_SR.format(n=len(scans)), analysis=AnalysisStatus.READ
                )
            else:
                what = walk.not_understood or [
                    _("no scan container in the SR ({root})").format(root=_meaning(ds) or "-")
                ]
                detail = "; ".join([_("SR content") + ": " + ", ".join(what[:5]), *candidates])
                notes.append(_not_understood_note(detail))
                scans = []  # scans without a single result are not kept as empty scans
                image = image_record(
                    ds,
                    path,
                    "sr",
                    NOTE_SR_NOT_UNDERSTOOD.format(detail=detail),
                    analysis=AnalysisStatus.NOT_UNDERSTOOD,
                    analysis_detail=detail,
                )
            return StudyRecord(
                scanner,
                patient,
                study,
                scans=tuple(scans),
                images=(image,),
                source_identity=identity,
            )
        return StudyRecord(
            scanner,
            patient,
            study,
            images=(self._image(ds, path, notes, candidates),),
            source_identity=identity,
        )

    def _image(
        self, ds: Dataset, path: Path, notes: list[ImportNote], candidates: list[str]
    ) -> ImageRecord:
        protocol = (
            text_of(value_of(ds, "ProtocolName"))
            or text_of(value_of(ds, "PerformedProcedureStepDescription"))
            or text_of(value_of(ds, "SeriesDescription"))
        )
        scan = _scan_of_label(protocol)
        side: Side | None = None
        if scan is None:
            kind = "image"
            notes.append(
                ImportNote(
                    _("Protocol '{protocol}' not recognised; kept as a plain image.").format(
                        protocol=protocol
                    ),
                    "info",
                )
            )
        else:
            kind = _IMAGE_KIND[scan[0]]
            side = scan[1]
        blob = find_private(ds, 0x7003, 0x02, GE_CREATORS)
        if blob is not None and isinstance(blob.value, bytes):
            name_elem = find_private(ds, 0x7003, 0x01, GE_CREATORS)
            name = text_of(name_elem.value) if name_elem is not None else ""
            note = NOTE_RAW.format(name=name, sha=hashlib.sha256(blob.value).hexdigest())
            notes.append(
                ImportNote(
                    _(
                        "GEMS_LUNAR_RAW {tag}: the embedded enCORE file {name!r} ({n} bytes)"
                        " is kept in the stored file, not read (its format is not public)."
                    ).format(tag=_tag(blob.tag), name=name, n=len(blob.value)),
                    "info",
                )
            )
        else:
            note = NOTE_NO_RAW
        if candidates:
            detail = "; ".join(candidates)
            notes.append(_not_understood_note(detail))
            return image_record(
                ds,
                path,
                kind,
                NOTE_NOT_UNDERSTOOD.format(detail=detail),
                analysis=AnalysisStatus.NOT_UNDERSTOOD,
                analysis_detail=detail,
                side=side,
            )
        return image_record(ds, path, kind, note, analysis=AnalysisStatus.NONE, side=side)


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _is_ge_creator(creator: str) -> bool:
    c = creator.strip().lower()
    return c.startswith(("gems", "ge ", "ge_", "gehc")) or "lunar" in c


def _unknown_private(ds: Dataset, notes: list[ImportNote]) -> list[str]:
    """Return the GE private elements that may hold results in a layout not known.

    A GE element other than the embedded enCORE file whose value is text that may hold
    results (XML, a table, BMD values, a long text) is a candidate; any other unknown GE
    element is named in an info note.
    """
    candidates: list[str] = []
    others: list[str] = []
    for found in private_elements(ds):
        if not _is_ge_creator(found.creator):
            continue
        known = found.creator.strip().lower() in GE_CREATORS and found.tag >> 16 == 0x7003
        if known and found.offset in _KNOWN_RAW_OFFSETS:
            continue
        text = found.text() if found.vr in _TEXT_VRS else ""
        printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
        if text and printable >= 0.9 * len(text) and looks_like_results(text):
            start = " ".join(text.split())[:40]
            candidates.append(
                _("{element} {vr}, {n} characters, starts {start!r}").format(
                    element=found.describe(), vr=found.vr, n=len(text), start=start
                )
            )
        else:
            others.append(f"{found.describe()} {found.vr}")
    if others:
        notes.append(
            ImportNote(
                _("GE private elements not read: {elements}").format(elements=", ".join(others)),
                "info",
            )
        )
    return candidates


def _note_candidates(candidates: list[str], notes: list[ImportNote]) -> None:
    if candidates:
        notes.append(
            ImportNote(
                _("Further GE private data not understood (ignored): {what}").format(
                    what="; ".join(candidates)
                )
            )
        )


def _not_understood_note(detail: str) -> ImportNote:
    return ImportNote(
        _(
            "Analysis data not understood: {detail}. The file was imported as an image"
            " without results; enter or import the results another way."
        ).format(detail=detail)
    )


READER: Final[Reader] = GeDicomReader()
"""The reader instance the import registry uses."""
