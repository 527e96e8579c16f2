"""Score a study: harmonised BMD through the chain, T and Z on the national reference, category.

Scores are stored append-only with the chain step ids and the reference versions that made
them, so an old report can be reproduced and past scans re-expressed on today's chain
(``rescore`` adds rows only for the values that changed; the old ones stay).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import dxa_app
from calibration.chain import ChainStep, compose, harmonise_with_uncertainty
from calibration.reference import ReferenceTable, load_reference
from calibration.rounding import format_bmd, format_score
from calibration.scores import (
    Category,
    Diagnosis,
    NoDiagnosticRegionError,
    RegionScore,
    classify_t,
    classify_z,
    diagnose,
    t_score,
    uses_z_score,
    vertebra_exclusion_hints,
    z_score,
)
from dxa_app.archive import get_setting, set_setting
from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.archive.db import short_wait as _short_wait_for_write
from dxa_app.archive.precision import PrecisionRow, latest_precision
from dxa_app.archive.references import installed_tables
from dxa_app.archive.scale import current_scale
from dxa_app.archive.scores import (
    RunWritten,
    StoredDiagnosis,
    StoredScore,
    latest_run,
    store_run,
    unscored_study_ids,
)
from dxa_app.archive.steps import approved_chain as chain_for
from dxa_app.archive.steps import (
    is_harmonised,
    region_group,
    scale_anchor,
    scoring_fingerprints,
)
from dxa_app.archive.studies import (
    has_fragility_fracture,
    latest_vfa_reading,
    study_id_for,
    study_ids,
    study_ids_on_scanners,
)
from dxa_app.errors import NotFoundError
from dxa_app.i18n import _
from dxa_app.resources import resource_path
from dxa_app.services.auth import Permission, Session, acting, record
from reports.labels import category_label

#: Archive settings naming the reference files (in resources/reference) in use.
T_REFERENCE_KEY = "reference.T"
Z_REFERENCE_KEY = "reference.Z"
DEFAULT_T_REFERENCES = ("spine_provisional_T.json", "nhanes3_femur_women_T.json")
DEFAULT_Z_REFERENCE = "z_provisional.json"

#: Which reference region scores each archive region (single vertebrae use the L1-L4 table:
#: their T-scores only feed the exclusion hint, never the diagnosis).
REFERENCE_REGION = {
    "L1": "L1-L4",
    "L2": "L1-L4",
    "L3": "L1-L4",
    "L4": "L1-L4",
    "L1-L4": "L1-L4",
    "L2-L4": "L1-L4",
    "total_hip": "total_hip",
    "femoral_neck": "femoral_neck",
    "radius_33": "radius_33",
}


@cache
def _load(name: str) -> ReferenceTable:
    return load_reference(resource_path("reference", name))


def reference_tables(db: Database) -> tuple[list[ReferenceTable], ReferenceTable]:
    """Return the shipped T tables and Z table in use (archive settings, else the defaults)."""
    t_names = get_setting(db, T_REFERENCE_KEY, list(DEFAULT_T_REFERENCES))
    z_name = get_setting(db, Z_REFERENCE_KEY, DEFAULT_Z_REFERENCE)
    return [_load(n) for n in t_names], _load(z_name)


def reference_sets(db: Database, on: str) -> tuple[list[ReferenceTable], list[ReferenceTable]]:
    """Return the T and the Z tables that apply to a scan date, in the order they are asked.

    Tables installed by the centre or an administrator (``reference install``) that apply
    on the date come first, newest start first; the shipped tables come last. The first
    table that covers a region scores it, so a spine-only table replaces the provisional
    spine reference and leaves the hip to NHANES III. A scan before a table's start date
    keeps the table it had, so rescoring never moves an old study onto a newer table.

    Parameters
    ----------
    db : Database
        The open archive.
    on : str
        The ISO scan date.

    Returns
    -------
    tuple of list of ReferenceTable
        The T tables and the Z tables.
    """
    shipped_t, shipped_z = reference_tables(db)
    t = [x.table for x in installed_tables(db, "T", on)] + shipped_t
    z = [x.table for x in installed_tables(db, "Z", on)] + [shipped_z]
    return t, z


def _lookup(
    tables: list[ReferenceTable], region: str, sex: str, age: float | None
) -> tuple[float, float, ReferenceTable] | None:
    for table in tables:
        try:
            mean, sd = table.lookup(region, sex, age)
        except KeyError:
            continue
        return mean, sd, table
    return None


#: Two-sided 95 % coverage factor of a normal distribution.
Z95 = 1.959963984540054


@cache
def _iscd_minimum_cv() -> dict[str, float]:
    data = json.loads(
        resource_path("calibration", "iscd_precision_minimums.json").read_text(encoding="utf-8")
    )
    return {str(k): float(v) for k, v in data["minimum_cv_pct"].items()}


def _precision_sd(
    db: Database,
    scanner_id: int,
    region: str,
    raw: float,
    found: dict[tuple[int, str], PrecisionRow | None],
) -> tuple[float, str]:
    """The scanner's precision (RMS-SD, g/cm2): its latest study, else the ISCD minimum.

    ``found`` keeps the studies looked up so far (by scanner and region) for the next region
    of the same study: L1 to L4 all ask for the L1-L4 study.
    """

    def latest(name: str) -> PrecisionRow | None:
        key = (scanner_id, name)
        if key not in found:
            found[key] = latest_precision(db, scanner_id, name)
        return found[key]

    study = latest(REFERENCE_REGION.get(region, region))
    if study is None and region in REFERENCE_REGION:
        study = latest(region)
    if study is not None and study.rms_sd_g_cm2:
        return float(study.rms_sd_g_cm2), "precision"
    cvs = _iscd_minimum_cv()
    cv = cvs.get(REFERENCE_REGION.get(region, region), max(cvs.values()))
    return cv / 100 * raw, "iscd_minimum"


def _category_range(
    regions: Sequence[RegionRow], *, use_z: bool, fracture: bool
) -> tuple[str, str] | None:
    """The diagnosis at the low and the high ends of every diagnostic score's 95 % interval."""
    diag = [x for x in regions if x.region in ("L1-L4", "L2-L4", "total_hip", "femoral_neck")]
    ends = []
    for end in (0, 1):
        scores = []
        for x in diag:
            interval = x.z_interval if use_z else x.t_interval
            if interval is None:
                continue
            value = interval[end]
            scores.append(
                RegionScore(
                    x.region, x.harmonised_bmd, None if use_z else value, value if use_z else None
                )
            )
        try:
            ends.append(str(diagnose(scores, use_z=use_z, fragility_fracture=fracture).category))
        except ValueError:
            return None
    return ends[0], ends[1]


