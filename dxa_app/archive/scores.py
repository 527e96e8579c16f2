"""Stored score runs: each run keeps only the region scores and the diagnosis that changed.

A study's runs are numbered in the order stored (``score_runs.id``). A run writes a score row
for a region result only when one of its values (BMD, chain, references, T, Z, printed
scores, age) differs from the study's previous run, and a diagnosis row only when the
diagnosis differs; ``score_runs.diagnosis_id`` names the diagnosis that applies to the run.
The scores "as of run N" are, per region result, the newest row of a run up to N, so an old
run reads exactly as it did when it was stored. Runs stored before migration 0019 are
complete copies and read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dxa_app.archive.database import Database
from dxa_app.archive.db import write_transaction


@dataclass(frozen=True)
class StoredScore:
    """One region result's stored score (the values a run compares and keeps)."""

    region_result_id: int
    region: str
    raw_bmd: float
    harmonised_bmd: float
    chain: tuple[int, ...]
    chain_intercept: float
    chain_slope: float
    t_reference: str
    z_reference: str
    t_score: float | None
    z_score: float | None
    t_printed: str | None
    z_printed: str | None
    age_years: float | None


@dataclass(frozen=True)
class StoredDiagnosis:
    """A study's stored WHO/ISCD diagnosis."""

    score_kind: str
    category: str
    deciding_region: str | None
    printed_score: str | None
    note: str
    harmonised: bool


@dataclass(frozen=True)
class RunRow:
    """A stored score as of a run, with the scan side it was measured on."""

    score: StoredScore
    side: str | None


@dataclass(frozen=True)
class RunWritten:
    """What storing a run wrote: the run id (None when nothing changed) and the rows."""

    run: str | None
    score_rows: int
    diagnosis_rows: int


_SCORE_COLUMNS = (
    "sc.region_result_id, sc.region, sc.raw_bmd_g_cm2, sc.harmonised_bmd_g_cm2, sc.chain,"
    " sc.chain_intercept, sc.chain_slope, sc.t_reference, sc.z_reference, sc.t_score,"
    " sc.z_score, sc.t_printed, sc.z_printed, sc.age_years"
)


def _score(r: Sequence[object]) -> StoredScore:
    return StoredScore(
        int(r[0]),  # type: ignore[call-overload]
        str(r[1]),
        float(r[2]),  # type: ignore[arg-type]
        float(r[3]),  # type: ignore[arg-type]
        tuple(int(i) for i in json.loads(str(r[4] or "[]"))),
        float(r[5]),  # type: ignore[arg-type]
        float(r[6]),  # type: ignore[arg-type]
        str(r[7] or ""),
        str(r[8] or ""),
        None if r[9] is None else float(r[9]),  # type: ignore[arg-type]
        None if r[10] is None else float(r[10]),  # type: ignore[arg-type]
        None if r[11] is None else str(r[11]),
        None if r[12] is None else str(r[12]),
        None if r[13] is None else float(r[13]),  # type: ignore[arg-type]
    )


