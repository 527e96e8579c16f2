"""Store verified site bundles in the centre archive: idempotent, fast, kept apart by site."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, now_iso
from dxa_app.archive.precision import insert_precision_study
from dxa_app.centre.bundle import BundleError, VerifiedBundle
from dxa_app.centre.keys import normalise_public_key
from dxa_app.i18n import _


@dataclass(frozen=True)
class BundleImport:
    """What importing one bundle did."""

    path: str
    site: str
    sha256: str
    duplicate: bool
    added: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "path": self.path,
            "site": self.site,
            "sha256": self.sha256,
            "duplicate": self.duplicate,
            "added": dict(self.added),
        }


def registered_key(db: Database, code: str) -> str | None:
    """Return the public key registered for a site code at this centre, or None."""
    rows = list(db.query("SELECT public_key FROM centre_sites WHERE code = ?", [code]))
    return str(rows[0]["public_key"]) if rows else None


def register_site(db: Database, code: str, public_key: str, *, by: str = "") -> str:
    """Register (or replace) a site's public key; return the canonical key text."""
    key = normalise_public_key(public_key)
    with write_transaction(db):
        old = registered_key(db, code)
        db.execute(
            "INSERT INTO centre_sites (code, public_key, registered_at, registered_by)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET public_key = excluded.public_key,"
            " registered_at = excluded.registered_at, registered_by = excluded.registered_by",
            [code, key, now_iso(), by],
        )
        audit(
            db,
            "centre_register_site",
            username=by,
            entity="site",
            entity_id=code,
            details={"public_key": key, "replaced": old},
        )
    return key


def already_imported(db: Database, sha256: str) -> bool:
    """Return True when a bundle with this SHA-256 was imported before."""
    return bool(list(db.query("SELECT 1 FROM centre_bundles WHERE sha256 = ?", [sha256])))


def _one(db: Database, sql: str, params: list[Any]) -> int | None:
    row = db.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _f(value: str) -> float | None:
    return float(value) if value != "" else None


def store_bundle(db: Database, bundle: VerifiedBundle, *, by: str = "") -> BundleImport:
    """Store a verified bundle in one transaction; only rows the centre lacks are added.

    Parameters
    ----------
    db : Database
        The centre archive.
    bundle : VerifiedBundle
        A bundle checked by :func:`dxa_app.centre.bundle.read_bundle`.
    by : str
        Who imports (audit log).

    Returns
    -------
    BundleImport
        Rows added per kind (all zero and ``duplicate`` for a bundle seen before).

    Raises
    ------
    BundleError
        When the content is malformed or claims a scanner of another site; nothing is stored.
    """
    code = bundle.site
    if already_imported(db, bundle.sha256):
        return BundleImport(str(bundle.path), code, bundle.sha256, True)
    try:
        with write_transaction(db):
            added = _store(db, bundle, code)
            db.execute(
                "INSERT INTO centre_bundles (site_code, sha256, schema_version, created_at,"
                " imported_at, imported_by, counts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    code,
                    bundle.sha256,
                    int(bundle.manifest["schema_version"]),
                    str(bundle.manifest.get("created_at", "")),
                    now_iso(),
                    by,
                    json.dumps(added, sort_keys=True),
                ],
            )
            audit(
                db,
                "centre_import_bundle",
                username=by,
                entity="site",
                entity_id=code,
                details={"sha256": bundle.sha256, "added": added},
            )
    except (KeyError, ValueError, TypeError) as exc:
        raise BundleError(
            _("Bundle {name} refused: its content is malformed ({reason}).").format(
                name=bundle.path.name, reason=exc
            ),
            _("Ask the site to export the bundle again with the current program."),
        ) from exc
    return BundleImport(str(bundle.path), code, bundle.sha256, False, added)


