"""Signed reports to PACS: the address in the archive settings, the DICOM PDF, and sending."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.archive.reports import stored_pdf, versions
from dxa_app.archive.studies import (
    first_acquisition,
    received_identity,
    study_header,
    study_id_for,
)
from dxa_app.errors import UsageError
from dxa_app.i18n import _, translator
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.reporting import ReportError

#: The archive setting that holds the PACS address.
PACS_KEY = "pacs"


@dataclass(frozen=True)
class PacsTarget:
    """Where signed reports are sent by C-STORE."""

    host: str
    port: int
    called_ae: str
    calling_ae: str = "DXA"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def _checked(target: PacsTarget) -> PacsTarget:
    if not target.host.strip() or not target.called_ae.strip():
        raise UsageError(
            _("The PACS needs a host and an AE title."), _("Fill in host, port and AE title.")
        )
    if not 0 < target.port < 65536:
        raise UsageError(
            _("The PACS port must be between 1 and 65535."), _("Check the port number.")
        )
    for ae in (target.called_ae, target.calling_ae):
        if len(ae.strip()) > 16:
            raise UsageError(
                _("An AE title has at most 16 characters."), _("Shorten the AE title.")
            )
    return PacsTarget(
        target.host.strip(),
        int(target.port),
        target.called_ae.strip(),
        target.calling_ae.strip() or "DXA",
    )


def _stored_target(db: Database) -> PacsTarget | None:
    value = get_setting(db, PACS_KEY)
    if not isinstance(value, dict):
        return None
    try:
        return PacsTarget(
            str(value["host"]),
            int(value["port"]),
            str(value["called_ae"]),
            str(value.get("calling_ae") or "DXA"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def pacs_target(session: Session) -> PacsTarget | None:
    """Return the stored PACS address, or None when none is set.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    PacsTarget or None
        The address.
    """
    with acting(session, Permission.VIEW) as db:
        return _stored_target(db)


def set_pacs_target(session: Session, target: PacsTarget) -> PacsTarget:
    """Store the PACS address in the archive (administrator; every workstation sees it).

    Parameters
    ----------
    session : Session
        The acting administrator.
    target : PacsTarget
        The address.

    Returns
    -------
    PacsTarget
        The stored (trimmed) address.

    Raises
    ------
    UsageError
        When the host, port or AE titles are not valid.
    """
    target = _checked(target)
    with acting(session, Permission.SETTINGS) as db, write_transaction(db):
        set_setting(db, PACS_KEY, target.to_dict())
        record(
            db,
            session,
            "setting_pacs",
            entity="setting",
            entity_id=PACS_KEY,
            details=target.to_dict(),
        )
    return target


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending a signed report to PACS."""

    study_id: int
    sop_instance_uid: str
    status: int
    target: PacsTarget

    @property
    def ok(self) -> bool:
        """Return whether PACS accepted the report (status 0x0000)."""
        return self.status == 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "study_id": self.study_id,
            "sop_instance_uid": self.sop_instance_uid,
            "status": self.status,
            "ok": self.ok,
            "target": self.target.to_dict(),
        }


def send_report(session: Session, study: str | int, target: PacsTarget | None = None) -> SendResult:
    """Send the newest signed version of a study's report to PACS (C-STORE) and audit it.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    target : PacsTarget, optional
        Where to send it this time (default: the stored PACS address).

    Returns
    -------
    SendResult
        The C-STORE status (0 is success).

    Raises
    ------
    UsageError
        When no PACS is given or stored.
    ReportError
        When the study has no signed report.
    """
    from dxa_app.report_out import send_report as c_store

    with acting(session, Permission.SEND) as db:
        chosen = target if target is not None else _stored_target(db)
        if chosen is None:
            raise UsageError(
                _("No PACS address is set."),
                _("Give --host, --port and --called-ae, or ask an administrator to store one."),
                screen_remedy=_(
                    "Fill in the PACS host, port and AE title, or ask an administrator to"
                    " store the address in the settings."
                ),
            )
        chosen = _checked(chosen)
        study_id = study_id_for(db, study)
        ds = dicom_for(db, study_id)
        status = c_store(
            ds,
            host=chosen.host,
            port=chosen.port,
            called_ae=chosen.called_ae,
            calling_ae=chosen.calling_ae,
        )
        record(
            db,
            session,
            "report_send",
            entity="study",
            entity_id=study_id,
            details={
                "host": chosen.host,
                "port": chosen.port,
                "ae": chosen.called_ae,
                "sop_instance_uid": str(ds.SOPInstanceUID),
                "status": status,
            },
        )
    return SendResult(study_id, str(ds.SOPInstanceUID), int(status), chosen)


#: DICOM's limit of a person name's component group (PS3.5 6.2, VR PN): 64 characters, which
#: validators count in bytes of the encoding (UTF-8 here: æ, ø and å take two).
PN_GROUP_MAX = 64


