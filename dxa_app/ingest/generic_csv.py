"""Reader of the documented, versioned generic CSV format (docs/generic-csv.md)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, TypeVar

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
    StudyInfo,
    StudyRecord,
    VfaFinding,
    VfaLevel,
    VfaReadingRecord,
)
from dxa_app.errors import ImportProblemError
from dxa_app.i18n import _
from dxa_app.ingest.base import Reader

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

_BOM: Final = "\ufeff"
_MAGIC_RE: Final = re.compile(r"^#\s*dxa-generic-csv\s+v(\d+)\s+([A-Za-z_]+)")
_STUDY_UID_NAMESPACE: Final = uuid.UUID("6b0f3c1e-8f1d-5a57-9a43-2f7c3c0b6d11")

_E = TypeVar("_E", bound=StrEnum)


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


def _fold(text: str) -> str:
    folded = re.sub(r"[\s\-–/]+", "_", text.strip().lower())
    return folded.strip("_")


def _vocabulary(enum: type[_E], aliases: Mapping[str, _E]) -> dict[str, _E]:
    vocab: dict[str, _E] = {_fold(member.value): member for member in enum}
    vocab.update({_fold(member.name): member for member in enum})
    vocab.update({_fold(k): v for k, v in aliases.items()})
    return vocab


_MANUFACTURERS = _vocabulary(
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
    },
)
_SEXES = _vocabulary(
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
_ID_TYPES = _vocabulary(IdType, {"cpr_nr": IdType.CPR, "cprnr": IdType.CPR})
_SCAN_TYPES = _vocabulary(
    ScanType,
    {
        "spine": ScanType.AP_SPINE,
        "lumbar_spine": ScanType.AP_SPINE,
        "femur": ScanType.HIP,
        "total_body": ScanType.WHOLE_BODY,
    },
)
_SIDES = _vocabulary(
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
_REGIONS = _vocabulary(
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
_PHANTOM_KINDS = _vocabulary(
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
_PURPOSES = _vocabulary(
    PhantomPurpose,
    {
        "qc": PhantomPurpose.DAILY_QC,
        "daily": PhantomPurpose.DAILY_QC,
        "traveling": PhantomPurpose.TRAVELLING,
        "travelling_phantom": PhantomPurpose.TRAVELLING,
        "traveling_phantom": PhantomPurpose.TRAVELLING,
    },
)
_PHANTOM_REGIONS = _vocabulary(PhantomRegion, {})
_VFA_LEVELS = _vocabulary(VfaLevel, {})
_MORPHOLOGIES = _vocabulary(Morphology, {})

_TRUE: Final = frozenset({"1", "true", "yes", "y", "ja", "j"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "nej"})


# ---------------------------------------------------------------------------
# parsing of one row


@dataclass(frozen=True, slots=True)
class _Row:
    """One data row: values by column name, with the file line it starts on."""

    line: int
    values: Mapping[str, str]


@dataclass(slots=True)
class _Parser:
    """Parses the cells of one file, raising errors that name file, line and column."""

    file: str
    decimal_comma: bool
    notes: list[ImportNote] = field(default_factory=list)

    def fail(self, row: _Row, column: str, problem: str) -> ImportProblemError:
        """Return the error for a bad value."""
        return ImportProblemError(
            _("{file}, line {line}, column '{column}': {problem}").format(
                file=self.file, line=row.line, column=column, problem=problem
            ),
            _("Correct the value in the file and import it again."),
        )

    def text(self, row: _Row, column: str, *, required: bool = False) -> str:
        """Return the stripped text of a cell ('' when empty or the column is absent)."""
        value = row.values.get(column, "").strip()
        if required and not value:
            raise self.fail(row, column, _("a value is required"))
        return value

    def number(self, row: _Row, column: str, *, required: bool = False) -> float | None:
        """Return a float, or None when empty."""
        value = self.text(row, column, required=required)
        if not value:
            return None
        candidate = value.replace(",", ".") if self.decimal_comma else value
        try:
            number = float(candidate)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or "_" in candidate:
            hint = (
                _("'{value}' is not a number (decimal comma or point, no thousands separator)")
                if self.decimal_comma
                else _("'{value}' is not a number (use a decimal point)")
            )
            raise self.fail(row, column, hint.format(value=value))
        return number

    def integer(self, row: _Row, column: str) -> int | None:
        """Return an int, or None when empty."""
        value = self.text(row, column)
        if not value:
            return None
        if not re.fullmatch(r"[+-]?\d+", value):
            raise self.fail(row, column, _("'{value}' is not a whole number").format(value=value))
        return int(value)

    def boolean(self, row: _Row, column: str, default: bool | None) -> bool | None:
        """Return a bool from 1/0 (or yes/no, true/false, ja/nej); ``default`` when empty."""
        value = self.text(row, column).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self.fail(row, column, _("'{value}' is not 1 or 0").format(value=value))

    def date(self, row: _Row, column: str, *, required: bool = False) -> dt.date | None:
        """Return an ISO date (YYYY-MM-DD), or None when empty."""
        value = self.text(row, column, required=required)
        if not value:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.fail(
                row, column, _("'{value}' is not a date (YYYY-MM-DD)").format(value=value)
            ) from None

    def datetime(self, row: _Row, column: str) -> dt.datetime:
        """Return an ISO date and time (YYYY-MM-DDTHH:MM[:SS]); the value is required."""
        value = self.text(row, column, required=True)
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?", value):
                raise ValueError(value)
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(
                row,
                column,
                _("'{value}' is not a date and time (YYYY-MM-DDTHH:MM)").format(value=value),
            ) from None

    def choice(
        self, row: _Row, column: str, vocab: Mapping[str, _E], *, required: bool = False
    ) -> _E | None:
        """Return the enum member a cell names, or None when empty."""
        value = self.text(row, column, required=required)
        if not value:
            return None
        member = vocab.get(_fold(value))
        if member is None:
            allowed = ", ".join(dict.fromkeys(str(m.value) for m in vocab.values()))
            raise self.fail(
                row,
                column,
                _("'{value}' is not one of: {allowed}").format(value=value, allowed=allowed),
            )
        return member

    def required_choice(self, row: _Row, column: str, vocab: Mapping[str, _E]) -> _E:
        """Return the enum member a cell names; the value is required."""
        member = self.choice(row, column, vocab, required=True)
        assert member is not None
        return member


# ---------------------------------------------------------------------------
# reading the file: magic line, dialect, header, rows


def _problem(message: str, remedy: str = "") -> ImportProblemError:
    return ImportProblemError(message, remedy)


def _decode(path: Path, raw: bytes, notes: list[ImportNote]) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
        notes.append(
            ImportNote(
                _(
                    "{file} is not UTF-8; it was read as Windows-1252 (check the letters æ, ø, å)."
                ).format(file=path.name)
            )
        )
    return text.removeprefix(_BOM)


def _parse_magic(path: Path, first_line: str) -> str:
    """Return the kind named on the first line, after checking the version."""
    line = first_line.strip().rstrip(",;\t ").strip('"')
    match = _MAGIC_RE.match(line)
    if match is None:
        raise _problem(
            _("{file} is not a generic CSV file: the first line must start with '{magic}'.").format(
                file=path.name, magic=MAGIC
            ),
            _("See the generic CSV format reference."),
        )
    version, kind = int(match.group(1)), match.group(2)
    if version > FORMAT_VERSION:
        raise _problem(
            _(
                "{file} was written by a newer version of the generic CSV format (v{version});"
                " this program reads v{supported}."
            ).format(file=path.name, version=version, supported=FORMAT_VERSION),
            _("Update the program, or ask the sender for a v{supported} file.").format(
                supported=FORMAT_VERSION
            ),
        )
    if version < 1:
        raise _problem(
            _("{file}: unknown generic CSV format version v{version}.").format(
                file=path.name, version=version
            )
        )
    if kind not in KINDS:
        raise _problem(
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
    return re.sub(r"[\s\-]+", "_", name.strip().strip(_BOM).lower())


@dataclass(frozen=True, slots=True)
class _Table:
    kind: str
    rows: tuple[_Row, ...]
    decimal_comma: bool
    notes: tuple[ImportNote, ...]


def _read_table(path: Path) -> _Table:
    """Read the file into rows keyed by known column names; check header and shape."""
    notes: list[ImportNote] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _problem(
            _("{file} could not be read: {error}").format(file=path.name, error=exc.strerror)
        ) from exc
    text = _decode(path, raw, notes)
    lines = list(io.StringIO(text, newline=""))
    if not lines:
        raise _problem(
            _("{file} is empty.").format(file=path.name),
            _("See the generic CSV format reference."),
        )
    kind = _parse_magic(path, lines[0])
    header_index = next(
        (
            i
            for i in range(1, len(lines))
            if lines[i].strip() and not lines[i].lstrip().startswith("#")
        ),
        None,
    )
    if header_index is None:
        raise _problem(
            _("{file} has no header row.").format(file=path.name),
            _("The second line must name the columns; see the generic CSV format reference."),
        )
    delimiter = _delimiter(lines[header_index])
    reader = csv.reader(lines[header_index:], delimiter=delimiter, strict=True)
    previous_end = 0  # physical lines read before the current record
    try:
        header = [_normalise_column(c) for c in next(reader)]
        known = set(COLUMNS[kind])
        seen: set[str] = set()
        for name in header:
            if name and name in seen:
                raise _problem(
                    _("{file}: column '{column}' appears twice in the header row.").format(
                        file=path.name, column=name
                    )
                )
            seen.add(name)
        for column in sorted(REQUIRED_COLUMNS[kind]):
            if column not in seen:
                raise _problem(
                    _("{file}: required column '{column}' is missing.").format(
                        file=path.name, column=column
                    ),
                    _("Add the column to the header row; see the generic CSV format reference."),
                )
        unknown = [name for name in header if name and name not in known]
        if unknown:
            notes.append(
                ImportNote(
                    _("{file}: unknown columns were ignored: {columns}.").format(
                        file=path.name, columns=", ".join(unknown)
                    )
                )
            )
        rows: list[_Row] = []
        previous_end = reader.line_num
        for cells in reader:
            line = header_index + previous_end + 1
            previous_end = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                raise _problem(
                    _(
                        "{file}, line {line}: the row has {found} values but the header has"
                        " {expected} columns."
                    ).format(file=path.name, line=line, found=len(cells), expected=len(header)),
                    _("Check separators and quotes in that line.")
                    if delimiter == ";"
                    else _("Check separators and quotes in that line; decimals need a point."),
                )
            values = {
                name: cell for name, cell in zip(header, cells, strict=False) if name in known
            }
            rows.append(_Row(line, values))
    except csv.Error as exc:
        raise _problem(
            _("{file}, line {line}: the line is not valid CSV ({error}).").format(
                # the line the broken record starts on: an open quote may run on for lines
                file=path.name,
                line=header_index + previous_end + 1,
                error=exc,
            )
        ) from exc
    if not rows:
        notes.append(ImportNote(_("{file} has no data rows.").format(file=path.name)))
    return _Table(kind, tuple(rows), delimiter == ";", tuple(notes))


# ---------------------------------------------------------------------------
# the four kinds


def _scanner(p: _Parser, row: _Row) -> ScannerIdentity:
    return ScannerIdentity(
        manufacturer=p.required_choice(row, "manufacturer", _MANUFACTURERS),
        model=p.text(row, "model", required=True),
        serial=p.text(row, "serial", required=True),
        software_version=p.text(row, "software_version"),
        station_name=p.text(row, "station_name"),
        institution_name=p.text(row, "site", required=True),
    )


def _patient(p: _Parser, row: _Row) -> PatientIdentity:
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
        birth_date=p.date(row, "birth_date"),
        sex=p.choice(row, "sex", _SEXES),
    )


def _study_info(p: _Parser, row: _Row, study_uid: str, study_date: dt.date) -> StudyInfo:
    return StudyInfo(
        study_uid=study_uid,
        study_date=study_date,
        accession=p.text(row, "accession"),
        referrer=p.text(row, "referrer"),
        indication=p.text(row, "indication"),
        height_cm=p.number(row, "height_cm"),
        weight_kg=p.number(row, "weight_kg"),
        menopausal=p.boolean(row, "menopausal", None),
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


def _read_patient_results(p: _Parser, rows: Sequence[_Row]) -> tuple[StudyRecord, ...]:
    studies: dict[str, _StudyAcc] = {}
    for row in rows:
        scanner = _scanner(p, row)
        patient = _patient(p, row)
        study_date = p.date(row, "study_date", required=True)
        assert study_date is not None
        study_uid = p.text(row, "study_uid") or derived_study_uid(
            scanner.institution_name, scanner.serial, patient.identifier, study_date
        )
        study = studies.get(study_uid)
        if study is None:
            info = _study_info(p, row, study_uid, study_date)
            study = _StudyAcc(StudyRecord(scanner, patient, info), row.line)
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
        scan_type = p.required_choice(row, "scan_type", _SCAN_TYPES)
        side = p.choice(row, "side", _SIDES)
        acquired_at = p.datetime(row, "acquired_at")
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
                bmd_g_cm2=p.number(row, "bmd_g_cm2"),
                bmc_g=p.number(row, "bmc_g"),
                area_cm2=p.number(row, "area_cm2"),
                vendor_t=p.number(row, "vendor_t"),
                vendor_z=p.number(row, "vendor_z"),
                included=bool(p.boolean(row, "included", True)),
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
        )
        for acc in studies.values()
    )


def _phantom(p: _Parser, row: _Row) -> PhantomIdentity:
    return PhantomIdentity(
        kind=p.required_choice(row, "phantom_kind", _PHANTOM_KINDS),
        serial=p.text(row, "phantom_serial", required=True),
        description=p.text(row, "phantom_description"),
    )


@dataclass(slots=True)
class _PhantomScanAcc:
    record: PhantomScanRecord
    results: list[PhantomResult] = field(default_factory=list)


def _read_phantom_scans(p: _Parser, rows: Sequence[_Row]) -> tuple[PhantomScanRecord, ...]:
    scans: dict[str, _PhantomScanAcc] = {}
    for row in rows:
        scanner = _scanner(p, row)
        phantom = _phantom(p, row)
        acquired_at = p.datetime(row, "acquired_at")
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
                    repositioned=bool(p.boolean(row, "repositioned", True)),
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
        bmd = p.number(row, "bmd_g_cm2", required=True)
        assert bmd is not None
        acc.results.append(
            PhantomResult(
                region=region,
                bmd_g_cm2=bmd,
                bmc_g=p.number(row, "bmc_g"),
                area_cm2=p.number(row, "area_cm2"),
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


def _read_certificates(p: _Parser, rows: Sequence[_Row]) -> tuple[PhantomCertificate, ...]:
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
        bmd = p.number(row, "bmd_g_cm2", required=True)
        assert bmd is not None
        group[2].append(CertifiedValue(region, bmd, p.number(row, "uncertainty_g_cm2")))
    return tuple(
        PhantomCertificate(phantom=ph, certificate_ref=ref, values=tuple(vals), source_key=key)
        for key, (ph, ref, vals) in groups.items()
    )


def _read_vfa(p: _Parser, rows: Sequence[_Row]) -> tuple[VfaReadingRecord, ...]:
    groups: dict[str, tuple[str, str, dt.datetime, list[VfaFinding]]] = {}
    for row in rows:
        study_uid = p.text(row, "study_uid", required=True)
        reader = p.text(row, "reader", required=True)
        read_at = p.datetime(row, "read_at")
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
        (unknown columns, encoding fall-back, empty file).

    Raises
    ------
    ImportProblemError
        When the file is not a generic CSV file, is of a newer version, lacks a required
        column, or any row holds a value that cannot be understood (the message names
        the file, the line and the column). Nothing of the file is returned then.
    """
    table = _read_table(path)
    p = _Parser(path.name, table.decimal_comma)
    base = ParsedSource(path=str(path), reader=READER_NAME, notes=table.notes)
    if table.kind == KIND_PATIENT_RESULTS:
        return _with(base, studies=_read_patient_results(p, table.rows))
    if table.kind == KIND_PHANTOM_SCANS:
        return _with(base, phantom_scans=_read_phantom_scans(p, table.rows))
    if table.kind == KIND_PHANTOM_CERTIFICATES:
        return _with(base, certificates=_read_certificates(p, table.rows))
    return _with(base, vfa_readings=_read_vfa(p, table.rows))


