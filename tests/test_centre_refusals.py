"""Bundles and corrections that must be refused: one clear message, nothing imported."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dxa_app.archive import open_archive
from dxa_app.centre.bundle import (
    MANIFEST,
    SIGNATURE,
    BundleError,
    json_bytes,
    read_bundle,
    write_signed_zip,
)
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

ROOT = Path(__file__).resolve().parent.parent


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
            install_corrections(tech, path, password=PASSWORD, reason="test")
        _other_private, other_public = generate_key_pair()
        with pytest.raises(PermissionDeniedError, match="admin"):
            trust_centre(tech, other_public)
        trust_centre(admin, other_public)
        with pytest.raises(BundleError, match="not signed by the trusted"):
            install_corrections(tech, path, password=PASSWORD, reason="test")
        trust_centre(admin, public)
        envelope = json.loads(path.read_text(encoding="utf-8"))
        envelope["payload"] = envelope["payload"].replace("HZA-DEMO-101", "PRO-DEMO-404")
        path.write_text(json.dumps(envelope), encoding="utf-8")
        with pytest.raises(BundleError, match="not signed by the trusted"):
            install_corrections(tech, path, password=PASSWORD, reason="test")
        path.write_text(path.read_text(encoding="utf-8")[:40], encoding="utf-8")
        with pytest.raises(BundleError, match="damaged or truncated"):
            install_corrections(tech, path, password=PASSWORD, reason="test")
        steps = db.execute("SELECT count(*) FROM calibration_steps").fetchone()[0]
        assert steps == 0
    finally:
        db.close()


# --- bounded reading: zip bombs, unsafe names, deep JSON, all or nothing -----------------


def _raw_deflate_zeros(megabytes: int) -> bytes:
    """A raw DEFLATE stream of ``megabytes`` MiB of zeros, built in milliseconds (~1 kB/MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    repeat = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    return first + repeat * (megabytes - 1) + c.flush()


def _zip_with_raw(out: Path, members: dict[str, bytes], raw: dict[str, tuple[bytes, int]]) -> Path:
    """Write a zip: ``members`` stored normally, ``raw`` as (DEFLATE data, declared size)."""
    buf = io.BytesIO()
    central = b""
    for name, data in members.items():
        body = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = body.compress(data) + body.flush()
        raw = {**raw, name: (packed, len(data))} if name not in raw else raw
    for name, (packed, size) in raw.items():
        crc = zlib.crc32(members[name]) if name in members else 0
        offset = buf.tell()
        fname = name.encode()
        buf.write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(packed), size, len(fname), 0
            )
            + fname
            + packed
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(packed),
                size,
                len(fname),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + fname
        )
    start = buf.tell()
    buf.write(central)
    buf.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(raw), len(raw), len(central), start, 0)
    )
    out.write_bytes(buf.getvalue())
    return out


