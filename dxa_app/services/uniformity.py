"""Uniformity across scanners: one phantom or one patient, raw and harmonised, per scanner.

Raw values are what each scanner measured; harmonised values are the same readings passed
through the scanner's approved calibration chain valid on the scan date (``chain_for`` composed
with :func:`calibration.chain.compose`). A working calibration makes the harmonised values of
one object agree across scanners (a smaller spread) while the raw values stay untouched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from calibration.chain import compose
from dxa_app.archive.database import Database
from dxa_app.archive.scanners import scanner_rows
from dxa_app.archive.steps import approved_chain as chain_for
from dxa_app.archive.steps import is_harmonised, region_group
from dxa_app.domain import scanner_label
from dxa_app.errors import NotFoundError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting

PHANTOM = "phantom"
PATIENT = "patient"
#: The patient regions compared across scanners.
PATIENT_REGIONS = ("L1-L4", "total_hip", "femoral_neck")


@dataclass(frozen=True)
class Subject:
    """A phantom or patient measured on more than one scanner."""

    kind: str
    id: int
    label: str
    n_scanners: int


@dataclass(frozen=True)
class UniformityRow:
    """One scanner's mean reading of one region of the subject, raw and harmonised."""

    scanner_id: int
    serial: str
    site: str
    manufacturer: str
    model: str
    region: str
    side: str | None
    n: int
    raw: float
    harmonised: float
    calibrated: bool
    certified: float | None = None

    @property
    def scanner(self) -> str:
        """Return the scanner as "manufacturer model"."""
        return scanner_label(self.manufacturer, self.model)

    @property
    def region_key(self) -> str:
        """Return the region with its side, e.g. "total_hip L"."""
        return f"{self.region} {self.side}" if self.side else self.region


