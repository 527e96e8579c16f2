"""The reports table family: report versions, drafts, signing rows; compare-and-set updates.

A draft is changed and signed only while it is still the same draft: every update says which
content it expects, so two physicians signing at once, or an edit racing a signature, end with
one winner and a clear refusal for the other, never with two "signed" answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.errors import NotFoundError
from dxa_app.i18n import _


@dataclass(frozen=True)
class ReportVersion:
    """One stored version of a study's report."""

    id: int
    report_id: int
    study_id: int
    version_no: int
    status: str
    lang: str
    level: str
    content: dict[str, Any]
    pdf_sha256: str | None
    signed_by: str | None
    signed_at: str | None
    supersedes_id: int | None
    amend_reason: str
    signer_cert: str | None = None
    score_run: str | None = None
    content_json: str = ""
    site_signature: str | None = None
    site_sealed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (without the PDF bytes)."""
        hidden = ("content_json", "site_signature", "site_sealed")
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in hidden}


_VERSION_SQL = (
    "SELECT rv.*, r.study_id FROM report_versions rv JOIN reports r ON r.id = rv.report_id"
)


def _version(r: dict[str, Any]) -> ReportVersion:
    return ReportVersion(
        r["id"],
        r["report_id"],
        r["study_id"],
        r["version_no"],
        r["status"],
        r["lang"],
        r["level"],
        json.loads(r["content"]),
        r["pdf_sha256"],
        r["signed_by"],
        r["signed_at"],
        r["supersedes_id"],
        r["amend_reason"],
        r["signer_cert"],
        r["score_run"],
        r["content"],
        r["site_signature"],
        r["site_sealed"],
    )


def versions(db: Database, study_id: int) -> list[ReportVersion]:
    """Return every version of a study's report, oldest first.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of ReportVersion
        The versions.
    """
    return [
        _version(r)
        for r in db.query(f"{_VERSION_SQL} WHERE r.study_id = ? ORDER BY rv.version_no", [study_id])
    ]


def latest_version(db: Database, study_id: int) -> ReportVersion | None:
    """Return the newest version of a study's report, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    ReportVersion or None
        The newest version.
    """
    all_versions = versions(db, study_id)
    return all_versions[-1] if all_versions else None


def version_by_id(db: Database, version_id: int) -> ReportVersion:
    """Return one report version by id.

    Parameters
    ----------
    db : Database
        The open archive.
    version_id : int
        The version.

    Returns
    -------
    ReportVersion
        The version.

    Raises
    ------
    NotFoundError
        When there is no such version.
    """
    rows = list(db.query(f"{_VERSION_SQL} WHERE rv.id = ?", [version_id]))
    if not rows:
        raise NotFoundError(_("No report version {id}.").format(id=version_id), "")
    return _version(rows[0])


def stored_pdf(db: Database, version_id: int) -> bytes:
    """Return the PDF stored with a signed version.

    Parameters
    ----------
    db : Database
        The open archive.
    version_id : int
        The version.

    Returns
    -------
    bytes
        The PDF.

    Raises
    ------
    NotFoundError
        When the version has no PDF.
    """
    rows = list(db.query("SELECT pdf FROM report_versions WHERE id = ?", [version_id]))
    if not rows or rows[0]["pdf"] is None:
        raise NotFoundError(_("Report version {id} has no stored PDF.").format(id=version_id), "")
    return bytes(rows[0]["pdf"])


def content_json(content: dict[str, Any]) -> str:
    """Return the stored JSON text of a version's content (stable key order).

    Parameters
    ----------
    content : dict
        The conclusion, recommendation and flags.

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(content, ensure_ascii=False, sort_keys=True)


def insert_first_draft(
    db: Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    content: dict[str, Any],
    by: str,
    score_run: str,
) -> int:
    """Create the study's report and its first draft version; return the version id.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    study_id : int
        The study.
    lang, level : str
        "da"/"en" and "A"/"B".
    content : dict
        The draft text.
    by : str
        Who made it.
    score_run : str
        The score run it shows.

    Returns
    -------
    int
        The draft version's id.
    """
    db.execute(
        "INSERT OR IGNORE INTO reports (study_id, created_at) VALUES (?, ?)", [study_id, now_iso()]
    )
    report_id = db.execute("SELECT id FROM reports WHERE study_id = ?", [study_id]).fetchone()[0]
    cur = db.execute(
        "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
        " created_at, created_by, score_run) VALUES (?, 1, 'draft', ?, ?, ?, ?, ?, ?)",
        [report_id, lang, level, content_json(content), now_iso(), by, score_run],
    )
    return int(cur.lastrowid or 0)


