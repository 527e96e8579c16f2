"""Collect one site's patient-free calibration data from its archive as bundle members."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from calibration.fits import IN_VIVO_MAX_DAYS
from dxa_app.archive.database import Database
from dxa_app.archive.scanners import scanner_by_id, scanner_rows
from dxa_app.centre.bundle import csv_bytes, json_bytes
from dxa_app.centre.keys import pseudonym

#: In-vivo pairs: the region fitted per group (the largest gap: calibration.fits.IN_VIVO_MAX_DAYS).
IN_VIVO_REGIONS = ("L1-L4", "total_hip", "femoral_neck")

PHANTOM_SCAN_COLUMNS = (
    "key",
    "scanner",
    "phantom",
    "acquired_at",
    "purpose",
    "round",
    "repositioned",
)
PHANTOM_RESULT_COLUMNS = ("key", "region", "bmd_g_cm2", "bmc_g", "area_cm2")
IN_VIVO_COLUMNS = (
    "key",
    "pseudonym",
    "age_years",
    "sex",
    "region",
    "side",
    "scanner_a",
    "date_a",
    "bmd_a",
    "scanner_b",
    "date_b",
    "bmd_b",
)
VFA_COLUMNS = (
    "month",
    "studies",
    "studies_with_vfa",
    "studies_without_vfa",
    "grade_0",
    "grade_1",
    "grade_2",
    "grade_3",
    "not_evaluable",
)


@dataclass(frozen=True)
class SiteData:
    """The members of one site's bundle and how many rows each holds."""

    site: dict[str, str]
    members: dict[str, bytes]
    counts: dict[str, int]


