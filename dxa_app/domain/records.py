"""The records an import produces: frozen dataclasses of scanners, patients, studies, scans.

No I/O here. Importers produce these objects, the archive stores them, services pass them on.
They are reached as ``dxa_app.domain.X`` (see :mod:`dxa_app.domain`), which creates them
only when a module first asks for one: a command that never touches a record is spared
building their 22 classes (about 25 ms of every start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dxa_app.domain import (
    AnalysisStatus,
    IdType,
    ImportStatus,
    Manufacturer,
    Morphology,
    PhantomKind,
    PhantomPurpose,
    PhantomRegion,
    Region,
    ScanType,
    Sex,
    Side,
    VfaLevel,
)


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
