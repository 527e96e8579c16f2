"""Short-term precision (pooled RMS-SD, RMS-%CV) and least significant change (ISCD)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ISCD_MINIMUM_CV_PCT",
    "LSC_FACTOR",
    "Precision",
    "iscd_rms_sd",
    "meets_minimum",
    "precision",
]

#: LSC multiplier at 95 % confidence for one scan at each time point: 1.96 * sqrt(2) = 2.7719,
#: rounded to 2.77 as the ISCD precision calculator does.
LSC_FACTOR = 2.77

#: Minimum acceptable individual precision (%CV) quoted from ISCD; secondary source [V*]
#: (Malmo thesis 2010; Irish DXA guideline LSC limits). Check before relying on them.
ISCD_MINIMUM_CV_PCT: dict[str, float] = {"L1-L4": 1.9, "total_hip": 1.8, "femoral_neck": 2.5}


@dataclass(frozen=True)
class Precision:
    """Result of a precision study (values in g/cm2 and %)."""

    n_subjects: int
    n_scans: int
    df: int
    rms_sd: float
    rms_cv_pct: float
    lsc: float
    lsc_pct: float
    design: str


def _subjects(measurements: Sequence[Sequence[float]]) -> list[list[float]]:
    if len(measurements) == 0:
        raise ValueError("a precision study needs at least one subject")
    subjects: list[list[float]] = []
    for j, scans in enumerate(measurements):
        vals = [float(v) for v in scans]
        if len(vals) < 2:
            raise ValueError(
                f"subject {j} has {len(vals)} scan(s); each subject needs at least 2 scans"
            )
        if not all(math.isfinite(v) and v > 0 for v in vals):
            raise ValueError(f"subject {j} has a non-positive or non-finite BMD")
        subjects.append(vals)
    return subjects


def _ss(vals: list[float]) -> float:
    m = math.fsum(vals) / len(vals)
    return math.fsum((v - m) ** 2 for v in vals)


def precision(measurements: Sequence[Sequence[float]]) -> Precision:
    """Compute precision and LSC from repeat scans of several subjects.

    ``rms_sd`` is pooled over the degrees of freedom,
    ``sqrt(sum_j sum_i (x_ij - mean_j)**2 / sum_j (n_j - 1))``, which equals ISCD's RMS of the
    per-subject SDs (:func:`iscd_rms_sd`) when all subjects have the same number of scans, and
    weights subjects by their df otherwise. ``rms_cv_pct = sqrt(mean_j(CV_j**2))`` with
    ``CV_j = 100 * SD_j / mean_j``. LSC = 2.77 x precision.

    Parameters
    ----------
    measurements : sequence of sequences of float
        BMD (g/cm2) per subject, each with >= 2 scans (15 x 3 or 30 x 2 recommended).

    Returns
    -------
    Precision
        ``design`` is ``"<subjects>x<scans>"`` when every subject has the same number of scans,
        else ``"mixed"``.

    Raises
    ------
    ValueError
        If a subject has fewer than 2 scans or a value is not a positive finite number.

    Examples
    --------
    >>> p = precision([[1.00, 1.02], [0.90, 0.92]])
    >>> round(p.rms_sd, 5), p.design
    (0.01414, '2x2')
    """
    subjects = _subjects(measurements)
    df = sum(len(s) - 1 for s in subjects)
    rms_sd = math.sqrt(math.fsum(_ss(s) for s in subjects) / df)
    cvs = [100 * math.sqrt(_ss(s) / (len(s) - 1)) / (math.fsum(s) / len(s)) for s in subjects]
    rms_cv = math.sqrt(math.fsum(c * c for c in cvs) / len(cvs))
    sizes = {len(s) for s in subjects}
    design = f"{len(subjects)}x{sizes.pop()}" if len(sizes) == 1 else "mixed"
    return Precision(
        n_subjects=len(subjects),
        n_scans=sum(len(s) for s in subjects),
        df=df,
        rms_sd=rms_sd,
        rms_cv_pct=rms_cv,
        lsc=LSC_FACTOR * rms_sd,
        lsc_pct=LSC_FACTOR * rms_cv,
        design=design,
    )


def iscd_rms_sd(measurements: Sequence[Sequence[float]]) -> float:
    """ISCD RMS-SD: root mean square of the per-subject SDs (each with n_j - 1 df).

    Equal to :attr:`Precision.rms_sd` when all subjects have the same number of scans; with
    unequal numbers it weights every subject equally (prefer the pooled value).

    Parameters
    ----------
    measurements : sequence of sequences of float
        BMD per subject, each with >= 2 scans.

    Returns
    -------
    float
        ``sqrt(mean_j(SD_j**2))`` in g/cm2.
    """
    subjects = _subjects(measurements)
    return math.sqrt(math.fsum(_ss(s) / (len(s) - 1) for s in subjects) / len(subjects))


def meets_minimum(p: Precision, minimum_cv_pct: float) -> bool:
    """Check a precision result against a minimum acceptable %CV.

    Parameters
    ----------
    p : Precision
        The precision study result.
    minimum_cv_pct : float
        Largest acceptable RMS-%CV (e.g. spine 1.9, total hip 1.8, femoral neck 2.5).

    Returns
    -------
    bool
        True when ``p.rms_cv_pct <= minimum_cv_pct``.
    """
    return p.rms_cv_pct <= minimum_cv_pct
