"""The report's life as user actions: open the draft, edit it, sign, amend, patient summary.

A study has one report with numbered versions. A draft version can be edited (conclusion,
recommendation; physician role, audited); signing (physician role, password re-entered)
renders the PDF with the sign-off, optionally adds a PAdES signature with the physician's
certificate, stores the PDF and its SHA-256, and writes a hash-chained audit entry; a signed
version is immutable (SQLite triggers). An amendment is a new signed version that points at the
one it supersedes, with a reason. Every change is a compare-and-set on the draft that was read,
so concurrent signers or an edit racing a signature get a clear refusal, never two "signed".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from typing import Any

from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, now_iso
from dxa_app.archive.reports import (
    ReportVersion,
    insert_amendment_draft,
    insert_first_draft,
    latest_version,
    mark_signed,
    seal_bytes,
    sealed_fields,
    stored_pdf,
    update_draft,
    version_by_id,
    versions,
)
from dxa_app.archive.seal import seal
from dxa_app.archive.studies import study_id_for
from dxa_app.errors import DxaError, UsageError
from dxa_app.i18n import _, translator
from dxa_app.services.auth import Permission, Session, acting, confirm_password, record
from dxa_app.services.report_data import build_report_data, render
from reports.model import ReportData, SignOff

__all__ = [
    "ReportError",
    "ReportVersion",
    "amend_report",
    "edit_draft",
    "open_report",
    "patient_summary",
    "report_versions",
    "sign_report",
]


class ReportError(DxaError):
    """A report cannot be made, signed or sent as asked."""


def _check_lang_level(lang: str, level: str) -> None:
    if lang not in ("da", "en") or level not in ("A", "B"):
        raise UsageError(_("Language must be da or en and level A or B."), "")


def _run_of(data: ReportData) -> str:
    return data.footer.generated_by.rsplit(" ", 1)[-1]


def _signed_elsewhere(db: Database, study_id: int) -> ReportError:
    """The refusal when someone else signed or changed the draft: who and when, if signed."""
    latest = latest_version(db, study_id)
    if latest is not None and latest.status != "draft":
        return ReportError(
            _(
                "The report of study {id} was signed meanwhile by {who} at {when} (version {v})."
            ).format(
                id=study_id,
                who=latest.signed_by or "?",
                when=(latest.signed_at or "?").replace("T", " ")[:16],
                v=latest.version_no,
            ),
            _("Open it again and read the signed version; amend it if needed."),
        )
    return ReportError(
        _("The draft of study {id} was changed by someone else in the meantime.").format(
            id=study_id
        ),
        _("Open it again, read it, and sign it."),
    )


def save_draft(
    db: Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    by: str = "",
    suggestions: dict[str, str] | None = None,
) -> tuple[ReportVersion, bytes]:
    """Create or update the study's draft and return it with its rendered PDF (no audit).

    The physician's earlier text and keep/drop decisions on the suggestions are kept unless
    new ones are given. When the newest version is signed, no draft is made here (amend
    instead).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    lang, level : str
        "da"/"en" and "A"/"B".
    conclusion, recommendation : str, optional
        New physician text; None keeps the stored text (or the drafted one).
    by : str
        Who makes the draft (stored with a new draft).
    suggestions : dict of str to str, optional
        The physician's decisions on the suggestions (id to ``kept``/``dropped``); None
        keeps the stored ones.

    Returns
    -------
    tuple of (ReportVersion, bytes)
        The draft and its PDF.

    Raises
    ------
    ReportError
        When the report is signed, or was signed while this draft was being saved.
    """
    _check_lang_level(lang, level)
    latest = latest_version(db, study_id)
    if latest is not None and latest.status != "draft":
        raise ReportError(
            _("The report of study {id} is signed; it cannot be edited.").format(id=study_id),
            _("Write an amendment instead ('amend')."),
        )
    prev = latest.content if latest is not None else {}
    conclusion = conclusion if conclusion is not None else prev.get("conclusion")
    recommendation = recommendation if recommendation is not None else prev.get("recommendation")
    decisions = suggestions if suggestions is not None else prev.get("suggestions")
    data = build_report_data(
        db,
        study_id,
        lang=lang,
        level=level,
        conclusion=conclusion,
        recommendation=recommendation,
        decisions=decisions,
    )
    content: dict[str, Any] = {
        "conclusion": data.conclusion,
        "recommendation": data.recommendation,
        "edited": conclusion is not None or recommendation is not None,
    }
    if decisions:
        content["suggestions"] = dict(sorted(decisions.items()))
    with write_transaction(db):
        if latest is None:
            version_id = insert_first_draft(
                db,
                study_id,
                lang=lang,
                level=level,
                content=content,
                by=by,
                score_run=_run_of(data),
            )
        else:
            if not update_draft(
                db, latest.id, lang=lang, level=level, content=content, score_run=_run_of(data)
            ):
                raise _signed_elsewhere(db, study_id)
            version_id = latest.id
    return version_by_id(db, version_id), render(data)


def _sign_pdf(
    pdf: bytes, key_pem: bytes | None, cert_pem: bytes | None, name: str, reason: str
) -> bytes:
    if key_pem is None or cert_pem is None:
        return pdf
    from dxa_app.report_out import sign_pdf

    return sign_pdf(pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name=name, reason=reason)


def sign_version(
    db: Database,
    version: ReportVersion,
    *,
    by: str,
    signer_name: str,
    key_pem: bytes | None,
    cert_pem: bytes | None,
    status: str,
    amendments: tuple[tuple[int, str, dt.datetime], ...] = (),
) -> ReportVersion:
    """Render, optionally PAdES-sign and store the signature of a draft version; audit it.

    The role and password checks are the caller's (:func:`sign_report`,
    :func:`amend_report`). The signature is stored only if the draft still has the content
    it was rendered from.

    Parameters
    ----------
    db : Database
        The open archive.
    version : ReportVersion
        The draft to sign.
    by : str
        The signing physician's user name (stored and audited).
    signer_name : str
        The physician's name as printed in the sign-off and the PAdES signature.
    key_pem, cert_pem : bytes or None
        The physician's key and certificate for a PAdES signature.
    status : str
        ``signed`` or ``amended``.
    amendments : tuple
        The amendment history printed in the sign-off.

    Returns
    -------
    ReportVersion
        The signed version.

    Raises
    ------
    ReportError
        When someone else signed or changed the draft meanwhile.
    """
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sign_off = SignOff(status, version.version_no, signer_name, at, amendments)
    data = build_report_data(
        db,
        version.study_id,
        lang=version.lang,
        level=version.level,
        conclusion=version.content.get("conclusion"),
        recommendation=version.content.get("recommendation"),
        sign_off=sign_off,
        decisions=version.content.get("suggestions"),
    )
    pdf = _sign_pdf(
        render(data),
        key_pem,
        cert_pem,
        signer_name,
        _("DXA report {id} version {v}").format(id=data.report_id, v=version.version_no),
    )
    digest = hashlib.sha256(pdf).hexdigest()
    fields = sealed_fields(
        version.id,
        version.study_id,
        version.version_no,
        status=status,
        content_json=version.content_json,
        pdf_sha256=digest,
        signed_at=at.isoformat(),
        signed_by=by,
    )
    with write_transaction(db):
        stored = mark_signed(
            db,
            version,
            status=status,
            pdf=pdf,
            pdf_sha256=digest,
            signed_at=at.isoformat(),
            signed_by=by,
            signer_cert=cert_pem.decode("ascii") if cert_pem else None,
            score_run=_run_of(data),
            site_sealed=seal_bytes(fields),
            site_signature=seal(db, seal_bytes(fields)),
        )
        if not stored:
            raise _signed_elsewhere(db, version.study_id)
        audit(
            db,
            "report_sign",
            username=by,
            entity="report_version",
            entity_id=version.id,
            details={**fields, "version": version.version_no, "pades": cert_pem is not None},
        )
    return version_by_id(db, version.id)


# --- user actions ---------------------------------------------------------------------------


def open_report(
    session: Session, study: str | int, *, lang: str, level: str
) -> tuple[ReportVersion, bytes]:
    """Return the study's report: the newest signed PDF, or the refreshed draft and its PDF.

    Making or refreshing a draft keeps any physician text already in it.

    Parameters
    ----------
    session : Session
        The logged-in user (technician or physician).
    study : str or int
        The study's archive id or Study Instance UID.
    lang, level : str
        "da"/"en" and "A"/"B" for a draft.

    Returns
    -------
    tuple of (ReportVersion, bytes)
        The version shown and its PDF.
    """
    with acting(session, Permission.DRAFT) as db:
        study_id = study_id_for(db, study)
        latest = latest_version(db, study_id)
        if latest is not None and latest.status != "draft":
            return latest, stored_pdf(db, latest.id)
        return save_draft(db, study_id, lang=lang, level=level, by=session.username)


def edit_draft(
    session: Session,
    study: str | int,
    *,
    lang: str,
    level: str,
    conclusion: str | None,
    recommendation: str | None,
) -> tuple[ReportVersion, bytes]:
    """Store the physician's conclusion and recommendation in the draft; audited.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    lang, level : str
        "da"/"en" and "A"/"B".
    conclusion, recommendation : str or None
        The physician's text (None keeps the stored one).

    Returns
    -------
    tuple of (ReportVersion, bytes)
        The draft and its PDF.

    Raises
    ------
    PermissionDeniedError
        Unless the user is a physician.
    ReportError
        When the report is signed.
    """
    with acting(session, Permission.DRAFT_EDIT) as db:
        study_id = study_id_for(db, study)
        version, pdf = _edit(db, session, study_id, lang, level, conclusion, recommendation)
    return version, pdf


def _edit(
    db: Database,
    session: Session,
    study_id: int,
    lang: str,
    level: str,
    conclusion: str | None,
    recommendation: str | None,
) -> tuple[ReportVersion, bytes]:
    version, pdf = save_draft(
        db,
        study_id,
        lang=lang,
        level=level,
        conclusion=conclusion,
        recommendation=recommendation,
        by=session.username,
    )
    details: dict[str, Any] = {
        "study_id": study_id,
        "version": version.version_no,
        "lang": lang,
        "level": level,
        "content_sha256": hashlib.sha256(version.content_json.encode("utf-8")).hexdigest(),
    }
    record(
        db,
        session,
        "report_draft_save",
        entity="report_version",
        entity_id=version.id,
        details=details,
    )
    return version, pdf


def sign_report(
    session: Session,
    study: str | int,
    *,
    password: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    lang: str | None = None,
    level: str | None = None,
    key_pem: bytes | None = None,
    cert_pem: bytes | None = None,
) -> ReportVersion:
    """Sign the study's draft (physician; password re-entered); text given is saved first.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    password : str
        The physician's password, typed again.
    conclusion, recommendation : str, optional
        Edited text to save (audited) before signing.
    lang, level : str, optional
        Change the draft's language or level before signing.
    key_pem, cert_pem : bytes, optional
        The physician's key and certificate for a PAdES signature.

    Returns
    -------
    ReportVersion
        The signed version.

    Raises
    ------
    PermissionDeniedError
        Unless the user is a physician and the password is right.
    ReportError
        When there is no draft, or someone else signed or changed it meanwhile.
    """
    with acting(session, Permission.SIGN) as db:
        confirm_password(db, session, password)
        study_id = study_id_for(db, study)
        latest = latest_version(db, study_id)
        if latest is not None and latest.status != "draft":
            raise _signed_elsewhere(db, study_id)
        if latest is None:
            raise ReportError(
                _("There is no draft report of study {id} to sign.").format(id=study_id),
                _("Make the draft first ('report'), or amend a signed report."),
            )
        changes = (
            (conclusion is not None and conclusion != latest.content.get("conclusion"))
            or (
                recommendation is not None
                and recommendation != latest.content.get("recommendation")
            )
            or (lang is not None and lang != latest.lang)
            or (level is not None and level != latest.level)
        )
        if changes:
            latest, _pdf = _edit(
                db,
                session,
                study_id,
                lang or latest.lang,
                level or latest.level,
                conclusion,
                recommendation,
            )
        return sign_version(
            db,
            latest,
            by=session.username,
            signer_name=session.display_name,
            key_pem=key_pem,
            cert_pem=cert_pem,
            status="signed",
        )


def amend_report(
    session: Session,
    study: str | int,
    *,
    password: str,
    reason: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    key_pem: bytes | None = None,
    cert_pem: bytes | None = None,
) -> ReportVersion:
    """Add a signed amendment: a new version pointing at the signed one it supersedes.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    password : str
        The physician's password, typed again.
    reason : str
        Why the report is amended (printed and stored).
    conclusion, recommendation : str, optional
        The new text (None keeps the signed text).
    key_pem, cert_pem : bytes, optional
        The physician's key and certificate for a PAdES signature.

    Returns
    -------
    ReportVersion
        The signed amendment.

    Raises
    ------
    PermissionDeniedError
        Unless the user is a physician and the password is right.
    UsageError
        Without a reason.
    ReportError
        When there is no signed report, or another amendment was made meanwhile.
    """
    if not reason.strip():
        raise UsageError(_("An amendment needs a reason."), _("Give it with --reason."))
    with acting(session, Permission.SIGN) as db:
        confirm_password(db, session, password)
        study_id = study_id_for(db, study)
        latest = latest_version(db, study_id)
        if latest is None or latest.status == "draft":
            raise ReportError(
                _("There is no signed report of study {id} to amend.").format(id=study_id),
                _("Sign the draft instead."),
            )
        content: dict[str, Any] = {}
        if conclusion is not None:
            content["conclusion"] = conclusion
        if recommendation is not None:
            content["recommendation"] = recommendation
        try:
            with write_transaction(db):
                new_id = insert_amendment_draft(
                    db, latest, content=content, reason=reason, by=session.username
                )
        except sqlite3.IntegrityError as exc:
            raise _signed_elsewhere(db, study_id) from exc
        draft = version_by_id(db, new_id)
        earlier = [
            (v.version_no, v.amend_reason, dt.datetime.fromisoformat(v.signed_at or now_iso()))
            for v in versions(db, study_id)
            if v.amend_reason and v.status != "draft"
        ]
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        history = (*earlier, (draft.version_no, reason, now))
        return sign_version(
            db,
            draft,
            by=session.username,
            signer_name=session.display_name,
            key_pem=key_pem,
            cert_pem=cert_pem,
            status="amended",
            amendments=history,
        )


def patient_summary(session: Session, study: str | int, *, lang: str, level: str) -> bytes:
    """Return the one-page patient summary PDF of a study.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.
    lang, level : str
        "da"/"en" and "A"/"B".

    Returns
    -------
    bytes
        The PDF.
    """
    from reports.pdf import render_patient_summary

    _check_lang_level(lang, level)
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        latest = latest_version(db, study_id)
        decisions = latest.content.get("suggestions") if latest is not None else None
        data = build_report_data(db, study_id, lang=lang, level=level, decisions=decisions)
    return render_patient_summary(data, translator(lang))


def report_versions(session: Session, study: str | int) -> list[ReportVersion]:
    """Return every version of a study's report, oldest first.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    list of ReportVersion
        The versions.
    """
    with acting(session, Permission.VIEW) as db:
        return versions(db, study_id_for(db, study))
