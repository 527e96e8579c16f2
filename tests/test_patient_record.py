"""Issue 17: the signed report into the patient record (HL7 v2 ORU^R01, FHIR R4, outbox).

The HL7 messages are parsed back with hl7apy and delivered to a real MLLP listener on
127.0.0.1 (tests/record_listener.py, built on hl7apy) that answers AA, AE, AR or drops the
connection; the FHIR Bundle is validated with fhir.resources (R4B models).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from dxa_app.archive import open_archive
from dxa_app.archive.reports import stored_pdf, versions
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError, PermissionDeniedError, UsageError
from dxa_app.record_out.hl7v2 import escaped
from dxa_app.services import reporting
from dxa_app.services.importing import import_paths
from dxa_app.services.patient_record import (
    BACKOFF_FIRST_S,
    Hl7Receiver,
    deliver_outbox,
    export_record,
    hl7_outbox,
    hl7_receiver,
    retry_hl7,
    send_hl7,
    set_hl7_receiver,
)
from tests.dicom_study import PATIENT_ID, STUDY_UID, write_study
from tests.record_listener import Listener, free_port
from tests.sessions import PASSWORD, session_as

LATER = dt.timedelta(days=1)  # far past any back-off: every queued message is due


@pytest.fixture(scope="module")
def signed_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue-13 DICOM study (spine and left hip) imported and its report signed."""
    tmp = tmp_path_factory.mktemp("record")
    write_study(tmp / "in")
    archive = tmp / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    assert import_paths(tech, [tmp / "in"]).counts["imported"] == 3
    doc = session_as(archive, Role.PHYSICIAN, "doc", display_name="Dr. Åse Hansen")
    reporting.open_report(doc, STUDY_UID, lang="da", level="A")
    reporting.sign_report(doc, STUDY_UID, password=PASSWORD)
    session_as(archive, Role.ADMIN, "admin")
    return archive


