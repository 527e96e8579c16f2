"""A FHIR R4 document Bundle for a signed DXA report (plain JSON; no FHIR library at run time).

The Bundle (type ``document``) holds a Composition first, then the Patient (CPR as identifier,
system ``urn:oid:1.2.208.176.1.2``), the scanner as a Device, the DiagnosticReport (status,
LOINC code, conclusion, the category as conclusionCode, the signed PDF as presentedForm) and
one Observation per region and quantity (BMD, T, Z) with the scanner as device and the
calibration chain as method. The tests validate it with ``fhir.resources``. Resource ids are
UUIDs derived from the study and version, so the same version always gives the same Bundle.
"""

from __future__ import annotations

import base64
import html
import uuid
from typing import Any

from dxa_app.record_out import codes
from dxa_app.record_out.model import CPR_OID, RegionOut, ReportRecord

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: The FHIR identifier system of the CPR number.
CPR_SYSTEM = f"urn:oid:{CPR_OID}"
_NS = uuid.UUID("6f1d52a4-4a0e-4d55-9b8f-8e0f6f1d1717")
_GENDER = {"F": "female", "M": "male", "O": "other"}


def _urn(record: ReportRecord, part: str) -> str:
    return f"urn:uuid:{_id(record, part)}"


def _id(record: ReportRecord, part: str) -> str:
    return str(uuid.uuid5(_NS, f"{record.study_uid}|{record.version_no}|{part}"))


def _coding(code: codes.Code) -> dict[str, Any]:
    system = LOINC if code.loinc else codes.local_system("fhir")
    return {"system": system, "code": code.code, "display": code.display}


def _div(*paragraphs: str) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs if p) or "<p>-</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _patient(record: ReportRecord) -> dict[str, Any]:
    p = record.patient
    identifiers: list[dict[str, Any]] = []
    if p.cpr is not None:
        identifiers.append({"use": "official", "system": CPR_SYSTEM, "value": p.cpr})
    if p.cpr is None or p.identifier != p.cpr:
        received: dict[str, Any] = {"use": "secondary", "value": p.identifier}
        if p.issuer:
            received["assigner"] = {"display": p.issuer}
        identifiers.append(received)
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _id(record, "patient"),
        "identifier": identifiers,
    }
    name: dict[str, Any] = {}
    if p.family:
        name["family"] = p.family
    given = [g for g in (p.given, p.middle) if g]
    if given:
        name["given"] = given
    if name:
        resource["name"] = [name]
    if p.sex in _GENDER:
        resource["gender"] = _GENDER[p.sex]
    if p.birth_date is not None:
        resource["birthDate"] = p.birth_date.isoformat()
    return resource


def _device(record: ReportRecord) -> dict[str, Any]:
    s = record.scanner
    device: dict[str, Any] = {
        "resourceType": "Device",
        "id": _id(record, "device"),
        "deviceName": [{"name": s.model or s.label or "DXA", "type": "model-name"}],
    }
    if s.manufacturer:
        device["manufacturer"] = s.manufacturer
    if s.serial:
        device["serialNumber"] = s.serial
    if s.software_version:
        device["version"] = [{"value": s.software_version}]
    return device


def _observations(record: ReportRecord, status: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in record.regions:
        for kind, value in (("bmd", r.bmd), ("t", r.t), ("z", r.z)):
            if value is None:
                continue
            out.append(_observation(record, r, kind, value, status))
    return out


def _quantity(kind: str, value: str) -> dict[str, Any]:
    unit, code = {
        "bmd": ("g/cm2", "g/cm2"),
        "t": ("T-score", "{T-score}"),
        "z": ("Z-score", "{Z-score}"),
    }[kind]
    return {"value": float(value), "unit": unit, "system": UCUM, "code": code}


def _observation(
    record: ReportRecord, r: RegionOut, kind: str, value: str, status: str
) -> dict[str, Any]:
    code = codes.region_code(r.region, r.side, kind, r.label)
    notes = [r.method]
    reference = {"t": r.t_reference, "z": r.z_reference}.get(kind, "")
    if reference:
        notes.append(reference)
    return {
        "resourceType": "Observation",
        "id": _id(record, f"obs|{r.region}|{r.side}|{kind}"),
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "imaging",
                    }
                ]
            }
        ],
        "code": {"coding": [_coding(code)], "text": code.display},
        "subject": {"reference": _urn(record, "patient")},
        "effectiveDateTime": record.study_date.isoformat(),
        "issued": record.signed_at.isoformat(),
        "valueQuantity": _quantity(kind, value),
        "bodySite": {"text": r.label},
        "method": {
            "coding": [
                {
                    "system": codes.local_system("fhir"),
                    "code": "harmonised" if r.harmonised else "raw",
                }
            ],
            "text": r.method,
        },
        "device": {"reference": _urn(record, "device")},
        "note": [{"text": n} for n in notes if n],
    }


def bundle(record: ReportRecord) -> dict[str, Any]:
    """Return the FHIR R4 document Bundle of one signed report version.

    Parameters
    ----------
    record : ReportRecord
        The signed report.

    Returns
    -------
    dict
        The Bundle as JSON-ready data.
    """
    status = "corrected" if record.corrected else "final"
    observations = _observations(record, status)
    obs_refs = [{"reference": f"urn:uuid:{o['id']}"} for o in observations]
    category = codes.category_code(record.category)
    report_code = codes.report_code("panel")
    identifiers: list[dict[str, Any]] = []
    if record.accession:
        identifiers.append(
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "ACSN",
                        }
                    ]
                },
                "value": record.accession,
            }
        )
    identifiers.append({"system": "urn:dxa-dk:report", "value": record.report_id})
    conclusion = "\n\n".join(t for t in (record.conclusion, record.recommendation) if t)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": _id(record, "report"),
        "identifier": identifiers,
        "status": status,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {"coding": [_coding(report_code)], "text": record.title},
        "subject": {"reference": _urn(record, "patient")},
        "effectiveDateTime": record.study_date.isoformat(),
        "issued": record.signed_at.isoformat(),
        "resultsInterpreter": [{"display": record.signed_by}],
        "result": obs_refs,
        "conclusion": conclusion or record.category_label,
        "conclusionCode": [
            {
                "coding": [
                    {
                        "system": codes.local_system("fhir"),
                        "code": category.code,
                        "display": category.display,
                    }
                ],
                "text": record.category_label or category.display,
            }
        ],
        "presentedForm": [
            {
                "contentType": "application/pdf",
                "language": record.lang,
                "data": base64.b64encode(record.pdf).decode("ascii"),
                "title": record.title,
                "creation": record.signed_at.isoformat(),
            }
        ],
    }
    document = codes.report_code("document")
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": _id(record, "composition"),
        "text": _div(record.conclusion, record.recommendation),
        "status": "amended" if record.corrected else "final",
        "type": {"coding": [_coding(document)], "text": record.title},
        "subject": {"reference": _urn(record, "patient")},
        "date": record.signed_at.isoformat(),
        "author": [{"display": record.signed_by}],
        "title": record.title,
        "section": [
            {
                "title": record.category_label or category.display,
                "code": {"coding": [_coding(codes.report_code("impression"))]},
                "text": _div(record.conclusion, record.recommendation),
                "entry": [{"reference": _urn(record, "report")}],
            }
        ],
    }
    resources = [composition, _patient(record), _device(record), report, *observations]
    return {
        "resourceType": "Bundle",
        "id": _id(record, "bundle"),
        "identifier": {
            "system": "urn:dxa-dk:report",
            "value": f"{record.report_id}-v{record.version_no}",
        },
        "type": "document",
        "timestamp": record.signed_at.isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
