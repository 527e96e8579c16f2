"""Print the problem and the cure: near-threshold category disagreement between scanners."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dxa_app.archive import open_archive
from dxa_app.demo.generate import QC_START
from dxa_app.services.demo import run_demo
from tests import harmonisation_sim as sim


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
        ch = sim.chains(db, truth, QC_START + dt.timedelta(days=30))
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
        db.close()


if __name__ == "__main__":
    main()
