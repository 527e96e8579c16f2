"""CPR numbers: century rule, sex digit, consistency warnings in the import log, never a merge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.queries import list_patients
from dxa_app.archive.store import store_parsed
from dxa_app.cpr import check_cpr, cpr_birth_date, cpr_century, cpr_sex, normalise_cpr
from dxa_app.domain import IdType, PatientIdentity, Sex
from tests.factories import parsed, study_record


@pytest.mark.parametrize(
    "cpr,born",
    [
        ("010150-1234", dt.date(1950, 1, 1)),  # 7th digit 0-3: 1900s
        ("311299-3999", dt.date(1999, 12, 31)),
        ("150536-4001", dt.date(2036, 5, 15)),  # 4 with YY <= 36: 2000s
        ("150537-4001", dt.date(1937, 5, 15)),  # 4 with YY > 36: 1900s
        ("010101-9001", dt.date(2001, 1, 1)),  # 9 with YY <= 36: 2000s
        ("010170-9990", dt.date(1970, 1, 1)),  # 9 with YY > 36: 1900s (the demo's numbers)
        ("010157-5001", dt.date(2057, 1, 1)),  # 5-8 with YY <= 57: 2000s
        ("010158-8001", dt.date(1858, 1, 1)),  # 5-8 with YY > 57: 1800s
        ("290200-4000", dt.date(2000, 2, 29)),  # leap day in 2000
    ],
)
def test_century_rule(cpr: str, born: dt.date) -> None:
    assert cpr_birth_date(cpr) == born
    assert cpr_century(born.year % 100, int(cpr[7])) + born.year % 100 == born.year


def test_impossible_dates_and_shapes() -> None:
    assert cpr_birth_date("290201-4000") is None  # 2001 is no leap year
    assert cpr_birth_date("320150-1234") is None
    assert normalise_cpr("01015-1234") is None
    assert normalise_cpr("0101501234") == "010150-1234"


def test_sex_digit_and_no_modulus_11() -> None:
    assert cpr_sex("010150-1231") is Sex.MALE
    assert cpr_sex("010150-1232") is Sex.FEMALE
    # 010150-1234 fails modulus 11 but is a valid number since 2007: no problem reported
    assert check_cpr("010150-1234", dt.date(1950, 1, 1), Sex.FEMALE) == []


def test_mismatches_are_reported() -> None:
    problems = check_cpr("010150-1234", dt.date(1950, 1, 2), Sex.MALE)
    assert len(problems) == 2
    assert "1950-01-01" in problems[0] and "1950-01-02" in problems[0]
    assert "M" in problems[1]
    assert check_cpr("ABC", None, None)[0].startswith("ABC does not have the shape")
    assert check_cpr("310250-1234", None, None) == ["310250-1234 does not encode a valid date."]


def test_mismatch_is_an_import_warning_not_a_merge(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.sqlite")
    wrong = PatientIdentity(
        "010150-1231", IdType.CPR, "Åse Testperson", dt.date(1950, 1, 1), Sex.FEMALE
    )
    rows, notes = store_parsed(db, parsed(study_record(1, pat=wrong)))
    assert rows > 0
    assert [n.severity for n in notes] == ["warning"]
    assert "encodes the sex M" in notes[0].message
    right = PatientIdentity(
        "010150-1232", IdType.CPR, "Åse Testperson", dt.date(1950, 1, 1), Sex.FEMALE
    )
    _, notes2 = store_parsed(db, parsed(study_record(2, pat=right)))
    assert notes2 == ()
    assert len(list_patients(db)) == 2  # two numbers stay two people