def _whole_years(birth: str | None, on: str) -> int | None:
    if not birth:
        return None
    b, d = dt.date.fromisoformat(birth), dt.date.fromisoformat(on[:10])
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def collect_site(db: Database, site_id: int, secret: bytes) -> SiteData:
    """Read everything a site sends to the knowledge centre, without patient identifiers.

    Parameters
    ----------
    db : Database
        The site's archive.
    site_id : int
        The ``sites.id`` of the site.
    secret : bytes
        The site's pseudonym secret (HMAC-SHA256 key; it never leaves the site).

    Returns
    -------
    SiteData
        The bundle members (JSON and CSV bytes) and row counts.
    """
    site_row = next(iter(db.query("SELECT code, name, region FROM sites WHERE id = ?", [site_id])))
    site = {"code": site_row["code"], "name": site_row["name"], "region": site_row["region"]}
    own = {r.id for r in scanner_rows(db, site_id=site_id)}
    scanners: dict[int, dict[str, Any]] = {}

    def scanner_ref(scanner_id: int) -> int:
        if scanner_id not in scanners:
            r = scanner_by_id(db, scanner_id)
            scanners[scanner_id] = {
                "ref": len(scanners) + 1,
                "manufacturer": r.manufacturer,
                "model": r.model,
                "serial": r.serial,
                "software_version": r.software_version,
                "own": scanner_id in own,
            }
        return int(scanners[scanner_id]["ref"])

    for scanner_id in sorted(own):
        scanner_ref(scanner_id)
    marks = ",".join("?" * len(own)) or "NULL"
    own_list = sorted(own)

    # phantoms, certificates and rounds used by this site's scans
    phantoms: dict[int, dict[str, Any]] = {}
    for r in db.query(
        "SELECT DISTINCT ph.* FROM phantoms ph JOIN phantom_scans ps ON ps.phantom_id = ph.id"
        f" WHERE ps.scanner_id IN ({marks}) ORDER BY ph.id",
        own_list,
    ):
        phantoms[int(r["id"])] = {
            "ref": len(phantoms) + 1,
            "kind": r["kind"],
            "serial": r["serial"],
            "description": r["description"],
        }
    pmarks = ",".join("?" * len(phantoms)) or "NULL"
    certificates = [
        {
            "phantom": phantoms[int(r["phantom_id"])]["ref"],
            "certificate_ref": r["certificate_ref"],
            "region": r["region"],
            "bmd_g_cm2": r["bmd_g_cm2"],
            "uncertainty_g_cm2": r["uncertainty_g_cm2"],
        }
        for r in db.query(
            f"SELECT * FROM phantom_certified_values WHERE phantom_id IN ({pmarks}) ORDER BY id",
            list(phantoms),
        )
    ]
    rounds: dict[int, dict[str, Any]] = {}
    for r in db.query(
        "SELECT DISTINCT cr.* FROM calibration_rounds cr JOIN phantom_scans ps"
        f" ON ps.round_id = cr.id WHERE ps.scanner_id IN ({marks}) ORDER BY cr.id",
        own_list,
    ):
        rounds[int(r["id"])] = {
            "name": r["name"],
            "kind": r["kind"],
            "phantom": phantoms[int(r["phantom_id"])]["ref"]
            if r["phantom_id"] in phantoms
            else None,
            "note": r["note"],
        }

    # phantom scans and results (source keys pseudonymised: a DICOM key holds a UID)
    scan_rows = []
    keys: dict[int, str] = {}
    for r in db.execute(
        "SELECT id, source_key, phantom_id, scanner_id, acquired_at, purpose, round_id,"
        f" repositioned FROM phantom_scans WHERE scanner_id IN ({marks}) ORDER BY id",
        own_list,
    ).fetchall():
        key = pseudonym(secret, "phantom-scan:" + r[1])
        keys[int(r[0])] = key
        scan_rows.append(
            (
                key,
                scanners[int(r[3])]["ref"],
                phantoms[int(r[2])]["ref"],
                r[4],
                r[5],
                rounds[int(r[6])]["name"] if r[6] is not None else "",
                int(r[7]),
            )
        )
    result_rows = [
        (keys[int(r[0])], r[1], repr(float(r[2])), r[3], r[4])
        for r in db.execute(
            "SELECT pr.phantom_scan_id, pr.region, pr.bmd_g_cm2, pr.bmc_g, pr.area_cm2"
            " FROM phantom_results pr JOIN phantom_scans ps ON ps.id = pr.phantom_scan_id"
            f" WHERE ps.scanner_id IN ({marks}) ORDER BY pr.id",
            own_list,
        ).fetchall()
    ]

    # precision studies: subjects pseudonymised, technologist left out
    precision = []
    for r in db.query(
        f"SELECT * FROM precision_studies WHERE scanner_id IN ({marks}) ORDER BY id", own_list
    ):
        measurements = [
            {
                "subject": pseudonym(secret, "subject:" + str(m["subject"])),
                "repeat_no": m["repeat_no"],
                "bmd_g_cm2": m["bmd_g_cm2"],
            }
            for m in db.query(
                "SELECT * FROM precision_measurements WHERE precision_study_id = ? ORDER BY id",
                [r["id"]],
            )
        ]
        precision.append(
            {
                "key": pseudonym(secret, f"precision:{r['id']}:{r['created_at']}"),
                "scanner": scanners[int(r["scanner_id"])]["ref"],
                "region": r["region"],
                "design": r["design"],
                "started": r["started"],
                "rms_sd_g_cm2": r["rms_sd_g_cm2"],
                "rms_cv_pct": r["rms_cv_pct"],
                "df": r["df"],
                "lsc_g_cm2": r["lsc_g_cm2"],
                "measurements": measurements,
            }
        )

    pairs = _in_vivo_pairs(db, own, secret, scanner_ref, scanners)
    vfa = _vfa_monthly(db, site_id)
    steps = [
        {
            "site_step_id": r["id"],
            "scanner": scanners[int(r["scanner_id"])]["ref"],
            "region": r["region"],
            "kind": r["kind"],
            "intercept": r["intercept"],
            "slope": r["slope"],
            "valid_from": r["valid_from"],
            "valid_to": r["valid_to"],
            "status": r["status"],
            "method": r["method"],
            "dataset": r["dataset"],
            "n": r["n"],
            "provenance": json.loads(r["provenance"] or "{}"),
        }
        for r in db.query(
            "SELECT * FROM calibration_steps WHERE status = 'approved'"
            f" AND scanner_id IN ({marks}) ORDER BY id",
            own_list,
        )
    ]
    members = {
        "site.json": json_bytes(site),
        "scanners.json": json_bytes(sorted(scanners.values(), key=lambda s: int(s["ref"]))),
        "phantoms.json": json_bytes(list(phantoms.values())),
        "certificates.json": json_bytes(certificates),
        "rounds.json": json_bytes(list(rounds.values())),
        "phantom_scans.csv": csv_bytes(PHANTOM_SCAN_COLUMNS, scan_rows),
        "phantom_results.csv": csv_bytes(PHANTOM_RESULT_COLUMNS, result_rows),
        "precision.json": json_bytes(precision),
        "in_vivo_pairs.csv": csv_bytes(IN_VIVO_COLUMNS, pairs),
        "vfa_monthly.csv": csv_bytes(VFA_COLUMNS, vfa),
        "steps.json": json_bytes(steps),
    }
    counts = {
        "scanners": len(own),
        "phantom_scans": len(scan_rows),
        "phantom_results": len(result_rows),
        "certificate_values": len(certificates),
        "precision_studies": len(precision),
        "in_vivo_pairs": len(pairs),
        "vfa_months": len(vfa),
        "steps": len(steps),
    }
    return SiteData(site, members, counts)


