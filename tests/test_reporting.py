"""The report end to end on the demo: content in both languages, sign-off, immutability, PACS."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.db import audit_details, check_audit_chain
from dxa_app.archive.reports import latest_version, stored_pdf, versions
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.report_out import make_self_signed_certificate, sign_pdf
from dxa_app.services import reporting
from dxa_app.services.auth import Session, log_in
from dxa_app.services.pacs import dicom_for
from dxa_app.services.report_data import build_report_data
from dxa_app.services.report_verify import verify_report
from dxa_app.services.reporting import sign_version
from dxa_app.services.signers import trust_signer
from tests import harmonisation_sim as sim
from tests.sessions import PASSWORD, ensure_user

pytestmark = pytest.mark.slow
pytest_plugins = ("tests.orthanc",)  # the session-scoped ``orthanc`` fixture
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
DOCTOR_PW = "physician-pw-1"
TECH_PW = "technician-pw-1"


@pytest.fixture(scope="module")
def calibrated(
    demo_archive_master: Path, demo_files: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = sim.calibrated_copy(
        demo_archive_master, tmp_path_factory.mktemp("rep") / "c.sqlite", sim.load_truth(demo_files)
    )
    ensure_user(
        path, "dr.hansen", Role.PHYSICIAN, display_name="Dr. Åse Hansen", password=DOCTOR_PW
    )
    ensure_user(path, "tech", Role.TECHNICIAN, password=TECH_PW)
    return path


def doctor(archive: Path) -> Session:
    """Dr. Hansen, logged in."""
    return log_in(archive, "dr.hansen", DOCTOR_PW)


def technician(archive: Path) -> Session:
    """The technician, logged in."""
    return log_in(archive, "tech", TECH_PW)


@pytest.fixture
def archive(calibrated: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "a.sqlite"
    shutil.copy(calibrated, dest)
    return dest


@pytest.fixture
def db(archive: Path) -> Iterator[Any]:
    conn = open_archive(archive)
    yield conn
    conn.close()


def _follow_up_study_with_vfa(db: Any) -> int:
    """A study with a prior visit on the same scanner and a VFA reading."""
    row = db.execute(
        "SELECT st.id FROM studies st JOIN vfa_readings v ON v.study_id = st.id"
        " WHERE EXISTS (SELECT 1 FROM studies p WHERE p.patient_id = st.patient_id"
        "   AND p.study_date < st.study_date AND p.scanner_id = st.scanner_id)"
        " ORDER BY st.id LIMIT 1"
    ).fetchone()
    if row is None:
        row = db.execute(
            "SELECT st.id FROM studies st WHERE EXISTS (SELECT 1 FROM studies p WHERE"
            " p.patient_id = st.patient_id AND p.study_date < st.study_date"
            " AND p.scanner_id = st.scanner_id) ORDER BY st.id LIMIT 1"
        ).fetchone()
    return int(row[0])


def _text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("lang", ["da", "en"])
def test_report_holds_every_required_element(
    archive: Path, db: Any, tmp_path: Path, lang: str
) -> None:
    study_id = _follow_up_study_with_vfa(db)
    version, pdf = reporting.open_report(technician(archive), study_id, lang=lang, level="B")
    assert version.status == "draft"
    text = _text(pdf, tmp_path, lang)
    st = db.execute(
        "SELECT p.name, p.identifier, sc.serial, sc.model FROM studies s"
        " JOIN patients p ON p.id = s.patient_id JOIN scanners sc ON sc.id = s.scanner_id"
        " WHERE s.id = ?",
        [study_id],
    ).fetchone()
    for value in st:
        assert value in text, value
    data = build_report_data(db, study_id, lang=lang, level="B")
    for row in data.results:
        assert f"{row.bmd:.3f}" in text or f"{row.bmd:.3f}".replace(".", ",") in text
    words = {
        "da": ["DXA-svar", "Henvisningsårsag", "Konklusion", "Anbefaling", "mindste signifikante"],
        "en": [
            "DXA report",
            "Indication",
            "Conclusion",
            "Recommendation",
            "least significant change",
        ],
    }[lang]
    for w in words:
        assert w.lower() in text.lower(), w
    assert "VFA" in text
    png_base = ARTIFACTS / f"report-page1-{lang}"
    ARTIFACTS.mkdir(exist_ok=True)
    (tmp_path / "r.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "60",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(tmp_path / "r.pdf"),
            str(png_base),
        ],
        check=True,
    )
    from PIL import Image

    with Image.open(f"{png_base}.png") as im:
        grey = im.convert("L")
        dark = sum(grey.histogram()[:200])
    assert dark > 2000  # page 1 is not blank


def test_sign_amend_and_immutability(archive: Path, db: Any, tmp_path: Path) -> None:
    study_id = _follow_up_study_with_vfa(db)
    doc, tech = doctor(archive), technician(archive)
    reporting.edit_draft(
        doc,
        study_id,
        lang="da",
        level="A",
        conclusion="Lav knoglemasse. Ærlig konklusion.",
        recommendation=None,
    )
    with pytest.raises(PermissionDeniedError):
        reporting.sign_report(tech, study_id, password=TECH_PW)
    with pytest.raises(PermissionDeniedError, match="Wrong password"):
        reporting.sign_report(doc, study_id, password="not-my-password")
    key, cert = make_self_signed_certificate("Dr. Åse Hansen")
    ensure_user(archive, "admin", Role.ADMIN)
    trust_signer(log_in(archive, "admin", PASSWORD), cert)  # the site's trust list
    signed = reporting.sign_report(doc, study_id, password=DOCTOR_PW, key_pem=key, cert_pem=cert)
    assert signed.status == "signed" and signed.signed_by == "dr.hansen"
    text = _text(stored_pdf(db, signed.id), tmp_path, "s")
    assert "Ærlig konklusion" in text
    assert "Dr. Åse Hansen" in text and "dr.hansen" not in text  # the name, not the log-in
    with pytest.raises(reporting.ReportError):
        reporting.edit_draft(
            doc, study_id, lang="da", level="A", conclusion="changed", recommendation=None
        )
    with pytest.raises(sqlite3.IntegrityError, match="cannot be changed"):
        db.execute("UPDATE report_versions SET content = '{}' WHERE id = ?", [signed.id])
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("DELETE FROM report_versions WHERE id = ?", [signed.id])
    assert verify_report(doc, study_id).ok
    amended = reporting.amend_report(
        doc,
        study_id,
        password=DOCTOR_PW,
        reason="Forkert side angivet",
        conclusion="Rettet konklusion.",
        key_pem=key,
        cert_pem=cert,
    )
    assert amended.status == "amended" and amended.supersedes_id == signed.id
    assert amended.version_no == signed.version_no + 1
    text = _text(stored_pdf(db, amended.id), tmp_path, "a")
    assert "Rettet konklusion" in text and "Forkert side angivet" in text
    assert verify_report(doc, study_id).ok
    actions = [
        (r["action"], r["username"])
        for r in db.query(
            "SELECT action, username FROM audit_log WHERE action IN"
            " ('report_draft_save', 'report_sign', 'password_confirm_failed') ORDER BY id"
        )
    ]
    assert actions == [
        ("report_draft_save", "dr.hansen"),
        ("password_confirm_failed", "dr.hansen"),
        ("report_sign", "dr.hansen"),
        ("report_sign", "dr.hansen"),
    ]


def test_two_physicians_signing_one_draft_give_one_signature(archive: Path, db: Any) -> None:
    """Two physicians, two processes, one draft: one "signed", one told who signed it and when."""
    study_id = _follow_up_study_with_vfa(db)
    ensure_user(archive, "dr.berg", Role.PHYSICIAN, password=DOCTOR_PW)
    reporting.open_report(doctor(archive), study_id, lang="en", level="A")
    env = {**os.environ, "DXA_PASSWORD": DOCTOR_PW, "DXA_LANG": "en"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "main.py",
                "--archive",
                str(archive),
                "--user",
                who,
                "sign",
                str(study_id),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("dr.hansen", "dr.berg")
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [ExitCode.OK, ExitCode.ERROR], results
    winner = "dr.hansen" if results[0][0] == ExitCode.OK else "dr.berg"
    (refusal,) = [err for code, _out, err in results if code != ExitCode.OK]
    assert f"was signed meanwhile by {winner}" in refusal, refusal
    signed = [v for v in versions(db, study_id) if v.status != "draft"]
    assert len(signed) == 1 and signed[0].signed_by == winner
    sha = {d["pdf_sha256"] for d in audit_details(db, "report_sign")}
    assert sha == {signed[0].pdf_sha256}  # no audit entry for a PDF that was not stored


def test_an_edit_after_reading_makes_the_signature_fail(archive: Path, db: Any) -> None:
    """Signing stores only the draft that was rendered: a changed draft is refused."""
    study_id = _follow_up_study_with_vfa(db)
    doc = doctor(archive)
    reporting.open_report(doc, study_id, lang="en", level="A")
    read = latest_version(db, study_id)
    assert read is not None
    reporting.edit_draft(
        doc, study_id, lang="en", level="A", conclusion="Newer text.", recommendation=None
    )
    with pytest.raises(reporting.ReportError, match="someone else"):
        sign_version(
            db,
            read,
            by="dr.hansen",
            signer_name="Dr. Åse Hansen",
            key_pem=None,
            cert_pem=None,
            status="signed",
        )
    signed = reporting.sign_report(doc, study_id, password=DOCTOR_PW)
    assert signed.content["conclusion"] == "Newer text."


def _reseal_attack(archive: Path, version_id: int, pdf: bytes, conclusion: str) -> None:
    """What someone who can edit the archive file (not the key folder) can do at most.

    Drop the guard triggers; replace the PDF (signed again with the attacker's own
    certificate), its hash, the certificate and the conclusion; rewrite the signing entry of
    the audit log to the new hash and recompute the whole hash chain; restore the triggers.
    """
    import hashlib

    key, cert = make_self_signed_certificate("Mallory")
    forged = sign_pdf(pdf, key_pem=key, cert_pem=cert, signer_name="Mallory", reason="forged")
    digest = hashlib.sha256(forged).hexdigest()
    raw = sqlite3.connect(archive)
    triggers = raw.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        " AND tbl_name IN ('report_versions', 'audit_log')"
    ).fetchall()
    for name, _sql in triggers:
        raw.execute(f"DROP TRIGGER {name}")
    content = json.loads(
        raw.execute("SELECT content FROM report_versions WHERE id = ?", [version_id]).fetchone()[0]
    )
    content["conclusion"] = conclusion
    raw.execute(
        "UPDATE report_versions SET pdf = ?, pdf_sha256 = ?, signer_cert = ?, content = ?"
        " WHERE id = ?",
        [forged, digest, cert.decode("ascii"), json.dumps(content), version_id],
    )
    rows = raw.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    cols = [d[0] for d in raw.execute("SELECT * FROM audit_log LIMIT 0").description]
    prev = "0" * 64
    for values in rows:
        r = dict(zip(cols, values, strict=True))
        details = json.loads(r["details"])
        if r["action"] == "report_sign" and str(r["entity_id"]) == str(version_id):
            details["pdf_sha256"] = digest
            details["content_sha256"] = hashlib.sha256(
                json.dumps(content).encode("utf-8")
            ).hexdigest()
        body = json.dumps(details, sort_keys=True, ensure_ascii=False)
        parts = (prev, r["at"], r["username"], r["action"], r["entity"], r["entity_id"], body)
        new = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        raw.execute(
            "UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE id = ?",
            [body, prev, new, r["id"]],
        )
        prev = new
    for _name, sql in triggers:
        raw.execute(sql)
    raw.commit()
    raw.close()


def test_tamper_and_reseal_is_detected_and_named(
    archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = open_archive(archive)
    study_id = _follow_up_study_with_vfa(db)
    doc = doctor(archive)
    reporting.edit_draft(
        doc, study_id, lang="en", level="A", conclusion="Osteopenia.", recommendation=None
    )
    key, cert = make_self_signed_certificate("Dr. Hansen")
    ensure_user(archive, "admin", Role.ADMIN)
    trust_signer(log_in(archive, "admin", PASSWORD), cert)
    v = reporting.sign_report(doc, study_id, password=DOCTOR_PW, key_pem=key, cert_pem=cert)
    pdf = stored_pdf(db, v.id)
    db.close()
    genuine = verify_report(doc, study_id)
    assert genuine.ok, genuine.failures
    _reseal_attack(archive, v.id, pdf, "Normal bone density.")
    # the hash chain alone is consistent again: the old verify would have said "intact"
    db = open_archive(archive)
    try:
        assert not check_audit_chain(db, None)
    finally:
        db.close()
    result = verify_report(doc, study_id)
    assert not result.ok
    text = " | ".join(result.failures)
    assert "seal does not match" in text  # the recomputed chain is not sealed by our key
    assert "the stored PDF changed after signing" in text  # named, from the sealed record
    assert "the conclusion or recommendation text changed after signing" in text
    assert "PAdES signature by a trusted signer" in text  # Mallory's certificate is not trusted
    monkeypatch.setenv("DXA_PASSWORD", DOCTOR_PW)
    code = main(["verify", str(study_id), "--archive", str(archive), "--user", "dr.hansen"])
    assert code == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "NOT verified" in out and "FAIL" in out
    # the original PDF is still recognised as a signed version: by the sealed hash, not the row
    assert verify_report(doc, study_id, pdf_file=pdf).checks[-1]["ok"]


def test_a_changed_conclusion_is_named(archive: Path) -> None:
    """Only the stored text changed (triggers dropped and restored): verify says so."""
    db = open_archive(archive)
    study_id = _follow_up_study_with_vfa(db)
    db.close()
    doc = doctor(archive)
    reporting.open_report(doc, study_id, lang="en", level="A")
    v = reporting.sign_report(doc, study_id, password=DOCTOR_PW)
    assert verify_report(doc, study_id).ok
    raw = sqlite3.connect(archive)
    (sql,) = raw.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'report_versions_signed_no_update'"
    ).fetchone()
    raw.execute("DROP TRIGGER report_versions_signed_no_update")
    raw.execute(
        "UPDATE report_versions SET content = json_set(content, '$.conclusion', 'Normal.')"
        " WHERE id = ?",
        [v.id],
    )
    raw.execute(sql)
    raw.commit()
    raw.close()
    result = verify_report(doc, study_id)
    assert not result.ok
    assert any(
        "the conclusion or recommendation text changed after signing" in f for f in result.failures
    ), result.failures


def test_cli_report_sign_verify(
    archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = str(archive)
    out = tmp_path / "r.pdf"
    monkeypatch.setenv("DXA_PASSWORD", TECH_PW)
    assert main(["report", "1", "--out", str(out), "--archive", a]) == ExitCode.USAGE  # no log-in
    assert "--user" in capsys.readouterr().err
    assert (
        main(
            [
                *("report", "1", "--out", str(out), "--lang", "en", "--level", "B"),
                *("--summary", str(tmp_path / "s.pdf"), "--json", "--archive", a),
                *("--user", "tech"),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["status"] == "draft"
    assert out.read_bytes().startswith(b"%PDF") and (tmp_path / "s.pdf").exists()
    assert main(["sign", "1", "--user", "tech", "--archive", a]) == ExitCode.PERMISSION
    assert capsys.readouterr().err.count("\n") == 1
    monkeypatch.setenv("DXA_PASSWORD", DOCTOR_PW)
    assert main(["sign", "1", "--user", "dr.hansen", "--json", "--archive", a]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert signed["status"] == "signed"
    assert main(["report", "1", "--out", str(out), "--archive", a, "--user", "dr.hansen"]) == 0
    capsys.readouterr()
    assert main(["verify", "1", "--file", str(out), "--archive", a, "--user", "dr.hansen"]) == 0
    assert "intact" in capsys.readouterr().out


def test_the_physicians_text_has_one_rule_in_both_faces(
    archive: Path, db: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLI --conclusion: refused for a technician, audited with the physician's name."""
    a, out = str(archive), str(archive.with_suffix(".pdf"))
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    monkeypatch.setenv("DXA_PASSWORD", TECH_PW)
    refused = main(
        ["report", "3", "--out", out, "--conclusion", "Normal.", "--archive", a, "--user", "tech"]
    )
    assert refused == ExitCode.PERMISSION
    assert latest_version(db, 3) is None  # nothing written
    monkeypatch.setenv("DXA_PASSWORD", DOCTOR_PW)
    assert (
        main(
            [
                *("report", "3", "--out", out, "--conclusion", "Normal bone density."),
                *("--archive", a, "--user", "dr.hansen"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    v = latest_version(db, 3)
    assert v is not None and v.content["conclusion"] == "Normal bone density."
    entries = list(
        db.query("SELECT action, username, entity_id FROM audit_log WHERE id > ?", [before])
    )
    saves = [e for e in entries if e["action"] == "report_draft_save"]
    assert saves == [
        {"action": "report_draft_save", "username": "dr.hansen", "entity_id": str(v.id)}
    ]


def test_send_signed_report_to_pacs(
    archive: Path,
    tmp_path: Path,
    orthanc: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = str(archive)
    monkeypatch.setenv("DXA_PASSWORD", DOCTOR_PW)
    monkeypatch.setenv("DXA_USER", "dr.hansen")
    assert (
        main(
            [
                "send",
                "2",
                "--host",
                orthanc.host,
                "--port",
                str(orthanc.dicom_port),
                "--called-ae",
                orthanc.aet,
                "--archive",
                a,
            ]
        )
        == ExitCode.ERROR
    )  # not signed
    assert "no signed report" in capsys.readouterr().err
    doc = doctor(archive)
    reporting.open_report(doc, 2, lang="da", level="A")
    reporting.sign_report(doc, 2, password=DOCTOR_PW)
    db = open_archive(archive)
    ds = dicom_for(db, 2)
    study_uid = db.execute("SELECT study_uid FROM studies WHERE id = 2").fetchone()[0]
    db.close()
    from dxa_app.report_out import write_dicom

    path = write_dicom(ds, tmp_path / "report.dcm")
    check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    errors = [line for line in check.stderr.splitlines() if line.startswith("Error")]
    assert not errors, check.stderr
    assert (
        main(
            [
                "send",
                "2",
                "--host",
                orthanc.host,
                "--port",
                str(orthanc.dicom_port),
                "--called-ae",
                orthanc.aet,
                "--json",
                "--archive",
                a,
            ]
        )
        == 0
    )
    sent = json.loads(capsys.readouterr().out)
    [hit] = orthanc.rest("/tools/lookup", sent["sop_instance_uid"])
    db = open_archive(archive)
    (entry,) = db.query("SELECT * FROM audit_log WHERE action = 'report_send'")
    db.close()
    assert entry["username"] == "dr.hansen"
    assert json.loads(entry["details"])["sop_instance_uid"] == sent["sop_instance_uid"]
    tags = orthanc.rest(f"/instances/{hit['ID']}/simplified-tags")
    assert tags["StudyInstanceUID"] == study_uid and tags["Modality"] == "DOC"
    assert orthanc.rest_bytes(f"/instances/{hit['ID']}/pdf").startswith(b"%PDF")


def test_a_name_of_5000_characters_still_makes_the_report(
    archive: Path, db: Any, tmp_path: Path
) -> None:
    """A name stored before the import cut nothing (or by another program) renders, cut."""
    study_id = _follow_up_study_with_vfa(db)
    long_name = " ".join(f"Sørensen{n}" for n in range(600))[:5000]
    db.execute(
        "UPDATE patients SET name = ? WHERE id = (SELECT patient_id FROM studies WHERE id = ?)",
        [long_name, study_id],
    )
    db.conn.commit()
    _version, pdf = reporting.open_report(technician(archive), study_id, lang="da", level="B")
    text = " ".join(_text(pdf, tmp_path, "long").split())
    assert long_name[:30] in text and "…" in text and "Sørensen500" not in text
    signed = reporting.sign_report(doctor(archive), study_id, password=DOCTOR_PW)
    assert signed.status == "signed"
