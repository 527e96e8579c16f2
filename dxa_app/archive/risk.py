"""The risk-factor table family: questionnaire versions and FRAX results (append-only).

A questionnaire is never overwritten: a correction is a new version of the study's answers,
with who entered it and when; an import carries a source key so that importing the same file
again adds nothing. FRAX results are recorded the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dxa_app.archive.database import Database
from dxa_app.archive.db import now_iso
from dxa_app.archive.scores import newest_diagnoses, newest_printed_t


@dataclass(frozen=True)
class RiskRow:
    """One stored version of a study's questionnaire."""

    id: int
    study_id: int
    version_no: int
    answers: dict[str, Any]
    source: str
    entered_by: str
    entered_at: str
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class FraxRow:
    """One stored FRAX result of a study, as the external calculator gave it."""

    id: int
    study_id: int
    version_no: int
    major_osteoporotic_pct: float
    hip_pct: float
    model: str
    calculator_version: str
    inputs: tuple[tuple[str, str], ...]
    risk_factor_version_id: int | None
    entered_by: str
    entered_at: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (inputs as an object, in their order)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["inputs"] = dict(self.inputs)
        return out


def _risk(r: dict[str, Any]) -> RiskRow:
    return RiskRow(
        int(r["id"]),
        int(r["study_id"]),
        int(r["version_no"]),
        json.loads(r["answers"]),
        str(r["source"]),
        str(r["entered_by"]),
        str(r["entered_at"]),
        str(r["notes"]),
    )


def _frax(r: dict[str, Any]) -> FraxRow:
    return FraxRow(
        int(r["id"]),
        int(r["study_id"]),
        int(r["version_no"]),
        float(r["major_osteoporotic_pct"]),
        float(r["hip_pct"]),
        str(r["model"]),
        str(r["calculator_version"]),
        tuple((str(k), str(v)) for k, v in json.loads(r["inputs"])),
        None if r["risk_factor_version_id"] is None else int(r["risk_factor_version_id"]),
        str(r["entered_by"]),
        str(r["entered_at"]),
    )


def _next_version(db: Database, table: str, study_id: int) -> int:
    row = db.execute(
        f"SELECT coalesce(max(version_no), 0) FROM {table} WHERE study_id = ?", [study_id]
    ).fetchone()
    return int(row[0]) + 1


def insert_risk_version(
    db: Database,
    study_id: int,
    answers: dict[str, Any],
    *,
    source: str,
    by: str,
    source_key: str | None = None,
    notes: str = "",
) -> int | None:
    """Add a new version of a study's questionnaire; return its id.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    study_id : int
        The study.
    answers : dict
        The answers, JSON-ready.
    source : str
        ``entered`` (by a user) or ``import``.
    by : str
        Who entered it (a user name, or the importing file's reader).
    source_key : str, optional
        An import's key; a second row with the same key is not added.
    notes : str
        Import notes about cells that could not be read.

    Returns
    -------
    int or None
        The new row's id; None when ``source_key`` was stored already.
    """
    if source_key is not None:
        seen = db.execute(
            "SELECT id FROM risk_factor_versions WHERE source_key = ?", [source_key]
        ).fetchone()
        if seen is not None:
            return None
    cur = db.execute(
        "INSERT INTO risk_factor_versions (study_id, version_no, answers, source, source_key,"
        " entered_by, entered_at, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            study_id,
            _next_version(db, "risk_factor_versions", study_id),
            json.dumps(answers, ensure_ascii=False, sort_keys=True),
            source,
            source_key,
            by,
            now_iso(),
            notes,
        ],
    )
    return int(cur.lastrowid or 0)


def risk_versions(db: Database, study_id: int) -> list[RiskRow]:
    """Return every version of a study's questionnaire, oldest first.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    list of RiskRow
        The versions.
    """
    return [
        _risk(r)
        for r in db.query(
            "SELECT * FROM risk_factor_versions WHERE study_id = ? ORDER BY version_no",
            [study_id],
        )
    ]


