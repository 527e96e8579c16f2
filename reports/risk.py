"""Risk factors, FRAX as given, and the suggestion rules (reimbursement, rescan interval).

Pure: no archive, no reportlab. The questionnaire (:class:`RiskFactors`) is what the
technician enters once per study; :func:`clinical_facts` turns it, the harmonised printed
T-scores and the VFA grades into the named facts the versioned rule sets
(``resources/clinical/*.json``) speak about; :func:`evaluate_rules` and
:func:`rescan_interval` evaluate them. FRAX is never computed here: it is recorded as the
external calculator gave it (:class:`FraxEntry`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from reports.labels import Translate, fmt_date, fmt_decimal, recorded_number

#: Fracture sites of the questionnaire's prior fragility fracture.
FRACTURE_SITES: tuple[str, ...] = ("hip", "vertebra", "wrist", "humerus", "pelvis", "other")

#: Field kinds of the questionnaire, in the order the forms and the report show them.
RISK_FIELDS: dict[str, str] = {
    "prior_fracture": "bool",
    "prior_fracture_site": "site",
    "prior_fracture_date": "date",
    "parent_hip_fracture": "bool",
    "current_smoking": "bool",
    "glucocorticoids": "bool",
    "glucocorticoid_dose_mg": "number",
    "glucocorticoid_months": "number",
    "rheumatoid_arthritis": "bool",
    "secondary_osteoporosis": "bool",
    "alcohol_3_units": "bool",
    "height_loss_cm": "number",
    "falls_last_year": "int",
    "current_treatment": "text",
}

#: Plausible ranges of the numeric answers (product limits that catch unit mix-ups).
RISK_RANGES: dict[str, tuple[float, float]] = {
    "glucocorticoid_dose_mg": (0.0, 1000.0),
    "glucocorticoid_months": (0.0, 1200.0),
    "height_loss_cm": (0.0, 60.0),
    "falls_last_year": (0.0, 365.0),
}

_TRUE = frozenset({"1", "yes", "y", "true", "ja", "j"})
_FALSE = frozenset({"0", "no", "n", "false", "nej"})


class AnswerError(ValueError):
    """An answer that cannot be read; ``kind`` says what was expected (for the message)."""

    def __init__(self, field_name: str, value: str, kind: str) -> None:
        super().__init__(f"{field_name}: {value!r} is not a valid {kind}")
        self.field_name = field_name
        self.value = value
        self.kind = kind


def parse_answer(name: str, text: str) -> bool | float | int | str | dt.date | None:
    """Read one questionnaire answer from text (a CLI ``--set`` value, a CSV cell, a form).

    Parameters
    ----------
    name : str
        The field (a key of :data:`RISK_FIELDS`).
    text : str
        The answer; empty means "not known" (None).

    Returns
    -------
    bool, float, int, str, date or None
        The typed answer.

    Raises
    ------
    AnswerError
        When the value cannot be read or is outside its plausible range; ``kind`` is one
        of ``yes/no``, ``number``, ``whole number``, ``date``, ``site``, ``range``, ``field``.

    Examples
    --------
    >>> parse_answer("current_smoking", "ja"), parse_answer("height_loss_cm", "4,5")
    (True, 4.5)
    """
    kind = RISK_FIELDS.get(name)
    if kind is None:
        raise AnswerError(name, text, "field")
    value = text.strip()
    if not value:
        return None
    if kind == "text":
        return value
    if kind == "bool":
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise AnswerError(name, text, "yes/no")
    if kind == "site":
        low = value.lower().replace(" ", "_")
        aliases = {"spine": "vertebra", "vertebral": "vertebra", "columna": "vertebra"}
        low = aliases.get(low, low)
        if low not in FRACTURE_SITES:
            raise AnswerError(name, text, "site")
        return low
    if kind == "date":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise AnswerError(name, text, "date") from None
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise AnswerError(name, text, "number") from None
    if not math.isfinite(number):
        raise AnswerError(name, text, "number")
    low_limit, high_limit = RISK_RANGES.get(name, (-math.inf, math.inf))
    if not low_limit <= number <= high_limit:
        raise AnswerError(name, text, "range")
    if kind == "int":
        if number != int(number):
            raise AnswerError(name, text, "whole number")
        return int(number)
    return number


@dataclass(frozen=True)
class RiskFactors:
    """The risk-factor questionnaire of one study; None means not asked or not known."""

    prior_fracture: bool | None = None
    prior_fracture_site: str | None = None
    prior_fracture_date: dt.date | None = None
    parent_hip_fracture: bool | None = None
    current_smoking: bool | None = None
    glucocorticoids: bool | None = None
    glucocorticoid_dose_mg: float | None = None
    glucocorticoid_months: float | None = None
    rheumatoid_arthritis: bool | None = None
    secondary_osteoporosis: bool | None = None
    alcohol_3_units: bool | None = None
    height_loss_cm: float | None = None
    falls_last_year: int | None = None
    current_treatment: str | None = None

    def __post_init__(self) -> None:
        if self.prior_fracture_site is not None and self.prior_fracture_site not in FRACTURE_SITES:
            raise ValueError(f"unknown fracture site {self.prior_fracture_site!r}")

    @classmethod
    def from_mapping(cls, answers: Mapping[str, Any]) -> RiskFactors:
        """Build the questionnaire from stored answers (JSON values; dates as ISO text).

        Parameters
        ----------
        answers : mapping
            Field name to value; unknown names are ignored.

        Returns
        -------
        RiskFactors
            The questionnaire.
        """
        kwargs: dict[str, Any] = {}
        for name, kind in RISK_FIELDS.items():
            value = answers.get(name)
            if value is None:
                continue
            if kind == "date" and isinstance(value, str):
                value = dt.date.fromisoformat(value)
            elif kind == "int":
                value = int(value)
            elif kind == "number":
                value = float(value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, Any]:
        """Return the answers given, JSON-ready (dates as ISO text), in field order."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = value.isoformat() if isinstance(value, dt.date) else value
        return out

    @property
    def empty(self) -> bool:
        """True when nothing was answered."""
        return not self.to_mapping()

    @property
    def glucocorticoids_significant(self) -> bool:
        """Glucocorticoids of 5 mg prednisolone a day or more for 3 months or more."""
        return bool(
            self.glucocorticoids
            and self.glucocorticoid_dose_mg is not None
            and self.glucocorticoid_dose_mg >= 5.0
            and self.glucocorticoid_months is not None
            and self.glucocorticoid_months >= 3.0
        )

    @property
    def self_reported_vertebral_fracture(self) -> bool:
        """A prior vertebral fracture reported on the questionnaire (not documented here)."""
        return bool(self.prior_fracture and self.prior_fracture_site == "vertebra")

    @property
    def on_treatment(self) -> bool:
        """Whether a current osteoporosis treatment is named."""
        text = (self.current_treatment or "").strip().lower()
        return bool(text) and text not in ("none", "ingen", "no", "nej", "0", "-")

    @property
    def risk_factor_count(self) -> int:
        """The clinical risk factors present: FRAX's seven and a fall in the past year."""
        flags = (
            self.prior_fracture,
            self.parent_hip_fracture,
            self.current_smoking,
            self.glucocorticoids,
            self.rheumatoid_arthritis,
            self.secondary_osteoporosis,
            self.alcohol_3_units,
            (self.falls_last_year or 0) >= 1,
        )
        return sum(1 for f in flags if f)


