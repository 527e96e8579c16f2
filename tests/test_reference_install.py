"""Installable references (issue 14): a versioned T or Z table that applies from a date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from calibration.reference import reference_from_csv
from calibration.scores import t_score
from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services.references import install_reference, list_references, preview_reference
from dxa_app.services.scoring import compute_study_scores, rescore, score_study
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

SPINE_CSV = """# dxa-reference-table v1
name,version,purpose,unit_system,source,status,region,sex,age_min,age_max,mean,sd
DK spine,2027.1,T,Hologic g/cm2,Centre study 2026 (test),verified,L1-L4,F,20,29,1.000,0.100
"""
FROM = dt.date(2026, 6, 1)


def _archive(tmp_path: Path) -> tuple[Path, int, int]:
    """One patient, a spine study before and one after the table's start date."""
    archive = tmp_path / "ref.sqlite"
    db = open_archive(archive)
    p = pg.person(2)
    before = pg.hip_study(
        pg.REF, p, "1.2.55.1", dt.date(2026, 3, 1), spine=0.850, total_hip=0.800, femoral_neck=0.700
    )
    after = pg.hip_study(
        pg.REF, p, "1.2.55.2", dt.date(2026, 9, 1), spine=0.850, total_hip=0.800, femoral_neck=0.700
    )
    pg.store_studies(db, [before, after])
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    ids = [int(r[0]) for r in db.execute("SELECT id FROM studies ORDER BY study_date")]
    db.close()
    return archive, ids[0], ids[1]


def _spine(archive: Path, study: int) -> tuple[float | None, str]:
    db = open_archive(archive)
    s = compute_study_scores(db, study)
    db.close()
    row = next(r for r in s.regions if r.region == "L1-L4")
    return row.t, row.t_reference


def test_csv_format_and_its_refusals() -> None:
    t = reference_from_csv(SPINE_CSV)
    assert (t.name, t.version, t.purpose, t.status) == ("DK spine", "2027.1", "T", "verified")
    assert t.lookup("L1-L4", "M", 70) == (1.0, 0.1)  # T: the female reference for everyone
    z = reference_from_csv(
        "# dxa-reference-table v1\n"
        "name;version;purpose;unit_system;source;status;region;sex;age_min;age_max;mean;sd\n"
        "DK Z;1;Z;Hologic;src;draft;total_hip;F;20;49;0,940;0,120\n"
        "DK Z;1;Z;Hologic;src;draft;total_hip;F;50;99;0,850;0,120\n"
    )
    assert z.lookup("total_hip", "F", 60) == (0.85, 0.12)  # semicolons and decimal commas
    with pytest.raises(ValueError, match="first line"):
        reference_from_csv(SPINE_CSV.split("\n", 1)[1])
    with pytest.raises(ValueError, match="version differ"):
        reference_from_csv(
            SPINE_CSV
            + SPINE_CSV.splitlines()[2].replace("2027.1", "2027.2").replace("L1-L4", "L2-L4")
            + "\n"
        )
    with pytest.raises(ValueError, match="missing column"):
        reference_from_csv("# dxa-reference-table v1\nname,version\nx,1\n")


def test_a_table_applies_from_its_date_and_old_scores_keep_theirs(tmp_path: Path) -> None:
    archive, early, late = _archive(tmp_path)
    table = tmp_path / "spine.csv"
    table.write_text(SPINE_CSV, encoding="utf-8")
    db = open_archive(archive)
    stored = [score_study(db, early), score_study(db, late)]  # scored on the shipped tables
    db.close()
    t_before, name_before = _spine(archive, late)
    assert "PROVISIONAL" in name_before
    assert t_before == pytest.approx(t_score(0.850, 1.047, 0.110))
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    impact = preview_reference(centre, table, valid_from=FROM)
    assert impact.studies == 2 and "L1-L4" in impact.regions
    assert list_references(centre) == []  # the preview changed nothing
    installed = install_reference(
        centre, table, valid_from=FROM, password=PASSWORD, reason="national spine reference"
    )
    assert installed.valid_from == "2026-06-01" and installed.installed_by == "centre"
    # a scan from the date on: the new table; before it: the table it had
    t_after, name_after = _spine(archive, late)
    assert name_after == "DK spine 2027.1" and t_after == pytest.approx(-1.5)
    assert _spine(archive, early) == (t_before, name_before)
    db = open_archive(archive)
    # the hip falls through to the shipped NHANES III table
    hip = next(r for r in compute_study_scores(db, late).regions if r.region == "total_hip")
    assert "NHANES" in hip.t_reference
    summary = rescore(db)
    assert summary["new_runs"] == 1  # only the later study moves to the new table
    rows = db.execute(
        "SELECT run, t_reference FROM scores WHERE study_id = ? AND region = 'L1-L4' ORDER BY id",
        [late],
    ).fetchall()
    assert [r[1] for r in rows] == [name_before, "DK spine 2027.1"]
    assert rows[0][0] == stored[1].run  # the old run is kept with the table it used
    detail = json.loads(
        db.execute("SELECT details FROM audit_log WHERE action = 'reference_install'").fetchone()[0]
    )
    assert detail["reason"] == "national spine reference" and detail["valid_from"] == "2026-06-01"
    assert len(detail["sha256"]) == 64
    with pytest.raises(Exception, match="cannot be changed"):
        db.execute("UPDATE reference_tables SET status = 'x'")
    db.close()
    with pytest.raises(UsageError, match="already installed"):
        install_reference(centre, table, valid_from=FROM, password=PASSWORD, reason="again")


