"""Composition of the per-scanner calibration chain (drift, scanner, national) into a + b*raw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["CHAIN_ORDER", "ChainStep", "compose", "drift_factor", "drift_step", "harmonise"]

#: The order in which steps are applied.
CHAIN_ORDER = ("drift", "scanner", "national")


@dataclass(frozen=True)
class ChainStep:
    """One linear step ``y = intercept + slope * x`` of a calibration chain."""

    step_id: int | None
    kind: Literal["drift", "scanner", "national"]
    intercept: float
    slope: float


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
