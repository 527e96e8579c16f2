"""The signed report as it leaves for the patient record: plain, frozen data, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: The OID of the Danish CPR number (the FHIR identifier system ``urn:oid:`` + this).
CPR_OID = "1.2.208.176.1.2"


@dataclass(frozen=True)
class PatientOut:
    """The patient as the record should file them: the identifier as received.

    ``identifier`` and ``issuer`` are what the modality sent (PatientID and
    IssuerOfPatientID), or the archive's identifier when the source gave none; ``cpr`` is the
    normalised CPR number (10 digits) when the patient is identified by CPR, else None.
    """

    identifier: str
    issuer: str
    cpr: str | None
    family: str
    given: str
    middle: str = ""
    birth_date: dt.date | None = None
    sex: str = ""


@dataclass(frozen=True)
class ScannerOut:
    """The scanner that measured (the FHIR Device, HL7 OBX-18)."""

    manufacturer: str
    model: str
    serial: str
    software_version: str = ""

    @property
    def label(self) -> str:
        """Return "manufacturer model serial"."""
        return " ".join(p for p in (self.manufacturer, self.model, self.serial) if p)


@dataclass(frozen=True)
class RegionOut:
    """One region's numbers as printed in the signed report.

    ``bmd`` is the harmonised BMD printed with 3 decimals, ``t`` and ``z`` the printed scores
    (1 decimal) or None; ``method`` says how the BMD was obtained (the calibration chain).
    """

    region: str
    side: str | None
    label: str
    bmd: str
    t: str | None
    z: str | None
    harmonised: bool
    method: str
    t_reference: str = ""
    z_reference: str = ""


@dataclass(frozen=True)
class ReportRecord:
    """Everything one signed report version sends into the record."""

    study_uid: str
    accession: str
    report_id: str
    study_date: dt.date
    study_time: dt.time | None
    patient: PatientOut
    referrer: str
    site_name: str
    scanner: ScannerOut
    version_no: int
    corrected: bool
    amend_reason: str
    signed_by: str
    signed_at: dt.datetime
    lang: str
    conclusion: str
    recommendation: str
    category: str
    category_label: str
    score_kind: str
    regions: tuple[RegionOut, ...]
    pdf: bytes
    title: str = "DXA"

    @property
    def order_number(self) -> str:
        """Return the accession number, or the report id when the order had none."""
        return self.accession or self.report_id

    @property
    def observed_at(self) -> dt.datetime:
        """Return the study's date and time (midnight when the time is unknown)."""
        return dt.datetime.combine(self.study_date, self.study_time or dt.time(0, 0))
