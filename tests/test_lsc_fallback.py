"""The LSC a report uses: the scanner's precision study, else the ISCD minimum (known answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dxa_app.archive import open_archive
from dxa_app.archive.store import store_parsed
from dxa_app.domain import Role
from dxa_app.services.precision import record_precision
from dxa_app.services.report_data import _lsc
from tests.factories import SCANNER, parsed, study_record
from tests.sessions import session_as


def test_iscd_minimum_then_precision_study(tmp_path: Path) -> None:
    archive = tmp_path / "a.sqlite"
    db = open_archive(archive)
    store_parsed(db, parsed(study_record(1)))
    scanner_id = int(db.execute("SELECT id FROM scanners").fetchone()[0])
    # ISCD minimum %CV x 2.77 x BMD: total hip 1.8 % at 0.800 -> 0.039888 g/cm2
    lsc, source = _lsc(db, scanner_id, "total_hip", 0.800)
    assert lsc == pytest.approx(0.039888) and source == "iscd_minimum"
    # spine 1.9 % at 1.000 -> 0.05263; femoral neck 2.5 % at 0.700 -> 0.048475
    assert _lsc(db, scanner_id, "L1-L4", 1.0)[0] == pytest.approx(0.05263)
    assert _lsc(db, scanner_id, "femoral_neck", 0.7)[0] == pytest.approx(0.048475)
    # a region without a listed minimum takes the most lenient one (2.5 %)
    assert _lsc(db, scanner_id, "radius_33", 0.7)[0] == pytest.approx(0.048475)
    # a precision study of that scanner and region wins: 2.77 x RMS-SD
    pairs = {
        f"P{i}": [0.9 + 0.01 * i, 0.9 + 0.01 * i + (0.02 if i % 2 else -0.02)] for i in range(30)
    }
    tech = session_as(archive, Role.TECHNICIAN)
    result = record_precision(tech, scanner=SCANNER.serial, region="total_hip", measurements=pairs)
    lsc, source = _lsc(db, scanner_id, "total_hip", 0.8)
    assert source == "precision"
    assert lsc == pytest.approx(2.77 * result.precision.rms_sd)
    assert result.precision.rms_sd == pytest.approx(0.02 / 2**0.5)  # duplicates 0.02 apart
