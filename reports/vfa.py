"""Vertebral fracture assessment rules: Genant grades, report sentences, ISCD indication."""

from __future__ import annotations

import math
from decimal import Decimal

from reports.labels import Translate, grade_word, join_words, morphology_word, normalise_sex
from reports.model import VfaLevel, VfaSection

_T_LIMIT = Decimal("-1.0")


def _identity(message: str) -> str:
    return message


def genant_grade(height_loss_pct: float) -> int:
    """Return the Genant semi-quantitative grade of a vertebral height loss.

    Product decision on the boundaries: under 20 % is grade 0, 20-25 % inclusive is grade 1,
    over 25 up to 40 % inclusive is grade 2, over 40 % is grade 3.

    Parameters
    ----------
    height_loss_pct : float
        Reduction of the anterior, middle or posterior height (the largest), in percent of the
        expected height. Small negative values (measurement noise) count as no loss.

    Returns
    -------
    int
        Grade 0-3.

    Raises
    ------
    ValueError
        When the value is not a number or above 100 %.

    Examples
    --------
    >>> [genant_grade(x) for x in (19.99, 20, 25, 25.01, 40, 40.01)]
    [0, 1, 1, 2, 2, 3]
    """
    if math.isnan(height_loss_pct) or height_loss_pct > 100.0:
        raise ValueError(f"height loss {height_loss_pct!r} % is not a percentage between 0 and 100")
    if height_loss_pct < 20.0:
        return 0
    if height_loss_pct <= 25.0:
        return 1
    if height_loss_pct <= 40.0:
        return 2
    return 3


def _describe(level: VfaLevel, translate: Translate) -> str:
    _ = translate
    assert level.grade is not None
    parts = [
        _("{grade}, Genant grade {number}").format(
            grade=grade_word(level.grade, translate), number=level.grade
        )
    ]
    shape = morphology_word(level.morphology, translate)
    if shape:
        parts.append(shape)
    return "{level} ({details})".format(level=level.level, details=", ".join(parts))


def vfa_sentences(section: VfaSection, translate: Translate) -> list[str]:
    """Return the VFA findings as report sentences.

    Grade 2-3 levels are reported as vertebral fractures (grade word and shape); grade 1 levels
    as mild deformities, uncertain as fractures, with a lateral spine radiograph suggested when
    there is no grade 2-3 fracture; levels that could not be evaluated are listed with their
    reason; "no vertebral fracture" when none; the SDI is always stated.

    Parameters
    ----------
    section : VfaSection
        The VFA reading.
    translate : Translate
        The message translator.

    Returns
    -------
    list of str
        The sentences in report order.
    """
    _ = translate
    out: list[str] = []
    fractured = section.fractured
    mild = section.mild
    not_evaluable = section.not_evaluable
    if fractured:
        described = [_describe(lv, translate) for lv in fractured]
        if len(fractured) == 1:
            out.append(_("Vertebral fracture at {levels}.").format(levels=described[0]))
        else:
            out.append(
                _("Vertebral fractures at {levels}.").format(
                    levels=join_words(described, translate)
                )
            )
    if mild:
        names = join_words([lv.level for lv in mild], translate)
        out.append(
            _("Mild deformity (Genant grade 1) at {levels}, uncertain as a fracture.").format(
                levels=names
            )
        )
        if not fractured:
            out.append(_("A lateral radiograph of the spine is suggested to clarify the finding."))
    if not fractured and not mild:
        if not_evaluable:
            out.append(_("No vertebral fracture at the evaluable levels."))
        else:
            out.append(_("No vertebral fracture (T4-L4)."))
    if not_evaluable:
        listed = [
            f"{lv.level} ({lv.not_evaluable_reason})" if lv.not_evaluable_reason else lv.level
            for lv in not_evaluable
        ]
        out.append(_("Not evaluable: {levels}.").format(levels=", ".join(listed)))
    out.append(
        _("Spinal deformity index (SDI): {sdi} (sum of the Genant grades).").format(sdi=section.sdi)
    )
    return out


def iscd_vfa_indication(
    t_min: Decimal | None,
    sex: str | None,
    age: float | None,
    height_loss_cm: float | None,
    self_reported_vertebral_fracture: bool,
    glucocorticoids: bool,
    translate: Translate | None = None,
) -> tuple[bool | None, list[str]]:
    """Check the simplified ISCD 2019/2023 indication for lateral spine imaging (VFA).

    Indicated when the T-score is below -1.0 and at least one of: woman aged 70 or more or man
    aged 80 or more; historical height loss over 4 cm; self-reported but undocumented vertebral
    fracture; glucocorticoids of 5 mg prednisone a day or more for 3 months or more.

    Parameters
    ----------
    t_min : Decimal or None
        The lowest printed T-score; None when unknown.
    sex : str or None
        ``F``/``M`` (see :func:`reports.labels.normalise_sex`).
    age : float or None
        Age in years.
    height_loss_cm : float or None
        Historical height loss in cm.
    self_reported_vertebral_fracture : bool
        A vertebral fracture reported by the patient but not documented.
    glucocorticoids : bool
        Glucocorticoids equivalent to 5 mg prednisone a day or more for 3 months or more.
    translate : Translate or None
        The message translator for the reasons (English when None).

    Returns
    -------
    tuple of (bool or None, list of str)
        Whether VFA is indicated (None when the T-score is unknown) and the reasons met.

    Examples
    --------
    >>> iscd_vfa_indication(Decimal("-1.5"), "F", 72, None, False, False)
    (True, ['woman aged 70 or more'])
    >>> iscd_vfa_indication(Decimal("-1.0"), "F", 72, None, False, False)
    (False, [])
    """
    _ = translate or _identity
    if t_min is None:
        return None, []
    if not t_min < _T_LIMIT:
        return False, []
    reasons: list[str] = []
    kind = normalise_sex(sex)
    if age is not None:
        if kind == "F" and age >= 70:
            reasons.append(_("woman aged 70 or more"))
        elif kind == "M" and age >= 80:
            reasons.append(_("man aged 80 or more"))
    if height_loss_cm is not None and height_loss_cm > 4.0:
        reasons.append(_("historical height loss over 4 cm"))
    if self_reported_vertebral_fracture:
        reasons.append(_("self-reported, undocumented vertebral fracture"))
    if glucocorticoids:
        reasons.append(
            _("glucocorticoids equivalent to 5 mg prednisolone a day or more for 3 months or more")
        )
    return bool(reasons), reasons
