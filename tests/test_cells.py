"""Known answers of the shared cell parser, text decoder and CSV row reader of the importers."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from dxa_app.domain import ImportNote, Side
from dxa_app.errors import ImportProblemError
from dxa_app.ingest.cells import (
    CellParser,
    CellRules,
    CsvReader,
    DateFormats,
    Row,
    When,
    decode,
    fold,
    vocabulary,
)

APEX_LIKE = CellRules(
    missing=frozenset({-1.0}),
    point_zero_integers=True,
    true_words=frozenset({"1", "-1", "true", "yes", "y"}),
)
US_OR_ISO = DateFormats(
    (
        re.compile(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{2}|\d{4})"),
        re.compile(
            r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
            r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
        ),
    ),
    lambda: "'{value}' is not a date (test)",
)
ISO_DATETIME = DateFormats(
    (
        re.compile(
            r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[T ]"
            r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
            r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?"
        ),
    ),
    lambda: "'{value}' is not a date and time (test)",
)


def _row(**values: str) -> Row:
    return Row(7, values)


def _problem(call: object) -> ImportProblemError:
    assert callable(call)
    with pytest.raises(ImportProblemError) as err:
        call()
    return err.value


# ---------------------------------------------------------------------------
# numbers


def test_minus_one_sentinel_gives_none_unless_switched_off() -> None:
    p = CellParser("Hip.csv", APEX_LIKE)
    row = _row(BMD="-1", T="-1.0", OK="0.912")
    assert p.number(row, "BMD") is None
    assert p.number(row, "T", missing=()) == -1.0
    assert p.number(row, "OK") == 0.912
    assert CellParser("x.csv").number(row, "BMD") == -1.0  # no sentinel by default


def test_bad_number_names_file_line_and_column() -> None:
    err = _problem(lambda: CellParser("Hip.csv", APEX_LIKE).number(_row(BMD="0.9x"), "BMD"))
    assert err.message == (
        "Hip.csv, line 7, column 'BMD': '0.9x' is not a number (use a decimal point)"
    )
    assert err.remedy == "Correct the value in the file and import it again."


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1_000", "0.9.1", "1e999"])
def test_numbers_that_are_not_finite_or_have_separators_are_refused(value: str) -> None:
    err = _problem(lambda: CellParser("a.csv").number(_row(v=value), "v"))
    assert f"'{value}' is not a number" in err.message


def test_decimal_comma_rule() -> None:
    comma = CellParser("a.csv", CellRules(decimal_comma=True))
    assert comma.number(_row(v="0,912"), "v") == 0.912
    assert comma.number(_row(v="0.912"), "v") == 0.912
    err = _problem(lambda: comma.number(_row(v="1.000,5"), "v"))
    assert "decimal comma or point, no thousands separator" in err.message
    err = _problem(lambda: CellParser("a.csv").number(_row(v="0,912"), "v"))
    assert "use a decimal point" in err.message


def test_required_number_and_empty_cells() -> None:
    p = CellParser("a.csv")
    assert p.number(_row(v="  "), "v") is None
    assert p.number(_row(), "absent") is None
    err = _problem(lambda: p.number(_row(v=""), "v", required=True))
    assert err.message == "a.csv, line 7, column 'v': a value is required"


# ---------------------------------------------------------------------------
# whole numbers, flags, text, choices


def test_whole_numbers_and_codes() -> None:
    apex = CellParser("t", APEX_LIKE)
    plain = CellParser("t")
    assert apex.integer(_row(c="26"), "c") == 26
    assert apex.integer(_row(c="3.0"), "c") == 3
    assert apex.integer(_row(c="-1"), "c") is None
    assert plain.integer(_row(c="-1"), "c") == -1
    assert plain.integer(_row(c="+4"), "c") == 4
    err = _problem(lambda: plain.integer(_row(c="3.0"), "c"))
    assert err.message == "t, line 7, column 'c': '3.0' is not a whole number"
    err = _problem(lambda: apex.integer(_row(c="3.5"), "c"))
    assert "'3.5' is not a whole number" in err.message


def test_flags_use_the_spellings_of_the_rules() -> None:
    apex = CellParser("t", APEX_LIKE)
    danish = CellParser(
        "t", CellRules(true_words=frozenset({"1", "ja"}), false_words=frozenset({"nej"}))
    )
    assert apex.flag(_row(f="-1"), "f", False) is True
    assert apex.flag(_row(f="FALSE"), "f", True) is False
    assert apex.flag(_row(f=""), "f", True) is True
    assert danish.flag(_row(f="Ja"), "f", None) is True
    assert danish.flag(_row(f="nej"), "f", None) is False
    assert danish.flag(_row(), "f", None) is None
    err = _problem(lambda: danish.flag(_row(f="yes"), "f", None))
    assert err.message == "t, line 7, column 'f': 'yes' is not 1 or 0"


def test_text_and_required_text() -> None:
    p = CellParser("t")
    assert p.text(_row(a="  x "), "a") == "x"
    assert p.required_text(_row(a="x"), "a") == "x"
    err = _problem(lambda: p.required_text(_row(a=" "), "a"))
    assert "column 'a': a value is required" in err.message


def test_choice_from_a_vocabulary() -> None:
    sides = vocabulary(Side, {"venstre": Side.LEFT})
    p = CellParser("t")
    assert p.choice(_row(s=" Venstre "), "s", sides) is Side.LEFT
    assert p.choice(_row(s="RIGHT"), "s", sides) is Side.RIGHT
    assert p.choice(_row(s=""), "s", sides) is None
    assert p.required_choice(_row(s="left"), "s", sides) is Side.LEFT
    err = _problem(lambda: p.choice(_row(s="up"), "s", sides))
    assert err.message == "t, line 7, column 's': 'up' is not one of: L, R"
    assert fold(" Ward's  Triangle / x ") == "ward's_triangle_x"


# ---------------------------------------------------------------------------
# dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("03/10/26", dt.datetime(2026, 3, 10)),
        ("1/1/68", dt.datetime(2068, 1, 1)),
        ("1/1/69", dt.datetime(1969, 1, 1)),
        ("12/31/99", dt.datetime(1999, 12, 31)),
    ],
)
def test_us_two_digit_year_pivots(value: str, expected: dt.datetime) -> None:
    assert CellParser("t").when(_row(d=value), "d", US_OR_ISO) == When(expected, True)


def test_pivot_is_a_parameter_and_four_digit_years_are_not_guessed() -> None:
    early = DateFormats(US_OR_ISO.patterns, US_OR_ISO.problem, pivot=30)
    p = CellParser("t")
    assert p.when(_row(d="1/1/45"), "d", early) == When(dt.datetime(1945, 1, 1), True)
    assert p.when(_row(d="1/1/2045"), "d", early) == When(dt.datetime(2045, 1, 1), False)
    assert p.when(_row(d="2026-3-10 9:01:33"), "d", US_OR_ISO) == When(
        dt.datetime(2026, 3, 10, 9, 1, 33), False
    )


def test_bad_date_uses_the_formats_problem() -> None:
    p = CellParser("Scan.csv")
    for value in ("13/45/26", "2026-02-30", "10.03.2026"):
        err = _problem(lambda value=value: p.when(_row(d=value), "d", US_OR_ISO))
        assert err.message == f"Scan.csv, line 7, column 'd': '{value}' is not a date (test)"
    assert p.when(_row(d=""), "d", US_OR_ISO) is None
    err = _problem(lambda: p.when(_row(d=""), "d", US_OR_ISO, required=True))
    assert "a value is required" in err.message


def test_date_and_datetime() -> None:
    p = CellParser("t")
    assert p.date(_row(d="2026-03-10 09:01"), "d", ISO_DATETIME) == dt.date(2026, 3, 10)
    assert p.datetime(_row(d="2026-03-10T09:01:33.5"), "d", ISO_DATETIME) == dt.datetime(
        2026, 3, 10, 9, 1, 33, 500000
    )
    for value in ("2026-03-10T24:00", "2026-03-10", "٢٠٢٦-03-10T09:01"):
        err = _problem(lambda value=value: p.datetime(_row(d=value), "d", ISO_DATETIME))
        assert "is not a date and time (test)" in err.message


# ---------------------------------------------------------------------------
# text and CSV rows


def test_utf8_with_bom_is_decoded_without_note() -> None:
    notes: list[ImportNote] = []
    assert decode("a.csv", "\ufeffSøs;Æble".encode(), notes) == "Søs;Æble"
    assert notes == []


def test_cp1252_fallback_adds_a_note() -> None:
    notes: list[ImportNote] = []
    assert decode("a.csv", "Søs Æble på".encode("cp1252"), notes) == "Søs Æble på"
    assert [n.message for n in notes] == [
        "a.csv is not UTF-8; it was read as Windows-1252 (check the letters æ, ø, å)."
    ]


def test_rows_carry_the_line_they_start_on() -> None:
    text = 'ID,Name,\n1,"a\nb",\n\n2,c\n'
    reader = CsvReader(text.splitlines(keepends=True), "f.csv", first_line=3)
    header = reader.header(str.upper)
    assert header == ["ID", "NAME", ""]
    rows = reader.rows(header, keep=None, width_remedy="")
    assert rows == (Row(4, {"ID": "1", "NAME": "a\nb"}), Row(7, {"ID": "2", "NAME": "c"}))


def test_rows_keep_only_the_named_columns() -> None:
    reader = CsvReader(["a;b;c\n", "1;2;3\n"], "f.csv", delimiter=";")
    header = reader.header(str.strip)
    assert header is not None
    assert reader.rows(header, keep={"a", "c"}, width_remedy="") == (Row(2, {"a": "1", "c": "3"}),)


def test_header_problems() -> None:
    assert CsvReader([], "f.csv").header(str.strip) is None
    err = _problem(lambda: CsvReader(["a,b,A\n"], "f.csv").header(str.lower))
    assert err.message == "f.csv: column 'a' appears twice in the header row."


def test_row_wider_than_the_header() -> None:
    reader = CsvReader(["a,b\n", "1,2\n", "1,2,,\n", "1,2,3\n"], "f.csv")
    header = reader.header(str.strip)
    assert header is not None
    err = _problem(lambda: reader.rows(header, keep=None, width_remedy="Fix it."))
    assert err.message == "f.csv, line 4: the row has 3 values but the header has 2 columns."
    assert err.remedy == "Fix it."


def test_broken_csv_names_the_line_the_record_starts_on() -> None:
    reader = CsvReader(["a,b\n", "1,2\n", '3,"open\n', "still open\n"], "f.csv", first_line=2)
    header = reader.header(str.strip)
    assert header is not None
    err = _problem(lambda: reader.rows(header, keep=None, width_remedy=""))
    assert err.message.startswith("f.csv, line 4: the line is not valid CSV (")
