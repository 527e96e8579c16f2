"""The calibration commands end to end on the demo archive: roles, fits, approval, scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration.precision import precision
from dxa_app.cli import ExitCode, main

pytestmark = pytest.mark.slow


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def _add_user(archive: Path, name: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Add a user through the CLI: the archive's first user (its administrator) adds it."""
    monkeypatch.setenv("DXA_NEW_PASSWORD", "admin-secret-1")
    monkeypatch.setenv("DXA_PASSWORD", "admin-secret-1")
    monkeypatch.delenv("DXA_USER", raising=False)
    a = str(archive)
    main(["users", "add", "admin", "--role", "admin", "--archive", a])  # first run only
    monkeypatch.setenv("DXA_NEW_PASSWORD", f"{name}-secret-1")
    assert main(["users", "add", name, "--role", role, "--archive", a, "--user", "admin"]) == 0


def _as(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DXA_USER", name)
    monkeypatch.setenv("DXA_PASSWORD", f"{name}-secret-1")


def test_calibrate_approve_and_score(
    demo_archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = str(demo_archive)
    _add_user(demo_archive, "centre", "centre_analyst", monkeypatch)
    _add_user(demo_archive, "tech", "technician", monkeypatch)
    capsys.readouterr()
    _as("tech", monkeypatch)
    assert main(["calibrate", "--archive", a]) == ExitCode.PERMISSION  # fits are the centre's
    capsys.readouterr()
    _as("centre", monkeypatch)
    assert main(["calibrate", "--archive", a, "--json"]) == ExitCode.USAGE  # no reference yet
    capsys.readouterr()
    assert (
        main(
            [
                "calibrate",
                "--reference",
                "HZA-DEMO-101",
                "--bootstrap",
                "200",
                "--archive",
                a,
                "--json",
            ]
        )
        == ExitCode.OK
    )
    run = _json(capsys)
    assert isinstance(run, dict) and run["reference_scanner"] == "HZA-DEMO-101"
    assert [d["serial"] for d in run["drift"]] == ["DSW-DEMO-202"]
    assert main(["steps", "--status", "proposed", "--json", "--archive", a]) == 0
    proposed = _json(capsys)
    assert isinstance(proposed, list) and len(proposed) == 1 + 4 + 4 + 6
    ids = [str(s["id"]) for s in proposed]

    monkeypatch.setenv("DXA_PASSWORD", "tech-secret-1")
    assert main(["approve", *ids, "--user", "tech", "--archive", a, "--reason", "x"]) == 6
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "may not do this" in err
    monkeypatch.setenv("DXA_PASSWORD", "wrong")
    assert main(["approve", ids[0], "--user", "centre", "--archive", a]) == ExitCode.PERMISSION
    assert "Wrong user name or password" in capsys.readouterr().err
    capsys.readouterr()
    monkeypatch.setenv("DXA_PASSWORD", "centre-secret-1")
    assert main(["approve", *ids, "--user", "centre", "--archive", a]) == ExitCode.USAGE
    assert "reason" in capsys.readouterr().err  # asked twice: a reason is required
    dry = ["approve", *ids, "--user", "centre", "--archive", a, "--dry-run", "--json"]
    assert main(dry) == 0
    preview = _json(capsys)
    assert isinstance(preview, dict)
    impact = preview["impact"]
    assert "DSW-DEMO-202" in impact["scanners"] and impact["studies"] > 0
    assert main(["steps", "--status", "proposed", "--json", "--archive", a]) == 0
    still = _json(capsys)
    assert isinstance(still, list) and len(still) == len(ids)  # a dry run changes nothing
    # one of the national fit's steps (the Lunar femoral neck, true slope 0.864) can fit just
    # outside 0.85-1.15: such a step needs --reviewed (issue 14)
    approve = ["approve", *ids, "--user", "centre", "--archive", a, "--json", "--reviewed"]
    assert main([*approve, "--reason", "national fit 2026"]) == 0
    approved = _json(capsys)
    assert isinstance(approved, dict) and approved["impact"] == impact
    assert {s["status"] for s in approved["steps"]} == {"approved"}
    assert {s["approved_by"] for s in approved["steps"]} == {"centre"}

    _as("tech", monkeypatch)
    assert main(["scores", "1", "--json", "--archive", a]) == 0
    scores = _json(capsys)
    assert isinstance(scores, dict) and scores["harmonised"] is True
    l14 = next(r for r in scores["regions"] if r["region"] == "L1-L4")
    assert l14["chain_steps"] and "PROVISIONAL" in l14["t_reference"]
    assert main(["rescore", "--json", "--archive", a]) == 0
    summary = _json(capsys)
    assert isinstance(summary, dict) and summary["studies"] > 300

    assert main(["qc", "--json", "--archive", a]) == 0
    qc = _json(capsys)
    assert isinstance(qc, list)
    by_serial = {q["serial"]: q for q in qc}
    # the drift correction was approved above, so its QC takes a new baseline after the scans
    # the correction was fitted on (issue 14): no alarm carries over, the old ones are history
    shifted = by_serial["DSW-DEMO-202"]
    assert shifted["status"] == "baseline in progress"
    assert shifted["baseline_progress"] == [0, 20]
    assert [s["kind"] for s in shifted["segments"]] == ["first", "drift_correction"]
    assert shifted["segments"][0]["status"] == "reject"
    assert shifted["today_status"] == "no QC today" and shifted["days_since_last_qc"] > 0
    assert [d["start"] for d in run["drift"]] == ["2026-07-31"]


def test_precision_study(
    tmp_path: Path,
    demo_archive: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _add_user(demo_archive, "tech", "technician", monkeypatch)
    _as("tech", monkeypatch)
    capsys.readouterr()
    rng = np.random.default_rng(3)
    groups = [
        [float(v) for v in 0.9 + 0.1 * rng.random() + rng.normal(0, 0.012, 3)] for _ in range(15)
    ]
    csv = tmp_path / "precision.csv"
    csv.write_text(
        "subject,bmd_g_cm2\n"
        + "".join(f"P{i:02d},{v!r}\n" for i, g in enumerate(groups) for v in g),
        encoding="utf-8",
    )
    assert (
        main(
            [
                "precision",
                str(csv),
                "--scanner",
                "HZA-DEMO-101",
                "--region",
                "L1-L4",
                "--technologist",
                "AB",
                "--json",
                "--archive",
                str(demo_archive),
            ]
        )
        == 0
    )
    out = _json(capsys)
    expected = precision(groups)
    assert isinstance(out, dict)
    assert out["design"] == "15x3" and out["df"] == 30
    assert out["rms_sd_g_cm2"] == pytest.approx(expected.rms_sd)
    assert out["lsc_g_cm2"] == pytest.approx(2.77 * expected.rms_sd)
    assert out["iscd_minimum_cv_pct"] == 1.9
    assert out["meets_iscd_minimum"] is (expected.rms_cv_pct <= 1.9)
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,bmd_g_cm2\nP1,abc\n", encoding="utf-8")
    assert (
        main(
            [
                "precision",
                str(bad),
                "--scanner",
                "HZA-DEMO-101",
                "--region",
                "L1-L4",
                "--archive",
                str(demo_archive),
            ]
        )
        == ExitCode.IMPORT
    )
    err = capsys.readouterr().err
    assert "Line 2" in err and str(bad) in err