def _store(db: Database, b: VerifiedBundle, code: str) -> dict[str, int]:
    created = str(b.manifest.get("created_at", ""))
    site = b.json("site.json")
    site_id = _one(db, "SELECT id FROM sites WHERE code = ?", [code])
    if site_id is None:
        cur = db.execute(
            "INSERT INTO sites (code, name, region) VALUES (?, ?, ?)",
            [code, site.get("name") or code, site.get("region") or ""],
        )
        site_id = int(cur.lastrowid or 0)
    added: dict[str, int] = {}

    # scanners: manufacturer + model + serial; the site owns its own ones
    scanner_ids: dict[int, int] = {}
    new_scanners = 0
    for s in b.json("scanners.json"):
        ident = [s["manufacturer"], s["model"], s["serial"]]
        row = db.execute(
            "SELECT id, site_id FROM scanners WHERE manufacturer = ? AND model = ? AND serial = ?",
            ident,
        ).fetchone()
        if row is None:
            cur = db.execute(
                "INSERT INTO scanners (manufacturer, model, serial, software_version, site_id,"
                " first_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [*ident, s.get("software_version") or "", site_id if s["own"] else None, now_iso()],
            )
            scanner_ids[int(s["ref"])] = int(cur.lastrowid or 0)
            new_scanners += 1
            continue
        scanner_ids[int(s["ref"])] = int(row[0])
        if s["own"]:
            if row[1] is None:
                db.execute("UPDATE scanners SET site_id = ? WHERE id = ?", [site_id, row[0]])
            elif int(row[1]) != site_id:
                other = _one(db, "SELECT code FROM sites WHERE id = ?", [row[1]])
                raise BundleError(
                    _("Bundle {name} refused: scanner {serial} belongs to another site.").format(
                        name=b.path.name, serial=s["serial"]
                    ),
                    _("Check the site mapping at {site} and at site id {other}.").format(
                        site=code, other=other
                    ),
                )
    added["scanners"] = new_scanners

    phantom_ids: dict[int, int] = {}
    for p in b.json("phantoms.json"):
        pid = _one(
            db, "SELECT id FROM phantoms WHERE kind = ? AND serial = ?", [p["kind"], p["serial"]]
        )
        if pid is None:
            cur = db.execute(
                "INSERT INTO phantoms (kind, serial, description) VALUES (?, ?, ?)",
                [p["kind"], p["serial"], p.get("description") or ""],
            )
            pid = int(cur.lastrowid or 0)
        phantom_ids[int(p["ref"])] = pid
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO phantom_certified_values (phantom_id, certificate_ref, region,"
        " bmd_g_cm2, uncertainty_g_cm2, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                phantom_ids[int(c["phantom"])],
                c["certificate_ref"],
                c["region"],
                float(c["bmd_g_cm2"]),
                c["uncertainty_g_cm2"],
                now_iso(),
            )
            for c in b.json("certificates.json")
        ],
    )
    added["certificate_values"] = db.conn.total_changes - before

    round_ids: dict[str, int] = {}
    for r in b.json("rounds.json"):
        rid = _one(db, "SELECT id FROM calibration_rounds WHERE name = ?", [r["name"]])
        if rid is None:
            cur = db.execute(
                "INSERT INTO calibration_rounds (name, kind, phantom_id, note) VALUES (?, ?, ?, ?)",
                [
                    r["name"],
                    r["kind"],
                    phantom_ids.get(int(r["phantom"])) if r.get("phantom") else None,
                    r.get("note") or "",
                ],
            )
            rid = int(cur.lastrowid or 0)
        round_ids[str(r["name"])] = rid

    added.update(_store_phantom_scans(db, b, code, scanner_ids, phantom_ids, round_ids))
    added["precision_studies"] = _store_precision(db, b, code, scanner_ids)

    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO centre_in_vivo_pairs (site_code, pair_key, pseudonym, age_years,"
        " sex, region, side, scanner_a_id, date_a, bmd_a, scanner_b_id, date_b, bmd_b)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                code,
                r["key"],
                r["pseudonym"],
                int(r["age_years"]) if r["age_years"] else None,
                r["sex"] or None,
                r["region"],
                r["side"] or None,
                scanner_ids[int(r["scanner_a"])],
                r["date_a"],
                float(r["bmd_a"]),
                scanner_ids[int(r["scanner_b"])],
                r["date_b"],
                float(r["bmd_b"]),
            )
            for r in b.csv_rows("in_vivo_pairs.csv")
        ],
    )
    added["in_vivo_pairs"] = db.conn.total_changes - before

    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT INTO centre_vfa_counts (site_code, month, studies, studies_with_vfa,"
        " studies_without_vfa, grade_0, grade_1, grade_2, grade_3, not_evaluable, as_of)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(site_code, month) DO UPDATE SET"
        " studies = excluded.studies, studies_with_vfa = excluded.studies_with_vfa,"
        " studies_without_vfa = excluded.studies_without_vfa, grade_0 = excluded.grade_0,"
        " grade_1 = excluded.grade_1, grade_2 = excluded.grade_2, grade_3 = excluded.grade_3,"
        " not_evaluable = excluded.not_evaluable, as_of = excluded.as_of"
        " WHERE excluded.as_of > centre_vfa_counts.as_of AND (excluded.studies,"
        " excluded.studies_with_vfa, excluded.grade_0, excluded.grade_1, excluded.grade_2,"
        " excluded.grade_3, excluded.not_evaluable) IS NOT (centre_vfa_counts.studies,"
        " centre_vfa_counts.studies_with_vfa, centre_vfa_counts.grade_0,"
        " centre_vfa_counts.grade_1, centre_vfa_counts.grade_2, centre_vfa_counts.grade_3,"
        " centre_vfa_counts.not_evaluable)",
        [
            (
                code,
                r["month"],
                int(r["studies"]),
                int(r["studies_with_vfa"]),
                int(r["studies_without_vfa"]),
                int(r["grade_0"]),
                int(r["grade_1"]),
                int(r["grade_2"]),
                int(r["grade_3"]),
                int(r["not_evaluable"]),
                created,
            )
            for r in b.csv_rows("vfa_monthly.csv")
        ],
    )
    added["vfa_months"] = db.conn.total_changes - before

    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT INTO centre_site_steps (site_code, site_step_id, scanner_id, region, kind,"
        " intercept, slope, valid_from, valid_to, status, method, dataset, n, provenance, as_of)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(site_code, site_step_id) DO UPDATE SET status = excluded.status,"
        " valid_to = excluded.valid_to, as_of = excluded.as_of"
        " WHERE excluded.as_of > centre_site_steps.as_of AND (excluded.status,"
        " excluded.valid_to) IS NOT (centre_site_steps.status, centre_site_steps.valid_to)",
        [
            (
                code,
                int(s["site_step_id"]),
                scanner_ids[int(s["scanner"])],
                s["region"],
                s["kind"],
                float(s["intercept"]),
                float(s["slope"]),
                s["valid_from"],
                s["valid_to"],
                s["status"],
                s["method"],
                s["dataset"],
                s["n"],
                json.dumps(s["provenance"], sort_keys=True),
                created,
            )
            for s in b.json("steps.json")
        ],
    )
    added["steps"] = db.conn.total_changes - before
    return added


