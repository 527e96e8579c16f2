"""Cross-calibration fits: OLS with t-based CIs, Deming with bootstrap CIs, Bland-Altman."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "PLAUSIBLE_SLOPE",
    "BlandAltman",
    "InVivoFit",
    "LeaveOneOut",
    "LinearFit",
    "bland_altman",
    "deming",
    "in_vivo_fit",
    "leave_one_out",
    "ols",
]

FloatArray = npt.NDArray[np.float64]


def _json_float(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _as_pairs(x: npt.ArrayLike, y: npt.ArrayLike, minimum: int) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length ({xa.size} != {ya.size})")
    if xa.size < minimum:
        raise ValueError(f"at least {minimum} pairs are needed, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite (remove missing values first)")
    return xa, ya


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


@dataclass(frozen=True)
class LinearFit:
    """A fitted line ``y = intercept + slope * x`` with its uncertainty.

    ``extra`` holds method-specific numbers (standard errors, r, delta, bootstrap size...).
    """

    method: str
    intercept: float
    slope: float
    intercept_ci: tuple[float, float]
    slope_ci: tuple[float, float]
    residual_sd: float
    n: int
    confidence: float
    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @overload
    def apply(self, x: float) -> float: ...
    @overload
    def apply(self, x: FloatArray | Sequence[float]) -> FloatArray: ...
    def apply(self, x: float | FloatArray | Sequence[float]) -> float | FloatArray:
        """Map x to y.

        Parameters
        ----------
        x : float or array_like
            Values on the x scale.

        Returns
        -------
        float or ndarray
            ``intercept + slope * x`` (a float for a scalar input).
        """
        if isinstance(x, int | float):
            return self.intercept + self.slope * float(x)
        return self.intercept + self.slope * np.asarray(x, dtype=np.float64)

    @overload
    def inverse(self, y: float) -> float: ...
    @overload
    def inverse(self, y: FloatArray | Sequence[float]) -> FloatArray: ...
    def inverse(self, y: float | FloatArray | Sequence[float]) -> float | FloatArray:
        """Map y back to x.

        Parameters
        ----------
        y : float or array_like
            Values on the y scale.

        Returns
        -------
        float or ndarray
            ``(y - intercept) / slope``.

        Raises
        ------
        ZeroDivisionError
            If the slope is zero.
        """
        if self.slope == 0:
            raise ZeroDivisionError("a line with slope 0 cannot be inverted")
        if isinstance(y, int | float):
            return (float(y) - self.intercept) / self.slope
        return (np.asarray(y, dtype=np.float64) - self.intercept) / self.slope

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (NaN becomes None).

        Returns
        -------
        dict
            All fields; CIs as two-element lists.
        """
        return {
            "method": self.method,
            "intercept": self.intercept,
            "slope": self.slope,
            "intercept_ci": [_json_float(v) for v in self.intercept_ci],
            "slope_ci": [_json_float(v) for v in self.slope_ci],
            "residual_sd": self.residual_sd,
            "n": self.n,
            "confidence": self.confidence,
            "extra": {k: _json_float(v) for k, v in self.extra.items()},
        }


