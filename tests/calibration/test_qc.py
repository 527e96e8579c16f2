"""Phantom QC: baseline, each Westgard rule (fires / nearly fires), CUSUM and drift proposals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from calibration.qc import (
    Baseline,
    analyse,
    baseline,
    cusum,
    detection_delays,
    false_alarm_rates,
    propose_drift,
    westgard,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "calibration.md"
# Baseline with SD 0.001 at 1.0 g/cm2: the ±1.5 % limit is 15 SD away and never interferes.
TIGHT = Baseline(mean=1.0, sd=0.001, n=20)


def _series(z: list[float]) -> list[float]:
    return [TIGHT.mean + TIGHT.sd * v for v in z]


def _fired(z: list[float]) -> set[tuple[int, str]]:
    return {(h.index, h.rule) for h in westgard(_series(z), TIGHT)}


def test_baseline_and_limits() -> None:
    values = [1.177 + (0.006 if i % 2 else -0.006) for i in range(20)]
    b = baseline(values)
    assert b.mean == pytest.approx(1.177)
    assert b.sd == pytest.approx(0.006 * np.sqrt(20 / 19))
    assert (b.lower, b.upper) == pytest.approx((1.177 * 0.985, 1.177 * 1.015))
    assert round(b.lower, 3) == 1.159 and round(b.upper, 3) == 1.195  # Bonnick example


def test_baseline_length_validation() -> None:
    values = list(np.linspace(0.99, 1.01, 30))
    assert baseline(values, 15).n == 15 and baseline(values, 25).n == 25
    with pytest.raises(ValueError, match="15-25"):
        baseline(values, 12)
    assert baseline(values, 12, allow_nonstandard=True).n == 12
    with pytest.raises(ValueError, match="at least 10"):
        baseline(values, 9, allow_nonstandard=True)
    with pytest.raises(ValueError, match="needs 20 values"):
        baseline(values[:19])
    with pytest.raises(ValueError, match="zero"):
        baseline([1.0] * 20)


def test_1_2s_warning_and_near_miss() -> None:
    hits = westgard(_series([0.5, -0.5, 2.5]), TIGHT)
    assert [(h.index, h.rule, h.severity) for h in hits] == [(2, "1-2s", "warning")]
    assert _fired([0.5, -0.5, 1.9]) == set()


def test_1_3s_and_near_miss() -> None:
    assert _fired([0.5, -3.5]) == {(1, "1-2s"), (1, "1-3s")}
    assert _fired([0.5, -2.9]) == {(1, "1-2s")}


def test_2_2s_same_side_and_near_misses() -> None:
    assert (1, "2-2s") in _fired([2.5, 2.5])
    assert (1, "2-2s") in _fired([-2.5, -2.5])
    assert not any(r == "2-2s" for _, r in _fired([2.5, 1.9]))
    assert not any(r == "2-2s" for _, r in _fired([2.5, -0.5, 2.5]))
    assert not any(r == "2-2s" for _, r in _fired([2.5, -2.5]))


def test_r_4s_exactly_as_specified() -> None:
    assert (1, "R-4s") in _fired([2.5, -2.5])
    assert (1, "R-4s") in _fired([-2.5, 2.5])
    # not consecutive: no R-4s
    assert not any(r == "R-4s" for _, r in _fired([2.5, 0.0, -2.5]))
    # next value only beyond -1.9 SD: no R-4s
    assert not any(r == "R-4s" for _, r in _fired([2.5, -1.9]))
    # same side is 2-2s, not R-4s
    assert not any(r == "R-4s" for _, r in _fired([2.5, 2.5]))
    # a 4 SD range within one value pair spread over the same side does not count either
    assert not any(r == "R-4s" for _, r in _fired([1.5, -2.5]))


def test_4_1s_and_near_misses() -> None:
    assert _fired([1.5, 1.5, 1.5, 1.5]) == {(3, "4-1s")}
    assert _fired([-1.5, -1.2, -1.8, -1.1]) == {(3, "4-1s")}
    assert _fired([1.5, 1.5, 1.5, 0.9]) == set()
    assert _fired([1.5, 1.5, -1.5, 1.5]) == set()


def test_10_x_and_near_misses() -> None:
    assert _fired([0.3] * 10) == {(9, "10-x")}
    assert _fired([0.3] * 11) == {(9, "10-x"), (10, "10-x")}
    assert _fired([-0.3] * 10) == {(9, "10-x")}
    assert _fired([0.3] * 9 + [-0.3]) == set()
    assert _fired([0.3] * 5 + [0.0] + [0.3] * 4) == set()


def test_limit_rule() -> None:
    b = Baseline(mean=1.0, sd=0.01, n=20)
    hits = westgard([1.0, 1.016, 0.984, 1.014, 0.986], b)
    assert [(h.index, h.rule, h.severity) for h in hits] == [
        (1, "limit", "reject"),
        (2, "limit", "reject"),
    ]
    assert "±1.5 %" in hits[0].message


def test_cusum_by_hand() -> None:
    b = Baseline(mean=1.0, sd=0.01, n=20)
    c = cusum([1.01, 1.01, 0.98, 1.005], b, k=0.5, h=1.2)
    # z = 1, 1, -2, 0.5
    assert c.c_plus == pytest.approx((0.5, 1.0, 0.0, 0.0))
    assert c.c_minus == pytest.approx((0.0, 0.0, 1.5, 0.5))
    assert c.alarms == (2,)
    assert (c.k, c.h) == (0.5, 1.2)


STEP_AT = 30
# seed 1 has a CUSUM false alarm before the step (see test_dismissed_false_alarm_...)
STEP_SEEDS = [0, 2, 3, 4, 5, 6, 7, 8, 9]


def _step_series(seed: int, step_at: int = STEP_AT, length: int = 60) -> np.ndarray:
    """Daily phantom values, CV 0.45 %, with a +2.5 % step from ``step_at`` on."""
    rng = np.random.default_rng(seed)
    x = 1.0 + rng.normal(0, 0.0045, length)
    x[step_at:] *= 1.025
    return x


@pytest.mark.parametrize("seed", STEP_SEEDS)
def test_cusum_alarms_within_10_scans_of_a_2_5_pct_step(seed: int) -> None:
    x = _step_series(seed)
    c = cusum(x, baseline(x))
    assert c.alarms and all(i >= STEP_AT for i in c.alarms)
    assert c.alarms[0] - STEP_AT < 10


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("seed", STEP_SEEDS)
def test_drift_proposal_recovers_step(seed: int, refine: bool) -> None:
    x = _step_series(seed)
    p = propose_drift(x, baseline(x), refine=refine)
    assert p is not None
    assert abs(p.start_index - STEP_AT) <= 3
    assert p.factor == pytest.approx(1 / 1.025, rel=0.003)
    assert p.n_after == 60 - p.start_index
    assert "C+" in p.evidence


def test_dismissed_false_alarm_is_skipped_with_after_index() -> None:
    x = _step_series(1)
    b = baseline(x)
    early = [i for i in cusum(x, b).alarms if i < STEP_AT]
    assert early  # a false alarm before the step: the first alarm is not the step
    p = propose_drift(x, b, after_index=early[-1] + 1, refine=True)
    assert p is not None and abs(p.start_index - STEP_AT) <= 3
    assert p.factor == pytest.approx(1 / 1.025, rel=0.003)


@pytest.mark.slow
def test_drift_proposal_accuracy_over_many_series() -> None:
    ok_plain = ok_refined = used = 0
    for seed in range(100, 300):
        x = _step_series(seed)
        b = baseline(x)
        if any(i < STEP_AT for i in cusum(x, b).alarms):
            continue
        used += 1
        for refine in (False, True):
            p = propose_drift(x, b, refine=refine)
            good = (
                p is not None
                and abs(p.start_index - STEP_AT) <= 3
                and abs(p.factor * 1.025 - 1) <= 0.003
            )
            ok_plain += good and not refine
            ok_refined += good and refine
    assert used > 150
    assert ok_plain / used > 0.7
    assert ok_refined / used > 0.95


def test_drift_proposal_needs_enough_values_and_an_alarm() -> None:
    x = _step_series(0, length=STEP_AT + 3)
    b = baseline(x)
    assert cusum(x, b).alarms
    assert propose_drift(x, b, min_after=10) is None
    stable = 1.0 + np.random.default_rng(5).normal(0, 0.0045, 60)
    assert propose_drift(stable, baseline(stable)) is None


def test_analyse_status() -> None:
    rng = np.random.default_rng(11)
    stable = 1.0 + rng.normal(0, 0.0045, 20)
    ok = analyse(np.concatenate([stable, stable[:5]]))
    assert ok.status in ("ok", "warning")
    shifted = analyse(_step_series(1))
    assert shifted.status == "reject"
    assert shifted.proposal is not None
    assert shifted.to_dict()["status"] == "reject"


def test_false_alarm_simulation_is_fast_and_sane() -> None:
    r = false_alarm_rates(n_series=300, seed=1)
    assert set(r) >= {"1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10-x", "limit", "cusum"}
    assert all(0.0 <= v <= 1.0 for v in r.values())
    assert r["1-2s"] > r["1-3s"] > 0
    assert r["any_reject"] >= max(r[k] for k in ("1-3s", "2-2s", "R-4s", "4-1s", "10-x"))
    # with the true mean and SD the 1-2s rate is 1 - 0.9545**70 = 0.96
    known = false_alarm_rates(n_series=300, seed=1, estimate_baseline=False)
    assert known["1-2s"] == pytest.approx(1 - 0.9545**70, abs=0.05)
    assert false_alarm_rates(n_series=50, seed=3) == false_alarm_rates(n_series=50, seed=3)


@pytest.mark.slow
def test_documented_figures_match_the_simulation() -> None:
    """docs/calibration.md states the figures of the default simulation; keep them true."""
    text = DOCS.read_text(encoding="utf-8")
    r = false_alarm_rates()
    for rule in ("1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10-x", "limit", "cusum"):
        m = re.search(rf"^\| `{re.escape(rule)}` \|[^|]*\| ([0-9.]+) %", text, re.M)
        assert m, f"row for {rule} missing in docs/calibration.md"
        assert float(m.group(1)) == pytest.approx(100 * r[rule], abs=0.05)
    d = detection_delays()
    assert d["median"] <= 2
    assert f"median {d['median']:g} scan" in text
