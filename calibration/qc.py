"""Phantom QC: baseline and ±1.5 % limits, Westgard multirule, tabular CUSUM and drift proposals."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "RULES",
    "Baseline",
    "BaselineError",
    "Cusum",
    "DriftProposal",
    "QcAnalysis",
    "RuleHit",
    "analyse",
    "baseline",
    "cusum",
    "detection_delays",
    "extend",
    "false_alarm_rates",
    "propose_correction",
    "propose_drift",
    "westgard",
]

#: Rule names in reporting order.
RULES = ("1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10-x", "limit")
_SEVERITY: dict[str, Literal["warning", "reject"]] = {
    "1-2s": "warning",
    "1-3s": "reject",
    "2-2s": "reject",
    "R-4s": "reject",
    "4-1s": "reject",
    "10-x": "reject",
    "limit": "reject",
}


def _values(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(a)):
        raise ValueError("QC values must be finite")
    return a


class BaselineError(ValueError):
    """The series cannot give a usable baseline (too few scans, or no spread at all)."""


@dataclass(frozen=True)
class Baseline:
    """Baseline of a phantom series: mean, SD and the ±limit_pct % control limits."""

    mean: float
    sd: float
    n: int
    limit_pct: float = 1.5

    @property
    def lower(self) -> float:
        """Lower control limit, ``mean * (1 - limit_pct / 100)``."""
        return self.mean * (1 - self.limit_pct / 100)

    @property
    def upper(self) -> float:
        """Upper control limit, ``mean * (1 + limit_pct / 100)``."""
        return self.mean * (1 + self.limit_pct / 100)


def baseline(
    values: npt.ArrayLike,
    n: int = 20,
    *,
    limit_pct: float = 1.5,
    allow_nonstandard: bool = False,
) -> Baseline:
    """Compute the baseline from the first ``n`` values (one scan a day, 15-25 days).

    Parameters
    ----------
    values : array_like
        The phantom series in time order (g/cm2); at least ``n`` values.
    n : int, optional
        Baseline length. 15..25 is accepted by default (Bonnick); other lengths >= 10 need
        ``allow_nonstandard=True``; below 10 is always refused.
    limit_pct : float, optional
        Control limits in percent of the baseline mean.
    allow_nonstandard : bool, optional
        Accept a baseline length outside 15..25 (but >= 10).

    Returns
    -------
    Baseline
        Mean, SD (n - 1 df), n and the limit.

    Raises
    ------
    ValueError
        On a bad length or limit.
    BaselineError
        (a ValueError) when there are too few values or their SD is zero: the data, not the
        call, are unusable.
    """
    if n < 10:
        raise ValueError(f"a QC baseline needs at least 10 scans, got n={n}")
    if not 15 <= n <= 25 and not allow_nonstandard:
        raise ValueError(
            f"baseline length {n} is outside the recommended 15-25 daily scans; "
            "pass allow_nonstandard=True to use it anyway"
        )
    a = _values(values)
    if a.size < n:
        raise BaselineError(f"the baseline needs {n} values, only {a.size} given")
    head = a[:n]
    sd = float(head.std(ddof=1))
    if sd <= 0:
        raise BaselineError("baseline SD is zero: the values are identical")
    if limit_pct <= 0:
        raise ValueError(f"limit_pct must be positive, got {limit_pct}")
    return Baseline(mean=float(head.mean()), sd=sd, n=n, limit_pct=limit_pct)


@dataclass(frozen=True)
class RuleHit:
    """A QC rule fired at ``index`` (the value that completed the pattern)."""

    index: int
    rule: str
    severity: Literal["warning", "reject"]
    message: str


def _runs(mask: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.bool_]:
    """True at i when mask[i-length+1..i] are all True."""
    out = np.zeros(mask.size, dtype=bool)
    if mask.size >= length:
        c = np.concatenate(([0], np.cumsum(mask.astype(np.int64))))
        out[length - 1 :] = (c[length:] - c[:-length]) == length
    return out


def _rule_masks(
    z: npt.NDArray[np.float64], v: npt.NDArray[np.float64], base: Baseline
) -> dict[str, npt.NDArray[np.bool_]]:
    hi2, lo2 = z > 2, z < -2
    prev_hi2 = np.concatenate(([False], hi2[:-1]))
    prev_lo2 = np.concatenate(([False], lo2[:-1]))
    return {
        "1-2s": hi2 | lo2,
        "1-3s": np.abs(z) > 3,
        "2-2s": (hi2 & prev_hi2) | (lo2 & prev_lo2),
        "R-4s": (lo2 & prev_hi2) | (hi2 & prev_lo2),
        "4-1s": _runs(z > 1, 4) | _runs(z < -1, 4),
        "10-x": _runs(z > 0, 10) | _runs(z < 0, 10),
        "limit": (v < base.lower) | (v > base.upper),
    }


_MESSAGES = {
    "1-2s": "value beyond ±2 SD (warning: inspect)",
    "1-3s": "value beyond ±3 SD",
    "2-2s": "two consecutive values beyond the same ±2 SD",
    "R-4s": "one value beyond +2 SD and the next beyond -2 SD (or the reverse)",
    "4-1s": "four consecutive values beyond the same ±1 SD",
    "10-x": "ten consecutive values on the same side of the mean",
    "limit": "value outside the ±{pct} % control limits ({lo:.4f}-{hi:.4f})",
}


def westgard(values: npt.ArrayLike, base: Baseline) -> list[RuleHit]:
    """Apply the Westgard multirule and the ±limit_pct % limit to a phantom series.

    With z = (value - mean) / SD of the baseline, and all comparisons strict:

    * ``1-2s`` (warning): |z| > 2;
    * ``1-3s`` (reject): |z| > 3;
    * ``2-2s`` (reject): this and the previous value both > +2 or both < -2;
    * ``R-4s`` (reject): previous > +2 and this < -2, or previous < -2 and this > +2;
    * ``4-1s`` (reject): this and the three previous all > +1 or all < -1;
    * ``10-x`` (reject): this and the nine previous all > 0 or all < 0 (a value exactly at
      the mean breaks the run);
    * ``limit`` (reject): value outside ``[base.lower, base.upper]``.

    A rule fires at the index that completes its pattern; a run that continues fires again at
    every further index (each new value completes a new window).

    Parameters
    ----------
    values : array_like
        The series in time order (normally including the baseline scans).
    base : Baseline
        Baseline from :func:`baseline`.

    Returns
    -------
    list of RuleHit
        Hits ordered by index, then by rule in :data:`RULES` order.
    """
    v = _values(values)
    z = (v - base.mean) / base.sd
    masks = _rule_masks(z, v, base)
    hits: list[RuleHit] = []
    fired = np.zeros(v.size, dtype=bool)
    for rule in RULES:
        fired |= masks[rule]
    text = {
        r: m.format(pct=base.limit_pct, lo=base.lower, hi=base.upper) for r, m in _MESSAGES.items()
    }
    for i in np.flatnonzero(fired).tolist():  # only the values where some rule fired
        for rule in RULES:
            if masks[rule][i]:
                msg = text[rule]
                hits.append(
                    RuleHit(
                        index=i,
                        rule=rule,
                        severity=_SEVERITY[rule],
                        message=f"{msg}; value {v[i]:.4f}, z = {z[i]:+.2f}",
                    )
                )
    return hits


@dataclass(frozen=True)
class Cusum:
    """Tabular (Page) CUSUM paths in SD units and the indices where it alarms."""

    c_plus: tuple[float, ...]
    c_minus: tuple[float, ...]
    alarms: tuple[int, ...]
    k: float
    h: float


def _cusum_arrays(
    z: npt.NDArray[np.float64], k: float, start: tuple[float, float] = (0.0, 0.0)
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vectorised over the last axis (z may be 1-D or 2-D: series x time).

    A single series runs as a plain float loop: the same IEEE operations in the same order
    as the array loop (so bit-identical sums), without numpy's per-element overhead; it may
    go on from the sums ``start`` (C+, C-) of earlier values.
    """
    if z.ndim == 1:
        p1, m1 = start
        plus: list[float] = []
        minus: list[float] = []
        for zt in z.tolist():
            p1 = p1 + zt - k
            p1 = p1 if p1 >= 0.0 else 0.0  # as np.maximum(0.0, p1): -0.0 stays -0.0
            m1 = m1 - zt - k
            m1 = m1 if m1 >= 0.0 else 0.0
            plus.append(p1)
            minus.append(m1)
        return np.array(plus, dtype=np.float64), np.array(minus, dtype=np.float64)
    cp = np.zeros_like(z)
    cm = np.zeros_like(z)
    p = np.zeros(z.shape[:-1])
    m = np.zeros(z.shape[:-1])
    for t in range(z.shape[-1]):
        p = np.maximum(0.0, p + z[..., t] - k)
        m = np.maximum(0.0, m - z[..., t] - k)
        cp[..., t] = p
        cm[..., t] = m
    return cp, cm


