"""The centre chooses the national scale (issue 14): the reference scanner's, or the ESP scale.

Known truth: an ESP round on three scanners and hip pairs reference <-> Lunar and Lunar <->
Norland (none reference <-> Norland), so on the ESP scale the Norland hip is linked to the hip
anchor through an in-vivo chain.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from dxa_app.archive import open_archive, set_setting
from dxa_app.archive.scale import NationalScale, current_scale
from dxa_app.archive.steps import REFERENCE_SCANNER_KEY, approved_chain, scale_anchor
from dxa_app.archive.store import store_parsed
from dxa_app.cli import ExitCode, main
from dxa_app.domain import (
    CertifiedValue,
    ParsedSource,
    PhantomCertificate,
    PhantomIdentity,
    PhantomKind,
    PhantomPurpose,
    PhantomRegion,
    PhantomResult,
    PhantomScanRecord,
    Role,
)
from dxa_app.errors import PermissionDeniedError, UsageError
from dxa_app.services.calibration import (
    approve_steps,
    calibrate,
    list_steps,
    national_scale,
    set_national_scale,
)
from dxa_app.services.report_data import build_report_data
from dxa_app.services.scoring import compute_study_scores
from tests import programme as pg
from tests.sessions import PASSWORD, session_as

ESP = PhantomIdentity(PhantomKind.ESP, "ESP-T-9")
CERTIFIED = {PhantomRegion.V1: 0.497, PhantomRegion.V2: 1.012, PhantomRegion.V3: 1.488}
#: measured = a + b * certified on each scanner's spine; hip reading = a + b * true
SPINE = {"REF-1": (0.010, 1.020), "OTH-2": (0.050, 1.080), "NOR-3": (-0.030, 0.990)}
HIP = {"REF-1": (0.0, 1.0), "OTH-2": (0.030, 1.050), "NOR-3": (-0.020, 0.950)}
DAY = dt.date(2026, 2, 2)


def _esp_round(rng: np.random.Generator) -> ParsedSource:
    scans = []
    for scanner in (pg.REF, pg.OTHER, pg.THIRD):
        a, b = SPINE[scanner.serial]
        for n in range(10):
            scans.append(
                PhantomScanRecord(
                    f"test:esp:{scanner.serial}:{n}",
                    ESP,
                    scanner,
                    dt.datetime.combine(DAY, dt.time(8, n)),
                    PhantomPurpose.TRAVELLING,
                    tuple(
                        PhantomResult(r, a + b * c + float(rng.normal(0, 0.002)))
                        for r, c in CERTIFIED.items()
                    ),
                    round_name="ESP-T",
                )
            )
    cert = PhantomCertificate(
        ESP, "ESP-T-9 cert", tuple(CertifiedValue(r, c, 0.005) for r, c in CERTIFIED.items())
    )
    return ParsedSource("esp.csv", "test", phantom_scans=tuple(scans), certificates=(cert,))


def _archive(tmp_path: Path) -> Path:
    archive = tmp_path / "scale.sqlite"
    db = open_archive(archive)
    rng = np.random.default_rng(21)
    store_parsed(db, _esp_round(rng))
    studies = []
    pairs = ((pg.REF, pg.OTHER, 0), (pg.OTHER, pg.THIRD, 100))
    for first, second, offset in pairs:
        for i in range(20):
            p = pg.person(offset + i)
            true = float(rng.uniform(0.55, 1.05))
            for k, scanner in enumerate((first, second)):
                a, b = HIP[scanner.serial]
                reading = a + b * true + float(rng.normal(0, 0.004))
                studies.append(
                    pg.hip_study(
                        scanner,
                        p,
                        f"1.2.77.{offset + i}.{k}",
                        DAY + dt.timedelta(days=k),
                        total_hip=reading,
                        femoral_neck=reading - 0.1,
                    )
                )
    pg.store_studies(db, studies)
    set_setting(db, REFERENCE_SCANNER_KEY, pg.REF.serial)
    db.close()
    return archive


def test_the_default_is_todays_reference_scale(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    now = national_scale(tech)
    assert (now.version, now.scale, now.reference, now.hip_anchor) == (
        0,
        "reference",
        "REF-1",
        "REF-1",
    )
    db = open_archive(archive)
    ref = pg.scanner_id(db, "REF-1")
    assert scale_anchor(db, "L1-L4") == ref and scale_anchor(db, "femoral_neck") == ref
    db.close()


def test_choosing_the_scale_is_a_versioned_audited_centre_setting(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    tech = session_as(archive, Role.TECHNICIAN, "tekla")
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    with pytest.raises(PermissionDeniedError):
        set_national_scale(tech, "esp", password=PASSWORD, reason="x")
    with pytest.raises(UsageError):
        set_national_scale(centre, "esp", password=PASSWORD, reason=" ")
    with pytest.raises(UsageError, match="Unknown national scale"):
        set_national_scale(centre, "sbmd", password=PASSWORD, reason="x")
    with pytest.raises(UsageError, match="no separate hip anchor"):
        set_national_scale(centre, "reference", hip_anchor="OTH-2", password=PASSWORD, reason="x")
    v1 = set_national_scale(centre, "esp", password=PASSWORD, reason="ESP-certified scale")
    assert (v1.version, v1.scale, v1.hip_anchor) == (1, "esp", "REF-1")
    v2 = set_national_scale(centre, "reference", password=PASSWORD, reason="back")
    assert v2.version == 2 and v2.scale == "reference"
    db = open_archive(archive)
    rows = db.execute("SELECT version, scale FROM national_scales ORDER BY id").fetchall()
    audit = [
        json.loads(r[0])
        for r in db.execute("SELECT details FROM audit_log WHERE action = 'national_scale'")
    ]
    db.close()
    assert [tuple(r) for r in rows] == [(1, "esp"), (2, "reference")]
    assert [a["reason"] for a in audit] == ["ESP-certified scale", "back"]


def test_the_esp_scale_with_the_hip_linked_through_an_in_vivo_chain(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    set_national_scale(centre, "esp", hip_anchor="REF-1", password=PASSWORD, reason="ESP")
    calibrate(centre, bootstrap=200)
    steps = list_steps(centre, "proposed")
    national = [s for s in steps if s.kind == "national"]
    assert {s.serial for s in national} == {"REF-1", "OTH-2", "NOR-3"}
    assert all(
        s.method == "esp-certified" and (s.intercept, s.slope) == (0.0, 1.0) for s in national
    )
    hips = {(s.serial, s.region): s for s in steps if s.method == "deming-in-vivo"}
    assert set(hips) == {(x, g) for x in ("OTH-2", "NOR-3") for g in ("total_hip", "femoral_neck")}
    linked = hips[("NOR-3", "total_hip")]
    assert linked.provenance["linked_via"] == "OTH-2" and "~OTH-2~NOR-3" in linked.dataset
    # known truth: a Norland reading of a true 0.700 maps back to 0.700 through the chain
    a, b = HIP["NOR-3"]
    assert linked.intercept + linked.slope * (a + b * 0.700) == pytest.approx(0.700, abs=0.006)
    direct = hips[("OTH-2", "total_hip")]
    assert "linked_via" not in direct.provenance
    # the chain carries both fits' uncertainty: more than the direct link's
    db = open_archive(archive)
    var = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT id, var_slope FROM calibration_steps WHERE id IN (?, ?)",
            [linked.id, direct.id],
        )
    }
    db.close()
    assert var[linked.id] > var[direct.id] > 0
    approve_steps(centre, [s.id for s in steps], password=PASSWORD, reason="ESP", reviewed=True)
    db = open_archive(archive)
    ref = pg.scanner_id(db, "REF-1")
    assert scale_anchor(db, "total_hip") == ref and scale_anchor(db, "L1-L4") is None
    # the scale read once by a caller (a study's scoring) gives the same anchors
    esp = current_scale(db)
    assert esp.scale == "esp"
    assert scale_anchor(db, "total_hip", scale=esp) == ref
    assert scale_anchor(db, "L1-L4", scale=esp) is None
    # and the scale given is the one used: on the reference scale the spine has its anchor
    reference = NationalScale(0, "reference", "REF-1", "REF-1")
    assert scale_anchor(db, "L1-L4", scale=reference) == ref
    # the reference scanner's spine is now on the ESP scale: (x - a) / b of its own line
    [scanner_step, esp_step] = approved_chain(db, ref, "L1-L4", "2026-03-01")
    assert esp_step.kind == "national" and esp_step.slope == 1.0
    ra, rb = SPINE["REF-1"]
    assert scanner_step.slope == pytest.approx(1 / rb, rel=0.005)
    assert scanner_step.intercept == pytest.approx(-ra / rb, abs=0.004)
    # its hip: the national hip by definition (no step, harmonised)
    study = int(
        db.execute(
            "SELECT st.id FROM studies st JOIN scanners sc ON sc.id = st.scanner_id"
            " WHERE sc.serial = 'REF-1' LIMIT 1"
        ).fetchone()[0]
    )
    scores = compute_study_scores(db, study)
    hip = next(r for r in scores.regions if r.region == "total_hip")
    assert hip.harmonised and hip.chain == () and hip.harmonised_bmd == hip.raw_bmd
    data = build_report_data(db, study, lang="en", level="A")
    db.close()
    assert data.footer.scale == (
        "ESP-certified (spine: European Spine Phantom; hip: in vivo to REF-1), version 1"
    )


def test_the_scale_is_published_and_installed(tmp_path: Path) -> None:
    from dxa_app.centre import corrections as corr
    from dxa_app.centre.keys import generate_key_pair

    archive = _archive(tmp_path)
    centre = session_as(archive, Role.CENTRE_ANALYST, "centre")
    set_national_scale(centre, "esp", hip_anchor="OTH-2", password=PASSWORD, reason="ESP")
    calibrate(centre, bootstrap=0)
    approve_steps(
        centre,
        [s.id for s in list_steps(centre, "proposed")],
        password=PASSWORD,
        reason="x",
        reviewed=True,
    )
    private, public = generate_key_pair()
    db = open_archive(archive)
    _data, payload = corr.build_corrections(db, private, public, reference="REF-1")
    db.close()
    assert payload["national_scale"]["scale"] == "esp"
    assert payload["national_scale"]["hip_anchor"] == "OTH-2"
    site = tmp_path / "site.sqlite"
    sdb = open_archive(site)
    pg.store_studies(sdb, [pg.hip_study(pg.OTHER, pg.person(1), "1.5.1", DAY, total_hip=0.8)])
    corr.install(sdb, payload, "pub-1", by="tekla")
    here = current_scale(sdb)
    assert (here.version, here.scale, here.hip_anchor, here.reference) == (
        1,
        "esp",
        "OTH-2",
        "REF-1",
    )
    # the site's Lunar is the hip anchor: its hip is harmonised by definition
    study = int(sdb.execute("SELECT id FROM studies").fetchone()[0])
    hip = next(r for r in compute_study_scores(sdb, study).regions if r.region == "total_hip")
    assert hip.harmonised and not hip.chain
    sdb.close()


def test_scale_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path)
    session_as(archive, Role.CENTRE_ANALYST, "centre")
    monkeypatch.setenv("DXA_PASSWORD", PASSWORD)
    base = ["--archive", str(archive), "--user", "centre"]
    assert main(["centre", "scale", *base]) == ExitCode.OK
    assert "National scale version 0: the reference scanner REF-1." in capsys.readouterr().out
    args = ["centre", "scale", "--set", "esp", "--hip-anchor", "REF-1", "--reason", "ESP"]
    assert main([*args, "--json", *base]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 1 and out["scale"] == "esp"
