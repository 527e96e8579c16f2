"""The report into the patient record: HL7 v2.5 ORU^R01, FHIR R4 Bundle, MLLP delivery.

A sibling of :mod:`dxa_app.report_out` (the report to PACS). Everything here works on a
:class:`~dxa_app.record_out.model.ReportRecord` that the services assemble from the archive;
nothing here reads or writes the archive.

Modules
-------
model
    The signed report as it leaves for the record (identity as received, numbers, PDF).
codes
    The versioned code table in ``resources/record/dxa_codes.json`` (LOINC per region).
hl7v2
    ORU^R01 built with hl7apy; acknowledgements read (and built, for receivers and tests).
mllp
    One MLLP exchange over TCP: send a message, wait for its acknowledgement.
fhir
    A FHIR R4 document Bundle (Composition, Patient, Device, DiagnosticReport, Observations).
"""