def ols(x: npt.ArrayLike, y: npt.ArrayLike, *, confidence: float = 0.95) -> LinearFit:
    """Ordinary least squares of y on x with t-distribution confidence intervals.

    Suitable when x is essentially error-free (phantom certificate values). For two scanners
    measuring patients use :func:`deming`: OLS attenuates the slope when x is noisy.

    Parameters
    ----------
    x, y : array_like
        Paired values, at least 3 pairs, x not all equal.
    confidence : float, optional
        Two-sided confidence level of the intervals.

    Returns
    -------
    LinearFit
        Method ``"ols"``; CIs are estimate ± t(1 - alpha/2, n - 2) * SE; ``residual_sd`` is the
        standard error of the estimate with n - 2 df; ``extra`` has ``slope_se``,
        ``intercept_se``, ``intercept_slope_cov`` (``-mean(x) * s**2 / Sxx``), ``r`` and
        ``df``.

    Raises
    ------
    ValueError
        On fewer than 3 pairs, non-finite values, constant x or a bad confidence.
    """
    from scipy import stats

    _check_confidence(confidence)
    xa, ya = _as_pairs(x, y, 3)
    n = xa.size
    xm, ym = float(xa.mean()), float(ya.mean())
    sxx = float(np.sum((xa - xm) ** 2))
    syy = float(np.sum((ya - ym) ** 2))
    sxy = float(np.sum((xa - xm) * (ya - ym)))
    if sxx == 0:
        raise ValueError("x values are all equal: the slope is undefined")
    slope = sxy / sxx
    intercept = ym - slope * xm
    resid = ya - (intercept + slope * xa)
    df = n - 2
    s = math.sqrt(float(np.sum(resid**2)) / df)
    se_b = s / math.sqrt(sxx)
    se_a = s * math.sqrt(1.0 / n + xm**2 / sxx)
    tq = float(stats.t.ppf(0.5 + confidence / 2, df))
    r = sxy / math.sqrt(sxx * syy) if syy > 0 else float("nan")
    return LinearFit(
        method="ols",
        intercept=intercept,
        slope=slope,
        intercept_ci=(intercept - tq * se_a, intercept + tq * se_a),
        slope_ci=(slope - tq * se_b, slope + tq * se_b),
        residual_sd=s,
        n=n,
        confidence=confidence,
        extra={
            "slope_se": se_b,
            "intercept_se": se_a,
            "intercept_slope_cov": -xm * s**2 / sxx,
            "r": r,
            "df": float(df),
        },
    )