def _run_seq(db: Database, study_id: int, run: str | None) -> int | None:
    """The stored order of a study's run (its newest run when ``run`` is None)."""
    if run is None:
        row = db.execute("SELECT max(id) FROM score_runs WHERE study_id = ?", [study_id]).fetchone()
    else:
        row = db.execute(
            "SELECT id FROM score_runs WHERE study_id = ? AND run = ?", [study_id, run]
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def latest_run(db: Database, study_id: int) -> str | None:
    """Return the id of a study's newest stored score run, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    str or None
        The run id.
    """
    row = db.execute(
        "SELECT run FROM score_runs WHERE study_id = ? ORDER BY id DESC LIMIT 1", [study_id]
    ).fetchone()
    return None if row is None else str(row[0])


def run_rows(db: Database, study_id: int, run: str | None = None) -> list[RunRow]:
    """Return a study's region scores as of one run (its newest run when ``run`` is None).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    run : str, optional
        The run id (a report version's ``score_run``).

    Returns
    -------
    list of RunRow
        Per region result the newest row of a run up to ``run``, in the order the study's
        scans and regions are scored (empty for an unknown run).
    """
    seq = _run_seq(db, study_id, run)
    if seq is None:
        return []
    rows = db.execute(
        f"SELECT {_SCORE_COLUMNS}, s.side, s.id FROM scores sc"
        " JOIN score_runs sr ON sr.study_id = sc.study_id AND sr.run = sc.run"
        " JOIN region_results rr ON rr.id = sc.region_result_id JOIN scans s ON s.id = rr.scan_id"
        " WHERE sc.study_id = ? AND sr.id <= ? ORDER BY sr.id, sc.id",
        [study_id, seq],
    ).fetchall()
    newest: dict[int, tuple[int, RunRow]] = {}
    for r in rows:
        newest[int(r[0])] = (int(r[15]), RunRow(_score(r), r[14]))
    return [row for _key, (_scan, row) in sorted(newest.items(), key=lambda kv: (kv[1][0], kv[0]))]


def run_diagnosis(db: Database, study_id: int, run: str | None = None) -> StoredDiagnosis | None:
    """Return the diagnosis that applies to one run (the newest run when ``run`` is None).

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    run : str, optional
        The run id.

    Returns
    -------
    StoredDiagnosis or None
        None when the run has no diagnosis (no diagnostic region) or does not exist.
    """
    seq = _run_seq(db, study_id, run)
    if seq is None:
        return None
    row = db.execute(
        "SELECT d.score_kind, d.category, d.deciding_region, d.printed_score, d.note,"
        " d.harmonised FROM score_runs sr JOIN diagnoses d ON d.id = sr.diagnosis_id"
        " WHERE sr.id = ?",
        [seq],
    ).fetchone()
    if row is None:
        return None
    return StoredDiagnosis(
        str(row[0]), str(row[1]), row[2], row[3], str(row[4] or ""), bool(row[5])
    )


def store_run(
    db: Database,
    study_id: int,
    scores: Sequence[StoredScore],
    diagnosis: StoredDiagnosis | None,
    *,
    run: str,
    at: str,
    by: str = "",
) -> RunWritten:
    """Store a study's freshly computed scores as a new run, writing only what changed.

    A region result gets a new score row when any of its values differs from the study's
    newest run (or it had none); the diagnosis gets a new row when it differs. When
    nothing differs no run is stored. A study's first run is always stored (even with no
    region), so it counts as scored.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    scores : sequence of StoredScore
        Every region's score, computed now.
    diagnosis : StoredDiagnosis or None
        The diagnosis computed now (None without a diagnostic region).
    run : str
        The new run's id.
    at : str
        When it was computed (ISO time).
    by : str, optional
        Who computed it.

    Returns
    -------
    RunWritten
        The run stored (None when nothing changed) and the score and diagnosis rows written.
    """
    with write_transaction(db):
        last_seq = _run_seq(db, study_id, None)
        before = {r.score.region_result_id: r.score for r in run_rows(db, study_id)}
        changed = [s for s in scores if before.get(s.region_result_id) != s]
        old_diag_id: int | None = None
        old_diag: StoredDiagnosis | None = None
        if last_seq is not None:
            row = db.execute(
                "SELECT diagnosis_id FROM score_runs WHERE id = ?", [last_seq]
            ).fetchone()
            old_diag_id = None if row is None or row[0] is None else int(row[0])
            old_diag = run_diagnosis(db, study_id)
        if last_seq is not None and not changed and old_diag == diagnosis:
            return RunWritten(None, 0, 0)
        diag_id = old_diag_id
        new_diag = 0
        if diagnosis is None:
            diag_id = None
        elif diagnosis != old_diag:
            cur = db.execute(
                "INSERT INTO diagnoses (study_id, score_kind, category, deciding_region,"
                " printed_score, note, harmonised, computed_at, run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    study_id,
                    diagnosis.score_kind,
                    diagnosis.category,
                    diagnosis.deciding_region,
                    diagnosis.printed_score,
                    diagnosis.note,
                    int(diagnosis.harmonised),
                    at,
                    run,
                ],
            )
            diag_id = cur.lastrowid
            new_diag = 1
        db.execute(
            "INSERT INTO score_runs (study_id, run, computed_at, computed_by, diagnosis_id,"
            " rows_written) VALUES (?, ?, ?, ?, ?, ?)",
            [study_id, run, at, by, diag_id, len(changed)],
        )
        for s in changed:
            db.execute(
                "INSERT INTO scores (region_result_id, region, raw_bmd_g_cm2,"
                " harmonised_bmd_g_cm2, chain, chain_intercept, chain_slope, t_reference,"
                " z_reference, t_score, z_score, t_printed, z_printed, age_years, study_id,"
                " computed_at, computed_by, run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    s.region_result_id,
                    s.region,
                    s.raw_bmd,
                    s.harmonised_bmd,
                    json.dumps(list(s.chain)),
                    s.chain_intercept,
                    s.chain_slope,
                    s.t_reference,
                    s.z_reference,
                    s.t_score,
                    s.z_score,
                    s.t_printed,
                    s.z_printed,
                    s.age_years,
                    study_id,
                    at,
                    by,
                    run,
                ],
            )
    return RunWritten(run, len(changed), new_diag)


def unscored_study_ids(db: Database) -> list[int]:
    """Return the studies that have no stored score run yet, in order.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of int
        The study ids.
    """
    sql = (
        "SELECT id FROM studies st WHERE NOT EXISTS"
        " (SELECT 1 FROM score_runs sr WHERE sr.study_id = st.id) ORDER BY id"
    )
    return [int(r[0]) for r in db.execute(sql).fetchall()]


def newest_diagnoses(db: Database) -> dict[int, StoredDiagnosis]:
    """Return the diagnosis of each study's newest run (studies without one left out).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    dict of int to StoredDiagnosis
        Diagnosis by study id.
    """
    rows = db.execute(
        "SELECT sr.study_id, d.score_kind, d.category, d.deciding_region, d.printed_score,"
        " d.note, d.harmonised FROM score_runs sr JOIN diagnoses d ON d.id = sr.diagnosis_id"
        " WHERE sr.id = (SELECT max(id) FROM score_runs WHERE study_id = sr.study_id)"
    ).fetchall()
    return {
        int(r[0]): StoredDiagnosis(str(r[1]), str(r[2]), r[3], r[4], str(r[5] or ""), bool(r[6]))
        for r in rows
    }


def newest_printed_t(db: Database) -> dict[int, dict[str, str | None]]:
    """Return per study the printed T-score of each region as of its newest run.

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    dict of int to dict of str to str or None
        Printed T by region name, by study id (a region measured twice keeps the later).
    """
    newest: dict[tuple[int, int], tuple[str, str | None]] = {}
    for sid, rr, region, printed in db.execute(
        "SELECT study_id, region_result_id, region, t_printed FROM scores ORDER BY id"
    ).fetchall():
        newest[(int(sid), int(rr))] = (str(region), printed)
    out: dict[int, dict[str, str | None]] = {}
    for (sid, _rr), (region, printed) in sorted(newest.items()):
        out.setdefault(sid, {})[region] = printed
    return out