def _with(
    base: ParsedSource,
    *,
    studies: tuple[StudyRecord, ...] = (),
    phantom_scans: tuple[PhantomScanRecord, ...] = (),
    certificates: tuple[PhantomCertificate, ...] = (),
    vfa_readings: tuple[VfaReadingRecord, ...] = (),
) -> ParsedSource:
    return ParsedSource(
        path=base.path,
        reader=base.reader,
        studies=studies,
        phantom_scans=phantom_scans,
        certificates=certificates,
        vfa_readings=vfa_readings,
        notes=base.notes,
    )


class GenericCsvReader:
    """The :class:`~dxa_app.ingest.base.Reader` of generic CSV files."""

    name: str = READER_NAME

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True when the first line (after a UTF-8 BOM) starts with the magic comment.

        Parameters
        ----------
        path : Path
            The file (not opened; ``head`` holds its first bytes).
        head : bytes
            The first bytes of the file.

        Returns
        -------
        bool
            Whether this reader should handle the file.
        """
        return head.removeprefix(b"\xef\xbb\xbf").startswith(MAGIC.encode("ascii"))

    def read(self, path: Path) -> ParsedSource:
        """Parse the whole file; see :func:`read`.

        Parameters
        ----------
        path : Path
            The file.

        Returns
        -------
        ParsedSource
            What the file holds.
        """
        return read(path)


READER: Final[Reader] = GenericCsvReader()
"""The reader instance the import registry uses."""