def _deming_coef(
    xm: FloatArray | float,
    ym: FloatArray | float,
    sxx: FloatArray | float,
    syy: FloatArray | float,
    sxy: FloatArray | float,
    delta: float,
) -> tuple[Any, Any]:
    d = np.asarray(syy) - delta * np.asarray(sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (d + np.sqrt(d**2 + 4 * delta * np.asarray(sxy) ** 2)) / (2 * np.asarray(sxy))
    a = np.asarray(ym) - b * np.asarray(xm)
    return a, b


def deming(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    delta: float = 1.0,
    confidence: float = 0.95,
    bootstrap: int = 2000,
    seed: int = 0,
) -> LinearFit:
    """Deming regression of y on x with a seeded pairs-bootstrap for the CIs.

    Closed form (domain reference section 3.5), with ``Sxx``, ``Syy``, ``Sxy`` the centred
    sums of squares and products::

        b = [Syy - delta*Sxx + sqrt((Syy - delta*Sxx)**2 + 4*delta*Sxy**2)] / (2*Sxy)
        a = mean(y) - b * mean(x)

    Parameters
    ----------
    x, y : array_like
        Paired values (e.g. the same patients on two scanners), at least 3 pairs.
    delta : float, optional
        Error-variance ratio var(err_y) / var(err_x); 1 gives orthogonal regression.
        From precision studies: ``(RMS-SD_y**2 / k_y) / (RMS-SD_x**2 / k_x)``.
    confidence : float, optional
        Two-sided level of the percentile bootstrap intervals.
    bootstrap : int, optional
        Number of resamples of the pairs; 0 disables the CIs (they become NaN).
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`, so results are reproducible.

    Returns
    -------
    LinearFit
        Method ``"deming"``; ``residual_sd`` is the SD of the vertical residuals with n - 2 df
        (the SEE used in the cross-calibration literature); ``extra`` has ``delta``,
        ``bootstrap``, ``bootstrap_valid``, ``seed``, ``slope_se_boot``,
        ``intercept_se_boot`` and ``intercept_slope_cov_boot``.

    Raises
    ------
    ValueError
        On fewer than 3 pairs, delta <= 0, zero covariance, or bad options.
    """
    _check_confidence(confidence)
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be positive, got {delta}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    xa, ya = _as_pairs(x, y, 3)
    n = xa.size
    xm, ym = float(xa.mean()), float(ya.mean())
    sxx = float(np.sum((xa - xm) ** 2))
    syy = float(np.sum((ya - ym) ** 2))
    sxy = float(np.sum((xa - xm) * (ya - ym)))
    if sxy == 0:
        raise ValueError("x and y are uncorrelated (Sxy = 0): the Deming slope is undefined")
    a0, b0 = _deming_coef(xm, ym, sxx, syy, sxy, delta)
    intercept, slope = float(a0), float(b0)
    resid = ya - (intercept + slope * xa)
    residual_sd = math.sqrt(float(np.sum(resid**2)) / (n - 2))

    nan = float("nan")
    a_ci, b_ci = (nan, nan), (nan, nan)
    extra: dict[str, float] = {
        "delta": delta,
        "bootstrap": float(bootstrap),
        "seed": float(seed),
        "bootstrap_valid": 0.0,
        "slope_se_boot": nan,
        "intercept_se_boot": nan,
        "intercept_slope_cov_boot": nan,
    }
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(bootstrap, n))
        xs, ys = xa[idx], ya[idx]
        bx, by = xs.mean(axis=1), ys.mean(axis=1)
        dx, dy = xs - bx[:, None], ys - by[:, None]
        ba, bb = _deming_coef(
            bx, by, (dx**2).sum(axis=1), (dy**2).sum(axis=1), (dx * dy).sum(axis=1), delta
        )
        ok = np.isfinite(ba) & np.isfinite(bb)
        if int(ok.sum()) >= 2:
            lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
            aq = np.percentile(ba[ok], [lo, hi])
            bq = np.percentile(bb[ok], [lo, hi])
            a_ci, b_ci = (float(aq[0]), float(aq[1])), (float(bq[0]), float(bq[1]))
            extra["slope_se_boot"] = float(np.std(bb[ok], ddof=1))
            extra["intercept_se_boot"] = float(np.std(ba[ok], ddof=1))
            extra["intercept_slope_cov_boot"] = float(np.cov(ba[ok], bb[ok], ddof=1)[0, 1])
        extra["bootstrap_valid"] = float(ok.sum())
    return LinearFit(
        method="deming",
        intercept=intercept,
        slope=slope,
        intercept_ci=a_ci,
        slope_ci=b_ci,
        residual_sd=residual_sd,
        n=n,
        confidence=confidence,
        extra=extra,
    )


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement statistics of y against x (differences y - x)."""

    n: int
    bias: float
    sd: float
    lower: float
    upper: float
    diff_on_mean_slope: float
    diff_on_mean_p: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict.

        Returns
        -------
        dict
            All fields (NaN becomes None).
        """
        return {
            "n": self.n,
            "bias": self.bias,
            "sd": self.sd,
            "lower": self.lower,
            "upper": self.upper,
            "diff_on_mean_slope": self.diff_on_mean_slope,
            "diff_on_mean_p": _json_float(self.diff_on_mean_p),
        }


def bland_altman(x: npt.ArrayLike, y: npt.ArrayLike) -> BlandAltman:
    """Bland-Altman statistics with a regression of the difference on the mean.

    Parameters
    ----------
    x, y : array_like
        Paired values, at least 3 pairs.

    Returns
    -------
    BlandAltman
        ``bias`` = mean(y - x), ``sd`` its SD (n - 1 df), limits ``bias ± 1.96 sd``, and the
        OLS slope and two-sided p-value of (y - x) on (x + y) / 2 (a proportional bias).

    Raises
    ------
    ValueError
        On fewer than 3 pairs or non-finite values.
    """
    from scipy import stats

    xa, ya = _as_pairs(x, y, 3)
    d = ya - xa
    m = (xa + ya) / 2
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    if float(np.ptp(m)) == 0:
        slope, p = float("nan"), float("nan")
    else:
        res = stats.linregress(m, d)
        slope, p = float(res.slope), float(res.pvalue)
    return BlandAltman(
        n=int(xa.size),
        bias=bias,
        sd=sd,
        lower=bias - 1.96 * sd,
        upper=bias + 1.96 * sd,
        diff_on_mean_slope=slope,
        diff_on_mean_p=p,
    )


