"""Risk factors entered once, FRAX as given, the suggestion rules and the recall list.

User actions: enter the questionnaire of a study (technician or physician; every save is a
new version, never an overwrite), record an externally computed FRAX (prefilled from the
questionnaire and the harmonised femoral-neck BMD), list the suggestions the versioned rule
sets make for a study, keep or drop them (physician; stored with the report draft), and the
recall list of patients due for DXA within a period (also as CSV).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dxa_app.archive import write_transaction
from dxa_app.archive.database import Database
from dxa_app.archive.reports import latest_version
from dxa_app.archive.risk import (
    FraxRow,
    RiskRow,
    insert_frax,
    insert_risk_version,
    latest_frax,
    latest_risk,
    latest_studies,
    risk_versions,
    stored_t_scores,
)
from dxa_app.archive.studies import latest_vfa_reading, study_header, study_id_for
from dxa_app.errors import UsageError
from dxa_app.i18n import _
from dxa_app.resources import resource_path
from dxa_app.services.auth import Permission, Session, acting, record
from reports.risk import (
    FRAX_INPUTS,
    RISK_FIELDS,
    AnswerError,
    Facts,
    FraxEntry,
    RiskFactors,
    Suggestion,
    add_years,
    check_rule_set,
    clinical_facts,
    evaluate_rules,
    frax_prefill,
    parse_answer,
    rescan_interval,
)

#: Where the versioned rule sets live (resources/clinical/).
REIMBURSEMENT_RULES = "reimbursement_rules.json"
RESCAN_RULES = "rescan_rules.json"

#: The decisions a physician can take on a suggestion.
DECISIONS = ("kept", "dropped")

_DIAGNOSTIC = ("L1-L4", "total_hip", "femoral_neck")


@functools.lru_cache(maxsize=8)
def load_rule_set(name: str) -> dict[str, Any]:
    """Return a versioned rule set from ``resources/clinical/``, checked.

    Parameters
    ----------
    name : str
        The file name, e.g. :data:`REIMBURSEMENT_RULES`.

    Returns
    -------
    dict
        The rule set (name, version, status, source, rules).

    Raises
    ------
    ValueError
        When the file is malformed.
    """
    data: dict[str, Any] = json.loads(resource_path("clinical", name).read_text("utf-8"))
    check_rule_set(data)
    return data


def answer_problem(exc: AnswerError) -> str:
    """Return the translated sentence for an answer that cannot be read."""
    expected = {
        "yes/no": _("1/0, yes/no or ja/nej"),
        "number": _("a number"),
        "whole number": _("a whole number"),
        "date": _("a date YYYY-MM-DD"),
        "site": _("one of {sites}").format(sites="hip, vertebra, wrist, humerus, pelvis, other"),
        "range": _("a value within the plausible range"),
        "field": _("a known question ({fields})").format(fields=", ".join(RISK_FIELDS)),
    }.get(exc.kind, exc.kind)
    return _("{field}: '{value}' is not {expected}.").format(
        field=exc.field_name, value=exc.value, expected=expected
    )


def parse_answers(texts: Mapping[str, str]) -> dict[str, Any]:
    """Read answers given as text (``--set name=value``, form fields); empty clears an answer.

    Parameters
    ----------
    texts : mapping of str to str
        Question to answer text.

    Returns
    -------
    dict
        Question to typed answer (None for an empty answer: clear it).

    Raises
    ------
    UsageError
        Naming every answer that cannot be read.
    """
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in texts.items():
        try:
            out[name] = parse_answer(name, text)
        except AnswerError as exc:
            problems.append(answer_problem(exc))
    if problems:
        raise UsageError(" ".join(problems), _("Correct the answers and save again."))
    return out


@dataclass(frozen=True)
class RiskView:
    """A study's questionnaire now: the newest version and how many there are."""

    study_id: int
    latest: RiskRow | None
    versions: int
    risk: RiskFactors | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "study_id": self.study_id,
            "versions": self.versions,
            "latest": None if self.latest is None else self.latest.to_dict(),
        }


