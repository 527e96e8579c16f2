"""Services behind the technician workspace: accounts, QC acknowledgements, VFA, precision entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.domain import Morphology, Role, VfaLevel
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services import auth, precision, qc_ack, vfa
from dxa_app.services.calibration import qc_status
from tests.sessions import session_as


def test_first_user_only_once(tmp_path: Path) -> None:
    archive = tmp_path / "a.dxa.sqlite"
    first = auth.create_first_user(archive, "anne", "kodeord-123")
    assert first.role is Role.ADMIN and auth.has_users(archive)
    with pytest.raises(PermissionDeniedError):
        auth.create_first_user(archive, "bo", "kodeord-123")
    with pytest.raises(PermissionDeniedError):
        auth.log_in(archive, "anne", "forkert")
    with pytest.raises(UsageError):
        auth.log_in(archive, " ", "x")
    assert auth.log_in(archive, "anne", "kodeord-123").role is Role.ADMIN


def test_qc_alarms_and_acknowledgement(demo_archive: Path) -> None:
    tech = session_as(demo_archive, Role.TECHNICIAN, "tekla")
    shifted = next(q for q in qc_status(tech) if q.serial == "DSW-DEMO-202")
    alarms = qc_ack.scanner_alarms(tech, shifted)
    assert shifted.analysis is not None
    # one row per alarmed scan (issue 14), listing every rule that fired on it
    a = shifted.analysis
    alarmed = {h.index for h in a.hits} | set(a.cusum.alarms)
    assert [x.index for x in alarms] == sorted(alarmed)
    for x in alarms:
        fired = {h.rule for h in a.hits if h.index == x.index}
        fired |= {"CUSUM"} if x.index in a.cusum.alarms else set()
        assert set(x.rules) == fired and x.rule == ", ".join(x.rules)
    assert {a.kind for a in alarms} == {"westgard", "cusum"}
    latest = qc_ack.latest_alarms(alarms)
    assert len(latest) == 1 and latest[0].index == max(a.index for a in alarms)
    with pytest.raises(UsageError):
        qc_ack.acknowledge_alarms(tech, latest, comment=" ")
    with pytest.raises(PermissionDeniedError):
        qc_ack.acknowledge_alarms(
            session_as(demo_archive, Role.PHYSICIAN, "doc"), latest, comment="checked"
        )
    stored = qc_ack.acknowledge_alarms(tech, latest, comment="checked")
    assert len(stored) == len(latest) and {a.username for a in stored} == {"tekla"}
    again = qc_ack.scanner_alarms(tech, shifted)
    assert sum(a.acknowledged for a in again) == len(latest)
    assert qc_ack.latest_alarms(again) != latest


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
    study_id = db.execute("SELECT id FROM studies WHERE study_uid = ?", [uid]).fetchone()[0]
    db.close()
    entries = {lv: vfa.LevelEntry(0) for lv in vfa.LEVELS}
    with pytest.raises(PermissionDeniedError):
        vfa.save_vfa_reading(session_as(demo_archive, Role.CENTRE_ANALYST, "c"), uid, entries)
    doctor = session_as(demo_archive, Role.PHYSICIAN, "p")
    reading = vfa.save_vfa_reading(doctor, uid, entries)
    assert vfa.latest_reading(doctor, study_id) == entries
    assert reading > 0


def test_precision_rows() -> None:
    rows = precision.rows_from_text("subject;v1;v2\nA;1,0;1,01\nB;0,9;0,91\n")
    assert rows == [["A", "1,0", "1,01"], ["B", "0,9", "0,91"]]
    assert precision.measurements_from_rows(rows) == {"A": [1.0, 1.01], "B": [0.9, 0.91]}
    long = precision.rows_from_text("subject,bmd_g_cm2\nA,1.0\nA,1.1\n")
    assert long == [["A", "1.0", "1.1"]]
    with pytest.raises(UsageError):
        precision.measurements_from_rows([["A", "1.0"]])
    with pytest.raises(UsageError):
        precision.measurements_from_rows([["A", "1", "2"], ["A", "1", "2"]])
    with pytest.raises(UsageError):
        precision.measurements_from_rows([])
    m = {f"S{i}": [1.0, 1.01, 0.99] for i in range(15)}
    assert precision.design_of(m) == "15x3"
    assert precision.design_of({"a": [1.0, 1.0]}) is None