#: The plausible range of an in-vivo slope (reference on this scanner). Outside it a step is
#: proposed only flagged "needs review": two DXA scanners of any make differ by at most about
#: 15 % in slope at the hip (Lunar/Hologic femoral neck 0.86-0.87, domain reference 2.3), so a
#: steeper or flatter line more likely means mixed-up regions, sides or patients.
PLAUSIBLE_SLOPE = (0.85, 1.15)

#: The longest gap, in days, between a patient's scans on two scanners that still count as an
#: in-vivo pair (bone does not change measurably in two months; ISCD cross-calibration).
IN_VIVO_MAX_DAYS = 60


@dataclass(frozen=True)
class LeaveOneOut:
    """Leave-one-out prediction error of an in-vivo fit (each pair predicted without itself)."""

    n: int
    rmse: float
    mean_abs: float
    max_abs: float
    slope_min: float
    slope_max: float
    #: Jackknife variances and covariance of (intercept, slope) from the left-out fits.
    var_intercept: float = float("nan")
    var_slope: float = float("nan")
    cov_intercept_slope: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (g/cm2)."""
        return dict(self.__dict__)


def leave_one_out(
    other: npt.ArrayLike, reference: npt.ArrayLike, *, delta: float = 1.0
) -> LeaveOneOut:
    """Predict each pair's reference value from a Deming fit of all the other pairs.

    The error is ``predicted - measured`` reference BMD (g/cm2): what a new patient's
    harmonised value would be off by, including the reference scanner's own measurement
    noise. The range of the left-out slopes shows how much one patient moves the line.

    Parameters
    ----------
    other, reference : array_like
        The paired values (at least 4 pairs).
    delta : float, optional
        The Deming error-variance ratio used by the fit.

    Returns
    -------
    LeaveOneOut
        RMSE, mean and largest absolute error, and the range of the left-out slopes.
    """
    xa, ya = _as_pairs(other, reference, 4)
    errors = []
    slopes = []
    intercepts = []
    for i in range(xa.size):
        keep = np.arange(xa.size) != i
        f = deming(xa[keep], ya[keep], delta=delta, bootstrap=0)
        errors.append(f.intercept + f.slope * xa[i] - ya[i])
        slopes.append(f.slope)
        intercepts.append(f.intercept)
    e = np.asarray(errors)
    n = xa.size
    ja, jb = np.asarray(intercepts), np.asarray(slopes)
    da, db = ja - ja.mean(), jb - jb.mean()
    jack = (n - 1) / n
    return LeaveOneOut(
        n=int(n),
        rmse=float(np.sqrt(np.mean(e**2))),
        mean_abs=float(np.mean(np.abs(e))),
        max_abs=float(np.max(np.abs(e))),
        slope_min=float(min(slopes)),
        slope_max=float(max(slopes)),
        var_intercept=float(jack * np.sum(da**2)),
        var_slope=float(jack * np.sum(db**2)),
        cov_intercept_slope=float(jack * np.sum(da * db)),
    )


@dataclass(frozen=True)
class InVivoFit:
    """An in-vivo cross-calibration: ``reference = intercept + slope * other`` (Deming).

    ``delta`` is var(err reference) / var(err other) of the per-patient means: from the two
    scanners' precision studies, else from the patients' own repeat scans, else 1 (equal
    precision, a stated default with a warning); ``delta_source`` says which. Each variance
    is divided by the mean number of scans averaged per patient on that scanner.
    """

    fit: LinearFit
    bland_altman: BlandAltman
    delta: float
    delta_source: str
    loo: LeaveOneOut | None = None
    warning: str = ""
    needs_review: str = ""

    def covariance(self) -> tuple[float, float, float]:
        """Return (var intercept, var slope, cov) of the fit: bootstrap, else jackknife.

        Returns
        -------
        tuple of float
            NaN when neither is available (fewer than 4 pairs and no bootstrap).
        """
        x = self.fit.extra
        sa, sb = x.get("intercept_se_boot", math.nan), x.get("slope_se_boot", math.nan)
        cab = x.get("intercept_slope_cov_boot", math.nan)
        if all(math.isfinite(v) for v in (sa, sb, cab)):
            return sa**2, sb**2, cab
        if self.loo is not None:
            return self.loo.var_intercept, self.loo.var_slope, self.loo.cov_intercept_slope
        return math.nan, math.nan, math.nan

    def provenance(self) -> dict[str, Any]:
        """Return the fit, Bland-Altman, delta and leave-one-out error as a JSON-ready dict."""
        ba = self.bland_altman
        out: dict[str, Any] = {
            "fit": self.fit.to_dict(),
            "bland_altman": {
                "bias": ba.bias,
                "sd": ba.sd,
                "lower": ba.lower,
                "upper": ba.upper,
                "n": ba.n,
            },
            "delta": self.delta,
            "delta_source": self.delta_source,
            "n_pairs": self.fit.n,
            "leave_one_out": None if self.loo is None else self.loo.to_dict(),
        }
        if self.warning:
            out["warning"] = self.warning
        if self.needs_review:
            out["needs_review"] = self.needs_review
        return out


def in_vivo_fit(
    other: npt.ArrayLike,
    reference: npt.ArrayLike,
    *,
    sd_other: float | None = None,
    sd_reference: float | None = None,
    k_other: float = 1.0,
    k_reference: float = 1.0,
    repeat_sd_other: float | None = None,
    repeat_sd_reference: float | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
    plausible: tuple[float, float] = PLAUSIBLE_SLOPE,
) -> InVivoFit:
    """Fit the reference scanner's readings on another scanner's (paired, same patients).

    Parameters
    ----------
    other, reference : array_like
        Paired BMD of the same patients on the other and on the reference scanner: each the
        mean of that patient's scans on that scanner.
    sd_other, sd_reference : float, optional
        The scanners' precision (RMS-SD, g/cm2) from their precision studies.
    k_other, k_reference : float, optional
        The mean number of scans averaged per patient on each scanner.
    repeat_sd_other, repeat_sd_reference : float, optional
        Each scanner's precision estimated from the patients' own repeat scans (used when a
        precision study is missing).
    bootstrap, seed : int
        Deming bootstrap resamples and seed.
    plausible : tuple of float, optional
        Slopes outside this range are flagged ``needs_review``.

    Returns
    -------
    InVivoFit
        The Deming fit, its Bland-Altman statistics, the delta used and where it came from,
        the leave-one-out prediction error, and any warning or review flag.
    """
    warning = ""
    if sd_other and sd_reference:
        sd_o, sd_r, source = sd_other, sd_reference, "precision studies"
    elif repeat_sd_other and repeat_sd_reference:
        sd_o, sd_r = repeat_sd_other, repeat_sd_reference
        source = "repeat scans of the in-vivo patients"
        warning = "no precision study of both scanners: delta from the patients' repeat scans"
    else:
        sd_o = sd_r = 1.0
        source = "assumed 1"
        warning = (
            "no precision study of both scanners and too few repeats: delta assumed 1 (equal"
            " precision in g/cm2); record precision studies and fit again"
        )
    delta = (sd_r**2 / max(k_reference, 1.0)) / (sd_o**2 / max(k_other, 1.0))
    fit = deming(other, reference, delta=delta, bootstrap=bootstrap, seed=seed)
    loo = leave_one_out(other, reference, delta=delta) if fit.n >= 4 else None
    lo, hi = plausible
    review = ""
    if not lo <= fit.slope <= hi:
        review = (
            f"slope {fit.slope:.3f} outside the plausible {lo:g}-{hi:g}: check the pairs"
            " (regions, sides, patients) before approving"
        )
    return InVivoFit(fit, bland_altman(other, reference), delta, source, loo, warning, review)
