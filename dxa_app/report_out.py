"""The report leaves the tool: DICOM Encapsulated PDF to PACS, and PAdES-signed PDF."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import highdicom as hd
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID
from pydicom import Dataset, config
from pydicom.charset import python_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, generate_uid

from dxa_app.dicom_net import DicomNetError, send_files
from dxa_app.domain import SourceIdentity
from dxa_app.errors import DxaError
from dxa_app.fileio import create_owner_only
from dxa_app.i18n import _

if TYPE_CHECKING:  # pyHanko is imported when first used: it takes ~0.3-0.5 s
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers import SimpleSigner

__all__ = [
    "DXA_REPORT_CONCEPT",
    "ReportSendError",
    "SignatureCheck",
    "SigningError",
    "encapsulated_pdf",
    "make_self_signed_certificate",
    "send_report",
    "sign_pdf",
    "verify_pdf",
    "write_dicom",
]

LOGGER = logging.getLogger(__name__)

#: ConceptNameCodeSequence of the report: LOINC 38269-7, the code of HL7's FHIR example
#: "diagnosticreport-example-dxa" ("DXA BONE DENSITOMETRY"). UNVERIFIED: the meaning below
#: was not checked against loinc.org's Long Common Name.
DXA_REPORT_CONCEPT: tuple[str, str, str] = ("38269-7", "LN", "DXA Bone density")

_PDF_MIME = "application/pdf"
_CHARSET = "ISO_IR 192"  # UTF-8: Danish letters and dashes survive (ecosystem notes, section 4)
_CERTVALIDATOR = "pyhanko_certvalidator"
_PYHANKO_CMS_LOGGER = "pyhanko.sign.validation.generic_cms"


class ReportSendError(DicomNetError):
    """The report could not be sent to PACS (no connection or a refused association)."""


class SigningError(DxaError):
    """A PDF could not be signed (bad key, passphrase, certificate or PDF)."""


# --- DICOM Encapsulated PDF --------------------------------------------------------------


def _da(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _dt(value: dt.datetime) -> str:
    text = value.strftime("%Y%m%d%H%M%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + value.strftime("%z")  # "" for a naive datetime


#: The identity elements written exactly as received (architecture rule 11), with their VRs.
_RECEIVED_ELEMENTS: tuple[tuple[str, str, str], ...] = (
    ("patient_id", "PatientID", "LO"),
    ("issuer_of_patient_id", "IssuerOfPatientID", "LO"),
    ("patient_name", "PatientName", "PN"),
    ("birth_date", "PatientBirthDate", "DA"),
    ("sex", "PatientSex", "CS"),
    ("accession", "AccessionNumber", "SH"),
    ("study_id", "StudyID", "SH"),
    ("study_date", "StudyDate", "DA"),
    ("study_time", "StudyTime", "TM"),
    ("referring_physician", "ReferringPhysicianName", "PN"),
)
_TEXT_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})


def _put_received(ds: Dataset, received: SourceIdentity) -> None:
    """Write the identity elements exactly as the modality sent them.

    They are not validated here: what the modality sent is what PACS knows the patient and
    study by.
    """
    for field_name, keyword, vr in _RECEIVED_ELEMENTS:
        value = getattr(received, field_name)
        if keyword == "IssuerOfPatientID" and not value:
            if keyword in ds:
                del ds[keyword]
            continue
        tag = tag_for_keyword(keyword)
        assert tag is not None
        ds[tag] = DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _single_byte_codec(character_set: str) -> str | None:
    """Return the Python codec of a single-valued, non-ISO-2022 SpecificCharacterSet."""
    term = character_set.strip()
    if not term or "\\" in term or "2022" in term:
        return None
    codec = python_encoding.get(term)
    return codec if isinstance(codec, str) else None


def _charset_for(ds: Dataset, character_set: str) -> str | None:
    """Return ``character_set`` when every text of ``ds`` can be written in it, else None."""
    codec = _single_byte_codec(character_set)
    if codec is None:
        return None
    for elem in ds.iterall():
        if elem.VR in _TEXT_VRS and elem.value is not None:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            for v in values:
                try:
                    str(v).encode(codec)
                except UnicodeEncodeError:
                    return None
    return character_set.strip()


def encapsulated_pdf(
    pdf: bytes,
    *,
    patient_name: str,
    patient_id: str,
    birth_date: dt.date | None,
    sex: str | None,
    study_uid: str,
    accession: str,
    study_date: dt.date,
    study_time: dt.time | None,
    referrer: str,
    institution: str,
    manufacturer: str = "DXA-DK",
    model: str = "dxa",
    software_version: str,
    document_title: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 900,
    instance_number: int = 1,
    content_datetime: dt.datetime,
    study_id: str = "",
    issuer_of_patient_id: str = "",
    received: SourceIdentity | None = None,
) -> Dataset:
    """Wrap a PDF report as a DICOM Encapsulated PDF in the patient's existing DXA study.

    The instance gets the study's StudyInstanceUID and a new series (modality ``DOC``,
    ConversionType ``WSD``: made on a workstation) and the PDF padded to an even length. It
    passes ``dciodvfy`` without errors. With ``received`` (the identity the modality sent),
    PatientID, IssuerOfPatientID, PatientName, PatientBirthDate, PatientSex,
    AccessionNumber, StudyID, StudyDate, StudyTime and ReferringPhysicianName are written
    exactly as received, so PACS files the report with the images (one patient, one study);
    the text is written in the modality's SpecificCharacterSet when every text of the
    instance fits in it (the name's bytes are then the modality's), else in UTF-8
    (``ISO_IR 192``), which holds every character.

    Parameters
    ----------
    pdf : bytes
        The PDF document.
    patient_name : str
        DICOM person name, e.g. ``"Ærø^Søren"`` (each component group at most 64
        characters: the caller cuts a name it makes).
    patient_id : str
        The patient ID used by the DXA study (the CPR number in Danish hospitals).
    birth_date : date or None
        Birth date; None leaves the Type 2 attribute empty.
    sex : str or None
        ``"M"``, ``"F"`` or ``"O"``; None leaves it empty.
    study_uid : str
        StudyInstanceUID of the DXA study the report belongs to.
    accession : str
        Accession number of the study (may be empty).
    study_date : date
        Study date of the DXA study.
    study_time : time or None
        Study time of the DXA study.
    referrer : str
        Referring physician as a DICOM person name (may be empty).
    institution : str
        Institution name.
    manufacturer, model, software_version : str
        Our equipment: this program.
    document_title : str
        DocumentTitle, shown by PACS viewers.
    series_uid, sop_instance_uid : str, optional
        UIDs to use (deterministic output); new ones are generated when omitted.
    series_number, instance_number : int
        Series and instance numbers.
    content_datetime : datetime
        When the report was made (ContentDate/Time and AcquisitionDateTime).
    study_id : str
        StudyID (SH, at most 16 characters; may be empty).
    issuer_of_patient_id : str
        IssuerOfPatientID (left out when empty).
    received : SourceIdentity, optional
        The identity exactly as the modality sent it; its elements replace the ones above.

    Returns
    -------
    pydicom.Dataset
        The instance with its file meta information, ready for :func:`write_dicom`.

    Raises
    ------
    ValueError
        When ``pdf`` is not a PDF.
    """
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("not a PDF document (no %PDF- header)")
    ds: Dataset = hd.base.SOPClass(
        study_instance_uid=study_uid,
        series_instance_uid=series_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or generate_uid(),
        sop_class_uid=EncapsulatedPDFStorage,
        instance_number=instance_number,
        modality="DOC",
        manufacturer=manufacturer,
        manufacturer_model_name=model,
        software_versions=software_version,
        institution_name=institution or None,
        transfer_syntax_uid=ExplicitVRLittleEndian,
        patient_id=patient_id,
        patient_name=patient_name,
        patient_birth_date=_da(birth_date) if birth_date else None,
        patient_sex=sex or None,
        accession_number=accession,
        study_id=study_id or None,
        study_date=study_date,
        study_time=study_time,
        referring_physician_name=referrer,
        series_description=document_title,
        content_date=content_datetime.date(),
        content_time=content_datetime.time().replace(tzinfo=None),
        specific_character_set=_CHARSET,
    )
    if "StudyID" not in ds:
        ds.StudyID = ""  # Type 2
    if issuer_of_patient_id:
        ds.IssuerOfPatientID = issuer_of_patient_id
    code, scheme, meaning = DXA_REPORT_CONCEPT
    ds.ConversionType = "WSD"  # a workstation made the document (not a scanned one)
    ds.BurnedInAnnotation = "YES"  # the PDF shows name and CPR number
    ds.AcquisitionDateTime = _dt(content_datetime)
    ds.DocumentTitle = document_title
    ds.ConceptNameCodeSequence = [hd.sr.CodedConcept(code, scheme, meaning)]
    ds.MIMETypeOfEncapsulatedDocument = _PDF_MIME
    ds.EncapsulatedDocument = pdf + b"\0" if len(pdf) % 2 else pdf
    ds.EncapsulatedDocumentLength = len(pdf)
    if received is not None:
        _put_received(ds, received)
        charset = _charset_for(ds, received.character_set)
        if charset is not None:
            ds.SpecificCharacterSet = charset
    return ds


def write_dicom(ds: Dataset, path: Path | str) -> Path:
    """Write a dataset as an owner-only DICOM Part 10 file (a temporary name, then renamed).

    Parameters
    ----------
    ds : pydicom.Dataset
        A dataset with file meta information, e.g. from :func:`encapsulated_pdf`.
    path : Path or str
        The file to write; its folder must exist.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.unlink(missing_ok=True)
        create_owner_only(tmp)  # the report holds patient data: readable by its owner only
        ds.save_as(tmp, enforce_file_format=True)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def send_report(
    ds_or_path: Dataset | Path | str,
    *,
    host: str,
    port: int,
    called_ae: str,
    calling_ae: str,
    timeout: float = 30.0,
) -> int:
    """Send an Encapsulated PDF (or any DICOM instance) to PACS by C-STORE.

    Parameters
    ----------
    ds_or_path : pydicom.Dataset, Path or str
        The instance, or a DICOM Part 10 file.
    host, port : str, int
        The PACS.
    called_ae : str
        The PACS's AE title.
    calling_ae : str
        Our AE title (PACS often only accept known ones).
    timeout : float
        Seconds to wait for the connection and each reply.

    Returns
    -------
    int
        The C-STORE status from PACS: 0x0000 is success, 0xBxxx a warning, anything else a
        failure (0x0110 when the file could not be read or got no reply).

    Raises
    ------
    ReportSendError
        When no association could be made (wrong host, port or AE title, PACS down).
    """
    with contextlib.ExitStack() as stack:
        if isinstance(ds_or_path, Dataset):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dxa-send-")))
            path = write_dicom(ds_or_path, folder / "report.dcm")
        else:
            path = Path(ds_or_path)
        try:
            [(_path, status)] = send_files(
                host, port, called_ae, calling_ae, [path], timeout=timeout
            )
        except DicomNetError as exc:
            raise ReportSendError(
                _("The report was not sent to PACS: {reason}").format(reason=exc.message),
                exc.remedy,
            ) from exc
    return status