def age_at(birth: str | None, on: str) -> float | None:
    """Return the age in whole years at a date (None without a birth date)."""
    if not birth:
        return None
    b, d = dt.date.fromisoformat(birth), dt.date.fromisoformat(on)
    return float(d.year - b.year - ((d.month, d.day) < (b.month, b.day)))


@dataclass(frozen=True)
class RegionRow:
    """The scores of one region of one study."""

    region: str
    scan_type: str
    side: str | None
    included: bool
    raw_bmd: float
    harmonised_bmd: float
    chain: tuple[int, ...]
    chain_kinds: tuple[str, ...]
    chain_a: float
    chain_b: float
    t: float | None
    z: float | None
    t_printed: str | None
    z_printed: str | None
    category: str | None
    t_reference: str
    z_reference: str
    region_result_id: int = 0
    harmonised: bool = True
    #: Standard uncertainty of the harmonised BMD from the chain's fits (g/cm2).
    calibration_sd: float = 0.0
    #: The scanner's precision in harmonised units (g/cm2) and where it came from.
    precision_sd: float = 0.0
    precision_source: str = ""
    #: The 95 % interval of T (and Z) from both, and whether it crosses a threshold.
    t_interval: tuple[float, float] | None = None
    z_interval: tuple[float, float] | None = None
    near_threshold: bool = False

    @property
    def total_sd(self) -> float:
        """Return the combined standard uncertainty (calibration and precision), g/cm2."""
        return math.hypot(self.calibration_sd, self.precision_sd)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (BMD rounded for display in ``*_printed``)."""
        return {
            "region": self.region,
            "scan_type": self.scan_type,
            "side": self.side,
            "included": self.included,
            "raw_bmd": self.raw_bmd,
            "raw_bmd_printed": format_bmd(self.raw_bmd),
            "harmonised_bmd": self.harmonised_bmd,
            "harmonised_bmd_printed": format_bmd(self.harmonised_bmd),
            "chain_steps": list(self.chain),
            "chain_kinds": list(self.chain_kinds),
            "chain_intercept": self.chain_a,
            "chain_slope": self.chain_b,
            "t": self.t,
            "z": self.z,
            "t_printed": self.t_printed,
            "z_printed": self.z_printed,
            "category": self.category,
            "t_reference": self.t_reference,
            "z_reference": self.z_reference,
            "harmonised": self.harmonised,
            "calibration_sd": self.calibration_sd,
            "precision_sd": self.precision_sd,
            "precision_source": self.precision_source,
            "t_interval": None if self.t_interval is None else list(self.t_interval),
            "z_interval": None if self.z_interval is None else list(self.z_interval),
            "near_threshold": self.near_threshold,
        }


@dataclass(frozen=True)
class StudyScores:
    """All scores of one study and its WHO/ISCD diagnosis.

    ``diagnosis`` is None when no diagnostic region (lumbar range, total hip, femoral neck,
    radius 33 %) has the score needed, e.g. a whole-body or lateral-spine study: its values
    are shown, and a note says why there is no diagnosis.
    """

    study_id: int
    study_uid: str
    study_date: str
    patient: str
    sex: str | None
    age: float | None
    score_kind: str
    regions: tuple[RegionRow, ...]
    diagnosis: Diagnosis | None
    harmonised: bool
    exclusion_hints: tuple[str, ...] = ()
    run: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The diagnosis at the low and the high ends of the scores' 95 % intervals differs.
    near_threshold: bool = False
    category_range: tuple[str, str] | None = None
    #: Lumbar vertebrae with a grade 2-3 fracture on the newest VFA reading: suggested for
    #: exclusion from the lumbar spine BMD (a fracture raises the vertebra's BMD).
    fractured_vertebrae: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the documented JSON shape of ``scores --json`` (see README)."""
        d = self.diagnosis
        return {
            "study_id": self.study_id,
            "study_uid": self.study_uid,
            "study_date": self.study_date,
            "patient": self.patient,
            "sex": self.sex,
            "age": self.age,
            "score_kind": self.score_kind,
            "harmonised": self.harmonised,
            "diagnosis": None
            if d is None
            else {
                "category": str(d.category),
                "score_kind": d.score_kind,
                "deciding_region": d.deciding_region,
                "printed_score": None if d.printed_score is None else str(d.printed_score),
                "note": d.note,
            },
            "vertebra_exclusion_hints": list(self.exclusion_hints),
            "fractured_vertebrae": list(self.fractured_vertebrae),
            "regions": [r.to_dict() for r in self.regions],
            "run": self.run,
            "notes": list(self.notes),
            "near_threshold": self.near_threshold,
            "category_range": None if self.category_range is None else list(self.category_range),
        }


