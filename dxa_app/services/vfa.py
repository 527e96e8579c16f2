"""VFA readings entered by hand (T4-L4 Genant grades), and the ISCD VFA indication of a study."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.store import store_parsed
from dxa_app.archive.studies import count_vfa_readings, latest_vfa_reading, study_id_for
from dxa_app.domain import (
    Morphology,
    ParsedSource,
    VfaFinding,
    VfaLevel,
    VfaReadingRecord,
)
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.services.auth import Permission, Session, acting, record
from dxa_app.services.scoring import compute_study_scores
from reports.vfa import iscd_vfa_indication

#: The 13 levels of a VFA reading, top to bottom.
LEVELS: tuple[VfaLevel, ...] = tuple(VfaLevel)

#: Reason codes for a level that cannot be evaluated.
NOT_EVALUABLE_REASONS: tuple[str, ...] = ("overlap", "scoliosis", "poor_image", "artefact", "other")


@dataclass(frozen=True)
class LevelEntry:
    """What the reader entered for one level (nothing yet: grade None and no reason)."""

    grade: int | None = None
    morphology: Morphology | None = None
    not_evaluable_reason: str = ""

    @property
    def done(self) -> bool:
        """Whether the level is graded or marked not evaluable."""
        return self.grade is not None or bool(self.not_evaluable_reason)


@dataclass(frozen=True)
class VfaIndication:
    """The simplified ISCD indication for VFA, checked on a study's own data."""

    indicated: bool | None
    reasons: tuple[str, ...]
    t_min: Decimal | None
    sex: str | None
    age: float | None
    #: Whether a risk-factor questionnaire was checked too (height loss, glucocorticoids,
    #: self-reported vertebral fracture); without one only age and sex were.
    questionnaire: bool = False


def findings_from_entries(entries: Mapping[VfaLevel, LevelEntry]) -> tuple[VfaFinding, ...]:
    """Check a hand-entered reading and turn it into findings (T4 first).

    Parameters
    ----------
    entries : mapping of VfaLevel to LevelEntry
        One entry per level; every level must be graded or not evaluable.

    Returns
    -------
    tuple of VfaFinding
        The 13 findings.

    Raises
    ------
    UsageError
        When a level is missing, a morphology is given without a grade of 1 or more, or a
        not-evaluable reason is unknown.
    """
    missing = [str(lv) for lv in LEVELS if not entries.get(lv, LevelEntry()).done]
    if missing:
        raise UsageError(
            _("Not every level is read: {levels}.").format(levels=", ".join(missing)),
            _("Give each level a grade 0-3 or mark it not evaluable."),
        )
    out: list[VfaFinding] = []
    for lv in LEVELS:
        e = entries[lv]
        if e.not_evaluable_reason and e.not_evaluable_reason not in NOT_EVALUABLE_REASONS:
            raise UsageError(
                _("Unknown reason code {code}.").format(code=e.not_evaluable_reason),
                _("Use one of: {codes}.").format(codes=", ".join(NOT_EVALUABLE_REASONS)),
            )
        if e.not_evaluable_reason:
            out.append(VfaFinding(lv, None, None, e.not_evaluable_reason))
            continue
        if e.morphology is not None and (e.grade or 0) < 1:
            raise UsageError(
                _("{level}: a morphology needs a grade of 1 or more.").format(level=lv),
                _("Set the grade first, or clear the morphology."),
            )
        out.append(VfaFinding(lv, e.grade, e.morphology, ""))
    return tuple(out)