def _site_word(site: str | None, translate: Translate) -> str:
    _ = translate
    words = {
        "hip": _("hip"),
        "vertebra": _("vertebra"),
        "wrist": _("wrist"),
        "humerus": _("upper arm"),
        "pelvis": _("pelvis"),
        "other": _("other site"),
    }
    return words.get(site or "", "")


def questionnaire_lines(rf: RiskFactors, translate: Translate, *, lang: str) -> tuple[str, ...]:
    """Return the questionnaire's answers as report lines (what is present, and what is not).

    Only answered questions are listed; a "no" is stated as such, so the reader can tell an
    answered question from one never asked.

    Parameters
    ----------
    rf : RiskFactors
        The questionnaire.
    translate : Translate
        The message translator.
    lang : str
        ``"da"`` or ``"en"`` (decimal separator, dates).

    Returns
    -------
    tuple of str
        One line per answered question.
    """
    _ = translate
    out: list[str] = []
    if rf.prior_fracture:
        details = [w for w in (_site_word(rf.prior_fracture_site, translate),) if w]
        if rf.prior_fracture_date is not None:
            details.append(fmt_date(rf.prior_fracture_date, lang))
        if details:
            out.append(
                _("Prior fragility fracture: yes ({details}).").format(details=", ".join(details))
            )
        else:
            out.append(_("Prior fragility fracture: yes."))
    elif rf.prior_fracture is False:
        out.append(_("Prior fragility fracture: no."))

    def yes_no(value: bool | None, yes: str, no: str) -> None:
        if value is True:
            out.append(yes)
        elif value is False:
            out.append(no)

    yes_no(rf.parent_hip_fracture, _("Parent hip fracture: yes."), _("Parent hip fracture: no."))
    yes_no(rf.current_smoking, _("Current smoking: yes."), _("Current smoking: no."))
    if rf.glucocorticoids:
        parts = []
        if rf.glucocorticoid_dose_mg is not None:
            parts.append(
                _("{dose} mg prednisolone a day").format(
                    dose=fmt_decimal(rf.glucocorticoid_dose_mg, 1, lang)
                )
            )
        if rf.glucocorticoid_months is not None:
            parts.append(
                _("for {months} months").format(
                    months=fmt_decimal(rf.glucocorticoid_months, 0, lang)
                )
            )
        if parts:
            out.append(_("Glucocorticoids: yes ({details}).").format(details=", ".join(parts)))
        else:
            out.append(_("Glucocorticoids: yes (dose and duration not given)."))
    elif rf.glucocorticoids is False:
        out.append(_("Glucocorticoids: no."))
    yes_no(rf.rheumatoid_arthritis, _("Rheumatoid arthritis: yes."), _("Rheumatoid arthritis: no."))
    yes_no(
        rf.secondary_osteoporosis,
        _("Secondary osteoporosis: yes."),
        _("Secondary osteoporosis: no."),
    )
    yes_no(
        rf.alcohol_3_units,
        _("Alcohol 3 units a day or more: yes."),
        _("Alcohol 3 units a day or more: no."),
    )
    if rf.height_loss_cm is not None:
        out.append(_("Height loss: {cm} cm.").format(cm=fmt_decimal(rf.height_loss_cm, 1, lang)))
    if rf.falls_last_year is not None:
        out.append(_("Falls in the past year: {n}.").format(n=rf.falls_last_year))
    if rf.current_treatment is not None:
        if rf.on_treatment:
            out.append(
                _("Current osteoporosis treatment: {treatment}.").format(
                    treatment=rf.current_treatment.strip()
                )
            )
        else:
            out.append(_("Current osteoporosis treatment: none."))
    return tuple(out)


