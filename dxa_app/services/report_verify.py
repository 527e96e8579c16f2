"""Verify a study's signed report: stored hash, audit entry and chain, PAdES signature, a file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from dxa_app.archive.db import audit_details, verify_audit_chain
from dxa_app.archive.reports import stored_pdf, versions
from dxa_app.archive.studies import study_id_for
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting
from dxa_app.services.reporting import ReportError


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a study's signed report versions."""

    ok: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"ok": self.ok, "checks": self.checks}


def check_signed_versions(
    db: sqlite_utils.Database, study_id: int, *, pdf_file: bytes | None = None
) -> VerifyResult:
    """Check every signed version: stored PDF hash, audit entry, audit chain, PAdES signature.

    Tampering with the archive file (a changed PDF, hash or audit row) makes a check fail.
    With ``pdf_file``, also check that the file is one of the signed versions or carries a
    valid signature of a stored signer certificate.
    """
    checks: list[dict[str, Any]] = []
    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    if not signed:
        raise ReportError(_("Study {id} has no signed report.").format(id=study_id), "")
    chain_ok = verify_audit_chain(db)
    checks.append({"check": "audit chain", "ok": chain_ok})
    audit_sha = {d.get("pdf_sha256") for d in audit_details(db, "report_sign")}
    for v in signed:
        pdf = stored_pdf(db, v.id)
        digest = hashlib.sha256(pdf).hexdigest()
        checks.append(
            {
                "check": f"version {v.version_no}: stored PDF matches its hash",
                "ok": digest == v.pdf_sha256,
            }
        )
        checks.append(
            {
                "check": f"version {v.version_no}: signing recorded in the audit log",
                "ok": v.pdf_sha256 in audit_sha,
            }
        )
        if v.signer_cert:
            from dxa_app.report_out import verify_pdf

            res = verify_pdf(pdf, trusted_cert_pems=[v.signer_cert.encode("ascii")])
            checks.append(
                {
                    "check": f"version {v.version_no}: PAdES signature",
                    "ok": res.signed and res.intact and res.trusted,
                    "detail": res.summary,
                }
            )
    if pdf_file is not None:
        digest = hashlib.sha256(pdf_file).hexdigest()
        match = any(digest == v.pdf_sha256 for v in signed)
        detail = ""
        if not match:
            from dxa_app.report_out import verify_pdf

            certs = [v.signer_cert.encode("ascii") for v in signed if v.signer_cert]
            file_check = verify_pdf(pdf_file, trusted_cert_pems=certs) if certs else None
            match = bool(
                file_check and file_check.signed and file_check.intact and file_check.trusted
            )
            detail = file_check.summary if file_check else _("not identical to a signed version")
        checks.append({"check": "file is a signed version", "ok": match, "detail": detail})
    return VerifyResult(all(c["ok"] for c in checks), checks)


def verify_report(
    session: Session, study: str | int, *, pdf_file: bytes | None = None
) -> VerifyResult:
    """Check every signed version of a study's report (see :func:`check_signed_versions`).

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.
    pdf_file : bytes, optional
        A PDF file to check against the signed versions.

    Returns
    -------
    VerifyResult
        Every check and the verdict.
    """
    with acting(session, Permission.VIEW) as db:
        return check_signed_versions(db, study_id_for(db, study), pdf_file=pdf_file)
