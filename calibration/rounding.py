"""Half-away-from-zero rounding of BMD and T/Z values on their decimal representation."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

__all__ = ["format_bmd", "format_score", "printed_score", "round_half_away"]

_NOISE = Decimal("1e-9")


def round_half_away(x: float, decimals: int) -> Decimal:
    """Round ``x`` half away from zero on its decimal value.

    Binary-float noise is removed first by quantizing ``Decimal(repr(x))`` to 1e-9
    (half-even), so a computed ``-2.4499999999999997`` is treated as ``-2.45``. The result
    is then quantized to ``decimals`` places with ``ROUND_HALF_UP`` (which, in
    :mod:`decimal`, rounds half away from zero). A rounded zero never carries a sign.

    Parameters
    ----------
    x : float
        The value to round; must be finite.
    decimals : int
        Number of decimal places (may be 0 or negative).

    Returns
    -------
    Decimal
        The rounded value with exactly ``decimals`` places.

    Raises
    ------
    ValueError
        If ``x`` is NaN or infinite.

    Examples
    --------
    >>> str(round_half_away(-2.45, 1)), str(round_half_away(2.5, 0))
    ('-2.5', '3')
    """
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"cannot round a non-finite value ({value!r})")
    with localcontext() as ctx:
        ctx.prec = 60
        cleaned = Decimal(repr(value)).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
        rounded = cleaned.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        if rounded.is_zero():
            rounded = abs(rounded)
    return rounded


def printed_score(x: float) -> Decimal:
    """Return a T- or Z-score as printed: one decimal, half away from zero.

    Parameters
    ----------
    x : float
        The unrounded score.

    Returns
    -------
    Decimal
        The one-decimal value used for printing and for classification.
    """
    return round_half_away(x, 1)


def format_score(x: float) -> str:
    """Format a T- or Z-score with one decimal (``"-2.5"``, ``"0.0"``).

    Parameters
    ----------
    x : float
        The unrounded score.

    Returns
    -------
    str
        The printed score; a rounded zero is ``"0.0"``, never ``"-0.0"``.
    """
    return format(printed_score(x), "f")


def format_bmd(x: float) -> str:
    """Format a BMD in g/cm2 with three decimals.

    Parameters
    ----------
    x : float
        BMD in g/cm2.

    Returns
    -------
    str
        The printed value, e.g. ``"0.652"``.
    """
    return format(round_half_away(x, 3), "f")