# --- FRAX (recorded, never computed) ---------------------------------------------------------

#: FRAX inputs in the calculator's order (the Danish model's web form).
FRAX_INPUTS: tuple[str, ...] = (
    "age",
    "sex",
    "weight_kg",
    "height_cm",
    "previous_fracture",
    "parent_fractured_hip",
    "current_smoking",
    "glucocorticoids",
    "rheumatoid_arthritis",
    "secondary_osteoporosis",
    "alcohol_3_units",
    "femoral_neck_bmd",
)


def frax_input_label(key: str, translate: Translate) -> str:
    """Return the translated label of a FRAX input (the key itself when unknown)."""
    _ = translate
    labels = {
        "age": _("Age"),
        "sex": _("Sex"),
        "weight_kg": _("Weight (kg)"),
        "height_cm": _("Height (cm)"),
        "previous_fracture": _("Previous fracture"),
        "parent_fractured_hip": _("Parent fractured hip"),
        "current_smoking": _("Current smoking"),
        "glucocorticoids": _("Glucocorticoids"),
        "rheumatoid_arthritis": _("Rheumatoid arthritis"),
        "secondary_osteoporosis": _("Secondary osteoporosis"),
        "alcohol_3_units": _("Alcohol 3 or more units a day"),
        "femoral_neck_bmd": _("Femoral neck BMD (g/cm²)"),
        "femoral_neck_t": _("Femoral neck T-score"),
    }
    return labels.get(key, key)


def frax_input_text(value: str, lang: str, translate: Translate) -> str:
    """Return a FRAX input's value in words and the language's decimal sign ("-" when empty).

    Examples
    --------
    >>> frax_input_text("female", "en", lambda m: m), frax_input_text("0.623", "da", str)
    ('female', '0,623')
    """
    _ = translate
    words = {"yes": _("yes"), "no": _("no"), "female": _("female"), "male": _("male")}
    if not value:
        return "-"
    return words.get(value) or recorded_number(value, lang)