def risk_lines(view: RiskView) -> tuple[str, ...]:
    """Return the questionnaire's answers as lines in the current language (empty: none)."""
    from dxa_app.i18n import current_language
    from reports.risk import questionnaire_lines

    if view.risk is None:
        return ()
    return questionnaire_lines(view.risk, _, lang=current_language())


def _risk_of(db: Database, study_id: int) -> tuple[RiskRow | None, RiskFactors | None]:
    row = latest_risk(db, study_id)
    return row, (None if row is None else RiskFactors.from_mapping(row.answers))


def risk_factors(session: Session, study: str | int) -> RiskView:
    """Return the newest questionnaire of a study.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    RiskView
        The newest version (None when none was entered) and the number of versions.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        row, rf = _risk_of(db, study_id)
        return RiskView(study_id, row, len(risk_versions(db, study_id)), rf)


def save_risk_factors(
    session: Session,
    study: str | int,
    answers: Mapping[str, Any],
    *,
    replace: bool = False,
) -> RiskView:
    """Store a new version of a study's questionnaire (the old ones stay); audited.

    Parameters
    ----------
    session : Session
        The technician or physician entering it.
    study : str or int
        The study's archive id or Study Instance UID.
    answers : mapping
        Question to answer: typed values, or text (read as in :func:`parse_answers`);
        None or "" clears an answer.
    replace : bool
        Start from an empty questionnaire instead of the newest version.

    Returns
    -------
    RiskView
        The questionnaire after the save.

    Raises
    ------
    UsageError
        For an unknown question or an answer that cannot be read.
    PermissionDeniedError
        When the role may not enter risk factors.
    """
    texts = {k: v for k, v in answers.items() if isinstance(v, str)}
    typed: dict[str, Any] = {k: v for k, v in answers.items() if not isinstance(v, str)}
    unknown = [k for k in typed if k not in RISK_FIELDS]
    if unknown:
        raise UsageError(
            _("Unknown questions: {names}.").format(names=", ".join(unknown)),
            _("Use: {fields}.").format(fields=", ".join(RISK_FIELDS)),
        )
    typed.update(parse_answers(texts))
    with acting(session, Permission.RISK_ENTRY) as db:
        study_id = study_id_for(db, study)
        row, current = _risk_of(db, study_id)
        base = {} if replace or current is None else current.to_mapping()
        for name, value in typed.items():
            if value is None:
                base.pop(name, None)
            else:
                base[name] = value.isoformat() if isinstance(value, dt.date) else value
        try:
            merged = RiskFactors.from_mapping(base)
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc), _("Correct the answers and save again.")) from exc
        with write_transaction(db):
            new_id = insert_risk_version(
                db, study_id, merged.to_mapping(), source="entered", by=session.username
            )
            record(
                db,
                session,
                "risk_factors_save",
                entity="risk_factor_version",
                entity_id=new_id or "",
                details={"study_id": study_id, "answers": merged.to_mapping()},
            )
        row, rf = _risk_of(db, study_id)
        return RiskView(study_id, row, len(risk_versions(db, study_id)), rf)


# --- FRAX --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FraxForm:
    """What the FRAX entry shows: the prefilled inputs and the result recorded last."""

    study_id: int
    inputs: dict[str, str]
    latest: FraxRow | None
    risk_version_id: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "study_id": self.study_id,
            "prefill": self.inputs,
            "latest": None if self.latest is None else self.latest.to_dict(),
            "risk_factor_version_id": self.risk_version_id,
        }


def _femoral_neck_bmd(db: Database, study_id: int) -> tuple[float | None, Any]:
    """The harmonised femoral-neck BMD (of both hips, the lower) and the study's scores."""
    from dxa_app.services.scoring import compute_study_scores

    scores = compute_study_scores(db, study_id)
    necks = [r.harmonised_bmd for r in scores.regions if r.region == "femoral_neck"]
    return (min(necks) if necks else None), scores