def compute_study_scores(db: Database, study_id: int) -> StudyScores:
    """Compute (without storing) the scores of a study on the current approved chain.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    rows = list(
        db.query(
            "SELECT st.id, st.study_uid, st.study_date, st.menopausal, p.identifier, p.sex,"
            " p.birth_date FROM studies st JOIN patients p ON p.id = st.patient_id WHERE st.id = ?",
            [study_id],
        )
    )
    if not rows:
        raise NotFoundError(
            _("No study {id}.").format(id=study_id), _("See 'studies' for the study ids.")
        )
    st = rows[0]
    sex = st["sex"] or "O"
    age = age_at(st["birth_date"], st["study_date"])
    menopausal = None if st["menopausal"] is None else bool(st["menopausal"])
    use_z = uses_z_score(sex, age if age is not None else 99.0, menopausal)
    t_tables, z_tables = reference_sets(db, st["study_date"])
    results = db.query(
        "SELECT rr.id AS rr_id, rr.region, rr.bmd_g_cm2, rr.included, s.scanner_id, s.scan_type,"
        " s.side FROM region_results rr JOIN scans s ON s.id = rr.scan_id"
        " WHERE s.study_id = ? AND rr.bmd_g_cm2 IS NOT NULL ORDER BY s.id, rr.id",
        [study_id],
    )
    regions: list[RegionRow] = []
    notes: list[str] = []
    harmonised_all = True
    # read once for all the study's regions: the national scale, each scanner's chain per
    # region group (a step applies to a group, so L1 to L4 share one) and precision studies
    scale = current_scale(db)
    chains: dict[tuple[int, str | None], list[ChainStep]] = {}
    precisions: dict[tuple[int, str], PrecisionRow | None] = {}
    for r in results:
        group = (r["scanner_id"], region_group(r["region"]))
        if group not in chains:
            chains[group] = chain_for(db, r["scanner_id"], r["region"], st["study_date"])
        steps = chains[group]
        a, b = compose(steps)
        on_scale = is_harmonised(db, r["scanner_id"], r["region"], steps, scale=scale)
        anchor = scale_anchor(db, r["region"], scale=scale) == r["scanner_id"]
        harmonised, u_cal = harmonise_with_uncertainty(r["bmd_g_cm2"], steps, identity=anchor)
        harmonised = a + b * r["bmd_g_cm2"]  # the composed line (same value, one formula)
        prec_raw, prec_source = _precision_sd(
            db, r["scanner_id"], r["region"], r["bmd_g_cm2"], precisions
        )
        u_prec = b * prec_raw
        u_tot = math.hypot(u_cal, u_prec)
        ref_region = REFERENCE_REGION.get(r["region"])
        t = z = None
        t_int = z_int = None
        t_ref = z_ref = ""
        if ref_region is not None:
            if not on_scale:
                harmonised_all = False
            found = _lookup(t_tables, ref_region, "F", None)  # ISCD: female reference for all
            if found is not None:
                mean, sd, table = found
                t = t_score(harmonised, mean, sd)
                t_int = (t - Z95 * u_tot / sd, t + Z95 * u_tot / sd)
                t_ref = f"{table.name} {table.version}"
            zf = _lookup(z_tables, ref_region, sex, age)
            if zf is not None:
                mean, sd, table = zf
                z = z_score(harmonised, mean, sd)
                z_int = (z - Z95 * u_tot / sd, z + Z95 * u_tot / sd)
                z_ref = f"{table.name} {table.version}"
        category: str | None = None
        near = False
        if use_z and z is not None and z_int is not None:
            category = str(classify_z(z))
            near = classify_z(z_int[0]) != classify_z(z_int[1])
        elif not use_z and t is not None and t_int is not None:
            category = str(classify_t(t))
            near = classify_t(t_int[0]) != classify_t(t_int[1])
        regions.append(
            RegionRow(
                r["region"],
                r["scan_type"],
                r["side"],
                bool(r["included"]),
                r["bmd_g_cm2"],
                harmonised,
                tuple(s.step_id for s in steps if s.step_id is not None),
                tuple(s.kind for s in steps),
                a,
                b,
                t,
                z,
                None if t is None else format_score(t),
                None if z is None else format_score(z),
                category,
                t_ref,
                z_ref,
                r["rr_id"],
                on_scale,
                u_cal,
                u_prec,
                prec_source,
                t_int,
                z_int,
                near,
            )
        )
    if not harmonised_all:
        notes.append(
            _(
                "Some diagnostic regions have no approved calibration step; their raw"
                " values were scored."
            )
        )
    diag_input = [
        RegionScore(x.region, x.harmonised_bmd, x.t, x.z)
        for x in regions
        if x.region in ("L1-L4", "L2-L4", "total_hip", "femoral_neck", "radius_33")
    ]
    fracture = has_fragility_fracture(db, study_id)
    diagnosis: Diagnosis | None
    try:
        diagnosis = diagnose(diag_input, use_z=use_z, fragility_fracture=fracture)
    except NoDiagnosticRegionError:
        diagnosis = None
        notes.append(
            _(
                "No diagnosis: no diagnostic region (lumbar spine, total hip, femoral neck,"
                " radius 33%) has a {kind}-score in this study."
            ).format(kind="Z" if use_z else "T")
        )
    category_range = _category_range(regions, use_z=use_z, fracture=fracture)
    near_threshold = category_range is not None and category_range[0] != category_range[1]
    if near_threshold and category_range is not None:
        notes.append(
            _(
                "Near threshold: category uncertain. With the calibration and the scanner's"
                " precision, the category could be {low} to {high}."
            ).format(
                low=category_label(category_range[0], _).lower(),
                high=category_label(category_range[1], _).lower(),
            )
        )
    hints = vertebra_exclusion_hints(
        {x.region: x.t for x in regions if x.region in ("L1", "L2", "L3", "L4") and x.t is not None}
    )
    return StudyScores(
        st["id"],
        st["study_uid"],
        st["study_date"],
        st["identifier"],
        st["sex"],
        age,
        "Z" if use_z else "T",
        tuple(regions),
        diagnosis,
        harmonised_all,
        tuple(hints),
        notes=tuple(notes),
        near_threshold=near_threshold,
        category_range=category_range,
        fractured_vertebrae=_fractured_vertebrae(db, study_id),
    )


def _fractured_vertebrae(db: Database, study_id: int) -> tuple[str, ...]:
    """Return the lumbar vertebrae with a grade 2-3 fracture on the study's newest VFA reading."""
    reading = latest_vfa_reading(db, study_id)
    if reading is None:
        return ()
    return tuple(
        str(f["level"])
        for f in reading.findings
        if f["level"] in ("L1", "L2", "L3", "L4") and (f["grade"] or 0) >= 2
    )


