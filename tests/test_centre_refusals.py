"""Bundles and corrections that must be refused: one clear message, nothing imported."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.centre.bundle import MANIFEST, SIGNATURE, BundleError, json_bytes, write_signed_zip
from dxa_app.centre.keys import generate_key_pair, sign, site_key_pair
from dxa_app.cli import ExitCode, main
from dxa_app.domain import Role
from dxa_app.errors import PermissionDeniedError
from dxa_app.services.centre import (
    import_bundles,
    install_corrections,
    trust_centre,
)
from tests.sessions import PASSWORD, session_as
from tests.test_centre_exchange import centre_analyst, export_all, fresh_centre, table_counts


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def tampered(src: Path, out: Path, site: Path) -> Path:
    m = _members(src)
    text = m["phantom_results.csv"].decode()
    first = text.splitlines()[1]
    m["phantom_results.csv"] = text.replace(first, first[:-1] + "9", 1).encode()
    return _rezip(out, m)


def truncated(src: Path, out: Path, site: Path) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def foreign_key(src: Path, out: Path, site: Path) -> Path:
    m = _members(src)
    manifest = json.loads(m.pop(MANIFEST))
    m.pop(SIGNATURE)
    private, public = generate_key_pair()
    manifest["public_key"] = public
    body = json_bytes(manifest)
    write_signed_zip(out, m, body, sign(private, body))
    return out


def newer_schema(src: Path, out: Path, site: Path) -> Path:
    m = _members(src)
    manifest = json.loads(m.pop(MANIFEST))
    m.pop(SIGNATURE)
    manifest["schema_version"] = 2
    db = open_archive(site)
    try:
        private, _public = site_key_pair(db, manifest["site"]["code"])
    finally:
        db.close()
    body = json_bytes(manifest)
    write_signed_zip(out, m, body, sign(private, body))  # validly signed by the real site
    return out


CASES: dict[str, tuple[Callable[[Path, Path, Path], Path], str]] = {
    "tampered": (tampered, "was changed after signing"),
    "truncated": (truncated, "damaged or truncated"),
    "foreign key": (foreign_key, "not signed by the key registered"),
    "newer schema": (newer_schema, "schema version 2"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_bundle_is_refused_and_nothing_imported(
    case: str,
    demo_archive_master: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    bundles = export_all(site, tmp_path)
    centre = tmp_path / "centre.dxa.sqlite"
    fresh_centre(centre, site)
    make, message = CASES[case]
    good = list(bundles.values())
    bad = make(good[0], tmp_path / "bad.zip", site)
    ana = centre_analyst(centre)
    db = open_archive(centre)
    try:
        before = table_counts(db)
        with pytest.raises(BundleError, match=message):
            import_bundles(ana, [good[1], bad, good[2]])  # one bad bundle: none imported
        assert table_counts(db) == before
    finally:
        db.close()
    capsys.readouterr()
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    code = main(
        [
            *("--lang", "en", "--archive", str(centre), "--user", "ana"),
            *("centre", "import", str(good[1]), str(bad)),
        ]
    )
    assert code == ExitCode.IMPORT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    db = open_archive(centre)
    try:
        after = table_counts(db)
    finally:
        db.close()
    # only the CLI's log-in is new: an audited action of its own
    assert {**after, "audit_log": before["audit_log"]} == before
    assert after["audit_log"] == before["audit_log"] + 1


def test_unregistered_site_is_refused(demo_archive_master: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    bundles = export_all(site, tmp_path)
    codes = sorted(bundles)
    centre = tmp_path / "centre.dxa.sqlite"
    fresh_centre(centre, site, codes=codes[:2])
    ana = centre_analyst(centre)
    db = open_archive(centre)
    try:
        before = table_counts(db)
        with pytest.raises(BundleError, match="is not registered at this centre"):
            import_bundles(ana, [bundles[codes[2]]])
        assert table_counts(db) == before
    finally:
        db.close()


def test_not_a_bundle_is_refused(tmp_path: Path, demo_archive_master: Path) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    centre = tmp_path / "centre.dxa.sqlite"
    fresh_centre(centre, site)
    other = _rezip(tmp_path / "other.zip", {"hello.txt": b"hi"})
    with pytest.raises(BundleError, match="not a knowledge-centre bundle"):
        import_bundles(centre_analyst(centre), [other])


def _corrections(tmp_path: Path, private: str, public: str) -> Path:
    payload = json.dumps(
        {
            "format": "dxa-centre-corrections",
            "schema_version": 1,
            "published_at": "2026-09-01T00:00:00+00:00",
            "centre_public_key": public,
            "reference_scanner": "HZA-DEMO-101",
            "steps": [],
        }
    )
    path = tmp_path / "corr.json"
    path.write_text(
        json.dumps(
            {
                "format": "dxa-centre-corrections",
                "payload": payload,
                "signature": sign(private, payload.encode()),
            }
        ),
        encoding="utf-8",
    )
    return path


def test_corrections_need_the_trusted_centre_key(demo_archive_master: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    private, public = generate_key_pair()
    path = _corrections(tmp_path, private, public)
    tech = session_as(site, Role.TECHNICIAN, "tech")
    admin = session_as(site, Role.ADMIN, "admin")
    db = open_archive(site)
    try:
        with pytest.raises(BundleError, match="no knowledge-centre key is trusted"):
            install_corrections(tech, path)
        _other_private, other_public = generate_key_pair()
        with pytest.raises(PermissionDeniedError, match="admin"):
            trust_centre(tech, other_public)
        trust_centre(admin, other_public)
        with pytest.raises(BundleError, match="not signed by the trusted"):
            install_corrections(tech, path)
        trust_centre(admin, public)
        envelope = json.loads(path.read_text(encoding="utf-8"))
        envelope["payload"] = envelope["payload"].replace("HZA-DEMO-101", "PRO-DEMO-404")
        path.write_text(json.dumps(envelope), encoding="utf-8")
        with pytest.raises(BundleError, match="not signed by the trusted"):
            install_corrections(tech, path)
        path.write_text(path.read_text(encoding="utf-8")[:40], encoding="utf-8")
        with pytest.raises(BundleError, match="damaged or truncated"):
            install_corrections(tech, path)
        steps = db.execute("SELECT count(*) FROM calibration_steps").fetchone()[0]
        assert steps == 0
    finally:
        db.close()