def cusum(values: npt.ArrayLike, base: Baseline, *, k: float = 0.5, h: float = 5.0) -> Cusum:
    """Tabular (Page) CUSUM of a phantom series, in SD units of the baseline.

    ``z_t = (x_t - mean) / sd``; ``C+_t = max(0, C+_{t-1} + z_t - k)``;
    ``C-_t = max(0, C-_{t-1} - z_t - k)``; alarm when ``C+_t > h`` or ``C-_t > h``.
    The sums start at 0 before the first value and are **not reset after an alarm**: every
    index while a sum stays above ``h`` is listed in ``alarms``, so a confirmed shift keeps
    alarming until it is corrected (a new baseline or a drift step starts a new series).

    Parameters
    ----------
    values : array_like
        The series in time order.
    base : Baseline
        Target mean and SD.
    k : float, optional
        Reference value (allowance) in SD units; 0.5 is tuned to a 1-SD shift.
    h : float, optional
        Decision interval in SD units (typical 4-5; not validated for DXA).

    Returns
    -------
    Cusum
        The two paths and the alarm indices.
    """
    if k < 0 or h <= 0:
        raise ValueError(f"need k >= 0 and h > 0 (got k={k}, h={h})")
    v = _values(values)
    cp, cm = _cusum_arrays((v - base.mean) / base.sd, k)
    alarms = np.flatnonzero((cp > h) | (cm > h))
    return Cusum(
        c_plus=tuple(cp.tolist()),
        c_minus=tuple(cm.tolist()),
        alarms=tuple(alarms.tolist()),
        k=k,
        h=h,
    )