def _prefill(db: Database, study_id: int) -> tuple[dict[str, str], int | None]:
    st = study_header(db, study_id)
    row, rf = _risk_of(db, study_id)
    bmd, scores = _femoral_neck_bmd(db, study_id)
    inputs = frax_prefill(
        rf or RiskFactors(),
        age=scores.age,
        sex=st["sex"],
        weight_kg=st["weight_kg"],
        height_cm=st["height_cm"],
        femoral_neck_bmd=bmd,
    )
    return inputs, None if row is None else row.id


def frax_form(session: Session, study: str | int) -> FraxForm:
    """Return the FRAX inputs prefilled from the questionnaire and the femoral-neck BMD.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.

    Returns
    -------
    FraxForm
        The inputs to type into the external calculator and the last recorded result.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        inputs, risk_id = _prefill(db, study_id)
        return FraxForm(study_id, inputs, latest_frax(db, study_id), risk_id)


def save_frax(
    session: Session,
    study: str | int,
    *,
    major_osteoporotic_pct: float,
    hip_pct: float,
    calculator_version: str,
    inputs: Mapping[str, str] | None = None,
    model: str = "Denmark",
) -> FraxRow:
    """Record a FRAX result computed outside this program, with its inputs; audited.

    Parameters
    ----------
    session : Session
        The technician or physician entering it.
    study : str or int
        The study's archive id or Study Instance UID.
    major_osteoporotic_pct, hip_pct : float
        The 10-year probabilities (%) the calculator gave.
    calculator_version : str
        The calculator and its version (e.g. "FRAX web calculator 4.4").
    inputs : mapping of str to str, optional
        The inputs typed into the calculator; missing ones are taken from the prefill.
    model : str
        The country model (default Denmark).

    Returns
    -------
    FraxRow
        The stored result.

    Raises
    ------
    UsageError
        For probabilities outside 0-100 %, a hip probability above the major one, or no
        calculator version.
    """
    try:
        FraxEntry(float(major_osteoporotic_pct), float(hip_pct), calculator_version, model=model)
    except ValueError as exc:
        raise UsageError(
            _("The FRAX result cannot be stored: {problem}.").format(problem=exc),
            _(
                "Give both probabilities in percent (hip at most the major one) and the"
                " calculator's version."
            ),
        ) from exc
    with acting(session, Permission.RISK_ENTRY) as db:
        study_id = study_id_for(db, study)
        prefill, risk_id = _prefill(db, study_id)
        given = dict(inputs or {})
        ordered = [(k, given.pop(k, prefill.get(k, ""))) for k in FRAX_INPUTS]
        ordered += sorted(given.items())
        with write_transaction(db):
            frax_id = insert_frax(
                db,
                study_id,
                major_osteoporotic_pct=float(major_osteoporotic_pct),
                hip_pct=float(hip_pct),
                model=model,
                calculator_version=calculator_version.strip(),
                inputs=ordered,
                risk_factor_version_id=risk_id,
                by=session.username,
            )
            record(
                db,
                session,
                "frax_save",
                entity="frax_result",
                entity_id=frax_id,
                details={
                    "study_id": study_id,
                    "major": float(major_osteoporotic_pct),
                    "hip": float(hip_pct),
                    "calculator_version": calculator_version.strip(),
                },
            )
        stored = latest_frax(db, study_id)
        assert stored is not None
        return stored


# --- facts, suggestions ---------------------------------------------------------------------


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _t_by_region(pairs: list[tuple[str, str | None]]) -> dict[str, Decimal | None]:
    out: dict[str, Decimal | None] = {}
    for region, printed in pairs:
        value = _decimal(printed)
        if region not in _DIAGNOSTIC or value is None:
            continue
        old = out.get(region)
        out[region] = value if old is None else min(old, value)  # both hips: the lower
    return out


def _vfa_grades(db: Database, study_id: int) -> list[int | None] | None:
    reading = latest_vfa_reading(db, study_id)
    return None if reading is None else [f["grade"] for f in reading.findings]


def frax_entry(row: FraxRow | None) -> FraxEntry | None:
    """Return a stored FRAX row as the pure library's entry (None stays None)."""
    if row is None:
        return None
    return FraxEntry(
        row.major_osteoporotic_pct, row.hip_pct, row.calculator_version, row.inputs, row.model
    )


