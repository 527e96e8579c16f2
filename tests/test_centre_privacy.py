"""No patient identifier leaves a site: every byte of every bundle is searched."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path

from dxa_app import keystore
from dxa_app.archive import open_archive
from dxa_app.archive.seal import archive_id
from tests.test_centre_exchange import export_all


def _needles(site_path: Path) -> dict[str, bytes]:
    db = open_archive(site_path)
    try:
        needles: dict[str, bytes] = {}
        for p in db.query("SELECT * FROM patients"):
            ident = str(p["identifier"])
            needles[f"cpr {ident}"] = ident.encode()
            needles[f"cpr {ident} no hyphen"] = ident.replace("-", "").encode()
            if p["name"]:
                needles[f"name {p['name']}"] = str(p["name"]).encode("utf-8")
                needles[f"dicom name {p['name']}"] = "^".join(
                    reversed(str(p["name"]).split(" ", 1))
                ).encode("utf-8")
            if p["birth_date"]:
                birth = dt.date.fromisoformat(p["birth_date"])
                needles[f"birth {birth}"] = birth.isoformat().encode()
                needles[f"birth dicom {birth}"] = birth.strftime("%Y%m%d").encode()
        for s in db.query("SELECT study_uid, accession FROM studies"):
            needles[f"uid {s['study_uid']}"] = str(s["study_uid"]).encode()
            if s["accession"]:
                needles[f"accession {s['accession']}"] = str(s["accession"]).encode()
        for r in db.query("SELECT sop_instance_uid FROM images"):
            needles[f"sop {r['sop_instance_uid']}"] = str(r["sop_instance_uid"]).encode()
        for r in db.query(
            "SELECT source_key FROM scans UNION SELECT source_key FROM phantom_scans"
        ):
            needles[f"source {r['source_key']}"] = str(r["source_key"]).encode()
        # the keys and the pseudonym secret live in the key folder, never in the archive
        assert not list(db.query("SELECT key FROM settings WHERE key LIKE 'centre.%'"))
        archive = archive_id(db, create=False)
        assert archive is not None
        for name, text in keystore.list_secrets(archive, "centre-"):
            value = json.loads(text) if text.strip().startswith("{") else text.strip()
            secret = value["private"] if isinstance(value, dict) else str(value)
            needles[f"secret {name}"] = secret.encode()
        return needles
    finally:
        db.close()


def test_no_patient_identifier_in_any_bundle(demo_archive_master: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    bundles = export_all(site, tmp_path)
    needles = _needles(site)
    assert sum(k.startswith("cpr ") for k in needles) > 400
    assert any(k.startswith("uid ") for k in needles)
    assert any(k.startswith("secret centre-pseudonym_secret") for k in needles)
    assert any(k.startswith("secret centre-site_key") for k in needles)
    hits = []
    searched = 0
    for path in bundles.values():
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                data = zf.read(name)
                searched += len(data)
                hits += [f"{path.name}/{name}: {k}" for k, n in needles.items() if n in data]
    assert searched > 100_000
    assert hits == []


def test_in_vivo_pairs_carry_age_and_sex_only(demo_archive_master: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    bundles = export_all(site, tmp_path)
    for path in bundles.values():
        with zipfile.ZipFile(path) as zf:
            header = zf.read("in_vivo_pairs.csv").decode().splitlines()[0].split(",")
            rows = zf.read("in_vivo_pairs.csv").decode().splitlines()[1:]
        assert header == [
            "key", "pseudonym", "age_years", "sex", "region", "side",
            "scanner_a", "date_a", "bmd_a", "scanner_b", "date_b", "bmd_b",
        ]  # fmt: skip
        assert rows
        for line in rows:
            cells = line.split(",")
            assert len(cells[1]) == 32 and int(cells[1], 16) >= 0  # a keyed hash
            assert cells[2].isdigit() and cells[3] in {"F", "M"}
