"""Text rules of the report: diagnosis, comparison, draft conclusion and recommendation."""

from __future__ import annotations

from collections.abc import Sequence

from reports.labels import (
    Translate,
    category_label,
    fmt_bmd,
    fmt_date,
    fmt_decimal,
    fmt_score,
    fmt_years,
    join_words,
    region_label,
)
from reports.model import Comparison, ComparisonRow, DiagnosisInfo, ReportData, VfaSection

_OSTEOPOROSIS = ("osteoporosis", "severe_osteoporosis")


def diagnosis_sentence(diagnosis: DiagnosisInfo, translate: Translate, *, lang: str = "en") -> str:
    """Return the diagnosis sentence: the WHO/ISCD category and the site that decided it.

    Osteoporosis with a prevalent fragility fracture is "osteoporosis with fragility fracture"
    ("manifest osteoporose"). Z-score categories use "below/within the expected range for age".

    Parameters
    ----------
    diagnosis : DiagnosisInfo
        Category, score kind, deciding site and printed score.
    translate : Translate
        The message translator.
    lang : str
        ``"da"`` or ``"en"`` (decimal separator).

    Returns
    -------
    str
        One or two sentences.
    """
    _ = translate
    category = category_label(diagnosis.category, translate, fracture=diagnosis.fragility_fracture)
    score = fmt_score(diagnosis.printed_score, lang)
    site = (
        region_label(diagnosis.deciding_region, translate, diagnosis.deciding_side)
        if diagnosis.deciding_region
        else ""
    )
    if diagnosis.printed_score is None:
        text = _("{category}.").format(category=category)
    elif diagnosis.score_kind == "T":
        if site:
            text = _("{category}: lowest T-score {score}, at the {site}.").format(
                category=category, score=score, site=site
            )
        else:
            text = _("{category}: lowest T-score {score}.").format(category=category, score=score)
    elif site:
        text = _("{category}: lowest Z-score {score}, at the {site}.").format(
            category=category, score=score, site=site
        )
    else:
        text = _("{category}: lowest Z-score {score}.").format(category=category, score=score)
    extra: list[str] = []
    if diagnosis.score_kind == "Z":
        extra.append(
            _(
                "Before the menopause and in men under 50, BMD alone does not establish "
                "a diagnosis of osteoporosis."
            )
        )
    elif diagnosis.fragility_fracture and diagnosis.category not in _OSTEOPOROSIS:
        extra.append(
            _(
                "A fragility fracture is reported; consider it in the clinical diagnosis "
                "whatever the BMD category."
            )
        )
    return " ".join([text, *extra])


def _row_site(row: ComparisonRow, translate: Translate) -> str:
    return region_label(row.region, translate, row.side)


def comparison_sentences(
    comparison: Comparison, translate: Translate, *, lang: str = "en"
) -> list[str]:
    """Return the comparison with the prior study as report sentences.

    Each region states the change in g/cm2 and percent since the prior date and whether it is
    significant (the printed change equals or exceeds the printed LSC) with the LSC and its
    source; an LSC from the ISCD minimum is said to be so. Bone-area changes over 2 % are
    flagged. A new baseline states its reason and compares nothing.

    Parameters
    ----------
    comparison : Comparison
        The comparison rows or the new-baseline note.
    translate : Translate
        The message translator.
    lang : str
        ``"da"`` or ``"en"`` (decimal separator, date format).

    Returns
    -------
    list of str
        The sentences; empty when there is nothing to compare.
    """
    _ = translate
    out: list[str] = []
    if comparison.new_baseline:
        if comparison.new_baseline_reason:
            out.append(
                _("New baseline: {reason}. The prior study is not compared.").format(
                    reason=comparison.new_baseline_reason.rstrip(".")
                )
            )
        else:
            out.append(_("New baseline: the prior study is not compared."))
        return out
    for other in comparison.other_side:
        out.append(
            _(
                "The prior scan of the {prior_site} ({date}) was of the other hip; the"
                " {site} is not compared with it."
            ).format(
                prior_site=region_label(other.region, translate, other.prior_side),
                date=fmt_date(other.prior_date, lang),
                site=region_label(other.region, translate, other.current_side),
            )
        )
    if not comparison.rows:
        return out
    out.append(
        _(
            "A change is significant when it equals or exceeds the least significant change "
            "(LSC) of the site."
        )
    )
    if comparison.cross_calibrated:
        out.append(
            _(
                "The prior study was made on another scanner; both values are expressed on "
                "the current calibration through the documented cross-calibration."
            )
        )
    for row in comparison.rows:
        site = _row_site(row, translate)
        lsc = fmt_bmd(row.lsc_g_cm2, lang)
        source = (
            _("ISCD minimum") if row.lsc_source == "iscd_minimum" else _("local precision study")
        )
        if row.cross_calibration_g_cm2 > 0:
            source = _("{source}, with the cross-calibration uncertainty").format(source=source)
        change = _("{site}: {change} g/cm² ({pct} %) since {date}.").format(
            site=site[:1].upper() + site[1:],
            change=fmt_bmd(row.change, lang, signed=True),
            pct=fmt_decimal(row.change_pct, 1, lang, signed=True),
            date=fmt_date(row.prior_date, lang),
        )
        if row.significant and row.change < 0:
            verdict = _("Significant decrease (LSC {lsc} g/cm², {source}).")
        elif row.significant:
            verdict = _("Significant increase (LSC {lsc} g/cm², {source}).")
        else:
            verdict = _("Not significant: smaller than the LSC of {lsc} g/cm² ({source}).")
        out.append(change + " " + verdict.format(lsc=lsc, source=source))
        if row.area_flag:
            pct = row.area_change_pct
            assert pct is not None
            out.append(
                _(
                    "The bone area of the {site} changed by {pct} % (more than 2 %): check "
                    "that the regions are comparable before relying on the change."
                ).format(site=site, pct=fmt_decimal(pct, 1, lang, signed=True))
            )
    cross = [r for r in comparison.rows if r.cross_calibration_g_cm2 > 0]
    if cross:
        out.append(
            _(
                "Because the prior scan was made on another scanner, the LSC includes the"
                " uncertainty of both scanners' cross-calibration (up to {u} g/cm² at 95 %)."
            ).format(u=fmt_bmd(max(r.cross_calibration_g_cm2 for r in cross), lang))
        )
    if any(r.lsc_source == "iscd_minimum" for r in comparison.rows):
        out.append(
            _(
                "Where marked ISCD minimum, the LSC is derived from the ISCD minimum acceptable "
                "precision because no local precision study is available."
            )
        )
    return out