@dataclass(frozen=True)
class DriftProposal:
    """A proposed multiplicative drift correction from ``start_index`` on.

    ``model`` is ``"step"`` (a constant ``factor`` from ``start_index`` on) or ``"ramp"``
    (a slow drift: the factor is 1 on ``anchor_day``, the day of the last scan at the old
    level, changes by ``per_day`` a day up to ``end_day``, the latest scan it was fitted on,
    and is held there; ``factor`` is its value on ``end_day``). ``alarm_index`` is the first
    CUSUM alarm of the confirmed episode; ``sd_step``/``sd_ramp`` the residual SDs of the two
    models over the values after the baseline (the smaller one chose the model).
    """

    start_index: int
    factor: float
    n_after: int
    evidence: str
    alarm_index: int = -1
    model: Literal["step", "ramp"] = "step"
    per_day: float = 0.0
    anchor_day: float | None = None
    end_day: float | None = None
    level: float | None = None
    sd_step: float | None = None
    sd_ramp: float | None = None
    #: Variance of ``factor`` (a ramp: on ``end_day``, its largest), from the noise of the
    #: baseline and of the values after the change.
    factor_var: float | None = None

    def factor_on(self, day: float) -> float:
        """Return the correction factor on a day (same units as the days given).

        Parameters
        ----------
        day : float
            The day.

        Returns
        -------
        float
            A step: ``factor``; a ramp: ``1 + per_day * (min(day, end_day) - anchor_day)``
            from ``anchor_day`` on (1 before it).
        """
        if self.model == "step" or self.anchor_day is None or self.end_day is None:
            return self.factor
        if day <= self.anchor_day:
            return 1.0
        return 1.0 + self.per_day * (min(day, self.end_day) - self.anchor_day)


def propose_drift(
    values: npt.ArrayLike,
    base: Baseline,
    *,
    k: float = 0.5,
    h: float = 5.0,
    min_after: int = 5,
    after_index: int = 0,
    refine: bool = False,
    persistent: bool = True,
    min_shift_pct: float = 0.5,
) -> DriftProposal | None:
    """Propose a multiplicative drift correction when the CUSUM confirms a shift.

    A shift is confirmed when a side of the CUSUM is still in alarm at the latest value
    (``persistent``; a false alarm that has died away proposes nothing) and the mean after the
    change point differs from the baseline by at least ``min_shift_pct`` percent. The alarm
    used is the first of the episode that lasts to the end. The change point is the last
    index before that alarm at which the alarming side's sum was 0, plus one (0 if it never
    was). The factor is
    ``base.mean / mean(values[start:])``: patient BMD measured from ``start`` on is multiplied
    by it (``BMD_corr = BMD_meas * factor``, a drift step ``(0, factor)``).

    Parameters
    ----------
    values : array_like
        The series in time order.
    base : Baseline
        The baseline.
    k, h : float, optional
        CUSUM parameters (see :func:`cusum`).
    min_after : int, optional
        Minimum number of values from the change point on; fewer gives None.
    after_index : int, optional
        Ignore alarms before this index (e.g. a reviewed and dismissed false alarm).
    persistent : bool, optional
        Only a side still in alarm at the latest value counts (default True); False uses the
        first alarm of either side, as the plain textbook rule.
    min_shift_pct : float, optional
        Smallest shift (percent of the baseline mean) worth a correction (default 0.5 %, a
        third of the +/-1.5 % control limit); smaller confirmed shifts propose nothing.
    refine : bool, optional
        After the CUSUM estimate, move the change point to the least-squares step position
        between it and the first alarm (a step from the known baseline mean to a free mean
        after it). The plain CUSUM estimate is often a few scans early, because the sum
        wanders above zero before the step; see docs/calibration.md for both accuracies.

    Returns
    -------
    DriftProposal or None
        None when there is no alarm or too few values after the change point.
    """
    v = _values(values)
    c = cusum(v, base, k=k, h=h)
    alarms = [i for i in c.alarms if i >= after_index]
    if not alarms:
        return None
    if persistent:
        last = v.size - 1
        if c.c_plus[last] > h:
            up = True
        elif c.c_minus[last] > h:
            up = False
        else:
            return None  # the alarm died away: not a confirmed shift
        path = c.c_plus if up else c.c_minus
        first = last
        while first - 1 >= after_index and path[first - 1] > h:
            first -= 1
    else:
        first = alarms[0]
        up = c.c_plus[first] > h and c.c_plus[first] >= c.c_minus[first]
        path = c.c_plus if up else c.c_minus
    start = 0
    for j in range(first - 1, -1, -1):
        if path[j] == 0:
            start = j + 1
            break
    method = "after the last zero of {side}"
    if refine and first > start:
        start = _refine_step(v, base.mean, start, first)
        method = "least-squares step between the last zero of {side} and the alarm"
    after = v[start:]
    if after.size < min_after:
        return None
    mean_after = float(after.mean())
    if abs(mean_after / base.mean - 1) * 100 < min_shift_pct:
        return None
    factor = base.mean / mean_after
    # relative variances of the two means add: f = mu0 / mean_after
    factor_var = factor**2 * (
        base.sd**2 / (base.n * base.mean**2)
        + float(after.var(ddof=1) if after.size > 1 else base.sd**2) / (after.size * mean_after**2)
    )
    side = "C+" if up else "C-"
    evidence = (
        f"{side} exceeded h={h:g} (k={k:g}) at index {first} ({path[first]:.2f} SD); change "
        f"point = index {start} ({method.format(side=side)}); mean of {after.size} values "
        f"from there {mean_after:.4f} vs baseline {base.mean:.4f} "
        f"({100 * (mean_after / base.mean - 1):+.2f} %)"
    )
    return DriftProposal(
        start_index=start,
        factor=factor,
        n_after=int(after.size),
        evidence=evidence,
        alarm_index=first,
        factor_var=factor_var,
    )


def _refine_step(v: npt.NDArray[np.float64], mu0: float, lo: int, hi: int) -> int:
    """Step position in [lo, hi] minimising the SSE of mu0 before and a free mean after."""
    best, best_sse = lo, math.inf
    for tau in range(lo, hi + 1):
        before = v[lo:tau]
        after = v[tau:]
        sse = float(np.sum((before - mu0) ** 2) + np.sum((after - after.mean()) ** 2))
        if sse < best_sse:
            best, best_sse = tau, sse
    return best


