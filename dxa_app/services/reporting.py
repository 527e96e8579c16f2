"""The standardized DXA report ("DXA-svar"): build it from the archive, edit, sign, amend, verify.

A study has one report with numbered versions. A draft version can be edited (conclusion,
recommendation); signing (physician role, password re-entered) renders the PDF with the sign-off,
optionally adds a PAdES signature with the physician's certificate, stores the PDF and its
SHA-256, and writes a hash-chained audit entry; a signed version is immutable (SQLite triggers).
An amendment is a new signed version that points at the one it supersedes, with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlite_utils

from dxa_app.archive import write_transaction
from dxa_app.archive.db import audit, now_iso, verify_audit_chain
from dxa_app.domain import Role
from dxa_app.errors import DxaError, NotFoundError, PermissionDeniedError, UsageError
from dxa_app.i18n import _, translator
from dxa_app.services.calibration import chain_for
from dxa_app.services.scoring import (
    REFERENCE_REGION,
    StudyScores,
    age_at,
    compute_study_scores,
    reference_tables,
    score_study,
)
from reports.model import (
    AgeCurve,
    Comparison,
    ComparisonRow,
    DiagnosisInfo,
    FooterInfo,
    PatientInfo,
    ReferencePoint,
    ReportData,
    ResultRow,
    ScannerInfo,
    SignOff,
    Trend,
    TrendPoint,
    VfaLevel,
    VfaSection,
)

#: Regions shown in the results table, in order.
REPORT_REGIONS = (
    "L1",
    "L2",
    "L3",
    "L4",
    "L1-L4",
    "L2-L4",
    "total_hip",
    "femoral_neck",
    "radius_33",
)


class ReportError(DxaError):
    """A report cannot be made, signed or sent as asked."""


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

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (without the PDF bytes)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


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
    )


def versions(db: sqlite_utils.Database, study_id: int) -> list[ReportVersion]:
    """Return every version of a study's report, oldest first."""
    return [
        _version(r)
        for r in db.query(f"{_VERSION_SQL} WHERE r.study_id = ? ORDER BY rv.version_no", [study_id])
    ]


def latest_version(db: sqlite_utils.Database, study_id: int) -> ReportVersion | None:
    """Return the newest version of a study's report, or None."""
    all_versions = versions(db, study_id)
    return all_versions[-1] if all_versions else None


def stored_pdf(db: sqlite_utils.Database, version_id: int) -> bytes:
    """Return the PDF stored with a signed version."""
    rows = list(db.query("SELECT pdf FROM report_versions WHERE id = ?", [version_id]))
    if not rows or rows[0]["pdf"] is None:
        raise NotFoundError(_("Report version {id} has no stored PDF.").format(id=version_id), "")
    return bytes(rows[0]["pdf"])


# --- building the ReportData ----------------------------------------------------------------


def _study_row(db: sqlite_utils.Database, study_id: int) -> dict[str, Any]:
    rows = list(
        db.query(
            "SELECT st.*, p.name, p.identifier, p.birth_date, p.sex, sc.manufacturer, sc.model,"
            " sc.serial, sc.software_version, coalesce(si.name, si.code, '') AS site_name"
            " FROM studies st JOIN patients p ON p.id = st.patient_id"
            " JOIN scanners sc ON sc.id = st.scanner_id LEFT JOIN sites si ON si.id = sc.site_id"
            " WHERE st.id = ?",
            [study_id],
        )
    )
    if not rows:
        raise NotFoundError(
            _("No study {id}.").format(id=study_id), _("See 'studies' for the study ids.")
        )
    return rows[0]


def _model_without_vendor(manufacturer: str, model: str) -> str:
    """The model name without a vendor word the manufacturer already says ("Lunar iDXA")."""
    from dxa_app.domain import scanner_label

    label = scanner_label(manufacturer, model)
    return label[len(manufacturer) :].strip() if label.startswith(manufacturer) else model


def _person(name: str) -> str:
    """A DICOM person name ("Family^Given") as people write it ("Given Family")."""
    if "^" not in name:
        return name
    from dxa_app.ingest.dicom_common import person_name

    return person_name(name)