def _stored(scores: StudyScores) -> tuple[list[StoredScore], StoredDiagnosis | None]:
    """The values of a study's scores as the archive keeps them."""
    rows = [
        StoredScore(
            r.region_result_id,
            r.region,
            r.raw_bmd,
            r.harmonised_bmd,
            tuple(r.chain),
            r.chain_a,
            r.chain_b,
            r.t_reference,
            r.z_reference,
            r.t,
            r.z,
            r.t_printed,
            r.z_printed,
            scores.age,
        )
        for r in scores.regions
    ]
    d = scores.diagnosis
    diagnosis = (
        None
        if d is None
        else StoredDiagnosis(
            d.score_kind,
            str(d.category),
            d.deciding_region,
            None if d.printed_score is None else str(d.printed_score),
            d.note,
            scores.harmonised,
        )
    )
    return rows, diagnosis


def _store(
    db: Database, scores: StudyScores, *, by: str, run: str | None = None
) -> tuple[StudyScores, RunWritten]:
    run_id = run or f"{now_iso()}-{secrets.token_hex(4)}"
    rows, diagnosis = _stored(scores)
    written = store_run(db, scores.study_id, rows, diagnosis, run=run_id, at=now_iso(), by=by)
    stored = written.run if written.run is not None else latest_run(db, scores.study_id)
    return StudyScores(**{**scores.__dict__, "run": stored or ""}), written