def _cut(text: str, limit: int) -> str:
    """Return ``text`` cut to at most ``limit`` bytes of UTF-8 (never inside a character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _to_pn(name: str) -> str:
    """A display name ("Given Family") as a DICOM person name ("Family^Given").

    The program makes this name (the source gave no DICOM name), so it keeps it within
    DICOM's 64 characters (UTF-8 bytes) per component group: the family name first, then
    as much of the given names as fits. A name that is already a PN (has ``^``) is only cut.
    """
    text = name.split("=")[0]
    if not text.strip():
        return ""
    if "^" in text:
        family, _sep, rest = text.partition("^")
    else:
        parts = text.split()
        family, rest = parts[-1], " ".join(parts[:-1])
    family = _cut(family, PN_GROUP_MAX - 1)
    room = PN_GROUP_MAX - len(family.encode("utf-8")) - 1
    rest = _cut(rest, room).rstrip("^ ") if room > 0 else ""
    return f"{family}^{rest}"


def _tm(value: str | None) -> dt.time | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value).time().replace(microsecond=0, tzinfo=None)


def dicom_for(db: Database, study_id: int) -> Any:
    """Return the Encapsulated PDF DICOM dataset of the newest signed version.

    The identity is the study's as its modality sent it (PatientID, IssuerOfPatientID,
    PatientName, birth date, sex, StudyInstanceUID, AccessionNumber, StudyID, StudyDate,
    StudyTime, ReferringPhysicianName: architecture rule 11), so PACS files the report with
    the images. A study from a source that is not DICOM keeps the PatientID and accession
    that source gave; its names are made from the display names (within DICOM's 64
    characters), StudyTime is the first scan's time and StudyID the archive's study id.
    """
    from dxa_app.report_out import encapsulated_pdf

    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    if not signed:
        raise ReportError(
            _("Study {id} has no signed report to send.").format(id=study_id), _("Sign it first.")
        )
    v = signed[-1]
    st = study_header(db, study_id)
    received = received_identity(db, study_id)
    from pydicom.uid import generate_uid

    patient_id = st["identifier"]
    accession = st["accession"]
    if received is not None and received.patient_id:
        patient_id = received.patient_id
        accession = received.accession or accession
    return encapsulated_pdf(
        stored_pdf(db, v.id),
        patient_name=_to_pn(st["name"]),
        patient_id=patient_id,
        birth_date=dt.date.fromisoformat(st["birth_date"]) if st["birth_date"] else None,
        sex=st["sex"],
        study_uid=st["study_uid"],
        accession=accession,
        study_date=dt.date.fromisoformat(st["study_date"]),
        study_time=_tm(first_acquisition(db, study_id)),
        study_id=str(study_id),
        referrer=_to_pn(st["referrer"]),
        institution=st["site_name"],
        software_version=_app_version(),
        document_title=translator(v.lang)("DXA report"),
        series_uid=str(generate_uid(entropy_srcs=["dxa-report-series", st["study_uid"]])),
        sop_instance_uid=str(
            generate_uid(
                entropy_srcs=["dxa-report", st["study_uid"], str(v.version_no), v.pdf_sha256 or ""]
            )
        ),
        instance_number=v.version_no,
        content_datetime=dt.datetime.fromisoformat(v.signed_at or now_iso()).replace(tzinfo=None),
        received=received if received is not None and received.source == "dicom" else None,
    )


@dataclass(frozen=True)
class FileResult:
    """The report written as a DICOM file for manual import into PACS."""

    study_id: int
    sop_instance_uid: str
    path: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def write_report_file(session: Session, study: str | int, path: Path) -> FileResult:
    """Write the newest signed report of a study as a DICOM file instead of sending it.

    The file is exactly what :func:`send_report` sends (the Encapsulated PDF with the
    identity as received), for a manual import into PACS. It is owner-only and never
    replaces a file. Audited like a send (the report leaves the program).

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    path : Path
        The file to write (must not exist; its folder must).

    Returns
    -------
    FileResult
        The file and the instance's SOP Instance UID.

    Raises
    ------
    UsageError
        When the file exists or its folder does not.
    ReportError
        When the study has no signed report.
    """
    from dxa_app.report_out import write_dicom

    if path.exists():
        raise UsageError(
            _("{path} exists; the report is never written over a file.").format(path=path),
            _("Choose a new file name."),
        )
    if not path.parent.is_dir():
        raise UsageError(_("The folder {folder} does not exist.").format(folder=path.parent), "")
    with acting(session, Permission.SEND) as db:
        study_id = study_id_for(db, study)
        ds = dicom_for(db, study_id)
        write_dicom(ds, path)
        record(
            db,
            session,
            "report_write_file",
            entity="study",
            entity_id=study_id,
            details={"file": str(path), "sop_instance_uid": str(ds.SOPInstanceUID)},
        )
    return FileResult(study_id, str(ds.SOPInstanceUID), str(path), path.stat().st_size)


def _app_version() -> str:
    from dxa_app import __version__

    return str(__version__)