@dataclass(frozen=True)
class Uniformity:
    """The subject's readings on every scanner it was measured on."""

    subject: Subject
    rows: tuple[UniformityRow, ...]

    def regions(self) -> list[str]:
        """Return the region keys, in the order of the rows."""
        return list(dict.fromkeys(r.region_key for r in self.rows))

    def scanners(self) -> list[str]:
        """Return the serials of the scanners, in the order of the rows."""
        return list(dict.fromkeys(r.serial for r in self.rows))

    def spread(self, region_key: str, *, harmonised: bool) -> float:
        """Return max - min across scanners of one region (0 with fewer than two scanners).

        Parameters
        ----------
        region_key : str
            A region key from :meth:`regions`.
        harmonised : bool
            The harmonised (True) or raw (False) values.
        """
        values = [
            r.harmonised if harmonised else r.raw for r in self.rows if r.region_key == region_key
        ]
        return max(values) - min(values) if len(values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with the rows and the spread of every region."""
        return {
            "subject": {
                "kind": self.subject.kind,
                "id": self.subject.id,
                "label": self.subject.label,
            },
            "rows": [
                {
                    "serial": r.serial,
                    "site": r.site,
                    "region": r.region,
                    "side": r.side,
                    "n": r.n,
                    "raw": r.raw,
                    "harmonised": r.harmonised,
                    "calibrated": r.calibrated,
                    "certified": r.certified,
                }
                for r in self.rows
            ],
            "spread": {
                k: {
                    "raw": self.spread(k, harmonised=False),
                    "harmonised": self.spread(k, harmonised=True),
                }
                for k in self.regions()
            },
        }


def phantoms_on_several_scanners(db: Database) -> list[Subject]:
    """Return the phantoms scanned on two or more scanners (e.g. the travelling ESP)."""
    return [
        Subject(PHANTOM, r["id"], f"{r['kind']} {r['serial']}", r["n"])
        for r in db.query(
            "SELECT ph.id, ph.kind, ph.serial, count(DISTINCT ps.scanner_id) AS n"
            " FROM phantoms ph JOIN phantom_scans ps ON ps.phantom_id = ph.id"
            " GROUP BY ph.id HAVING n > 1 ORDER BY ph.kind, ph.serial"
        )
    ]


def patients_on_several_scanners(db: Database) -> list[Subject]:
    """Return the patients scanned on two or more scanners (the in-vivo sets)."""
    return [
        Subject(PATIENT, r["id"], f"{r['identifier']} {r['name']}".strip(), r["n"])
        for r in db.query(
            "SELECT p.id, p.identifier, p.name, count(DISTINCT st.scanner_id) AS n"
            " FROM patients p JOIN studies st ON st.patient_id = p.id"
            " GROUP BY p.id HAVING n > 1 ORDER BY p.identifier"
        )
    ]


def _harmonise(
    db: Database, scanner_id: int, region: str, on: str, raw: float
) -> tuple[float, bool]:
    steps = chain_for(db, scanner_id, region, on)
    a, b = compose(steps)
    return a + b * raw, is_harmonised(db, scanner_id, region, steps)


_Key = tuple[int, str, str | None]


def _rows(
    scanners: dict[int, dict[str, Any]],
    readings: dict[_Key, list[tuple[float, float, bool]]],
    certified: dict[str, float],
) -> tuple[UniformityRow, ...]:
    out = []
    for (scanner_id, region, side), values in readings.items():
        sc = scanners[scanner_id]
        n = len(values)
        out.append(
            UniformityRow(
                scanner_id,
                sc["serial"],
                sc["site"],
                sc["manufacturer"],
                sc["model"],
                region,
                side,
                n,
                sum(v[0] for v in values) / n,
                sum(v[1] for v in values) / n,
                all(v[2] for v in values),
                certified.get(region),
            )
        )
    out.sort(key=lambda r: (r.region_key, r.site, r.serial))
    return tuple(out)


def _scanners(db: Database) -> dict[int, dict[str, Any]]:
    return {
        r.id: {
            "id": r.id,
            "serial": r.serial,
            "manufacturer": r.manufacturer,
            "model": r.model,
            "site": r.site_code,
        }
        for r in scanner_rows(db)
    }


def phantom_uniformity(db: Database, phantom_id: int) -> Uniformity:
    """Return the mean reading of each phantom region on each scanner, raw and harmonised.

    The phantoms are spine phantoms, so a region outside the calibration groups (the
    phantom's "total") is harmonised with the spine chain.

    Parameters
    ----------
    db : Database
        The archive.
    phantom_id : int
        The phantom.

    Returns
    -------
    Uniformity
        One row per scanner and region, with the certified value when the phantom has one.

    Raises
    ------
    NotFoundError
        When there is no such phantom.
    """
    ph = list(db.query("SELECT * FROM phantoms WHERE id = ?", [phantom_id]))
    if not ph:
        raise NotFoundError(_("No phantom {id}.").format(id=phantom_id), "")
    readings: dict[_Key, list[tuple[float, float, bool]]] = defaultdict(list)
    scanner_ids: set[int] = set()
    for r in db.query(
        "SELECT ps.scanner_id, ps.acquired_at, pr.region, pr.bmd_g_cm2 FROM phantom_scans ps"
        " JOIN phantom_results pr ON pr.phantom_scan_id = ps.id"
        " WHERE ps.phantom_id = ? ORDER BY ps.acquired_at, ps.id",
        [phantom_id],
    ):
        chain_region = r["region"] if region_group(r["region"]) else "L1-L4"
        raw = float(r["bmd_g_cm2"])
        harmonised, calibrated = _harmonise(
            db, r["scanner_id"], chain_region, str(r["acquired_at"])[:10], raw
        )
        readings[(r["scanner_id"], r["region"], None)].append((raw, harmonised, calibrated))
        scanner_ids.add(r["scanner_id"])
    certified: dict[str, float] = {}
    for r in db.query(
        "SELECT region, bmd_g_cm2 FROM phantom_certified_values WHERE phantom_id = ?"
        " ORDER BY imported_at, id",
        [phantom_id],
    ):
        certified[r["region"]] = float(r["bmd_g_cm2"])
    subject = Subject(PHANTOM, phantom_id, f"{ph[0]['kind']} {ph[0]['serial']}", len(scanner_ids))
    return Uniformity(subject, _rows(_scanners(db), readings, certified))


def patient_uniformity(
    db: Database, patient_id: int, regions: tuple[str, ...] = PATIENT_REGIONS
) -> Uniformity:
    """Return one patient's readings per scanner (mean of that scanner's scans), raw and harmonised.

    Hip regions are kept apart per side; a region the scan analysis excluded is left out.

    Parameters
    ----------
    db : Database
        The archive.
    patient_id : int
        The patient.
    regions : tuple of str
        The regions compared (default L1-L4, total hip, femoral neck).

    Returns
    -------
    Uniformity
        One row per scanner, region and side.

    Raises
    ------
    NotFoundError
        When there is no such patient.
    """
    p = list(db.query("SELECT * FROM patients WHERE id = ?", [patient_id]))
    if not p:
        raise NotFoundError(_("No patient {id}.").format(id=patient_id), "")
    marks = ",".join("?" * len(regions))
    readings: dict[_Key, list[tuple[float, float, bool]]] = defaultdict(list)
    scanner_ids: set[int] = set()
    for r in db.query(
        "SELECT s.scanner_id, st.study_date, s.side, rr.region, rr.bmd_g_cm2"
        " FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
        " JOIN studies st ON st.id = s.study_id"
        f" WHERE st.patient_id = ? AND rr.region IN ({marks}) AND rr.bmd_g_cm2 IS NOT NULL"
        " AND rr.included = 1 ORDER BY st.study_date, s.id",
        [patient_id, *regions],
    ):
        raw = float(r["bmd_g_cm2"])
        harmonised, calibrated = _harmonise(
            db, r["scanner_id"], r["region"], str(r["study_date"])[:10], raw
        )
        readings[(r["scanner_id"], r["region"], r["side"])].append((raw, harmonised, calibrated))
        scanner_ids.add(r["scanner_id"])
    label = f"{p[0]['identifier']} {p[0]['name']}".strip()
    return Uniformity(
        Subject(PATIENT, patient_id, label, len(scanner_ids)), _rows(_scanners(db), readings, {})
    )


def uniformity_subjects(session: Session) -> list[Subject]:
    """Return the phantoms, then the patients, measured on more than one scanner.

    Parameters
    ----------
    session : Session
        The logged-in user.

    Returns
    -------
    list of Subject
        The subjects to compare.
    """
    with acting(session, Permission.VIEW) as db:
        return phantoms_on_several_scanners(db) + patients_on_several_scanners(db)


def uniformity(session: Session, subject: Subject) -> Uniformity:
    """Return the uniformity of a phantom or patient subject, raw and harmonised.

    Parameters
    ----------
    session : Session
        The logged-in user.
    subject : Subject
        The phantom or patient.

    Returns
    -------
    Uniformity
        One row per scanner and region.
    """
    with acting(session, Permission.VIEW) as db:
        if subject.kind == PHANTOM:
            return phantom_uniformity(db, subject.id)
        return patient_uniformity(db, subject.id)
