"""Site mapping: configurable per scanner, applied to known scanners and to later imports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.queries import list_studies
from dxa_app.archive.store import store_parsed
from dxa_app.cli import main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.services.sites import list_scanners, map_site
from tests.factories import SCANNER, parsed, study_record
from tests.sessions import PASSWORD, ensure_user, session_as


def test_map_known_scanner_and_later_imports(tmp_path: Path) -> None:
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1)))
    db.close()
    admin = session_as(archive, Role.ADMIN, "admin")
    assert [s.site_code for s in list_scanners(admin)] == ["Test Sygehus"]
    with pytest.raises(PermissionDeniedError):  # a site setting: the administrator's
        map_site(session_as(archive, Role.TECHNICIAN), SCANNER.serial, "OUH")
    assert map_site(admin, SCANNER.serial, "OUH", "Odense") == 1
    assert [s.site_code for s in list_scanners(admin)] == ["OUH"]
    other = dataclasses.replace(
        SCANNER, serial="TEST-002", station_name="ST2", institution_name="Andet Sygehus"
    )
    map_site(admin, "ST2", "AUH")
    db = open_archive(archive)
    rec = dataclasses.replace(study_record(2), scanner=other)
    store_parsed(db, parsed(rec))
    sites = {s.study_uid: s.site for s in list_studies(db)}
    assert sites == {"1.2.826.0.1.3680043.8.498.1": "OUH", "1.2.826.0.1.3680043.8.498.2": "AUH"}
    maps = [r["username"] for r in db.query("SELECT * FROM audit_log WHERE action = 'site_map'")]
    assert maps == ["admin", "admin"]


def test_cli_sites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1)))
    db.close()
    ensure_user(archive, "admin", Role.ADMIN)
    monkeypatch.setenv("DXA_USER", "admin")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    assert main(["site-map", SCANNER.serial, "RH", "--archive", str(archive), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scanners_moved"] == 1
    assert main(["sites", "--archive", str(archive), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["site_code"] == "RH" and row["serial"] == SCANNER.serial
