"""T- and Z-scores, WHO/ISCD categories from printed values, and the diagnostic-region rule."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from calibration.rounding import format_score, printed_score

__all__ = [
    "SPINE_VERTEBRAE",
    "Category",
    "Diagnosis",
    "NoDiagnosticRegionError",
    "RegionScore",
    "classify_t",
    "classify_z",
    "diagnose",
    "is_diagnostic_region",
    "is_spine_region",
    "t_score",
    "uses_z_score",
    "vertebra_exclusion_hints",
    "z_score",
]

#: WHO/ISCD thresholds, applied to the printed one-decimal score.
NORMAL_MIN_T = Decimal("-1.0")
OSTEOPOROSIS_MAX_T = Decimal("-2.5")
BELOW_EXPECTED_MAX_Z = Decimal("-2.0")
#: Difference in printed T-score between neighbouring vertebrae above which one may be excluded.
VERTEBRA_DIFF_LIMIT = Decimal("1.0")
SPINE_VERTEBRAE = ("L1", "L2", "L3", "L4")

_FIXED_DIAGNOSTIC = ("total_hip", "femoral_neck", "radius_33")
_SPINE_RANGE = re.compile(r"^L([1-5])\s*-\s*L?([1-5])$")


def _check_sd(value: float, mean: float, sd: float) -> None:
    if not (math.isfinite(value) and math.isfinite(mean) and math.isfinite(sd)):
        raise ValueError(f"score inputs must be finite (bmd={value}, mean={mean}, sd={sd})")
    if sd <= 0:
        raise ValueError(f"reference SD must be positive, got {sd}")


def t_score(bmd: float, ref_mean: float, ref_sd: float) -> float:
    """Compute a T-score against a young-adult reference.

    Parameters
    ----------
    bmd : float
        Harmonised BMD in g/cm2, in the same unit system as the reference.
    ref_mean, ref_sd : float
        Young-adult reference mean and SD (g/cm2).

    Returns
    -------
    float
        ``(bmd - ref_mean) / ref_sd``, unrounded.

    Raises
    ------
    ValueError
        If an input is not finite or ``ref_sd <= 0``.
    """
    _check_sd(bmd, ref_mean, ref_sd)
    return (bmd - ref_mean) / ref_sd


def z_score(bmd: float, mean: float, sd: float) -> float:
    """Compute a Z-score against an age- and sex-matched reference.

    Parameters
    ----------
    bmd : float
        Harmonised BMD in g/cm2.
    mean, sd : float
        Age- and sex-matched reference mean and SD (g/cm2).

    Returns
    -------
    float
        ``(bmd - mean) / sd``, unrounded.

    Raises
    ------
    ValueError
        If an input is not finite or ``sd <= 0``.
    """
    _check_sd(bmd, mean, sd)
    return (bmd - mean) / sd


class Category(StrEnum):
    """WHO/ISCD densitometric categories (T-score) and ISCD Z-score wording."""

    NORMAL = "normal"
    LOW_BONE_MASS = "low_bone_mass"
    OSTEOPOROSIS = "osteoporosis"
    #: T <= -2.5 with a fragility fracture (Danish "manifest osteoporose").
    SEVERE_OSTEOPOROSIS = "severe_osteoporosis"
    BELOW_EXPECTED = "below_expected_range_for_age"
    WITHIN_EXPECTED = "within_expected_range_for_age"


def classify_t(t: float, *, fragility_fracture: bool = False) -> Category:
    """Classify a T-score (WHO/ISCD) from its printed one-decimal value.

    Normal if printed T >= -1.0, osteoporosis if printed T <= -2.5 (severe osteoporosis with a
    fragility fracture), otherwise low bone mass. Classifying the printed value guarantees that
    the number and the word on a report never disagree (e.g. -2.46 prints as -2.5 and is
    osteoporosis).

    Parameters
    ----------
    t : float
        Unrounded T-score.
    fragility_fracture : bool, optional
        Whether the patient has had a fragility fracture.

    Returns
    -------
    Category
        ``NORMAL``, ``LOW_BONE_MASS``, ``OSTEOPOROSIS`` or ``SEVERE_OSTEOPOROSIS``.

    Examples
    --------
    >>> classify_t(-1.04).value, classify_t(-2.46).value
    ('normal', 'osteoporosis')
    """
    p = printed_score(t)
    if p >= NORMAL_MIN_T:
        return Category.NORMAL
    if p <= OSTEOPOROSIS_MAX_T:
        return Category.SEVERE_OSTEOPOROSIS if fragility_fracture else Category.OSTEOPOROSIS
    return Category.LOW_BONE_MASS


def classify_z(z: float) -> Category:
    """Classify a Z-score (ISCD) from its printed one-decimal value.

    Parameters
    ----------
    z : float
        Unrounded Z-score.

    Returns
    -------
    Category
        ``BELOW_EXPECTED`` if printed Z <= -2.0, else ``WITHIN_EXPECTED``.
    """
    return (
        Category.BELOW_EXPECTED
        if printed_score(z) <= BELOW_EXPECTED_MAX_Z
        else (Category.WITHIN_EXPECTED)
    )


def uses_z_score(sex: str, age_years: float, menopausal: bool | None) -> bool:
    """Decide whether Z-scores (rather than T-scores) are used for diagnosis (ISCD).

    Rules, at the scan date:

    * women (``"F"``): ``menopausal=False`` (premenopausal) -> Z at any age;
      ``menopausal=True`` (post-menopausal or in the menopausal transition, where WHO
      criteria may be applied) -> T; ``menopausal=None`` (unknown) -> Z if age < 50, else T;
    * men (``"M"``): Z if age < 50, else T;
    * any other or unknown sex: T if age >= 50, else Z.

    Parameters
    ----------
    sex : str
        ``"F"`` or ``"M"`` (case-insensitive); anything else is "other/unknown".
    age_years : float
        Age at the scan date in years.
    menopausal : bool or None
        Menopausal status for women; ignored for men.

    Returns
    -------
    bool
        True when Z-scores decide.

    Raises
    ------
    ValueError
        If the age is negative or not finite.
    """
    if not math.isfinite(age_years) or age_years < 0:
        raise ValueError(f"age must be a non-negative number of years, got {age_years}")
    s = sex.strip().upper()
    if s == "F" and menopausal is not None:
        return not menopausal
    return age_years < 50


@dataclass(frozen=True)
class RegionScore:
    """BMD and scores of one region of interest."""

    region: str
    bmd: float
    t: float | None
    z: float | None


@dataclass(frozen=True)
class Diagnosis:
    """The densitometric diagnosis and the region that decided it."""

    category: Category
    score_kind: Literal["T", "Z"]
    deciding_region: str | None
    printed_score: Decimal | None
    note: str


class NoDiagnosticRegionError(ValueError):
    """No diagnostic region carries the score needed for a diagnosis."""


def is_spine_region(region: str) -> bool:
    """Return True for a lumbar-spine range such as ``"L1-L4"`` or ``"L2-L4"``.

    Parameters
    ----------
    region : str
        Region name.

    Returns
    -------
    bool
        True when the name starts with ``"L"`` and contains ``"-"``.
    """
    return region.startswith("L") and "-" in region


def is_diagnostic_region(region: str) -> bool:
    """Return True for the regions that may decide a diagnosis (ISCD).

    Parameters
    ----------
    region : str
        Region name.

    Returns
    -------
    bool
        True for a lumbar range (``"L1-L4"``, ``"L2-L4"``...), ``"total_hip"``,
        ``"femoral_neck"`` and ``"radius_33"``; False for trochanter, Ward's and the rest.
    """
    return region in _FIXED_DIAGNOSTIC or is_spine_region(region)


def _vertebra_count(region: str) -> int:
    m = _SPINE_RANGE.match(region)
    if m:
        return abs(int(m.group(2)) - int(m.group(1))) + 1
    return len(set(re.findall(r"L[1-5]", region)))


def _priority(region: str) -> int:
    return 0 if is_spine_region(region) else 1 + _FIXED_DIAGNOSTIC.index(region)


def diagnose(
    scores: Sequence[RegionScore], *, use_z: bool, fragility_fracture: bool = False
) -> Diagnosis:
    """Diagnose from the lowest printed score over the diagnostic regions.

    Diagnostic regions are one lumbar range (``"L1-L4"``, or e.g. ``"L2-L4"`` after
    exclusions), ``"total_hip"``, ``"femoral_neck"`` and ``"radius_33"`` (only when given).
    Trochanter, Ward's and other regions never count. Callers should pass the single spine
    range chosen after exclusions; if several are passed (vendors export sub-ranges such as
    L1-L2, L3-L4), the widest one is used and the others are ignored (named in the note).
    Ties between regions go to spine, then total hip, femoral neck, radius.

    With Z-scores (premenopausal women, men under 50) the category is
    ``BELOW_EXPECTED``/``WITHIN_EXPECTED`` and a fragility fracture does not change it:
    osteoporosis is not diagnosed from BMD alone.

    Parameters
    ----------
    scores : sequence of RegionScore
        Region results of one study.
    use_z : bool
        Use Z-scores (see :func:`uses_z_score`) instead of T-scores.
    fragility_fracture : bool, optional
        A fragility fracture is present (T <= -2.5 becomes severe osteoporosis).

    Returns
    -------
    Diagnosis
        Category, score kind, deciding region, its printed score and an English note.

    Raises
    ------
    NoDiagnosticRegionError
        If no diagnostic region has the needed score.
    ValueError
        If several spine ranges of the same (widest) size are given, so the choice is
        ambiguous.
    """
    kind: Literal["T", "Z"] = "Z" if use_z else "T"
    usable = [
        s for s in scores if is_diagnostic_region(s.region) and (s.z if use_z else s.t) is not None
    ]
    notes: list[str] = []
    spine = [s for s in usable if is_spine_region(s.region)]
    if len(spine) > 1:
        widest = max(_vertebra_count(s.region) for s in spine)
        best = [s for s in spine if _vertebra_count(s.region) == widest]
        if len({s.region for s in best}) > 1:
            names = ", ".join(sorted({s.region for s in best}))
            raise ValueError(
                f"ambiguous lumbar spine regions ({names}): pass only the range used for diagnosis"
            )
        ignored = sorted({s.region for s in spine} - {best[0].region})
        notes.append(f"spine sub-ranges ignored: {', '.join(ignored)}")
        usable = [s for s in usable if not is_spine_region(s.region) or s is best[0]]
    if not usable:
        raise NoDiagnosticRegionError(
            f"no diagnostic region (lumbar range, total_hip, femoral_neck, radius_33) has a "
            f"{kind}-score; diagnose from another site or enter the missing score"
        )

    def value(s: RegionScore) -> float:
        v = s.z if use_z else s.t
        assert v is not None
        return v

    decider = min(usable, key=lambda s: (printed_score(value(s)), _priority(s.region)))
    printed = printed_score(value(decider))
    if use_z:
        category = classify_z(value(decider))
        notes.insert(
            0,
            f"lowest Z-score {format_score(value(decider))} at {decider.region}; Z-scores are "
            "used (premenopausal woman or man under 50), osteoporosis is not diagnosed from "
            "BMD alone",
        )
    else:
        category = classify_t(value(decider), fragility_fracture=fragility_fracture)
        notes.insert(
            0,
            f"lowest T-score {format_score(value(decider))} at {decider.region}; WHO/ISCD "
            "categories from the printed one-decimal value (normal T >= -1.0, osteoporosis "
            "T <= -2.5)",
        )
        if category is Category.SEVERE_OSTEOPOROSIS:
            notes.append("T <= -2.5 with a fragility fracture")
    return Diagnosis(
        category=category,
        score_kind=kind,
        deciding_region=decider.region,
        printed_score=printed,
        note="; ".join(notes),
    )


def vertebra_exclusion_hints(t_by_vertebra: Mapping[str, float]) -> list[str]:
    """Suggest lumbar vertebrae to consider excluding because their T-score is an outlier.

    Rule implemented (DKMS/ISCD: a vertebra may be excluded when its T-score differs by more
    than 1.0 from a neighbour; at least two vertebrae must remain):

    1. Take the vertebrae present among L1, L2, L3, L4, in that order; neighbours are the
       adjacent ones in that sequence. Differences use the printed one-decimal T-scores, so
       ``-1.2`` vs ``-2.2`` (a difference of exactly 1.0) is not flagged.
    2. An inner vertebra is suggested when it differs by more than 1.0 from **both**
       neighbours.
    3. An end vertebra is suggested when it differs by more than 1.0 from its single
       neighbour, is **higher** than it (degenerative change raises BMD), and that neighbour
       was not itself suggested in step 2.
    4. If this would leave fewer than two vertebrae, only the suggestions with the largest
       difference from their neighbours are kept (ties: lower vertebra first).

    These are hints for the physician, never automatic exclusions.

    Parameters
    ----------
    t_by_vertebra : mapping of str to float
        T-score per vertebra, keys ``"L1"``..``"L4"``; other keys are ignored.

    Returns
    -------
    list of str
        Suggested vertebrae in L1..L4 order (possibly empty).
    """
    names = [v for v in SPINE_VERTEBRAE if v in t_by_vertebra]
    if len(names) < 3:
        return []
    p = [printed_score(t_by_vertebra[v]) for v in names]
    last = len(names) - 1

    def differs(i: int, j: int) -> bool:
        return abs(p[i] - p[j]) > VERTEBRA_DIFF_LIMIT

    inner = {i for i in range(1, last) if differs(i, i - 1) and differs(i, i + 1)}
    chosen = set(inner)
    for end, nb in ((0, 1), (last, last - 1)):
        if differs(end, nb) and p[end] > p[nb] and nb not in inner:
            chosen.add(end)
    max_excluded = len(names) - 2
    if len(chosen) > max_excluded:

        def spread(i: int) -> Decimal:
            nbs = [j for j in (i - 1, i + 1) if 0 <= j <= last]
            return min(abs(p[i] - p[j]) for j in nbs)

        chosen = set(sorted(chosen, key=lambda i: (-spread(i), i))[:max_excluded])
    return [names[i] for i in sorted(chosen)]
