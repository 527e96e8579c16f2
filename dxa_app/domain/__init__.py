"""The DXA domain: its enums and rules here; its records (frozen dataclasses) handed out lazily.

No I/O here. Importers produce these objects, the archive stores them, services pass them on.
BMD is always g/cm2 (float), BMC grams, area cm2; dates are ``datetime.date`` and
acquisition times ``datetime.datetime`` (naive, scanner local time).

The records live in :mod:`dxa_app.domain.records` (what an import produces) and
:mod:`dxa_app.domain.summaries` (the archive lists' rows) and are imported from here as
before (``from dxa_app.domain import StudyRecord``); their module is loaded on first use
(:func:`__getattr__`), because building 22 frozen dataclasses costs about 25 ms, a quarter
of a command's start, and most commands need only the enums.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any


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


class AnalysisStatus(StrEnum):
    """What became of the vendor analysis data an instance carried."""

    #: Results were read from it (a scan with numbers).
    READ = "read"
    #: The instance carries no analysis data (an image only, e.g. a VFA image).
    NONE = "none"
    #: Vendor analysis or private content was present in a layout the reader does not know.
    NOT_UNDERSTOOD = "not_understood"


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


#: The records, reached here as ``dxa_app.domain.NAME``, and the module that defines each:
#: ``records`` (what an import produces) and ``summaries`` (the archive lists' rows).
RECORDS: dict[str, str] = {
    "ScannerIdentity": "records",
    "PatientIdentity": "records",
    "patient_identity_key": "records",
    "StudyInfo": "records",
    "RegionResult": "records",
    "Measurement": "records",
    "ScanRecord": "records",
    "ImageRecord": "records",
    "SourceIdentity": "records",
    "PhantomIdentity": "records",
    "CertifiedValue": "records",
    "PhantomCertificate": "records",
    "PhantomResult": "records",
    "PhantomScanRecord": "records",
    "VfaFinding": "records",
    "VfaReadingRecord": "records",
    "StudyRecord": "records",
    "ImportNote": "records",
    "ParsedSource": "records",
    "ImportOutcome": "records",
    "PatientSummary": "summaries",
    "StudySummary": "summaries",
    "ArchiveCounts": "summaries",
}

if TYPE_CHECKING:  # what the type checker sees; at run time __getattr__ hands them out
    from dxa_app.domain.records import CertifiedValue as CertifiedValue
    from dxa_app.domain.records import ImageRecord as ImageRecord
    from dxa_app.domain.records import ImportNote as ImportNote
    from dxa_app.domain.records import ImportOutcome as ImportOutcome
    from dxa_app.domain.records import Measurement as Measurement
    from dxa_app.domain.records import ParsedSource as ParsedSource
    from dxa_app.domain.records import PatientIdentity as PatientIdentity
    from dxa_app.domain.records import PhantomCertificate as PhantomCertificate
    from dxa_app.domain.records import PhantomIdentity as PhantomIdentity
    from dxa_app.domain.records import PhantomResult as PhantomResult
    from dxa_app.domain.records import PhantomScanRecord as PhantomScanRecord
    from dxa_app.domain.records import RegionResult as RegionResult
    from dxa_app.domain.records import ScannerIdentity as ScannerIdentity
    from dxa_app.domain.records import ScanRecord as ScanRecord
    from dxa_app.domain.records import SourceIdentity as SourceIdentity
    from dxa_app.domain.records import StudyInfo as StudyInfo
    from dxa_app.domain.records import StudyRecord as StudyRecord
    from dxa_app.domain.records import VfaFinding as VfaFinding
    from dxa_app.domain.records import VfaReadingRecord as VfaReadingRecord
    from dxa_app.domain.records import patient_identity_key as patient_identity_key
    from dxa_app.domain.summaries import ArchiveCounts as ArchiveCounts
    from dxa_app.domain.summaries import PatientSummary as PatientSummary
    from dxa_app.domain.summaries import StudySummary as StudySummary


def __getattr__(name: str) -> Any:
    """Hand out a record class, importing its module (``records``, ``summaries``) on first use.

    A module attribute hook (PEP 562): ``from dxa_app.domain import StudyRecord`` works as
    if the class were defined here, while a command that needs only the enums (a role, a
    region) never builds the records' classes.

    Parameters
    ----------
    name : str
        The attribute asked for.

    Returns
    -------
    Any
        The record class (or function) of that name.

    Raises
    ------
    AttributeError
        For any other name.
    """
    # plain imports, which the bundle's module finder follows
    module = RECORDS.get(name)
    if module == "records":
        from dxa_app.domain import records

        value = getattr(records, name)
    elif module == "summaries":
        from dxa_app.domain import summaries

        value = getattr(summaries, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