@dataclass(frozen=True)
class FraxEntry:
    """An externally computed FRAX result with its inputs and the calculator's version."""

    major_osteoporotic_pct: float
    hip_pct: float
    calculator_version: str
    inputs: tuple[tuple[str, str], ...] = ()
    model: str = "Denmark"

    def __post_init__(self) -> None:
        for name in ("major_osteoporotic_pct", "hip_pct"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 100.0):
                raise ValueError(f"{name} must be a probability between 0 and 100 %, not {value}")
        if self.hip_pct > self.major_osteoporotic_pct:
            raise ValueError(
                "the hip fracture probability cannot exceed the major osteoporotic one"
                " (the hip is one of the major osteoporotic sites)"
            )
        if not self.calculator_version.strip():
            raise ValueError("the FRAX calculator version is required")


def frax_prefill(
    rf: RiskFactors,
    *,
    age: float | None,
    sex: str | None,
    weight_kg: float | None,
    height_cm: float | None,
    femoral_neck_bmd: float | None,
) -> dict[str, str]:
    """Return the FRAX inputs prefilled from the questionnaire, the study and the BMD.

    Yes/no answers not given are left empty for the user to fill in; the BMD is the
    harmonised femoral-neck value printed with 3 decimals. Numbers use a decimal point.

    Parameters
    ----------
    rf : RiskFactors
        The questionnaire.
    age : float or None
        Age at the scan (whole years are entered in FRAX).
    sex : str or None
        ``F``/``M``.
    weight_kg, height_cm : float or None
        From the study.
    femoral_neck_bmd : float or None
        The harmonised femoral-neck BMD in g/cm².

    Returns
    -------
    dict of str to str
        FRAX input key to the text to type into the calculator ("" when unknown).
    """
    from reports.model import printed_bmd

    def yn(value: bool | None) -> str:
        return "" if value is None else ("yes" if value else "no")

    return {
        "age": "" if age is None else str(math.floor(age)),
        "sex": {"F": "female", "M": "male"}.get(sex or "", ""),
        "weight_kg": "" if weight_kg is None else f"{weight_kg:.1f}",
        "height_cm": "" if height_cm is None else f"{height_cm:.1f}",
        "previous_fracture": yn(rf.prior_fracture),
        "parent_fractured_hip": yn(rf.parent_hip_fracture),
        "current_smoking": yn(rf.current_smoking),
        "glucocorticoids": yn(rf.glucocorticoids),
        "rheumatoid_arthritis": yn(rf.rheumatoid_arthritis),
        "secondary_osteoporosis": yn(rf.secondary_osteoporosis),
        "alcohol_3_units": yn(rf.alcohol_3_units),
        "femoral_neck_bmd": "" if femoral_neck_bmd is None else str(printed_bmd(femoral_neck_bmd)),
    }


# --- facts and rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """The named facts the rule sets speak about (None: not known, so no rule uses it)."""

    values: Mapping[str, float | bool | str | None] = field(default_factory=dict)

    def get(self, name: str) -> float | bool | str | None:
        """Return a fact, or None when it is not known."""
        return self.values.get(name)


