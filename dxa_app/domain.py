"""Frozen dataclasses and enums of the DXA domain: scanners, patients, studies, scans, results.

No I/O here. Importers produce these objects, the archive stores them, services pass them on.
BMD is always g/cm2 (float), BMC grams, area cm2; dates are ``datetime.date`` and
acquisition times ``datetime.datetime`` (naive, scanner local time).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum


class Manufacturer(StrEnum):
    """Scanner manufacturer, normalised from the vendor's own spelling."""

    HOLOGIC = "Hologic"
    GE_LUNAR = "GE Lunar"
    NORLAND = "Norland"
    OTHER = "Other"


class Sex(StrEnum):
    """Patient sex as recorded by the scanner or the CPR register."""

    FEMALE = "F"
    MALE = "M"
    OTHER = "O"


class IdType(StrEnum):
    """What kind of identifier a patient id is."""

    CPR = "cpr"
    OTHER = "other"


class ScanType(StrEnum):
    """The kind of DXA acquisition."""

    AP_SPINE = "ap_spine"
    HIP = "hip"
    FOREARM = "forearm"
    WHOLE_BODY = "whole_body"
    VFA = "vfa"
    OTHER = "other"


class Side(StrEnum):
    """Laterality of a hip or forearm scan."""

    LEFT = "L"
    RIGHT = "R"


