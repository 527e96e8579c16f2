"""Print the problem and the cure: category disagreement, the near-threshold flag, the ramp."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dxa_app.archive.database import Database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration.scores import t_score
from dxa_app.archive import open_archive
from dxa_app.demo.generate import QC_START
from dxa_app.domain import Role
from dxa_app.services.calibration import in_vivo_pairs
from dxa_app.services.demo import run_demo
from dxa_app.services.precision import record_precision
from dxa_app.services.scoring import compute_study_scores
from tests import harmonisation_sim as sim
from tests.sessions import session_as


def _precision_studies(
    archive: Path, truth: dict[str, Any], seed: int = 5
) -> dict[tuple[str, str], float]:
    """Record a 30 x 2 precision study per scanner and region from the demo's noise."""
    tech = session_as(archive, Role.TECHNICIAN, "bench-tech")
    rng = np.random.default_rng(seed)
    out: dict[tuple[str, str], float] = {}
    for s in truth["scanners"]:
        for region, group in sim.REGIONS.items():
            noise = s["bias"][group]["noise_sd"]
            study = {
                f"P{i}": [float(v) for v in 0.8 + 0.05 * i / 30 + rng.normal(0, noise, 2)]
                for i in range(30)
            }
            result = record_precision(tech, scanner=s["serial"], region=region, measurements=study)
            out[(s["key"], region)] = result.precision.rms_sd
    return out


def _own_readings(db: Database, truth: dict[str, Any]) -> tuple[int, int, int, int]:
    """The demo archive's own readings: misclassified and flagged T-score studies."""
    mis = covered = ok = false = 0
    ids = {r[1]: r[0] for r in db.execute("SELECT id, study_uid FROM studies")}
    for p in truth["patients"]:
        for v in p["visits"]:
            if v["in_vivo"]:
                continue
            s = compute_study_scores(db, ids[v["study_uid"]])
            if s.score_kind != "T" or s.diagnosis is None:
                continue
            true = {r: t_score(v["true"][r], *sim._reference(db, r)) for r in sim.REGIONS}
            harmonised = str(s.diagnosis.category).replace("severe_osteoporosis", "osteoporosis")
            if harmonised != sim._diag(true):
                mis += 1
                covered += int(s.near_threshold)
            else:
                ok += 1
                false += int(s.near_threshold)
    return mis, covered, ok, false