def clinical_facts(
    *,
    score_kind: str,
    t_scores: Mapping[str, Decimal | None],
    sex: str | None,
    age: float | None,
    vfa_grades: Sequence[int | None] | None,
    risk: RiskFactors | None,
    frax: FraxEntry | None = None,
) -> Facts:
    """Collect the facts the rules use from the study's printed scores, VFA and questionnaire.

    Parameters
    ----------
    score_kind : str
        ``"T"`` or ``"Z"`` (the diagnosis's kind); T-score facts are known only for ``"T"``.
    t_scores : mapping of str to Decimal or None
        The printed harmonised T-scores of the diagnostic sites (``L1-L4``, ``total_hip``,
        ``femoral_neck``; others are ignored).
    sex : str or None
        ``F``/``M``.
    age : float or None
        Age at the scan.
    vfa_grades : sequence of int or None, or None
        The Genant grades of the newest VFA reading (None for a level not evaluable); None
        when no VFA was done.
    risk : RiskFactors or None
        The questionnaire (None when none was entered).
    frax : FraxEntry or None
        FRAX as given.

    Returns
    -------
    Facts
        ``t_min``, ``t_spine``, ``t_total_hip``, ``t_femoral_neck``, ``age``, ``sex``,
        ``score_kind``, ``vfa_done``, ``vfa_fractures`` (grade 2-3 levels), ``vfa_max_grade``,
        ``questionnaire``, ``prior_fracture``, ``prior_hip_fracture``,
        ``prior_vertebral_fracture``, ``glucocorticoids``, ``glucocorticoids_significant``,
        ``risk_factor_count``, ``on_treatment``, ``height_loss_cm``, ``falls_last_year``,
        ``frax_major``, ``frax_hip``.
    """
    v: dict[str, float | bool | str | None] = {"score_kind": score_kind, "sex": sex, "age": age}
    diag = {"L1-L4": "t_spine", "total_hip": "t_total_hip", "femoral_neck": "t_femoral_neck"}
    known: list[float] = []
    for region, name in diag.items():
        t = t_scores.get(region)
        value = float(t) if (t is not None and score_kind == "T") else None
        v[name] = value
        if value is not None:
            known.append(value)
    v["t_min"] = min(known) if known else None
    v["vfa_done"] = vfa_grades is not None
    if vfa_grades is not None:
        graded = [g for g in vfa_grades if g is not None]
        v["vfa_fractures"] = float(sum(1 for g in graded if g >= 2))
        v["vfa_max_grade"] = float(max(graded)) if graded else None
    v["questionnaire"] = risk is not None
    if risk is not None:
        v["prior_fracture"] = risk.prior_fracture
        v["prior_hip_fracture"] = (
            None if risk.prior_fracture is None else risk.prior_fracture_site == "hip"
        )
        v["prior_vertebral_fracture"] = (
            None if risk.prior_fracture is None else risk.self_reported_vertebral_fracture
        )
        v["glucocorticoids"] = risk.glucocorticoids
        v["glucocorticoids_significant"] = (
            None if risk.glucocorticoids is None else risk.glucocorticoids_significant
        )
        v["risk_factor_count"] = float(risk.risk_factor_count)
        v["on_treatment"] = None if risk.current_treatment is None else risk.on_treatment
        v["height_loss_cm"] = risk.height_loss_cm
        v["falls_last_year"] = None if risk.falls_last_year is None else float(risk.falls_last_year)
    if frax is not None:
        v["frax_major"] = frax.major_osteoporotic_pct
        v["frax_hip"] = frax.hip_pct
    return Facts(v)


_OPS = ("lt", "le", "gt", "ge", "eq", "ne")


def condition_met(node: Mapping[str, Any], facts: Facts) -> bool:
    """Evaluate one condition of a rule set against the facts.

    A condition is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` or a comparison
    ``{"fact": NAME, OP: VALUE}`` with OP one of ``lt le gt ge eq ne``. A comparison on a fact
    that is not known is false (a rule never fires on missing data), also under ``not``'s
    operand: ``{"not": ...}`` of an unknown fact is false too.

    Parameters
    ----------
    node : mapping
        The condition.
    facts : Facts
        The facts.

    Returns
    -------
    bool
        Whether the condition holds.

    Raises
    ------
    ValueError
        For a malformed condition.

    Examples
    --------
    >>> f = Facts({"t_min": -2.6, "risk_factor_count": 1.0})
    >>> condition_met({"all": [{"fact": "t_min", "le": -2.5},
    ...                        {"fact": "risk_factor_count", "ge": 1}]}, f)
    True
    >>> condition_met({"fact": "vfa_fractures", "ge": 1}, f)
    False
    """
    return _met(node, facts) is True


def _met(node: Mapping[str, Any], facts: Facts) -> bool | None:
    if "all" in node:
        results = [_met(n, facts) for n in node["all"]]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if "any" in node:
        results = [_met(n, facts) for n in node["any"]]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if "not" in node:
        inner = _met(node["not"], facts)
        return None if inner is None else not inner
    if "fact" not in node:
        raise ValueError(f"a condition needs all, any, not or fact: {dict(node)!r}")
    ops = [op for op in _OPS if op in node]
    if len(ops) != 1:
        raise ValueError(f"a comparison needs exactly one of {', '.join(_OPS)}: {dict(node)!r}")
    op, want = ops[0], node[ops[0]]
    have = facts.get(str(node["fact"]))
    if have is None:
        return None
    if isinstance(want, bool) or isinstance(have, (bool, str)) or isinstance(want, str):
        if op not in ("eq", "ne"):
            raise ValueError(f"only eq and ne compare yes/no or text facts: {dict(node)!r}")
        return bool(have == want) if op == "eq" else bool(have != want)
    a, b = round(float(have), 6), round(float(want), 6)
    return {
        "lt": a < b,
        "le": a <= b,
        "gt": a > b,
        "ge": a >= b,
        "eq": a == b,
        "ne": a != b,
    }[op]


