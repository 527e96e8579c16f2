"""Danish CPR numbers: canonical form, birth date and sex encoded in the number, consistency checks.

Rules (CPR office, as summarised in ../shared/reference/dxa-domain.md): DDMMYY-SSSS; the 7th digit
with YY gives the century (0-3: 1900s; 4 or 9: 2000s when YY <= 36 else 1900s; 5-8: 2000s when
YY <= 57 else 1800s); the last digit is odd for men and even for women. Numbers without a valid
modulus-11 check have been issued since 2007 and are valid, so modulus 11 is never checked. A
person can hold an earlier CPR number (e.g. after a legal change of sex), so a mismatch is a
warning for a human, never a reason to merge or reject.
"""

from __future__ import annotations

import datetime as dt
import re

from dxa_app.domain import Sex
from dxa_app.i18n import _

_SHAPE = re.compile(r"^(\d{2})(\d{2})(\d{2})-?(\d)(\d{3})$")


def normalise_cpr(text: str) -> str | None:
    """Return ``DDMMYY-SSSS`` for a CPR-shaped string (with or without hyphen), else None.

    CPR-shaped: ten digits, an optional hyphen after the sixth, day 01-31 and month 01-12.

    Examples
    --------
    >>> normalise_cpr("0101501234")
    '010150-1234'
    >>> normalise_cpr(" 010150-1234 ")
    '010150-1234'
    >>> normalise_cpr("12345") is None, normalise_cpr("3213501234") is None
    (True, True)
    """
    m = _SHAPE.match(text.strip())
    if m is None:
        return None
    dd, mm, yy, d7, rest = m.groups()
    if not (1 <= int(dd) <= 31 and 1 <= int(mm) <= 12):
        return None
    return f"{dd}{mm}{yy}-{d7}{rest}"


def cpr_century(yy: int, digit7: int) -> int:
    """Return the century (1800, 1900 or 2000) from the two-digit year and the 7th digit.

    Examples
    --------
    >>> cpr_century(50, 1), cpr_century(5, 4), cpr_century(60, 4), cpr_century(60, 5)
    (1900, 2000, 1900, 1800)
    """
    if digit7 <= 3:
        return 1900
    if digit7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def cpr_birth_date(cpr: str) -> dt.date | None:
    """Return the birth date encoded in a CPR number, or None when the date is impossible.

    Examples
    --------
    >>> cpr_birth_date("010150-1234")
    datetime.date(1950, 1, 1)
    >>> cpr_birth_date("300202-4321")
    >>> cpr_birth_date("290200-4321")
    datetime.date(2000, 2, 29)
    """
    norm = normalise_cpr(cpr)
    if norm is None:
        return None
    dd, mm, yy, d7 = int(norm[0:2]), int(norm[2:4]), int(norm[4:6]), int(norm[7])
    try:
        return dt.date(cpr_century(yy, d7) + yy, mm, dd)
    except ValueError:
        return None


def cpr_sex(cpr: str) -> Sex | None:
    """Return the sex encoded in a CPR number (last digit odd: male), or None when not CPR."""
    norm = normalise_cpr(cpr)
    if norm is None:
        return None
    return Sex.MALE if int(norm[-1]) % 2 else Sex.FEMALE


def check_cpr(identifier: str, birth_date: dt.date | None, sex: Sex | None) -> list[str]:
    """Return the problems of a CPR number against the birth date and sex from the same source.

    Parameters
    ----------
    identifier : str
        The CPR number.
    birth_date : date or None
        The birth date the source gives (None: not checked).
    sex : Sex or None
        The sex the source gives (None or OTHER: not checked).

    Returns
    -------
    list of str
        Translated warnings; empty when shape, date and sex agree.
    """
    norm = normalise_cpr(identifier)
    if norm is None:
        return [
            _("{cpr} does not have the shape of a CPR number (DDMMYY-SSSS).").format(cpr=identifier)
        ]
    problems: list[str] = []
    born = cpr_birth_date(norm)
    if born is None:
        problems.append(_("{cpr} does not encode a valid date.").format(cpr=norm))
    elif birth_date is not None and born != birth_date:
        problems.append(
            _("{cpr} encodes the birth date {encoded}, but the source says {given}.").format(
                cpr=norm, encoded=born.isoformat(), given=birth_date.isoformat()
            )
        )
    encoded_sex = cpr_sex(norm)
    if sex in (Sex.FEMALE, Sex.MALE) and encoded_sex is not None and encoded_sex != sex:
        problems.append(
            _("{cpr} encodes the sex {encoded}, but the source says {given}.").format(
                cpr=norm, encoded=str(encoded_sex), given=str(sex)
            )
        )
    return problems
