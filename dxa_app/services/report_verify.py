"""Verify a study's signed report against someone who can edit the archive file.

What is checked, and against what:

- the audit log's hash chain, and every entry's seal against the seal keys pinned on this
  machine (the archive's own seal key file, and trusted workstations' keys) — not against
  anything stored in the archive;
- each signed version's seal over its signed fields (the hash of the conclusion and
  recommendation text as stored, the PDF's SHA-256, who signed and when), recomputed from the
  stored row, and compared field by field with the sealed ``report_sign`` audit entry, so a
  change is named ("the conclusion text changed after signing", "the stored PDF changed");
- a PAdES signature against the signer certificates this site trusts (a list kept in the key
  folder by an administrator, ``trust-signer``), never the certificate stored in the row;
- with a file, that it is byte-identical to a signed version or carries a trusted signature.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import check_audit_chain
from dxa_app.archive.reports import ReportVersion, seal_bytes, sealed_fields, stored_pdf, versions
from dxa_app.archive.seal import check_seal, pinned_keys
from dxa_app.archive.studies import study_id_for
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting
from dxa_app.services.reporting import ReportError
from dxa_app.services.signers import trusted_signer_pems

#: Field of the sealed record -> what a change of it means, for the message.
_FIELD_MEANING = {
    "content_sha256": "the conclusion or recommendation text changed after signing",
    "pdf_sha256": "the stored PDF changed after signing",
    "signed_by": "the signer changed after signing",
    "signed_at": "the signing time changed after signing",
    "status": "the version's status changed after signing",
}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a study's signed report versions."""

    ok: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"ok": self.ok, "checks": self.checks}

    @property
    def failures(self) -> list[str]:
        """Return the failed checks with their details."""
        return [
            c["check"] + (f": {c['detail']}" if c.get("detail") else "")
            for c in self.checks
            if not c["ok"]
        ]


def _sealed_sign_entries(db: Database, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The ``report_sign`` audit entries whose seal holds, by version id."""
    out: dict[str, dict[str, Any]] = {}
    for r in db.query("SELECT * FROM audit_log WHERE action = 'report_sign' ORDER BY id"):
        if keys and check_seal(keys, str(r["hash"]).encode("ascii"), r["signature"]):
            out[str(r["entity_id"])] = json.loads(r["details"])
    return out


def _check_version(
    db: Database,
    v: ReportVersion,
    keys: list[str],
    sealed: dict[str, dict[str, Any]],
    trusted: list[bytes],
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    name = f"version {v.version_no}"
    pdf = stored_pdf(db, v.id)
    now = sealed_fields(
        v.id,
        v.study_id,
        v.version_no,
        status=v.status,
        content_json=v.content_json,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        signed_at=v.signed_at or "",
        signed_by=v.signed_by or "",
    )
    sealed_text = (v.site_sealed or "").encode("utf-8")
    seal_intact = bool(keys) and check_seal(keys, sealed_text, v.site_signature)
    signed_then: dict[str, Any] = json.loads(sealed_text) if seal_intact else {}
    record = signed_then or sealed.get(str(v.id))
    changed = (
        [
            _FIELD_MEANING.get(k, k)
            for k in ("content_sha256", "pdf_sha256", "signed_by", "signed_at", "status")
            if str(record.get(k)) != str(now[k])
        ]
        if record
        else []
    )
    ok = seal_intact and seal_bytes(now) == sealed_text
    checks.append(
        {
            "check": f"{name}: the archive seal over the text, PDF, signer and time",
            "ok": ok,
            "detail": "; ".join(changed)
            if changed
            else ("" if ok else _("what is stored is not what was signed")),
        }
    )
    if record is None:
        checks.append(
            {
                "check": f"{name}: a sealed signing record",
                "ok": False,
                "detail": _("no sealed record of this signature"),
            }
        )
    if v.signer_cert:
        from dxa_app.report_out import verify_pdf

        res = verify_pdf(pdf, trusted_cert_pems=trusted) if trusted else None
        checks.append(
            {
                "check": f"{name}: PAdES signature by a trusted signer",
                "ok": bool(res and res.signed and res.intact and res.trusted),
                "detail": res.summary if res else _("no signer certificate is trusted here"),
            }
        )
    return checks


def check_signed_versions(
    db: Database,
    study_id: int,
    *,
    pdf_file: bytes | None = None,
    seal_keys: list[str] | None = None,
) -> VerifyResult:
    """Check every signed version of a study (see the module docstring for what and how).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    pdf_file : bytes, optional
        A PDF file to check against the signed versions.
    seal_keys : list of str, optional
        Seal public keys to pin instead of this machine's (a verifier elsewhere).

    Returns
    -------
    VerifyResult
        Every check and the verdict.

    Raises
    ------
    ReportError
        When the study has no signed report.
    """
    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    if not signed:
        raise ReportError(_("Study {id} has no signed report.").format(id=study_id), "")
    keys = list(seal_keys) if seal_keys else pinned_keys(db)
    checks: list[dict[str, Any]] = [
        {
            "check": "a pinned seal key",
            "ok": bool(keys),
            "detail": ""
            if keys
            else _("this machine has no seal key for the archive; give one with --seal-key"),
        }
    ]
    problems = check_audit_chain(db, keys or None)
    checks.append(
        {"check": "audit chain and seals", "ok": not problems, "detail": "; ".join(problems[:5])}
    )
    sealed = _sealed_sign_entries(db, keys)
    trusted = trusted_signer_pems(db)
    for v in signed:
        checks.extend(_check_version(db, v, keys, sealed, trusted))
    if pdf_file is not None:
        digest = hashlib.sha256(pdf_file).hexdigest()
        match = any(digest == sealed.get(str(v.id), {}).get("pdf_sha256") for v in signed)
        detail = ""
        if not match:
            from dxa_app.report_out import verify_pdf

            file_check = verify_pdf(pdf_file, trusted_cert_pems=trusted) if trusted else None
            match = bool(
                file_check and file_check.signed and file_check.intact and file_check.trusted
            )
            detail = file_check.summary if file_check else _("not identical to a signed version")
        checks.append({"check": "file is a signed version", "ok": match, "detail": detail})
    return VerifyResult(all(c["ok"] for c in checks), checks)


def verify_report(
    session: Session,
    study: str | int,
    *,
    pdf_file: bytes | None = None,
    seal_keys: list[str] | None = None,
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
    seal_keys : list of str, optional
        Seal public keys to pin instead of this machine's.

    Returns
    -------
    VerifyResult
        Every check and the verdict.
    """
    with acting(session, Permission.VIEW) as db:
        return check_signed_versions(
            db, study_id_for(db, study), pdf_file=pdf_file, seal_keys=seal_keys
        )