@dataclass(frozen=True)
class Suggestion:
    """One suggestion a rule made: the physician keeps or drops it."""

    id: str
    kind: str
    text: str
    rule_set: str
    rule_set_version: str
    status: str
    years: float | None = None

    @property
    def verified(self) -> bool:
        """Whether the rule set is confirmed by the knowledge centre."""
        return self.status.strip().upper() == "VERIFIED"


def _text(rule: Mapping[str, Any], lang: str) -> str:
    texts = rule.get("text") or {}
    return str(texts.get(lang) or texts.get("en") or rule.get("id", ""))


def check_rule_set(rule_set: Mapping[str, Any]) -> None:
    """Refuse a malformed rule set (missing name/version/status, duplicate ids, bad conditions).

    Parameters
    ----------
    rule_set : mapping
        The parsed JSON.

    Raises
    ------
    ValueError
        Naming what is wrong.
    """
    for key in ("name", "version", "status", "rules"):
        if key not in rule_set:
            raise ValueError(f"the rule set has no {key!r}")
    seen: set[str] = set()
    empty = Facts({})
    for rule in rule_set["rules"]:
        rid = rule.get("id")
        if not rid or rid in seen:
            raise ValueError(f"rule ids must be present and unique: {rid!r}")
        seen.add(rid)
        if "text" not in rule or "en" not in rule["text"] or "da" not in rule["text"]:
            raise ValueError(f"rule {rid!r} needs a text in en and da")
        _met(rule.get("when", {"all": []}), empty)  # raises for a malformed condition


def evaluate_rules(
    rule_set: Mapping[str, Any], facts: Facts, *, lang: str, kind: str = "reimbursement"
) -> tuple[Suggestion, ...]:
    """Return a suggestion for every rule of the set whose condition holds, in the set's order.

    Parameters
    ----------
    rule_set : mapping
        ``{"name", "version", "status", "rules": [{"id", "when", "text": {"en", "da"}}]}``.
    facts : Facts
        The study's facts (:func:`clinical_facts`).
    lang : str
        ``"da"`` or ``"en"`` for the texts.
    kind : str
        The suggestions' kind.

    Returns
    -------
    tuple of Suggestion
        The suggestions.
    """
    out = []
    for rule in rule_set["rules"]:
        if condition_met(rule.get("when", {"all": []}), facts):
            out.append(
                Suggestion(
                    f"{kind}:{rule['id']}",
                    kind,
                    _text(rule, lang),
                    str(rule_set["name"]),
                    str(rule_set["version"]),
                    str(rule_set["status"]),
                )
            )
    return tuple(out)


def rescan_interval(rule_set: Mapping[str, Any], facts: Facts, *, lang: str) -> Suggestion | None:
    """Return the rescan interval of the first rule whose condition holds.

    A rule's ``years`` may be null: the interval is then decided individually (its text
    says so) and the patient is not put on the recall list.

    Parameters
    ----------
    rule_set : mapping
        Ordered rules with ``years``; the last one is usually unconditional.
    facts : Facts
        The study's facts.
    lang : str
        ``"da"`` or ``"en"``.

    Returns
    -------
    Suggestion or None
        Kind ``rescan`` with ``years``; None when no rule holds.
    """
    for rule in rule_set["rules"]:
        if condition_met(rule.get("when", {"all": []}), facts):
            years = rule.get("years")
            return Suggestion(
                f"rescan:{rule['id']}",
                "rescan",
                _text(rule, lang),
                str(rule_set["name"]),
                str(rule_set["version"]),
                str(rule_set["status"]),
                None if years is None else float(years),
            )
    return None


def add_years(day: dt.date, years: float) -> dt.date:
    """Return the date ``years`` after ``day`` (whole months; the 29th-31st clamp to month end).

    Examples
    --------
    >>> add_years(dt.date(2024, 2, 29), 1), add_years(dt.date(2026, 8, 31), 1.5)
    (datetime.date(2025, 2, 28), datetime.date(2028, 2, 29))
    """
    months = round(years * 12)
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover
