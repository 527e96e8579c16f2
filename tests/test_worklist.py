"""The physician's worklist, editing a draft (role and audit), and the PACS address."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import get_setting, open_archive
from dxa_app.archive.reports import latest_version
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services import worklist
from dxa_app.services.auth import Session
from dxa_app.services.pacs import PACS_KEY, PacsTarget, pacs_target, set_pacs_target
from dxa_app.services.reporting import edit_draft, open_report, sign_report
from tests.sessions import PASSWORD, session_as


@dataclass
class Users:
    doc: Session
    tech: Session
    admin: Session


@pytest.fixture
def db(demo_archive: Path) -> Iterator[Any]:
    conn = open_archive(demo_archive)
    yield conn
    conn.close()


@pytest.fixture
def users(demo_archive: Path) -> Users:
    return Users(
        session_as(demo_archive, Role.PHYSICIAN, "doc"),
        session_as(demo_archive, Role.TECHNICIAN, "tech"),
        session_as(demo_archive, Role.ADMIN, "admin"),
    )


def test_pending_reports_oldest_first_with_days_waiting(db: Any, users: Users) -> None:
    today = dt.date(2027, 1, 1)
    rows = worklist.pending_reports(users.doc, today=today)
    n_studies = db.execute("SELECT count(*) FROM studies").fetchone()[0]
    assert len(rows) == n_studies > 10
    dates = [r.study_date for r in rows]
    assert dates == sorted(dates)
    first = rows[0]
    assert first.days_waiting == (today - first.study_date).days
    assert first.report_status == worklist.NO_DRAFT and first.version_no is None
    assert first.site and first.serial and first.patient_identifier
    assert first.scanner.startswith(first.manufacturer.split()[0])


def test_drafts_stay_and_signed_reports_leave_the_worklist(users: Users) -> None:
    rows = worklist.pending_reports(users.doc)
    a, b = rows[0].study_id, rows[1].study_id
    open_report(users.tech, a, lang="en", level="A")
    open_report(users.tech, b, lang="en", level="A")
    sign_report(users.doc, b, password=PASSWORD)
    after = {r.study_id: r for r in worklist.pending_reports(users.doc)}
    assert after[a].report_status == worklist.DRAFT and after[a].version_no == 1
    assert b not in after
    with_signed = {r.study_id: r for r in worklist.pending_reports(users.doc, include_signed=True)}
    assert with_signed[b].report_status == worklist.SIGNED and with_signed[b].signed
    assert len(with_signed) == len(after) + 1


def test_edit_draft_stores_the_text_and_writes_the_audit_log(db: Any, users: Users) -> None:
    study = worklist.pending_reports(users.doc)[0].study_id
    version, pdf = edit_draft(
        users.doc,
        study,
        lang="en",
        level="A",
        conclusion="Reviewed: normal bone density.",
        recommendation="No follow-up needed.",
    )
    assert pdf.startswith(b"%PDF")
    assert version.content["conclusion"] == "Reviewed: normal bone density."
    latest = latest_version(db, study)
    assert latest is not None and latest.content["recommendation"] == "No follow-up needed."
    entry = next(
        iter(
            db.query("SELECT * FROM audit_log WHERE action = 'report_draft_save' ORDER BY id DESC")
        )
    )
    assert entry["username"] == "doc" and entry["entity_id"] == str(version.id)


def test_only_a_physician_edits_the_conclusion(db: Any, users: Users) -> None:
    study = worklist.pending_reports(users.doc)[0].study_id
    for who in (users.tech, users.admin):
        with pytest.raises(PermissionDeniedError):
            edit_draft(who, study, lang="en", level="A", conclusion="x", recommendation="y")
    assert latest_version(db, study) is None


def test_pacs_target_lives_in_the_archive(db: Any, users: Users) -> None:
    assert pacs_target(users.doc) is None
    with pytest.raises(PermissionDeniedError):  # a site setting: the administrator's
        set_pacs_target(users.doc, PacsTarget("pacs.local", 104, "PACS"))
    stored = set_pacs_target(users.admin, PacsTarget(" pacs.local ", 104, "PACS", ""))
    assert stored == PacsTarget("pacs.local", 104, "PACS", "DXA")
    assert pacs_target(users.doc) == stored
    assert get_setting(db, PACS_KEY)["host"] == "pacs.local"
    (entry,) = db.query("SELECT * FROM audit_log WHERE action = 'setting_pacs'")
    assert entry["username"] == "admin"
    with pytest.raises(UsageError):
        set_pacs_target(users.admin, PacsTarget("pacs.local", 0, "PACS"))
    with pytest.raises(UsageError):
        set_pacs_target(users.admin, PacsTarget("", 104, "PACS"))


def test_the_worklist_command_filters_by_period_site_and_scanner(
    demo_archive: Path,
    users: Users,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from dxa_app.cli import main
    from dxa_app.i18n import set_language

    monkeypatch.setenv("DXA_USER", "doc")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    base = ["--lang", "en", "worklist", "--archive", str(demo_archive)]
    every = worklist.count_pending_reports(users.doc)
    try:
        assert main(base) == 0  # the last 30 days: the demo studies are older
        assert capsys.readouterr().out.strip() == (
            f"No unsigned studies in the last 30 days – {every} older: choose a longer period."
        )
        assert main([*base, "--days", "0", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["total"] == every == len(data["studies"])
        dates = [s["study_date"] for s in data["studies"]]
        assert dates == sorted(dates)
        scanner = worklist.worklist_choices(users.doc).scanners[0]
        on_it = worklist.count_pending_reports(
            users.doc, where=worklist.WorklistFilter(scanner_id=scanner.id)
        )
        assert main([*base, "--days", "0", "--scanner", scanner.serial, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["total"] == on_it
        site = scanner.site
        at_site = worklist.count_pending_reports(
            users.doc, where=worklist.WorklistFilter(site=site)
        )
        assert main([*base, "--days", "0", "--site", site, "--json"]) == 0
        studies = json.loads(capsys.readouterr().out)["studies"]
        assert len(studies) == at_site and {s["site"] for s in studies} == {site}
        assert main([*base, "--scanner", "NO-SUCH-SERIAL"]) != 0
        assert "NO-SUCH-SERIAL" in capsys.readouterr().err
        # an unknown site and a negative period are refused with one message, not emptiness
        assert main([*base, "--site", "NO-SUCH-SITE"]) != 0
        assert "No site has the code NO-SUCH-SITE" in capsys.readouterr().err
        assert main([*base, "--days", "-3"]) != 0
        assert "0 or more" in capsys.readouterr().err
    finally:
        set_language("en")
