"""Services behind the technician workspace: accounts, QC acknowledgements, VFA, precision entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.domain import Morphology, Role, VfaLevel
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services import accounts, qc_ack, vfa, workbench
from dxa_app.services.calibration import qc_status


def test_first_user_only_once(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.dxa.sqlite")
    assert not accounts.has_users(db)
    accounts.create_first_user(db, "anne", Role.ADMIN, "kodeord-123")
    assert accounts.has_users(db)
    with pytest.raises(PermissionDeniedError):
        accounts.create_first_user(db, "bo", Role.ADMIN, "kodeord-123")
    with pytest.raises(PermissionDeniedError):
        accounts.log_in(db, "anne", "forkert")
    with pytest.raises(UsageError):
        accounts.log_in(db, " ", "x")
    assert accounts.log_in(db, "anne", "kodeord-123").role is Role.ADMIN
    db.close()


def test_qc_alarms_and_acknowledgement(demo_archive: Path) -> None:
    db = open_archive(demo_archive)
    shifted = next(q for q in qc_status(db) if q.serial == "DSW-DEMO-202")
    alarms = qc_ack.scanner_alarms(db, shifted)
    assert shifted.analysis is not None
    assert len(alarms) == len(shifted.analysis.hits) + len(shifted.analysis.cusum.alarms)
    assert {a.kind for a in alarms} == {"westgard", "cusum"}
    latest = qc_ack.latest_alarms(alarms)
    assert latest and {a.index for a in latest} == {max(a.index for a in alarms)}
    with pytest.raises(UsageError):
        qc_ack.acknowledge_alarms(db, latest, comment=" ", by="tekla")
    stored = qc_ack.acknowledge_alarms(db, latest, comment="checked", by="tekla")
    assert len(stored) == len(latest)
    again = qc_ack.scanner_alarms(db, shifted)
    assert sum(a.acknowledged for a in again) == len(latest)
    assert qc_ack.latest_alarms(again) != latest
    db.close()


def test_vfa_validation() -> None:
    entries = {lv: vfa.LevelEntry(0) for lv in vfa.LEVELS}
    assert len(vfa.findings_from_entries(entries)) == 13
    with pytest.raises(UsageError):
        vfa.findings_from_entries({VfaLevel.T4: vfa.LevelEntry(1)})
    bad = dict(entries)
    bad[VfaLevel.L1] = vfa.LevelEntry(0, Morphology.WEDGE)
    with pytest.raises(UsageError):
        vfa.findings_from_entries(bad)
    bad[VfaLevel.L1] = vfa.LevelEntry(None, None, "moon")
    with pytest.raises(UsageError):
        vfa.findings_from_entries(bad)


def test_vfa_save_checks_role(demo_archive: Path) -> None:
    db = open_archive(demo_archive)
    uid = db.execute("SELECT study_uid FROM studies ORDER BY id LIMIT 1").fetchone()[0]
    entries = {lv: vfa.LevelEntry(0) for lv in vfa.LEVELS}
    with pytest.raises(PermissionDeniedError):
        vfa.save_vfa_reading(db, uid, entries, reader="c", role=Role.CENTRE_ANALYST)
    reading = vfa.save_vfa_reading(db, uid, entries, reader="p", role=Role.PHYSICIAN)
    study_id = db.execute("SELECT id FROM studies WHERE study_uid = ?", [uid]).fetchone()[0]
    assert vfa.latest_reading(db, study_id) == entries
    assert reading > 0
    db.close()


def test_precision_rows() -> None:
    rows = workbench.rows_from_text("subject;v1;v2\nA;1,0;1,01\nB;0,9;0,91\n")
    assert rows == [["A", "1,0", "1,01"], ["B", "0,9", "0,91"]]
    assert workbench.measurements_from_rows(rows) == {"A": [1.0, 1.01], "B": [0.9, 0.91]}
    long = workbench.rows_from_text("subject,bmd_g_cm2\nA,1.0\nA,1.1\n")
    assert long == [["A", "1.0", "1.1"]]
    with pytest.raises(UsageError):
        workbench.measurements_from_rows([["A", "1.0"]])
    with pytest.raises(UsageError):
        workbench.measurements_from_rows([["A", "1", "2"], ["A", "1", "2"]])
    with pytest.raises(UsageError):
        workbench.measurements_from_rows([])
    m = {f"S{i}": [1.0, 1.01, 0.99] for i in range(15)}
    assert workbench.design_of(m) == "15x3"
    assert workbench.design_of({"a": [1.0, 1.0]}) is None
