"""Issue 13: the identity the modality sent goes out unchanged (a real Orthanc, dciodvfy).

PACS then files the images and the report as one patient and one study.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.tag import Tag

from dxa_app.archive import open_archive
from dxa_app.cli import ExitCode, main
from dxa_app.dicom_net import STATUS_SUCCESS, send_files
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services import reporting
from dxa_app.services.images import stored_images
from dxa_app.services.importing import import_paths
from dxa_app.services.pacs import PN_GROUP_MAX, PacsTarget, send_report, write_report_file
from tests.dicom_study import PATIENT_ID, PN, STUDY_UID, write_study
from tests.orthanc import Orthanc
from tests.sessions import PASSWORD, session_as

pytest_plugins = ("tests.orthanc",)  # the session-scoped ``orthanc`` fixture

DCIODVFY = Path("/usr/bin/dciodvfy")


def _dciodvfy_errors(path: Path) -> list[str]:
    assert DCIODVFY.exists(), "dciodvfy is required (apt-get install dicom3tools)"
    proc = subprocess.run(
        [str(DCIODVFY), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    out = proc.stdout + proc.stderr
    return [line for line in out.splitlines() if line.startswith("Error")]


def _signed_study(tmp_path: Path, folder: str = "scanner-export") -> tuple[Path, Any]:
    """Import the study, delete its folder, and sign its report; return archive and files."""
    written = write_study(tmp_path / folder)
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    summary = import_paths(tech, [tmp_path / folder])
    assert summary.counts["imported"] == 3, summary.to_dict()
    assert not any(n.severity == "warning" for o in summary.outcomes for n in o.notes), [
        n.message for o in summary.outcomes for n in o.notes
    ]
    shutil.rmtree(tmp_path / folder)
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    reporting.open_report(doc, STUDY_UID, lang="da", level="A")
    reporting.sign_report(doc, STUDY_UID, password=PASSWORD)
    return archive, written


@pytest.mark.slow
def test_images_and_report_are_one_patient_and_one_study_in_pacs(
    tmp_path: Path, orthanc: Orthanc
) -> None:
    """The done-when test: 10-digit PatientID, a Danish double surname, one Orthanc."""
    archive, written = _signed_study(tmp_path)
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    files = [i.path for i in stored_images(tech, STUDY_UID)]
    assert all(f is not None and f.is_file() for f in files)  # the stored originals
    sent = send_files(
        orthanc.host, orthanc.dicom_port, orthanc.aet, "DXA", [f for f in files if f is not None]
    )
    assert [status for _f, status in sent] == [STATUS_SUCCESS] * 3
    target = PacsTarget(orthanc.host, orthanc.dicom_port, orthanc.aet)
    report = send_report(doc, STUDY_UID, target)
    assert report.ok

    patients = orthanc.rest("/tools/find", json.dumps({"Level": "Patient", "Query": {}}))
    ours = [
        p
        for p in patients
        if orthanc.rest(f"/patients/{p}")["MainDicomTags"]["PatientID"]
        in (PATIENT_ID, "010150-9990")
    ]
    assert len(ours) == 1, "the report made a second patient"
    patient = orthanc.rest(f"/patients/{ours[0]}")
    assert patient["MainDicomTags"]["PatientID"] == PATIENT_ID
    assert patient["MainDicomTags"]["PatientName"] == PN
    studies = orthanc.rest(
        "/tools/find",
        json.dumps({"Level": "Study", "Query": {"StudyInstanceUID": STUDY_UID}}),
    )
    assert len(studies) == 1, "one StudyInstanceUID, more than one study"
    assert patient["Studies"] == studies
    instances = orthanc.rest(f"/studies/{studies[0]}/instances")
    uids = {i["MainDicomTags"]["SOPInstanceUID"] for i in instances}
    assert uids == {*written.sop_uids, report.sop_instance_uid}

    hit = next(
        i for i in instances if i["MainDicomTags"]["SOPInstanceUID"] in (report.sop_instance_uid,)
    )
    tags = orthanc.rest(f"/instances/{hit['ID']}/simplified-tags")
    image_tags = orthanc.rest(f"/instances/{instances[0]['ID']}/simplified-tags")
    for keyword in (
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
    ):
        assert tags[keyword] == image_tags[keyword], keyword
    assert (tags["PatientID"], tags["StudyTime"], tags["StudyID"]) == (PATIENT_ID, "091530", "1")
    assert tags["ConversionType"] == "WSD"
    assert orthanc.rest_bytes(f"/instances/{hit['ID']}/pdf").startswith(b"%PDF")


def test_to_file_writes_what_would_be_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, _written = _signed_study(tmp_path)
    monkeypatch.setenv("DXA_USER", "doc")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    out = tmp_path / "for-pacs" / "report.dcm"
    out.parent.mkdir()
    a = ["--archive", str(archive)]
    assert main(["send", STUDY_UID, "--to-file", str(out), "--json", *a]) == ExitCode.OK
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == str(out) and result["bytes"] == out.stat().st_size
    assert oct(out.stat().st_mode & 0o777) == oct(0o600)
    assert _dciodvfy_errors(out) == []
    ds = pydicom.dcmread(out)
    assert ds.SOPInstanceUID == result["sop_instance_uid"]
    assert (ds.PatientID, str(ds.PatientName), ds.StudyInstanceUID) == (PATIENT_ID, PN, STUDY_UID)
    assert (ds.StudyTime, ds.StudyID, ds.AccessionNumber) == ("091530", "1", "ACC1313")
    assert str(ds.ReferringPhysicianName) == "Lægen^Jens" and ds.ConversionType == "WSD"
    # never over a file, and not both a file and a PACS
    assert main(["send", STUDY_UID, "--to-file", str(out), *a]) == ExitCode.USAGE
    capsys.readouterr()
    code = main(["send", STUDY_UID, "--to-file", str(tmp_path / "x.dcm"), "--port", "1", *a])
    assert code == ExitCode.USAGE
    with pytest.raises(PermissionDeniedError):
        write_report_file(session_as(archive, Role.TECHNICIAN, "tech"), STUDY_UID, tmp_path / "t")
    db = open_archive(archive)
    try:
        (entry,) = db.query("SELECT * FROM audit_log WHERE action = 'report_write_file'")
    finally:
        db.close()
    assert entry["username"] == "doc" and json.loads(entry["details"])["file"] == str(out)


def test_latin1_name_and_issuer_go_out_byte_for_byte(tmp_path: Path) -> None:
    """A modality writing ISO_IR 100 gets the name back in the same bytes, and its issuer."""
    written = write_study(tmp_path / "in")
    for f in written.files:
        ds = pydicom.dcmread(f)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.IssuerOfPatientID = "CPR"
        ds.save_as(f, enforce_file_format=True)
    raw_name = PN.encode("latin-1")
    assert raw_name in written.files[0].read_bytes()
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    import_paths(tech, [tmp_path / "in"])
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    reporting.open_report(doc, STUDY_UID, lang="da", level="A")
    reporting.sign_report(doc, STUDY_UID, password=PASSWORD)
    out = tmp_path / "r.dcm"
    write_report_file(doc, STUDY_UID, out)
    assert _dciodvfy_errors(out) == []
    ds = pydicom.dcmread(out)
    assert ds.SpecificCharacterSet == "ISO_IR 100"
    assert (ds.IssuerOfPatientID, str(ds.PatientName)) == ("CPR", PN)
    assert raw_name in out.read_bytes()


def test_a_later_file_with_another_identity_is_named(tmp_path: Path) -> None:
    written = write_study(tmp_path / "in")
    ds = pydicom.dcmread(written.files[2])
    ds.PatientName = "Ostergard-Aero^Ase Marie"  # a system that dropped the Danish letters
    ds.save_as(written.files[2], enforce_file_format=True)
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    summary = import_paths(tech, [tmp_path / "in"])
    notes = [n.message for o in summary.outcomes for n in o.notes]
    assert any("other values for PatientName than the study's first file" in n for n in notes)
    db = open_archive(archive)
    try:
        assert db.execute("SELECT patient_name FROM study_identity").fetchall() == [(PN,)]
        with pytest.raises(Exception, match="cannot be updated"):
            db.execute("UPDATE study_identity SET patient_id = 'x'")
    finally:
        db.close()


def test_names_we_make_stay_within_dicom_limits(tmp_path: Path) -> None:
    """A study from the generic CSV: PatientID as the CSV gave it, names cut to 64 per group."""
    long_name = "Åse " + " ".join(f"Marie{n}" for n in range(30)) + " Østergård-Ærø"
    csv = tmp_path / "results.csv"
    csv.write_text(
        "# dxa-generic-csv v1 patient_results\n"
        "site,manufacturer,model,serial,patient_id,patient_name,birth_date,sex,study_uid,"
        "study_date,scan_type,side,acquired_at,region,bmd_g_cm2,bmc_g,area_cm2,vendor_t,"
        "vendor_z,included,referrer\n"
        f"OUH,Hologic,Horizon A,301234,{PATIENT_ID},{long_name},1950-01-01,F,"
        "1.2.826.0.1.3680043.8.498.16,2024-03-05,hip,L,2024-03-05T09:46,total_hip,0.812,30.2,"
        f"37.19,-1.6,-0.2,1,{'Overlæge ' * 12}Hansen\n",
        encoding="utf-8",
    )
    archive = tmp_path / "a.dxa.sqlite"
    tech = session_as(archive, Role.TECHNICIAN, "tech")
    assert import_paths(tech, [csv]).counts["imported"] == 1
    doc = session_as(archive, Role.PHYSICIAN, "doc")
    uid = "1.2.826.0.1.3680043.8.498.16"
    reporting.open_report(doc, uid, lang="da", level="A")
    reporting.sign_report(doc, uid, password=PASSWORD)
    out = tmp_path / "r.dcm"
    write_report_file(doc, uid, out)
    assert _dciodvfy_errors(out) == []
    ds = pydicom.dcmread(out)
    assert ds.PatientID == PATIENT_ID  # as the CSV gave it, not "010150-9990"
    name = str(ds.PatientName)  # 64 bytes of UTF-8 at most (dciodvfy counts bytes)
    assert name.startswith("Østergård-Ærø^Åse Marie0") and len(name.encode()) <= PN_GROUP_MAX
    assert len(name.encode()) > PN_GROUP_MAX - 8  # cut, not dropped
    referrer = str(ds.ReferringPhysicianName)
    assert referrer.startswith("Hansen^Overlæge") and len(referrer.encode()) <= PN_GROUP_MAX
    assert ds.StudyTime == "094600" and ds.StudyID
    with pytest.raises(UsageError, match="never written over"):
        write_report_file(doc, uid, out)


def test_identity_elements_are_not_normalised_on_import(tmp_path: Path) -> None:
    written = write_study(tmp_path / "in")
    ds = pydicom.dcmread(written.files[0])
    assert ds[Tag(0x0010, 0x0020)].value == PATIENT_ID
    archive = tmp_path / "a.dxa.sqlite"
    import_paths(session_as(archive, Role.TECHNICIAN, "tech"), [written.files[0]])
    db = open_archive(archive)
    try:
        row = next(db.query("SELECT * FROM study_identity"))
        patient = next(db.query("SELECT identifier FROM patients"))
    finally:
        db.close()
    assert patient["identifier"] == "010150-9990"  # normalised for display and matching only
    assert {k: row[k] for k in ("source", "patient_id", "patient_name", "character_set")} == {
        "source": "dicom",
        "patient_id": PATIENT_ID,
        "patient_name": PN,
        "character_set": "ISO_IR 192",
    }
    assert (row["birth_date"], row["sex"], row["study_date"], row["study_time"]) == (
        "19500101",
        "F",
        "20260304",
        "091530",
    )
    assert (row["accession"], row["dicom_study_id"], row["referring_physician"]) == (
        "ACC1313",
        "1",
        "Lægen^Jens",
    )