@pytest.fixture
def archive(signed_master: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "a.dxa.sqlite"
    shutil.copy(signed_master, dest)
    return dest


def doctor(archive: Path) -> Any:
    return session_as(archive, Role.PHYSICIAN, "doc")


def point_at(archive: Path, port: int) -> None:
    set_hl7_receiver(
        session_as(archive, Role.ADMIN, "admin"),
        Hl7Receiver("127.0.0.1", port, "EPJ", "RH-EPJ", "RH-DXA"),
    )


def _parse(text: str) -> Any:
    return parse_message(
        text.replace("\r\n", "\r").replace("\n", "\r").strip(),
        validation_level=VALIDATION_LEVEL.TOLERANT,
        find_groups=True,
    )


def _observations(msg: Any) -> list[Any]:
    order = msg.oru_r01_patient_result.oru_r01_order_observation
    return [g.obx for g in order.oru_r01_observation]


def _pdf(archive: Path) -> bytes:
    db = open_archive(archive)
    try:
        return stored_pdf(db, [v for v in versions(db, 1) if v.status != "draft"][-1].id)
    finally:
        db.close()


# --- the message ----------------------------------------------------------------------------


def test_oru_parses_back_with_identity_codes_numbers_and_the_pdf(
    archive: Path, tmp_path: Path
) -> None:
    point_at(archive, free_port())
    out = tmp_path / "report.hl7"
    r = export_record(doctor(archive), STUDY_UID, "hl7v2", out)
    assert (r.format, r.result_status, r.version_no) == ("hl7v2", "F", 1)
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    msg = _parse(out.read_text(encoding="utf-8"))

    msh = msg.msh
    assert msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert (msh.msh_12.to_er7(), msh.msh_18.to_er7()) == ("2.5", "UNICODE UTF-8")
    assert (msh.msh_4.to_er7(), msh.msh_5.to_er7(), msh.msh_6.to_er7()) == (
        "RH-DXA",
        "EPJ",
        "RH-EPJ",
    )
    pid = msg.oru_r01_patient_result.oru_r01_patient.pid
    # the PatientID as the modality sent it, with the CPR assigning authority and its OID
    assert pid.pid_3.to_er7() == f"{PATIENT_ID}^^^CPR&1.2.208.176.1.2&ISO^NNDNK"
    assert pid.pid_5.to_er7() == "Østergård-Ærø^Åse Marie"
    assert (pid.pid_7.to_er7(), pid.pid_8.to_er7()) == ("19500101", "F")
    order = msg.oru_r01_patient_result.oru_r01_order_observation
    assert order.orc.orc_3.to_er7() == "ACC1313"
    obr = order.obr
    assert (obr.obr_3.to_er7(), obr.obr_18.to_er7(), obr.obr_25.to_er7()) == (
        "ACC1313",
        "ACC1313",
        "F",
    )
    assert obr.obr_4.to_er7().startswith("83311-1^")
    assert obr.obr_20.to_er7() == STUDY_UID
    assert obr.obr_7.to_er7() == "20260304091530"

    obx = _observations(msg)
    assert all(o.obx_11.to_er7() == "F" for o in obx)
    by_code = {o.obx_3.ce_1.to_er7(): o for o in obx}
    # known answers: the printed values of this synthetic study (raw: no calibration yet)
    expected = {
        "24966-4": ("0.876", "g/cm2"),  # lumbar spine L1-L4 BMD
        "38267-1": ("-1.6", "{T-score}"),  # lumbar spine T
        "85394-5": ("-0.1", "{Z-score}"),
        "46278-8": ("0.811", "g/cm2"),  # left total hip: side-specific LOINC
        "80946-7": ("-1.1", "{T-score}"),
        "80938-4": ("0.1", "{Z-score}"),
        "80948-3": ("-1.3", "{T-score}"),  # left femoral neck T
        "DXA-T-L1": ("-2.2", "{T-score}"),  # a single vertebra: local code
    }
    for code, (value, unit) in expected.items():
        o = by_code[code]
        assert o.obx_2.to_er7() == "NM", code
        assert (o.obx_5.to_er7(), o.obx_6.ce_1.to_er7()) == (value, unit), code
        assert o.obx_18.to_er7() == "Hologic Horizon A 301313"
        assert o.obx_17.to_er7().startswith("RAW^")
    assert by_code["38267-1"].obx_3.ce_3.to_er7() == "LN"
    assert by_code["DXA-T-L1"].obx_3.ce_3.to_er7() == "99DXA"
    # BMD, T and Z of one region share the sub-id
    assert {by_code[c].obx_4.to_er7() for c in ("24966-4", "38267-1", "85394-5")} == {"5"}
    assert by_code["DXA-CATEGORY"].obx_5.to_er7().startswith("low_bone_mass^Osteopeni")
    conclusion = (
        "Osteopeni (nedsat knogletæthed): laveste T-score -1,6, målt i lænderyg"
        " (columna lumbalis) L1-L4."
    )
    assert by_code["19005-8"].obx_5.to_er7() == escaped(conclusion)
    ed = by_code["DXA-PDF"]
    assert ed.obx_2.to_er7() == "ED"
    source, kind, subtype, encoding, data = ed.obx_5.to_er7().split("^")
    assert (source, kind, subtype, encoding) == ("", "AP", "PDF", "Base64")
    assert base64.b64decode(data) == _pdf(archive)


def test_text_with_hl7_separators_is_escaped_by_the_library(archive: Path, tmp_path: Path) -> None:
    doc = doctor(archive)
    text = "T-score | lav ^ & ~ \\ slut"
    reporting.amend_report(
        doc, STUDY_UID, password=PASSWORD, reason="Rettet tekst", conclusion=text
    )
    out = tmp_path / "amended.hl7"
    assert export_record(doc, STUDY_UID, "hl7v2", out).result_status == "C"
    raw = out.read_text(encoding="utf-8")
    msg = _parse(raw)
    by_code = {o.obx_3.ce_1.to_er7(): o for o in _observations(msg)}
    assert by_code["19005-8"].obx_5.to_er7() == escaped(text)
    assert "\\F\\" in raw and "| lav" not in raw
    order = msg.oru_r01_patient_result.oru_r01_order_observation
    assert order.obr.obr_25.to_er7() == "C"
    assert order.nte.nte_3.to_er7() == "Rettet tekst"
    assert {o.obx_11.to_er7() for o in _observations(msg)} == {"C"}


# --- FHIR -----------------------------------------------------------------------------------


def test_fhir_bundle_validates_and_carries_patient_report_observations(
    archive: Path, tmp_path: Path
) -> None:
    from fhir.resources.R4B.bundle import Bundle

    out = tmp_path / "report.json"
    export_record(doctor(archive), STUDY_UID, "fhir", out)
    data = json.loads(out.read_text(encoding="utf-8"))
    bundle = Bundle.model_validate(data)  # every resource against the FHIR models
    assert bundle.type == "document"
    resources = {e["fullUrl"]: e["resource"] for e in data["entry"]}
    kinds = [r["resourceType"] for r in resources.values()]
    assert kinds[0] == "Composition"
    assert kinds.count("Observation") == 21  # 7 regions x BMD, T, Z
    (patient,) = [r for r in resources.values() if r["resourceType"] == "Patient"]
    assert patient["identifier"][0] == {
        "use": "official",
        "system": "urn:oid:1.2.208.176.1.2",
        "value": PATIENT_ID,
    }
    assert (patient["gender"], patient["birthDate"]) == ("female", "1950-01-01")
    (report,) = [r for r in resources.values() if r["resourceType"] == "DiagnosticReport"]
    assert report["status"] == "final"
    assert report["code"]["coding"][0]["code"] == "83311-1"
    assert report["identifier"][0]["value"] == "ACC1313"
    assert report["conclusion"].startswith("Osteopeni (nedsat knogletæthed): laveste T-score -1,6")
    assert report["conclusionCode"][0]["coding"][0]["code"] == "low_bone_mass"
    (form,) = report["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == _pdf(archive)
    assert all(ref["reference"] in resources for ref in report["result"])
    spine_t = next(
        r
        for r in resources.values()
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "38267-1"
    )
    assert spine_t["valueQuantity"]["value"] == -1.6
    assert spine_t["status"] == "final"
    device = resources[spine_t["device"]["reference"]]
    assert (device["resourceType"], device["serialNumber"]) == ("Device", "301313")
    assert spine_t["method"]["text"] == "rå scanner-BMD (ingen godkendt kalibrering)"  # da report


# --- delivery -------------------------------------------------------------------------------


def test_outbox_survives_a_receiver_that_is_down_and_a_restart(archive: Path) -> None:
    port = free_port()
    point_at(archive, port)
    (row,) = send_hl7(doctor(archive), STUDY_UID)  # nobody listens
    assert (row.state, row.attempts, row.result_status) == ("pending", 1, "F")
    assert "connect" in row.last_error
    assert row.last_attempt_at is not None
    first = dt.datetime.fromisoformat(row.last_attempt_at)
    assert dt.datetime.fromisoformat(row.next_attempt_at) - first == dt.timedelta(
        seconds=BACKOFF_FIRST_S
    )
    # a second failure doubles the back-off
    report = deliver_outbox(doctor(archive), now=first + LATER)
    (again,) = report.tried
    assert again.attempts == 2 and again.state == "pending"
    assert dt.datetime.fromisoformat(again.next_attempt_at) - (first + LATER) == dt.timedelta(
        seconds=2 * BACKOFF_FIRST_S
    )
    # not due yet: nothing is tried
    assert deliver_outbox(doctor(archive), now=first + LATER).tried == ()

    # "restart": a new log-in on the archive file, then the receiver comes back
    with Listener(port=port) as listener:
        report = deliver_outbox(doctor(archive), now=first + 2 * LATER)
        assert (report.delivered, report.waiting, report.failed) == (1, 0, 0)
        assert len(listener.received) == 1
        (done,) = hl7_outbox(doctor(archive))
        assert (done.state, done.ack_code, done.attempts) == ("delivered", "AA", 3)
        assert done.delivered_to == f"127.0.0.1:{port}"
        assert _parse(listener.received[0]).msh.msh_10.to_er7() == done.control_id
        # never twice: a further pass and a further send-hl7 send nothing
        assert deliver_outbox(doctor(archive), now=first + 3 * LATER).tried == ()
        (same,) = send_hl7(doctor(archive), STUDY_UID)
        assert same.id == done.id and same.state == "delivered"
        assert len(listener.received) == 1


def test_a_dropped_connection_resends_the_same_message(archive: Path) -> None:
    with Listener(["drop"]) as listener:
        point_at(archive, listener.port)
        (row,) = send_hl7(doctor(archive), STUDY_UID)
        assert row.state == "pending" and "dropped" in row.last_error
        report = deliver_outbox(doctor(archive), now=dt.datetime.now(dt.UTC) + LATER)
        assert report.delivered == 1
        assert len(listener.received) == 2
        assert listener.received[0] == listener.received[1]  # byte for byte, same MSH-10
    assert len(hl7_outbox(doctor(archive))) == 1


def test_ar_waits_and_ae_holds_until_retried(archive: Path) -> None:
    with Listener(["AE", "AR"]) as listener:
        point_at(archive, listener.port)
        (row,) = send_hl7(doctor(archive), STUDY_UID)
        assert (row.state, row.ack_code, row.ack_text) == ("failed", "AE", "test answer AE")
        later = dt.datetime.now(dt.UTC) + LATER
        assert deliver_outbox(doctor(archive), now=later).tried == ()  # AE is not retried
        with pytest.raises(NotFoundError):
            retry_hl7(doctor(archive), row.id + 1000)
        assert retry_hl7(doctor(archive), row.id).state == "pending"
        (ar,) = deliver_outbox(doctor(archive), now=later).tried
        assert (ar.state, ar.ack_code) == ("pending", "AR")  # AR: the receiver cannot now
        (aa,) = deliver_outbox(doctor(archive), now=later + LATER).tried
        assert (aa.state, aa.ack_code, aa.attempts) == ("delivered", "AA", 3)
        assert len(set(listener.received)) == 1 and len(listener.received) == 3
        with pytest.raises(UsageError):
            retry_hl7(doctor(archive), row.id)  # a delivered message is never sent again


def test_an_amendment_goes_out_as_a_correction_after_the_original(archive: Path) -> None:
    with Listener() as listener:
        point_at(archive, listener.port)
        send_hl7(doctor(archive), STUDY_UID)
        reporting.amend_report(
            doctor(archive),
            STUDY_UID,
            password=PASSWORD,
            reason="Forkert side",
            conclusion="Rettet konklusion.",
        )
        rows = send_hl7(doctor(archive), STUDY_UID)
        assert [(r.version_no, r.result_status, r.state) for r in rows] == [
            (2, "C", "delivered"),
            (1, "F", "delivered"),
        ]
        first, second = (_parse(m) for m in listener.received)
        order = second.oru_r01_patient_result.oru_r01_order_observation
        assert order.obr.obr_25.to_er7() == "C"
        assert {o.obx_11.to_er7() for o in _observations(second)} == {"C"}
        assert first.msh.msh_10.to_er7() != second.msh.msh_10.to_er7()


def test_roles_and_settings(archive: Path) -> None:
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    with pytest.raises(PermissionDeniedError):
        set_hl7_receiver(doctor(archive), Hl7Receiver("127.0.0.1", 2575))
    with pytest.raises(UsageError):
        send_hl7(doctor(archive), STUDY_UID)  # no receiver set yet
    with pytest.raises(UsageError):
        set_hl7_receiver(session_as(archive, Role.ADMIN, "admin"), Hl7Receiver("h", 0))
    point_at(archive, 2575)
    assert hl7_receiver(tech) == Hl7Receiver("127.0.0.1", 2575, "EPJ", "RH-EPJ", "RH-DXA")
    with pytest.raises(PermissionDeniedError):
        send_hl7(tech, STUDY_UID)
    with pytest.raises(PermissionDeniedError):
        export_record(tech, STUDY_UID, "fhir", archive.with_name("t.json"))
    assert hl7_outbox(tech) == []


def test_cli_export_send_and_outbox(
    archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = ["--archive", str(archive)]
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    monkeypatch.setenv("DXA_USER", "admin")
    with Listener() as listener:
        code = main(["hl7", "receiver", "--host", "127.0.0.1", "--port", str(listener.port), *a])
        assert code == ExitCode.OK
        monkeypatch.setenv("DXA_USER", "doc")
        for fmt, name in (("hl7v2", "r.hl7"), ("fhir", "r.json")):
            assert main(["export", "1", "--format", fmt, "--out", str(tmp_path / name), *a]) == 0
        assert main(["export", "1", "--format", "fhir", "--out", str(tmp_path / "r.json"), *a]) == (
            ExitCode.USAGE
        )
        capsys.readouterr()
        assert main(["send-hl7", STUDY_UID, "--json", *a]) == ExitCode.OK
        (sent,) = json.loads(capsys.readouterr().out)
        assert sent["state"] == "delivered"
        assert main(["hl7", "outbox", "--json", *a]) == ExitCode.OK
        assert [r["control_id"] for r in json.loads(capsys.readouterr().out)] == [
            sent["control_id"]
        ]
        assert len(listener.received) == 1
    assert _parse((tmp_path / "r.hl7").read_text(encoding="utf-8")).msh.msh_9.to_er7() == (
        "ORU^R01^ORU_R01"
    )