def save_vfa_reading(
    session: Session,
    study_uid: str,
    entries: Mapping[VfaLevel, LevelEntry],
    *,
    read_at: dt.datetime | None = None,
) -> int:
    """Store a hand-entered VFA reading of a study by the logged-in reader, with an audit entry.

    Parameters
    ----------
    session : Session
        The reader (technician or physician).
    study_uid : str
        The study the reading belongs to.
    entries : mapping of VfaLevel to LevelEntry
        The reading (see :func:`findings_from_entries`).
    read_at : datetime, optional
        When it was read (default now, UTC).

    Returns
    -------
    int
        The id of the new ``vfa_readings`` row.

    Raises
    ------
    UsageError
        When the reading is incomplete.
    PermissionDeniedError
        When the role may not enter VFA readings.
    NotFoundError
        When the study is not in the archive.
    """
    findings = findings_from_entries(entries)
    reader = session.username
    when = read_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = when.strftime("%Y%m%dT%H%M%S")
    with acting(session, Permission.VFA_ENTRY) as db, write_transaction(db):
        study_id = study_id_for(db, study_uid)  # NotFoundError for an unknown study
        # each save is a new version of the study's reading, even twice in one second
        version = 1 + count_vfa_readings(db, study_id)
        key = f"gui-vfa:{study_uid}:{reader}:{stamp}:v{version}"
        record_ = VfaReadingRecord(key, study_uid, reader, when, findings)
        store_parsed(db, ParsedSource(path=key, reader="gui-vfa", vfa_readings=(record_,)))
        rows = list(db.query("SELECT id FROM vfa_readings WHERE source_key = ?", [key]))
        if not rows:
            raise UsageError(_("The reading was not stored."), _("Wait a second and save again."))
        reading_id = int(rows[0]["id"])
        record(
            db,
            session,
            "vfa_reading",
            entity="vfa_reading",
            entity_id=reading_id,
            details={
                "study_uid": study_uid,
                "sdi": sum(f.grade or 0 for f in findings),
                "not_evaluable": [str(f.level) for f in findings if f.grade is None],
            },
        )
    return reading_id


def _entries(db: Database, study_id: int) -> dict[VfaLevel, LevelEntry]:
    reading = latest_vfa_reading(db, study_id)
    out: dict[VfaLevel, LevelEntry] = {}
    if reading is None:
        return out
    for f in reading.findings:
        try:
            level = VfaLevel(f["level"])
        except ValueError:
            continue
        morph = Morphology(f["morphology"]) if f["morphology"] else None
        out[level] = LevelEntry(f["grade"], morph, f["not_evaluable_reason"] or "")
    return out


def latest_reading(session: Session, study_id: int) -> dict[VfaLevel, LevelEntry]:
    """Return the newest stored VFA reading of a study as entries (empty when none).

    Parameters
    ----------
    session : Session
        The logged-in user.
    study_id : int
        The study.

    Returns
    -------
    dict of VfaLevel to LevelEntry
        The levels of the newest reading.
    """
    with acting(session, Permission.VIEW) as db:
        return _entries(db, study_id)


def indication_of(db: Database, study_id: int) -> VfaIndication:
    """Check the ISCD VFA indication with the study's lowest printed T-score, sex and age.

    Height loss, a self-reported vertebral fracture and glucocorticoids (5 mg prednisolone a
    day or more for 3 months or more) come from the study's newest risk-factor questionnaire;
    without one only the age/sex criterion is checked (``questionnaire`` is then False), so
    "not indicated" may change with the history.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.

    Returns
    -------
    VfaIndication
        Whether VFA is indicated (None without a T-score) and the reasons met.

    Raises
    ------
    NotFoundError
        When the study does not exist.
    """
    from dxa_app.archive.risk import latest_risk
    from reports.risk import RiskFactors

    scores = compute_study_scores(db, study_id)
    t_values: list[Decimal] = []
    for r in scores.regions:
        if r.t_printed is None:
            continue
        try:
            t_values.append(Decimal(r.t_printed))
        except InvalidOperation:
            continue
    t_min = min(t_values) if t_values else None
    row = latest_risk(db, study_id)
    rf = None if row is None else RiskFactors.from_mapping(row.answers)
    indicated, reasons = iscd_vfa_indication(
        t_min,
        scores.sex,
        scores.age,
        None if rf is None else rf.height_loss_cm,
        bool(rf and rf.self_reported_vertebral_fracture),
        bool(rf and rf.glucocorticoids_significant),
        translate=_,
    )
    return VfaIndication(indicated, tuple(reasons), t_min, scores.sex, scores.age, rf is not None)


def vfa_indication(session: Session, study_id: int) -> VfaIndication:
    """Return the ISCD VFA indication of a study (see :func:`indication_of`).

    Parameters
    ----------
    session : Session
        The logged-in user.
    study_id : int
        The study.

    Returns
    -------
    VfaIndication
        Whether VFA is indicated and why.
    """
    with acting(session, Permission.VIEW) as db:
        return indication_of(db, study_id)
