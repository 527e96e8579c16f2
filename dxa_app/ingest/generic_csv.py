"""Reader of the documented, versioned generic CSV format (docs/generic-csv.md)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dxa_app.cpr import normalise_cpr
from dxa_app.csv_spec import (
    COLUMNS,
    FORMAT_VERSION,
    KIND_PATIENT_RESULTS,
    KIND_PHANTOM_CERTIFICATES,
    KIND_PHANTOM_SCANS,
    KIND_VFA_READINGS,
    KINDS,
    MAGIC,
    PATIENT_RESULTS_COLUMNS,
    PHANTOM_CERTIFICATES_COLUMNS,
    PHANTOM_SCANS_COLUMNS,
    REQUIRED_COLUMNS,
    RISK_FACTOR_COLUMNS,
    VFA_READINGS_COLUMNS,
)
from dxa_app.domain import (
    CertifiedValue,
    IdType,
    ImportNote,
    Manufacturer,
    Morphology,
    ParsedSource,
    PatientIdentity,
    PhantomCertificate,
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
    SourceIdentity,
    StudyInfo,
    StudyRecord,
    VfaFinding,
    VfaLevel,
    VfaReadingRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.base import FileReader, Reader
from dxa_app.ingest.cells import (
    BOM,
    CellParser,
    CellRules,
    CsvReader,
    DateFormats,
    Row,
    decode_lines,
    vocabulary,
)
from dxa_app.ingest.files import binary_lines, check_size, open_regular
from reports.risk import AnswerError, parse_answer

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "MAGIC",
    "PATIENT_RESULTS_COLUMNS",
    "PHANTOM_CERTIFICATES_COLUMNS",
    "PHANTOM_SCANS_COLUMNS",
    "READER",
    "READER_NAME",
    "REQUIRED_COLUMNS",
    "VFA_READINGS_COLUMNS",
    "GenericCsvReader",
    "certificate_source_key",
    "derived_study_uid",
    "phantom_scan_source_key",
    "read",
    "scan_source_key",
    "vfa_source_key",
]

READER_NAME: Final = "generic_csv"

_MAGIC_RE: Final = re.compile(r"^#\s*dxa-generic-csv\s+v(\d+)\s+([A-Za-z_]+)")
_STUDY_UID_NAMESPACE: Final = uuid.UUID("6b0f3c1e-8f1d-5a57-9a43-2f7c3c0b6d11")

# ---------------------------------------------------------------------------
# source keys


def derived_study_uid(site: str, serial: str, patient_id: str, study_date: dt.date) -> str:
    """Return the stable study UID used when a row leaves ``study_uid`` empty.

    Parameters
    ----------
    site : str
        The ``site`` column.
    serial : str
        The scanner serial number.
    patient_id : str
        The patient identifier as it appears in the file (after CPR normalisation).
    study_date : datetime.date
        The study date.

    Returns
    -------
    str
        A valid DICOM UID of the ``2.25.<uuid>`` form; the same inputs always give the
        same UID, and the patient identifier cannot be read back from it.
    """
    name = "|".join((site, serial, patient_id, study_date.isoformat()))
    return f"2.25.{uuid.uuid5(_STUDY_UID_NAMESPACE, name).int}"


def scan_source_key(
    study_uid: str, scan_type: ScanType, side: Side | None, acquired_at: dt.datetime
) -> str:
    """Return the ``ScanRecord.source_key`` of a scan read from a ``patient_results`` file.

    Parameters
    ----------
    study_uid : str
        The study UID (given or derived).
    scan_type : ScanType
        The kind of acquisition.
    side : Side or None
        Laterality, or None.
    acquired_at : datetime.datetime
        Acquisition time.

    Returns
    -------
    str
        ``csv:patient_results:<study_uid>:<scan_type>:<side>:<acquired_at ISO>``.
    """
    side_text = str(side) if side is not None else ""
    return (
        f"csv:{KIND_PATIENT_RESULTS}:{study_uid}:{scan_type}:{side_text}:{acquired_at.isoformat()}"
    )


def phantom_scan_source_key(
    scanner_serial: str, phantom: PhantomIdentity, acquired_at: dt.datetime, scan_no: int
) -> str:
    """Return the ``PhantomScanRecord.source_key`` of a scan read from a ``phantom_scans`` file.

    Parameters
    ----------
    scanner_serial : str
        Serial number of the scanner.
    phantom : PhantomIdentity
        The phantom (kind and serial are used).
    acquired_at : datetime.datetime
        Acquisition time.
    scan_no : int
        Number of the scan among scans of the same phantom at the same time (1, 2, ...).

    Returns
    -------
    str
        ``csv:phantom_scans:<serial>:<phantom kind>:<phantom serial>:<acquired_at>:<scan_no>``.
    """
    return (
        f"csv:{KIND_PHANTOM_SCANS}:{scanner_serial}:{phantom.kind}:{phantom.serial}:"
        f"{acquired_at.isoformat()}:{scan_no}"
    )


def certificate_source_key(phantom: PhantomIdentity, certificate_ref: str) -> str:
    """Return the ``PhantomCertificate.source_key`` of a certificate read from a CSV file.

    Parameters
    ----------
    phantom : PhantomIdentity
        The phantom (kind and serial are used).
    certificate_ref : str
        The certificate reference.

    Returns
    -------
    str
        ``csv:phantom_certificates:<phantom kind>:<phantom serial>:<certificate_ref>``.
    """
    return f"csv:{KIND_PHANTOM_CERTIFICATES}:{phantom.kind}:{phantom.serial}:{certificate_ref}"


def vfa_source_key(study_uid: str, reader: str, read_at: dt.datetime) -> str:
    """Return the ``VfaReadingRecord.source_key`` of a reading read from a CSV file.

    Parameters
    ----------
    study_uid : str
        UID of the study that was read.
    reader : str
        Who read it.
    read_at : datetime.datetime
        When it was read.

    Returns
    -------
    str
        ``csv:vfa_readings:<study_uid>:<reader>:<read_at ISO>``.
    """
    return f"csv:{KIND_VFA_READINGS}:{study_uid}:{reader}:{read_at.isoformat()}"


# ---------------------------------------------------------------------------
# value vocabularies (lower-case, spaces and hyphens folded to "_")


_MANUFACTURERS = vocabulary(
    Manufacturer,
    {
        "hologic inc": Manufacturer.HOLOGIC,
        "hologic, inc.": Manufacturer.HOLOGIC,
        "ge": Manufacturer.GE_LUNAR,
        "lunar": Manufacturer.GE_LUNAR,
        "ge healthcare": Manufacturer.GE_LUNAR,
        "ge medical systems": Manufacturer.GE_LUNAR,
        "ge healthcare lunar": Manufacturer.GE_LUNAR,
        "ge lunar corp": Manufacturer.GE_LUNAR,
        "lunar corporation": Manufacturer.GE_LUNAR,
        "general electric": Manufacturer.GE_LUNAR,
        "norland medical systems": Manufacturer.NORLAND,
        "norland corporation": Manufacturer.NORLAND,
        "norland corp": Manufacturer.NORLAND,
        "norland swissray": Manufacturer.NORLAND,
    },
)
_SEXES = vocabulary(
    Sex,
    {
        "female": Sex.FEMALE,
        "k": Sex.FEMALE,
        "kvinde": Sex.FEMALE,
        "male": Sex.MALE,
        "mand": Sex.MALE,
        "other": Sex.OTHER,
        "andet": Sex.OTHER,
    },
)
_ID_TYPES = vocabulary(IdType, {"cpr_nr": IdType.CPR, "cprnr": IdType.CPR})
_SCAN_TYPES = vocabulary(
    ScanType,
    {
        "spine": ScanType.AP_SPINE,
        "lumbar_spine": ScanType.AP_SPINE,
        "femur": ScanType.HIP,
        "total_body": ScanType.WHOLE_BODY,
    },
)
_SIDES = vocabulary(
    Side,
    {
        "left": Side.LEFT,
        "right": Side.RIGHT,
        "v": Side.LEFT,
        "venstre": Side.LEFT,
        "h": Side.RIGHT,
        "højre": Side.RIGHT,
    },
)
_REGIONS = vocabulary(
    Region,
    {
        "l1l4": Region.L1_L4,
        "l2l4": Region.L2_L4,
        "neck": Region.FEMORAL_NECK,
        "hip_total": Region.TOTAL_HIP,
        "total_femur": Region.TOTAL_HIP,
        "troch": Region.TROCHANTER,
        "inter": Region.INTERTROCHANTER,
        "ward": Region.WARDS,
        "wards_triangle": Region.WARDS,
        "ward's_triangle": Region.WARDS,
        "radius_1_3": Region.RADIUS_33,
        "radius_33%": Region.RADIUS_33,
        "total_body": Region.WHOLE_BODY,
    },
)
_PHANTOM_KINDS = vocabulary(
    PhantomKind,
    {
        "european spine phantom": PhantomKind.ESP,
        "hologic": PhantomKind.HOLOGIC_SPINE,
        "hologic spine phantom": PhantomKind.HOLOGIC_SPINE,
        "lunar": PhantomKind.LUNAR_ALUMINIUM,
        "lunar aluminum spine": PhantomKind.LUNAR_ALUMINIUM,
        "lunar aluminium": PhantomKind.LUNAR_ALUMINIUM,
        "lunar aluminum": PhantomKind.LUNAR_ALUMINIUM,
        "lunar spine phantom": PhantomKind.LUNAR_ALUMINIUM,
    },
)
_PURPOSES = vocabulary(
    PhantomPurpose,
    {
        "qc": PhantomPurpose.DAILY_QC,
        "daily": PhantomPurpose.DAILY_QC,
        "traveling": PhantomPurpose.TRAVELLING,
        "travelling_phantom": PhantomPurpose.TRAVELLING,
        "traveling_phantom": PhantomPurpose.TRAVELLING,
    },
)
_PHANTOM_REGIONS = vocabulary(PhantomRegion, {})
_VFA_LEVELS = vocabulary(VfaLevel, {})
_MORPHOLOGIES = vocabulary(Morphology, {})


# ---------------------------------------------------------------------------
# how cells are written: ISO dates (ASCII digits), yes/no in English or Danish


_RULES: Final = CellRules(
    true_words=frozenset({"1", "true", "yes", "y", "ja", "j"}),
    false_words=frozenset({"0", "false", "no", "n", "nej"}),
)
"""The decimal comma is switched on per file: allowed in files separated by ';'."""
_DATE: Final = DateFormats(
    (re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"),),
    lambda: _("'{value}' is not a date (YYYY-MM-DD)"),
)
_DATETIME: Final = DateFormats(
    (
        re.compile(
            r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[T ]"
            r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
            r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?"
        ),
    ),
    lambda: _("'{value}' is not a date and time (YYYY-MM-DDTHH:MM)"),
)


# ---------------------------------------------------------------------------
# reading the file: magic line, dialect, header, rows


def _parse_magic(path: Path, first_line: str) -> str:
    """Return the kind named on the first line, after checking the version."""
    line = first_line.strip().rstrip(",;\t ").strip('"')
    match = _MAGIC_RE.match(line)
    if match is None:
        raise ImportProblemError(
            _("{file} is not a generic CSV file: the first line must start with '{magic}'.").format(
                file=path.name, magic=MAGIC
            ),
            _("See the generic CSV format reference."),
        )
    version, kind = int(match.group(1)), match.group(2)
    if version > FORMAT_VERSION:
        raise ImportProblemError(
            _(
                "{file} was written by a newer version of the generic CSV format (v{version});"
                " this program reads v{supported}."
            ).format(file=path.name, version=version, supported=FORMAT_VERSION),
            _("Update the program, or ask the sender for a v{supported} file.").format(
                supported=FORMAT_VERSION
            ),
        )
    if version < 1:
        raise ImportProblemError(
            _("{file}: unknown generic CSV format version v{version}.").format(
                file=path.name, version=version
            )
        )
    if kind not in KINDS:
        raise ImportProblemError(
            _("{file}: unknown kind '{kind}' on the first line; expected one of: {kinds}.").format(
                file=path.name, kind=kind, kinds=", ".join(KINDS)
            )
        )
    return kind


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _normalise_column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().strip(BOM).lower())


@dataclass(slots=True)
class _File:
    """An open file: its kind, rows (read lazily, once), number style and notes."""

    kind: str
    rows: Iterator[Row]
    decimal_comma: bool
    notes: list[ImportNote]


def _no_header(path: Path) -> ImportProblemError:
    return ImportProblemError(
        _("{file} has no header row.").format(file=path.name),
        _("The second line must name the columns; see the generic CSV format reference."),
    )


def _check_header(path: Path, kind: str, header: Sequence[str], notes: list[ImportNote]) -> None:
    """Refuse a header without a required column; note the unknown columns."""
    for column in sorted(REQUIRED_COLUMNS[kind]):
        if column not in header:
            raise ImportProblemError(
                _("{file}: required column '{column}' is missing.").format(
                    file=path.name, column=column
                ),
                _("Add the column to the header row; see the generic CSV format reference."),
            )
    known = frozenset(COLUMNS[kind])
    unknown = [name for name in header if name and name not in known]
    if unknown:
        notes.append(
            ImportNote(
                _("{file}: unknown columns were ignored: {columns}.").format(
                    file=path.name, columns=", ".join(unknown)
                )
            )
        )


@contextlib.contextmanager
def _open_table(path: Path) -> Iterator[_File]:
    """Open the file and read up to the header; the rows are then read line by line."""
    notes: list[ImportNote] = []
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise ImportProblemError(
            _("{file} could not be read: {error}").format(file=path.name, error=exc.strerror)
        ) from exc
    with fh:
        check_size(os.fstat(fh.fileno()).st_size, "generic_csv", path.name)
        chunks = binary_lines(fh, path.name, fmt="generic_csv")
        lines = decode_lines(path.name, chunks, notes)
        first = next(lines, None)
        if first is None:
            raise ImportProblemError(
                _("{file} is empty.").format(file=path.name),
                _("See the generic CSV format reference."),
            )
        kind = _parse_magic(path, first)
        header_line = 2
        for text in lines:
            if text.strip() and not text.lstrip().startswith("#"):
                break
            header_line += 1
        else:
            raise _no_header(path)
        delimiter = _delimiter(text)
        reader = CsvReader(
            itertools.chain([text], lines),
            path.name,
            delimiter=delimiter,
            first_line=header_line,
            notes=notes,
        )
        header = reader.header(_normalise_column)
        if header is None:
            raise _no_header(path)
        _check_header(path, kind, header, notes)
        rows = reader.iter_rows(
            header,
            keep=frozenset(COLUMNS[kind]),
            width_remedy=_("Check separators and quotes in that line.")
            if delimiter == ";"
            else _("Check separators and quotes in that line; decimals need a point."),
        )
        yield _File(kind, rows, delimiter == ";", notes)


# ---------------------------------------------------------------------------
# the four kinds


def _scanner(p: CellParser, row: Row) -> ScannerIdentity:
    return ScannerIdentity(
        manufacturer=p.required_choice(row, "manufacturer", _MANUFACTURERS),
        model=p.text(row, "model", required=True),
        serial=p.text(row, "serial", required=True),
        software_version=p.text(row, "software_version"),
        station_name=p.text(row, "station_name"),
        institution_name=p.text(row, "site", required=True),
    )


def _patient(p: CellParser, row: Row) -> PatientIdentity:
    identifier = p.text(row, "patient_id", required=True)
    id_type = p.choice(row, "id_type", _ID_TYPES)
    cpr = normalise_cpr(identifier)
    looks_like_cpr = cpr is not None
    if id_type is None:
        id_type = IdType.CPR if looks_like_cpr else IdType.OTHER
    elif id_type is IdType.CPR and not looks_like_cpr:
        raise p.fail(
            row,
            "patient_id",
            _(
                "'{value}' is not a CPR number (10 digits; spreadsheets may drop a leading 0)"
            ).format(value=identifier),
        )
    if id_type is IdType.CPR and cpr is not None:
        identifier = cpr  # the one canonical form: DDMMYY-SSSS
    return PatientIdentity(
        identifier=identifier,
        id_type=id_type,
        name=p.text(row, "patient_name"),
        birth_date=p.date(row, "birth_date", _DATE),
        sex=p.choice(row, "sex", _SEXES),
        # a patient_id that is not a CPR number is only valid at its site (issue 13)
        scope="" if id_type is IdType.CPR else f"csv:{p.text(row, 'site')}",
    )


def _source_identity(p: CellParser, row: Row, study_uid: str) -> SourceIdentity:
    """The identity cells as the file gave them (a CPR number keeps its own form)."""
    return SourceIdentity(
        source="csv",
        patient_id=p.text(row, "patient_id"),
        study_uid=study_uid,
        patient_name=p.text(row, "patient_name"),
        birth_date=p.text(row, "birth_date"),
        sex=p.text(row, "sex"),
        accession=p.text(row, "accession"),
        study_date=p.text(row, "study_date"),
        referring_physician=p.text(row, "referrer"),
    )


def _study_info(p: CellParser, row: Row, study_uid: str, study_date: dt.date) -> StudyInfo:
    return StudyInfo(
        study_uid=study_uid,
        study_date=study_date,
        accession=p.text(row, "accession"),
        referrer=p.text(row, "referrer"),
        indication=p.text(row, "indication"),
        height_cm=p.number(row, "height_cm"),
        weight_kg=p.number(row, "weight_kg"),
        menopausal=p.flag(row, "menopausal", None),
    )


@dataclass(slots=True)
class _ScanAcc:
    scan: ScanRecord
    results: list[RegionResult] = field(default_factory=list)


@dataclass(slots=True)
class _StudyAcc:
    record: StudyRecord
    line: int
    scans: dict[str, _ScanAcc] = field(default_factory=dict)
    risk: dict[str, str | float | int | bool] = field(default_factory=dict)


def _expected(kind: str) -> str:
    return {
        "yes/no": _("1 or 0"),
        "number": _("a number"),
        "whole number": _("a whole number"),
        "date": _("a date YYYY-MM-DD"),
        "site": _("hip, vertebra, wrist, humerus, pelvis or other"),
        "range": _("within the plausible range"),
    }.get(kind, kind)


def _risk_cells(p: CellParser, row: Row, study: _StudyAcc, notes: list[ImportNote]) -> None:
    """Read the optional questionnaire cells of a row; an odd cell is a note, never a refusal."""
    for column in RISK_FACTOR_COLUMNS:
        text = p.text(row, column)
        if not text or column in study.risk:
            continue
        try:
            value = parse_answer(column, text)
        except AnswerError as exc:
            notes.append(
                ImportNote(
                    _(
                        "{file}, line {line}, column '{column}': '{value}' is not {expected};"
                        " the answer was left out."
                    ).format(
                        file=p.label,
                        line=row.line,
                        column=column,
                        value=text,
                        expected=_expected(exc.kind),
                    )
                )
            )
            continue
        if value is not None:
            study.risk[column] = value.isoformat() if isinstance(value, dt.date) else value


def _read_patient_results(
    p: CellParser, rows: Iterable[Row], notes: list[ImportNote]
) -> tuple[StudyRecord, ...]:
    studies: dict[str, _StudyAcc] = {}
    for row in rows:
        scanner = _scanner(p, row)
        patient = _patient(p, row)
        study_date = p.date(row, "study_date", _DATE, required=True)
        assert study_date is not None
        study_uid = p.text(row, "study_uid") or derived_study_uid(
            scanner.institution_name, scanner.serial, patient.identifier, study_date
        )
        study = studies.get(study_uid)
        if study is None:
            info = _study_info(p, row, study_uid, study_date)
            identity = _source_identity(p, row, study_uid)
            study = _StudyAcc(
                StudyRecord(scanner, patient, info, source_identity=identity), row.line
            )
            studies[study_uid] = study
        else:
            first = study.record
            for column, this, that in (
                ("patient_id", patient.identifier, first.patient.identifier),
                ("serial", scanner.serial, first.scanner.serial),
                ("study_date", study_date.isoformat(), first.study.study_date.isoformat()),
            ):
                if this != that:
                    raise p.fail(
                        row,
                        column,
                        _("'{value}' differs from line {first} of the same study ({uid})").format(
                            value=this, first=study.line, uid=study_uid
                        ),
                    )
        _risk_cells(p, row, study, notes)
        scan_type = p.required_choice(row, "scan_type", _SCAN_TYPES)
        side = p.choice(row, "side", _SIDES)
        acquired_at = p.datetime(row, "acquired_at", _DATETIME)
        key = scan_source_key(study_uid, scan_type, side, acquired_at)
        scan = study.scans.get(key)
        if scan is None:
            scan = _ScanAcc(
                ScanRecord(
                    source_key=key,
                    scan_type=scan_type,
                    acquired_at=acquired_at,
                    side=side,
                    scan_mode=p.text(row, "scan_mode"),
                    operator=p.text(row, "operator"),
                    software_version=scanner.software_version,
                )
            )
            study.scans[key] = scan
        region = p.required_choice(row, "region", _REGIONS)
        if any(r.region is region for r in scan.results):
            raise p.fail(
                row,
                "region",
                _("region {region} appears twice in the same scan").format(region=region),
            )
        scan.results.append(
            RegionResult(
                region=region,
                bmd_g_cm2=p.measurement(row, "bmd_g_cm2", "bmd_g_cm2"),
                bmc_g=p.measurement(row, "bmc_g", "bmc_g"),
                area_cm2=p.measurement(row, "area_cm2", "area_cm2"),
                vendor_t=p.measurement(row, "vendor_t", "t_score"),
                vendor_z=p.measurement(row, "vendor_z", "z_score"),
                included=bool(p.flag(row, "included", True)),
            )
        )
    return tuple(
        StudyRecord(
            scanner=acc.record.scanner,
            patient=acc.record.patient,
            study=acc.record.study,
            scans=tuple(
                ScanRecord(
                    source_key=s.scan.source_key,
                    scan_type=s.scan.scan_type,
                    acquired_at=s.scan.acquired_at,
                    side=s.scan.side,
                    scan_mode=s.scan.scan_mode,
                    operator=s.scan.operator,
                    software_version=s.scan.software_version,
                    results=tuple(s.results),
                )
                for s in acc.scans.values()
            ),
            source_identity=acc.record.source_identity,
            risk_factors=tuple((c, acc.risk[c]) for c in RISK_FACTOR_COLUMNS if c in acc.risk),
        )
        for acc in studies.values()
    )


def _phantom(p: CellParser, row: Row) -> PhantomIdentity:
    return PhantomIdentity(
        kind=p.required_choice(row, "phantom_kind", _PHANTOM_KINDS),
        serial=p.text(row, "phantom_serial", required=True),
        description=p.text(row, "phantom_description"),
    )


@dataclass(slots=True)
class _PhantomScanAcc:
    record: PhantomScanRecord
    results: list[PhantomResult] = field(default_factory=list)


def _read_phantom_scans(p: CellParser, rows: Iterable[Row]) -> tuple[PhantomScanRecord, ...]:
    scans: dict[str, _PhantomScanAcc] = {}
    for row in rows:
        scanner = _scanner(p, row)
        phantom = _phantom(p, row)
        acquired_at = p.datetime(row, "acquired_at", _DATETIME)
        scan_no = p.integer(row, "scan_no")
        if scan_no is None:
            scan_no = 1
        elif scan_no < 1:
            raise p.fail(row, "scan_no", _("'{value}' must be 1 or more").format(value=scan_no))
        key = phantom_scan_source_key(scanner.serial, phantom, acquired_at, scan_no)
        acc = scans.get(key)
        if acc is None:
            acc = _PhantomScanAcc(
                PhantomScanRecord(
                    source_key=key,
                    phantom=phantom,
                    scanner=scanner,
                    acquired_at=acquired_at,
                    purpose=p.required_choice(row, "purpose", _PURPOSES),
                    results=(),
                    round_name=p.text(row, "round"),
                    operator=p.text(row, "operator"),
                    repositioned=bool(p.flag(row, "repositioned", True)),
                )
            )
            scans[key] = acc
        region = p.required_choice(row, "region", _PHANTOM_REGIONS)
        if any(r.region is region for r in acc.results):
            raise p.fail(
                row,
                "region",
                _("region {region} appears twice in the same scan").format(region=region),
            )
        bmd = p.measurement(row, "bmd_g_cm2", "bmd_g_cm2", required=True)
        assert bmd is not None
        acc.results.append(
            PhantomResult(
                region=region,
                bmd_g_cm2=bmd,
                bmc_g=p.measurement(row, "bmc_g", "bmc_g"),
                area_cm2=p.measurement(row, "area_cm2", "area_cm2"),
            )
        )
    return tuple(
        PhantomScanRecord(
            source_key=a.record.source_key,
            phantom=a.record.phantom,
            scanner=a.record.scanner,
            acquired_at=a.record.acquired_at,
            purpose=a.record.purpose,
            results=tuple(a.results),
            round_name=a.record.round_name,
            operator=a.record.operator,
            repositioned=a.record.repositioned,
        )
        for a in scans.values()
    )


def _read_certificates(p: CellParser, rows: Iterable[Row]) -> tuple[PhantomCertificate, ...]:
    groups: dict[str, tuple[PhantomIdentity, str, list[CertifiedValue]]] = {}
    for row in rows:
        phantom = _phantom(p, row)
        ref = p.text(row, "certificate_ref", required=True)
        key = certificate_source_key(phantom, ref)
        group = groups.setdefault(key, (phantom, ref, []))
        region = p.required_choice(row, "region", _PHANTOM_REGIONS)
        if any(v.region is region for v in group[2]):
            raise p.fail(
                row,
                "region",
                _("region {region} appears twice in the same certificate").format(region=region),
            )
        bmd = p.measurement(row, "bmd_g_cm2", "bmd_g_cm2", required=True)
        assert bmd is not None
        uncertainty = p.measurement(row, "uncertainty_g_cm2", "uncertainty_g_cm2")
        group[2].append(CertifiedValue(region, bmd, uncertainty))
    return tuple(
        PhantomCertificate(phantom=ph, certificate_ref=ref, values=tuple(vals), source_key=key)
        for key, (ph, ref, vals) in groups.items()
    )


def _read_vfa(p: CellParser, rows: Iterable[Row]) -> tuple[VfaReadingRecord, ...]:
    groups: dict[str, tuple[str, str, dt.datetime, list[VfaFinding]]] = {}
    for row in rows:
        study_uid = p.text(row, "study_uid", required=True)
        reader = p.text(row, "reader", required=True)
        read_at = p.datetime(row, "read_at", _DATETIME)
        key = vfa_source_key(study_uid, reader, read_at)
        group = groups.setdefault(key, (study_uid, reader, read_at, []))
        level = p.required_choice(row, "level", _VFA_LEVELS)
        if any(f.level is level for f in group[3]):
            raise p.fail(
                row,
                "level",
                _("level {level} appears twice in the same reading").format(level=level),
            )
        grade = p.integer(row, "grade")
        if grade is not None and grade not in (0, 1, 2, 3):
            raise p.fail(
                row,
                "grade",
                _("the Genant grade must be 0, 1, 2 or 3, not {value}").format(value=grade),
            )
        reason = p.text(row, "not_evaluable_reason")
        if grade is None and not reason:
            raise p.fail(
                row,
                "not_evaluable_reason",
                _("a level without a grade needs a reason why it could not be evaluated"),
            )
        group[3].append(
            VfaFinding(level, grade, p.choice(row, "morphology", _MORPHOLOGIES), reason)
        )
    return tuple(
        VfaReadingRecord(
            source_key=key, study_uid=uid, reader=reader, read_at=at, findings=tuple(findings)
        )
        for key, (uid, reader, at, findings) in groups.items()
    )


def read(path: Path) -> ParsedSource:
    """Parse one generic CSV file of any of the four kinds.

    Parameters
    ----------
    path : Path
        The file; its first line names the format version and kind.

    Returns
    -------
    ParsedSource
        The studies, phantom scans, certificates or VFA readings of the file, with notes
        (unknown columns, Windows-1252 lines, removed control characters, empty file).
        The file is read line by line; only the records are kept.

    Raises
    ------
    ImportProblemError
        When the file is not a regular file or is too large
        (``resources/ingest/file_limits.json``), is not a generic CSV file, is of a newer
        version, lacks a required column, or any row holds a value that cannot be
        understood or a measurement outside its plausible range
        (``resources/ingest/plausible_measurements.json``; the message names the file,
        the line and the column). Nothing of the file is returned then: one bad cell
        fails the whole file.
    """
    with _open_table(path) as file:
        p = CellParser(path.name, dataclasses.replace(_RULES, decimal_comma=file.decimal_comma))
        seen = _Counted(file.rows)
        studies: tuple[StudyRecord, ...] = ()
        phantom_scans: tuple[PhantomScanRecord, ...] = ()
        certificates: tuple[PhantomCertificate, ...] = ()
        vfa_readings: tuple[VfaReadingRecord, ...] = ()
        if file.kind == KIND_PATIENT_RESULTS:
            studies = _read_patient_results(p, seen, file.notes)
        elif file.kind == KIND_PHANTOM_SCANS:
            phantom_scans = _read_phantom_scans(p, seen)
        elif file.kind == KIND_PHANTOM_CERTIFICATES:
            certificates = _read_certificates(p, seen)
        else:
            vfa_readings = _read_vfa(p, seen)
    if not seen.count:
        file.notes.append(ImportNote(_("{file} has no data rows.").format(file=path.name)))
    return ParsedSource(
        path=str(path),
        reader=READER_NAME,
        studies=studies,
        phantom_scans=phantom_scans,
        certificates=certificates,
        vfa_readings=vfa_readings,
        notes=tuple(file.notes),
    )


class _Counted:
    """The rows of a file, counted as they are read."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            self.count += 1
            yield row


def _has_magic(head: bytes) -> bool:
    """Return True when the first line (after a UTF-8 BOM) starts with the magic comment."""
    return head.removeprefix(b"\xef\xbb\xbf").startswith(MAGIC.encode("ascii"))


class GenericCsvReader(FileReader):
    """The :class:`~dxa_app.ingest.base.Reader` of generic CSV files (see :func:`read`)."""

    def __init__(self) -> None:
        super().__init__(READER_NAME, _has_magic, read)


READER: Final[Reader] = GenericCsvReader()
"""The reader instance the import registry uses."""
