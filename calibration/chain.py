"""Composition of the per-scanner calibration chain (drift, scanner, national) into a + b*raw."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHAIN_ORDER",
    "ChainStep",
    "compose",
    "compose_covariance",
    "drift_factor",
    "drift_step",
    "harmonise",
    "harmonise_with_uncertainty",
    "inverse_line_covariance",
]

#: The order in which steps are applied.
CHAIN_ORDER = ("drift", "scanner", "national")


@dataclass(frozen=True)
class ChainStep:
    """One linear step ``y = intercept + slope * x`` of a calibration chain.

    ``var_intercept``, ``var_slope`` and ``cov_intercept_slope`` are the uncertainty of the
    fitted coefficients (0 when exact or unknown).
    """

    step_id: int | None
    kind: Literal["drift", "scanner", "national"]
    intercept: float
    slope: float
    var_intercept: float = 0.0
    var_slope: float = 0.0
    cov_intercept_slope: float = 0.0


def drift_factor(
    factor: float, per_day: float, start: dt.date, end: dt.date | None, on: dt.date
) -> float:
    """Evaluate a drift correction on a scan date: a step, or a ramp held after its end.

    A step has ``per_day = 0`` and is ``factor`` from ``start`` on. A ramp (a slow drift,
    piecewise-linear in days) is ``factor`` on ``start``, changes by ``per_day`` a day up to
    ``end`` (the last QC scan it was fitted on) and is held at that value after it.

    Parameters
    ----------
    factor : float
        The factor on ``start``.
    per_day : float
        Change of the factor per day (0 for a step).
    start : datetime.date
        The step's valid-from date.
    end : datetime.date or None
        The end of the ramp (None: no end; only meaningful with ``per_day = 0``).
    on : datetime.date
        The scan date (on or after ``start``).

    Returns
    -------
    float
        The multiplicative correction on that date.

    Examples
    --------
    >>> import datetime as dt
    >>> d = dt.date(2026, 1, 1)
    >>> drift_factor(1.0, -0.0002, d, d + dt.timedelta(days=50), d + dt.timedelta(days=10))
    0.998
    >>> round(drift_factor(1.0, -0.0002, d, d + dt.timedelta(days=50), dt.date(2027, 1, 1)), 6)
    0.99
    """
    if per_day == 0.0:
        return factor
    last = on if end is None else min(on, end)
    return factor + per_day * max((last - start).days, 0)


def drift_step(factor: float, step_id: int | None = None) -> ChainStep:
    """Build the chain step of a multiplicative drift factor ``f``: ``(0, f)``.

    Parameters
    ----------
    factor : float
        Multiplicative correction (e.g. :attr:`calibration.qc.DriftProposal.factor`).
    step_id : int or None, optional
        Archive id of the step.

    Returns
    -------
    ChainStep
        ``ChainStep(step_id, "drift", 0.0, factor)``.
    """
    return ChainStep(step_id=step_id, kind="drift", intercept=0.0, slope=factor)


def compose(steps: Sequence[ChainStep]) -> tuple[float, float]:
    """Compose linear steps, applied in the given order, into one line.

    Applying ``y = a_i + b_i * x`` one after another gives ``harmonised = a + b * raw`` with
    ``a <- a_i + b_i * a`` and ``b <- b_i * b``. The steps must be given in chain order
    (all drift steps, then scanner, then national); an empty chain is the identity.

    Parameters
    ----------
    steps : sequence of ChainStep
        The steps valid on the scan date, in application order.

    Returns
    -------
    tuple of float
        ``(a, b)`` such that ``harmonised = a + b * raw``.

    Raises
    ------
    ValueError
        If the steps are out of order or a slope is not positive.

    Examples
    --------
    >>> compose([ChainStep(None, "drift", 0.0, 1.02), ChainStep(None, "national", 0.01, 0.9)])
    (0.01, 0.918)
    """
    a, b = 0.0, 1.0
    last = 0
    for s in steps:
        pos = CHAIN_ORDER.index(s.kind)
        if pos < last:
            raise ValueError(
                f"calibration steps out of order: {s.kind} after {CHAIN_ORDER[last]} "
                f"(expected {' -> '.join(CHAIN_ORDER)})"
            )
        if not s.slope > 0:
            raise ValueError(f"step {s.step_id} ({s.kind}) has a non-positive slope {s.slope}")
        last = pos
        a, b = s.intercept + s.slope * a, s.slope * b
    return a, b


def harmonise(raw: float, steps: Sequence[ChainStep]) -> float:
    """Apply a calibration chain to one raw BMD.

    Parameters
    ----------
    raw : float
        Raw BMD as measured (g/cm2).
    steps : sequence of ChainStep
        The chain in application order (see :func:`compose`).

    Returns
    -------
    float
        The harmonised BMD ``a + b * raw``.
    """
    a, b = compose(steps)
    return a + b * raw


def harmonise_with_uncertainty(
    raw: float, steps: Sequence[ChainStep], *, identity: bool = False
) -> tuple[float, float]:
    """Apply a chain to one raw BMD and propagate the fits' uncertainty to the result.

    First-order (delta-method) propagation through ``y_i = a_i + b_i * y_{i-1}``, the fits
    of different steps being independent::

        var(y_i) = var(a_i) + y_{i-1}**2 var(b_i) + 2 y_{i-1} cov(a_i, b_i) + b_i**2 var(y_{i-1})

    The raw reading itself is taken as exact here: its precision is a separate term.

    Parameters
    ----------
    raw : float
        Raw BMD (g/cm2).
    steps : sequence of ChainStep
        The chain in application order (see :func:`compose`).
    identity : bool, optional
        The scanner defines the national scale: its scanner and national steps cancel by
        construction (the reference scanner's ESP line and its inverse), so only the drift
        steps' uncertainty counts.

    Returns
    -------
    tuple of float
        ``(harmonised, standard uncertainty)`` in g/cm2.

    Examples
    --------
    >>> s = ChainStep(1, "scanner", 0.02, 0.9, var_intercept=1e-6, var_slope=4e-6)
    >>> value, u = harmonise_with_uncertainty(1.0, [s])
    >>> round(value, 3), round(u, 6)
    (0.92, 0.002236)
    """
    compose(steps)  # checks the order and the slopes
    y, var = float(raw), 0.0
    for s in steps:
        if identity and s.kind != "drift":
            y = s.intercept + s.slope * y
            var = s.slope**2 * var
            continue
        var = (
            s.var_intercept + y * y * s.var_slope + 2 * y * s.cov_intercept_slope + s.slope**2 * var
        )
        y = s.intercept + s.slope * y
    return y, math.sqrt(max(var, 0.0))


def inverse_line_covariance(
    intercept: float, slope: float, var_intercept: float, var_slope: float, cov: float
) -> tuple[float, float, float]:
    """Return the covariance of the inverse line ``x = -a/b + (1/b) y`` of ``y = a + b x``.

    Delta method with the Jacobian of ``(-a/b, 1/b)`` with respect to ``(a, b)``:
    ``[[-1/b, a/b**2], [0, -1/b**2]]``.

    Parameters
    ----------
    intercept, slope : float
        ``a`` and ``b``.
    var_intercept, var_slope, cov : float
        Their variances and covariance.

    Returns
    -------
    tuple of float
        ``(var(-a/b), var(1/b), cov(-a/b, 1/b))``.
    """
    a, b = intercept, slope
    j = ((-1.0 / b, a / b**2), (0.0, -1.0 / b**2))
    m = ((var_intercept, cov), (cov, var_slope))
    out = [
        [sum(j[r][i] * m[i][k] * j[c][k] for i in range(2) for k in range(2)) for c in range(2)]
        for r in range(2)
    ]
    return out[0][0], out[1][1], out[0][1]


def compose_covariance(
    first: tuple[float, float, float, float, float],
    second: tuple[float, float, float, float, float],
) -> tuple[float, float, float, float, float]:
    """Compose two independently fitted lines and their uncertainty: ``second(first(x))``.

    Each line is ``(a, b, var a, var b, cov ab)``. The composition is
    ``A = a2 + b2 a1``, ``B = b2 b1``; its covariance by the delta method with the Jacobian
    of ``(A, B)`` with respect to ``(a1, b1, a2, b2)``: ``[[b2, 0, 1, a1], [0, b2, 0, b1]]``.

    Parameters
    ----------
    first, second : tuple of float
        The two lines, applied first and second.

    Returns
    -------
    tuple of float
        ``(A, B, var A, var B, cov AB)``.

    Examples
    --------
    >>> A, B, va, vb, c = compose_covariance((0.1, 0.9, 0, 0, 0), (0.0, 1.1, 0, 0, 0))
    >>> round(A, 3), round(B, 3), va, vb, c
    (0.11, 0.99, 0.0, 0.0, 0.0)
    """
    a1, b1, va1, vb1, c1 = first
    a2, b2, va2, vb2, c2 = second
    var_a = b2**2 * va1 + va2 + a1**2 * vb2 + 2 * a1 * c2
    var_b = b2**2 * vb1 + b1**2 * vb2
    cov = b2**2 * c1 + a1 * b1 * vb2 + b1 * c2
    return a2 + b2 * a1, b2 * b1, var_a, var_b, cov
