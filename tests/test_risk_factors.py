"""Risk factors entered once, FRAX as given, suggestions kept or dropped, the recall list."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import sqlite3
import subprocess
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main
from dxa_app.demo.csv_writers import write_patient_results
from dxa_app.domain import Region, RegionResult, Role, ScanRecord, ScanType, Side
from dxa_app.errors import PermissionDeniedError
from dxa_app.ingest import generic_csv
from dxa_app.services import reporting, risk
from dxa_app.services.vfa import vfa_indication
from tests.factories import parsed, patient, study_record
from tests.sessions import PASSWORD, session_as


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """One study of a woman of 76: L1-L4 T -3.2 and a left femoral neck."""
    path = tmp_path / "a.sqlite"
    rec = study_record(1, bmd=0.70, pat=patient(1, birth=dt.date(1950, 1, 1)))
    hip = ScanRecord(
        "test:hip:1",
        ScanType.HIP,
        dt.datetime(2026, 6, 1, 9, 30),
        side=Side.LEFT,
        results=(RegionResult(Region.FEMORAL_NECK, 0.6125, 4.0, 5.0, -2.0, -0.5, True),),
    )
    rec = dataclasses.replace(rec, scans=(*rec.scans, hip))
    db = open_archive(path)
    store_parsed(db, parsed(rec))
    db.close()
    return path


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(f), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def test_questionnaire_versions_are_never_overwritten(archive: Path) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    first = risk.save_risk_factors(tech, 1, {"current_smoking": "1", "height_loss_cm": "5"})
    second = risk.save_risk_factors(tech, 1, {"current_smoking": "0", "falls_last_year": "2"})
    assert first.latest is not None and second.latest is not None
    assert (first.latest.version_no, second.latest.version_no, second.versions) == (1, 2, 2)
    # a save changes only what it names; the older version keeps its answers
    assert second.latest.answers == {
        "current_smoking": False,
        "falls_last_year": 2,
        "height_loss_cm": 5.0,
    }
    assert second.latest.entered_by == "tekla"
    conn = sqlite3.connect(archive)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE risk_factor_versions SET answers = '{}' WHERE version_no = 1")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM risk_factor_versions")
    conn.close()
    analyst = session_as(archive, Role.CENTRE_ANALYST, "ana")
    with pytest.raises(PermissionDeniedError):
        risk.save_risk_factors(analyst, 1, {"current_smoking": "1"})


def test_the_questionnaire_feeds_the_vfa_indication(archive: Path) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    before = vfa_indication(tech, 1)
    assert before.indicated and not before.questionnaire
    assert len(before.reasons) == 1  # a woman of 70 or more
    risk.save_risk_factors(
        tech,
        1,
        {
            "height_loss_cm": "4.5",
            "prior_fracture": "1",
            "prior_fracture_site": "vertebra",
            "glucocorticoids": "1",
            "glucocorticoid_dose_mg": "5",
            "glucocorticoid_months": "3",
        },
    )
    after = vfa_indication(tech, 1)
    assert after.questionnaire and len(after.reasons) == 4


def test_level_b_report_shows_questionnaire_frax_and_kept_suggestions(
    archive: Path, tmp_path: Path
) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    doctor = session_as(archive, Role.PHYSICIAN, "dr.hansen", display_name="Dr. Åse Hansen")
    risk.save_risk_factors(
        tech,
        1,
        {
            "prior_fracture": "ja",
            "prior_fracture_site": "wrist",
            "prior_fracture_date": "2024-02-01",
            "glucocorticoids": "1",
            "glucocorticoid_dose_mg": "7,5",
            "glucocorticoid_months": "6",
            "current_smoking": "0",
        },
    )
    form = risk.frax_form(tech, 1)
    assert form.inputs["femoral_neck_bmd"] == "0.613" and form.inputs["age"] == "76"
    assert form.inputs["previous_fracture"] == "yes" and form.inputs["glucocorticoids"] == "yes"
    row = risk.save_frax(
        tech, 1, major_osteoporotic_pct=24.5, hip_pct=8.2, calculator_version="FRAX web 4.4"
    )
    assert dict(row.inputs)["femoral_neck_bmd"] == "0.613" and row.risk_factor_version_id == 1
    listed = risk.study_suggestions(doctor, 1, lang="da")
    ids = [r.suggestion.id for r in listed.rows]
    assert ids == [
        "reimbursement:t_le_-2.5_with_risk_factor",
        "reimbursement:glucocorticoids_t_lt_-1",
        "rescan:glucocorticoids",
    ]
    assert {r.decision for r in listed.rows} == {"pending"}
    with pytest.raises(PermissionDeniedError):
        risk.decide_suggestions(tech, 1, {ids[1]: "kept"}, lang="da", level="B")
    decided = risk.decide_suggestions(
        doctor, 1, {ids[0]: "dropped", ids[1]: "kept"}, lang="da", level="B"
    )
    assert [r.decision for r in decided.rows] == ["dropped", "kept", "pending"]
    version, pdf = reporting.open_report(doctor, 1, lang="da", level="B")
    assert version.content["suggestions"] == {ids[0]: "dropped", ids[1]: "kept"}
    text = _pdf_text(pdf, tmp_path)
    assert "Risikofaktorer (spørgeskema)" in text
    assert "Tidligere lavenergifraktur: ja (håndled, 01-02-2024)." in text
    assert "Glukokortikoid: ja (7,5 mg prednisolon dagligt, i 6 måneder)." in text
    assert "Aktuel rygning: nej." in text
    assert "24,5 %" in text and "8,2 %" in text and "FRAX web 4.4" in text
    assert "BMD lårbenshals (g/cm²)" in text and "0,613" in text
    assert "Forslag fastholdt af lægen" in text
    assert "frakturforebyggende behandling opfylder udkastets tilskudskriterium" in text
    assert "mindst én klinisk risikofaktor" not in text  # dropped
    assert "UVERIFICERET" in text
    assert "kontrolskanning om 1 år" in text  # the rescan rule, not a fixed 2 years
    # signed: the decisions are sealed in the signed version
    signed = reporting.sign_report(doctor, 1, password=PASSWORD)
    assert signed.content["suggestions"][ids[1]] == "kept"
    summary = _pdf_text(reporting.patient_summary(doctor, 1, lang="en", level="A"), tmp_path)
    assert "A new scan is suggested in about 1 years." in summary


def test_recall_list_and_csv(archive: Path, tmp_path: Path) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    doctor = session_as(archive, Role.PHYSICIAN, "dr.hansen")
    start = dt.date(2026, 6, 1)
    # no questionnaire: T -3.2 -> 2 years -> due 2028-06-01
    assert risk.recall_list(doctor, within_days=700, as_of=start) == []
    assert [e.due for e in risk.recall_list(doctor, within_days=731, as_of=start)] == ["2028-06-01"]
    risk.save_risk_factors(
        tech,
        1,
        {"glucocorticoids": "1", "glucocorticoid_dose_mg": "10", "glucocorticoid_months": "12"},
    )
    entries = risk.recall_list(doctor, within_days=365, as_of=start)
    assert [(e.due, e.years, e.rule) for e in entries] == [
        ("2027-06-01", 1.0, "rescan:glucocorticoids")
    ]
    assert risk.recall_list(doctor, within_days=364, as_of=start) == []
    out = tmp_path / "recall.csv"
    risk.write_recall_csv(doctor, entries, out)
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[0][:3] == ["due", "name", "identifier"]
    assert rows[1][0] == "2027-06-01" and rows[1][2] == "010150-9910"
    assert out.stat().st_mode & 0o077 == 0  # patient identifiers: owner-only
    # a dropped rescan takes the patient off the list
    risk.decide_suggestions(doctor, 1, {"rescan:glucocorticoids": "dropped"}, lang="en", level="B")
    assert risk.recall_list(doctor, within_days=3650, as_of=start) == []


def test_cli_risk_frax_suggestions_recall(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_as(archive, Role.TECHNICIAN, "tekla")
    session_as(archive, Role.PHYSICIAN, "dr.hansen")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    base = ["--archive", str(archive), "--lang", "en"]
    assert main([*base, "--user", "tekla", "risk", "1", "--set", "height_loss_cm=abc"]) == (
        ExitCode.USAGE
    )
    assert (
        main(
            [
                *base,
                "--user",
                "tekla",
                "risk",
                "1",
                "--set",
                "glucocorticoids=1",
                "--set",
                "glucocorticoid_dose_mg=5",
                "--set",
                "glucocorticoid_months=4",
            ]
        )
        == ExitCode.OK
    )
    assert (
        main(
            [
                *base,
                "--user",
                "tekla",
                "frax",
                "1",
                "--major",
                "20",
                "--hip",
                "5",
                "--calculator-version",
                "FRAX web 4.4",
            ]
        )
        == ExitCode.OK
    )
    assert (
        main(
            [
                *base,
                "--user",
                "dr.hansen",
                "suggestions",
                "1",
                "--keep",
                "reimbursement:glucocorticoids_t_lt_-1",
            ]
        )
        == ExitCode.OK
    )
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                *base,
                "--user",
                "dr.hansen",
                "recall",
                "--within",
                "1y",
                "--as-of",
                "2026-06-01",
                "--csv",
                str(out),
            ]
        )
        == ExitCode.OK
    )
    assert out.read_text(encoding="utf-8").count("\n") == 2
    assert main([*base, "--user", "dr.hansen", "recall", "--within", "soon"]) == ExitCode.USAGE


def test_generic_csv_risk_columns_odd_cell_is_a_note(archive: Path, tmp_path: Path) -> None:
    rec = study_record(7, bmd=0.9, pat=patient(7, birth=dt.date(1950, 1, 7)))
    rec = dataclasses.replace(
        rec,
        risk_factors=(("current_smoking", True), ("height_loss_cm", 3.5), ("falls_last_year", 1)),
    )
    path = write_patient_results(tmp_path / "p.csv", "OUH", [rec], danish_excel=True)
    # spoil one cell: a note, never a refused file
    text = path.read_text(encoding="utf-8-sig").replace(";3,5;", ";lots;")
    path.write_text(text, encoding="utf-8-sig")
    got = generic_csv.read(path)
    assert dict(got.studies[0].risk_factors) == {"current_smoking": True, "falls_last_year": 1}
    assert any("height_loss_cm" in n.message and "lots" in n.message for n in got.notes)
    db = open_archive(archive)
    store_parsed(db, got)
    store_parsed(db, generic_csv.read(path))  # again: nothing new
    rows = list(db.query("SELECT source, entered_by FROM risk_factor_versions"))
    db.close()
    assert rows == [{"source": "import", "entered_by": "import:csv"}]
