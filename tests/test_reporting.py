"""The report end to end on the demo: content in both languages, sign-off, immutability, PACS."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import open_archive
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.report_out import make_self_signed_certificate
from dxa_app.services import reporting
from dxa_app.services.users import add_user
from tests import harmonisation_sim as sim

pytestmark = pytest.mark.slow
pytest_plugins = ("tests.orthanc",)  # the session-scoped ``orthanc`` fixture
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def calibrated(
    demo_archive_master: Path, demo_files: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = sim.calibrated_copy(
        demo_archive_master, tmp_path_factory.mktemp("rep") / "c.sqlite", sim.load_truth(demo_files)
    )
    db = open_archive(path)
    add_user(db, "dr.hansen", Role.PHYSICIAN, "physician-pw-1", display_name="Dr. Åse Hansen")
    add_user(db, "tech", Role.TECHNICIAN, "technician-pw-1")
    db.close()
    return path


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
def test_report_holds_every_required_element(db: Any, tmp_path: Path, lang: str) -> None:
    study_id = _follow_up_study_with_vfa(db)
    version, pdf = reporting.save_draft(db, study_id, lang=lang, level="B")
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
    data = reporting.build_report_data(db, study_id, lang=lang, level="B")
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


def test_sign_amend_and_immutability(db: Any, tmp_path: Path) -> None:
    study_id = _follow_up_study_with_vfa(db)
    reporting.save_draft(
        db, study_id, lang="da", level="A", conclusion="Lav knoglemasse. Ærlig konklusion."
    )
    with pytest.raises(PermissionDeniedError):
        reporting.sign(db, study_id, user="tech", role=Role.TECHNICIAN)
    key, cert = make_self_signed_certificate("Dr. Åse Hansen")
    signed = reporting.sign(
        db, study_id, user="dr.hansen", role=Role.PHYSICIAN, key_pem=key, cert_pem=cert
    )
    assert signed.status == "signed" and signed.signed_by == "dr.hansen"
    assert "Ærlig konklusion" in _text(reporting.stored_pdf(db, signed.id), tmp_path, "s")
    with pytest.raises(reporting.ReportError):
        reporting.save_draft(db, study_id, lang="da", level="A", conclusion="changed")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be changed"):
        db.execute("UPDATE report_versions SET content = '{}' WHERE id = ?", [signed.id])
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        db.execute("DELETE FROM report_versions WHERE id = ?", [signed.id])
    assert reporting.verify(db, study_id).ok
    amended = reporting.amend(
        db,
        study_id,
        user="dr.hansen",
        role=Role.PHYSICIAN,
        reason="Forkert side angivet",
        conclusion="Rettet konklusion.",
        key_pem=key,
        cert_pem=cert,
    )
    assert amended.status == "amended" and amended.supersedes_id == signed.id
    assert amended.version_no == signed.version_no + 1
    text = _text(reporting.stored_pdf(db, amended.id), tmp_path, "a")
    assert "Rettet konklusion" in text and "Forkert side angivet" in text
    assert reporting.verify(db, study_id).ok


def test_tampering_with_the_archive_is_detected(archive: Path, tmp_path: Path) -> None:
    db = open_archive(archive)
    study_id = _follow_up_study_with_vfa(db)
    reporting.save_draft(db, study_id, lang="en", level="A")
    key, cert = make_self_signed_certificate("Dr. Hansen")
    v = reporting.sign(
        db, study_id, user="dr.hansen", role=Role.PHYSICIAN, key_pem=key, cert_pem=cert
    )
    pdf = reporting.stored_pdf(db, v.id)
    db.close()
    # someone edits the SQLite file behind the app's back: drops the trigger, changes the PDF
    raw = sqlite3.connect(archive)
    raw.execute("DROP TRIGGER report_versions_signed_no_update")
    tampered = pdf.replace(b"DXA", b"DXB", 1)
    raw.execute("UPDATE report_versions SET pdf = ? WHERE id = ?", [tampered, v.id])
    raw.commit()
    raw.close()
    code = main(["verify", str(study_id), "--json", "--archive", str(archive)])
    assert code == ExitCode.ERROR
    # a forged hash fitting the new PDF breaks the audit record instead
    import hashlib

    raw = sqlite3.connect(archive)
    raw.execute(
        "UPDATE report_versions SET pdf_sha256 = ? WHERE id = ?",
        [hashlib.sha256(tampered).hexdigest(), v.id],
    )
    raw.commit()
    raw.close()
    db = open_archive(archive)
    result = reporting.verify(db, study_id)
    assert not result.ok
    failed = [c["check"] for c in result.checks if not c["ok"]]
    assert any("audit log" in c for c in failed) and any("PAdES" in c for c in failed)
    # the untouched original still verifies as a file against the stored certificate
    assert reporting.verify(db, study_id, pdf_file=pdf).checks[-1]["ok"]


def test_cli_report_sign_verify(
    archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = str(archive)
    out = tmp_path / "r.pdf"
    assert (
        main(
            [
                "report",
                "1",
                "--out",
                str(out),
                "--lang",
                "en",
                "--level",
                "B",
                "--summary",
                str(tmp_path / "s.pdf"),
                "--json",
                "--archive",
                a,
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["status"] == "draft"
    assert out.read_bytes().startswith(b"%PDF") and (tmp_path / "s.pdf").exists()
    monkeypatch.setenv("DXA_PASSWORD", "technician-pw-1")
    assert main(["sign", "1", "--user", "tech", "--archive", a]) == ExitCode.PERMISSION
    assert capsys.readouterr().err.count("\n") == 1
    monkeypatch.setenv("DXA_PASSWORD", "physician-pw-1")
    assert main(["sign", "1", "--user", "dr.hansen", "--json", "--archive", a]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert signed["status"] == "signed"
    assert main(["report", "1", "--out", str(out), "--archive", a]) == 0
    capsys.readouterr()
    assert main(["verify", "1", "--file", str(out), "--archive", a]) == 0
    assert "intact" in capsys.readouterr().out


def test_send_signed_report_to_pacs(
    archive: Path,
    tmp_path: Path,
    orthanc: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = str(archive)
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
    db = open_archive(archive)
    reporting.save_draft(db, 2, lang="da", level="A")
    reporting.sign(db, 2, user="dr.hansen", role=Role.PHYSICIAN)
    ds = reporting.dicom_for(db, 2)
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
    tags = orthanc.rest(f"/instances/{hit['ID']}/simplified-tags")
    assert tags["StudyInstanceUID"] == study_uid and tags["Modality"] == "DOC"
    assert orthanc.rest_bytes(f"/instances/{hit['ID']}/pdf").startswith(b"%PDF")