def update_draft(
    db: Database,
    version_id: int,
    *,
    lang: str,
    level: str,
    content: dict[str, Any],
    score_run: str,
) -> bool:
    """Change a draft; return False when it is no longer a draft (signed meanwhile).

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    version_id : int
        The draft.
    lang, level : str
        "da"/"en" and "A"/"B".
    content : dict
        The new text.
    score_run : str
        The score run it shows.

    Returns
    -------
    bool
        Whether the draft was changed.
    """
    cur = db.execute(
        "UPDATE report_versions SET lang = ?, level = ?, content = ?, score_run = ?"
        " WHERE id = ? AND status = 'draft'",
        [lang, level, content_json(content), score_run, version_id],
    )
    return int(cur.rowcount) == 1


def insert_amendment_draft(
    db: Database,
    latest: ReportVersion,
    *,
    content: dict[str, Any],
    reason: str,
    by: str,
) -> int:
    """Add the draft of an amendment after the signed ``latest``; return its id.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    latest : ReportVersion
        The signed version it supersedes.
    content : dict
        The amended text.
    reason : str
        Why it is amended.
    by : str
        Who amends.

    Returns
    -------
    int
        The new version's id (the UNIQUE version number refuses a second concurrent one).
    """
    cur = db.execute(
        "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
        " supersedes_id, amend_reason, created_at, created_by)"
        " VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)",
        [
            latest.report_id,
            latest.version_no + 1,
            latest.lang,
            latest.level,
            content_json(latest.content | content),
            latest.id,
            reason,
            now_iso(),
            by,
        ],
    )
    return int(cur.lastrowid or 0)


def sealed_fields(
    version_id: int,
    study_id: int,
    version_no: int,
    *,
    status: str,
    content_json: str,
    pdf_sha256: str,
    signed_at: str,
    signed_by: str,
) -> dict[str, Any]:
    """Return what the archive's seal signs for a signed version (text, PDF hash, who, when).

    Parameters
    ----------
    version_id, study_id, version_no : int
        The version.
    status, content_json, pdf_sha256, signed_at, signed_by : str
        Its signed columns (``content_json`` as stored: the conclusion and recommendation).

    Returns
    -------
    dict
        The fields; :func:`seal_bytes` turns them into the signed bytes.
    """
    return {
        "version_id": version_id,
        "study_id": study_id,
        "version_no": version_no,
        "status": status,
        "content_sha256": hashlib.sha256(content_json.encode("utf-8")).hexdigest(),
        "pdf_sha256": pdf_sha256,
        "signed_at": signed_at,
        "signed_by": signed_by,
    }


def seal_bytes(fields: dict[str, Any]) -> bytes:
    """Return the canonical bytes of sealed fields (sorted keys, no spaces)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def mark_signed(
    db: Database,
    version: ReportVersion,
    *,
    status: str,
    pdf: bytes,
    pdf_sha256: str,
    signed_at: str,
    signed_by: str,
    signer_cert: str | None,
    score_run: str,
    site_sealed: bytes,
    site_signature: str,
) -> bool:
    """Store the signature of a draft that still has the content it was read with.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    version : ReportVersion
        The draft as read before rendering (its ``content_json`` must still be stored).
    status : str
        ``signed`` or ``amended``.
    pdf : bytes
        The signed PDF.
    pdf_sha256, signed_at, signed_by : str
        The signature's columns.
    signer_cert : str or None
        The PAdES certificate (PEM) when the PDF carries one.
    score_run : str
        The score run it shows.
    site_signature : str
        The archive seal over the bytes of :func:`sealed_fields` (stored beside it).

    Returns
    -------
    bool
        False when the draft was signed or changed by someone else meanwhile.
    """
    cur = db.execute(
        "UPDATE report_versions SET status = ?, pdf = ?, pdf_sha256 = ?, signed_at = ?,"
        " signed_by = ?, signer_cert = ?, score_run = ?, site_sealed = ?, site_signature = ?"
        " WHERE id = ? AND status = 'draft' AND content = ?",
        [
            status,
            pdf,
            pdf_sha256,
            signed_at,
            signed_by,
            signer_cert,
            score_run,
            site_sealed.decode("utf-8"),
            site_signature,
            version.id,
            version.content_json,
        ],
    )
    return int(cur.rowcount) == 1