class Region(StrEnum):
    """A region of interest with a BMD result."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"
    L1_L4 = "L1-L4"
    L2_L4 = "L2-L4"
    TOTAL_HIP = "total_hip"
    FEMORAL_NECK = "femoral_neck"
    TROCHANTER = "trochanter"
    INTERTROCHANTER = "intertrochanter"
    WARDS = "wards"
    RADIUS_33 = "radius_33"
    RADIUS_UD = "radius_ud"
    RADIUS_TOTAL = "radius_total"
    RADIUS_MID = "radius_mid"
    ULNA_33 = "ulna_33"
    ULNA_MID = "ulna_mid"
    ULNA_UD = "ulna_ud"
    ULNA_TOTAL = "ulna_total"
    RADIUS_ULNA_33 = "radius_ulna_33"
    RADIUS_ULNA_MID = "radius_ulna_mid"
    RADIUS_ULNA_UD = "radius_ulna_ud"
    RADIUS_ULNA_TOTAL = "radius_ulna_total"
    WHOLE_BODY = "whole_body"
    WB_SUBTOTAL = "wb_subtotal"
    WB_HEAD = "wb_head"
    WB_LEFT_ARM = "wb_left_arm"
    WB_RIGHT_ARM = "wb_right_arm"
    WB_LEFT_RIBS = "wb_left_ribs"
    WB_RIGHT_RIBS = "wb_right_ribs"
    WB_THORACIC_SPINE = "wb_thoracic_spine"
    WB_LUMBAR_SPINE = "wb_lumbar_spine"
    WB_PELVIS = "wb_pelvis"
    WB_LEFT_LEG = "wb_left_leg"
    WB_RIGHT_LEG = "wb_right_leg"

    @property
    def is_vertebra(self) -> bool:
        """Whether this is a single lumbar vertebra (L1..L4)."""
        return self in (Region.L1, Region.L2, Region.L3, Region.L4)


VERTEBRAE: tuple[Region, ...] = (Region.L1, Region.L2, Region.L3, Region.L4)


class PhantomRegion(StrEnum):
    """A region of a spine phantom (the ESP has three vertebrae)."""

    V1 = "L1"
    V2 = "L2"
    V3 = "L3"
    V4 = "L4"
    TOTAL = "total"


class PhantomKind(StrEnum):
    """Known phantom designs."""

    ESP = "ESP"
    HOLOGIC_SPINE = "Hologic spine"
    LUNAR_ALUMINIUM = "Lunar aluminium spine"
    OTHER = "Other"


class PhantomPurpose(StrEnum):
    """Why a phantom was scanned."""

    DAILY_QC = "daily_qc"
    TRAVELLING = "travelling"
    ACCEPTANCE = "acceptance"


class VfaLevel(StrEnum):
    """Vertebral levels assessed by VFA (T4-L4, 13 vertebrae)."""

    T4 = "T4"
    T5 = "T5"
    T6 = "T6"
    T7 = "T7"
    T8 = "T8"
    T9 = "T9"
    T10 = "T10"
    T11 = "T11"
    T12 = "T12"
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


class Morphology(StrEnum):
    """Shape of a vertebral deformity (Genant)."""

    WEDGE = "wedge"
    BICONCAVE = "biconcave"
    CRUSH = "crush"


class Role(StrEnum):
    """User roles; the role decides what a user may do."""

    TECHNICIAN = "technician"
    PHYSICIAN = "physician"
    CENTRE_ANALYST = "centre_analyst"
    ADMIN = "admin"


class ImportStatus(StrEnum):
    """Outcome of importing one source file."""

    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ScannerIdentity:
    """A scanner as it names itself: manufacturer + model + serial identify it."""

    manufacturer: Manufacturer
    model: str
    serial: str
    software_version: str = ""
    station_name: str = ""
    institution_name: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """The identifying triple (manufacturer, model, serial)."""
        return (str(self.manufacturer), self.model, self.serial)


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """A patient as the source names them.

    ``scope`` says where an identifier that is not a CPR number is valid: the same
    ``identifier`` in another scope is another person. Readers set it: ``apex:<database>``
    (PATIENT_KEY of one APEX database), ``dicom:<IssuerOfPatientID>``, ``csv:<site>``. A CPR
    number is national and needs no scope (see :func:`patient_identity_key`).
    """

    identifier: str
    id_type: IdType
    name: str
    birth_date: dt.date | None
    sex: Sex | None
    scope: str = ""


def patient_identity_key(patient: PatientIdentity, default_scope: str = "") -> str:
    """Return the key under which the archive looks a source's patient up.

    A CPR number is one national key (``cpr:DDMMYY-SSSS``); any other identifier only counts
    within its scope (``id:<scope>|<identifier>``), so two sources' ``"1"`` never meet. The
    archive still joins two records of one key only when their birth date and sex agree.

    Parameters
    ----------
    patient : PatientIdentity
        The patient as the source names them.
    default_scope : str, optional
        The scope of an identifier whose source set none (e.g. ``reader:<name>``).

    Returns
    -------
    str
        The identity key.

    Examples
    --------
    >>> patient_identity_key(PatientIdentity("010150-9912", IdType.CPR, "", None, None, "x"))
    'cpr:010150-9912'
    >>> patient_identity_key(PatientIdentity("17", IdType.OTHER, "", None, None, "apex:ab12"))
    'id:apex:ab12|17'
    """
    if patient.id_type is IdType.CPR:
        return f"cpr:{patient.identifier}"
    return f"id:{patient.scope or default_scope}|{patient.identifier}"


@dataclass(frozen=True, slots=True)
class StudyInfo:
    """One visit: the scans of one patient on one day on one scanner."""

    study_uid: str
    study_date: dt.date
    accession: str = ""
    referrer: str = ""
    indication: str = ""
    height_cm: float | None = None
    weight_kg: float | None = None
    menopausal: bool | None = None


@dataclass(frozen=True, slots=True)
class RegionResult:
    """The raw result of one region as the scanner computed it."""

    region: Region
    bmd_g_cm2: float | None
    bmc_g: float | None = None
    area_cm2: float | None = None
    vendor_t: float | None = None
    vendor_z: float | None = None
    included: bool = True


@dataclass(frozen=True, slots=True)
class Measurement:
    """A further value the scanner computed (hip structure, body composition, lateral spine).

    Stored raw beside the scan and shown in the study view; never used for a diagnosis.
    ``table`` and ``name`` are the vendor's own (e.g. ``HipHSA``, ``NN_CSA``); ``label`` is a
    name the vendor gave a user-defined sub-region, when it did.
    """

    table: str
    name: str
    value: float
    unit: str = ""
    label: str = ""


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """One acquisition with its raw results.

    ``source_key`` identifies where it came from (``dicom:<SOP Instance UID>`` or
    ``csv:<file kind>:<row key>``); importing the same key twice is a no-op. Height and
    weight are the patient's at this scan, when the source records them per scan.
    """

    source_key: str
    scan_type: ScanType
    acquired_at: dt.datetime
    side: Side | None = None
    scan_mode: str = ""
    operator: str = ""
    software_version: str = ""
    results: tuple[RegionResult, ...] = ()
    height_cm: float | None = None
    weight_kg: float | None = None
    measurements: tuple[Measurement, ...] = ()


class AnalysisStatus(StrEnum):
    """What became of the vendor analysis data an instance carried."""

    #: Results were read from it (a scan with numbers).
    READ = "read"
    #: The instance carries no analysis data (an image only, e.g. a VFA image).
    NONE = "none"
    #: Vendor analysis or private content was present in a layout the reader does not know.
    NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """A DICOM image (or other instance) kept with a study.

    ``file_path`` is where the reader found the file; the archive copies the file into its
    image store (content-addressed by ``sha256``). ``exposure`` holds the exposure and dose
    attributes the modality recorded, as (DICOM keyword, value as written) pairs; values of
    ExposureDoseSequence items are keyed ``ExposureDoseSequence[n].Keyword``.
    ``analysis_detail`` names, when the analysis was not understood, the private creator and
    element (or SR content) that was present.
    """

    sop_instance_uid: str
    sop_class_uid: str
    kind: str
    rows: int | None = None
    columns: int | None = None
    bits_allocated: int | None = None
    file_path: str = ""
    sha256: str = ""
    note: str = ""
    side: Side | None = None
    body_part: str = ""
    protocol: str = ""
    software_version: str = ""
    exposure: tuple[tuple[str, str], ...] = ()
    analysis: AnalysisStatus | None = None
    analysis_detail: str = ""


@dataclass(frozen=True, slots=True)
class SourceIdentity:
    """Patient and study identity exactly as the source sent it (never normalised).

    Kept per study and written unchanged into every DICOM object the program sends about the
    study (architecture rule 11). DICOM values are the decoded element values as received
    (dates and times as their DA/TM text, person names as their PN text with ``^``
    components); ``character_set`` is the SpecificCharacterSet they came with. Sources that
    are not DICOM keep what they gave (``source`` says which kind of source).
    """

    source: str
    patient_id: str
    study_uid: str
    issuer_of_patient_id: str = ""
    patient_name: str = ""
    character_set: str = ""
    birth_date: str = ""
    sex: str = ""
    accession: str = ""
    study_id: str = ""
    study_date: str = ""
    study_time: str = ""
    referring_physician: str = ""


@dataclass(frozen=True, slots=True)
class PhantomIdentity:
    """A physical phantom: kind and serial number."""

    kind: PhantomKind
    serial: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class CertifiedValue:
    """A certified BMD of one region of a specific phantom."""

    region: PhantomRegion
    bmd_g_cm2: float
    uncertainty_g_cm2: float | None = None


@dataclass(frozen=True, slots=True)
class PhantomCertificate:
    """The certificate of one phantom: its certified values per region."""

    phantom: PhantomIdentity
    certificate_ref: str
    values: tuple[CertifiedValue, ...]
    source_key: str = ""


@dataclass(frozen=True, slots=True)
class PhantomResult:
    """The measured value of one phantom region in one phantom scan."""

    region: PhantomRegion
    bmd_g_cm2: float
    bmc_g: float | None = None
    area_cm2: float | None = None


@dataclass(frozen=True, slots=True)
class PhantomScanRecord:
    """One scan of a phantom on a scanner (daily QC, travelling round or acceptance)."""

    source_key: str
    phantom: PhantomIdentity
    scanner: ScannerIdentity
    acquired_at: dt.datetime
    purpose: PhantomPurpose
    results: tuple[PhantomResult, ...]
    round_name: str = ""
    operator: str = ""
    repositioned: bool = True


@dataclass(frozen=True, slots=True)
class VfaFinding:
    """The VFA reading of one vertebral level."""

    level: VfaLevel
    grade: int | None
    morphology: Morphology | None = None
    not_evaluable_reason: str = ""

    def __post_init__(self) -> None:
        if self.grade is not None and self.grade not in (0, 1, 2, 3):
            raise ValueError(f"Genant grade must be 0-3, got {self.grade}")
        if self.grade is None and not self.not_evaluable_reason:
            raise ValueError("a level without a grade needs a not-evaluable reason")


@dataclass(frozen=True, slots=True)
class VfaReadingRecord:
    """A VFA reading (T4-L4) of one study by one reader."""

    source_key: str
    study_uid: str
    reader: str
    read_at: dt.datetime
    findings: tuple[VfaFinding, ...]


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """Everything one source yields about one study: scanner, patient, study, scans, images."""

    scanner: ScannerIdentity
    patient: PatientIdentity
    study: StudyInfo
    scans: tuple[ScanRecord, ...] = ()
    images: tuple[ImageRecord, ...] = ()
    source_identity: SourceIdentity | None = None
    #: The risk-factor questionnaire the source gave (question, JSON-ready answer), if any.
    risk_factors: tuple[tuple[str, str | float | int | bool], ...] = ()


@dataclass(frozen=True, slots=True)
class ImportNote:
    """Something an importer did not understand or wants a human to know."""

    message: str
    severity: str = "warning"


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """What a reader made of one source file."""

    path: str
    reader: str
    studies: tuple[StudyRecord, ...] = ()
    phantom_scans: tuple[PhantomScanRecord, ...] = ()
    certificates: tuple[PhantomCertificate, ...] = ()
    vfa_readings: tuple[VfaReadingRecord, ...] = ()
    notes: tuple[ImportNote, ...] = field(default_factory=tuple)
    scope: str = ""
    """Where the source's scanner names are valid (an APEX database: ``apex:<database>``);
    a placeholder serial is looked up in the serial mapping under it."""


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """The result of importing one source file into the archive.

    ``not_understood`` names, for a file imported as an image whose vendor analysis data
    (or private or SR content) was present but not understood, what was there (private
    creator and element); such a file is counted apart from the plainly imported ones.
    """

    path: str
    status: ImportStatus
    reader: str = ""
    reason: str = ""
    rows_added: int = 0
    notes: tuple[ImportNote, ...] = ()
    not_understood: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """One row of the patient list.

    ``possible_duplicate``: this record shares its identifier with an earlier patient but
    not the birth date or sex, so it was kept apart until an administrator decides (merge).
    """

    id: int
    identifier: str
    name: str
    birth_date: dt.date | None
    sex: Sex | None
    n_studies: int
    last_study: dt.date | None
    possible_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One row of the study list."""

    id: int
    study_uid: str
    patient_id: int
    patient_identifier: str
    patient_name: str
    study_date: dt.date
    site: str
    manufacturer: str
    model: str
    serial: str
    scan_types: tuple[str, ...]
    n_results: int


