"""Assemble a report's content (ReportData) from the archive, on the current calibration chain.

Patient and scanner from the study; results, T/Z and the diagnosis from the scores on today's
chain; VFA from the newest reading; the comparison with the prior study (re-expressed on
today's chain, LSC from the scanner's latest precision study or the ISCD minimum); for level B
the BMD-for-age curve, the trend and the spine and hip images from the image store.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from calibration.rounding import round_half_away
from dxa_app.archive.database import Database
from dxa_app.archive.images import store_folder
from dxa_app.archive.precision import latest_precision
from dxa_app.archive.scale import current_scale
from dxa_app.archive.steps import approved_chain as chain_for
from dxa_app.archive.steps import is_harmonised
from dxa_app.archive.studies import (
    ImageRow,
    first_scan_text,
    latest_vfa_reading,
    prior_studies,
    region_areas,
    study_header,
    study_images,
)
from dxa_app.errors import UsageError
from dxa_app.i18n import _, translator
from dxa_app.services.images import (
    REPORT_IMAGE_KINDS,
    exposure_line,
    exposures_of,
    gray_png,
    pixels_of_rows,
    window,
)
from dxa_app.services.risk import StudyRisk, study_risk_from_scores
from dxa_app.services.scoring import (
    REFERENCE_REGION,
    Z95,
    StudyScores,
    age_at,
    compute_study_scores,
    reference_sets,
    score_study,
)
from reports.labels import fmt_bmd, fmt_score, reference_label, region_label
from reports.model import (
    AgeCurve,
    Comparison,
    ComparisonRow,
    DiagnosisInfo,
    FooterInfo,
    FraxInfo,
    OtherSidePrior,
    PatientInfo,
    ReferencePoint,
    ReportData,
    ResultRow,
    ScanImage,
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


def _printed(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _lsc(db: Database, scanner_id: int, region: str, bmd: float) -> tuple[float, str]:
    latest = latest_precision(db, scanner_id, region)
    if latest is not None and latest.lsc_g_cm2 is not None:
        return float(latest.lsc_g_cm2), "precision"
    from dxa_app.services.precision import iscd_minimums

    minimums = iscd_minimums()
    cv = minimums["minimum_cv_pct"].get(REFERENCE_REGION.get(region, region))
    if cv is None:  # a region without a listed minimum: the most lenient listed one
        cv = max(minimums["minimum_cv_pct"].values())
    return float(minimums["lsc_factor"]) * float(cv) / 100 * bmd, "iscd_minimum"


def _comparison(
    db: Database,
    study: dict[str, Any],
    current: StudyScores,
    translate: Callable[[str], str],
) -> tuple[Comparison | None, Trend | None]:
    priors = prior_studies(db, study["patient_id"], study["study_date"])
    if not priors:
        return None, None
    prior = priors[0]
    prior_scores = compute_study_scores(db, prior["id"])  # re-expressed on today's chain
    same_scanner = prior["scanner_id"] == study["scanner_id"]
    cross = False
    if not same_scanner:
        # a scanner change is comparable only when both scanners are on the national scale
        # (approved steps, or the scanner that defines the scale)
        cross = all(
            is_harmonised(
                db,
                prior["scanner_id"],
                r,
                chain_for(db, prior["scanner_id"], r, prior["study_date"]),
            )
            and is_harmonised(
                db,
                study["scanner_id"],
                r,
                chain_for(db, study["scanner_id"], r, study["study_date"]),
            )
            for r in ("L1-L4", "total_hip")
        )
        if not cross:
            return Comparison(
                (),
                new_baseline=True,
                new_baseline_reason=translate(
                    "The scanner changed without a cross-calibration, so this"
                    " scan is a new baseline."
                ),
            ), None
    cur_areas, prior_areas = region_areas(db, study["id"]), region_areas(db, prior["id"])
    prior_by_key = {(r.region, r.side): r for r in prior_scores.regions}
    rows: list[ComparisonRow] = []
    other_side: list[OtherSidePrior] = []
    for r in current.regions:
        if r.region not in ("L1-L4", "L2-L4", "total_hip", "femoral_neck"):
            continue
        p = prior_by_key.get((r.region, r.side))
        if p is None:
            # a hip measured on the other side is another bone: name it, never compare it
            others = [x for x in prior_scores.regions if x.region == r.region and x.side != r.side]
            if others and r.side and others[0].side:
                other_side.append(
                    OtherSidePrior(
                        r.region,
                        dt.date.fromisoformat(prior["study_date"]),
                        others[0].side,
                        r.side,
                    )
                )
            continue
        lsc, source = _lsc(db, study["scanner_id"], r.region, p.harmonised_bmd)
        cross_u = 0.0
        if not same_scanner:
            # two chains: their calibration errors no longer cancel in the difference
            cross_u = Z95 * math.hypot(p.calibration_sd, r.calibration_sd)
            lsc = math.hypot(lsc, cross_u)
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
                r.side,
                cross_u,
            )
        )
    trend = None
    decider = (current.diagnosis and current.diagnosis.deciding_region) or "L1-L4"
    cur = next((x for x in current.regions if x.region == decider), None)
    side = cur.side if cur is not None else None
    points = []
    for s in reversed(priors):
        sc = compute_study_scores(db, s["id"])
        # the same bone only: a hip trend never mixes the left and the right hip
        v = next(
            (x.harmonised_bmd for x in sc.regions if x.region == decider and x.side == side),
            None,
        )
        if v is not None:
            points.append(TrendPoint(dt.date.fromisoformat(s["study_date"]), v))
    if cur is not None and points:
        points.append(TrendPoint(dt.date.fromisoformat(study["study_date"]), cur.harmonised_bmd))
        lsc, _src = _lsc(db, study["scanner_id"], decider, points[0].bmd)
        trend = Trend(decider, tuple(points), lsc, side=side)
    return Comparison(tuple(rows), cross_calibrated=cross, other_side=tuple(other_side)), trend


def _scale_text(db: Database, translate: Any) -> str:
    """Name the national scale of the harmonised values (and its version) for the footer."""
    scale = current_scale(db)
    if scale.scale == "esp":
        text = translate(
            "ESP-certified (spine: European Spine Phantom; hip: in vivo to {serial})"
        ).format(serial=scale.hip_anchor or "-")
    elif scale.reference:
        text = translate("reference scanner {serial}").format(serial=scale.reference)
    else:
        return ""
    return str(text) + ", " + str(translate("version {n}").format(n=scale.version))


def _vfa(db: Database, study_id: int) -> VfaSection | None:
    reading = latest_vfa_reading(db, study_id)
    if reading is None:
        return None
    levels = tuple(
        VfaLevel(f["level"], f["grade"], f["morphology"], f["not_evaluable_reason"])
        for f in reading.findings
    )
    return VfaSection(levels, reader=reading.reader)


def _age_curve(db: Database, scores: StudyScores) -> AgeCurve | None:
    region = (scores.diagnosis and scores.diagnosis.deciding_region) or "femoral_neck"
    row = next((r for r in scores.regions if r.region == region), None)
    ref_region = REFERENCE_REGION.get(region)
    if row is None or ref_region is None or scores.age is None:
        return None
    t_tables, z_tables = reference_sets(db, scores.study_date)
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
        for z_table in z_tables:  # the first table that covers the region and age
            try:
                mean, sd = z_table.lookup(ref_region, sex, float(age))
            except KeyError:
                continue
            points.append(ReferencePoint(float(age), mean, sd))
            break
    return AgeCurve(region, tuple(points), scores.age, row.harmonised_bmd, young[0], young[1])


#: At most this many scanner images are printed (spine first, then hips).
MAX_REPORT_IMAGES = 3


def _scan_images(db: Database, rows: Sequence[ImageRow]) -> tuple[ScanImage, ...]:
    """The spine and hip images from the image store, in their default window, as grey PNGs.

    A file missing from the store is left out here (the study view names it).
    """
    found = pixels_of_rows(store_folder(db), rows, REPORT_IMAGE_KINDS)
    shown = [p for p in found if p.values is not None]
    return tuple(
        ScanImage(p.kind, gray_png(window(p.values, p.center, p.width)), p.side)
        for p in shown[:MAX_REPORT_IMAGES]
        if p.values is not None
    )


def build_report_data(
    db: Database,
    study_id: int,
    *,
    lang: str,
    level: str,
    conclusion: str | None = None,
    recommendation: str | None = None,
    sign_off: SignOff | None = None,
    scores: StudyScores | None = None,
    decisions: dict[str, str] | None = None,
) -> ReportData:
    """Assemble everything a report shows from the archive, on the current chain.

    Parameters
    ----------
    db : Database
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
    decisions : dict of str to str, optional
        The physician's keep/drop decisions on the rule-made suggestions (stored with the
        draft): kept reimbursement suggestions are shown at level B; a dropped rescan
        interval leaves the follow-up out.
    """
    from reports.rules import draft_conclusion, draft_recommendation
    from reports.vfa import iscd_vfa_indication

    translate = translator(lang)
    st = study_header(db, study_id)
    s = scores or score_study(db, study_id)
    d = s.diagnosis
    if d is None:
        raise UsageError(
            _(
                "Study {uid} has no diagnostic region with a {kind}-score (lumbar spine, total"
                " hip, femoral neck, radius 33%); a report with a diagnosis cannot be drafted"
                " from it."
            ).format(uid=st["study_uid"], kind=s.score_kind),
            _(
                "Its values are shown in the study view. Report the patient's study with a"
                " spine, hip or forearm scan."
            ),
        )
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
            r.harmonised,
        )
        for r in s.regions
        if r.region in REPORT_REGIONS
    )
    vfa = _vfa(db, study_id)
    fracture = bool(vfa and vfa.fractured)
    diagnosis = DiagnosisInfo(
        str(d.category),
        d.score_kind,
        d.deciding_region,
        d.printed_score,
        fracture,
        uncertain_range=s.category_range if s.near_threshold else None,
    )
    t_min = d.printed_score if d.score_kind == "T" else None
    sr = study_risk_from_scores(db, study_id, s, lang=lang)
    rf = sr.risk
    indication, reasons = iscd_vfa_indication(
        t_min,
        st["sex"] or "",
        age if age is not None else 0.0,
        None if rf is None else rf.height_loss_cm,
        bool(rf and rf.self_reported_vertebral_fracture),
        bool(rf and rf.glucocorticoids_significant),
        translate=translate,
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
    if s.fractured_vertebrae:
        notes.append(
            translate(
                "Vertebral fracture of grade 2-3 on the VFA reading at {levels}: consider"
                " excluding {levels} from the lumbar spine BMD."
            ).format(levels=", ".join(s.fractured_vertebrae))
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
    decider = next((r for r in s.regions if r.region == d.deciding_region), None)
    if decider is not None and decider.harmonised:
        interval = decider.z_interval if d.score_kind == "Z" else decider.t_interval
        text = translate(
            "Calibration uncertainty (stated once): the harmonised BMD of the {site} carries"
            " ±{u} g/cm² (95 %) from this scanner's calibration; with the scanner's precision"
            " (±{p} g/cm², {source}) its {kind}-score lies between {low} and {high} (95 %)."
        ).format(
            site=region_label(decider.region, translate, decider.side),
            u=fmt_bmd(Z95 * decider.calibration_sd, lang),
            p=fmt_bmd(Z95 * decider.precision_sd, lang),
            source=translate("local precision study")
            if decider.precision_source == "precision"
            else translate("ISCD minimum"),
            kind=d.score_kind,
            low=fmt_score(round_half_away(interval[0], 1), lang) if interval else "-",
            high=fmt_score(round_half_away(interval[1], 1), lang) if interval else "-",
        )
        notes.append(text)
    image_rows = study_images(db, study_id)
    exposure = exposure_line(exposures_of(image_rows), translate, lang)
    if exposure is not None:  # Euratom 2013/59: the patient exposure belongs in the report
        notes.append(exposure)
    comparison, trend = _comparison(db, st, s, translate)
    chain_ids = sorted({i for r in s.regions for i in r.chain})
    t_ref = reference_label(
        "; ".join(sorted({r.t_reference for r in s.regions if r.t_reference})), translate
    )
    z_ref = reference_label(
        "; ".join(sorted({r.z_reference for r in s.regions if r.z_reference})), translate
    )
    footer = FooterInfo(
        t_ref,
        z_ref,
        translate("calibration steps {ids}").format(ids=", ".join(map(str, chain_ids)) or "-"),
        "",  # reports/ prints its translated WHO/ISCD rule statement
        translate("score run {run}").format(run=s.run or "-"),
        scale=_scale_text(db, translate),
    )
    technologist = first_scan_text(db, study_id, "operator")
    scan_mode = first_scan_text(db, study_id, "scan_mode")
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
        fls_referral=fracture or bool(rf and rf.prior_fracture),
        age_curve=_age_curve(db, s) if level == "B" else None,
        trend=trend if level == "B" else None,
        scan_images=_scan_images(db, image_rows) if level == "B" else (),
        **_risk_content(sr, decisions or {}, lang, level, translate),
    )
    return _with_text(
        base,
        conclusion,
        recommendation,
        draft_conclusion,
        draft_recommendation,
        translate,
        vfa_indicated=indication if vfa is None else None,
        vfa_reasons=tuple(reasons),
    )


def _risk_content(
    sr: StudyRisk, decisions: dict[str, str], lang: str, level: str, translate: Any
) -> dict[str, Any]:
    """The report fields from the questionnaire, FRAX and the physician's kept suggestions."""
    from reports.risk import frax_input_label, frax_input_text, questionnaire_lines

    out: dict[str, Any] = {}
    rescan = sr.rescan
    dropped = rescan is not None and decisions.get(rescan.id) == "dropped"
    out["follow_up_years"] = None if rescan is None or dropped else rescan.years
    if level != "B":
        return out
    if sr.risk is not None and sr.risk_row is not None:
        out["risk_factors"] = questionnaire_lines(sr.risk, translate, lang=lang)
        out["risk_factors_source"] = translate(
            "Questionnaire version {v}, entered by {who} on {when}."
        ).format(
            v=sr.risk_row.version_no,
            who=sr.risk_row.entered_by,
            when=sr.risk_row.entered_at[:10],
        )
    if sr.frax_row is not None:
        fx = sr.frax_row
        out["frax"] = FraxInfo(
            fx.major_osteoporotic_pct,
            fx.hip_pct,
            translate("FRAX, {model} model, {version}").format(
                model=fx.model, version=fx.calculator_version
            ),
            {
                frax_input_label(k, translate): frax_input_text(v, lang, translate)
                for k, v in fx.inputs
            },
        )
    kept = [x for x in sr.suggestions if decisions.get(x.id) == "kept"]
    if kept:
        out["suggestions"] = tuple(x.text for x in kept)
        first = kept[0]
        status = (
            translate("confirmed by the knowledge centre")
            if first.verified
            else translate("UNVERIFIED: not yet confirmed by the knowledge centre")
        )
        out["suggestion_source"] = translate(
            "Suggested by the rule set {name}, version {version} ({status}); kept by the physician."
        ).format(name=first.rule_set, version=first.rule_set_version, status=status)
    return out


def _with_text(
    base: ReportData,
    conclusion: str | None,
    recommendation: str | None,
    draft_conclusion: Any,
    draft_recommendation: Any,
    translate: Any,
    *,
    vfa_indicated: bool | None = None,
    vfa_reasons: tuple[str, ...] = (),
) -> ReportData:
    from dataclasses import replace

    c = conclusion if conclusion is not None else draft_conclusion(base, translate)
    r = (
        recommendation
        if recommendation is not None
        else draft_recommendation(
            base, translate, vfa_indicated=vfa_indicated, vfa_reasons=vfa_reasons
        )
    )
    return replace(base, conclusion=c, recommendation=r)


def render(data: ReportData) -> bytes:
    """Render a ReportData to PDF bytes in its language.

    Parameters
    ----------
    data : ReportData
        The report content.

    Returns
    -------
    bytes
        The PDF.
    """
    from reports.pdf import render_pdf

    return render_pdf(data, translator(data.lang))