def propose_correction(
    values: npt.ArrayLike,
    base: Baseline,
    days: npt.ArrayLike,
    *,
    baseline_values: npt.ArrayLike = (),
    k: float = 0.5,
    h: float = 5.0,
    min_after: int = 5,
    min_shift_pct: float = 0.5,
) -> DriftProposal | None:
    """Propose a drift correction, a step or a ramp, whichever the data fit better.

    A shift must first be confirmed as in :func:`propose_drift` (a CUSUM side still in alarm
    at the latest value, a shift of at least ``min_shift_pct``). Then two models of the values
    after the baseline are fitted by least squares, each with two parameters:

    * **step**: the baseline mean up to a change point, a constant level after it (the refined
      CUSUM estimate of :func:`propose_drift`); corrected by a constant factor;
    * **ramp**: the old level up to a change point, then a straight line in days from it; the
      old level is the mean of the baseline and the values before the change point (more
      scans than the baseline alone), and the factor ``level / value`` is fitted as a line
      through 1 on the day of the last scan at the old level; the change point is searched
      from the first value after the baseline to the first alarm.

    The model with the smaller residual sum of squares is chosen (a tie keeps the step).

    Parameters
    ----------
    values : array_like
        The values **after** the baseline, in time order.
    base : Baseline
        The baseline.
    days : array_like
        The day of each value (e.g. date ordinals), same length as ``values``.
    baseline_values : array_like, optional
        The baseline's own values (they improve the old level of the ramp).
    k, h : float, optional
        CUSUM parameters.
    min_after : int, optional
        Minimum number of values after the change point.
    min_shift_pct : float, optional
        Smallest shift worth a correction (percent of the baseline mean).

    Returns
    -------
    DriftProposal or None
        The chosen model, or None without a confirmed shift.
    """
    v = _values(values)
    d = _values(days)
    if d.size != v.size:
        raise ValueError("days and values must have the same length")
    step = propose_drift(
        v, base, k=k, h=h, min_after=min_after, refine=True, min_shift_pct=min_shift_pct
    )
    if step is None:
        return None
    head = _values(baseline_values)
    s0 = step.start_index
    after = v[s0:]
    sse_step = float(np.sum((v[:s0] - base.mean) ** 2) + np.sum((after - after.mean()) ** 2))
    best: tuple[float, int, float, float, float] | None = None
    gap = float(d[1] - d[0]) if d.size > 1 else 1.0
    for tau in range(0, max(step.alarm_index, 0) + 1):
        if v.size - tau < min_after:
            break
        level = float(np.concatenate([head, v[:tau]]).mean()) if head.size or tau else base.mean
        anchor = float(d[tau - 1]) if tau > 0 else float(d[0]) - gap
        x = d[tau:] - anchor
        y = level / v[tau:] - 1.0
        c = float(x @ y / (x @ x))
        pred = level / (1.0 + c * x)
        sse = float(np.sum((v[:tau] - level) ** 2) + np.sum((v[tau:] - pred) ** 2))
        if best is None or sse < best[0]:
            best = (sse, tau, c, anchor, level)
    dof = max(v.size - 2, 1)
    sd_step = math.sqrt(sse_step / dof)
    if best is None or not best[0] < sse_step:
        return DriftProposal(
            **{
                **step.__dict__,
                "sd_step": sd_step,
                "sd_ramp": None if best is None else math.sqrt(best[0] / dof),
            }
        )
    sse, tau, c, anchor, level = best
    end = float(d[-1])
    factor_end = 1.0 + c * (end - anchor)
    x = d[tau:] - anchor
    y = level / v[tau:] - 1.0
    dof_y = max(x.size - 1, 1)
    var_c = float(np.sum((y - c * x) ** 2)) / dof_y / float(x @ x)
    n_level = head.size + tau
    var_level_rel = (base.sd / level) ** 2 / max(n_level, 1)
    factor_var = (end - anchor) ** 2 * var_c + factor_end**2 * var_level_rel
    evidence = (
        f"{step.evidence}; a ramp fits better than a step (residual SD "
        f"{math.sqrt(sse / dof):.5f} vs {sd_step:.5f}): level {level:.4f} until day "
        f"{anchor:g}, then {-100 * c:+.4f} % of the factor a day to day {end:g}"
    )
    return DriftProposal(
        start_index=tau,
        factor=factor_end,
        n_after=int(v.size - tau),
        evidence=evidence,
        alarm_index=step.alarm_index,
        model="ramp",
        per_day=c,
        anchor_day=anchor,
        end_day=end,
        level=level,
        sd_step=sd_step,
        sd_ramp=math.sqrt(sse / dof),
        factor_var=factor_var,
    )