def test_who_may_install(tmp_path: Path) -> None:
    archive, _early, _late = _archive(tmp_path)
    table = tmp_path / "spine.csv"
    table.write_text(SPINE_CSV, encoding="utf-8")
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    with pytest.raises(PermissionDeniedError):
        install_reference(tech, table, valid_from=FROM, password=PASSWORD, reason="x")
    admin = session_as(archive, Role.ADMIN, "admin")
    with pytest.raises(UsageError, match="Say why"):
        install_reference(admin, table, valid_from=FROM, password=PASSWORD, reason=" ")
    bad = tmp_path / "bad.csv"
    bad.write_text(SPINE_CSV.replace("0.100", "-1"), encoding="utf-8")
    with pytest.raises(UsageError, match="not a valid reference table"):
        install_reference(admin, bad, valid_from=FROM, password=PASSWORD, reason="x")
    done = install_reference(admin, table, valid_from=FROM, password=PASSWORD, reason="x")
    assert done.installed_by == "admin"


def test_reference_install_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _early, late = _archive(tmp_path)
    table = tmp_path / "spine.csv"
    table.write_text(SPINE_CSV, encoding="utf-8")
    session_as(archive, Role.CENTRE_ANALYST, "centre")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    base = ["--archive", str(archive), "--user", "centre", "--json"]
    cmd = ["reference", "install", str(table), "--from", "2026-06-01"]
    assert main([*cmd, "--dry-run", *base]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["impact"]["studies"] == 2
    assert main([*cmd, *base]) == ExitCode.USAGE  # no reason
    capsys.readouterr()
    assert main([*cmd, "--reason", "national table", *base]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "DK spine" and out["valid_from"] == "2026-06-01"
    assert main(["reference", "list", *base]) == ExitCode.OK
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["regions"] == ["L1-L4"] and listed["status"] == "verified"
    assert _spine(archive, late)[1] == "DK spine 2027.1"


def test_a_table_travels_in_the_centres_corrections(tmp_path: Path) -> None:
    from dxa_app.centre import corrections as corr
    from dxa_app.centre.keys import generate_key_pair
    from dxa_app.services.calibration import approve_steps, calibrate, list_steps

    centre_archive, _e, _l = _archive(tmp_path)
    db = open_archive(centre_archive)
    from dxa_app.archive.store import store_parsed

    store_parsed(
        db,
        pg.qc_series(
            pg.REF,
            dt.date(2026, 1, 5),
            [1.0 + 0.001 * ((-1) ** i) for i in range(20)] + [1.03] * 10,
        ),
    )
    db.close()
    table = tmp_path / "spine.csv"
    table.write_text(SPINE_CSV, encoding="utf-8")
    centre = session_as(centre_archive, Role.CENTRE_ANALYST, "centre")
    calibrate(centre, bootstrap=0)
    approve_steps(
        centre, [s.id for s in list_steps(centre, "proposed")], password=PASSWORD, reason="x"
    )
    install_reference(centre, table, valid_from=FROM, password=PASSWORD, reason="national")
    private, public = generate_key_pair()
    db = open_archive(centre_archive)
    _data, payload = corr.build_corrections(db, private, public, reference=pg.REF.serial)
    db.close()
    [ref] = payload["reference_tables"]
    assert ref["table"]["name"] == "DK spine" and ref["valid_from"] == "2026-06-01"
    (tmp_path / "site").mkdir()
    site, _early, late = _archive(tmp_path / "site")
    sdb = open_archive(site)
    result = corr.install(sdb, payload, "pub-1", by="tekla")
    assert result.references == ["T DK spine 2027.1"]
    again = corr.install(
        sdb, {**payload, "published_at": "2027-01-01T00:00:00+00:00"}, "pub-2", by="tekla"
    )
    assert again.references == []  # installed once
    sdb.close()
    assert _spine(site, late)[1] == "DK spine 2027.1"
    # a version 1 file has no tables and installs as before
    old = {k: v for k, v in payload.items() if k != "reference_tables"} | {"schema_version": 1}
    sdb = open_archive(site)
    assert corr.install(sdb, old, "pub-0", by="tekla").references == []
    sdb.close()
