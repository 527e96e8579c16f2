"""Time the knowledge centre at N scanners x 10 years of daily QC: import, fit, publish, memory."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dxa_app.archive.database import Database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.db import now_iso
from dxa_app.domain import Role
from dxa_app.services.calibration import approve_steps, list_steps
from dxa_app.services.centre import (
    export_bundle,
    import_bundles,
    national_fit,
    publish,
    register_site_key,
    site_keys,
)
from tests.sessions import PASSWORD, session_as

ESP_CERTIFIED = {"L1": 0.497, "L2": 1.012, "L3": 1.488}
START = dt.date(2016, 1, 1)


def generate_site_archive(
    db: Database, n_scanners: int, years: int, n_sites: int, seed: int = 1
) -> int:
    """Fill an archive with scanners at ``n_sites`` sites, daily QC and one ESP round each."""
    rng = np.random.default_rng(seed)
    days = [START + dt.timedelta(days=d) for d in range(365 * years)]
    now = now_iso()
    n_scans = 0
    with write_transaction(db):
        for s in range(n_sites):
            db.execute("INSERT INTO sites (code, name) VALUES (?, ?)", [f"S{s:02d}", f"Site {s}"])
        db.execute("INSERT INTO phantoms (kind, serial) VALUES ('ESP', 'ESP-BENCH')")
        esp_id = db.execute("SELECT id FROM phantoms WHERE serial = 'ESP-BENCH'").fetchone()[0]
        db.conn.executemany(
            "INSERT INTO phantom_certified_values (phantom_id, certificate_ref, region, bmd_g_cm2,"
            " imported_at) VALUES (?, 'bench', ?, ?, ?)",
            [(esp_id, r, v, now) for r, v in ESP_CERTIFIED.items()],
        )
        db.execute(
            "INSERT INTO calibration_rounds (name, kind, phantom_id)"
            " VALUES ('ESP-BENCH', 'travelling_phantom', ?)",
            [esp_id],
        )
        round_id = db.execute("SELECT id FROM calibration_rounds").fetchone()[0]
        scan_id = 0
        for k in range(n_scanners):
            hologic = k % 2 == 0
            cur = db.execute(
                "INSERT INTO scanners (manufacturer, model, serial, site_id, first_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    "Hologic" if hologic else "GE Lunar",
                    "Horizon A" if hologic else "Lunar iDXA",
                    f"BENCH-{k:03d}",
                    1 + k % n_sites,
                    now,
                ],
            )
            scanner_id = int(cur.lastrowid or 0)
            cur = db.execute(
                "INSERT INTO phantoms (kind, serial) VALUES (?, ?)",
                ["Hologic spine" if hologic else "Lunar aluminium", f"QC-{k:03d}"],
            )
            qc_id = int(cur.lastrowid or 0)
            slope = float(rng.normal(1.0 if hologic else 1.1, 0.02))
            intercept = float(rng.normal(0.0, 0.01))
            values = (intercept + slope * 1.02) * (1 + rng.normal(0, 0.0045, len(days)))
            scans, results = [], []
            for day, v in zip(days, values, strict=True):
                scan_id += 1
                at = f"{day.isoformat()}T07:30:00"
                scans.append(
                    (scan_id, f"bench-qc:{k}:{day}", qc_id, scanner_id, at, "daily_qc", None, now)
                )
                results.append((scan_id, "total", round(float(v), 4)))
            esp_day = START + dt.timedelta(days=30 + k)
            for n in range(10):
                scan_id += 1
                at = f"{esp_day.isoformat()}T16:{n:02d}:00"
                scans.append(
                    (
                        scan_id,
                        f"bench-esp:{k}:{n}",
                        esp_id,
                        scanner_id,
                        at,
                        "travelling",
                        round_id,
                        now,
                    )
                )
                for region, cert in ESP_CERTIFIED.items():
                    v = intercept + slope * cert + float(rng.normal(0, 0.004))
                    results.append((scan_id, region, round(v, 4)))
            db.conn.executemany(
                "INSERT INTO phantom_scans (id, source_key, phantom_id, scanner_id, acquired_at,"
                " purpose, round_id, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                scans,
            )
            db.conn.executemany(
                "INSERT INTO phantom_results (phantom_scan_id, region, bmd_g_cm2) VALUES (?, ?, ?)",
                results,
            )
            n_scans += len(scans)
    return n_scans


def _peak_mb() -> float:
    """Return this process's peak resident memory (ru_maxrss, KiB on Linux) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Callable[[], str]) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    product = fn()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "peak_mb": _peak_mb(),
        "product": product,
    }