def _changes(comparison: Comparison | None) -> tuple[list[ComparisonRow], list[ComparisonRow]]:
    if comparison is None or comparison.new_baseline:
        return [], []
    down = [r for r in comparison.rows if r.significant and r.change < 0]
    up = [r for r in comparison.rows if r.significant and r.change > 0]
    return down, up


def draft_conclusion(
    subject: DiagnosisInfo | ReportData,
    translate: Translate,
    *,
    lang: str | None = None,
    vfa: VfaSection | None = None,
    comparison: Comparison | None = None,
) -> str:
    """Return a prefilled conclusion that the physician edits.

    Parameters
    ----------
    subject : DiagnosisInfo or ReportData
        The diagnosis, or a whole report whose diagnosis, VFA, comparison and language are
        used (keyword arguments given explicitly take precedence).
    translate : Translate
        The message translator.
    lang : str or None
        ``"da"`` or ``"en"`` (default: the report's language, else English).
    vfa : VfaSection or None
        The VFA reading, when performed.
    comparison : Comparison or None
        The comparison with the prior study (never a change without one).

    Returns
    -------
    str
        The draft conclusion.
    """
    _ = translate
    if isinstance(subject, ReportData):
        diagnosis = subject.diagnosis
        lang = lang or subject.lang
        vfa = vfa if vfa is not None else subject.vfa
        comparison = comparison if comparison is not None else subject.comparison
    else:
        diagnosis = subject
    lang = lang or "en"
    fracture = diagnosis.fragility_fracture or bool(vfa and vfa.fractured)
    parts = [
        diagnosis_sentence(
            DiagnosisInfo(
                category=diagnosis.category,
                score_kind=diagnosis.score_kind,
                deciding_region=diagnosis.deciding_region,
                printed_score=diagnosis.printed_score,
                fragility_fracture=fracture,
                deciding_side=diagnosis.deciding_side,
            ),
            translate,
            lang=lang,
        )
    ]
    if vfa is not None:
        if vfa.fractured:
            parts.append(
                _("Vertebral fracture on VFA at {levels}.").format(
                    levels=join_words([lv.level for lv in vfa.fractured], translate)
                )
            )
        elif vfa.mild:
            parts.append(_("Mild vertebral deformity on VFA, uncertain as a fracture."))
        else:
            parts.append(_("No vertebral fracture on VFA."))
    if comparison is not None:
        down, up = _changes(comparison)
        if comparison.new_baseline:
            parts.append(_("New baseline; no comparison with the prior study."))
        elif down:
            parts.append(
                _("Significant decrease in BMD since the prior study at the {sites}.").format(
                    sites=join_words([_row_site(r, translate) for r in down], translate)
                )
            )
        if up and not comparison.new_baseline:
            parts.append(
                _("Significant increase in BMD since the prior study at the {sites}.").format(
                    sites=join_words([_row_site(r, translate) for r in up], translate)
                )
            )
        if comparison.rows and not comparison.new_baseline and not down and not up:
            parts.append(_("No significant change in BMD since the prior study."))
    return " ".join(parts)