# --- PAdES signatures -------------------------------------------------------------------


def make_self_signed_certificate(common_name: str, *, days: int = 3650) -> tuple[bytes, bytes]:
    """Make a self-signed EC P-256 signing certificate (for tests and the demo).

    Parameters
    ----------
    common_name : str
        Subject and issuer common name, e.g. the physician's name.
    days : int
        Validity in days from now (it starts 5 minutes ago against clock skew).

    Returns
    -------
    tuple of bytes
        ``(key_pem, cert_pem)``: an unencrypted PKCS#8 key and the certificate, both PEM.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # nonRepudiation, which pyHanko requires by default
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_signer(key_pem: bytes, cert_pem: bytes, passphrase: bytes | None) -> SimpleSigner:
    """Return a pyHanko SimpleSigner, checking that the key belongs to the certificate."""
    from pyhanko.keys import (
        load_certs_from_pemder_data,
        load_private_key_from_pemder_data,
    )
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    try:
        key = serialization.load_pem_private_key(key_pem, password=passphrase)
        certs = x509.load_pem_x509_certificates(cert_pem)
    except (TypeError, ValueError) as exc:  # wrong / missing passphrase, not PEM
        raise SigningError(
            _("The signing key or certificate could not be read: {reason}").format(reason=exc),
            _("Check the key file, the certificate file and the passphrase."),
        ) from exc
    if _public_der(key.public_key()) != _public_der(certs[0].public_key()):
        raise SigningError(
            _("The signing key does not belong to the certificate."),
            _("Check the key file, the certificate file and the passphrase."),
        )
    signing_key = load_private_key_from_pemder_data(key_pem, passphrase=passphrase)
    chain = list(load_certs_from_pemder_data(cert_pem))
    return signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=signing_key,
        cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
    )


def sign_pdf(
    pdf: bytes,
    *,
    key_pem: bytes,
    cert_pem: bytes,
    signer_name: str,
    reason: str,
    location: str = "Danmark",
    passphrase: bytes | None = None,
) -> bytes:
    """Sign a PDF: PAdES baseline B (ETSI.CAdES.detached), SHA-256, an invisible field.

    The signature is an incremental update, so the original bytes stay unchanged.

    Parameters
    ----------
    pdf : bytes
        The PDF to sign.
    key_pem : bytes
        The private key (PEM, PKCS#8 or traditional; encrypted when ``passphrase``).
    cert_pem : bytes
        The signer's certificate, optionally followed by its chain (PEM).
    signer_name : str
        The signer's name written into the signature dictionary.
    reason : str
        Why the document is signed, e.g. "Godkendt DXA-svar".
    location : str
        Where it was signed.
    passphrase : bytes, optional
        Passphrase of an encrypted key.

    Returns
    -------
    bytes
        The signed PDF.

    Raises
    ------
    SigningError
        When the key, passphrase, certificate or PDF cannot be used.
    """
    from pyhanko.pdf_utils.incremental_writer import (
        IncrementalPdfFileWriter,
    )
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers

    signer = _load_signer(key_pem, cert_pem, passphrase)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        existing = len(list(fields.enumerate_sig_fields(writer)))
        field_name = f"Signature{existing + 1}"
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            name=signer_name,
            reason=reason,
            location=location,
        )
        pdf_signer = signers.PdfSigner(
            meta, signer=signer, new_field_spec=fields.SigFieldSpec(field_name)
        )
        out = pdf_signer.sign_pdf(writer, output=io.BytesIO())
    except (PdfError, ValueError, KeyError) as exc:
        raise SigningError(
            _("The PDF could not be signed: {reason}").format(reason=exc),
            _("Make the report again, then sign it."),
        ) from exc
    return bytes(out.getvalue())


@dataclass(frozen=True)
class SignatureCheck:
    """The result of :func:`verify_pdf` (for the last signature of the file).

    Attributes
    ----------
    signed : bool
        The file carries at least one signature.
    intact : bool
        Every signed byte range still hashes to the signed digest and the signature value
        is correct (all signatures).
    trusted : bool
        The signer's certificate chains to one of the trusted certificates (all signatures).
    covers_whole_file : bool
        The last signature covers the entire file: nothing was appended after signing.
    signer : str
        Common name of the last signer ("" when unsigned).
    signed_at : datetime or None
        The signing time the signer reported (not a trusted timestamp).
    summary : str
        One translated sentence for the user, with the reason of a failure.
    bottom_line : bool
        pyHanko's overall verdict for every signature (intact, valid and trusted).
    """

    signed: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    signer: str
    signed_at: dt.datetime | None
    summary: str
    bottom_line: bool = False

    @property
    def ok(self) -> bool:
        """Whether the document can be relied on: pyHanko's verdict and whole-file coverage."""
        return self.signed and self.bottom_line and self.covers_whole_file


class _QuietPathBuilding(logging.Filter):
    """Turn pyHanko's WARNING-with-traceback for an untrusted chain into a one-line DEBUG.

    pyHanko logs (and does not raise) certvalidator errors such as "no issuer matching";
    :func:`verify_pdf` reports them in :attr:`SignatureCheck.summary` instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__module__.startswith(_CERTVALIDATOR):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _install_log_filter() -> None:
    logger = logging.getLogger(_PYHANKO_CMS_LOGGER)
    if not any(isinstance(f, _QuietPathBuilding) for f in logger.filters):
        logger.addFilter(_QuietPathBuilding())


def _unsigned(summary: str) -> SignatureCheck:
    return SignatureCheck(False, False, False, False, "", None, summary)


def _damaged(exc: Exception) -> SignatureCheck:
    summary = _("The signature is damaged: {reason}").format(reason=exc)
    return SignatureCheck(True, False, False, False, "", None, summary)


def _has_filled_signature_field(reader: PdfFileReader) -> bool:
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        return any(True for _field in enumerate_sig_fields(reader, filled_status=True))
    except Exception:  # the field tree itself is broken: treat the file as unreadable
        return False


def _common_name(cert: Any) -> str:
    try:
        subject = cert.subject.native
        return str(subject.get("common_name") or cert.subject.human_friendly)
    except (AttributeError, ValueError):  # an odd certificate: keep the check going
        return ""


def _trust_roots(trusted_cert_pems: Sequence[bytes]) -> list[Any]:
    from pyhanko.keys import load_certs_from_pemder_data

    roots: list[Any] = []
    for pem in trusted_cert_pems:
        try:
            roots.extend(load_certs_from_pemder_data(pem))
        except ValueError as exc:
            raise SigningError(
                _("A trusted certificate could not be read: {reason}").format(reason=exc),
                _("Check the list of trusted certificates."),
            ) from exc
    return roots


def verify_pdf(pdf: bytes, *, trusted_cert_pems: Sequence[bytes]) -> SignatureCheck:
    """Check the PAdES signatures of a PDF against a list of trusted certificates.

    Never raises for a damaged or unsigned PDF: it answers ``signed=False`` or
    ``intact=False`` with the reason in ``summary``. No network access is made (no
    OCSP/CRL fetching); only the given certificates are trusted, not the system's.

    Parameters
    ----------
    pdf : bytes
        The PDF file.
    trusted_cert_pems : sequence of bytes
        PEM certificates to trust as roots (e.g. the hospital's signing CA, or a
        self-signed signer certificate).

    Returns
    -------
    SignatureCheck
        The verdict; use :attr:`SignatureCheck.ok` for a yes/no decision.

    Raises
    ------
    SigningError
        When a trusted certificate cannot be read (a configuration error).
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import (
        SignatureCoverageLevel,
    )
    from pyhanko_certvalidator import ValidationContext

    roots = _trust_roots(trusted_cert_pems)
    _install_log_filter()
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
    except Exception as exc:  # damaged PDF: pyHanko raises many kinds of errors
        LOGGER.debug("unreadable PDF", exc_info=True)
        return _unsigned(_("The PDF could not be read: {reason}").format(reason=exc))
    try:
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # a filled signature field whose CMS blob cannot be parsed
        LOGGER.debug("unreadable signature", exc_info=True)
        if not _has_filled_signature_field(reader):
            return _unsigned(_("The PDF could not be read: {reason}").format(reason=exc))
        return _damaged(exc)
    if not signatures:
        return _unsigned(_("The PDF is not signed."))

    statuses: list[Any] = []
    for sig in signatures:
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        try:
            statuses.append(validate_pdf_signature(sig, context))
        except Exception as exc:  # a mangled signature: pyHanko raises many kinds
            LOGGER.debug("signature %s could not be validated", sig.field_name, exc_info=True)
            return _damaged(exc)

    last = statuses[-1]
    intact = all(bool(s.intact) and bool(s.valid) for s in statuses)
    trusted = all(bool(s.trusted) for s in statuses)
    bottom_line = all(bool(s.bottom_line) for s in statuses)
    whole = last.coverage == SignatureCoverageLevel.ENTIRE_FILE
    signer = _common_name(last.signing_cert)
    signed_at = last.signer_reported_dt
    when = signed_at.strftime("%Y-%m-%d %H:%M %Z").strip() if signed_at else "?"
    if not intact:
        summary = _("The document was changed after {signer} signed it.").format(signer=signer)
    elif not trusted:
        summary = _("Signed by {signer} at {when}, but the certificate is not trusted.").format(
            signer=signer, when=when
        )
    elif not whole:
        summary = _("Signed by {signer} at {when}, but content was added afterwards.").format(
            signer=signer, when=when
        )
    elif not bottom_line:
        summary = _("Signed by {signer} at {when}, but the signature is not valid.").format(
            signer=signer, when=when
        )
    else:
        summary = _("Signed by {signer} at {when}; the document is unchanged.").format(
            signer=signer, when=when
        )
    return SignatureCheck(
        signed=True,
        intact=intact,
        trusted=trusted,
        covers_whole_file=whole,
        signer=signer,
        signed_at=signed_at,
        summary=summary,
        bottom_line=bottom_line,
    )
