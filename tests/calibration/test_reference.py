"""Versioned reference tables: the shipped files, lookups and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from calibration.reference import load_reference, reference_from_dict
from calibration.rounding import round_half_away

REF = Path(__file__).resolve().parents[2] / "resources" / "reference"


@pytest.mark.parametrize(
    "name", ["nhanes3_femur_women_T.json", "spine_provisional_T.json", "z_provisional.json"]
)
def test_shipped_files_load_with_provenance(name: str) -> None:
    t = load_reference(REF / name)
    assert t.version == "2026.1" and t.unit_system == "Hologic g/cm2"
    assert t.source and t.status
    assert t.to_dict()["regions"]
    assert reference_from_dict(t.to_dict()) == t


def test_t_tables_use_female_reference_for_both_sexes() -> None:
    t = load_reference(REF / "nhanes3_femur_women_T.json")
    assert t.purpose == "T"
    assert t.lookup("femoral_neck", "F", 70) == (0.858, 0.120)
    assert t.lookup("femoral_neck", "M", None) == (0.858, 0.120)
    assert t.lookup("total_hip", "M", 60) == (0.942, 0.122)
    assert "secondary source" in t.status
    with pytest.raises(KeyError, match="no region 'L1-L4'"):
        t.lookup("L1-L4", "F", 60)


def test_spine_table_is_marked_provisional() -> None:
    t = load_reference(REF / "spine_provisional_T.json")
    assert t.status.startswith("UNVERIFIED provisional")
    assert t.lookup("L1-L4", "F", 65) == (1.047, 0.110)


def test_z_lookup_by_sex_and_age_band() -> None:
    z = load_reference(REF / "z_provisional.json")
    assert z.purpose == "Z" and "UNVERIFIED" in z.status
    assert z.lookup("femoral_neck", "F", 25) == (0.858, 0.120)
    assert z.lookup("femoral_neck", "F", 49.9) == (0.858, 0.120)
    assert z.lookup("femoral_neck", "f", 50.0)[0] == pytest.approx(0.807)
    with pytest.raises(KeyError, match="needs the age"):
        z.lookup("total_hip", "M", None)
    with pytest.raises(KeyError, match="ages 20-99"):
        z.lookup("total_hip", "M", 19)
    with pytest.raises(KeyError, match="sex 'X'"):
        z.lookup("total_hip", "X", 40)


def test_z_file_numbers_follow_its_documented_method() -> None:
    """The constructed table must be exactly what its 'method' says (no hidden numbers)."""
    raw = json.loads((REF / "z_provisional.json").read_text(encoding="utf-8"))
    method = raw["method"]
    for region, by_sex in raw["regions"].items():
        for sex, bands in by_sex.items():
            anchor = method["anchors"][sex][region]
            rate = method["decline_pct_per_decade_from_50"][sex][region]
            for band in bands:
                a = band["age"][0]
                decades = max(0, (a - 40) // 10)
                expected = round_half_away(anchor["mean"] * (1 - rate / 100 * decades), 3)
                assert band["mean"] == float(expected)
                assert band["sd"] == anchor["sd"]


def _table(**change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "n",
        "version": "1",
        "purpose": "Z",
        "unit_system": "Hologic g/cm2",
        "source": "s",
        "status": "st",
        "regions": {"total_hip": {"F": [{"age": [20, 29], "mean": 0.9, "sd": 0.1}]}},
    }
    base.update(change)
    return base


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purpose": "X"}, "purpose"),
        ({"regions": {"total_hip": {"F": [{"age": [20, 29], "mean": 0.9, "sd": 0}]}}}, "sd"),
        ({"regions": {"total_hip": {"F": [{"age": [20, 29], "mean": -1, "sd": 0.1}]}}}, "mean"),
        (
            {
                "regions": {
                    "total_hip": {
                        "F": [
                            {"age": [20, 29], "mean": 0.9, "sd": 0.1},
                            {"age": [40, 49], "mean": 0.9, "sd": 0.1},
                        ]
                    }
                }
            },
            "contiguous",
        ),
        ({"regions": {"total_hip": {"U": [{"age": [20, 29], "mean": 0.9, "sd": 0.1}]}}}, "sex"),
        ({"name": ""}, "name"),
    ],
)
def test_validation(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reference_from_dict(_table(**change))


def test_load_reports_file_name(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json"):
        load_reference(p)
    p.write_text(json.dumps(_table(purpose="T")), encoding="utf-8")
    t = load_reference(p)
    assert t.lookup("total_hip", "M", None) == (0.9, 0.1)