def _bundles(folder: Path) -> list[Path]:
    return sorted(folder.glob("S*.zip"))


def run_phase(phase: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one phase in this process (the parent runs each phase in a fresh process)."""
    centre = folder / "centre.dxa.sqlite"
    if phase == "generate":

        def generate() -> str:
            site = open_archive(folder / "sites.dxa.sqlite")
            n_scans = generate_site_archive(site, args.scanners, args.years, args.sites)
            site.close()
            return f"{n_scans} phantom scans in the site archive"

        return _timed(generate)
    if phase == "export":

        def export() -> str:
            site = open_archive(folder / "sites.dxa.sqlite")
            codes = [str(r["code"]) for r in site.query("SELECT code FROM sites ORDER BY code")]
            site.close()
            tech = session_as(folder / "sites.dxa.sqlite", Role.TECHNICIAN, "tech")
            for code in codes:
                export_bundle(tech, folder / f"{code}.zip", site=code)
            ana = session_as(centre, Role.CENTRE_ANALYST, "ana")
            for k in site_keys(tech):
                register_site_key(ana, k["site"], k["public_key"])
            size = sum(p.stat().st_size for p in _bundles(folder))
            return f"{len(codes)} bundles, {size / 1e6:.1f} MB"

        return _timed(export)
    ana = session_as(centre, Role.CENTRE_ANALYST, "ana")
    if phase == "import":

        def do_import() -> str:
            imported = import_bundles(ana, _bundles(folder))
            n = sum(r.added["phantom_scans"] for r in imported)
            return f"{n} phantom scans; verify, then store one bundle at a time"

        return _timed(do_import)
    if phase == "fit":

        def fit() -> str:
            run = national_fit(ana, reference="BENCH-000", bootstrap=200)
            return f"{len(run['fits'])} fits, {len(run['drift'])} drift proposals"

        return _timed(fit)
    if phase == "approve":

        def approve() -> str:
            ids = [s.id for s in list_steps(ana, "proposed")]
            approve_steps(ana, ids, password=PASSWORD, reason="bench", reviewed=True)
            return f"{len(ids)} steps approved"

        return _timed(approve)
    if phase == "publish":

        def do_publish() -> str:
            out = publish(ana, folder / "corrections.json")
            return f"{out['steps']} steps signed and written"

        return _timed(do_publish)
    if phase == "reimport":

        def again() -> str:
            imported = import_bundles(ana, _bundles(folder))
            assert all(r.duplicate for r in imported)
            return "all duplicates, nothing changed"

        return _timed(again)
    raise SystemExit(f"unknown phase {phase}")


PHASES = ("generate", "export", "import", "fit", "approve", "publish", "reimport")


def run_scale(args: argparse.Namespace, n_scanners: int) -> dict[str, dict[str, Any]]:
    """Run every phase for ``n_scanners`` scanners, each in its own process (its own peak).

    Peak memory is the phase process's ru_maxrss; time is wall clock and CPU (a loaded
    machine inflates the wall clock, less so the CPU time).
    """
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dxa-bench-centre-") as tmp:
        for phase in PHASES:
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--phase",
                phase,
                "--folder",
                tmp,
                "--scanners",
                str(n_scanners),
                "--years",
                str(args.years),
                "--sites",
                str(args.sites),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"phase {phase} failed:\n{done.stderr[-4000:]}")
            out[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scanners", type=int, nargs="+", default=[70, 700])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        args.scanners = args.scanners[0]
        print(json.dumps(run_phase(args.phase, args.folder, args)))
        return 0
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start")
    runs = {}
    for n in args.scanners:
        runs[n] = r = run_scale(args, n)
        print(f"scanners {n}, years {args.years}, sites {args.sites} (each phase a fresh process)")
        for phase in PHASES:
            p = r[phase]
            print(
                f"  {phase:9s} {p['seconds']:7.2f} s  cpu {p['cpu']:7.2f} s"
                f"  peak {p['peak_mb']:6.0f} MB  ({p['product']})"
            )
    if len(runs) > 1:
        small, large = min(runs), max(runs)
        for phase in ("import", "fit", "publish"):
            a, b = runs[small][phase], runs[large][phase]
            print(
                f"{phase:9s} {large} against {small} scanners:"
                f" time x{b['seconds'] / a['seconds']:.1f},"
                f" peak memory x{b['peak_mb'] / a['peak_mb']:.2f} (goal: within x2)"
            )
    for n, r in runs.items():
        if n >= 700:
            fit = r["fit"]["seconds"]
            print(f"fit at {n} scanners {fit:.1f} s (goal < 15 s on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
