"""Time the knowledge-centre path: 70 scanners x 10 years of daily QC, export, import, fit."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlite_utils

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dxa_app.archive import open_archive, write_transaction
from dxa_app.archive.db import now_iso
from dxa_app.domain import Role
from dxa_app.services.centre import (
    export_bundle,
    import_bundles,
    national_fit,
    register_site_key,
    site_keys,
)
from tests.sessions import session_as

ESP_CERTIFIED = {"L1": 0.497, "L2": 1.012, "L3": 1.488}
START = dt.date(2016, 1, 1)


def generate_site_archive(
    db: sqlite_utils.Database, n_scanners: int, years: int, n_sites: int, seed: int = 1
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scanners", type=int, default=70)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--sites", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dxa-bench-centre-") as tmp:
        folder = Path(tmp)
        site = open_archive(folder / "sites.dxa.sqlite")
        t0 = time.perf_counter()
        n_scans = generate_site_archive(site, args.scanners, args.years, args.sites)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        codes = [str(r["code"]) for r in site.query("SELECT code FROM sites ORDER BY code")]
        site.close()
        tech = session_as(folder / "sites.dxa.sqlite", Role.TECHNICIAN, "tech")
        bundles = [
            Path(export_bundle(tech, folder / f"{code}.zip", site=code).path) for code in codes
        ]
        t_export = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in bundles)
        keys = site_keys(tech)
        ana = session_as(folder / "centre.dxa.sqlite", Role.CENTRE_ANALYST, "ana")
        for k in keys:
            register_site_key(ana, k["site"], k["public_key"])
        t0 = time.perf_counter()
        imported = import_bundles(ana, bundles)
        t_import = time.perf_counter() - t0
        n_imported = sum(r.added["phantom_scans"] for r in imported)
        t0 = time.perf_counter()
        run = national_fit(ana, reference="BENCH-000", bootstrap=200)
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = import_bundles(ana, bundles)
        t_again = time.perf_counter() - t0
    assert all(r.duplicate for r in again)
    print(f"scanners {args.scanners}, years {args.years}, sites {args.sites}")
    print(f"generation  {t_gen:6.2f} s  ({n_scans} phantom scans in the site archive)")
    print(f"export      {t_export:6.2f} s  ({len(bundles)} bundles, {size / 1e6:.1f} MB)")
    print(f"import      {t_import:6.2f} s  ({n_imported} phantom scans; verify + executemany)")
    print(f"re-import   {t_again:6.2f} s  (all duplicates, nothing changed)")
    fits, drift = len(run["fits"]), len(run["drift"])
    print(f"fit         {t_fit:6.2f} s  ({fits} fits, {drift} drift proposals; target < 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
