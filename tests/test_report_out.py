"""The report leaves the tool: Encapsulated PDF (dciodvfy, Orthanc) and PAdES signatures."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from cryptography.hazmat.primitives import serialization

from dxa_app.dicom_net import STATUS_SUCCESS
from dxa_app.errors import DxaError
from dxa_app.report_out import (
    ReportSendError,
    SignatureCheck,
    SigningError,
    encapsulated_pdf,
    make_self_signed_certificate,
    send_report,
    sign_pdf,
    verify_pdf,
    write_dicom,
)
from tests.orthanc import Orthanc

pytest_plugins = ("tests.orthanc",)  # the session-scoped ``orthanc`` fixture

DCIODVFY = Path("/usr/bin/dciodvfy")
PDFSIG = Path("/usr/bin/pdfsig")
STUDY_UID = "1.2.826.0.1.3680043.8.498.4242"
SERIES_UID = "1.2.826.0.1.3680043.8.498.4243"
SOP_UID = "1.2.826.0.1.3680043.8.498.4244"
NAME = "Ærø^Søren"
TITLE = "DXA-svar – knogleskanning"


def _pdf(*lines: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=True)
    y = 800.0
    for line in ("DXA-svar", "Patient: Ærø Søren", "T-score lænd: -2,6", *lines):
        c.drawString(72, y, line)
        y -= 18
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def pdf() -> bytes:
    data = _pdf()
    assert data.startswith(b"%PDF-")
    return data


@pytest.fixture(scope="module")
def signer() -> tuple[bytes, bytes]:
    return make_self_signed_certificate("Læge Ærø Søren")


def _dataset(pdf: bytes, sop_uid: str = SOP_UID) -> pydicom.Dataset:
    return encapsulated_pdf(
        pdf,
        patient_name=NAME,
        patient_id="0101701234",
        birth_date=dt.date(1970, 1, 1),
        sex="F",
        study_uid=STUDY_UID,
        accession="ACC-1",
        study_date=dt.date(2026, 11, 2),
        study_time=dt.time(9, 30),
        referrer="Hansen^Åse",
        institution="Aarhus Universitetshospital",
        software_version="0.1.0",
        document_title=TITLE,
        series_uid=SERIES_UID,
        sop_instance_uid=sop_uid,
        content_datetime=dt.datetime(2026, 11, 23, 14, 5, 7),
    )


# --- Encapsulated PDF ---------------------------------------------------------------------


def test_encapsulated_pdf_passes_dciodvfy_and_round_trips(pdf: bytes, tmp_path: Path) -> None:
    assert DCIODVFY.exists(), "dciodvfy is required (apt-get install dicom3tools)"
    odd = pdf + b"\n" if len(pdf) % 2 == 0 else pdf  # exercise the padding
    t0 = time.perf_counter()
    path = write_dicom(_dataset(odd), tmp_path / "report.dcm")
    t1 = time.perf_counter()
    proc = subprocess.run(
        [str(DCIODVFY), str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    t2 = time.perf_counter()
    print(f"build+write {(t1 - t0) * 1000:.0f} ms, dciodvfy {(t2 - t1) * 1000:.0f} ms")
    output = proc.stdout + proc.stderr
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert not errors, output
    assert proc.returncode == 0, output

    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert ds.file_meta.MediaStorageSOPInstanceUID == SOP_UID
    assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (STUDY_UID, SERIES_UID)
    assert ds.Modality == "DOC"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == NAME
    assert ds.DocumentTitle == TITLE
    assert (ds.ConversionType, ds.BurnedInAnnotation) == ("WSD", "YES")  # issue 13: WSD
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.ConceptNameCodeSequence[0].CodeValue == "38269-7"
    assert ds.AcquisitionDateTime == "20261123140507"
    assert (ds.ContentDate, ds.ContentTime) == ("20261123", "140507")
    assert len(ds.EncapsulatedDocument) % 2 == 0
    assert ds.EncapsulatedDocumentLength == len(odd)
    assert ds.EncapsulatedDocument[: ds.EncapsulatedDocumentLength] == odd


def test_uids_are_deterministic_when_given_and_new_otherwise(pdf: bytes) -> None:
    a, b = _dataset(pdf), _dataset(pdf)
    assert (a.SeriesInstanceUID, a.SOPInstanceUID) == (b.SeriesInstanceUID, b.SOPInstanceUID)
    kw = {k: v for k, v in _kwargs().items() if k not in ("series_uid", "sop_instance_uid")}
    c, d = encapsulated_pdf(pdf, **kw), encapsulated_pdf(pdf, **kw)  # type: ignore[arg-type]
    assert c.SOPInstanceUID != d.SOPInstanceUID
    assert c.StudyInstanceUID == STUDY_UID
    with pytest.raises(ValueError, match="not a PDF"):
        encapsulated_pdf(b"hello", **kw)  # type: ignore[arg-type]


def _kwargs() -> dict[str, object]:
    return {
        "patient_name": NAME,
        "patient_id": "0101701234",
        "birth_date": None,
        "sex": None,
        "study_uid": STUDY_UID,
        "accession": "",
        "study_date": dt.date(2026, 11, 2),
        "study_time": None,
        "referrer": "",
        "institution": "",
        "software_version": "0.1.0",
        "document_title": TITLE,
        "series_uid": SERIES_UID,
        "sop_instance_uid": SOP_UID,
        "content_datetime": dt.datetime(2026, 11, 23, 14, 5, tzinfo=dt.UTC),
    }


# --- C-STORE to Orthanc -------------------------------------------------------------------


def _send(orthanc: Orthanc, what: pydicom.Dataset | Path, called_ae: str = "") -> int:
    return send_report(
        what,
        host=orthanc.host,
        port=orthanc.dicom_port,
        called_ae=called_ae or orthanc.aet,
        calling_ae="DXA",
    )


@pytest.mark.slow
def test_send_report_to_orthanc(orthanc: Orthanc, pdf: bytes, tmp_path: Path) -> None:
    sop_uid = "1.2.826.0.1.3680043.8.498.4245"
    ds = _dataset(pdf, sop_uid)
    t0 = time.perf_counter()
    status = _send(orthanc, ds)
    print(f"C-STORE (dataset) {(time.perf_counter() - t0) * 1000:.0f} ms")
    assert status == STATUS_SUCCESS

    [hit] = orthanc.rest("/tools/lookup", sop_uid)
    assert hit["Type"] == "Instance"
    tags = orthanc.rest(f"/instances/{hit['ID']}/simplified-tags")
    assert tags["StudyInstanceUID"] == STUDY_UID
    assert tags["SOPInstanceUID"] == sop_uid
    assert tags["PatientName"] == NAME
    assert tags["DocumentTitle"] == TITLE
    assert orthanc.rest_bytes(f"/instances/{hit['ID']}/pdf") == pdf

    # a file path works too, and a resend of the same instance is accepted
    path = write_dicom(ds, tmp_path / "r.dcm")
    assert _send(orthanc, path) == STATUS_SUCCESS
    raw = orthanc.rest_bytes(f"/instances/{hit['ID']}/content/0042-0011")
    assert raw.rstrip(b"\0") == pdf.rstrip(b"\0")


def test_send_to_wrong_port_is_a_clear_error(pdf: bytes) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ReportSendError) as info:
        send_report(
            _dataset(pdf),
            host="127.0.0.1",
            port=port,
            called_ae="PACS",
            calling_ae="DXA",
            timeout=5,
        )
    assert isinstance(info.value, DxaError)
    assert "not sent to PACS" in info.value.message
    assert f"127.0.0.1:{port}" in info.value.message
    assert info.value.remedy


@pytest.mark.slow
def test_wrong_called_ae_is_a_clear_error(orthanc: Orthanc, pdf: bytes) -> None:
    with pytest.raises(ReportSendError, match="rejected"):
        _send(orthanc, _dataset(pdf), called_ae="NOTPACS")


# --- PAdES --------------------------------------------------------------------------------


def _signed_range_end(signed: bytes) -> int:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    assert match, "no /ByteRange"
    start, length = int(match[1]), int(match[2])
    return start + length


def test_sign_and_verify(pdf: bytes, signer: tuple[bytes, bytes], tmp_path: Path) -> None:
    key_pem, cert_pem = signer
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the signing time has seconds
    t0 = time.perf_counter()
    signed = sign_pdf(
        pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name="Ærø Søren", reason="Godkendt"
    )
    t1 = time.perf_counter()
    check = verify_pdf(signed, trusted_cert_pems=[cert_pem])
    t2 = time.perf_counter()
    print(f"sign {(t1 - t0) * 1000:.0f} ms, verify {(t2 - t1) * 1000:.0f} ms")
    assert signed.startswith(pdf)  # an incremental update: the report's bytes are unchanged
    assert check.signed and check.intact and check.trusted and check.covers_whole_file, check
    assert check.bottom_line and check.ok
    assert check.signer == "Læge Ærø Søren"
    assert check.signed_at is not None
    assert before <= check.signed_at <= dt.datetime.now(dt.UTC)  # signed now, whatever the load
    assert "unchanged" in check.summary

    assert PDFSIG.exists(), "pdfsig is required (apt-get install poppler-utils)"
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    proc = subprocess.run(
        [str(PDFSIG), str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert "Signature is Valid" in proc.stdout, proc.stdout + proc.stderr
    assert "Total document signed" in proc.stdout, proc.stdout


def test_flipped_byte_is_not_intact(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = signer
    signed = sign_pdf(pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name="X", reason="r")
    pos = signed.index(b"ReportLab Generated")  # a comment: the PDF stays readable
    assert pos < _signed_range_end(signed)
    tampered = bytearray(signed)
    tampered[pos] ^= 0x20
    check = verify_pdf(bytes(tampered), trusted_cert_pems=[cert_pem])
    assert check.signed
    assert not check.intact and not check.bottom_line and not check.ok, check
    assert "changed" in check.summary


def test_unsigned_and_damaged_pdfs_do_not_raise(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    _key, cert_pem = signer
    check = verify_pdf(pdf, trusted_cert_pems=[cert_pem])
    assert check == SignatureCheck(False, False, False, False, "", None, "The PDF is not signed.")
    for junk in (b"", b"not a pdf at all", pdf[: len(pdf) // 2]):
        check = verify_pdf(junk, trusted_cert_pems=[cert_pem])
        assert not check.signed and not check.intact and not check.ok
        assert check.summary


def test_damaged_signature_does_not_raise(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = signer
    signed = sign_pdf(pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name="X", reason="r")
    start = _signed_range_end(signed) + 1  # the hex /Contents: overwrite the CMS blob
    damaged = signed[:start] + b"0" * 200 + signed[start + 200 :]
    check = verify_pdf(damaged, trusted_cert_pems=[cert_pem])
    assert check.signed and not check.intact and not check.ok, check


def test_other_certificate_is_not_trusted(
    pdf: bytes, signer: tuple[bytes, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    _key, trusted_cert = signer
    other_key, other_cert = make_self_signed_certificate("Someone Else")
    signed = sign_pdf(pdf, key_pem=other_key, cert_pem=other_cert, signer_name="S", reason="r")
    with caplog.at_level("DEBUG"):
        check = verify_pdf(signed, trusted_cert_pems=[trusted_cert])
    assert check.signed and check.intact and check.covers_whole_file
    assert not check.trusted and not check.bottom_line and not check.ok, check
    assert check.signer == "Someone Else"
    assert "not trusted" in check.summary
    # pyHanko's path-building traceback is reduced to one DEBUG line
    assert all(r.levelno < 30 and r.exc_info is None for r in caplog.records), caplog.text


def test_appended_content_is_reported(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    from pyhanko.pdf_utils.generic import TextStringObject
    from pyhanko.pdf_utils.incremental_writer import (
        IncrementalPdfFileWriter,
    )

    key_pem, cert_pem = signer
    signed = sign_pdf(pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name="X", reason="r")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/Lang"] = TextStringObject("da")  # a later, unsigned revision
    writer.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    check = verify_pdf(out.getvalue(), trusted_cert_pems=[cert_pem])
    assert check.signed and check.intact
    assert not check.covers_whole_file and not check.ok, check


def test_signing_errors_are_clear(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = signer
    other_key, _other_cert = make_self_signed_certificate("Other")
    with pytest.raises(SigningError, match="does not belong"):
        sign_pdf(pdf, key_pem=other_key, cert_pem=cert_pem, signer_name="X", reason="r")
    with pytest.raises(SigningError, match="could not be read"):
        sign_pdf(pdf, key_pem=b"junk", cert_pem=cert_pem, signer_name="X", reason="r")
    with pytest.raises(SigningError, match="could not be signed"):
        sign_pdf(b"%PDF-1.4 junk", key_pem=key_pem, cert_pem=cert_pem, signer_name="X", reason="r")


def test_encrypted_key_needs_its_passphrase(pdf: bytes, signer: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = signer
    key = serialization.load_pem_private_key(key_pem, password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"hemmelig"),
    )
    with pytest.raises(SigningError, match="could not be read"):
        sign_pdf(pdf, key_pem=encrypted, cert_pem=cert_pem, signer_name="X", reason="r")
    signed = sign_pdf(
        pdf,
        key_pem=encrypted,
        cert_pem=cert_pem,
        signer_name="X",
        reason="r",
        passphrase=b"hemmelig",
    )
    assert verify_pdf(signed, trusted_cert_pems=[cert_pem]).ok
