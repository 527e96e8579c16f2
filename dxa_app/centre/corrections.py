"""The centre's signed corrections file: publish approved steps, install them at a site."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calibration.reference import reference_from_dict
from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.db import audit, get_setting, now_iso, set_setting
from dxa_app.archive.references import add_installed, find_installed, installed_tables
from dxa_app.archive.scale import REFERENCE_SCANNER_KEY, add_scale, current_scale
from dxa_app.archive.scanners import scanner_rows
from dxa_app.centre.bundle import BundleError, loads_bounded
from dxa_app.centre.keys import normalise_public_key, sign, verify
from dxa_app.errors import UsageError
from dxa_app.fileio import write_owner_only
from dxa_app.i18n import _

FORMAT = "dxa-centre-corrections"
#: 1: steps; 2 (issue 14): drift ramps (``per_day``, ``ramp_end``), the steps' uncertainty
#: (``var_intercept``, ``var_slope``, ``cov_intercept_slope``), reference tables and the
#: national scale. A program reads every version up to its own and refuses newer ones, so a
#: site never installs a ramp as a constant factor. Version 1 files stay installable.
SCHEMA_VERSION = 2
#: Upper bound of a corrections file (a national table is a few hundred kB).
MAX_CORRECTIONS_BYTES = 64 * 1024 * 1024
ORIGIN = "centre"


def build_corrections(
    db: Database, private_key: str, public_key: str, *, reference: str | None
) -> tuple[bytes, dict[str, Any]]:
    """Return the signed corrections file (bytes) and its payload, from the approved steps.

    The file is JSON: ``{"format", "payload", "signature"}``; ``payload`` is the JSON text
    that was signed (Ed25519, base64), so no re-serialisation can break the signature.
    """
    steps = [
        {
            "centre_step_id": r["id"],
            "manufacturer": r["manufacturer"],
            "model": r["model"],
            "serial": r["serial"],
            "region": r["region"],
            "kind": r["kind"],
            "intercept": r["intercept"],
            "slope": r["slope"],
            "per_day": r["per_day"],
            "ramp_end": r["ramp_end"],
            "var_intercept": r["var_intercept"],
            "var_slope": r["var_slope"],
            "cov_intercept_slope": r["cov_intercept_slope"],
            "valid_from": r["valid_from"],
            "valid_to": r["valid_to"],
            "method": r["method"],
            "dataset": r["dataset"],
            "n": r["n"],
            "provenance": json.loads(r["provenance"] or "{}"),
            "approved_by": r["approved_by"],
            "approved_at": r["approved_at"],
        }
        for r in db.query(
            "SELECT cs.*, sc.manufacturer, sc.model, sc.serial FROM calibration_steps cs"
            " JOIN scanners sc ON sc.id = cs.scanner_id WHERE cs.status = 'approved'"
            " ORDER BY sc.manufacturer, sc.model, sc.serial, cs.id"
        )
    ]
    if not steps:
        raise UsageError(
            _("There are no approved calibration steps to publish."),
            _("Run 'centre fit', then approve the steps with 'approve STEP... --user NAME'."),
        )
    payload = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "published_at": now_iso(),
        "centre_public_key": public_key,
        "reference_scanner": reference,
        "national_scale": current_scale(db).to_dict(),
        "steps": steps,
        "reference_tables": [
            {
                "table": t.table.to_dict(),
                "valid_from": t.valid_from,
                "installed_at": t.installed_at,
                "origin": t.origin,
            }
            for t in installed_tables(db)
        ],
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1)
    envelope = {
        "format": FORMAT,
        "payload": text,
        "signature": sign(private_key, text.encode("utf-8")),
    }
    return (json.dumps(envelope, ensure_ascii=False, indent=1) + "\n").encode("utf-8"), payload


def write_file(path: Path, data: bytes) -> None:
    """Write a file atomically (a temporary file, then a rename), owner-only."""
    if not path.parent.is_dir():
        raise UsageError(
            _("The folder {folder} does not exist.").format(folder=path.parent),
            _("Create the folder first or choose another path."),
        )
    write_owner_only(path, data)


def read_corrections(path: Path, trusted: str | None) -> tuple[dict[str, Any], str]:
    """Check a corrections file against the trusted centre key; return (payload, publication id).

    Raises
    ------
    BundleError
        When no centre key is trusted, the file is damaged, not signed by the trusted key,
        or has a newer schema.
    """
    refused = _("Corrections {name} refused: {reason}")
    if trusted is None:
        raise BundleError(
            refused.format(name=path.name, reason=_("no knowledge-centre key is trusted here.")),
            _("Run 'calibration trust-centre PUBLIC_KEY' with the key the centre gave you."),
        )
    try:
        if path.stat().st_size > MAX_CORRECTIONS_BYTES:
            raise ValueError("too large")
        envelope = loads_bounded(path.read_bytes())
        fmt, text, signature = envelope["format"], envelope["payload"], envelope["signature"]
        if not isinstance(text, str) or not isinstance(signature, str):
            raise TypeError("payload")
    except FileNotFoundError as exc:
        raise BundleError(
            refused.format(name=path.name, reason=_("the file does not exist.")), ""
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(
            refused.format(name=path.name, reason=_("the file is damaged or truncated.")),
            _("Ask the centre for the file again."),
        ) from exc
    if fmt != FORMAT:
        raise BundleError(
            refused.format(name=path.name, reason=_("it is not a corrections file.")),
            _("Give a file written by 'centre publish'."),
        )
    if not verify(trusted, text.encode("utf-8"), signature):
        raise BundleError(
            refused.format(
                name=path.name, reason=_("it is not signed by the trusted knowledge-centre key.")
            ),
            _("Check the key with the centre; never install unsigned corrections."),
        )
    try:
        payload: dict[str, Any] = loads_bounded(text.encode("utf-8"))
    except ValueError as exc:
        raise BundleError(
            refused.format(name=path.name, reason=_("the file is damaged or truncated.")),
            _("Ask the centre for the file again."),
        ) from exc
    if int(payload.get("schema_version", 0)) > SCHEMA_VERSION:
        raise BundleError(
            refused.format(
                name=path.name,
                reason=_("it has schema version {found}; this program reads up to {known}.").format(
                    found=payload.get("schema_version"), known=SCHEMA_VERSION
                ),
            ),
            _("Install the newest version of the DXA tool."),
        )
    if normalise_public_key(str(payload.get("centre_public_key", ""))) != normalise_public_key(
        trusted
    ):
        raise BundleError(
            refused.format(
                name=path.name, reason=_("it names another centre key than the trusted one.")
            ),
            _("Check the key with the centre."),
        )
    return payload, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class InstallResult:
    """What installing a corrections file did at a site."""

    publication: str
    published_at: str
    installed: list[int] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)
    skipped_scanners: list[str] = field(default_factory=list)
    already_installed: bool = False
    references: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "publication": self.publication,
            "published_at": self.published_at,
            "installed_steps": list(self.installed),
            "retired_steps": list(self.retired),
            "skipped_scanners": list(self.skipped_scanners),
            "already_installed": self.already_installed,
            "reference_tables": list(self.references),
        }


def install(
    db: Database, payload: dict[str, Any], publication: str, *, by: str = ""
) -> InstallResult:
    """Install a verified publication's steps for this site's scanners as approved steps.

    Scanners are matched by manufacturer + model + serial; the previous published steps of
    those scanners are retired; raw values and stored scores are never touched (``rescore``
    adds new score runs that reference the installed step ids).
    """
    published_at = str(payload["published_at"])
    origin = _("published by the centre {date}").format(date=published_at[:10])
    local = {(r.manufacturer, r.model, r.serial): r.id for r in scanner_rows(db)}
    already = db.execute(
        "SELECT 1 FROM calibration_steps WHERE json_extract(provenance, '$.centre_publication')"
        " = ? LIMIT 1",
        [publication],
    ).fetchone()
    if already:
        return InstallResult(publication, published_at, already_installed=True)
    matched: dict[int, list[dict[str, Any]]] = {}
    skipped: set[str] = set()
    for s in payload["steps"]:
        sid = local.get((str(s["manufacturer"]), str(s["model"]), str(s["serial"])))
        if sid is None:
            skipped.add(str(s["serial"]))
            continue
        matched.setdefault(sid, []).append(s)
    at = now_iso()
    installed: list[int] = []
    retired: list[int] = []
    references: list[str] = []
    with write_transaction(db):
        for scanner_id, steps in matched.items():
            old = [
                int(r[0])
                for r in db.execute(
                    "SELECT id FROM calibration_steps WHERE scanner_id = ? AND status = 'approved'"
                    " AND json_extract(provenance, '$.origin_kind') = ?",
                    [scanner_id, ORIGIN],
                )
            ]
            if old:
                marks = ",".join("?" * len(old))
                db.execute(
                    "UPDATE calibration_steps SET status = 'retired', retired_at = ?,"
                    f" valid_to = coalesce(valid_to, ?) WHERE id IN ({marks})",
                    [at, at[:10], *old],
                )
                retired.extend(old)
            for s in steps:
                prov = {
                    **s["provenance"],
                    "origin": origin,
                    "origin_kind": ORIGIN,
                    "centre_publication": publication,
                    "centre_step_id": s["centre_step_id"],
                    "centre_approved_by": s["approved_by"],
                    "centre_approved_at": s["approved_at"],
                    "published_at": published_at,
                }
                cur = db.execute(
                    "INSERT INTO calibration_steps (scanner_id, region, kind, intercept, slope,"
                    " valid_from, valid_to, status, method, dataset, n, provenance, proposed_at,"
                    " proposed_by, approved_at, approved_by, per_day, ramp_end, var_intercept,"
                    " var_slope, cov_intercept_slope)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?)",
                    [
                        scanner_id,
                        s["region"],
                        s["kind"],
                        float(s["intercept"]),
                        float(s["slope"]),
                        s["valid_from"],
                        s["valid_to"],
                        s["method"],
                        s["dataset"],
                        s["n"],
                        json.dumps(prov, sort_keys=True),
                        at,
                        "centre",
                        at,
                        origin,
                        float(s.get("per_day") or 0.0),  # absent in version 1 files
                        s.get("ramp_end"),
                        s.get("var_intercept"),
                        s.get("var_slope"),
                        s.get("cov_intercept_slope"),
                    ],
                )
                installed.append(int(cur.lastrowid or 0))
        scale = payload.get("national_scale")  # absent in version 1 files
        if payload.get("reference_scanner") and payload["reference_scanner"] != get_setting(
            db, REFERENCE_SCANNER_KEY
        ):
            set_setting(db, REFERENCE_SCANNER_KEY, str(payload["reference_scanner"]))
        if isinstance(scale, dict):
            here = current_scale(db)
            theirs = (int(scale["version"]), str(scale["scale"]), str(scale["hip_anchor"]))
            if (here.version, here.scale, here.hip_anchor) != theirs:
                add_scale(
                    db,
                    scale=theirs[1],
                    hip_anchor=theirs[2],
                    by=by or "centre",
                    reason=str(scale.get("reason") or ""),
                    origin=origin,
                    version=theirs[0],
                )
        for ref in payload.get("reference_tables") or []:  # absent in version 1 files
            table = reference_from_dict(ref["table"])
            if find_installed(db, table.name, table.version, table.purpose) is None:
                add_installed(
                    db, table, valid_from=str(ref["valid_from"]), by=by or "centre", origin=origin
                )
                references.append(f"{table.purpose} {table.name} {table.version}")
        audit(
            db,
            "centre_install_corrections",
            username=by,
            entity="publication",
            entity_id=publication,
            details={
                "published_at": published_at,
                "installed": installed,
                "retired": retired,
                "skipped_scanners": sorted(skipped),
                "reference_tables": references,
            },
        )
    return InstallResult(
        publication, published_at, installed, retired, sorted(skipped), references=references
    )