def main() -> None:
    """Build the demo, calibrate on the reference scanner, print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "files"
        run_demo(out, seed=2026, archive=Path(tmp) / "demo.sqlite")
        truth = sim.load_truth(out)
        cal = sim.calibrated_copy(
            Path(tmp) / "demo.sqlite", Path(tmp) / "cal.sqlite", truth, bootstrap=500
        )
        db = open_archive(cal)
        on = QC_START + dt.timedelta(days=30)
        ch = sim.chains(db, truth, on)
        print("Noise-free readings: cases whose category differs between the 4 scanners")
        for low, high in ((0.0, 0.15), (0.15, 0.5), (0.0, 0.5)):
            cases = sim.near_threshold_cases(db, truth, low=low, high=high)
            r = sim.noise_free(db, cases, ch)
            n = len(cases)
            counts = {k: sum(len(set(c)) > 1 for c in v) for k, v in r.items()}
            print(
                f"  |T - threshold| in [{low:.2f}, {high:.2f}]: {n:4d} cases; raw "
                f"{counts['raw']:4d} ({100 * counts['raw'] / n:5.1f} %), harmonised "
                f"{counts['harmonised']:3d} ({100 * counts['harmonised'] / n:4.1f} %), perfect "
                f"{counts['perfect']}"
            )
        cases = sim.near_threshold_cases(db, truth, low=0.0, high=0.5)
        shares = sim.disagreement_shares(db, cases, ch, repeats=200, seed=7)
        print(
            f"Noisy readings ({len(cases)} cases within 0.5 T of a threshold, 200 repeats):"
            " share whose category differs between scanners"
        )
        for k in ("raw", "harmonised", "perfect"):
            print(f"  {k:<11} {100 * shares[k]:5.1f} %")

        # index patients: in no in-vivo set, so the calibration never saw them
        paired = set()
        ids = {r[1]: r[0] for r in db.execute("SELECT id, serial FROM scanners")}
        ref = ids[next(s["serial"] for s in truth["scanners"] if s["key"] == "S1")]
        for sid in ids.values():
            if sid != ref:
                for region in sim.REGIONS:
                    paired |= {p.label for p in in_vivo_pairs(db, ref, sid, region)}
        by_cpr = {r[1]: str(r[0]) for r in db.execute("SELECT id, identifier FROM patients")}
        regular = {
            by_cpr[p["cpr"]]
            for p in truth["patients"]
            if not any(v["in_vivo"] for v in p["visits"])
        }
        n_idx, idx = sim.index_disagreement(db, truth, ch, repeats=200, seed=11)
        print(
            f"Index patients (regular T-score visits within 0.5 T of a threshold; the fit used"
            f" {len(paired)} in-vivo patients, index patients among them: "
            f"{len(paired & regular)}), each scanned on all 4 scanners, 200 repeats:"
        )
        print(
            f"  {n_idx} patients; diagnosis differs between scanners for raw "
            f"{idx['raw']:.1f}, harmonised {idx['harmonised']:.1f}, perfect correction "
            f"(noise floor) {idx['perfect']:.1f}; harmonised above the floor "
            f"{idx['harmonised'] - idx['perfect']:+.1f} (per 60 patients "
            f"{60 * (idx['harmonised'] - idx['perfect']) / n_idx:+.1f})"
        )

        # the near-threshold flag: coverage and false flags
        print("Near-threshold flag ('category uncertain': the diagnosis differs at the two ends")
        print("of the 95 % intervals of calibration and precision), T-score visits:")
        mis, cov, ok, false = _own_readings(db, truth)
        print(
            f"  demo archive's own readings, ISCD minimum precision: misclassified {mis},"
            f" flagged {cov} ({100 * cov / max(mis, 1):.0f} %); correct {ok}, flagged {false}"
            f" ({100 * false / max(ok, 1):.1f} %)"
        )
        models = sim.scanner_models(db, truth, on)
        flags = sim.flag_figures(db, truth, models, repeats=100, seed=3)
        print(
            f"  simulated readings x100, ISCD minimum precision: coverage "
            f"{100 * flags.coverage:.1f} % of {flags.misclassified} misclassified; false flags "
            f"{100 * flags.false_flag_rate:.1f} % of {flags.correct}"
        )
        db.close()
        precision = _precision_studies(cal, truth)
        db = open_archive(cal)
        models = sim.scanner_models(db, truth, on, precision=precision)
        flags = sim.flag_figures(db, truth, models, repeats=100, seed=3)
        print(
            f"  simulated readings x100, precision studies (30 x 2 per scanner and region): "
            f"coverage {100 * flags.coverage:.1f} % of {flags.misclassified}; false flags "
            f"{100 * flags.false_flag_rate:.1f} % of {flags.correct}"
        )
        mis, cov, ok, false = _own_readings(db, truth)
        print(
            f"  demo archive's own readings, precision studies: misclassified {mis}, flagged"
            f" {cov} ({100 * cov / max(mis, 1):.0f} %); correct {ok}, flagged {false}"
            f" ({100 * false / max(ok, 1):.1f} %)"
        )
        db.close()

    ramp = sim.ramp_errors(range(200))
    print(
        "Ramp +0.02 %/day over 75 days (1.5 %), CV 0.45 %, 200 series: largest error of the"
        " corrected noise-free phantom over the ramp"
    )
    print(
        f"  ramp model (chosen in {100 * ramp['ramp_chosen']:.0f} %): median "
        f"{100 * ramp['ramp_median']:.2f} %, 95th percentile {100 * ramp['ramp_p95']:.2f} %, within"
        f" 0.3 % in {100 * ramp['ramp_within_0_3']:.0f} % of series; one constant factor: median"
        f" {100 * ramp['factor_median']:.2f} %, 95th percentile {100 * ramp['factor_p95']:.2f} %"
    )


if __name__ == "__main__":
    main()
