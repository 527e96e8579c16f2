"""The physician's worklist, saving an edited draft, and the PACS address in the archive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import get_setting, open_archive
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services import worklist
from dxa_app.services.pacs import PACS_KEY, PacsTarget, pacs_target, set_pacs_target
from dxa_app.services.reporting import latest_version, save_draft, sign


@pytest.fixture
def db(demo_archive: Path) -> Iterator[Any]:
    conn = open_archive(demo_archive)
    yield conn
    conn.close()


def test_pending_reports_oldest_first_with_days_waiting(db: Any) -> None:
    today = dt.date(2027, 1, 1)
    rows = worklist.pending_reports(db, today=today)
    n_studies = db.execute("SELECT count(*) FROM studies").fetchone()[0]
    assert len(rows) == n_studies > 10
    dates = [r.study_date for r in rows]
    assert dates == sorted(dates)
    first = rows[0]
    assert first.days_waiting == (today - first.study_date).days
    assert first.report_status == worklist.NO_DRAFT and first.version_no is None
    assert first.site and first.serial and first.patient_identifier
    assert first.scanner.startswith(first.manufacturer.split()[0])


def test_drafts_stay_and_signed_reports_leave_the_worklist(db: Any) -> None:
    rows = worklist.pending_reports(db)
    a, b = rows[0].study_id, rows[1].study_id
    save_draft(db, a, lang="en", level="A")
    save_draft(db, b, lang="en", level="A")
    sign(db, b, user="doc", role=Role.PHYSICIAN)
    after = {r.study_id: r for r in worklist.pending_reports(db)}
    assert after[a].report_status == worklist.DRAFT and after[a].version_no == 1
    assert b not in after
    with_signed = {r.study_id: r for r in worklist.pending_reports(db, include_signed=True)}
    assert with_signed[b].report_status == worklist.SIGNED and with_signed[b].signed
    assert len(with_signed) == len(after) + 1


def test_save_edited_draft_stores_the_text_and_writes_the_audit_log(db: Any) -> None:
    study = worklist.pending_reports(db)[0].study_id
    version, pdf = worklist.save_edited_draft(
        db,
        study,
        lang="en",
        level="A",
        conclusion="Reviewed: normal bone density.",
        recommendation="No follow-up needed.",
        user="doc",
        role=Role.PHYSICIAN,
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


def test_only_a_physician_edits_the_conclusion(db: Any) -> None:
    study = worklist.pending_reports(db)[0].study_id
    with pytest.raises(PermissionDeniedError):
        worklist.save_edited_draft(
            db,
            study,
            lang="en",
            level="A",
            conclusion="x",
            recommendation="y",
            user="tech",
            role=Role.TECHNICIAN,
        )
    assert latest_version(db, study) is None


def test_pacs_target_lives_in_the_archive(db: Any) -> None:
    assert pacs_target(db) is None
    stored = set_pacs_target(db, PacsTarget(" pacs.local ", 104, "PACS", ""), by="doc")
    assert stored == PacsTarget("pacs.local", 104, "PACS", "DXA")
    assert pacs_target(db) == stored
    assert get_setting(db, PACS_KEY)["host"] == "pacs.local"
    assert list(db.query("SELECT * FROM audit_log WHERE action = 'setting_pacs'"))
    with pytest.raises(UsageError):
        set_pacs_target(db, PacsTarget("pacs.local", 0, "PACS"))
    with pytest.raises(UsageError):
        set_pacs_target(db, PacsTarget("", 104, "PACS"))
