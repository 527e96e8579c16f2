"""Uniformity across scanners on the demo truth: harmonisation shrinks the spread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from dxa_app.archive import open_archive
from dxa_app.domain import Role
from dxa_app.errors import NotFoundError
from dxa_app.services import uniformity as uni
from tests import harmonisation_sim as sim
from tests.sessions import session_as

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def truth(demo_files: Path) -> dict[str, Any]:
    return sim.load_truth(demo_files)


@pytest.fixture(scope="module")
def calibrated(
    demo_archive_master: Path, truth: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return sim.calibrated_copy(
        demo_archive_master, tmp_path_factory.mktemp("uni") / "cal.sqlite", truth
    )


@pytest.fixture
def db(calibrated: Path) -> Iterator[Any]:
    conn = open_archive(calibrated)
    yield conn
    conn.close()


def _esp(db: Any, truth: dict[str, Any]) -> uni.Subject:
    return next(
        s for s in uni.phantoms_on_several_scanners(db) if s.label.endswith(truth["esp"]["serial"])
    )


def test_only_the_travelling_phantom_is_on_several_scanners(db: Any, truth: Any) -> None:
    phantoms = uni.phantoms_on_several_scanners(db)
    assert [p.n_scanners for p in phantoms] == [len(truth["scanners"])]
    assert phantoms[0].label.endswith(truth["esp"]["serial"])


def test_esp_spread_is_smaller_after_harmonisation(db: Any, truth: Any) -> None:
    result = uni.phantom_uniformity(db, _esp(db, truth).id)
    assert set(result.scanners()) == {s["serial"] for s in truth["scanners"]}
    certified = truth["esp"]["certified"]
    for region in certified:
        rows = [r for r in result.rows if r.region == region]
        assert len(rows) == 4 and all(r.calibrated and r.n == 10 for r in rows)
        assert rows[0].certified == pytest.approx(certified[region])
        raw = result.spread(region, harmonised=False)
        harmonised = result.spread(region, harmonised=True)
        assert harmonised < raw / 3, (region, raw, harmonised)
    # the reference scanner's scale is the national scale: its values pass through unchanged
    ref = next(s["serial"] for s in truth["scanners"] if s["key"] == "S1")
    for r in result.rows:
        if r.serial == ref and r.region in certified:
            assert r.harmonised == pytest.approx(r.raw, abs=1e-9)
    spread = result.to_dict()["spread"]
    assert set(spread) == {"L1", "L2", "L3", "total"}


def test_in_vivo_patients_agree_better_after_harmonisation(db: Any, truth: Any) -> None:
    ids = {r["identifier"]: r["id"] for r in db.query("SELECT id, identifier FROM patients")}
    subjects = {s.id for s in uni.patients_on_several_scanners(db)}
    raw: dict[str, list[float]] = {}
    harmonised: dict[str, list[float]] = {}
    n_patients = 0
    for group in truth["in_vivo"]:
        for cpr in group["patients"]:
            assert ids[cpr] in subjects
            result = uni.patient_uniformity(db, ids[cpr])
            assert result.subject.n_scanners == 2
            n_patients += 1
            for key in result.regions():
                if len([r for r in result.rows if r.region_key == key]) < 2:
                    continue
                raw.setdefault(key.split()[0], []).append(result.spread(key, harmonised=False))
                harmonised.setdefault(key.split()[0], []).append(
                    result.spread(key, harmonised=True)
                )
    assert n_patients == 90
    assert set(raw) == set(uni.PATIENT_REGIONS)
    for region in uni.PATIENT_REGIONS:
        assert mean(harmonised[region]) < mean(raw[region]), region


def test_unknown_subjects(db: Any) -> None:
    with pytest.raises(NotFoundError):
        uni.phantom_uniformity(db, 9999)
    with pytest.raises(NotFoundError):
        uni.patient_uniformity(db, 9999)


def test_before_calibration_harmonised_equals_raw(demo_archive: Path, truth: Any) -> None:
    conn = open_archive(demo_archive)
    try:
        subject = _esp(conn, truth)
        result = uni.uniformity(session_as(demo_archive, Role.CENTRE_ANALYST), subject)
        assert all(r.harmonised == r.raw and not r.calibrated for r in result.rows)
    finally:
        conn.close()