@dataclass(frozen=True)
class StudyRisk:
    """Everything the rules and the report take from a study's risk data."""

    risk_row: RiskRow | None
    risk: RiskFactors | None
    frax_row: FraxRow | None
    facts: Facts
    suggestions: tuple[Suggestion, ...]
    rescan: Suggestion | None


def study_risk(
    db: Database,
    study_id: int,
    *,
    lang: str,
    score_kind: str,
    t_printed: list[tuple[str, str | None]],
    sex: str | None,
    age: float | None,
) -> StudyRisk:
    """Evaluate the rule sets for one study from its printed scores, VFA and questionnaire.

    Parameters
    ----------
    db : Database
        The open archive.
    study_id : int
        The study.
    lang : str
        ``"da"``/``"en"`` for the suggestion texts.
    score_kind : str
        ``"T"`` or ``"Z"``.
    t_printed : list of (str, str or None)
        Region and printed harmonised T-score.
    sex : str or None
        ``F``/``M``.
    age : float or None
        Age at the scan.

    Returns
    -------
    StudyRisk
        The questionnaire, FRAX, facts, reimbursement suggestions and rescan interval.
    """
    row, rf = _risk_of(db, study_id)
    frax_row = latest_frax(db, study_id)
    facts = clinical_facts(
        score_kind=score_kind,
        t_scores=_t_by_region(t_printed),
        sex=sex,
        age=age,
        vfa_grades=_vfa_grades(db, study_id),
        risk=rf,
        frax=frax_entry(frax_row),
    )
    suggestions = evaluate_rules(load_rule_set(REIMBURSEMENT_RULES), facts, lang=lang)
    rescan = rescan_interval(load_rule_set(RESCAN_RULES), facts, lang=lang)
    return StudyRisk(row, rf, frax_row, facts, suggestions, rescan)


def study_risk_from_scores(db: Database, study_id: int, scores: Any, *, lang: str) -> StudyRisk:
    """Evaluate the rule sets on a :class:`~dxa_app.services.scoring.StudyScores`."""
    return study_risk(
        db,
        study_id,
        lang=lang,
        score_kind=scores.diagnosis.score_kind,
        t_printed=[(r.region, r.t_printed) for r in scores.regions],
        sex=scores.sex,
        age=scores.age,
    )


def stored_decisions(db: Database, study_id: int) -> dict[str, str]:
    """Return the physician's keep/drop decisions stored with the study's newest report."""
    latest = latest_version(db, study_id)
    if latest is None:
        return {}
    raw = latest.content.get("suggestions") or {}
    return {str(k): str(v) for k, v in raw.items() if v in DECISIONS}