def store_scores(
    db: Database, scores: StudyScores, *, by: str = "", run: str | None = None
) -> StudyScores:
    """Store a study's scores as a new run and return them with the run id.

    Only the regions whose values changed since the study's newest run get a new row, and
    the diagnosis only when it changed; earlier runs read as before. When nothing changed,
    nothing is stored and the scores come back with the newest run's id.
    """
    return _store(db, scores, by=by, run=run)[0]


def score_study(db: Database, study_id: int, *, by: str = "") -> StudyScores:
    """Return the study's scores on the current chain, storing a new run when a value changed.

    Idempotent: scoring twice on the same chain and references stores one run; a new run
    holds only the region scores (and the diagnosis) that differ from the previous run.
    """
    return store_scores(db, compute_study_scores(db, study_id), by=by)


#: The archive setting that keeps, per scanner, the fingerprint of the last rescore.
RESCORED_KEY = "rescore.fingerprints"


def _fingerprints(db: Database) -> dict[str, str]:
    """Return per scanner (as text) the fingerprint of what its scores depend on now."""
    context = json.dumps(
        [
            dxa_app.__version__,
            get_setting(db, T_REFERENCE_KEY, list(DEFAULT_T_REFERENCES)),
            get_setting(db, Z_REFERENCE_KEY, DEFAULT_Z_REFERENCE),
        ],
        sort_keys=True,
    )
    return {str(k): v for k, v in scoring_fingerprints(db, context).items()}