def latest_risk(db: Database, study_id: int) -> RiskRow | None:
    """Return the newest version of a study's questionnaire, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    RiskRow or None
        The newest version.
    """
    rows = list(
        db.query(
            "SELECT * FROM risk_factor_versions WHERE study_id = ?"
            " ORDER BY version_no DESC LIMIT 1",
            [study_id],
        )
    )
    return _risk(rows[0]) if rows else None


def insert_frax(
    db: Database,
    study_id: int,
    *,
    major_osteoporotic_pct: float,
    hip_pct: float,
    model: str,
    calculator_version: str,
    inputs: list[tuple[str, str]],
    risk_factor_version_id: int | None,
    by: str,
) -> int:
    """Record a FRAX result of a study as a new version; return its id.

    Parameters
    ----------
    db : Database
        The open archive, inside a write transaction.
    study_id : int
        The study.
    major_osteoporotic_pct, hip_pct : float
        The 10-year probabilities in percent, as the calculator gave them.
    model : str
        The country model (``Denmark``).
    calculator_version : str
        The calculator and its version.
    inputs : list of (str, str)
        The inputs typed into the calculator, in order.
    risk_factor_version_id : int or None
        The questionnaire version the inputs were prefilled from.
    by : str
        Who entered it.

    Returns
    -------
    int
        The new row's id.
    """
    cur = db.execute(
        "INSERT INTO frax_results (study_id, version_no, major_osteoporotic_pct, hip_pct, model,"
        " calculator_version, inputs, risk_factor_version_id, entered_by, entered_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            study_id,
            _next_version(db, "frax_results", study_id),
            major_osteoporotic_pct,
            hip_pct,
            model,
            calculator_version,
            json.dumps([list(p) for p in inputs], ensure_ascii=False),
            risk_factor_version_id,
            by,
            now_iso(),
        ],
    )
    return int(cur.lastrowid or 0)


def latest_frax(db: Database, study_id: int) -> FraxRow | None:
    """Return the newest FRAX result of a study, or None.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    FraxRow or None
        The newest result.
    """
    rows = list(
        db.query(
            "SELECT * FROM frax_results WHERE study_id = ? ORDER BY version_no DESC LIMIT 1",
            [study_id],
        )
    )
    return _frax(rows[0]) if rows else None


@dataclass(frozen=True)
class LatestStudy:
    """A person's newest study: what the recall list starts from."""

    study_id: int
    patient_id: int
    study_date: str
    name: str
    identifier: str
    birth_date: str | None
    sex: str | None


def latest_studies(db: Database) -> list[LatestStudy]:
    """Return each person's newest study (merged patient rows count as one person).

    Parameters
    ----------
    db : Database
        The open archive.

    Returns
    -------
    list of LatestStudy
        One per person, ordered by patient.
    """
    from dxa_app.archive.patients import person_of

    newest: dict[int, LatestStudy] = {}
    for r in db.query(
        "SELECT st.id, st.patient_id, st.study_date, p.name, p.identifier, p.birth_date, p.sex"
        " FROM studies st JOIN patients p ON p.id = st.patient_id"
        " ORDER BY st.study_date, st.id"
    ):
        person = person_of(db, int(r["patient_id"]))
        newest[person] = LatestStudy(
            int(r["id"]),
            person,
            str(r["study_date"]),
            str(r["name"] or ""),
            str(r["identifier"] or ""),
            r["birth_date"],
            r["sex"],
        )
    return [newest[k] for k in sorted(newest)]


def stored_t_scores(
    db: Database, study_ids: list[int]
) -> dict[int, tuple[str, dict[str, str | None]]]:
    """Return each study's newest stored score kind and printed T-scores per region.

    Parameters
    ----------
    db : Database
        The open archive.
    study_ids : list of int
        The studies (those without a stored score run are left out).

    Returns
    -------
    dict of int to (str, dict of str to str or None)
        Score kind (``T``/``Z``) and printed T per region of the newest run.
    """
    wanted = set(study_ids)
    kinds = {sid: d.score_kind for sid, d in newest_diagnoses(db).items() if sid in wanted}
    printed = newest_printed_t(db)
    return {sid: (kind, printed.get(sid, {})) for sid, kind in kinds.items()}