def draft_recommendation(
    subject: DiagnosisInfo | ReportData,
    translate: Translate,
    *,
    lang: str | None = None,
    vfa: VfaSection | None = None,
    vfa_indicated: bool | None = None,
    vfa_reasons: Sequence[str] = (),
    follow_up_years: float | None = None,
    fls_referral: bool = False,
    secondary_cause_hints: Sequence[str] = (),
) -> str:
    """Return a prefilled recommendation that the physician edits.

    Covers treatment consideration for the referrer, secondary-cause work-up, fracture liaison
    (FLS) referral after a fragility fracture, VFA when indicated and not done, a radiograph
    for an uncertain VFA finding, and the follow-up interval.

    Parameters
    ----------
    subject : DiagnosisInfo or ReportData
        The diagnosis, or a whole report whose diagnosis, VFA, language, follow-up interval,
        FLS flag and secondary-cause hints are used (explicit keyword arguments add to them).
    translate : Translate
        The message translator.
    lang : str or None
        ``"da"`` or ``"en"`` (default: the report's language, else English).
    vfa : VfaSection or None
        The VFA reading, when performed.
    vfa_indicated : bool or None
        Result of :func:`reports.vfa.iscd_vfa_indication`.
    vfa_reasons : sequence of str
        The reasons met (already translated).
    follow_up_years : float or None
        Suggested interval to the next DXA.
    fls_referral : bool
        Recommend fracture liaison referral.
    secondary_cause_hints : sequence of str
        Secondary causes worth working up (already in the report language).

    Returns
    -------
    str
        The draft recommendation.
    """
    _ = translate
    if isinstance(subject, ReportData):
        diagnosis = subject.diagnosis
        lang = lang or subject.lang
        vfa = vfa if vfa is not None else subject.vfa
        if follow_up_years is None:
            follow_up_years = subject.follow_up_years
        fls_referral = fls_referral or subject.fls_referral
        secondary_cause_hints = tuple(secondary_cause_hints) or subject.secondary_cause_hints
    else:
        diagnosis = subject
    lang = lang or "en"
    fracture = diagnosis.fragility_fracture or bool(vfa and vfa.fractured)
    parts: list[str] = []
    if diagnosis.category in _OSTEOPOROSIS or (
        fracture and diagnosis.category != "within_expected_range_for_age"
    ):
        parts.append(
            _("Treatment of osteoporosis should be considered by the referring physician.")
        )
    elif diagnosis.category == "low_bone_mass":
        parts.append(_("Consider the fracture risk (for example FRAX) when deciding on treatment."))
    elif diagnosis.category == "below_expected_range_for_age":
        parts.append(_("Work-up for secondary causes of low bone density is recommended."))
    if secondary_cause_hints:
        parts.append(
            _("Consider work-up for secondary causes: {hints}.").format(
                hints=", ".join(secondary_cause_hints)
            )
        )
    if fls_referral or fracture:
        parts.append(
            _("Referral to the fracture liaison service (FLS) is recommended after the fracture.")
        )
    if vfa is None and vfa_indicated:
        if vfa_reasons:
            parts.append(
                _(
                    "Lateral spine imaging (VFA or radiograph) is indicated ({reasons}) and "
                    "has not been done."
                ).format(reasons=", ".join(vfa_reasons))
            )
        else:
            parts.append(
                _("Lateral spine imaging (VFA or radiograph) is indicated and has not been done.")
            )
    if vfa is not None and vfa.mild and not vfa.fractured:
        parts.append(_("A lateral radiograph of the spine is suggested to clarify the finding."))
    if follow_up_years is not None:
        if follow_up_years == 1:
            parts.append(_("Follow-up scan in 1 year."))
        else:
            parts.append(
                _("Follow-up scan in {years} years.").format(years=fmt_years(follow_up_years, lang))
            )
    return " ".join(parts)


def uncertainty_sentence(diagnosis: DiagnosisInfo, translate: Translate) -> str:
    """Return "near threshold: category uncertain" with the possible categories, or "".

    Parameters
    ----------
    diagnosis : DiagnosisInfo
        The diagnosis; ``uncertain_range`` holds the category at both ends of the 95 %
        interval of the scores (calibration and precision) when they differ.
    translate : Translate
        The message translator.

    Returns
    -------
    str
        One sentence, or "" when the category is certain.
    """
    _ = translate
    span = diagnosis.uncertain_range
    if span is None or span[0] == span[1]:
        return ""
    return _(
        "Near threshold: category uncertain. Within the 95 % uncertainty of the measurement"
        " and the calibration the category could be {low} or {high}."
    ).format(
        low=category_label(span[0], translate).lower(),
        high=category_label(span[1], translate).lower(),
    )