@pytest.fixture
def centre_with_bundles(demo_archive_master: Path, tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    site = tmp_path / "site.dxa.sqlite"
    shutil.copy(demo_archive_master, site)
    bundles = list(export_all(site, tmp_path).values())
    centre = tmp_path / "centre.dxa.sqlite"
    fresh_centre(centre, site)
    return site, centre, bundles


def _site_private(site: Path, manifest: dict[str, Any]) -> str:
    db = open_archive(site)
    try:
        return site_key_pair(db, manifest["site"]["code"])[0]
    finally:
        db.close()


def _bomb_bundle(src: Path, site: Path, out: Path, *, honest_size: bool) -> Path:
    """A validly signed bundle whose phantom_results.csv member is a 1.8 GB bomb in ~2 MB."""
    m = _members(src)
    manifest_bytes = m.pop(MANIFEST)
    manifest = json.loads(manifest_bytes)
    m.pop(SIGNATURE)
    signature = sign(_site_private(site, manifest), manifest_bytes).encode()
    bomb = _raw_deflate_zeros(1800)  # under the old 2 GB member limit: it used to expand
    name = "phantom_results.csv"
    declared = 1800 * (1 << 20) if honest_size else len(m[name])
    stored = {MANIFEST: manifest_bytes, SIGNATURE: signature, **m}
    return _zip_with_raw(out, stored, {name: (bomb, declared)})


@pytest.mark.parametrize("honest_size", [True, False], ids=["declared", "hidden"])
def test_zip_bomb_is_refused_in_bounded_memory(
    centre_with_bundles: tuple[Path, Path, list[Path]], tmp_path: Path, honest_size: bool
) -> None:
    """A 1.8 GB member in a 2 MB bundle: refused, the reading process stays under 200 MB."""
    site, centre, bundles = centre_with_bundles
    bomb = _bomb_bundle(bundles[0], site, tmp_path / "bomb.zip", honest_size=honest_size)
    assert bomb.stat().st_size < 3_000_000
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dxa_app.archive import open_archive\n"
        "from dxa_app.centre.bundle import BundleError, read_bundle\n"
        "from dxa_app.centre.intake import registered_key\n"
        f"db = open_archive({str(centre)!r})\n"
        "try:\n"
        f"    read_bundle(Path({str(bomb)!r}), lambda c: registered_key(db, c))\n"
        "    print('ACCEPTED')\n"
        "except BundleError as exc:\n"
        "    print('REFUSED', exc)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(hwm.split()[1])\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    verdict, peak_kib = r.stdout.strip().splitlines()
    assert verdict.startswith("REFUSED"), verdict
    assert "phantom_results.csv" in verdict or "damaged" in verdict
    # VmHWM: this process's own peak resident memory (ru_maxrss would include the parent's)
    assert int(peak_kib) < 200 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"


def test_unsafe_and_duplicate_member_names_are_refused(
    centre_with_bundles: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    _site, centre, bundles = centre_with_bundles
    m = _members(bundles[0])
    escaping = _rezip(tmp_path / "escape.zip", {**m, "../../etc/evil.csv": b"x"})
    with pytest.raises(BundleError, match="not a plain file name"):
        import_bundles(centre_analyst(centre), [escaping])
    # the same member name twice in the directory
    twice = _rezip(tmp_path / "twice.zip", m)
    with zipfile.ZipFile(twice, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(MANIFEST, m[MANIFEST])
    with pytest.raises(BundleError, match="appears twice"):
        import_bundles(centre_analyst(centre), [twice])


def test_over_deep_json_is_refused_not_a_crash(
    centre_with_bundles: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    site, centre, bundles = centre_with_bundles
    m = _members(bundles[0])
    m.pop(SIGNATURE)
    deep = b'{"format": "dxa-centre-bundle", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    m[MANIFEST] = deep
    bad = _rezip(tmp_path / "deep.zip", {**m, SIGNATURE: b"x"})
    with pytest.raises(BundleError, match="manifest cannot be read"):
        import_bundles(centre_analyst(centre), [bad])
    # a corrections file nested too deep: refused with a message, never a RecursionError
    corrections = tmp_path / "deep.json"
    corrections.write_bytes(b'{"format": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    private, public = generate_key_pair()
    trust_centre(session_as(site, Role.ADMIN, "admin"), public)
    with pytest.raises(BundleError, match="damaged or truncated"):
        install_corrections(
            session_as(site, Role.TECHNICIAN, "tech"), corrections, password=PASSWORD, reason="t"
        )
    assert private


def test_import_of_several_bundles_is_all_or_nothing(
    centre_with_bundles: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    """A validly signed bundle whose content cannot be stored undoes the good one before it."""
    site, centre, bundles = centre_with_bundles
    m = _members(bundles[1])
    manifest = json.loads(m.pop(MANIFEST))
    m.pop(SIGNATURE)
    m["scanners.json"] = b'[{"no": "fields"}]\n'
    manifest["members"]["scanners.json"] = {
        "sha256": hashlib.sha256(m["scanners.json"]).hexdigest(),
        "bytes": len(m["scanners.json"]),
    }
    body = json_bytes(manifest)
    bad = tmp_path / "malformed.zip"
    write_signed_zip(bad, m, body, sign(_site_private(site, manifest), body))
    ana = centre_analyst(centre)
    db = open_archive(centre)
    try:
        before = table_counts(db)
        with pytest.raises(BundleError, match="content is malformed"):
            import_bundles(ana, [bundles[0], bad])
        assert table_counts(db) == before
    finally:
        db.close()


def test_a_bundle_changed_between_check_and_store_is_refused(
    centre_with_bundles: tuple[Path, Path, list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bundles are verified, then read again one at a time to store: a changed one undoes all."""
    import dxa_app.services.centre as centre_service

    _site, centre, bundles = centre_with_bundles
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    shutil.copy(bundles[0], first)
    shutil.copy(bundles[1], second)
    read = read_bundle
    calls: list[Path] = []

    def swapping(path: Path, key: Callable[[str], str | None], **kw: Any) -> Any:
        calls.append(path)
        if len(calls) == 3:  # both verified, the first stored: the second is replaced now
            shutil.copy(first, second)
        return read(path, key, **kw)

    monkeypatch.setattr(centre_service, "read_bundle", swapping)
    ana = centre_analyst(centre)
    db = open_archive(centre)
    try:
        before = table_counts(db)
        with pytest.raises(BundleError, match="changed while it was being imported"):
            import_bundles(ana, [first, second])
        assert table_counts(db) == before and calls == [first, second, first, second]
    finally:
        db.close()