@dataclass(frozen=True)
class SuggestionRow:
    """One suggestion for a study and the physician's decision (``pending`` until taken)."""

    suggestion: Suggestion
    decision: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        s = self.suggestion
        return {
            "id": s.id,
            "kind": s.kind,
            "text": s.text,
            "years": s.years,
            "rule_set": s.rule_set,
            "rule_set_version": s.rule_set_version,
            "status": s.status,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class SuggestionList:
    """The suggestions of a study with the physician's decisions."""

    study_id: int
    rows: tuple[SuggestionRow, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "study_id": self.study_id,
            "suggestions": [r.to_dict() for r in self.rows],
            "facts": dict(self.facts),
        }


def _suggestion_rows(
    db: Database, study_id: int, lang: str
) -> tuple[StudyRisk, tuple[SuggestionRow, ...]]:
    from dxa_app.services.scoring import compute_study_scores

    sr = study_risk_from_scores(db, study_id, compute_study_scores(db, study_id), lang=lang)
    decisions = stored_decisions(db, study_id)
    found = (*sr.suggestions, *((sr.rescan,) if sr.rescan is not None else ()))
    return sr, tuple(SuggestionRow(s, decisions.get(s.id, "pending")) for s in found)


def study_suggestions(session: Session, study: str | int, *, lang: str) -> SuggestionList:
    """Return the suggestions the versioned rules make for a study, with the decisions taken.

    Parameters
    ----------
    session : Session
        The logged-in user.
    study : str or int
        The study's archive id or Study Instance UID.
    lang : str
        ``"da"``/``"en"`` for the texts.

    Returns
    -------
    SuggestionList
        Reimbursement suggestions, then the rescan interval, each kept, dropped or pending.
    """
    with acting(session, Permission.VIEW) as db:
        study_id = study_id_for(db, study)
        sr, rows = _suggestion_rows(db, study_id, lang)
        return SuggestionList(study_id, rows, dict(sr.facts.values))


def decide_suggestions(
    session: Session,
    study: str | int,
    decisions: Mapping[str, str],
    *,
    lang: str,
    level: str,
) -> SuggestionList:
    """Keep or drop suggestions of a study; stored with the report draft and audited.

    Parameters
    ----------
    session : Session
        The acting physician.
    study : str or int
        The study's archive id or Study Instance UID.
    decisions : mapping of str to str
        Suggestion id to ``kept`` or ``dropped`` (``pending`` takes a decision back).
    lang, level : str
        The draft's language and level.

    Returns
    -------
    SuggestionList
        The suggestions after the decisions.

    Raises
    ------
    UsageError
        For an unknown suggestion id or decision.
    PermissionDeniedError
        Unless the user may write the physician's part of the draft.
    ReportError
        When the report is signed (amend it instead).
    """
    from dxa_app.services.reporting import save_draft

    with acting(session, Permission.DRAFT_EDIT) as db:
        study_id = study_id_for(db, study)
        _sr, rows = _suggestion_rows(db, study_id, lang)
        known = {r.suggestion.id for r in rows}
        current = stored_decisions(db, study_id)
        for sid, decision in decisions.items():
            if sid not in known and sid not in current:
                raise UsageError(
                    _("Study {id} has no suggestion {sid}.").format(id=study_id, sid=sid),
                    _("List the suggestions with 'suggestions STUDY'."),
                )
            if decision == "pending":
                current.pop(sid, None)
            elif decision in DECISIONS:
                current[sid] = decision
            else:
                raise UsageError(
                    _("Unknown decision {d}.").format(d=decision), _("Use kept or dropped.")
                )
        version, _pdf = save_draft(
            db, study_id, lang=lang, level=level, suggestions=current, by=session.username
        )
        record(
            db,
            session,
            "report_suggestions",
            entity="report_version",
            entity_id=version.id,
            details={"study_id": study_id, "decisions": current},
        )
        _sr, rows = _suggestion_rows(db, study_id, lang)
        return SuggestionList(study_id, rows, dict(_sr.facts.values))


# --- recall -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecallEntry:
    """A patient due for DXA: the newest study, the interval and the date it is due."""

    patient_id: int
    name: str
    identifier: str
    study_id: int
    study_date: str
    years: float
    due: str
    rule: str
    rule_set_version: str
    decided: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _interval_of(
    db: Database,
    study_id: int,
    stored: dict[int, tuple[str, dict[str, str | None]]],
    birth: str | None,
    sex: str | None,
    study_date: str,
) -> tuple[Suggestion | None, bool]:
    """The rescan suggestion of a study, and whether the physician dropped it (stored)."""
    from dxa_app.services.scoring import age_at, compute_study_scores

    decisions = stored_decisions(db, study_id)
    if study_id in stored:
        kind, t = stored[study_id]
        sr = study_risk(
            db,
            study_id,
            lang="en",
            score_kind=kind,
            t_printed=list(t.items()),
            sex=sex,
            age=age_at(birth, study_date),
        )
    else:
        sr = study_risk_from_scores(db, study_id, compute_study_scores(db, study_id), lang="en")
    if sr.rescan is None:
        return None, False
    return sr.rescan, decisions.get(sr.rescan.id) == "dropped"


def recall_list(
    session: Session, *, within_days: int, as_of: dt.date | None = None
) -> list[RecallEntry]:
    """Return the patients whose next DXA is due by ``as_of`` + ``within_days`` (overdue too).

    The interval is the rescan rule of each person's newest study (the versioned rule set
    on its stored printed T-scores, VFA and questionnaire); a rescan the physician dropped,
    or an interval decided individually, puts nobody on the list.

    Parameters
    ----------
    session : Session
        The logged-in user.
    within_days : int
        The period, in days from ``as_of``.
    as_of : date, optional
        The first day of the period (default today).

    Returns
    -------
    list of RecallEntry
        Ordered by due date, then name.

    Raises
    ------
    UsageError
        For a negative period.
    """
    if within_days < 0:
        raise UsageError(_("The period must not be negative."), _("Give e.g. --within 90d."))
    start = as_of or dt.date.today()
    end = start + dt.timedelta(days=within_days)
    out: list[RecallEntry] = []
    with acting(session, Permission.VIEW) as db:
        people = latest_studies(db)
        stored = stored_t_scores(db, [p.study_id for p in people])
        for p in people:
            rescan, dropped = _interval_of(
                db, p.study_id, stored, p.birth_date, p.sex, p.study_date
            )
            if rescan is None or rescan.years is None or dropped:
                continue
            due = add_years(dt.date.fromisoformat(p.study_date), rescan.years)
            if due > end:
                continue
            out.append(
                RecallEntry(
                    p.patient_id,
                    p.name,
                    p.identifier,
                    p.study_id,
                    p.study_date,
                    rescan.years,
                    due.isoformat(),
                    rescan.id,
                    rescan.rule_set_version,
                    rescan.id in stored_decisions(db, p.study_id),
                )
            )
        record(
            db,
            session,
            "recall_list",
            details={"within_days": within_days, "as_of": start.isoformat(), "n": len(out)},
            wait=False,
        )
    return sorted(out, key=lambda e: (e.due, e.name, e.patient_id))


#: Columns of the recall CSV, in order.
RECALL_COLUMNS = (
    "due",
    "name",
    "identifier",
    "last_study_date",
    "study_id",
    "interval_years",
    "rule",
    "rule_set_version",
)


def write_recall_csv(session: Session, entries: list[RecallEntry], path: Path) -> Path:
    """Write the recall list as CSV (UTF-8, comma, formula-safe cells, owner-only file).

    Parameters
    ----------
    session : Session
        The logged-in user (the file holds patient identifiers: audited).
    entries : list of RecallEntry
        The list from :func:`recall_list`.
    path : Path
        The file to write.

    Returns
    -------
    Path
        ``path``.
    """
    from dxa_app.csv_safety import SafeWriter
    from dxa_app.fileio import create_owner_only

    with acting(session, Permission.VIEW) as db:
        create_owner_only(path)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = SafeWriter(fh, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(RECALL_COLUMNS)
            for e in entries:
                writer.writerow(
                    [
                        e.due,
                        e.name,
                        e.identifier,
                        e.study_date,
                        e.study_id,
                        f"{e.years:g}",
                        e.rule,
                        e.rule_set_version,
                    ]
                )
        record(
            db,
            session,
            "recall_csv",
            details={"path": str(path), "rows": len(entries)},
            wait=False,
        )
    return path
