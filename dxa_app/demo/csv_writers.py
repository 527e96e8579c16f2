"""Writers of the generic CSV format (docs/generic-csv.md), used by the synthetic demo data.

What these functions write is exactly what :mod:`dxa_app.ingest.generic_csv` reads. The
format does not carry every field of the domain objects; reading a written file gives
back equal objects except for:

* every ``source_key``: the reader derives it from the row (``csv:<kind>:...``);
* ``ScannerIdentity.institution_name``: the file carries the *site* instead, and the
  reader puts the site into ``institution_name``;
* ``ScanRecord.software_version``: written as the scan's version, or the scanner's when the
  scan has none; the reader puts it into both the scan and (from the study's first row)
  the scanner;
* patient identifiers of type ``cpr`` come back in the canonical form ``DDMMYY-XXXX``;
* ``StudyRecord.images`` and scans without region results (they have no rows);
* the order of PhantomScanRecords with the same scanner, phantom and time is kept, but
  their numbering (``scan_no``) comes from that order.

(The module is in ``dxa_app.demo``, which must not import ``dxa_app.ingest``; the column
lists below are the same as the reader's, which a test checks.)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from pathlib import Path

from dxa_app.csv_safety import SafeWriter
from dxa_app.csv_spec import (
    FORMAT_VERSION,
    MAGIC,
    PATIENT_RESULTS_COLUMNS,
    PHANTOM_CERTIFICATES_COLUMNS,
    PHANTOM_SCANS_COLUMNS,
    RISK_FACTOR_COLUMNS,
    VFA_READINGS_COLUMNS,
)
from dxa_app.domain import (
    PhantomCertificate,
    PhantomScanRecord,
    ScannerIdentity,
    StudyRecord,
    VfaReadingRecord,
)

__all__ = [
    "FORMAT_VERSION",
    "PATIENT_RESULTS_COLUMNS",
    "PHANTOM_CERTIFICATES_COLUMNS",
    "PHANTOM_SCANS_COLUMNS",
    "VFA_READINGS_COLUMNS",
    "write_patient_results",
    "write_phantom_certificates",
    "write_phantom_scans",
    "write_vfa_readings",
]

_Cell = str | float | int | bool | dt.date | StrEnum | None


class _Formatter:
    """Turns values into cells: ISO dates, round-tripping floats, 1/0 booleans."""

    def __init__(self, decimal_comma: bool) -> None:
        self.decimal_comma = decimal_comma

    def __call__(self, value: _Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, StrEnum):
            return str(value.value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"cannot write the non-finite number {value!r}")
            text = repr(value)
            return text.replace(".", ",") if self.decimal_comma else text
        if isinstance(value, int):
            return str(value)
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        return value


def _write(
    path: Path,
    kind: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[_Cell]],
    danish_excel: bool,
) -> Path:
    fmt = _Formatter(decimal_comma=danish_excel)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = "utf-8-sig" if danish_excel else "utf-8"
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(f"{MAGIC} v{FORMAT_VERSION} {kind}\r\n")
        writer = SafeWriter(fh, delimiter=";" if danish_excel else ",", lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            if len(row) != len(columns):
                raise AssertionError(f"{kind}: {len(row)} cells for {len(columns)} columns")
            writer.writerow([fmt(cell) for cell in row])
    return path


def write_patient_results(
    path: Path, site: str, records: Sequence[StudyRecord], *, danish_excel: bool = False
) -> Path:
    """Write a ``patient_results`` file: one row per region result.

    Parameters
    ----------
    path : Path
        The file to create (overwritten when it exists; parent folders are created).
    site : str
        The site code written in the ``site`` column of every row; the reader puts it
        into ``ScannerIdentity.institution_name``.
    records : Sequence[StudyRecord]
        The studies. Study, patient and scanner columns are repeated on every row.
    danish_excel : bool, optional
        Write the Danish Excel variant (UTF-8 with BOM, ``;`` separator, decimal comma)
        instead of the standard one (UTF-8, ``,`` separator, decimal point).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When a number is NaN or infinite (the format has no such values).
    """
    rows: list[list[_Cell]] = []
    for rec in records:
        sc, pt, st = rec.scanner, rec.patient, rec.study
        answers = dict(rec.risk_factors)
        risk: list[_Cell] = [answers.get(c) for c in RISK_FACTOR_COLUMNS]
        for scan in rec.scans:
            for r in scan.results:
                rows.append(
                    [
                        site,
                        sc.manufacturer,
                        sc.model,
                        sc.serial,
                        scan.software_version or sc.software_version,
                        sc.station_name,
                        pt.identifier,
                        pt.id_type,
                        pt.name,
                        pt.birth_date,
                        pt.sex,
                        st.study_uid,
                        st.accession,
                        st.study_date,
                        st.referrer,
                        st.indication,
                        st.height_cm,
                        st.weight_kg,
                        st.menopausal,
                        scan.scan_type,
                        scan.side,
                        scan.acquired_at,
                        scan.scan_mode,
                        scan.operator,
                        r.region,
                        r.bmd_g_cm2,
                        r.bmc_g,
                        r.area_cm2,
                        r.vendor_t,
                        r.vendor_z,
                        r.included,
                        *risk,
                    ]
                )
    return _write(path, "patient_results", PATIENT_RESULTS_COLUMNS, rows, danish_excel)


def write_phantom_scans(
    path: Path,
    site: str | Callable[[ScannerIdentity], str] | None,
    scans: Sequence[PhantomScanRecord],
    *,
    danish_excel: bool = False,
) -> Path:
    """Write a ``phantom_scans`` file: one row per phantom region reading.

    Parameters
    ----------
    path : Path
        The file to create (overwritten when it exists; parent folders are created).
    site : str or Callable[[ScannerIdentity], str] or None
        The site code of every row, a function giving the site of a scanner (for files
        with scanners of several sites, e.g. a travelling-phantom round), or None to use
        each scanner's ``institution_name``.
    scans : Sequence[PhantomScanRecord]
        The phantom scans. Scans of the same scanner and phantom at the same time are
        numbered 1, 2, ... in the ``scan_no`` column, in the order given.
    danish_excel : bool, optional
        Write the Danish Excel variant (BOM, ``;`` separator, decimal comma).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When a number is NaN or infinite.
    """

    def site_of(scanner: ScannerIdentity) -> str:
        if site is None:
            return scanner.institution_name
        return site if isinstance(site, str) else site(scanner)

    counts: dict[tuple[str, str, str, dt.datetime], int] = {}
    rows: list[list[_Cell]] = []
    for scan in scans:
        sc, ph = scan.scanner, scan.phantom
        group = (sc.serial, str(ph.kind), ph.serial, scan.acquired_at)
        counts[group] = scan_no = counts.get(group, 0) + 1
        for r in scan.results:
            rows.append(
                [
                    site_of(sc),
                    sc.manufacturer,
                    sc.model,
                    sc.serial,
                    sc.software_version,
                    sc.station_name,
                    ph.kind,
                    ph.serial,
                    ph.description,
                    scan.purpose,
                    scan.round_name,
                    scan.acquired_at,
                    scan_no,
                    scan.operator,
                    scan.repositioned,
                    r.region,
                    r.bmd_g_cm2,
                    r.bmc_g,
                    r.area_cm2,
                ]
            )
    return _write(path, "phantom_scans", PHANTOM_SCANS_COLUMNS, rows, danish_excel)


def write_phantom_certificates(
    path: Path, certificates: Sequence[PhantomCertificate], *, danish_excel: bool = False
) -> Path:
    """Write a ``phantom_certificates`` file: one row per certified region value.

    Parameters
    ----------
    path : Path
        The file to create (overwritten when it exists; parent folders are created).
    certificates : Sequence[PhantomCertificate]
        The certificates.
    danish_excel : bool, optional
        Write the Danish Excel variant (BOM, ``;`` separator, decimal comma).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When a number is NaN or infinite.
    """
    rows: list[list[_Cell]] = [
        [
            cert.phantom.kind,
            cert.phantom.serial,
            cert.phantom.description,
            cert.certificate_ref,
            v.region,
            v.bmd_g_cm2,
            v.uncertainty_g_cm2,
        ]
        for cert in certificates
        for v in cert.values
    ]
    return _write(path, "phantom_certificates", PHANTOM_CERTIFICATES_COLUMNS, rows, danish_excel)


def write_vfa_readings(
    path: Path, readings: Sequence[VfaReadingRecord], *, danish_excel: bool = False
) -> Path:
    """Write a ``vfa_readings`` file: one row per vertebral level of a reading.

    Parameters
    ----------
    path : Path
        The file to create (overwritten when it exists; parent folders are created).
    readings : Sequence[VfaReadingRecord]
        The VFA readings.
    danish_excel : bool, optional
        Write the Danish Excel variant (BOM, ``;`` separator).

    Returns
    -------
    Path
        ``path``.
    """
    rows: list[list[_Cell]] = [
        [
            reading.study_uid,
            reading.reader,
            reading.read_at,
            f.level,
            f.grade,
            f.morphology,
            f.not_evaluable_reason,
        ]
        for reading in readings
        for f in reading.findings
    ]
    return _write(path, "vfa_readings", VFA_READINGS_COLUMNS, rows, danish_excel)