@dataclass(frozen=True)
class QcAnalysis:
    """Everything the QC view needs about one baseline segment of a phantom series.

    Indices (``hits``, ``cusum.alarms``, ``proposal.start_index``) count in the whole series
    the segment belongs to; the CUSUM paths cover the segment only: ``cusum.c_plus[i]`` is
    the sum at series index ``offset + i`` (0 over the baseline scans, where no rule runs).
    """

    baseline: Baseline
    hits: tuple[RuleHit, ...]
    cusum: Cusum
    proposal: DriftProposal | None
    status: Literal["ok", "warning", "reject"]
    offset: int = 0

    def in_alarm_at_end(self) -> bool:
        """Return whether a CUSUM side is above h at the segment's latest scan.

        Returns
        -------
        bool
            True while a confirmed shift is uncorrected.
        """
        c = self.cusum
        return bool(c.c_plus and (c.c_plus[-1] > c.h or c.c_minus[-1] > c.h))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict.

        Returns
        -------
        dict
            Baseline, hits, CUSUM alarms, proposal and status.
        """
        b = self.baseline
        return {
            "baseline": {
                "mean": b.mean,
                "sd": b.sd,
                "n": b.n,
                "limit_pct": b.limit_pct,
                "lower": b.lower,
                "upper": b.upper,
            },
            "hits": [h.__dict__.copy() for h in self.hits],
            "cusum": {"k": self.cusum.k, "h": self.cusum.h, "alarms": list(self.cusum.alarms)},
            "proposal": None if self.proposal is None else self.proposal.__dict__.copy(),
            "status": self.status,
            "offset": self.offset,
        }


def analyse(
    values: npt.ArrayLike,
    *,
    n_baseline: int = 20,
    k: float = 0.5,
    h: float = 5.0,
    allow_nonstandard: bool = False,
    offset: int = 0,
    days: npt.ArrayLike | Callable[[], npt.ArrayLike] | None = None,
    rules: bool = True,
) -> QcAnalysis:
    """Run baseline, Westgard, CUSUM and the drift proposal on one baseline segment.

    The first ``n_baseline`` values form the baseline and are only that: the Westgard rules
    and the CUSUM are evaluated on the values **after** it, and the CUSUM sums start at 0 with
    the first value after the baseline (a sum built inside the baseline, where the mean and SD
    were estimated from the same values, would carry over into the first days of control).
    The drift proposal uses ``refine=True`` (see :func:`propose_drift`).

    Status: ``"reject"`` when any reject rule fired; ``"warning"`` when only 1-2s warnings
    fired or the CUSUM alarmed (a CUSUM alarm asks for review of the drift proposal rather
    than stopping the scanner); otherwise ``"ok"``. The whole segment is judged.

    Parameters
    ----------
    values : array_like
        The segment in time order; the first ``n_baseline`` values form the baseline.
    n_baseline : int, optional
        Baseline length (see :func:`baseline`).
    k, h : float, optional
        CUSUM parameters.
    allow_nonstandard : bool, optional
        Passed to :func:`baseline`.
    offset : int, optional
        Index of the segment's first value in the whole series; added to every index.
    days : array_like or callable, optional
        The day of each value (e.g. date ordinals). With days the drift proposal chooses
        between a step and a ramp (:func:`propose_correction`); without, it is a step. A
        function returning them is called only when a proposal needs them.
    rules : bool, optional
        Apply the Westgard rules (default). False leaves ``hits`` empty, for a caller that
        needs only the baseline, the CUSUM and the drift proposal (they do not depend on
        the rules).

    Returns
    -------
    QcAnalysis
        The bundled results.
    """
    v = _values(values)
    base = baseline(v, n_baseline, allow_nonstandard=allow_nonstandard)
    post = v[n_baseline:]
    shift = offset + n_baseline
    hits: tuple[RuleHit, ...] = ()
    zeros = (0.0,) * n_baseline
    c = Cusum(c_plus=zeros, c_minus=zeros, alarms=(), k=k, h=h)
    if post.size:
        hits = tuple(
            RuleHit(hit.index + shift, hit.rule, hit.severity, hit.message)
            for hit in (westgard(post, base) if rules else ())
        )
        local = cusum(post, base, k=k, h=h)
        c = Cusum(
            c_plus=zeros + local.c_plus,
            c_minus=zeros + local.c_minus,
            alarms=tuple(i + shift for i in local.alarms),
            k=k,
            h=h,
        )
    return _finish(v, base, hits, c, offset=offset, days=days)


def _finish(
    v: npt.NDArray[np.float64],
    base: Baseline,
    hits: tuple[RuleHit, ...],
    c: Cusum,
    *,
    offset: int,
    days: npt.ArrayLike | Callable[[], npt.ArrayLike] | None,
) -> QcAnalysis:
    """Add the drift proposal and the status to a segment's rules and CUSUM.

    ``days`` may be a function giving them, called only when a proposal needs them.
    """
    n_baseline = base.n
    post = v[n_baseline:]
    shift = offset + n_baseline
    k, h = c.k, c.h
    proposal = None
    if post.size:
        in_alarm = c.c_plus[-1] > h or c.c_minus[-1] > h
        d = None
        if days is not None and (in_alarm or not callable(days)):
            d = _values(days() if callable(days) else days)
            if d.size != v.size:
                raise ValueError("days and values must have the same length")
        if not in_alarm:
            p = None  # no side in alarm at the latest value: no proposal (see propose_drift)
        elif d is None:
            p = propose_drift(post, base, k=k, h=h, refine=True)
        else:
            p = propose_correction(
                post, base, d[n_baseline:], baseline_values=v[:n_baseline], k=k, h=h
            )
        if p is not None:
            proposal = DriftProposal(
                **{
                    **p.__dict__,
                    "start_index": p.start_index + shift,
                    "alarm_index": p.alarm_index + shift,
                }
            )
    status: Literal["ok", "warning", "reject"]
    if any(hit.severity == "reject" for hit in hits):
        status = "reject"
    elif hits or c.alarms:
        status = "warning"
    else:
        status = "ok"
    return QcAnalysis(
        baseline=base, hits=hits, cusum=c, proposal=proposal, status=status, offset=offset
    )


#: How many earlier values a Westgard rule looks back over (10-x: a value and the nine before).
_RULE_LOOKBACK = 9


def extend(
    analysis: QcAnalysis,
    values: npt.ArrayLike,
    n_old: int,
    *,
    days: npt.ArrayLike | Callable[[], npt.ArrayLike] | None = None,
) -> QcAnalysis:
    """Return the analysis of a segment that grew, from the analysis of its first values.

    ``analysis`` is :func:`analyse` of ``values[:n_old]`` (with the same ``n_baseline``,
    ``k``, ``h`` and ``offset``); the result equals :func:`analyse` of all ``values``,
    field for field: the baseline is the same first values, the rules are applied to the new
    values with the nine values before them, and the CUSUM sums go on from their last state.
    Only the drift proposal, when a CUSUM side is in alarm at the latest value, reads the
    whole segment again (as :func:`analyse` does).

    Parameters
    ----------
    analysis : QcAnalysis
        The analysis of ``values[:n_old]``.
    values : array_like
        The whole segment now, its first ``n_old`` values unchanged.
    n_old : int
        How many values ``analysis`` saw.
    days : array_like or callable, optional
        The day of each value of the whole segment (see :func:`analyse`), or a function
        returning them: then they are read only when a drift proposal needs them.

    Returns
    -------
    QcAnalysis
        The analysis of the whole segment.
    """
    v = _values(values)
    base = analysis.baseline
    old_post = n_old - base.n
    c0 = analysis.cusum
    if old_post <= _RULE_LOOKBACK or v.size < n_old:
        # a short control phase: the whole segment again is as cheap
        if callable(days):
            days = days()
        return analyse(
            v,
            n_baseline=base.n,
            k=c0.k,
            h=c0.h,
            allow_nonstandard=True,
            offset=analysis.offset,
            days=days,
        )
    post = v[base.n :]
    shift = analysis.offset + base.n
    start = old_post - _RULE_LOOKBACK
    new_hits = tuple(
        RuleHit(hit.index + start + shift, hit.rule, hit.severity, hit.message)
        for hit in westgard(post[start:], base)
        if hit.index + start >= old_post
    )
    cp, cm = _cusum_arrays(
        (post[old_post:] - base.mean) / base.sd, c0.k, start=(c0.c_plus[-1], c0.c_minus[-1])
    )
    alarms = np.flatnonzero((cp > c0.h) | (cm > c0.h)) + (old_post + shift)
    c = Cusum(
        c_plus=c0.c_plus + tuple(cp.tolist()),
        c_minus=c0.c_minus + tuple(cm.tolist()),
        alarms=c0.alarms + tuple(alarms.tolist()),
        k=c0.k,
        h=c0.h,
    )
    return _finish(v, base, analysis.hits + new_hits, c, offset=analysis.offset, days=days)


def _simulate(
    rng: np.random.Generator, n_series: int, length: int, cv_pct: float
) -> npt.NDArray[np.float64]:
    return 1.0 + rng.normal(0.0, cv_pct / 100, size=(n_series, length))


def false_alarm_rates(
    n_series: int = 2000,
    length: int = 90,
    n_baseline: int = 20,
    seed: int = 0,
    k: float = 0.5,
    h: float = 5.0,
    *,
    cv_pct: float = 0.45,
    estimate_baseline: bool = True,
) -> dict[str, float]:
    """Simulate stable scanners and measure how often each rule alarms anyway.

    Each series is ``length`` daily scans of a phantom with true value 1.0 g/cm2 and normal
    noise of ``cv_pct`` % (no shift). The baseline is estimated from the first ``n_baseline``
    scans of the same series (as in practice), then the rules run on the scans after the
    baseline, as :func:`analyse` does (CUSUM sums start at 0 after the baseline). The ``limit``
    rule depends on ``cv_pct`` (±1.5 % is 3.3 SD at CV 0.45 %); the SD rules do not.

    Parameters
    ----------
    n_series : int, optional
        Number of simulated series.
    length : int, optional
        Scans per series (90 = about three months of daily QC).
    n_baseline : int, optional
        Baseline length (any value >= 10 is accepted here).
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`.
    k, h : float, optional
        CUSUM parameters.
    cv_pct : float, optional
        Scanner noise in percent.
    estimate_baseline : bool, optional
        True (realistic): mean and SD come from the first ``n_baseline`` scans of each series.
        False: the true mean and SD are used (the textbook rates, for comparison).

    Returns
    -------
    dict of str to float
        Fraction of series with at least one post-baseline alarm, per rule in :data:`RULES`,
        ``"cusum"``, ``"any_reject"`` (any reject rule), and ``"any_reject_or_cusum"``.
    """
    if length <= n_baseline:
        raise ValueError("length must exceed the baseline length")
    rng = np.random.default_rng(seed)
    x = _simulate(rng, n_series, length, cv_pct)
    counts = dict.fromkeys((*RULES, "cusum", "any_reject", "any_reject_or_cusum"), 0)
    head = x[:, :n_baseline]
    if estimate_baseline:
        means = head.mean(axis=1)
        sds = head.std(axis=1, ddof=1)
    else:
        means = np.ones(n_series)
        sds = np.full(n_series, cv_pct / 100)
    post = x[:, n_baseline:]
    z_all = (post - means[:, None]) / sds[:, None]
    cp, cm = _cusum_arrays(z_all, k)
    cusum_alarm = np.any((cp > h) | (cm > h), axis=1)
    for s in range(n_series):
        base = Baseline(mean=float(means[s]), sd=float(sds[s]), n=n_baseline)
        masks = _rule_masks(z_all[s], post[s], base)
        rejected = False
        for rule in RULES:
            if masks[rule].any():
                counts[rule] += 1
                rejected = rejected or _SEVERITY[rule] == "reject"
        counts["cusum"] += int(cusum_alarm[s])
        counts["any_reject"] += int(rejected)
        counts["any_reject_or_cusum"] += int(rejected or bool(cusum_alarm[s]))
    return {name: c / n_series for name, c in counts.items()}


def detection_delays(
    step_pct: float = 2.5,
    cv_pct: float = 0.45,
    n_series: int = 2000,
    n_baseline: int = 20,
    step_at: int = 30,
    length: int = 90,
    seed: int = 0,
    k: float = 0.5,
    h: float = 5.0,
) -> dict[str, float]:
    """Simulate a step change and measure how many scans CUSUM needs to alarm.

    The delay counts scans from the step: 1 means the first scan after the step alarmed.
    Series that alarm before the step (false alarms) or never are reported separately.

    Parameters
    ----------
    step_pct : float, optional
        Size of the step in percent of the true value.
    cv_pct : float, optional
        Scanner noise in percent.
    n_series, n_baseline, step_at, length, seed : int, optional
        Simulation size, baseline length, index of the first shifted scan, series length,
        seed.
    k, h : float, optional
        CUSUM parameters.

    Returns
    -------
    dict of str to float
        ``median``, ``p90`` and ``max`` delay in scans over the detected series (CUSUM),
        ``median_limit_rule`` (delay of the ±1.5 % limit rule), ``detected`` and
        ``alarmed_before_step`` fractions.
    """
    if not n_baseline <= step_at < length:
        raise ValueError("need n_baseline <= step_at < length")
    rng = np.random.default_rng(seed)
    x = _simulate(rng, n_series, length, cv_pct)
    x[:, step_at:] *= 1 + step_pct / 100
    head = x[:, :n_baseline]
    means, sds = head.mean(axis=1), head.std(axis=1, ddof=1)
    z = (x - means[:, None]) / sds[:, None]
    # the CUSUM starts after the baseline (as in :func:`analyse`)
    cp, cm = _cusum_arrays(z[:, n_baseline:], k)
    pad = np.zeros((n_series, n_baseline), dtype=bool)
    alarm = np.concatenate([pad, (cp > h) | (cm > h)], axis=1)
    limit: npt.NDArray[np.bool_] = np.asarray(np.abs(x / means[:, None] - 1) > 0.015)
    early: npt.NDArray[np.bool_] = np.asarray(alarm[:, :step_at].any(axis=1))
    delays: list[int] = []
    limit_delays: list[int] = []
    for s in range(n_series):
        if early[s]:
            continue
        after = np.flatnonzero(alarm[s, step_at:])
        if after.size:
            delays.append(int(after[0]) + 1)
        lim = np.flatnonzero(limit[s, step_at:])
        if lim.size:
            limit_delays.append(int(lim[0]) + 1)
    d = np.asarray(delays, dtype=np.float64)
    nan = math.nan
    return {
        "median": float(np.median(d)) if d.size else nan,
        "p90": float(np.percentile(d, 90)) if d.size else nan,
        "max": float(d.max()) if d.size else nan,
        "median_limit_rule": float(np.median(limit_delays)) if limit_delays else nan,
        "detected": d.size / n_series,
        "alarmed_before_step": float(early.mean()),
    }