@dataclass(frozen=True, slots=True)
class ArchiveCounts:
    """How many of each thing the archive holds."""

    sites: int
    scanners: int
    patients: int
    studies: int
    scans: int
    region_results: int
    phantom_scans: int
    vfa_readings: int
    images: int


#: Serials that name no scanner: software names, "unknown" words (compared without spaces,
#: dots, slashes, hyphens and underscores, in upper case); all zeros and all X count too.
PLACEHOLDER_SERIALS: frozenset[str] = frozenset(
    {
        "APEX",
        "QDR",
        "HOLOGIC",
        "LUNAR",
        "GE",
        "GELUNAR",
        "ENCORE",
        "NONE",
        "NULL",
        "NA",
        "NIL",
        "UNKNOWN",
        "UNKNOWNSERIAL",
        "SERIAL",
        "SERIALNUMBER",
        "SN",
        "NOTSET",
        "DEFAULT",
    }
)


def is_placeholder_serial(serial: str) -> bool:
    """Return whether a serial number names no particular scanner.

    Empty, only zeros (``000``), only X, only punctuation, or a word in
    :data:`PLACEHOLDER_SERIALS` (``APEX``, ``N/A``, ``unknown``...).

    Examples
    --------
    >>> [is_placeholder_serial(s) for s in ("", " APEX ", "000", "n/a", "x-x", "301234")]
    [True, True, True, True, True, False]
    >>> is_placeholder_serial("HZA-DEMO-101"), is_placeholder_serial("0001")
    (False, False)
    """
    folded = re.sub(r"[\s._/\-]+", "", serial.upper())
    if not folded or not any(c.isalnum() for c in folded):
        return True
    return set(folded) <= {"0"} or set(folded) <= {"X"} or folded in PLACEHOLDER_SERIALS


def scanner_label(manufacturer: str, model: str) -> str:
    """Return "manufacturer model" without repeating a word the model already starts with.

    Examples
    --------
    >>> scanner_label("GE Lunar", "Lunar iDXA")
    'GE Lunar iDXA'
    >>> scanner_label("Hologic", "Horizon A")
    'Hologic Horizon A'
    """
    from reports.labels import scanner_name  # the one rule, shared with the reports

    return scanner_name(manufacturer, model)