def _in_vivo_pairs(
    db: Database,
    own: set[int],
    secret: bytes,
    scanner_ref: Any,
    scanners: dict[int, dict[str, Any]],
) -> list[tuple[Any, ...]]:
    """Pairs of the same patient, region and side on two scanners within 60 days.

    Per patient, side, region and pair of scanners (one of them this site's), every pair of
    scans within 60 days is sent, so the centre averages a patient's repeated scans on each
    scanner (as :func:`dxa_app.services.calibration.in_vivo_pairs` does); a scan with an
    excluded vertebra is left out. Raw values: the centre corrects drift.
    """
    rmarks = ",".join("?" * len(IN_VIVO_REGIONS))
    rows = db.execute(
        "SELECT p.id_type, p.identifier, p.birth_date, p.sex, s.side, s.scanner_id,"
        " st.study_date, rr.region, rr.bmd_g_cm2, s.source_key"
        " FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
        " JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id"
        f" WHERE rr.region IN ({rmarks}) AND rr.bmd_g_cm2 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM region_results v WHERE v.scan_id = s.id"
        "   AND v.included = 0)",
        list(IN_VIVO_REGIONS),
    ).fetchall()
    grouped: dict[tuple[str, str, str | None, str], dict[int, list[tuple[str, float, str]]]] = (
        defaultdict(lambda: defaultdict(list))
    )
    people: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for id_type, ident, birth, sex, side, scanner_id, day, region, bmd, key in rows:
        grouped[(id_type, ident, side, region)][int(scanner_id)].append((day, float(bmd), key))
        people[(id_type, ident)] = (birth, sex)
    ident_of: dict[int, tuple[str, str, str]] = {}
    out: list[tuple[Any, ...]] = []
    for (id_type, ident, side, region), by_scanner in sorted(
        grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3])
    ):
        if len(by_scanner) < 2 or not own & set(by_scanner):
            continue
        for sid in by_scanner:
            if sid not in ident_of:
                r = scanner_by_id(db, sid)
                ident_of[sid] = (r.manufacturer, r.model, r.serial)
        ids = sorted(by_scanner, key=lambda s: ident_of[s])
        birth, sex = people[(id_type, ident)]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if a not in own and b not in own:
                    continue
                within = [
                    (sa, sb)
                    for sa in by_scanner[a]
                    for sb in by_scanner[b]
                    if abs((dt.date.fromisoformat(sa[0]) - dt.date.fromisoformat(sb[0])).days)
                    <= IN_VIVO_MAX_DAYS
                ]
                for sa, sb in within:
                    out.append(
                        (
                            pseudonym(secret, f"pair:{sa[2]}|{sb[2]}|{region}"),
                            pseudonym(secret, f"patient:{id_type}:{ident}"),
                            _whole_years(birth, min(sa[0], sb[0])),
                            sex or "",
                            region,
                            side or "",
                            scanner_ref(a),
                            sa[0],
                            repr(sa[1]),
                            scanner_ref(b),
                            sb[0],
                            repr(sb[1]),
                        )
                    )
    return out


def _vfa_monthly(db: Database, site_id: int) -> list[tuple[Any, ...]]:
    """Per month: studies with and without VFA and the vertebra findings by grade."""
    months: dict[str, list[int]] = defaultdict(lambda: [0] * 8)
    for month, n_vfa in db.execute(
        "SELECT substr(st.study_date, 1, 7),"
        " (SELECT count(*) FROM vfa_readings r WHERE r.study_id = st.id)"
        " FROM studies st JOIN scanners sc ON sc.id = st.scanner_id WHERE sc.site_id = ?",
        [site_id],
    ).fetchall():
        m = months[month]
        m[0] += 1
        m[1 if n_vfa else 2] += 1
    for month, grade, n in db.execute(
        "SELECT substr(st.study_date, 1, 7), f.grade, count(*) FROM vfa_findings f"
        " JOIN vfa_readings r ON r.id = f.vfa_reading_id JOIN studies st ON st.id = r.study_id"
        " JOIN scanners sc ON sc.id = st.scanner_id WHERE sc.site_id = ?"
        " GROUP BY 1, 2",
        [site_id],
    ).fetchall():
        months[month][3 + (int(grade) if grade is not None else 4)] += int(n)
    return [(month, *months[month]) for month in sorted(months)]
