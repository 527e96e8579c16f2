"""Reader of Hologic APEX DICOM exports (SC images with analysis results in private elements).

What the reader understands and tolerates is described in ``docs/dicom-import.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

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
    dicom_problem,
    find_private,
    image_record,
    interpret,
    is_foreign_instance,
    label_spine_total,
    load_dataset,
    looks_like_results,
    parse_da,
    parse_flag,
    parse_number,
    patient_from,
    person_name,
    private_creator,
    private_elements,
    private_slots,
    refuse_foreign,
    region_of,
    require_value,
    scanner_from,
    sniff_dataset,
    source_identity_from,
    study_from,
    tag_text,
    text_of,
    text_value,
    value_of,
)
from dxa_app.ingest.plausibility import Quantity, measurement_problem

__all__ = ["READER", "READER_NAME", "HologicDicomReader"]

_T = TypeVar("_T")

READER_NAME: Final = "dicom_hologic"

#: ImageRecord note of an image that carries no analysis (stored, so not translated).
NOTE_NO_ANALYSIS: Final = "no analysis data; kept as image"
NOTE_VFA: Final = "IVA/VFA image (16-bit LSPINE); kept as image"
NOTE_ANALYSIS: Final = "analysis data imported as scan {key}"
NOTE_NOT_UNDERSTOOD: Final = "analysis data not understood: {detail}; kept as image"

#: Hologic private elements whose meaning is known: (group, element offset). (0011,xx00) is
#: the questionnaire, (0021,xx01) the analysis, (0023,xx00-05) the encoding scheme and the
#: embedded P and R files (Hologic's native scan and result files, not read).
_KNOWN_HOLOGIC: Final[frozenset[tuple[int, int]]] = frozenset(
    {(0x0011, 0x00), (0x0021, 0x01)} | {(0x0023, n) for n in range(0x00, 0x06)}
)
_TEXT_VRS: Final = frozenset({"LT", "UT", "ST", "LO", "SH", "UC", "OB", "UN"})


# ======================================================================================
# Hologic analysis data
# ======================================================================================

_BODY_PART_SCAN: Final[dict[str, ScanType]] = {
    "LSPINE": ScanType.AP_SPINE,
    "SPINE": ScanType.AP_SPINE,
    "HIP": ScanType.HIP,
    "ARM": ScanType.FOREARM,
    "FOREARM": ScanType.FOREARM,
}

_BODY_PART_KIND: Final[dict[str, str]] = {
    "LSPINE": "ap_spine_image",
    "SPINE": "ap_spine_image",
    "HIP": "hip_image",
    "ARM": "forearm_image",
    "FOREARM": "forearm_image",
}

_SCAN_ALIASES: Final[dict[str, ScanType]] = {
    **{s.value.replace("_", ""): s for s in ScanType},
    "apspine": ScanType.AP_SPINE,
    "spine": ScanType.AP_SPINE,
    "lumbarspine": ScanType.AP_SPINE,
    "lhip": ScanType.HIP,
    "rhip": ScanType.HIP,
    "lefthip": ScanType.HIP,
    "righthip": ScanType.HIP,
    "forearm": ScanType.FOREARM,
    "leftforearm": ScanType.FOREARM,
    "rightforearm": ScanType.FOREARM,
    "wholebody": ScanType.WHOLE_BODY,
    "wbody": ScanType.WHOLE_BODY,
}

#: Hologic region names per scan type (lower case); "Total" depends on the scan type.
_REGIONS_BY_TYPE: Final[dict[ScanType, dict[str, Region]]] = {
    ScanType.AP_SPINE: {"total": Region.L1_L4, "l1-l4": Region.L1_L4, "l2-l4": Region.L2_L4},
    ScanType.HIP: {"total": Region.TOTAL_HIP},
    ScanType.FOREARM: {"total": Region.RADIUS_TOTAL},
    ScanType.WHOLE_BODY: {"total": Region.WHOLE_BODY},
}
_FIELDS: Final = ("area_cm2", "bmc_g", "bmd_g_cm2", "t_score", "z_score")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9%]", "", re.sub(r"<[^>]*>", "", text).lower())


def _field_of(name: str) -> str | None:
    """Map an analysis attribute or column header to a result field."""
    key = _norm(name)
    if key in ("region", "name"):
        return "name"
    if key.startswith("included") or key == "include":
        return "included"
    if key.startswith("area"):
        return "area_cm2"
    if key.startswith("bmc"):
        return "bmc_g"
    if key.startswith("bmd"):
        return "bmd_g_cm2"
    if key in ("tscore", "t", "tscoresd"):
        return "t_score"
    if key in ("zscore", "z", "zscoresd"):
        return "z_score"
    return None


@dataclass
class _Analysis:
    scan_type: ScanType | None
    side: Side | None
    scan_mode: str | None
    software_version: str | None
    rows: list[dict[str, str]]


def _parse_xml(text: str) -> _Analysis:
    root = ET.fromstring(text)
    attrs = {k.lower(): v for k, v in root.attrib.items()}
    rows: list[dict[str, str]] = []
    for elem in root.iter():
        if elem.tag.split("}")[-1].lower() == "region":
            rows.append(dict(elem.attrib))
    side_text = attrs.get("side", "").strip().upper()[:1]
    return _Analysis(
        scan_type=_SCAN_ALIASES.get(_norm(attrs.get("scantype", ""))),
        side=Side(side_text) if side_text in ("L", "R") else None,
        scan_mode=attrs.get("scanmode"),
        software_version=attrs.get("softwareversion"),
        rows=rows,
    )


_LINE = re.compile(r'^\s*(\w+)\s*(?:\[\s*(\d+)\s*\]\s*\[\s*(\d+)\s*\])?\s*=\s*"(.*)"\s*;?\s*$')


def _parse_results_table(text: str) -> _Analysis:
    cells: dict[tuple[int, int], str] = {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        key, row, col, value = match.groups()
        if key == "ResultsTable" and row is not None and col is not None:
            cells[(int(row), int(col))] = value
        elif row is None:
            values[key.lower()] = value
    if not cells:
        raise ValueError("no ResultsTable lines")
    n_rows = max(r for r, _c in cells) + 1
    n_cols = max(c for _r, c in cells) + 1
    header = [cells.get((0, c), "") for c in range(n_cols)]
    rows = []
    for r in range(1, n_rows):
        rows.append({header[c]: cells.get((r, c), "") for c in range(n_cols) if header[c]})
    return _Analysis(
        scan_type=_SCAN_ALIASES.get(_norm(values.get("scantype", ""))),
        side=None,
        scan_mode=values.get("scanmode"),
        software_version=values.get("softwareversion"),
        rows=rows,
    )


#: Result field -> the quantity whose plausible range it must lie in.
_QUANTITIES: Final[dict[str, Quantity]] = {
    "area_cm2": "area_cm2",
    "bmc_g": "bmc_g",
    "bmd_g_cm2": "bmd_g_cm2",
    "t_score": "t_score",
    "z_score": "z_score",
}


def _results(
    path: Path, analysis: _Analysis, scan_type: ScanType, notes: list[ImportNote]
) -> tuple[RegionResult, ...]:
    results: list[RegionResult] = []
    unknown_fields: dict[str, None] = {}
    for number, row in enumerate(analysis.rows, start=1):
        fields: dict[str, str] = {}
        for key, value in row.items():
            field = _field_of(key)
            if field is None:
                unknown_fields[key] = None
            else:
                fields[field] = value
        name = fields.get("name", "").strip()
        if not name:
            continue
        region = region_of(name, scan_type, _REGIONS_BY_TYPE)
        if region is None:
            notes.append(
                ImportNote(_("Region '{name}' not understood; skipped.").format(name=name))
            )
            continue
        numbers: dict[str, float | None] = {}
        for field in _FIELDS:
            raw = fields.get(field, "")
            numbers[field] = parsed = parse_number(raw)
            problem = None if parsed is None else measurement_problem(_QUANTITIES[field], parsed)
            if problem is not None:
                raise dicom_problem(
                    path,
                    _("analysis region '{region}' (row {row}), {field}: {problem}").format(
                        region=name, row=number, field=field, problem=problem
                    ),
                )
            if raw.strip() and parsed is None and raw.strip() not in ("-", "--"):
                notes.append(
                    ImportNote(
                        _("Value '{value}' of {field} in region {region} is not a number.").format(
                            value=raw, field=field, region=name
                        )
                    )
                )
        included = parse_flag(fields.get("included", ""))
        results.append(
            RegionResult(
                region=region,
                bmd_g_cm2=numbers["bmd_g_cm2"],
                bmc_g=numbers["bmc_g"],
                area_cm2=numbers["area_cm2"],
                vendor_t=numbers["t_score"],
                vendor_z=numbers["z_score"],
                included=True if included is None else included,
            )
        )
    if unknown_fields:
        notes.append(
            ImportNote(
                _("Analysis columns not understood (ignored): {names}").format(
                    names=", ".join(unknown_fields)
                ),
                "info",
            )
        )
    return tuple(results)


def _guess_scan_type(analysis: _Analysis) -> ScanType | None:
    names = {_norm(row.get(k, "")) for row in analysis.rows for k in row if _field_of(k) == "name"}
    if names & {"l1", "l2", "l3", "l4"}:
        return ScanType.AP_SPINE
    if names & {"neck", "troch", "inter", "wards"}:
        return ScanType.HIP
    if names & {"r13", "rud", "13", "ud", "rtotal"}:
        return ScanType.FOREARM
    return None


class _NotUnderstood(Exception):
    """The analysis data is there but its layout or content is not understood (the reason)."""


def _start(text: str, n: int = 40) -> str:
    first = " ".join(text.split())
    return first[:n] + ("…" if len(first) > n else "")


def _describe(ds: Dataset, tag: int) -> str:
    """Return ``CREATOR (gggg,eeee)`` of a private element."""
    return f"{private_creator(ds, tag)} {tag_text(tag)}"


def _unknown_private(ds: Dataset, notes: list[ImportNote]) -> list[str]:
    """Return the Hologic private elements that may hold analysis data in an unknown layout.

    A Hologic element other than the known ones whose value is text that may hold results
    (XML, a table, BMD values, or a long text) is a candidate; any other unknown Hologic
    element is named in an info note (acquisition parameters, binary blobs).
    """
    candidates: list[str] = []
    others: list[str] = []
    for found in private_elements(ds):
        if found.creator.strip().lower() not in HOLOGIC_CREATORS:
            continue
        if (found.tag >> 16, found.offset) in _KNOWN_HOLOGIC:
            continue
        text = found.text() if found.vr in _TEXT_VRS else ""
        if text and _printable(text) and looks_like_results(text):
            candidates.append(
                _("{element} {vr}, {n} characters, starts {start!r}").format(
                    element=found.describe(), vr=found.vr, n=len(text), start=_start(text)
                )
            )
        else:
            others.append(f"{found.describe()} {found.vr}")
    if others:
        notes.append(
            ImportNote(
                _("Hologic private elements not read: {elements}").format(
                    elements=", ".join(others)
                ),
                "info",
            )
        )
    return candidates


def _printable(text: str) -> bool:
    shown = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    return shown >= 0.9 * len(text)


def _not_understood(
    ds: Dataset, path: Path, kind: str, detail: str, notes: list[ImportNote]
) -> ImageRecord:
    """Return the image of a file whose analysis data is there but not understood."""
    notes.append(
        ImportNote(
            _(
                "Analysis data not understood: {detail}. The file was imported as an image"
                " without results; enter or import the results another way."
            ).format(detail=detail)
        )
    )
    return image_record(
        ds,
        path,
        kind,
        NOTE_NOT_UNDERSTOOD.format(detail=detail),
        analysis=AnalysisStatus.NOT_UNDERSTOOD,
        analysis_detail=detail,
    )


class HologicDicomReader:
    """The :class:`~dxa_app.ingest.base.Reader` of Hologic APEX DICOM files."""

    name: str = READER_NAME

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True for a DICOM file whose Manufacturer or private creators say Hologic.

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
        ds = sniff_dataset(path, head, (0x0021, 0x0023))
        if ds is None or is_foreign_instance(ds):
            return False  # Hologic also makes mammography systems
        if "HOLOGIC" in text_value(ds, "Manufacturer").upper():
            return True
        return bool(
            private_slots(ds, 0x0021, HOLOGIC_CREATORS)
            or private_slots(ds, 0x0023, HOLOGIC_CREATORS)
        )

    def read(self, path: Path) -> ParsedSource:
        """Parse one Hologic DICOM file.

        Parameters
        ----------
        path : Path
            The file.

        Returns
        -------
        ParsedSource
            One study with its scan (when the file carries analysis data that is understood)
            and the image. Analysis data in a layout the reader does not know (other XML,
            another private element, text) does not fail the file: it is imported as an
            image marked "analysis data not understood", naming the private creator and
            element.

        Raises
        ------
        ImportProblemError
            When the file is damaged, not Hologic, lacks required elements, or a result is
            NaN, infinite or outside its plausible range
            (``resources/ingest/plausible_measurements.json``): the file fails, naming the
            region (row) and field (column).
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
        is_hologic = "HOLOGIC" in text_value(ds, "Manufacturer").upper() or bool(
            private_slots(ds, 0x0021, HOLOGIC_CREATORS)
            or private_slots(ds, 0x0023, HOLOGIC_CREATORS)
        )
        if not is_hologic:
            raise dicom_problem(path, _("the file was not written by a Hologic scanner"))
        sop_uid = require_value(ds, "SOPInstanceUID", path)
        scanner = scanner_from(ds, Manufacturer.HOLOGIC, notes)
        patient = patient_from(ds, path, notes)
        study = study_from(ds, path, notes)
        identity = source_identity_from(ds)
        body_part = text_value(ds, "BodyPartExamined").upper()
        bits = value_of(ds, "BitsAllocated")
        elem = find_private(ds, 0x0021, 0x01, HOLOGIC_CREATORS)
        analysis_text = text_of(elem.value) if elem is not None else ""
        candidates = _unknown_private(ds, notes)

        def record(*images: ImageRecord, scans: tuple[ScanRecord, ...] = ()) -> StudyRecord:
            return StudyRecord(
                scanner, patient, study, scans=scans, images=images, source_identity=identity
            )

        if body_part == "LSPINE" and bits == 16:
            if analysis_text:
                notes.append(ImportNote(_("Analysis data on a 16-bit IVA image ignored."), "info"))
            return record(image_record(ds, path, "vfa", NOTE_VFA, analysis=AnalysisStatus.NONE))
        image_kind = _BODY_PART_KIND.get(body_part, "image") if "PixelData" in ds else "instance"
        if not analysis_text and not candidates:
            return record(
                image_record(ds, path, image_kind, NOTE_NO_ANALYSIS, analysis=AnalysisStatus.NONE)
            )
        if analysis_text:
            assert elem is not None
            where = _describe(ds, elem.tag)
            try:
                scan = self._scan(ds, path, sop_uid, analysis_text, body_part, notes)
            except _NotUnderstood as exc:
                return record(_not_understood(ds, path, image_kind, f"{where}: {exc}", notes))
            if candidates:
                notes.append(
                    ImportNote(
                        _("Further Hologic private data not understood (ignored): {what}").format(
                            what="; ".join(candidates)
                        )
                    )
                )
            image = image_record(
                ds,
                path,
                f"{scan.scan_type.value}_image",
                NOTE_ANALYSIS.format(key=scan.source_key),
                analysis=AnalysisStatus.READ,
                side=scan.side,
            )
            return record(image, scans=(scan,))
        detail = "; ".join(candidates)
        return record(_not_understood(ds, path, image_kind, detail, notes))

    def _scan(
        self,
        ds: Dataset,
        path: Path,
        sop_uid: str,
        text: str,
        body_part: str,
        notes: list[ImportNote],
    ) -> ScanRecord:
        parse: Callable[[str], _Analysis]
        stripped = text.lstrip("\ufeff \r\n\t")
        if stripped.startswith("<"):
            parse = _parse_xml
        elif "ResultsTable" in stripped:
            parse = _parse_results_table
        else:
            raise _NotUnderstood(
                _("a layout not known (it starts {start!r})").format(start=_start(stripped))
            )
        try:
            analysis = parse(stripped)
        except (ET.ParseError, ValueError) as exc:
            raise _NotUnderstood(
                _("it cannot be parsed ({error}; it starts {start!r})").format(
                    error=exc, start=_start(stripped)
                )
            ) from exc

        from_body = _BODY_PART_SCAN.get(body_part)
        scan_type = analysis.scan_type or from_body or _guess_scan_type(analysis)
        if scan_type is None:
            scan_type = ScanType.WHOLE_BODY if not body_part else ScanType.OTHER
            notes.append(
                ImportNote(
                    _("Scan type not stated; taken as {scan_type}.").format(scan_type=scan_type)
                )
            )
        elif from_body is not None and analysis.scan_type not in (None, from_body):
            notes.append(
                ImportNote(
                    _("BodyPartExamined {body} disagrees with the analysis ({scan_type}).").format(
                        body=body_part, scan_type=analysis.scan_type
                    )
                )
            )
        results = _results(path, analysis, scan_type, notes)
        if not results:
            raise _NotUnderstood(
                _("no region in it was understood (it starts {start!r})").format(
                    start=_start(stripped)
                )
            )
        if scan_type is ScanType.AP_SPINE:
            results = label_spine_total(results, _("AP spine"), notes)

        side: Side | None = None
        if scan_type in (ScanType.HIP, ScanType.FOREARM):
            lat = text_value(ds, "Laterality").upper() or text_value(ds, "ImageLaterality").upper()
            side = Side(lat) if lat in ("L", "R") else analysis.side
            if side is None:
                notes.append(ImportNote(_("The side (Laterality) of the scan is not stated.")))
        acquired = acquisition_datetime(ds, notes)
        if acquired is None:  # study_from already proved a study date exists
            acquired = dt.datetime.combine(
                parse_da(text_value(ds, "StudyDate")) or dt.date.min, dt.time()
            )
        return ScanRecord(
            source_key=f"dicom:{sop_uid}",
            scan_type=scan_type,
            acquired_at=acquired,
            side=side,
            scan_mode=analysis.scan_mode or "",
            operator=person_name(value_of(ds, "OperatorsName")),
            software_version=(
                analysis.software_version
                if analysis.software_version is not None
                else text_value(ds, "SoftwareVersions")
            ),
            results=results,
        )


READER: Final[Reader] = HologicDicomReader()
"""The reader instance the import registry uses."""
