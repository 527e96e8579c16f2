"""The PACS that receives signed reports: its address in the archive settings, and sending."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from dxa_app.archive import get_setting, set_setting, write_transaction
from dxa_app.archive.db import audit
from dxa_app.errors import UsageError
from dxa_app.i18n import _

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


def pacs_target(db: sqlite_utils.Database) -> PacsTarget | None:
    """Return the stored PACS address, or None when none is set."""
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


def set_pacs_target(db: sqlite_utils.Database, target: PacsTarget, *, by: str = "") -> PacsTarget:
    """Store the PACS address in the archive (the CLI and every workstation see it).

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    target : PacsTarget
        The address.
    by : str
        Who changed it (audit log).

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
    with write_transaction(db):
        set_setting(db, PACS_KEY, target.to_dict())
        audit(
            db,
            "setting_pacs",
            username=by,
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

    @property
    def ok(self) -> bool:
        """Return whether PACS accepted the report (status 0x0000)."""
        return self.status == 0


def send_signed_report(
    db: sqlite_utils.Database, study_id: int, target: PacsTarget, *, user: str = ""
) -> SendResult:
    """Send the newest signed version of a study's report to PACS and log it.

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    study_id : int
        The study.
    target : PacsTarget
        The PACS.
    user : str
        Who sends (audit log).

    Returns
    -------
    SendResult
        The C-STORE status (0 is success).

    Raises
    ------
    ReportError
        When the study has no signed report.
    """
    from dxa_app.report_out import send_report
    from dxa_app.services.reporting import dicom_for

    target = _checked(target)
    ds = dicom_for(db, study_id)
    status = send_report(
        ds,
        host=target.host,
        port=target.port,
        called_ae=target.called_ae,
        calling_ae=target.calling_ae,
    )
    audit(
        db,
        "report_send",
        username=user,
        entity="study",
        entity_id=study_id,
        details={
            "host": target.host,
            "port": target.port,
            "ae": target.called_ae,
            "sop_instance_uid": str(ds.SOPInstanceUID),
            "status": status,
        },
    )
    return SendResult(study_id, str(ds.SOPInstanceUID), int(status))