def _store_phantom_scans(
    db: Database,
    b: VerifiedBundle,
    code: str,
    scanner_ids: dict[int, int],
    phantom_ids: dict[int, int],
    round_ids: dict[str, int],
) -> dict[str, int]:
    """Insert the phantom scans the centre lacks with executemany (ids assigned in order)."""
    prefix = f"centre:{code}:"
    known = {  # this site's scans already here, without the prefix (only the new ones added)
        str(r[0])[len(prefix) :]
        for r in db.execute(
            "SELECT source_key FROM phantom_scans WHERE source_key >= ? AND source_key < ?",
            [prefix, prefix + "\uffff"],
        )
    }
    first_id = (_one(db, "SELECT max(id) FROM phantom_scans", []) or 0) + 1
    imported = now_iso()
    new_ids: dict[str, int] = {}

    def scan_rows() -> Iterator[tuple[Any, ...]]:
        # streamed into executemany: one parsed row at a time, not the whole member
        for r in b.iter_csv_rows("phantom_scans.csv"):
            key = r["key"]
            if key in known or key in new_ids:
                continue
            scan_id = first_id + len(new_ids)
            new_ids[key] = scan_id
            yield (
                scan_id,
                prefix + key,
                phantom_ids[int(r["phantom"])],
                scanner_ids[int(r["scanner"])],
                r["acquired_at"],
                r["purpose"],
                round_ids[r["round"]] if r["round"] else None,
                int(r["repositioned"]),
                imported,
            )

    def result_rows() -> Iterator[tuple[Any, ...]]:
        for r in b.iter_csv_rows("phantom_results.csv"):
            scan_id = new_ids.get(r["key"])
            if scan_id is not None:
                yield (
                    scan_id,
                    r["region"],
                    float(r["bmd_g_cm2"]),
                    _f(r["bmc_g"]),
                    _f(r["area_cm2"]),
                )

    for chunk in _chunks(scan_rows()):
        db.conn.executemany(
            "INSERT INTO phantom_scans (id, source_key, phantom_id, scanner_id, acquired_at,"
            " purpose, round_id, repositioned, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chunk,
        )
    before = db.conn.total_changes
    for chunk in _chunks(result_rows()):
        db.conn.executemany(
            "INSERT INTO phantom_results (phantom_scan_id, region, bmd_g_cm2, bmc_g, area_cm2)"
            " VALUES (?, ?, ?, ?, ?)",
            chunk,
        )
    return {"phantom_scans": len(new_ids), "phantom_results": db.conn.total_changes - before}


#: Rows parsed before they are inserted together: memory stays bounded, and SQLite inserts a
#: run of rows at a time (faster than one row between every parsed CSV line).
CHUNK_ROWS = 20_000


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
        yield chunk


def _store_precision(
    db: Database, b: VerifiedBundle, code: str, scanner_ids: dict[int, int]
) -> int:
    n = 0
    for p in b.json("precision.json"):
        if _one(
            db,
            "SELECT row_id FROM centre_imported_rows WHERE site_code = ? AND kind = 'precision'"
            " AND key = ?",
            [code, p["key"]],
        ):
            continue
        study_id = insert_precision_study(
            db,
            scanner_id=scanner_ids[int(p["scanner"])],
            region=p["region"],
            technologist="",
            design=p["design"],
            started=p["started"],
            rms_sd_g_cm2=p["rms_sd_g_cm2"],
            rms_cv_pct=p["rms_cv_pct"],
            df=p["df"],
            lsc_g_cm2=p["lsc_g_cm2"],
            measurements=[
                (m["subject"], int(m["repeat_no"]), float(m["bmd_g_cm2"]))
                for m in p["measurements"]
            ],
        )
        db.execute(
            "INSERT INTO centre_imported_rows (site_code, kind, key, row_id)"
            " VALUES (?, 'precision', ?, ?)",
            [code, p["key"], study_id],
        )
        n += 1
    return n
