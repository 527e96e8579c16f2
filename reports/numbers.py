"""Numbers as the report prints them: BMD to three decimals, half away from zero."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

_NOISE = Decimal("1e-9")


def printed_bmd(value: float) -> Decimal:
    """Return a BMD (or BMD change) as printed: three decimals, half away from zero.

    The report decides "significant" on this printed value, so the number and the word agree.

    Parameters
    ----------
    value : float
        A value in g/cm2.

    Returns
    -------
    Decimal
        The value rounded to three decimals.

    Examples
    --------
    >>> printed_bmd(0.8125)
    Decimal('0.813')
    >>> printed_bmd(-0.0305)
    Decimal('-0.031')
    """
    return round_half_away(value, 3)


def round_half_away(value: float, places: int) -> Decimal:
    """Round half away from zero on the decimal value, after removing binary-float noise.

    The same rule as the calibration library: ``Decimal(repr(x))`` is first quantized to 1e-9
    (so a computed ``0.0294999999999`` counts as ``0.0295``), then rounded; zero is unsigned.

    Parameters
    ----------
    value : float
        A finite number.
    places : int
        Number of decimals.

    Returns
    -------
    Decimal
        The rounded value.

    Examples
    --------
    >>> round_half_away(-2.45, 1), round_half_away(0.0294999999999, 3)
    (Decimal('-2.5'), Decimal('0.030'))
    """
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    with localcontext() as ctx:
        ctx.prec = 60
        cleaned = Decimal(repr(float(value))).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
        rounded = cleaned.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded.is_zero() else rounded