def rescore(db: Database, *, by: str = "") -> dict[str, int]:
    """Re-express on the current chain the studies whose chain or references may have changed.

    Only studies on a scanner whose calibration steps (or the shared national scale,
    reference tables and reference settings) changed since the last rescore are computed
    again, and studies never scored; each stores a new run only when a value (BMD, chain,
    reference, T, Z, diagnosis) differs from its last run, and the run holds only the rows
    that differ. Old scores are kept and old runs read as before.

    Returns
    -------
    dict
        ``{"studies": n, "new_runs": m, "unchanged": k, "recomputed": r, "score_rows": s,
        "diagnosis_rows": d}``: every study, the runs stored, the studies left as they were,
        the studies computed again, and the region score and diagnosis rows written (a run
        stores only the values that changed).
    """
    ids = study_ids(db)
    now = _fingerprints(db)
    before = get_setting(db, RESCORED_KEY, {}) or {}
    changed = {int(s) for s, fp in now.items() if before.get(s) != fp}
    todo = sorted(set(study_ids_on_scanners(db, changed)) | set(unscored_study_ids(db)))
    new = score_rows = diagnosis_rows = 0
    for sid in todo:
        written = _store(db, compute_study_scores(db, sid), by=by)[1]
        new += int(written.run is not None)
        score_rows += written.score_rows
        diagnosis_rows += written.diagnosis_rows
    set_setting(db, RESCORED_KEY, now)
    return {
        "studies": len(ids),
        "new_runs": new,
        "unchanged": len(ids) - new,
        "recomputed": len(todo),
        "score_rows": score_rows,
        "diagnosis_rows": diagnosis_rows,
    }


def category_of_printed(value: Decimal, use_z: bool) -> Category:
    """Return the category of an already printed score (helper for reports and tests)."""
    return classify_z(float(value)) if use_z else classify_t(float(value))


def reference_files() -> list[Path]:
    """Return the reference table files shipped in resources/reference."""
    return sorted(resource_path("reference").glob("*.json"))


def study_scores(session: Session, study: str | int) -> StudyScores:
    """Return a study's scores on the current chain (a new run is stored when it changed).

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    StudyScores
        Per region raw and harmonised BMD, chain, T, Z, category, and the diagnosis.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        try:
            with _short_wait_for_write(db):
                return score_study(db, study_id, by=session.username)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            # a long write (a large import) holds the lock: show the scores, store them later
            return compute_study_scores(db, study_id)


def rescore_all(session: Session) -> dict[str, int]:
    """Re-express every study on the current calibration; old scores are kept; audited.

    Parameters
    ----------
    session : Session
        The acting user.

    Returns
    -------
    dict
        ``{"studies": n, "new_runs": m, "unchanged": k}``.
    """
    with acting(session, Permission.RESCORE) as db:
        result = rescore(db, by=session.username)
        record(db, session, "rescore", entity="archive", details=result)
    return result