def _to_pn(name: str) -> str:
    """A display name ("Given Family") as a DICOM person name ("Family^Given")."""
    if "^" in name or not name.strip():
        return name
    parts = name.split()
    return f"{parts[-1]}^{' '.join(parts[:-1])}" if len(parts) > 1 else f"{parts[0]}^"


def _printed(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _lsc(db: sqlite_utils.Database, scanner_id: int, region: str, bmd: float) -> tuple[float, str]:
    rows = list(
        db.query(
            "SELECT lsc_g_cm2 FROM precision_studies WHERE scanner_id = ? AND region = ?"
            " AND lsc_g_cm2 IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
            [scanner_id, region],
        )
    )
    if rows:
        return float(rows[0]["lsc_g_cm2"]), "precision"
    from dxa_app.services.precision import iscd_minimums

    minimums = iscd_minimums()
    cv = minimums["minimum_cv_pct"].get(REFERENCE_REGION.get(region, region))
    if cv is None:  # a region without a listed minimum: the most lenient listed one
        cv = max(minimums["minimum_cv_pct"].values())
    return float(minimums["lsc_factor"]) * float(cv) / 100 * bmd, "iscd_minimum"


def _areas(db: sqlite_utils.Database, study_id: int) -> dict[str, float]:
    return {
        r["region"]: r["area_cm2"]
        for r in db.query(
            "SELECT rr.region, rr.area_cm2 FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
            " WHERE s.study_id = ? AND rr.area_cm2 IS NOT NULL",
            [study_id],
        )
    }


def _comparison(
    db: sqlite_utils.Database, study: dict[str, Any], current: StudyScores
) -> tuple[Comparison | None, Trend | None]:
    priors = list(
        db.query(
            "SELECT id, study_date, scanner_id FROM studies WHERE patient_id = ? AND study_date < ?"
            " ORDER BY study_date DESC",
            [study["patient_id"], study["study_date"]],
        )
    )
    if not priors:
        return None, None
    prior = priors[0]
    prior_scores = compute_study_scores(db, prior["id"])  # re-expressed on today's chain
    same_scanner = prior["scanner_id"] == study["scanner_id"]
    cross = False
    if not same_scanner:
        # a scanner change is comparable only when both scanners have approved steps
        cross = all(
            chain_for(db, prior["scanner_id"], r, prior["study_date"])
            and chain_for(db, study["scanner_id"], r, study["study_date"])
            for r in ("L1-L4", "total_hip")
        )
        if not cross:
            return Comparison(
                (),
                new_baseline=True,
                new_baseline_reason=_(
                    "The scanner changed without a cross-calibration, so this"
                    " scan is a new baseline."
                ),
            ), None
    cur_areas, prior_areas = _areas(db, study["id"]), _areas(db, prior["id"])
    prior_by_key = {(r.region, r.side): r for r in prior_scores.regions}
    rows: list[ComparisonRow] = []
    for r in current.regions:
        if r.region not in ("L1-L4", "L2-L4", "total_hip", "femoral_neck"):
            continue
        p = prior_by_key.get((r.region, r.side))
        if p is None:
            continue
        lsc, source = _lsc(db, study["scanner_id"], r.region, p.harmonised_bmd)
        rows.append(
            ComparisonRow(
                r.region,
                dt.date.fromisoformat(prior["study_date"]),
                p.harmonised_bmd,
                r.harmonised_bmd,
                lsc,
                source,
                prior_areas.get(r.region),
                cur_areas.get(r.region),
            )
        )
    trend = None
    decider = current.diagnosis.deciding_region or "L1-L4"
    points = []
    for s in reversed(priors):
        sc = compute_study_scores(db, s["id"])
        v = next((x.harmonised_bmd for x in sc.regions if x.region == decider), None)
        if v is not None:
            points.append(TrendPoint(dt.date.fromisoformat(s["study_date"]), v))
    cur_v = next((x.harmonised_bmd for x in current.regions if x.region == decider), None)
    if cur_v is not None and points:
        points.append(TrendPoint(dt.date.fromisoformat(study["study_date"]), cur_v))
        lsc, _src = _lsc(db, study["scanner_id"], decider, points[0].bmd)
        trend = Trend(decider, tuple(points), lsc)
    return Comparison(tuple(rows), cross_calibrated=cross), trend


def _vfa(db: sqlite_utils.Database, study_id: int) -> VfaSection | None:
    readings = list(
        db.query(
            "SELECT id, reader FROM vfa_readings WHERE study_id = ? ORDER BY read_at DESC, id DESC"
            " LIMIT 1",
            [study_id],
        )
    )
    if not readings:
        return None
    levels = tuple(
        VfaLevel(f["level"], f["grade"], f["morphology"], f["not_evaluable_reason"])
        for f in db.query(
            "SELECT * FROM vfa_findings WHERE vfa_reading_id = ? ORDER BY id", [readings[0]["id"]]
        )
    )
    return VfaSection(levels, reader=readings[0]["reader"])


def _age_curve(db: sqlite_utils.Database, scores: StudyScores) -> AgeCurve | None:
    region = scores.diagnosis.deciding_region or "femoral_neck"
    row = next((r for r in scores.regions if r.region == region), None)
    ref_region = REFERENCE_REGION.get(region)
    if row is None or ref_region is None or scores.age is None:
        return None
    t_tables, z_table = reference_tables(db)
    young: tuple[float, float] | None = None
    for t in t_tables:
        try:
            young = t.lookup(ref_region, "F", None)
            break
        except KeyError:
            continue
    if young is None:
        return None
    sex = scores.sex if scores.sex in ("F", "M") else "F"
    points = []
    for age in range(25, 90, 5):
        try:
            mean, sd = z_table.lookup(ref_region, sex, float(age))
        except KeyError:
            continue
        points.append(ReferencePoint(float(age), mean, sd))
    return AgeCurve(region, tuple(points), scores.age, row.harmonised_bmd, young[0], young[1])


def build_report_data(
    db: sqlite_utils.Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    sign_off: SignOff | None = None,
    scores: StudyScores | None = None,
) -> ReportData:
    """Assemble everything a report shows from the archive, on the current chain.

    Parameters
    ----------
    db : sqlite_utils.Database
        The archive.
    study_id : int
        The study.
    lang, level : str
        "da"/"en" and "A"/"B".
    conclusion, recommendation : str, optional
        The physician's text; None drafts it from the rules.
    sign_off : SignOff, optional
        The sign-off block (draft when None).
    scores : StudyScores, optional
        The scores to show (default: score the study on the current chain and store them).
    """
    from reports.rules import draft_conclusion, draft_recommendation
    from reports.vfa import iscd_vfa_indication

    translate = translator(lang)
    st = _study_row(db, study_id)
    s = scores or score_study(db, study_id)
    age = age_at(st["birth_date"], st["study_date"])
    patient = PatientInfo(
        st["name"],
        st["identifier"],
        dt.date.fromisoformat(st["birth_date"]) if st["birth_date"] else None,
        age,
        st["sex"],
        st["height_cm"],
        st["weight_kg"],
        None if st["menopausal"] is None else bool(st["menopausal"]),
    )
    results = tuple(
        ResultRow(
            r.region,
            r.side,
            r.harmonised_bmd,
            r.raw_bmd,
            _printed(r.t_printed),
            _printed(r.z_printed),
            r.included,
            r.category,
        )
        for r in s.regions
        if r.region in REPORT_REGIONS
    )
    vfa = _vfa(db, study_id)
    fracture = bool(vfa and vfa.fractured)
    d = s.diagnosis
    diagnosis = DiagnosisInfo(
        str(d.category), d.score_kind, d.deciding_region, d.printed_score, fracture
    )
    t_min = d.printed_score if d.score_kind == "T" else None
    indication, reasons = iscd_vfa_indication(
        t_min, st["sex"] or "", age if age is not None else 0.0, None, False, False
    )
    if vfa is not None:
        vfa = VfaSection(vfa.levels, vfa.reader, indication, tuple(reasons))
    notes: list[str] = []
    excluded = [
        r.region for r in s.regions if r.region in ("L1", "L2", "L3", "L4") and not r.included
    ]
    if excluded:
        notes.append(
            translate("Vertebrae excluded by the scan analysis: {levels}.").format(
                levels=", ".join(excluded)
            )
        )
    if s.exclusion_hints:
        notes.append(
            translate(
                "T-score differs by more than 1.0 from a neighbour: consider excluding {levels}."
            ).format(levels=", ".join(s.exclusion_hints))
        )
    if not s.harmonised:
        notes.append(
            translate(
                "Some values are not harmonised (no approved calibration for "
                "this scanner and region); raw values were used."
            )
        )
    comparison, trend = _comparison(db, st, s)
    chain_ids = sorted({i for r in s.regions for i in r.chain})
    t_ref = "; ".join(sorted({r.t_reference for r in s.regions if r.t_reference}))
    z_ref = "; ".join(sorted({r.z_reference for r in s.regions if r.z_reference}))
    footer = FooterInfo(
        t_ref,
        z_ref,
        translate("calibration steps {ids}").format(ids=", ".join(map(str, chain_ids)) or "-"),
        "",  # reports/ prints its translated WHO/ISCD rule statement
        translate("score run {run}").format(run=s.run or "-"),
    )
    technologist = next(
        iter(
            db.query(
                "SELECT operator FROM scans WHERE study_id = ? AND operator <> '' LIMIT 1",
                [study_id],
            )
        ),
        {"operator": ""},
    )["operator"]
    scan_mode = next(
        iter(
            db.query(
                "SELECT scan_mode FROM scans WHERE study_id = ? AND scan_mode <> '' LIMIT 1",
                [study_id],
            )
        ),
        {"scan_mode": ""},
    )["scan_mode"]
    base = ReportData(
        report_id=f"DXA-{study_id:06d}",
        lang=lang,
        level=level,
        site_name=st["site_name"],
        department=translate("Bone density (DXA)"),
        patient=patient,
        referrer=st["referrer"],
        indication=st["indication"],
        scan_date=dt.date.fromisoformat(st["study_date"]),
        scanner=ScannerInfo(
            st["manufacturer"], st["model"], st["serial"], st["software_version"], st["site_name"]
        ),
        technologist=technologist,
        scan_mode=scan_mode,
        technical_notes=tuple(notes),
        results=results,
        diagnosis=diagnosis,
        vfa=vfa,
        comparison=comparison,
        conclusion="",
        recommendation="",
        sign_off=sign_off or SignOff("draft", 1),
        footer=footer,
        fls_referral=fracture,
        age_curve=_age_curve(db, s) if level == "B" else None,
        trend=trend if level == "B" else None,
        follow_up_years=2.0,
    )
    return _with_text(
        base, conclusion, recommendation, draft_conclusion, draft_recommendation, translate
    )


def _with_text(
    base: ReportData,
    conclusion: str | None,
    recommendation: str | None,
    draft_conclusion: Any,
    draft_recommendation: Any,
    translate: Any,
) -> ReportData:
    from dataclasses import replace

    c = conclusion if conclusion is not None else draft_conclusion(base, translate)
    r = recommendation if recommendation is not None else draft_recommendation(base, translate)
    return replace(base, conclusion=c, recommendation=r)


def render(data: ReportData) -> bytes:
    """Render a ReportData to PDF bytes in its language."""
    from reports.pdf import render_pdf

    return render_pdf(data, translator(data.lang))


# --- drafts, signing, amending --------------------------------------------------------------


def save_draft(
    db: sqlite_utils.Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    by: str = "",
) -> tuple[ReportVersion, bytes]:
    """Create or update the study's draft and return it with its rendered PDF.

    When the newest version is signed, a new draft is not made here (use :func:`amend`).
    """
    if lang not in ("da", "en") or level not in ("A", "B"):
        raise UsageError(_("Language must be da or en and level A or B."), "")
    latest = latest_version(db, study_id)
    if latest is not None and latest.status != "draft":
        raise ReportError(
            _("The report of study {id} is signed; it cannot be edited.").format(id=study_id),
            _("Write an amendment instead ('amend')."),
        )
    prev = latest.content if latest is not None else {}
    conclusion = conclusion if conclusion is not None else prev.get("conclusion")
    recommendation = recommendation if recommendation is not None else prev.get("recommendation")
    data = build_report_data(
        db, study_id, lang=lang, level=level, conclusion=conclusion, recommendation=recommendation
    )
    content = {
        "conclusion": data.conclusion,
        "recommendation": data.recommendation,
        "edited": conclusion is not None or recommendation is not None,
    }
    with write_transaction(db):
        if latest is None:
            db.execute(
                "INSERT OR IGNORE INTO reports (study_id, created_at) VALUES (?, ?)",
                [study_id, now_iso()],
            )
            report_id = db.execute(
                "SELECT id FROM reports WHERE study_id = ?", [study_id]
            ).fetchone()[0]
            db.execute(
                "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
                " created_at, created_by, score_run) VALUES (?, 1, 'draft', ?, ?, ?, ?, ?, ?)",
                [
                    report_id,
                    lang,
                    level,
                    json.dumps(content, ensure_ascii=False),
                    now_iso(),
                    by,
                    _run_of(data),
                ],
            )
        else:
            db.execute(
                "UPDATE report_versions SET lang = ?, level = ?, content = ?, score_run = ?"
                " WHERE id = ?",
                [lang, level, json.dumps(content, ensure_ascii=False), _run_of(data), latest.id],
            )
    version = latest_version(db, study_id)
    assert version is not None
    return version, render(data)


def _run_of(data: ReportData) -> str:
    return data.footer.generated_by.rsplit(" ", 1)[-1]


def _sign_pdf(
    pdf: bytes, key_pem: bytes | None, cert_pem: bytes | None, name: str, reason: str
) -> bytes:
    if key_pem is None or cert_pem is None:
        return pdf
    from dxa_app.report_out import sign_pdf

    return sign_pdf(pdf, key_pem=key_pem, cert_pem=cert_pem, signer_name=name, reason=reason)


def sign(
    db: sqlite_utils.Database,
    study_id: int,
    *,
    user: str,
    role: Role,
    key_pem: bytes | None = None,
    cert_pem: bytes | None = None,
) -> ReportVersion:
    """Sign the study's draft (physician role): render, PAdES-sign if a key is given, store.

    Raises
    ------
    PermissionDeniedError
        When the user is not a physician.
    ReportError
        When there is no draft to sign.
    """
    if role is not Role.PHYSICIAN:
        raise PermissionDeniedError(
            _("Only a physician can sign a report."), _("Ask a physician to read and sign it.")
        )
    latest = latest_version(db, study_id)
    if latest is None or latest.status != "draft":
        raise ReportError(
            _("There is no draft report of study {id} to sign.").format(id=study_id),
            _("Make the draft first ('report'), or amend a signed report."),
        )
    return _sign_version(db, latest, user=user, key_pem=key_pem, cert_pem=cert_pem, status="signed")


def _sign_version(
    db: sqlite_utils.Database,
    version: ReportVersion,
    *,
    user: str,
    key_pem: bytes | None,
    cert_pem: bytes | None,
    status: str,
    amendments: tuple[tuple[int, str, dt.datetime], ...] = (),
) -> ReportVersion:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sign_off = SignOff(status, version.version_no, user, at, amendments)
    data = build_report_data(
        db,
        version.study_id,
        lang=version.lang,
        level=version.level,
        conclusion=version.content.get("conclusion"),
        recommendation=version.content.get("recommendation"),
        sign_off=sign_off,
    )
    pdf = _sign_pdf(
        render(data),
        key_pem,
        cert_pem,
        user,
        _("DXA report {id} version {v}").format(id=data.report_id, v=version.version_no),
    )
    digest = hashlib.sha256(pdf).hexdigest()
    with write_transaction(db):
        db.execute(
            "UPDATE report_versions SET status = ?, pdf = ?, pdf_sha256 = ?, signed_at = ?,"
            " signed_by = ?, signer_cert = ?, score_run = ? WHERE id = ? AND status = 'draft'",
            [
                status,
                pdf,
                digest,
                at.isoformat(),
                user,
                cert_pem.decode("ascii") if cert_pem else None,
                _run_of(data),
                version.id,
            ],
        )
        audit(
            db,
            "report_sign",
            username=user,
            entity="report_version",
            entity_id=version.id,
            details={
                "study_id": version.study_id,
                "version": version.version_no,
                "status": status,
                "pdf_sha256": digest,
                "pades": cert_pem is not None,
            },
        )
    signed = next(v for v in versions(db, version.study_id) if v.id == version.id)
    return signed


def amend(
    db: sqlite_utils.Database,
    study_id: int,
    *,
    user: str,
    role: Role,
    reason: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    key_pem: bytes | None = None,
    cert_pem: bytes | None = None,
) -> ReportVersion:
    """Add a signed amendment: a new version pointing at the signed one it supersedes."""
    if role is not Role.PHYSICIAN:
        raise PermissionDeniedError(
            _("Only a physician can amend a report."), _("Ask a physician to read and sign it.")
        )
    if not reason.strip():
        raise UsageError(_("An amendment needs a reason."), _("Give it with --reason."))
    latest = latest_version(db, study_id)
    if latest is None or latest.status == "draft":
        raise ReportError(
            _("There is no signed report of study {id} to amend.").format(id=study_id),
            _("Sign the draft instead."),
        )
    content = dict(latest.content)
    if conclusion is not None:
        content["conclusion"] = conclusion
    if recommendation is not None:
        content["recommendation"] = recommendation
    with write_transaction(db):
        cur = db.execute(
            "INSERT INTO report_versions (report_id, version_no, status, lang, level, content,"
            " supersedes_id, amend_reason, created_at, created_by)"
            " VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)",
            [
                latest.report_id,
                latest.version_no + 1,
                latest.lang,
                latest.level,
                json.dumps(content, ensure_ascii=False),
                latest.id,
                reason,
                now_iso(),
                user,
            ],
        )
    new_id = int(cur.lastrowid or 0)
    draft = next(v for v in versions(db, study_id) if v.id == new_id)
    earlier = [
        (v.version_no, v.amend_reason, dt.datetime.fromisoformat(v.signed_at or now_iso()))
        for v in versions(db, study_id)
        if v.amend_reason and v.status != "draft"
    ]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    history = (*earlier, (draft.version_no, reason, now))
    return _sign_version(
        db,
        draft,
        user=user,
        key_pem=key_pem,
        cert_pem=cert_pem,
        status="amended",
        amendments=history,
    )


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking a study's signed report versions."""

    ok: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"ok": self.ok, "checks": self.checks}


def verify(
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
    audit_sha = {
        json.loads(r["details"]).get("pdf_sha256")
        for r in db.query("SELECT details FROM audit_log WHERE action = 'report_sign'")
    }
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


def dicom_for(db: sqlite_utils.Database, study_id: int) -> Any:
    """Return the Encapsulated PDF DICOM dataset of the newest signed version."""
    from dxa_app.report_out import encapsulated_pdf

    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    if not signed:
        raise ReportError(
            _("Study {id} has no signed report to send.").format(id=study_id), _("Sign it first.")
        )
    v = signed[-1]
    st = _study_row(db, study_id)
    from pydicom.uid import generate_uid

    return encapsulated_pdf(
        stored_pdf(db, v.id),
        patient_name=_to_pn(st["name"]),
        patient_id=st["identifier"],
        birth_date=dt.date.fromisoformat(st["birth_date"]) if st["birth_date"] else None,
        sex=st["sex"],
        study_uid=st["study_uid"],
        accession=st["accession"],
        study_date=dt.date.fromisoformat(st["study_date"]),
        study_time=None,
        referrer=st["referrer"],
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
    )


def _app_version() -> str:
    from dxa_app import __version__

    return str(__version__)
